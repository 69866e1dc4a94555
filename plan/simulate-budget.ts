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
