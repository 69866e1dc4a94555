// "Started where the plan's all-up scenario put it" (issue 9 item 3): the real cluster's crm_mon
// against the placement crm_simulate gave the plan for the same CIB with every member up.
import { XMLParser } from "fast-xml-parser";

/** Where a top-level resource (a primitive, a group or a clone) runs: its nodes, and for a promotable clone the promoted ones. */
export interface Placed {
  started: string[];
  promoted: string[];
}

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["node", "resource", "clone", "group", "failure"].includes(n) });

/** crm_mon --output-as=xml, by top-level id, plus the ids of failed instances and the failed actions. */
export function actualPlacement(out: string): { placed: Map<string, Placed>; failed: string[]; failedActions: string[] } {
  const i = out.indexOf("<pacemaker-result");
  if (i < 0) throw new Error(`crm_mon gave no XML result: ${out.slice(0, 200)}`);
  const r = (xml.parse(out.slice(i)) as { "pacemaker-result": Record<string, unknown> })["pacemaker-result"];
  const placed = new Map<string, Placed>();
  const failed: string[] = [];
  const add = (top: string, res: Record<string, unknown>) => {
    const p = placed.get(top) ?? { started: [], promoted: [] };
    if (res.failed === "true") failed.push(String(res.id));
    const started = res.active === "true" && ["Started", "Promoted", "Unpromoted", "Master", "Slave"].includes(String(res.role));
    for (const n of (res.node ?? []) as Record<string, string>[]) {
      if (started && !p.started.includes(n.name!)) p.started.push(n.name!);
      if (started && (res.role === "Promoted" || res.role === "Master") && !p.promoted.includes(n.name!)) p.promoted.push(n.name!);
    }
    placed.set(top, p);
  };
  const resources = (r.resources ?? {}) as Record<string, unknown>;
  for (const res of (resources.resource ?? []) as Record<string, unknown>[]) add(String(res.id), res);
  const group = (top: string, g: Record<string, unknown>) => {
    // A group runs where all its members run: a member stopped there takes the node out.
    const members = (g.resource ?? []) as Record<string, unknown>[];
    const per = members.map((m) => {
      if (m.failed === "true") failed.push(String(m.id));
      return m.active === "true" && m.role === "Started" ? ((m.node ?? []) as Record<string, string>[]).map((n) => n.name!) : [];
    });
    const p = placed.get(top) ?? { started: [], promoted: [] };
    const all = per.length ? per.reduce((a, b) => a.filter((x) => b.includes(x))) : [];
    for (const n of all) if (!p.started.includes(n)) p.started.push(n);
    placed.set(top, p);
  };
  for (const g of (resources.group ?? []) as Record<string, unknown>[]) group(String(g.id), g);
  for (const c of (resources.clone ?? []) as Record<string, unknown>[]) {
    const id = String(c.id);
    for (const res of (c.resource ?? []) as Record<string, unknown>[]) add(id, res);
    for (const g of (c.group ?? []) as Record<string, unknown>[]) group(id, g);
  }
  const failedActions = (((r.failures as Record<string, unknown> | undefined)?.failure ?? []) as Record<string, string>[]).map((f) => `${f.op_key ?? f.id} on ${f.node}: ${f.exitreason || f.status || f.exitstatus}`);
  return { placed, failed, failedActions };
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
