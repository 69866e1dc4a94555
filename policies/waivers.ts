// Waivers (haha:waivers, carried by the stack declaration): a waived finding is not reported by
// its mandatory policy; `waived-violations` (advisory) prints it with the reason instead, so the
// accepted risk stays visible in every preview. `waivers-known` refuses a waiver naming a policy
// the pack does not have, one that cannot be waived, or a target that names nothing in the stack.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, listOf, matchWaiver, Rule, StackRule, stackPolicy } from "./rule";
import { isUnknownValueError } from "./sdk";
import { DeclaredWaiver, StackView } from "./view";

/** The reporter policy, whose findings are the waived findings of the others. */
export const WAIVED_VIOLATIONS = "waived-violations";
export const WAIVERS_KNOWN = "waivers-known";

const at = (w: DeclaredWaiver) => `haha:waivers[${w.index}]`;

interface Evaluated {
  rule: StackRule;
  findings: Finding[];
}

/** Run every waivable rule; an unknown preview value leaves that rule out and is handed back. */
function evaluateWaivable(view: StackView, rules: Rule[]): { evaluated: Evaluated[]; unknown?: unknown } {
  const evaluated: Evaluated[] = [];
  let unknown: unknown;
  for (const rule of rules) {
    if (rule.kind !== "stack" || !rule.waivable) continue;
    try {
      evaluated.push({ rule, findings: rule.check(view, {}) });
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
      unknown ??= e;
    }
  }
  return { evaluated, unknown };
}

/** Every name a waiver may target: resources, hosts, members, switches, domains, services, and each finding's targets. */
export function knownTargets(view: StackView, evaluated: Evaluated[]): Set<string> {
  const names = new Set<string>(["*"]);
  for (const r of view.resources) names.add(r.name);
  for (const { value } of view.hosts().found) [value.host, ...value.switchPorts.map((p) => p.split(":")[0] ?? "")].forEach((n) => names.add(n));
  for (const { value } of view.guests().found) [value.member, value.host].forEach((n) => names.add(n));
  for (const { value } of view.clusters().found) value.members.forEach((m) => [m.name, m.host].forEach((n) => names.add(n)));
  for (const { value } of view.services().found) value.services.forEach((s) => names.add(s.name));
  for (const { value } of view.declarations().found) {
    value.switches.forEach((s) => [s.name, s.stackGroup].forEach((n) => n && names.add(n)));
    value.failureDomains.forEach((d) => [d.name, ...d.hosts, ...d.switches].forEach((n) => names.add(n)));
  }
  for (const { findings } of evaluated) for (const f of findings) f.targets.forEach((t) => names.add(t));
  return names;
}

export function waiversKnownRule(rules: Rule[]): StackRule {
  return {
    kind: "stack",
    name: WAIVERS_KNOWN,
    description: "Every haha:waivers entry names a waivable policy of this pack and a target that exists in the stack.",
    defaultLevel: "mandatory",
    waivable: false,
    check: (view) => {
      const out: Finding[] = [];
      const decl = view.declarations().found[0];
      const waivers = view.waivers();
      if (waivers.length === 0) return out;
      const { evaluated, unknown } = evaluateWaivable(view, rules);
      const targets = knownTargets(view, evaluated);
      const waivable = rules.filter((r) => r.kind === "stack" && r.waivable).map((r) => r.name);
      let undecided = false;
      for (const w of waivers) {
        const rule = rules.find((r) => r.name === w.policy);
        const base = { urn: decl?.resource.urn, subject: at(w), targets: [] };
        if ([WAIVERS_KNOWN, WAIVED_VIOLATIONS].includes(w.policy)) {
          out.push({ ...base, problem: `policy "${w.policy}" cannot be waived: it judges the waivers themselves`, fix: "remove the waiver" });
        } else if (!rule) {
          out.push({ ...base, problem: `policy "${w.policy}" is not a policy of this pack`, fix: `name one of ${listOf(waivable)}` });
        } else if (rule.kind !== "stack" || !rule.waivable) {
          out.push({
            ...base,
            problem: `policy "${w.policy}" cannot be waived: it is checked per resource as the engine registers it, where stack waivers are not visible`,
            fix: `remove the waiver and fix what ${w.policy} reports (or, knowingly, lower its enforcementLevel in the policy pack config)`,
          });
        } else if (!targets.has(w.target)) {
          if (unknown !== undefined) undecided = true;
          else out.push({ ...base, problem: `target "${w.target}" names nothing in this stack (no resource, host, member, switch, failure domain or service of that name)`, fix: `name what ${w.policy} reports (for a switch, its name such as the one in haha:switches), or "*" for every finding of the policy` });
        }
      }
      if (undecided) throw unknown;
      return out;
    },
  };
}

export function waivedViolationsRule(rules: Rule[]): StackRule {
  return {
    kind: "stack",
    name: WAIVED_VIOLATIONS,
    description: "Lists every waived finding with the reason it was accepted, and every waiver that no longer matches anything.",
    defaultLevel: "advisory",
    waivable: false,
    check: (view) => {
      const waivers = view.waivers();
      if (waivers.length === 0) return [];
      const { evaluated, unknown } = evaluateWaivable(view, rules);
      const used = new Set<number>();
      const out: Finding[] = [];
      for (const { rule, findings } of evaluated) {
        for (const f of findings) {
          const w = matchWaiver(rule.name, f, waivers);
          if (!w) continue;
          used.add(w.index);
          out.push({
            urn: f.urn,
            subject: `${rule.name} waived by ${at(w)} (${w.policy} on ${w.target})`,
            problem: `${f.subject}: ${f.problem.replace(/[.]?$/, ".")} Accepted because: ${w.reason}`,
            fix: f.fix,
            targets: f.targets,
          });
        }
      }
      if (unknown !== undefined) return out;
      const decl = view.declarations().found[0];
      for (const w of waivers) {
        if (used.has(w.index) || !rules.some((r) => r.name === w.policy && r.kind === "stack" && r.waivable)) continue;
        out.push({ urn: decl?.resource.urn, subject: at(w), problem: `the waiver (${w.policy} on ${w.target}) matches no violation any more`, fix: "remove it from haha:waivers", targets: [] });
      }
      return out;
    },
  };
}

export const waiversKnown = (rules: Rule[], level?: EnforcementLevel) => stackPolicy(waiversKnownRule(rules), level);
export const waivedViolations = (rules: Rule[], level?: EnforcementLevel) => stackPolicy(waivedViolationsRule(rules), level);
