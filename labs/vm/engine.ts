// The deployment as Pulumi's engine would run it: every guest-side resource of the recorded plan
// (`command:remote:Command`, docker `RemoteImage` and `Tag` over ssh) in dependency order, each
// started as soon as everything it depends on is done (Pulumi runs independent resources in
// parallel), a failure stopping the rest. An engine state keeps each step's inputs, so a plain
// re-run executes only what changed, with @pulumi/command 1.x semantics: no input changed -> no
// run; `triggers` changed -> replace (delete, then create); any other input changed -> update
// (the `update` command, or `create` when none is given).
import type { RecordedResource } from "../../plan/types";

export const STEP_TYPES = new Set(["command:remote:Command", "command:local:Command", "docker:index/remoteImage:RemoteImage", "docker:index/tag:Tag"]);

/** The host name a `command:local:Command` runs on: the machine running Pulumi (here, the lab's). */
export const LOCAL = "local";

export interface Step {
  urn: string;
  type: string;
  name: string;
  /** The guest address it runs on (the connection's host, or the docker provider's ssh host). */
  host: string;
  port: number;
  user: string;
  inputs: Record<string, unknown>;
  /** URNs of the steps that must be done first. */
  after: string[];
  /** docker steps: the provider's own ssh options (host key pinning), as the docker CLI passes them to ssh. */
  sshOpts?: string[];
}

