// How a HAHA rule becomes a Pulumi policy. A rule is a pure check that returns findings; the
// policy reports each finding the stack has not waived. Waivers live in the stack declaration,
// which only stack policies can see, so only stack rules are waivable; resource rules (checked
// per resource while the engine registers it) are refused or allowed on their own.
import type {
  EnforcementLevel,
  PolicyConfigSchema,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { DeclaredWaiver, Intents, label, StackView, viewOfStack } from "./view";

/** One thing wrong, in terms a reviewer can act on. */
export interface Finding {
  /** URN of the resource at fault; absent for the stack as a whole. */
  urn?: string;
  /** What is at fault, as a reader names it: `host nllei01pve01 (bond0)`. */
  subject: string;
  /** What is wrong and what it breaks, one or more sentences. */
  problem: string;
  /** What to change so the rule passes. */
  fix: string;
  /** Names a waiver's `target` may use for this finding. */
  targets: string[];
  /** Waivers of another policy that cover this finding too (a waived switch covers its failure domain). */
  alsoWaivedBy?: { policy: string; target: string }[];
}

export type RuleConfig = Record<string, unknown>;

interface RuleBase {
  /** Stable name: waivers, pack config and docs/policies.md refer to it. */
  name: string;
  description: string;
  defaultLevel: EnforcementLevel;
  configSchema?: PolicyConfigSchema;
}

export interface StackRule extends RuleBase {
  kind: "stack";
  waivable: boolean;
  check(view: StackView, config: RuleConfig): Finding[];
  /** Lines for the offline report beyond findings (what was analysed and how it came out). */
  notes?(view: StackView, config: RuleConfig): string[];
  /**
   * Why the rule has nothing to check in this stack (e.g. no Zigbee coordinator declared), or
   * undefined when it applies: reported as not applicable, never as a pass.
   */
  notApplicable?(view: StackView): string | undefined;
}

export interface ResourceRule extends RuleBase {
  kind: "resource";
  check(args: ResourceValidationArgs, config: RuleConfig): Finding[];
}

export type Rule = StackRule | ResourceRule;

/**
 * What the offline runner attaches to a policy's args (never set by the engine): a place for
 * the structured findings behind each message, and facts a preview cannot give (which inputs
 * were secret).
 */
export const OFFLINE = Symbol.for("haha.policies.offline");

export interface OfflineChannel {
  finding(rule: string, finding: Finding, waiver?: DeclaredWaiver): void;
  note(rule: string, text: string): void;
  /** Top-level input keys that held a secret (resource policies only). */
  secretInputs?: string[];
}

export function offlineChannel(args: object): OfflineChannel | undefined {
  return (args as { [OFFLINE]?: OfflineChannel })[OFFLINE];
}

export function formatFinding(f: Finding): string {
  const problem = /[.!?]$/.test(f.problem) ? f.problem : `${f.problem}.`;
  const fix = /[.!?]$/.test(f.fix) ? f.fix : `${f.fix}.`;
  return `${f.subject}: ${problem} Fix: ${fix}`;
}

/** The waiver of `policy` that covers `f`, if any. */
export function matchWaiver(policy: string, f: Finding, waivers: DeclaredWaiver[]): DeclaredWaiver | undefined {
  return waivers.find(
    (w) =>
      (w.policy === policy && (w.target === "*" || f.targets.includes(w.target))) ||
      (f.alsoWaivedBy ?? []).some((a) => a.policy === w.policy && (w.target === "*" || w.target === a.target)),
  );
}

/** The policy's config with the defaults of its schema filled in (the engine may not fill them). */
export function configWithDefaults(rule: Rule, given: RuleConfig): RuleConfig {
  const out: RuleConfig = { ...given };
  for (const [key, schema] of Object.entries(rule.configSchema?.properties ?? {})) {
    if (out[key] === undefined && typeof schema === "object" && schema.default !== undefined) out[key] = structuredClone(schema.default);
  }
  return out;
}

function report(rule: Rule, f: Finding, waiver: DeclaredWaiver | undefined, channel: OfflineChannel | undefined, reportViolation: ReportViolation) {
  channel?.finding(rule.name, f, waiver);
  if (!waiver) reportViolation(formatFinding(f), f.urn);
}

export function stackPolicy(rule: StackRule, level: EnforcementLevel = rule.defaultLevel): StackValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: level,
    configSchema: rule.configSchema,
    validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
      const view = viewOfStack(args.resources);
      const na = rule.notApplicable?.(view);
      if (na !== undefined) return args.notApplicable(na);
      const config = configWithDefaults(rule, args.getConfig<RuleConfig>());
      const findings = rule.check(view, config);
      const waivers = rule.waivable ? view.waivers() : [];
      const channel = offlineChannel(args);
      for (const f of findings) report(rule, f, matchWaiver(rule.name, f, waivers), channel, reportViolation);
      if (channel && rule.notes) for (const line of rule.notes(view, config)) channel.note(rule.name, line);
    },
  };
}

export function resourcePolicy(rule: ResourceRule, level: EnforcementLevel = rule.defaultLevel): ResourceValidationPolicy {
  return {
    name: rule.name,
    description: rule.description,
    enforcementLevel: level,
    configSchema: rule.configSchema,
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      const channel = offlineChannel(args);
      for (const f of rule.check(args, configWithDefaults(rule, args.getConfig<RuleConfig>()))) report(rule, f, undefined, channel, reportViolation);
    },
  };
}

/** Lists for messages: `a, b and c`. */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/**
 * Fail closed on intent a rule needs: one finding per component whose intent is missing or
 * malformed, and one when no component of the type declares any. Returns [] when all is readable.
 */
export function intentProblems(intents: Intents<unknown>, type: string, contract: string, needFor: string, required = true): Finding[] {
  const out: Finding[] = intents.broken.map(({ resource, problem }) => ({
    urn: resource.urn,
    subject: label(resource),
    problem: `${problem}, so ${needFor} cannot be checked`,
    fix: `declare \`intent\` (${contract} in components/intent.ts) in the component's args and in registerOutputs`,
    targets: [resource.name],
  }));
  if (required && intents.found.length === 0 && intents.broken.length === 0) {
    out.push({
      subject: "stack",
      problem: `no ${type} component declares its intent, so ${needFor} cannot be checked`,
      fix: `declare the ${type} component with \`intent\` (${contract} in components/intent.ts)`,
      targets: [type],
    });
  }
  return out;
}
