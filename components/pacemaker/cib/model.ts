// The typed CIB: one document, contributed to by every layer as fragments, serialized whole.
// Every tunable carries its reason, so docs and reviewers see why a number is what it is.

/** A value with the reason it was chosen. */
export interface Tunable<T = string | number | boolean> {
  value: T;
  reason: string;
}

export type Role = "Promoted" | "Unpromoted" | "Started" | "Stopped";
export type Action = "start" | "stop" | "promote" | "demote";

export interface Op {
  name: "monitor" | "start" | "stop" | "promote" | "demote" | "notify" | "migrate_to" | "migrate_from";
  /** Seconds; 0 for non-recurring operations. */
  intervalS: number;
  timeoutS: number;
  role?: Role;
  onFail?: "ignore" | "block" | "stop" | "restart" | "standby" | "fence" | "demote";
  /** Why this interval/timeout: e.g. "start timeout above the measured 45 s boot". */
  reason: string;
}

export interface Primitive {
  kind: "primitive";
  id: string;
  class: "ocf" | "stonith" | "systemd" | "lsb" | "service";
  provider?: string;
  type: string;
  /** Agent parameters (instance_attributes), checked against the agent's metadata in tests. */
  params: Record<string, string>;
  meta?: Record<string, Tunable>;
  ops: Op[];
  description?: string;
  /**
   * Seconds from `start` to the application answering its monitor, as declared in config.
   * The failover budget sums these along the slowest dependency chain.
   */
  expectedStartS?: Tunable<number>;
}

export interface Group {
  kind: "group";
  id: string;
  members: Primitive[];
  meta?: Record<string, Tunable>;
}

export interface Clone {
  kind: "clone";
  id: string;
  child: Primitive | Group;
  /** Promotable clone (the DRBD pattern): `promotable=true` meta. */
  promotable?: boolean;
  meta?: Record<string, Tunable>;
}

export type CibResource = Primitive | Group | Clone;

export interface ResourceSetRef {
  id: string;
  resources: string[];
  /** false: members of the set are independent of each other (they start in parallel). */
  sequential?: boolean;
  requireAll?: boolean;
  role?: Role;
  action?: Action;
}

export interface Colocation {
  kind: "colocation";
  id: string;
  /** score in Pacemaker terms: "INFINITY", "-INFINITY" or an integer string. */
  score: string;
  rsc?: string;
  withRsc?: string;
  rscRole?: Role;
  withRscRole?: Role;
  /** Resource sets instead of rsc/withRsc (Pacemaker: every set colocated with the next). */
  sets?: ResourceSetRef[];
  reason: string;
}

export interface Order {
  kind: "order";
  id: string;
  first?: string;
  then?: string;
  firstAction?: Action;
  thenAction?: Action;
  /** Mandatory (default), Optional or Serialize. */
  orderKind?: "Mandatory" | "Optional" | "Serialize";
  symmetrical?: boolean;
  /** Resource sets instead of first/then (each set ordered before the next). */
  sets?: ResourceSetRef[];
  reason: string;
}

export interface Location {
  kind: "location";
  id: string;
  rsc: string;
  node: string;
  score: string;
  role?: Role;
  reason: string;
}

export type Constraint = Colocation | Order | Location;

export interface FencingLevel {
  /** 1 is tried first. */
  index: number;
  /** The node (uname) this level fences. */
  target: string;
  /** Stonith primitive ids; all of them must succeed for the level to succeed. */
  devices: string[];
  reason: string;
}

/** What a layer contributes to the one CIB. */
export interface CibFragment {
  /** Layer that contributed it, for error messages ("storage", "services", ...). */
  source: string;
  resources: CibResource[];
  constraints: Constraint[];
  fencingLevels?: FencingLevel[];
}

export interface CibNode {
  /** Corosync nodeid; Pacemaker uses it as the node's id. */
  id: number;
  uname: string;
  attributes?: Record<string, string>;
}

export interface CibModel {
  nodes: CibNode[];
  /** cib-bootstrap-options. */
  properties: Record<string, Tunable>;
  rscDefaults: Record<string, Tunable>;
  opDefaults: Record<string, Tunable>;
  fragments: CibFragment[];
}

/** Every resource id in a tree (clones and groups include their children). */
export function resourceIds(r: CibResource): string[] {
  switch (r.kind) {
    case "primitive":
      return [r.id];
    case "group":
      return [r.id, ...r.members.map((m) => m.id)];
    case "clone":
      return [r.id, ...resourceIds(r.child)];
  }
}

/** Every primitive in a tree. */
export function primitives(r: CibResource): Primitive[] {
  switch (r.kind) {
    case "primitive":
      return [r];
    case "group":
      return r.members;
    case "clone":
      return primitives(r.child);
  }
}
