// Runs the pack's own policies offline, as the engine would: each resource policy's
// validateResource on every resource (its inputs behind the engine's unknown-checking proxy),
// each stack policy's validateStack over all of them, enforcement levels from the same pack
// config `--policy-pack-config` takes. It returns structured results instead of diagnostics.
import type { EnforcementLevel, Policy, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import pkg from "./package.json";
import { PACK_NAME, POLICIES, packPolicies } from "./registry";
import { Finding, formatFinding, OFFLINE, OfflineChannel, RuleConfig } from "./rule";
import { isUnknownValueError, unknownCheckingProxy } from "./sdk";
import type { DeclaredWaiver } from "./view";

export interface OfflineResource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  dependencies?: string[];
  /** Inputs, secrets unwrapped (as placeholders in the plan). */
  props: Record<string, unknown>;
  /** Top-level input keys that held a secret; absent when unknown (then the secrets rule is not applicable). */
  secretInputs?: string[];
}

/** What `pulumi preview --policy-pack-config` accepts: a level, or an object with a level and the policy's config. */
export type PackConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & RuleConfig)>;

export type RuleStatus = "pass" | "fail" | "advisory" | "waived" | "unknown" | "not-applicable" | "disabled";

export interface Violation {
  rule: string;
  level: EnforcementLevel;
  message: string;
  resource?: { urn: string; type: string; name: string };
  subject?: string;
  problem?: string;
  fix?: string;
  targets?: string[];
  waiver?: { index: number; policy: string; target: string; reason: string };
}

export interface RuleResult {
  name: string;
  kind: "resource" | "stack";
  level: EnforcementLevel;
  status: RuleStatus;
  description: string;
  /** Reported violations (not waived). */
  violations: Violation[];
  /** Findings accepted by a waiver. */
  waived: Violation[];
  /** Values that were unknown, as the engine would say it (`string value at .intent.members can't be known during preview`). */
  unknown: string[];
  notApplicable: string[];
  notes: string[];
}

export interface PackEvaluation {
  pack: { name: string; version: string };
  rules: RuleResult[];
}

const LEVELS: readonly EnforcementLevel[] = ["advisory", "mandatory", "remediate", "disabled"];

class NotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

function levelsOf(config: PackConfig): { levels: Record<string, EnforcementLevel>; props: Record<string, RuleConfig> } {
  const levels: Record<string, EnforcementLevel> = {};
  const props: Record<string, RuleConfig> = {};
  for (const [name, c] of Object.entries(config)) {
    if (!POLICIES.some((p) => p.name === name)) throw new Error(`policy pack config names unknown policy "${name}" (known: ${POLICIES.map((p) => p.name).join(", ")})`);
    const { enforcementLevel, ...rest } = typeof c === "string" ? { enforcementLevel: c } : c;
    if (enforcementLevel !== undefined) {
      if (!LEVELS.includes(enforcementLevel)) throw new Error(`policy pack config for "${name}": enforcementLevel "${String(enforcementLevel)}" is not one of ${LEVELS.join(", ")}`);
      levels[name] = enforcementLevel;
    }
    props[name] = rest;
  }
  return { levels, props };
}

const isStackPolicy = (p: Policy): p is StackValidationPolicy => typeof (p as StackValidationPolicy).validateStack === "function";

/** The engine hands policies plain values; anything else (a Promise) is a pack bug the offline run must not hide. */
function syncOnly(result: unknown, policy: string): void {
  if (result !== undefined && typeof (result as Promise<void>)?.then === "function") throw new Error(`policy ${policy} is asynchronous; the offline runner evaluates synchronous policies only`);
}

