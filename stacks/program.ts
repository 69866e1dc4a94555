// The program body, shared by the Pulumi entry point (stacks/index.ts) and the offline plan.
import { readPulumiConfig } from "./config/load";
import { ConfigError, missingSecrets, parseConfig } from "./config/validate";
import { declareStack, StackOutputs } from "./haha";

export async function program(): Promise<StackOutputs> {
  const { raw, secrets } = readPulumiConfig();
  // Validation happens before any resource is declared: a bad config declares nothing.
  const config = parseConfig(raw, "stack config");
  const missing = missingSecrets(config, Object.keys(secrets).filter((k) => secrets[k as keyof typeof secrets] !== undefined));
  if (missing.length > 0) throw new ConfigError("stack config", missing);
  return declareStack(config, secrets);
}
