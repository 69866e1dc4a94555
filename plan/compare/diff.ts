// What a change does to the home: two plans (the base revision's and the work tree's) compared
// resource by resource, file by file, finding by finding and scenario by scenario. Pure: plan
// views in, a CompareResult out; rendering is in render.ts.
import { structuredPatch } from "diff";
import type { RecordedResource } from "../types";
import type { PlannedFile, PlanView, PolicyFinding, ScenarioView } from "./load";

/**
 * Inputs whose change makes the engine replace the resource rather than update it, as far as
 * the providers let us establish it offline:
 * - @pulumi/command's SDK declares `replaceOnChanges: ["triggers[*]"]` on remote.Command,
 *   remote.CopyToRemote and local.Command (node_modules/@pulumi/command/remote/command.js);
 * - @pulumi/docker documents RemoteImage `triggers` as forcing a replacement;
 * - @pulumi/random: `keepers` "trigger recreation", and every other input of terraform-provider-random's
 *   resources is RequiresReplace (a random value is never updated in place).
 * Proxmox VmLegacy/Bond/Bridge force-new fields are decided by the provider at diff time and are
 * not listed: those resources are reported as changed, and `pulumi preview` tells the rest.
 */
export function replaceKeys(type: string, keys: string[]): string[] {
  if (type === "command:remote:Command" || type === "command:remote:CopyToRemote" || type === "command:local:Command") return keys.filter((k) => k === "triggers");
  if (type === "docker:index/remoteImage:RemoteImage") return keys.filter((k) => k === "triggers");
  if (type.startsWith("random:")) return keys;
  return [];
}

export type ResourceChangeKind = "added" | "deleted" | "changed" | "replaced";

export interface ResourceChange {
  kind: ResourceChangeKind;
  urn: string;
  type: string;
  name: string;
  /** changed/replaced: top-level inputs that differ. */
  keys: string[];
  /** replaced: the inputs that force it. */
  replaceKeys: string[];
}

export type FileChangeKind = "added" | "deleted" | "changed";

export interface FileChange {
  kind: FileChangeKind;
  path: string;
  /** Hosts with this exact change (the same patch on several hosts is shown once). */
  hosts: string[];
  secret: boolean;
  /** Unified diff hunks (no file header); absent for a secret file. */
  patch?: string;
  added: number;
  removed: number;
}

export interface WaiverView {
  index: number;
  policy: string;
  target: string;
  reason: string;
}

export interface PolicyChanges {
  newViolations: PolicyFinding[];
  resolvedViolations: PolicyFinding[];
  newlyWaived: PolicyFinding[];
  noLongerWaived: PolicyFinding[];
  newWaivers: WaiverView[];
  removedWaivers: WaiverView[];
  /** Waivers of the work tree that match nothing (and matched something before, or are new). */
  staleWaivers: WaiverView[];
  statusChanges: { rule: string; level: string; before?: string; after?: string }[];
  newPlanProblems: string[];
}

export interface ScenarioChange {
  kind: "added" | "removed" | "changed";
  id: string;
  title: string;
  before?: ScenarioView;
  after?: ScenarioView;
  /** What changed, e.g. "result ok -> WRONG", "total 80s -> 95s". */
  what: string[];
}

export interface CompareResult {
  resources: ResourceChange[];
  files: FileChange[];
  policy: PolicyChanges;
  scenarios: ScenarioChange[];
  /** The work tree's plan is unsafe (policy failure or a scenario ending wrong). */
  unsafe: boolean;
  /** The base was safe (or had no plan) and the work tree is not. */
  newlyUnsafe: boolean;
}

