// Two ways into parseConfig: a stack file read directly (the offline plan, tests), and the
// Pulumi runtime's config (a real `pulumi up`, or the plan once it has set that config).
import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE } from "./file";
import { SECRET_KEYS, SecretKey } from "./schema";
import { ConfigError, ConfigProblem, KNOWN_KEYS } from "./validate";

export { NAMESPACE, readStackFile, secretPlaceholder, type StackFileConfig } from "./file";

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
