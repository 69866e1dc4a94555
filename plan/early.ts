// The failover step started from the stack file alone, before the plan loads the Pulumi SDK and
// the components (plan/cli.ts): the CIB model is a pure function of config, so crm_simulate can
// run on the other core while this thread loads the program's modules (about a second of CPU),
// not only once they are loaded. Nothing here imports the SDK.
import { isDeepStrictEqual } from "node:util";
import { stackCibModel } from "../components/pacemaker/cib/stack";
import { readStackFile } from "../stacks/config/file";
import type { HahaConfig } from "../stacks/config/schema";
import { missingSecrets, parseConfig } from "../stacks/config/validate";
import { type EarlyFailover, startFailover } from "./failover";

export interface EarlyStart {
  /** The config the simulation was started with. */
  config: HahaConfig;
  failover: EarlyFailover;
}

/**
 * undefined when the file does not make a complete, valid config (or config renders no CIB): the
 * plan proper reads it again and says what is wrong, and starts nothing early.
 */
export function startEarlyFailover(file: string): EarlyStart | undefined {
  let config: HahaConfig;
  try {
    const stackFile = readStackFile(file);
    config = parseConfig(stackFile.raw, file);
    if (missingSecrets(config, stackFile.secretsSet).length > 0) return undefined;
  } catch {
    return undefined;
  }
  const failover = startFailover(config, stackCibModel);
  return failover ? { config, failover } : undefined;
}

/**
 * The early simulation when it was started with this very config (the plan read the file again);
 * otherwise it is let end (its temporary directory goes with it) and undefined is returned.
 */
export async function earlyFor(early: EarlyStart | undefined, config: HahaConfig): Promise<EarlyFailover | undefined> {
  if (early === undefined) return undefined;
  if (isDeepStrictEqual(early.config, config)) return early.failover;
  await early.failover.outcome;
  return undefined;
}
