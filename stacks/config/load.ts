// Two ways into parseConfig: a stack file read directly (the offline plan, tests), and the
// Pulumi runtime's config (a real `pulumi up`, or the plan once it has set that config).
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { SECRET_KEYS, SecretKey } from "./schema";
import { ConfigError, ConfigProblem, KNOWN_KEYS } from "./validate";

export const NAMESPACE = "haha";

/** What a stack file holds for the `haha` namespace: plain values, and which secrets it set. */
export interface StackFileConfig {
  raw: Record<string, unknown>;
  /** Secret keys the file sets (encrypted `secure:` values); their clear text is never read here. */
  secretsSet: SecretKey[];
  /** Config of other namespaces, passed through untouched (e.g. `pulumi:tags`). */
  other: Record<string, unknown>;
}

/** The placeholder the offline plan stands in for a secret it cannot decrypt. */
export const secretPlaceholder = (name: string) => `<secret:${name}>`;

export function readStackFile(file: string): StackFileConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, [{ path: "(file)", value: file, expected: `a readable stack file (${(e as NodeJS.ErrnoException).code ?? "unreadable"})` }]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError(file, [{ path: "(file)", value: file, expected: `valid YAML: ${(e as Error).message.split("\n")[0]}` }]);
  }
  const config = (doc as { config?: unknown } | null)?.config;
  if (doc === null || typeof doc !== "object" || config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError(file, [{ path: "config", value: config, expected: "a `config:` mapping with haha:* keys" }]);
  }
  return splitNamespace(config as Record<string, unknown>, file);
}

function splitNamespace(config: Record<string, unknown>, source: string): StackFileConfig {
  const raw: Record<string, unknown> = {};
  const other: Record<string, unknown> = {};
  const secretsSet: SecretKey[] = [];
  const problems: ConfigProblem[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key, ...rest] = fullKey.split(":");
    if (ns !== NAMESPACE || key === undefined || rest.length > 0) {
      other[fullKey] = value;
      continue;
    }
    if (!KNOWN_KEYS.has(key)) {
      problems.push({ path: fullKey, value, expected: "unknown key (not part of the config contract; see README's configuration reference)" });
      continue;
    }
    if (key in SECRET_KEYS) {
      const secure = value !== null && typeof value === "object" && "secure" in (value as object);
      if (!secure) problems.push({ path: fullKey, value: "<clear text withheld>", expected: `a secret: set it with \`pulumi config set --secret ${fullKey}\`, never in clear` });
      else secretsSet.push(key as SecretKey);
      continue;
    }
    raw[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  return { raw, secretsSet, other };
}

export type Secrets = Record<SecretKey, pulumi.Output<string> | undefined>;

/** Read `haha:*` from the running Pulumi program's config. */
export function readPulumiConfig(): { raw: Record<string, unknown>; secrets: Secrets } {
  const all = pulumi.runtime.allConfig();
  const problems: ConfigProblem[] = [];
  const raw: Record<string, unknown> = {};
  for (const [fullKey, text] of Object.entries(all)) {
    const [ns, key] = fullKey.split(":");
    if (ns !== NAMESPACE || key === undefined || key in SECRET_KEYS) continue;
    if (!KNOWN_KEYS.has(key)) {
      problems.push({ path: fullKey, value: text, expected: "unknown key (not part of the config contract; see README's configuration reference)" });
      continue;
    }
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text;
    }
  }
  const cfg = new pulumi.Config(NAMESPACE);
  const secrets = {} as Secrets;
  for (const [key, spec] of Object.entries(SECRET_KEYS) as [SecretKey, (typeof SECRET_KEYS)[SecretKey]][]) {
    const value = cfg.getSecret(key);
    if (value === undefined && spec.required) {
      problems.push({ path: `${NAMESPACE}:${key}`, value: undefined, expected: `required secret is missing: \`pulumi config set --secret ${NAMESPACE}:${key}\` (${spec.description})` });
    }
    secrets[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(`stack ${pulumi.getStack()}`, problems);
  return { raw, secrets };
}
