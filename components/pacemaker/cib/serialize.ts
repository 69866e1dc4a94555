// Serializes a CibModel into one CIB document with an XML library (never by concatenation).
// Reasons become XML comments next to what they explain, so a preview diff of the CIB says why.
import { XMLBuilder } from "fast-xml-parser";
import {
  CibFragment,
  CibModel,
  CibResource,
  Constraint,
  Group,
  Op,
  Primitive,
  ResourceSetRef,
  Tunable,
  resourceIds,
} from "./model";

/**
 * Pacemaker 2.1 (Debian 12, what the guests run) validates against pacemaker-3.9. No
 * crm_feature_set: the cluster stamps its own, and a newer one makes crm_simulate abort.
 */
export const CIB_SCHEMA = "pacemaker-3.9";

type Node = Record<string, unknown>;
const el = (tag: string, attrs: Record<string, string | number | boolean | undefined> = {}, children: Node[] = []): Node => {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[`@_${k}`] = String(v);
  return Object.keys(a).length > 0 ? { [tag]: children, ":@": a } : { [tag]: children };
};
const comment = (text: string): Node => ({ "#comment": [{ "#text": ` ${text} ` }] });

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  format: true,
  indentBy: "  ",
  suppressEmptyNode: true,
  commentPropName: "#comment",
});

