// "Started where the plan's all-up scenario put it" (issue 9 item 3): the real cluster's crm_mon
// against the placement crm_simulate gave the plan for the same CIB with every member up.
import { type CrmInstance, isPromoted, parseCrmMon, RUNNING_ROLES } from "../common/crm-mon";

/** Where a top-level resource (a primitive, a group or a clone) runs: its nodes, and for a promotable clone the promoted ones. */
export interface Placed {
  started: string[];
  promoted: string[];
}

/** crm_mon --output-as=xml, by top-level id, plus the ids of failed instances and the failed actions. */
export function actualPlacement(out: string): { placed: Map<string, Placed>; failed: string[]; failedActions: string[] } {
  const mon = parseCrmMon(out);
  if (!mon) throw new Error(`crm_mon gave no XML result: ${out.slice(0, 200)}`);
  const placed = new Map<string, Placed>();
  const at = (top: string) => placed.get(top) ?? placed.set(top, { started: [], promoted: [] }).get(top)!;
  const add = (p: string[], n: string) => {
    if (!p.includes(n)) p.push(n);
  };
  // A group runs where all its members run: a member stopped there takes the node out. (A cloned
  // group lists each instance as a group of its own, "g:0", "g:1".)
  const groups = new Map<string, CrmInstance[]>();
  for (const i of mon.instances) {
    at(i.top);
    if (i.group) groups.set(`${i.top} ${i.group}`, [...(groups.get(`${i.top} ${i.group}`) ?? []), i]);
    else if (i.active && RUNNING_ROLES.includes(i.role))
      for (const n of i.nodes) {
        add(at(i.top).started, n);
        if (isPromoted(i)) add(at(i.top).promoted, n);
      }
  }
  for (const members of groups.values()) {
    const p = at(members[0]!.top);
    const on = members.map((m) => (m.active && m.role === "Started" ? m.nodes : []));
    for (const n of on.reduce((x, y) => x.filter((v) => y.includes(v)))) add(p.started, n);
  }
  return { placed, failed: mon.instances.filter((i) => i.failed).map((i) => i.id), failedActions: mon.failedOps };
}

/** The plan's all-up placement (the all-up scenario's `simulated` from simulateScenarios): "Started X" or "on A, B[; Promoted on A, B]". */
export function plannedPlacement(simulated: Record<string, string>): Map<string, Placed> {
  const out = new Map<string, Placed>();
  const nodes = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);
  for (const [id, text] of Object.entries(simulated)) {
    const p: Placed = { started: [], promoted: [] };
    for (const part of text.split(";").map((x) => x.trim())) {
      let m: RegExpMatchArray | null;
      if ((m = part.match(/^Started (.+)$/))) p.started.push(...nodes(m[1]!));
      else if ((m = part.match(/^Promoted on (.+)$/))) p.promoted.push(...nodes(m[1]!));
      else if ((m = part.match(/^on (.+)$/))) p.started.push(...nodes(m[1]!));
      else if (part !== "Stopped" && part !== "") throw new Error(`the plan's all-up placement of ${id} reads "${text}": not a placement this lab knows`);
    }
    out.set(id, p);
  }
  return out;
}

/** Each difference between the plan's placement and the cluster's, as a sentence; empty when they agree. */
export function placementDiff(planned: Map<string, Placed>, actual: Map<string, Placed>): string[] {
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  const out: string[] = [];
  for (const [id, want] of planned) {
    const got = actual.get(id);
    if (!got) {
      out.push(`${id}: not in the cluster (the plan starts it on ${want.started.join(", ") || "no member"})`);
      continue;
    }
    if (!same(want.started, got.started)) out.push(`${id}: started on ${got.started.join(", ") || "no member"}, the plan's all-up scenario on ${want.started.join(", ") || "no member"}`);
    if (!same(want.promoted, got.promoted)) out.push(`${id}: promoted on ${got.promoted.join(", ") || "no member"}, the plan's on ${want.promoted.join(", ") || "no member"}`);
  }
  for (const id of actual.keys()) if (!planned.has(id)) out.push(`${id}: in the cluster, not in the plan's CIB`);
  return out;
}