export function evaluatePack(resources: OfflineResource[], packConfig: PackConfig = {}): PackEvaluation {
  const { levels, props: ruleProps } = levelsOf(packConfig);
  const policies = packPolicies(levels);
  const results: RuleResult[] = [];

  for (const policy of policies) {
    const entry = POLICIES.find((p) => p.name === policy.name)!;
    // The engine's precedence: pack config, then the policy's own level.
    const declared = policy.enforcementLevel ?? "mandatory";
    const level: EnforcementLevel = declared === "remediate" ? "mandatory" : declared;
    const result: RuleResult = { name: policy.name, kind: entry.kind, level, status: "pass", description: policy.description, violations: [], waived: [], unknown: [], notApplicable: [], notes: [] };
    results.push(result);
    if (level === "disabled") {
      result.status = "disabled";
      continue;
    }
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const describe = (urn?: string) => {
      const r = urn ? byUrn.get(urn) : undefined;
      return r ? { urn: r.urn, type: r.type, name: r.name } : undefined;
    };
    const structured: { finding: Finding; waiver?: DeclaredWaiver }[] = [];
    const reported: { message: string; urn?: string }[] = [];
    const channel = (secretInputs?: string[]): OfflineChannel => ({
      finding: (_rule, finding, waiver) => structured.push({ finding, waiver }),
      note: (_rule, text) => result.notes.push(text),
      secretInputs,
    });
    const getConfig = <T extends object>() => ({ ...(ruleProps[policy.name] ?? {}) }) as T;
    const notApplicable = (reason?: string): never => {
      throw new NotApplicable(reason ?? "not applicable");
    };
    const run = (fn: () => unknown, where?: OfflineResource) => {
      try {
        syncOnly(fn(), policy.name);
      } catch (e) {
        if (isUnknownValueError(e)) result.unknown.push(`${where ? `${where.type} "${where.name}": ` : ""}${e.message}`);
        else if (e instanceof NotApplicable) result.notApplicable.push(`${where ? `${where.type} "${where.name}": ` : ""}${e.reason}`);
        else throw e;
      }
    };

    if (isStackPolicy(policy)) {
      const policyResources = stackResources(resources);
      const args: StackValidationArgs & { [OFFLINE]: OfflineChannel } = {
        resources: policyResources,
        stackTags: new Map(),
        getConfig,
        notApplicable,
        [OFFLINE]: channel(),
      };
      const report: ReportViolation = (message, urn) => reported.push({ message, urn });
      run(() => policy.validateStack(args, report));
    } else {
      const rp = policy as ResourceValidationPolicy;
      const validations = rp.validateResource === undefined ? [] : Array.isArray(rp.validateResource) ? rp.validateResource : [rp.validateResource];
      for (const r of resources) {
        const props = unknownCheckingProxy(structuredClone(r.props));
        const args: ResourceValidationArgs & { [OFFLINE]: OfflineChannel } = {
          type: r.type,
          props,
          urn: r.urn,
          name: r.name,
          opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: r.parent },
          stackTags: new Map(),
          isType: (cls) => (cls as unknown as { __pulumiType?: string }).__pulumiType === r.type,
          asType: ((cls: unknown) => ((cls as { __pulumiType?: string }).__pulumiType === r.type ? props : undefined)) as ResourceValidationArgs["asType"],
          getConfig,
          notApplicable,
          [OFFLINE]: channel(r.secretInputs),
        };
        // Resource policies report against the resource under validation, whatever urn they pass.
        const report: ReportViolation = (message) => reported.push({ message, urn: r.urn });
        for (const v of validations) run(() => v(args, report), r);
      }
    }

    // Structured findings explain the reported messages; a message without one is kept as is.
    const explained = new Set<string>();
    for (const { finding, waiver } of structured) {
      const v: Violation = {
        rule: policy.name,
        level,
        message: formatFinding(finding),
        resource: describe(finding.urn),
        subject: finding.subject,
        problem: finding.problem,
        fix: finding.fix,
        targets: finding.targets,
        waiver: waiver ? { index: waiver.index, policy: waiver.policy, target: waiver.target, reason: waiver.reason } : undefined,
      };
      if (waiver) result.waived.push(v);
      else {
        result.violations.push(v);
        explained.add(`${finding.urn ?? ""}\n${v.message}`);
      }
    }
    for (const { message, urn } of reported) {
      if (!explained.has(`${urn ?? ""}\n${message}`)) result.violations.push({ rule: policy.name, level, message, resource: describe(urn) });
    }

    if (result.violations.length > 0) result.status = level === "mandatory" ? "fail" : "advisory";
    else if (result.unknown.length > 0) result.status = "unknown";
    else if (result.waived.length > 0) result.status = "waived";
    else if (entry.kind === "resource" && result.notApplicable.length > 0 && result.notApplicable.length === resources.length) result.status = "not-applicable";
    // A stack rule that declared itself not applicable (nothing of what it guards is declared).
    else if (entry.kind === "stack" && result.notApplicable.length > 0) result.status = "not-applicable";
  }
  return { pack: { name: PACK_NAME, version: pkg.version }, rules: results };
}

/** PolicyResource objects as the engine builds them for stack policies: parents and dependencies linked. */
function stackResources(resources: OfflineResource[]): PolicyResource[] {
  const out = new Map<string, PolicyResource>();
  for (const r of resources) {
    const props = unknownCheckingProxy(structuredClone(r.props));
    out.set(r.urn, {
      type: r.type,
      name: r.name,
      urn: r.urn,
      props,
      opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], parent: r.parent },
      dependencies: [],
      propertyDependencies: {},
      isType: (cls) => (cls as unknown as { __pulumiType?: string }).__pulumiType === r.type,
      asType: ((cls: unknown) => ((cls as { __pulumiType?: string }).__pulumiType === r.type ? props : undefined)) as PolicyResource["asType"],
    });
  }
  for (const r of resources) {
    const pr = out.get(r.urn)!;
    if (r.parent && out.has(r.parent)) pr.parent = out.get(r.parent);
    pr.dependencies = (r.dependencies ?? []).flatMap((d) => (out.has(d) ? [out.get(d)!] : []));
  }
  return [...out.values()];
}