export class CibModelError extends Error {
  constructor(readonly problems: string[]) {
    super(`CIB model is inconsistent:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CibModelError";
  }
}

/** ids unique across the document; constraints and fencing levels name existing things. */
export function checkModel(model: CibModel): void {
  const problems: string[] = [];
  const owner = new Map<string, string>();
  const claim = (id: string, where: string) => {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(id)) problems.push(`${where}: id "${id}" is not a valid XML id`);
    const prior = owner.get(id);
    if (prior) problems.push(`${where}: id "${id}" is already used by ${prior}`);
    else owner.set(id, where);
  };
  const resources = new Set<string>();
  const stonith = new Set<string>();
  for (const f of model.fragments) {
    for (const r of f.resources) {
      for (const id of resourceIds(r)) {
        claim(id, `${f.source} resource ${id}`);
        resources.add(id);
      }
      if (r.kind === "primitive" && r.class === "stonith") stonith.add(r.id);
    }
  }
  const unames = new Set(model.nodes.map((n) => n.uname));
  for (const f of model.fragments) {
    for (const c of f.constraints) {
      claim(c.id, `${f.source} constraint ${c.id}`);
      const refs: string[] = [];
      if (c.kind === "location") refs.push(c.rsc);
      else if (c.sets) c.sets.forEach((s) => (claim(s.id, `${f.source} resource set ${s.id}`), refs.push(...s.resources)));
      else if (c.kind === "colocation") refs.push(c.rsc ?? "", c.withRsc ?? "");
      else refs.push(c.first ?? "", c.then ?? "");
      for (const ref of refs) if (!resources.has(ref)) problems.push(`${f.source} constraint ${c.id}: names unknown resource "${ref}"`);
      if (c.kind === "location" && !unames.has(c.node)) problems.push(`${f.source} constraint ${c.id}: names unknown node "${c.node}"`);
    }
    for (const l of f.fencingLevels ?? []) {
      if (!unames.has(l.target)) problems.push(`${f.source} fencing level ${l.index} for "${l.target}": unknown node`);
      for (const d of l.devices) if (!stonith.has(d)) problems.push(`${f.source} fencing level ${l.index} for "${l.target}": "${d}" is not a stonith resource`);
    }
  }
  if (problems.length > 0) throw new CibModelError(problems);
}

function nvset(tag: string, id: string, values: Record<string, Tunable | string> | undefined): Node[] {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return [];
  const children: Node[] = [];
  for (const [name, v] of entries) {
    const t = typeof v === "string" ? { value: v, reason: "" } : v;
    if (t.reason) children.push(comment(`${name}: ${t.reason}`));
    children.push(el("nvpair", { id: `${id}-${name}`, name, value: String(t.value) }));
  }
  return [el(tag, { id }, children)];
}

function op(p: Primitive, o: Op): Node[] {
  const role = o.role ? `-${o.role.toLowerCase()}` : "";
  const id = `${p.id}-${o.name}${role}-interval-${o.intervalS}s`;
  return [
    comment(`${o.name}${o.role ? ` (${o.role})` : ""}: ${o.reason}`),
    el("op", { id, name: o.name, interval: `${o.intervalS}s`, timeout: `${o.timeoutS}s`, role: o.role, "on-fail": o.onFail }),
  ];
}

function primitive(p: Primitive): Node[] {
  const children: Node[] = [
    ...nvset("instance_attributes", `${p.id}-instance_attributes`, p.params),
    ...nvset("meta_attributes", `${p.id}-meta_attributes`, p.meta),
  ];
  if (p.ops.length > 0) children.push(el("operations", {}, p.ops.flatMap((o) => op(p, o))));
  const out: Node[] = [];
  if (p.expectedStartS) out.push(comment(`${p.id} expected start ${p.expectedStartS.value}s: ${p.expectedStartS.reason}`));
  out.push(el("primitive", { id: p.id, class: p.class, provider: p.provider, type: p.type, description: p.description }, children));
  return out;
}

function group(g: Group): Node[] {
  return [el("group", { id: g.id }, [...nvset("meta_attributes", `${g.id}-meta_attributes`, g.meta), ...g.members.flatMap(primitive)])];
}

function resource(r: CibResource): Node[] {
  switch (r.kind) {
    case "primitive":
      return primitive(r);
    case "group":
      return group(r);
    case "clone": {
      const meta: Record<string, Tunable> = { ...(r.promotable ? { promotable: { value: "true", reason: "" } } : {}), ...r.meta };
      return [el("clone", { id: r.id }, [...nvset("meta_attributes", `${r.id}-meta_attributes`, meta), ...resource(r.child)])];
    }
  }
}

function resourceSet(s: ResourceSetRef): Node {
  return el(
    "resource_set",
    { id: s.id, sequential: s.sequential, "require-all": s.requireAll, role: s.role, action: s.action },
    s.resources.map((id) => el("resource_ref", { id })),
  );
}

function constraint(c: Constraint): Node[] {
  const why = comment(`${c.id}: ${c.reason}`);
  switch (c.kind) {
    case "colocation":
      return [why, el("rsc_colocation", { id: c.id, score: c.score, rsc: c.rsc, "with-rsc": c.withRsc, "rsc-role": c.rscRole, "with-rsc-role": c.withRscRole }, (c.sets ?? []).map(resourceSet))];
    case "order":
      return [why, el("rsc_order", { id: c.id, first: c.first, then: c.then, "first-action": c.firstAction, "then-action": c.thenAction, kind: c.orderKind, symmetrical: c.symmetrical }, (c.sets ?? []).map(resourceSet))];
    case "location":
      return [why, el("rsc_location", { id: c.id, rsc: c.rsc, node: c.node, score: c.score, role: c.role })];
  }
}

/** The whole CIB as XML text. Throws CibModelError on an inconsistent model. */
export function renderCib(model: CibModel): string {
  checkModel(model);
  const frags: CibFragment[] = model.fragments;
  const levels = frags.flatMap((f) => f.fencingLevels ?? []).sort((a, b) => a.target.localeCompare(b.target) || a.index - b.index);
  const configuration: Node[] = [
    el("crm_config", {}, nvset("cluster_property_set", "cib-bootstrap-options", model.properties)),
    el("nodes", {}, model.nodes.map((n) => el("node", { id: n.id, uname: n.uname }, nvset("instance_attributes", `nodes-${n.id}`, n.attributes)))),
    el("resources", {}, frags.flatMap((f) => [comment(`from the ${f.source} layer`), ...f.resources.flatMap(resource)])),
    el("constraints", {}, frags.flatMap((f) => f.constraints.flatMap(constraint))),
  ];
  if (levels.length > 0) {
    configuration.push(
      el(
        "fencing-topology",
        {},
        levels.flatMap((l) => [comment(`${l.target} level ${l.index}: ${l.reason}`), el("fencing-level", { id: `fl-${l.target}-${l.index}`, index: l.index, target: l.target, devices: l.devices.join(",") })]),
      ),
    );
  }
  configuration.push(
    el("rsc_defaults", {}, nvset("meta_attributes", "rsc-options", model.rscDefaults)),
    el("op_defaults", {}, nvset("meta_attributes", "op-options", model.opDefaults)),
  );
  const doc = [el("cib", { "validate-with": CIB_SCHEMA, epoch: 1, num_updates: 0, admin_epoch: 0 }, [el("configuration", {}, configuration), el("status")])];
  return builder.build(doc).trimStart();
}
