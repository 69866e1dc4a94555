// The recovery-time budget of a transition: detection, then the slowest dependency chain through
// Pacemaker's own transition graph, where fencing and each start take their declared time. Not
// the sum of all starts: actions that do not depend on each other run in parallel.
import type { GraphAction } from "./simulate";

export interface Duration {
  seconds: number;
  note: string;
}

export interface Durations {
  /** A resource's start (its declared expectedStartS, or a stated fallback). */
  start(resource: string): Duration;
  /** Fencing of a node, as this scenario's failure makes it take. */
  fence(node: string): Duration;
  /** A resource's stop, when this scenario makes one take time (a hung application); absent: stops take no time. */
  stop?(resource: string, node: string | undefined): Duration | undefined;
}

export interface ChainLink {
  action: string;
  seconds: number;
  note: string;
}

export interface CriticalPath {
  /** Seconds from the transition's start to its last action's end. */
  totalS: number;
  /** Seconds of fencing on that path. */
  fencingS: number;
  /** The actions on the path that take time, in order. */
  chain: ChainLink[];
}

function actionName(a: GraphAction): string {
  if (a.kind === "crm_event") return `${a.operation} ${a.node ?? ""}`.trim();
  return `${a.operation} ${a.resource ?? a.key}${a.node ? ` on ${a.node}` : ""}`;
}

function duration(a: GraphAction, d: Durations): Duration | undefined {
  if (a.kind === "crm_event" && a.operation === "stonith") return d.fence(a.node ?? "");
  if (a.kind === "rsc_op" && a.operation === "start" && a.resource) return d.start(a.resource);
  if (a.kind === "rsc_op" && a.operation === "stop" && a.resource && d.stop) return d.stop(a.resource, a.node);
  return undefined;
}

/**
 * Longest path through the graph (a DAG: each synapse lists the actions it waits for).
 * `extraInputs` adds waits the graph does not show: a service that starts while the NFS export it
 * reads moves is not ordered after that move (its mount stays up), yet it cannot work before.
 */
export function criticalPath(graph: GraphAction[], d: Durations, extraInputs: (a: GraphAction) => string[] = () => []): CriticalPath {
  const byId = new Map(graph.map((a) => [a.id, { ...a, inputs: [...new Set([...a.inputs, ...extraInputs(a)])].filter((i) => i !== a.id) }]));
  const memo = new Map<string, { end: number; prev?: string }>();
  const visiting = new Set<string>();
  const finish = (id: string): { end: number; prev?: string } => {
    const known = memo.get(id);
    if (known) return known;
    const a = byId.get(id);
    if (!a) return { end: 0 };
    if (visiting.has(id)) throw new Error(`transition graph has a cycle through ${actionName(a)}`);
    visiting.add(id);
    let best: { end: number; prev?: string } = { end: 0 };
    for (const i of a.inputs) {
      const f = finish(i);
      if (f.end > best.end || best.prev === undefined) best = { end: f.end, prev: byId.has(i) ? i : undefined };
    }
    visiting.delete(id);
    const r = { end: best.end + (duration(a, d)?.seconds ?? 0), prev: best.prev };
    memo.set(id, r);
    return r;
  };
  let last: string | undefined;
  let total = 0;
  for (const a of byId.values()) {
    const f = finish(a.id);
    if (last === undefined || f.end > total) {
      total = f.end;
      last = a.id;
    }
  }
  const chain: ChainLink[] = [];
  let fencingS = 0;
  for (let id = last; id !== undefined; id = memo.get(id)?.prev) {
    const a = byId.get(id)!;
    const dur = duration(a, d);
    if (dur && dur.seconds > 0) {
      chain.unshift({ action: actionName(a), seconds: dur.seconds, note: dur.note });
      if (a.kind === "crm_event") fencingS += dur.seconds;
    }
  }
  return { totalS: total, fencingS, chain };
}

// ---------------------------------------------------------------------------------------------
// A fenced member that returns mid-move.

/**
 * What one probe takes on a member that comes back running nothing: the agent's shell start-up
 * and one status query (docker inspect, a read of /proc/mounts, exportfs, ip addr). An estimate;
 * the namespace lab measures the sum (its "export" line of a power loss of the export's member).
 */
export const PROBE_ESTIMATE = { seconds: 1, reason: "one agent's probe on a member that runs nothing: shell start-up and one status query" } as const;

