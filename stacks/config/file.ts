// The stack file read directly (the offline plan, tests): no Pulumi SDK, so that the plan can read
// its config and start the failover simulation before it loads the SDK (plan/cli.ts).
import * as fs from "node:fs";
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
