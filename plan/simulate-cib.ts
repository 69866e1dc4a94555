// What the failover checks need to know about a CIB, read from the rendered XML itself (the
// document that is pushed), not from the model: resources and their operations, constraints with
// resource sets expanded into pairs, location bans, defaults.
import { XMLParser } from "fast-xml-parser";

type Attrs = Record<string, string | undefined>;

export interface OpInfo {
  name: string;
  intervalMs: number;
  timeoutMs?: number;
  role?: string;
  onFail?: string;
}

export interface PrimitiveInfo {
  id: string;
  class: string;
  provider?: string;
  type: string;
  /** The top-level resource: itself, its group or its clone. */
  top: string;
  group?: string;
  clone?: string;
  ops: OpInfo[];
  meta: Record<string, string>;
}

export interface TopInfo {
  id: string;
  kind: "primitive" | "group" | "clone";
  primitives: string[];
  promotable: boolean;
  meta: Record<string, string>;
  stonith: boolean;
}

export interface ColocationPair {
  id: string;
  dependent: string;
  primary: string;
  score: string;
  dependentRole?: string;
  primaryRole?: string;
  /** false when the direction inside a sequential set is not asserted (only "same node" is). */
  directed: boolean;
}

export interface OrderPair {
  id: string;
  first: string;
  then: string;
  firstAction: string;
  thenAction: string;
  kind: string;
}

export interface LocationBan {
  id: string;
  rsc: string;
  node: string;
  score: string;
  role?: string;
}

export interface CibInfo {
  nodes: { id: string; uname: string }[];
  primitives: Map<string, PrimitiveInfo>;
  tops: Map<string, TopInfo>;
  colocations: ColocationPair[];
  orders: OrderPair[];
  locations: LocationBan[];
  properties: Record<string, string>;
  rscDefaults: Record<string, string>;
  opDefaults: Record<string, string>;
  /** Fencing levels per target, in index order (device lists). */
  fencing: Map<string, { index: number; devices: string[] }[]>;
  /** The schema the document names (validate-with), e.g. "pacemaker-3.9". */
  validateWith?: string;
}

const ARRAYS = new Set(["primitive", "group", "clone", "nvpair", "op", "rsc_colocation", "rsc_order", "rsc_location", "resource_set", "resource_ref", "node", "fencing-level", "meta_attributes", "instance_attributes", "cluster_property_set"]);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n, _jpath, _leaf, isAttribute) => !isAttribute && ARRAYS.has(n), parseAttributeValue: false });

type NvSet = { nvpair?: Attrs[] };
type RawPrimitive = Attrs & { meta_attributes?: NvSet[]; operations?: { op?: Attrs[] } };
type RawGroup = Attrs & { primitive?: RawPrimitive[]; meta_attributes?: NvSet[] };
type RawClone = Attrs & { primitive?: RawPrimitive[]; group?: RawGroup[]; meta_attributes?: NvSet[] };
type RawSet = Attrs & { resource_ref?: Attrs[] };

const nv = (sets: NvSet[] | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const s of sets ?? []) for (const p of s.nvpair ?? []) if (p.name) out[p.name] = p.value ?? "";
  return out;
};

/** Pacemaker durations: "10s", "10", "1min", "500ms" -> ms. */
export function durationMs(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const factor = unit.startsWith("ms") ? 1 : unit === "s" || unit === "sec" ? 1000 : unit.startsWith("m") ? 60000 : 3600000;
  return Math.round(n * factor);
}

function primitiveInfo(p: RawPrimitive, top: string, group?: string, clone?: string): PrimitiveInfo {
  return {
    id: p.id ?? "",
    class: p.class ?? "",
    provider: p.provider,
    type: p.type ?? "",
    top,
    group,
    clone,
    meta: nv(p.meta_attributes),
    ops: (p.operations?.op ?? []).map((o) => ({
      name: o.name ?? "",
      intervalMs: durationMs(o.interval) ?? 0,
      timeoutMs: durationMs(o.timeout),
      role: o.role,
      onFail: o["on-fail"],
    })),
  };
}

