// Contracts between the plan runner and the steps it drives (policies, failover simulation).
import type { HahaConfig } from "../stacks/config/schema";

/** One resource as the mock runtime saw it registered. */
export interface RecordedResource {
  urn: string;
  /** Pulumi type token, e.g. `proxmoxve:index/vmLegacy:VmLegacy` or `haha:host:File`. */
  type: string;
  name: string;
  /** true for provider (custom) resources, false for components. */
  custom: boolean;
  /** URN of the parent, undefined for the stack itself. */
  parent?: string;
  /** URNs this resource depends on (explicit dependsOn and input dependencies). */
  dependencies: string[];
  /** URN of the explicit provider resource, if any. */
  provider?: string;
  /**
   * Inputs with secrets unwrapped. Under the plan every secret is a `<secret:NAME>`
   * placeholder, so this holds no real secret; policies read these as a preview would.
   */
  inputs: Record<string, unknown>;
  /** Top-level input keys whose value was marked secret. */
  secretInputs: string[];
  /** Lifecycle options as registered (absent when none is set): what `pulumi up` may replace or delete. */
  options?: { protect?: boolean; deleteBeforeReplace?: boolean; replaceOnChanges?: string[]; ignoreChanges?: string[] };
}

/** What a plan step hands back to the runner for its summary and exit code. */
export interface StepResult {
  /** false: the plan exits 1. */
  ok: boolean;
  /** Lines for the human summary. */
  summary: string[];
}

export interface PlanContext {
  stack: string;
  config: HahaConfig;
  /** build/<stack> */
  outDir: string;
  resources: RecordedResource[];
}