/** JSON with sorted keys: two recordings of the same value compare equal whatever their key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

function resourceChanges(before: RecordedResource[], after: RecordedResource[]): ResourceChange[] {
  const old = new Map(before.map((r) => [r.urn, r]));
  const now = new Map(after.map((r) => [r.urn, r]));
  const out: ResourceChange[] = [];
  for (const r of after) {
    const o = old.get(r.urn);
    if (!o) {
      out.push({ kind: "added", urn: r.urn, type: r.type, name: r.name, keys: [], replaceKeys: [] });
      continue;
    }
    const keys = [...new Set([...Object.keys(o.inputs), ...Object.keys(r.inputs)])].filter((k) => canonical(o.inputs[k]) !== canonical(r.inputs[k])).sort();
    if (keys.length === 0) continue;
    const forcing = replaceKeys(r.type, keys);
    out.push({ kind: forcing.length > 0 ? "replaced" : "changed", urn: r.urn, type: r.type, name: r.name, keys, replaceKeys: forcing });
  }
  for (const o of before) if (!now.has(o.urn)) out.push({ kind: "deleted", urn: o.urn, type: o.type, name: o.name, keys: [], replaceKeys: [] });
  const order: Record<ResourceChangeKind, number> = { added: 0, replaced: 1, changed: 2, deleted: 3 };
  return out.sort((a, b) => order[a.kind] - order[b.kind] || a.urn.localeCompare(b.urn));
}

/** Hunks of a unified diff of two texts, with 3 lines of context, and the lines added and removed. */
export function unifiedDiff(a: string, b: string): { patch: string; added: number; removed: number } {
  const p = structuredPatch("a", "b", a, b, "", "", { context: 3 });
  const lines: string[] = [];
  let added = 0;
  let removed = 0;
  for (const h of p.hunks) {
    lines.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    for (const l of h.lines) {
      lines.push(l);
      if (l.startsWith("+")) added++;
      else if (l.startsWith("-")) removed++;
    }
  }
  return { patch: lines.join("\n"), added, removed };
}

function fileChanges(before: PlannedFile[], after: PlannedFile[]): FileChange[] {
  const key = (f: PlannedFile) => `${f.host}\0${f.path}`;
  const old = new Map(before.map((f) => [key(f), f]));
  const now = new Map(after.map((f) => [key(f), f]));
  const single: (FileChange & { host: string })[] = [];
  for (const f of after) {
    const o = old.get(key(f));
    if (o && o.content === f.content) continue;
    const kind: FileChangeKind = o ? "changed" : "added";
    const secret = f.secret || (o?.secret ?? false);
    if (secret) {
      single.push({ kind, path: f.path, host: f.host, hosts: [f.host], secret, added: 0, removed: 0 });
      continue;
    }
    single.push({ kind, path: f.path, host: f.host, hosts: [f.host], secret, ...unifiedDiff(o?.content ?? "", f.content) });
  }
  for (const o of before) {
    if (now.has(key(o))) continue;
    single.push({ kind: "deleted", path: o.path, host: o.host, hosts: [o.host], secret: o.secret, ...(o.secret ? { added: 0, removed: 0 } : unifiedDiff(o.content, "")) });
  }
  // The same change on several hosts (a file every member receives) is listed once, naming them all.
  const grouped = new Map<string, FileChange>();
  for (const c of single) {
    const k = canonical([c.kind, c.path, c.secret, c.patch ?? null]);
    const g = grouped.get(k);
    if (g) g.hosts.push(c.host);
    else grouped.set(k, { kind: c.kind, path: c.path, hosts: [c.host], secret: c.secret, patch: c.patch, added: c.added, removed: c.removed });
  }
  return [...grouped.values()].sort((a, b) => a.path.localeCompare(b.path) || a.hosts[0]!.localeCompare(b.hosts[0]!));
}

const findingKey = (f: PolicyFinding) => canonical([f.rule, f.subject, f.message]);

function minus(a: PolicyFinding[], b: PolicyFinding[]): PolicyFinding[] {
  const keys = new Set(b.map(findingKey));
  return a.filter((f) => !keys.has(findingKey(f)));
}

const waiverKey = (w: WaiverView) => canonical([w.policy, w.target, w.reason]);

