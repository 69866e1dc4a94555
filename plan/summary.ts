// Helpers for the plan's human summary.
import type { RecordedResource } from "./types";

/** The layer a resource belongs to: that of its nearest `haha:<layer>:*` ancestor (or itself). */
export function layerOf(r: RecordedResource, byUrn: Map<string, RecordedResource>): string {
  for (let cur: RecordedResource | undefined = r; cur; cur = cur.parent ? byUrn.get(cur.parent) : undefined) {
    const m = /^haha:([a-z]+):/.exec(cur.type);
    if (m) return m[1]!;
  }
  return r.type.startsWith("pulumi:providers:") ? "providers" : "stack";
}

export function layerCounts(resources: RecordedResource[]): [string, number][] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(layerOf(r, byUrn), (counts.get(layerOf(r, byUrn)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}