export function parseCib(xml: string): CibInfo {
  const doc = parser.parse(xml) as { cib?: { configuration?: Record<string, unknown>; "validate-with"?: string } };
  const conf = doc.cib?.configuration;
  if (!conf) throw new Error("not a CIB: no <cib><configuration>");
  const primitives = new Map<string, PrimitiveInfo>();
  const tops = new Map<string, TopInfo>();
  const res = (conf.resources ?? {}) as { primitive?: RawPrimitive[]; group?: RawGroup[]; clone?: RawClone[] };
  for (const p of res.primitive ?? []) {
    const info = primitiveInfo(p, p.id ?? "");
    primitives.set(info.id, info);
    tops.set(info.id, { id: info.id, kind: "primitive", primitives: [info.id], promotable: false, meta: info.meta, stonith: info.class === "stonith" });
  }
  for (const g of res.group ?? []) {
    const ids = (g.primitive ?? []).map((p) => {
      const info = primitiveInfo(p, g.id ?? "", g.id);
      primitives.set(info.id, info);
      return info.id;
    });
    tops.set(g.id ?? "", { id: g.id ?? "", kind: "group", primitives: ids, promotable: false, meta: nv(g.meta_attributes), stonith: false });
  }
  for (const c of res.clone ?? []) {
    const cid = c.id ?? "";
    const ids: string[] = [];
    for (const p of c.primitive ?? []) {
      const info = primitiveInfo(p, cid, undefined, cid);
      primitives.set(info.id, info);
      ids.push(info.id);
    }
    for (const g of c.group ?? []) {
      for (const p of g.primitive ?? []) {
        const info = primitiveInfo(p, cid, g.id, cid);
        primitives.set(info.id, info);
        ids.push(info.id);
      }
    }
    const meta = nv(c.meta_attributes);
    tops.set(cid, { id: cid, kind: "clone", primitives: ids, promotable: meta.promotable === "true", meta, stonith: false });
  }

  const cons = (conf.constraints ?? {}) as { rsc_colocation?: (Attrs & { resource_set?: RawSet[] })[]; rsc_order?: (Attrs & { resource_set?: RawSet[] })[]; rsc_location?: Attrs[] };
  const colocations: ColocationPair[] = [];
  for (const c of cons.rsc_colocation ?? []) {
    const score = c.score ?? "0";
    if (c.rsc && c["with-rsc"]) {
      colocations.push({ id: c.id ?? "", dependent: c.rsc, primary: c["with-rsc"], score, dependentRole: c["rsc-role"], primaryRole: c["with-rsc-role"], directed: true });
      continue;
    }
    const sets = c.resource_set ?? [];
    sets.forEach((s, i) => {
      const refs = (s.resource_ref ?? []).map((r) => r.id ?? "");
      // Inside a sequential set every member is colocated with its neighbour; which way round is not asserted.
      if (s.sequential !== "false") for (let k = 1; k < refs.length; k++) colocations.push({ id: c.id ?? "", dependent: refs[k]!, primary: refs[k - 1]!, score, directed: false });
      const next = sets[i + 1];
      if (next) {
        for (const d of refs) for (const p of next.resource_ref ?? []) colocations.push({ id: c.id ?? "", dependent: d, primary: p.id ?? "", score, dependentRole: s.role, primaryRole: next.role, directed: true });
      }
    });
  }
  const orders: OrderPair[] = [];
  for (const o of cons.rsc_order ?? []) {
    const kind = o.kind ?? (o.score === "0" ? "Optional" : "Mandatory");
    if (o.first && o.then) {
      orders.push({ id: o.id ?? "", first: o.first, then: o.then, firstAction: o["first-action"] ?? "start", thenAction: o["then-action"] ?? o["first-action"] ?? "start", kind });
      continue;
    }
    const sets = o.resource_set ?? [];
    sets.forEach((s, i) => {
      const refs = (s.resource_ref ?? []).map((r) => r.id ?? "");
      const action = s.action ?? "start";
      if (s.sequential !== "false") for (let k = 1; k < refs.length; k++) orders.push({ id: o.id ?? "", first: refs[k - 1]!, then: refs[k]!, firstAction: action, thenAction: action, kind });
      const next = sets[i + 1];
      if (next) for (const f of refs) for (const t of next.resource_ref ?? []) orders.push({ id: o.id ?? "", first: f, then: t.id ?? "", firstAction: action, thenAction: next.action ?? "start", kind });
    });
  }
  const locations: LocationBan[] = (cons.rsc_location ?? []).filter((l) => l.rsc && l.node).map((l) => ({ id: l.id ?? "", rsc: l.rsc!, node: l.node!, score: l.score ?? "0", role: l.role }));

  const crm = (conf.crm_config ?? {}) as { cluster_property_set?: NvSet[] };
  const fencing = new Map<string, { index: number; devices: string[] }[]>();
  for (const l of ((conf["fencing-topology"] ?? {}) as { "fencing-level"?: Attrs[] })["fencing-level"] ?? []) {
    const list = fencing.get(l.target ?? "") ?? [];
    list.push({ index: Number(l.index), devices: (l.devices ?? "").split(",").filter(Boolean) });
    fencing.set(l.target ?? "", list.sort((a, b) => a.index - b.index));
  }
  return {
    nodes: ((conf.nodes as { node?: Attrs[] } | undefined)?.node ?? []).map((n) => ({ id: n.id ?? "", uname: n.uname ?? "" })),
    primitives,
    tops,
    colocations,
    orders,
    locations,
    properties: nv(crm.cluster_property_set),
    rscDefaults: nv((conf.rsc_defaults as { meta_attributes?: NvSet[] } | undefined)?.meta_attributes),
    opDefaults: nv((conf.op_defaults as { meta_attributes?: NvSet[] } | undefined)?.meta_attributes),
    fencing,
    validateWith: doc.cib?.["validate-with"],
  };
}

/** migration-threshold of a primitive: its own meta, its group's or clone's, then rsc_defaults (Pacemaker's default: 1000000). */
export function migrationThreshold(cib: CibInfo, primitiveId: string): number {
  const p = cib.primitives.get(primitiveId);
  const v = p?.meta["migration-threshold"] ?? (p ? cib.tops.get(p.top)?.meta["migration-threshold"] : undefined) ?? cib.rscDefaults["migration-threshold"];
  if (v === undefined) return 1000000;
  return v === "INFINITY" ? 1000000 : Number(v);
}
