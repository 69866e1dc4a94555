// Test fixtures: the prod stack's config, parsed, and a way to mutate one field of it.
import * as path from "node:path";
import { readStackFile } from "../../stacks/config/load";
import type { HahaConfig } from "../../stacks/config/schema";
import { parseConfig } from "../../stacks/config/validate";

export const ROOT = path.resolve(__dirname, "../..");
export const PROD_STACK_FILE = path.join(ROOT, "Pulumi.prod.yaml");

/** The raw `haha:*` values of Pulumi.prod.yaml (keys without the prefix), a fresh copy each call. */
export function prodRaw(): Record<string, any> {
  return structuredClone(readStackFile(PROD_STACK_FILE).raw);
}

/** The validated prod config, a fresh copy each call. */
export function prodConfig(): HahaConfig {
  return parseConfig(prodRaw(), "Pulumi.prod.yaml");
}

/** A validated config after applying `mutate` to the prod config's raw values. */
export function mutatedConfig(mutate: (raw: Record<string, any>) => void): HahaConfig {
  const raw = prodRaw();
  mutate(raw);
  return parseConfig(raw, "mutated prod");
}

/** A syntactically valid ed25519 host key for test connections (its private half was discarded). */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIAuM625f+gzpuXuyYWKt9mKhauG9UGKFiQL3XJgE7+J test-host";
