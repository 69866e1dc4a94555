// Every policy of the pack with its stable name, kind and default level, in report order.
// index.ts builds the PolicyPack from `packPolicies()`; the offline plan runs the same list.
import type { EnforcementLevel, Policies } from "@pulumi/policy";
import { failureDomainsRule } from "./failure-domains";
import { clusterFencingRule } from "./fencing";
import { noProxmoxHaManagerRule } from "./ha-manager";
import { nodeBoundHardwareRule } from "./hardware";
import { guestFullKernelRule } from "./kernel";
import { networkBondRedundancyRule, networkBondSwitchDiversityRule } from "./network";
import { clusterQuorumRule } from "./quorum";
import { Rule, resourcePolicy, stackPolicy } from "./rule";
import { noSecretInPlainInputRule } from "./secrets";
import { criticalServiceImagesRule, criticalServicesUnderPacemakerRule } from "./services";
import { storageReplicationRule } from "./storage";
import { noUsbPassthroughRule } from "./usb";
import { waivedViolationsRule, waiversKnownRule } from "./waivers";

export const PACK_NAME = "haha";

/** The rules that judge the stack. */
export const RULES: readonly Rule[] = [
  noUsbPassthroughRule,
  nodeBoundHardwareRule,
  clusterQuorumRule,
  clusterFencingRule,
  networkBondRedundancyRule,
  networkBondSwitchDiversityRule,
  storageReplicationRule,
  criticalServicesUnderPacemakerRule,
  criticalServiceImagesRule,
  noProxmoxHaManagerRule,
  noSecretInPlainInputRule,
  failureDomainsRule,
  guestFullKernelRule,
];

/** The rules about the waivers themselves. */
export const WAIVER_RULES: readonly Rule[] = [waiversKnownRule([...RULES]), waivedViolationsRule([...RULES])];

export interface PolicyEntry {
  name: string;
  kind: "resource" | "stack";
  defaultLevel: EnforcementLevel;
  /** A haha:waivers entry can accept its findings. */
  waivable: boolean;
  description: string;
  rule: Rule;
}

export const POLICIES: readonly PolicyEntry[] = [...RULES, ...WAIVER_RULES].map((rule) => ({
  name: rule.name,
  kind: rule.kind,
  defaultLevel: rule.defaultLevel,
  waivable: rule.kind === "stack" && rule.waivable,
  description: rule.description,
  rule,
}));

export const POLICY_NAMES: readonly string[] = POLICIES.map((p) => p.name);

/** The pack's policies; `levels` overrides the default enforcement level of named policies. */
export function packPolicies(levels: Partial<Record<string, EnforcementLevel>> = {}): Policies {
  const unknown = Object.keys(levels).filter((n) => !POLICY_NAMES.includes(n));
  if (unknown.length > 0) throw new Error(`unknown policy name(s): ${unknown.join(", ")} (known: ${POLICY_NAMES.join(", ")})`);
  return POLICIES.map(({ rule }) => (rule.kind === "stack" ? stackPolicy(rule, levels[rule.name]) : resourcePolicy(rule, levels[rule.name])));
}