/** A component's dependencies hold for its children (they register after it), and a dependency on a component means all of its custom descendants. */
export function effectiveDependencies(resources: RecordedResource[]): Map<string, Set<string>> {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, string[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  const descendants = (urn: string): string[] => (children.get(urn) ?? []).flatMap((c) => (byUrn.get(c)?.custom ? [c, ...descendants(c)] : descendants(c)));
  const memo = new Map<string, Set<string>>();
  const deps = (urn: string, seen: Set<string> = new Set()): Set<string> => {
    const known = memo.get(urn);
    if (known) return known;
    if (seen.has(urn)) throw new Error(`dependency cycle through ${urn}`);
    seen.add(urn);
    const r = byUrn.get(urn);
    const out = new Set<string>();
    if (r) {
      for (const d of r.dependencies) {
        const dr = byUrn.get(d);
        if (!dr) continue;
        if (dr.custom) out.add(d);
        else for (const x of descendants(d)) out.add(x);
      }
      if (r.parent) for (const d of deps(r.parent, seen)) out.add(d);
    }
    memo.set(urn, out);
    return out;
  };
  const all = new Map<string, Set<string>>();
  for (const r of resources) all.set(r.urn, deps(r.urn));
  return all;
}

function connectionOf(r: RecordedResource, byUrn: Map<string, RecordedResource>): { host: string; port: number; user: string; sshOpts?: string[] } {
  if (r.type === "command:local:Command") return { host: LOCAL, port: 0, user: "" };
  if (r.type.startsWith("command:")) {
    const c = r.inputs.connection as { host?: string; port?: number; user?: string } | undefined;
    if (!c?.host) throw new Error(`${r.name}: no connection.host`);
    return { host: c.host, port: c.port ?? 22, user: c.user ?? "root" };
  }
  const p = r.provider ? byUrn.get(r.provider) : undefined;
  const m = /^ssh:\/\/(?:([^@]+)@)?([^:/]+)(?::(\d+))?/.exec(String(p?.inputs.host ?? ""));
  if (!m) throw new Error(`${r.name}: its docker provider has no ssh:// host (${String(p?.inputs.host)})`);
  let sshOpts: string[] | undefined;
  if (typeof p?.inputs.sshOpts === "string") {
    const parsed = JSON.parse(p.inputs.sshOpts) as unknown;
    if (!Array.isArray(parsed) || !parsed.every((o) => typeof o === "string")) throw new Error(`${r.name}: its docker provider's sshOpts is not a JSON list of strings`);
    sshOpts = parsed;
  } else if (Array.isArray(p?.inputs.sshOpts)) sshOpts = p.inputs.sshOpts as string[];
  return { host: m[2] as string, port: m[3] ? Number(m[3]) : 22, user: m[1] ?? "root", sshOpts };
}

/** The guest-side steps, each with the steps it must wait for (through non-step resources too). */
export function guestSteps(resources: RecordedResource[]): Step[] {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const eff = effectiveDependencies(resources);
  const isStep = (u: string) => STEP_TYPES.has(byUrn.get(u)?.type ?? "");
  const memo = new Map<string, Set<string>>();
  const stepDeps = (urn: string): Set<string> => {
    const known = memo.get(urn);
    if (known) return known;
    const out = new Set<string>();
    memo.set(urn, out);
    for (const d of eff.get(urn) ?? []) {
      if (isStep(d)) out.add(d);
      else for (const x of stepDeps(d)) out.add(x);
    }
    return out;
  };
  return resources
    .filter((r) => r.custom && STEP_TYPES.has(r.type))
    .map((r) => ({ urn: r.urn, type: r.type, name: r.name, ...connectionOf(r, byUrn), inputs: r.inputs, after: [...stepDeps(r.urn)].sort() }));
}

/** A topological order (Kahn, ties by URN): waves of steps that may run at once. */
export function waves(steps: Step[]): Step[][] {
  const left = new Map(steps.map((s) => [s.urn, s]));
  const done = new Set<string>();
  const out: Step[][] = [];
  while (left.size > 0) {
    const ready = [...left.values()].filter((s) => s.after.every((d) => done.has(d))).sort((a, b) => a.urn.localeCompare(b.urn));
    if (ready.length === 0) throw new Error(`dependency cycle among: ${[...left.keys()].slice(0, 5).join(", ")}`);
    for (const s of ready) {
      left.delete(s.urn);
      done.add(s.urn);
    }
    out.push(ready);
  }
  return out;
}

export type Action = "create" | "update" | "replace" | "same";

/** Stable JSON (sorted keys) to compare inputs. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}

/** What Pulumi would do with a step given its inputs in the last state. */
export function actionFor(step: Step, old: Record<string, unknown> | undefined): Action {
  if (!old) return "create";
  if (canonical(old) === canonical(step.inputs)) return "same";
  const isCommand = step.type.startsWith("command:");
  if (isCommand && canonical(old.triggers) !== canonical(step.inputs.triggers)) return "replace";
  // docker: a changed image name (RemoteImage) or source/target (Tag) replaces it; either way the pull or tag runs again.
  if (!isCommand) return "replace";
  return "update";
}

/** The shell command a step runs on its guest for an action, and its stdin. */
export function commandFor(step: Step, action: Exclude<Action, "same">, old?: Record<string, unknown>): { script: string; stdin?: string }[] {
  const i = step.inputs;
  switch (step.type) {
    case "command:remote:Command":
    case "command:local:Command": {
      const out: { script: string; stdin?: string }[] = [];
      if (action === "replace" && typeof old?.delete === "string" && old.delete) out.push({ script: old.delete });
      const script = action === "update" && typeof i.update === "string" && i.update ? i.update : i.create;
      if (typeof script === "string" && script) out.push({ script, stdin: typeof i.stdin === "string" ? i.stdin : undefined });
      return out;
    }
    case "docker:index/remoteImage:RemoteImage":
      return [{ script: `docker pull ${shq(String(i.name))} >/dev/null && docker image inspect --format '{{.Id}}' ${shq(String(i.name))}` }];
    case "docker:index/tag:Tag":
      return [{ script: `docker tag ${shq(String(i.sourceImage))} ${shq(String(i.targetImage))}` }];
    default:
      throw new Error(`${step.name}: the lab cannot run a ${step.type}`);
  }
}

export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Whether a step's output may be shown (command's `logging`; docker steps print nothing secret). */
export function outputShown(step: Step): { stdout: boolean; stderr: boolean } {
  const l = String(step.inputs.logging ?? "stdoutAndStderr");
  return { stdout: l === "stdout" || l === "stdoutAndStderr", stderr: l === "stderr" || l === "stdoutAndStderr" };
}
