// Pacemaker's scheduler on the storage layer's CIB: the CIB as buildCibModel renders it (nodes,
// fencing, stonith enabled), a status section saying which members are up and what promotion
// score the DRBD agent would have set, then crm_simulate transitions until the cluster settles.
// crm_simulate runs no agent: the linbit agent's promotion scores (master-<rsc> attributes,
// set by crm_master on UpToDate diskful members) are what the test injects instead.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { buildCibModel } from "../../../components/pacemaker/cib/build";
import type { CibFragment } from "../../../components/pacemaker/cib/model";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { storageCibFragment } from "../../../components/storage";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";

type OrderedNode = Record<string, unknown> & { ":@"?: Record<string, string> };

const ordered = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: "@_", commentPropName: "#comment" } as const;
const orderedParser = new XMLParser(ordered);
const orderedBuilder = new XMLBuilder({ ...ordered, format: true, suppressEmptyNode: true });

const el = (tag: string, attrs: Record<string, string>, children: OrderedNode[] = []): OrderedNode => ({
  [tag]: children,
  ":@": Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`@_${k}`, v])),
});

/** The stack's CIB with only the storage layer (plus, optionally, test fragments) contributing. */
export function storageCib(c: HahaConfig, extra: CibFragment[] = []): string {
  return renderCib(buildCibModel(c, [storageCibFragment(c), ...extra]));
}

/**
 * The CIB with quorum and a status section: `online` members up, and the DRBD promotion score
 * the linbit agent would have set on each member in `promotion`.
 */
export function withStatus(cibXml: string, c: HahaConfig, online: string[], promotion: Record<string, number>): string {
  const doc = orderedParser.parse(cibXml) as OrderedNode[];
  const cib = doc.find((n) => "cib" in n);
  if (!cib) throw new Error("not a CIB document");
  cib[":@"] = { ...(cib[":@"] ?? {}), "@_have-quorum": "1" };
  const rsc = `drbd-${c.storage.drbd.resource}`;
  const states = clusterMembers(c)
    .filter((m) => online.includes(m.name))
    .map((m) => {
      const id = String(m.nodeId);
      const score = promotion[m.name];
      const attrs =
        score === undefined
          ? []
          : [el("transient_attributes", { id }, [el("instance_attributes", { id: `status-${id}` }, [el("nvpair", { id: `status-${id}-master-${rsc}`, name: `master-${rsc}`, value: String(score) })])])];
      return el("node_state", { id, uname: m.name, in_ccm: "true", crmd: "online", join: "member", expected: "member" }, attrs);
    });
  const children = cib.cib as OrderedNode[];
  const rest = children.filter((n) => !("status" in n));
  cib.cib = [...rest, el("status", {}, states)];
  return orderedBuilder.build(doc) as string;
}

const resultParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  isArray: (name, _jpath, _leaf, isAttribute) => !isAttribute && ["node", "resource", "clone", "group", "rsc_action", "node_action"].includes(name),
});

export interface SimAction {
  action: string;
  resource: string;
  node?: string;
  source?: string;
  dest?: string;
  role?: string;
  reason?: string;
  /** "true": the scheduler wants it but cannot do it yet (an unmet order or colocation). */
  blocked?: string;
}

export interface Placed {
  node: string;
  role: string;
}

export interface SimResult {
  /** crm_simulate's exit code: 0, or 1 when actions are blocked. */
  status: number;
  actions: SimAction[];
  /** Members the transition fences. */
  fenced: string[];
  /** Resource id (clone instances under their primitive id) -> where it runs after the transition. */
  placement: Map<string, Placed[]>;
  /** The CIB after the transition, to run the next one on. */
  next: string;
  text: string;
}

type RawResource = { id: string; role: string; active: string; node?: { name: string }[] };
type RawContainer = { resource?: RawResource[]; clone?: RawContainer[]; group?: RawContainer[] };

function collect(c: RawContainer | undefined, out: Map<string, Placed[]>): void {
  if (!c) return;
  for (const r of c.resource ?? []) {
    const list = out.get(r.id) ?? [];
    for (const n of r.node ?? []) list.push({ node: n.name, role: r.role });
    out.set(r.id, list);
  }
  for (const sub of [...(c.clone ?? []), ...(c.group ?? [])]) collect(sub, out);
}

/** One crm_simulate transition (with synthetic events such as --node-fail) on `cibXml`. */
export function simulate(cibXml: string, dir: string, events: string[] = []): SimResult {
  const input = path.join(dir, `in-${fs.readdirSync(dir).length}.xml`);
  const output = path.join(dir, `out-${fs.readdirSync(dir).length}.xml`);
  fs.writeFileSync(input, cibXml);
  const r = spawnSync("crm_simulate", ["-x", input, "-S", "--output-as=xml", "--save-output", output, ...events], { encoding: "utf8" });
  if (r.error) throw new Error(`crm_simulate could not run (install the Debian packages .ci/run installs): ${r.error.message}`);
  if (r.status !== 0 && r.status !== 1) throw new Error(`crm_simulate failed (${r.status}): ${r.stderr}`);
  const doc = resultParser.parse(r.stdout) as {
    "pacemaker-result": {
      actions?: { rsc_action?: SimAction[]; node_action?: { task: string; node: string }[] };
      revised_cluster_status?: { resources?: RawContainer };
    };
  };
  const res = doc["pacemaker-result"];
  const placement = new Map<string, Placed[]>();
  collect(res.revised_cluster_status?.resources, placement);
  return {
    status: r.status,
    actions: res.actions?.rsc_action ?? [],
    fenced: (res.actions?.node_action ?? []).filter((a) => a.task.startsWith("Fence")).map((a) => a.node),
    placement,
    next: fs.readFileSync(output, "utf8"),
    text: r.stdout,
  };
}

/** Transitions until nothing is left to do (at most `max`); returns the last. */
export function settle(cibXml: string, dir: string, max = 6): SimResult {
  let cur = cibXml;
  for (let i = 0; i < max; i++) {
    const r = simulate(cur, dir);
    if (r.actions.length === 0) return r;
    cur = r.next;
  }
  throw new Error(`the cluster did not settle within ${max} transitions`);
}

/** Members (sorted) where `id` runs, optionally in one role. */
export function nodesOf(r: SimResult, id: string, role?: string): string[] {
  return (r.placement.get(id) ?? [])
    .filter((p) => role === undefined || p.role === role)
    .map((p) => p.node)
    .sort();
}

/** The members an action touches (where it stops, starts, promotes, or moves from and to). */
export function actionNodes(a: SimAction): string[] {
  return [a.node, a.source, a.dest].filter((n): n is string => typeof n === "string");
}

/** Clone instance ids (`drbd-haha:1`) under their primitive id. */
export const baseId = (id: string) => id.replace(/:\d+$/, "");
