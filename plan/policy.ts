// Step 4 of the offline plan: run the policy pack's own policies over the recorded resources,
// write build/<stack>/policy-report.json and summarise every rule with its result. Stricter
// than a preview in one way: a mandatory rule that meets an unknown value fails the plan, where
// the engine would only warn (everything a policy reads must be known at preview).
import * as path from "node:path";
import { isUnknown } from "@pulumi/pulumi/output";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { evaluatePack, OfflineResource, PackConfig, PackEvaluation, RuleResult, Violation } from "../policies/evaluate";
import { T } from "../policies/types";
import { WAIVED_VIOLATIONS } from "../policies/waivers";
import { writeJson } from "./files";
import type { PlanContext, RecordedResource, StepResult } from "./types";

export interface PolicyRunOptions {
  /** The same JSON `pulumi preview --policy-pack-config` takes: levels and policy config by policy name. */
  packConfig?: PackConfig;
}

/**
 * What the recorder kept of an unknown preview value (`<unknown>`, or the SDK's unknown object
 * when it was recorded as is) goes back to the engine's unknown marker, so policies meet it as
 * in a preview.
 */
function restoreUnknowns(v: unknown): unknown {
  if (v === "<unknown>" || isUnknown(v)) return unknownValue;
  if (Array.isArray(v)) return v.map(restoreUnknowns);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, restoreUnknowns(x)]));
  return v;
}

export function toOfflineResource(r: RecordedResource): OfflineResource {
  return { urn: r.urn, type: r.type, name: r.name, parent: r.parent, dependencies: r.dependencies, props: restoreUnknowns(r.inputs) as Record<string, unknown>, secretInputs: r.secretInputs };
}

/** The recorded declaration must carry haha:waivers exactly as configured, or waivers would silently not apply. */
function declarationProblems(ctx: PlanContext): string[] {
  const decls = ctx.resources.filter((r) => r.type === T.declaration);
  if (decls.length === 0) return [`the program declares no ${T.declaration}: haha:waivers and the failure domains do not reach the policies (construct StackDeclaration in stacks/haha.ts)`];
  if (decls.length > 1) return [`the program declares ${decls.length} ${T.declaration} resources; the policies read only the first`];
  const canonical = (ws: unknown) => JSON.stringify(Array.isArray(ws) ? ws.map((w: Record<string, unknown>) => ({ policy: w?.policy, target: w?.target, reason: w?.reason })) : null);
  const declared = canonical(decls[0]!.inputs.waivers);
  const configured = canonical(ctx.config.waivers);
  return declared === configured ? [] : [`${T.declaration} "${decls[0]!.name}" carries waivers ${declared}, but haha:waivers is ${configured}`];
}

const MARK: Record<RuleResult["status"], string> = {
  pass: "PASS",
  fail: "FAIL",
  advisory: "ADVISORY",
  waived: "WAIVED",
  unknown: "UNKNOWN",
  "not-applicable": "N/A",
  disabled: "DISABLED",
};

function resourceName(v: Violation): string {
  return v.resource ? `${v.resource.type} "${v.resource.name}"` : (v.subject ?? "stack");
}

function violationLines(v: Violation): string[] {
  if (v.problem === undefined) return [`      - [${v.rule}] ${resourceName(v)}: ${v.message}`];
  const subject = v.subject && v.resource && v.subject !== resourceName(v) ? `${v.subject} (${resourceName(v)})` : (v.subject ?? resourceName(v));
  return [`      - [${v.rule}] ${subject}: ${v.problem}`, `        fix: ${v.fix}`];
}

function ruleLines(r: RuleResult): string[] {
  const head = `  ${MARK[r.status].padEnd(8)} ${r.name} (${r.level})`;
  if (r.name === WAIVED_VIOLATIONS) {
    // The reporter repeats each waived finding for a preview's output; here they sit under their rules.
    const stale = r.violations.filter((v) => !/ waived by haha:waivers\[/.test(v.subject ?? ""));
    return [`${head}: ${r.violations.length - stale.length} waived finding(s), listed under their rules`, ...stale.flatMap(violationLines)];
  }
  const lines = [head];
  for (const v of r.violations) lines.push(...violationLines(v));
  const byWaiver = new Map<number, Violation[]>();
  for (const v of r.waived) byWaiver.set(v.waiver!.index, [...(byWaiver.get(v.waiver!.index) ?? []), v]);
  for (const [index, vs] of byWaiver) {
    const w = vs[0]!.waiver!;
    lines.push(`      waived by haha:waivers[${index}] (target ${w.target}), ${vs.length} finding(s): ${vs.map((v) => v.subject).join("; ")}`, `        reason: ${w.reason}`);
  }
  for (const u of r.unknown) lines.push(`      unknown at preview: ${u}`);
  for (const n of r.notApplicable.slice(0, 1)) lines.push(`      not applicable: ${n}`);
  return lines;
}

export function policyOk(evaluation: PackEvaluation): boolean {
  return !evaluation.rules.some((r) => r.status === "fail" || (r.status === "unknown" && r.level === "mandatory"));
}

export function runPolicies(ctx: PlanContext, options: PolicyRunOptions = {}): StepResult {
  const evaluation = evaluatePack(ctx.resources.map(toOfflineResource), options.packConfig);
  const planProblems = declarationProblems(ctx);
  const ok = policyOk(evaluation) && planProblems.length === 0;
  const count = (s: RuleResult["status"]) => evaluation.rules.filter((r) => r.status === s).length;
  const domains = evaluation.rules.find((r) => r.name === "failure-domains")?.notes ?? [];
  const reportFile = path.join(ctx.outDir, "policy-report.json");

  writeJson(reportFile, {
    stack: ctx.stack,
    pack: evaluation.pack,
    ok,
    counts: { rules: evaluation.rules.length, pass: count("pass"), waived: count("waived"), advisory: count("advisory"), fail: count("fail"), unknown: count("unknown"), ...(count("not-applicable") ? { notApplicable: count("not-applicable") } : {}) },
    planProblems,
    waivers: ctx.config.waivers.map((w, index) => ({
      index,
      ...w,
      covers: evaluation.rules.flatMap((r) => r.waived.filter((v) => v.waiver?.index === index).map((v) => ({ rule: r.name, subject: v.subject }))),
    })),
    failureDomains: domains,
    rules: evaluation.rules,
  });

  const summary = [
    `policies: pack ${evaluation.pack.name} ${evaluation.pack.version}, ${evaluation.rules.length} rules evaluated: ${count("pass")} pass, ${count("waived")} waived, ${count("advisory")} advisory, ${count("fail")} FAIL${count("unknown") ? `, ${count("unknown")} unknown` : ""}${count("not-applicable") ? `, ${count("not-applicable")} not applicable` : ""} -> ${path.relative(process.cwd(), reportFile) || reportFile}`,
    ...evaluation.rules.flatMap(ruleLines),
    ...planProblems.map((p) => `  FAIL     plan: ${p}`),
  ];
  if (domains.length > 0) summary.push("  failure domains:", ...domains.map((d) => `    - ${d}`));
  return { ok, summary };
}