/**
 * The probes Pacemaker runs on a member that rejoins: one per primitive, at most
 * node-action-limit at once (Pacemaker's default, 0: twice the member's cores), in waves of
 * PROBE_ESTIMATE each. Nothing the member could run starts there before its probes ended.
 */
export function rejoinProbes(primitives: number, cores: number, nodeActionLimit?: number): Duration {
  if (!Number.isInteger(primitives) || primitives < 0) throw new Error(`rejoinProbes: ${primitives} primitives: expected a whole number >= 0`);
  if (!Number.isInteger(cores) || cores < 1) throw new Error(`rejoinProbes: ${cores} cores: expected a whole number >= 1`);
  const limit = nodeActionLimit !== undefined && nodeActionLimit > 0 ? nodeActionLimit : 2 * cores;
  const waves = Math.ceil(primitives / limit);
  const source = nodeActionLimit !== undefined && nodeActionLimit > 0 ? `node-action-limit ${limit}` : `node-action-limit 0: twice its ${cores} cores`;
  return { seconds: waves * PROBE_ESTIMATE.seconds, note: `${primitives} probes, ${limit} at once (${source}): ${waves} x ${PROBE_ESTIMATE.seconds} s (${PROBE_ESTIMATE.reason})` };
}

/** The order constraints and clones the returning member's wait is read from (simulate-cib's CibInfo fits). */
export interface OrderView {
  primitives: Map<string, { top: string; group?: string }>;
  tops: Map<string, { kind: "primitive" | "group" | "clone"; primitives: string[]; meta: Record<string, string> }>;
  orders: { first: string; then: string; firstAction: string; kind: string }[];
}

export interface ReturnMidMove {
  /** Seconds a start on a survivor may wait for the returning member: its probes, then its instances of the clones it is ordered after. */
  seconds: number;
  /** The start that waits (the worst one). */
  gate: string;
  chain: ChainLink[];
}

/**
 * The fenced member returns mid-move (fence_pve's reboot powers it on again at once): a start on a
 * survivor that is ordered after a clone (first a clone, then a primitive or group: interleave
 * does not apply) waits for that clone's instance on the returned member too, which waits for its
 * probes and its own chain of clone starts (DRBD promote before OCFS2, dlm before OCFS2). The
 * worst case: it rejoins just before such a start was due, which then waits the whole term.
 * `onMember`: the clones with an instance on that member (before the fault); undefined when no
 * start of the transition waits for one.
 */
export function returnMidMove(cib: OrderView, graph: GraphAction[], d: Durations, onMember: Set<string>, probes: Duration): ReturnMidMove | undefined {
  const isClone = (id: string) => cib.tops.get(id)?.kind === "clone";
  const mandatory = cib.orders.filter((o) => o.kind === "Mandatory");
  const memo = new Map<string, ChainLink[]>();
  /** The returned member's starts up to and including its instance of `clone`, the slowest chain. */
  const cloneChain = (clone: string, seen: Set<string>): ChainLink[] => {
    const known = memo.get(clone);
    if (known) return known;
    let before: ChainLink[] = [];
    for (const o of mandatory) {
      if (o.then !== clone || !isClone(o.first) || !onMember.has(o.first) || seen.has(o.first)) continue;
      const c = cloneChain(o.first, new Set([...seen, clone]));
      if (sumOf(c) > sumOf(before)) before = c;
    }
    const own = (cib.tops.get(clone)?.primitives ?? []).map((p) => {
      const s = d.start(p);
      return { action: `start ${p} on the returned member`, seconds: s.seconds, note: s.note };
    });
    const out = [...before, ...own];
    memo.set(clone, out);
    return out;
  };
  let worst: ReturnMidMove | undefined;
  for (const a of graph) {
    if (a.kind !== "rsc_op" || a.operation !== "start" || !a.resource) continue;
    const p = cib.primitives.get(a.resource);
    if (!p || isClone(p.top)) continue;
    const names = new Set([a.resource, p.top, ...(p.group ? [p.group] : [])]);
    for (const o of mandatory) {
      if (!names.has(o.then) || !isClone(o.first) || !onMember.has(o.first)) continue;
      const chain = [{ action: "probes on the returned member", seconds: probes.seconds, note: probes.note }, ...cloneChain(o.first, new Set())];
      const seconds = sumOf(chain);
      if (!worst || seconds > worst.seconds) worst = { seconds, gate: `start ${a.resource}${a.node ? ` on ${a.node}` : ""} (after ${o.first})`, chain };
    }
  }
  return worst;
}

const sumOf = (c: ChainLink[]) => c.reduce((s, l) => s + l.seconds, 0);