function policyChanges(before: PlanView["policy"], after: PlanView["policy"]): PolicyChanges {
  const b = before ?? { ok: true, rules: [], violations: [], waived: [], waivers: [], planProblems: [] };
  const a = after ?? { ok: false, rules: [], violations: [], waived: [], waivers: [], planProblems: ["the plan wrote no policy report"] };
  const view = (w: WaiverView) => ({ index: w.index, policy: w.policy, target: w.target, reason: w.reason });
  const oldWaivers = new Map(b.waivers.map((w) => [waiverKey(w), w]));
  const newWaivers = new Set(a.waivers.map(waiverKey));
  const statusChanges: PolicyChanges["statusChanges"] = [];
  const oldRules = new Map(b.rules.map((r) => [r.name, r]));
  for (const r of a.rules) {
    const o = oldRules.get(r.name);
    if (!o || o.status !== r.status) statusChanges.push({ rule: r.name, level: r.level, before: o?.status, after: r.status });
  }
  for (const o of b.rules) if (!a.rules.some((r) => r.name === o.name)) statusChanges.push({ rule: o.name, level: o.level, before: o.status });
  return {
    newViolations: minus(a.violations, b.violations),
    resolvedViolations: minus(b.violations, a.violations),
    newlyWaived: minus(a.waived, b.waived),
    noLongerWaived: minus(b.waived, a.waived),
    newWaivers: a.waivers.filter((w) => !oldWaivers.has(waiverKey(w))).map(view),
    removedWaivers: b.waivers.filter((w) => !newWaivers.has(waiverKey(w))).map(view),
    staleWaivers: a.waivers.filter((w) => w.covers === 0 && (oldWaivers.get(waiverKey(w))?.covers ?? 1) > 0).map(view),
    statusChanges,
    newPlanProblems: a.planProblems.filter((p) => !b.planProblems.includes(p)),
  };
}

const secs = (s: number | undefined) => (s === undefined ? "-" : `${s}s`);

function scenarioChanges(before: ScenarioView[], after: ScenarioView[]): ScenarioChange[] {
  const old = new Map(before.map((s) => [s.id, s]));
  const out: ScenarioChange[] = [];
  for (const s of after) {
    const o = old.get(s.id);
    if (!o) {
      out.push({ kind: "added", id: s.id, title: s.title, after: s, what: [`new scenario: ${s.ok ? "ok" : "WRONG"}, total ${secs(s.totalS)}`] });
      continue;
    }
    const what: string[] = [];
    if (o.ok !== s.ok) what.push(`result ${o.ok ? "ok" : "WRONG"} -> ${s.ok ? "ok" : "WRONG"}`);
    for (const [label, k] of [["total", "totalS"], ["detection", "detectionS"], ["fencing", "fencingS"], ["starts", "startsS"]] as const) {
      if (o[k] !== s[k]) what.push(`${label} ${secs(o[k])} -> ${secs(s[k])}`);
    }
    const newProblems = s.problems.filter((p) => !o.problems.includes(p));
    if (newProblems.length > 0) what.push(...newProblems.map((p) => `new problem: ${p}`));
    if (what.length > 0) out.push({ kind: "changed", id: s.id, title: s.title, before: o, after: s, what });
  }
  for (const o of before) if (!after.some((s) => s.id === o.id)) out.push({ kind: "removed", id: o.id, title: o.title, before: o, what: ["scenario no longer simulated"] });
  return out;
}

/** Compare the base's plan (undefined: the base could not be planned) with the work tree's. */
export function comparePlans(before: PlanView | undefined, after: PlanView, unsafe: boolean, baseUnsafe: boolean): CompareResult {
  const b: PlanView = before ?? { resources: [], files: [], policy: undefined, scenarios: [] };
  return {
    resources: resourceChanges(b.resources, after.resources),
    files: fileChanges(b.files, after.files),
    policy: policyChanges(b.policy, after.policy),
    scenarios: scenarioChanges(b.scenarios, after.scenarios),
    unsafe,
    newlyUnsafe: unsafe && !baseUnsafe,
  };
}
