// One reader of `crm_mon --output-as=xml` for both labs: what the cluster itself says about its
// members, quorum, resource instances and failed actions.
import { XMLParser } from "fast-xml-parser";

/** One resource instance as crm_mon lists it (a clone lists one per member it runs on). */
export interface CrmInstance {
  id: string;
  /** The top-level id the instance belongs to: the clone, the group, or the primitive itself. */
  top: string;
  /** The group it is a member of (inside a cloned group too). */
  group?: string;
  role: string;
  active: boolean;
  failed: boolean;
  nodes: string[];
}

export interface CrmMon {
  online: string[];
  dc?: string;
  quorate: boolean;
  standby: string[];
  unclean: string[];
  instances: CrmInstance[];
  /** The failed operations crm_mon lists ("op on node: reason"). */
  failedOps: string[];
  /** The resources those failed operations belong to (op_key without its _<task>_<interval>). */
  failedResources: string[];
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["node", "resource", "clone", "group", "failure"].includes(n) });

type El = Record<string, unknown>;
const list = (x: unknown, k: string): El[] => ((x as El | undefined)?.[k] ?? []) as El[];

/** crm_mon's XML (anything printed before it is skipped); undefined when it printed none (no cluster to ask). */
export function parseCrmMon(out: string): CrmMon | undefined {
  const start = out.indexOf("<pacemaker-result");
  if (start < 0) return undefined;
  const res = (parser.parse(out.slice(start)) as Record<string, El | undefined>)["pacemaker-result"];
  if (!res) return undefined;
  const dc = (res.summary as Record<string, Record<string, string> | undefined> | undefined)?.current_dc;
  const nodes = list(res.nodes, "node") as Record<string, string>[];
  const instances: CrmInstance[] = [];
  const primitive = (x: El, top: string, group?: string) =>
    instances.push({ id: String(x.id), top, group, role: String(x.role), active: x.active === "true", failed: x.failed === "true", nodes: list(x, "node").map((n) => String(n.name)) });
  const groups = (x: El, top?: string) => {
    for (const g of list(x, "group")) for (const p of list(g, "resource")) primitive(p, top ?? String(g.id), String(g.id));
  };
  const failures = list(res.failures, "failure") as Record<string, string>[];
  const resources = (res.resources ?? {}) as El;
  for (const p of list(resources, "resource")) primitive(p, String(p.id));
  groups(resources);
  for (const c of list(resources, "clone")) {
    for (const p of list(c, "resource")) primitive(p, String(c.id));
    groups(c, String(c.id));
  }
  return {
    online: nodes.filter((n) => n.online === "true").map((n) => n.name!),
    dc: dc?.name,
    quorate: dc?.with_quorum === "true",
    standby: nodes.filter((n) => n.standby === "true").map((n) => n.name!),
    unclean: nodes.filter((n) => n.unclean === "true").map((n) => n.name!),
    instances,
    failedOps: failures.map((f) => `${f.op_key ?? f.id ?? "?"} on ${f.node ?? "?"}: ${f.exitreason || f.exitstatus || f.status || "?"}`),
    failedResources: [...new Set(failures.flatMap((f) => (f.op_key && f.task ? [f.op_key.replace(new RegExp(`_${f.task}_${f.interval ?? 0}$`), "")] : [])))],
  };
}

/** Roles in which an instance is running (crm_mon < 2.1 said Master/Slave). */
export const RUNNING_ROLES = ["Started", "Promoted", "Unpromoted", "Master", "Slave"];
export const isPromoted = (i: CrmInstance): boolean => i.role === "Promoted" || i.role === "Master";
