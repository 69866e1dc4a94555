// Plan step 5 (DESIGN.md section 3): simulate failures with Pacemaker's own scheduler on the
// rendered CIB and check that each ends as it must. Scenarios: all members up; each member
// failing (fenced, everything on survivors, order respected); the majority failing (nothing
// starts, nothing is fenced); a failed member returning (nothing fails back); a monitor failure
// of each resource (restart in place, move after migration-threshold); each member in standby.
// Each scenario gets expected vs simulated placement, its actions in order and its recovery-time
// budget in build/<stack>/failover/. Expectations are derived from the CIB's own constraints and
// from whatever resources it holds, never from a list of service names.
import * as crypto from "node:crypto";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { fencingPlan } from "../components/pacemaker/cib/fencing";
import { type CibModel, primitives as primitivesOf } from "../components/pacemaker/cib/model";
import { renderCib } from "../components/pacemaker/cib/serialize";
import { corosyncTiming, MEMBERSHIP_FORMATION } from "../stacks/config/cluster";
import { clusterMembers } from "../stacks/config/members";
import type { HahaConfig } from "../stacks/config/schema";
import { criticalPath, rejoinProbes, returnMidMove, type ChainLink, type Duration, type Durations, type ReturnMidMove } from "./simulate-budget";
import { type CibInfo, durationMs, migrationThreshold, parseCib, type OpInfo, type PrimitiveInfo } from "./simulate-cib";
import {
  type ClusterState,
  crmVerify,
  describeStep,
  featureSet,
  pacemakerVersion,
  type GraphAction,
  type Instance,
  setNodeAttribute,
  setTransientAttribute,
  setValidateWith,
  type Simulation,
  simulate,
  stampFeatureSet,
  ToolError,
  withToolRunner,
} from "./simulate";
import { addToolCounts, mark, type Timing } from "./timing";
import type { PlanContext, StepResult } from "./types";

/**
 * The stack's CIB model, loaded on first use: its module pulls in every component (and the Pulumi
 * SDK), which the simulation worker (failover-worker.ts) never needs since it is handed the model.
 */
async function stackCibModel(config: HahaConfig): Promise<CibModel> {
  return (await import("../components/pacemaker/cib/stack")).stackCibModel(config);
}

/** Targets from the issue: benchmark output of the plan, reported, not enforced as scenario failures. */
export const TARGETS = { detectionS: 10, memberFailureS: 90 } as const;

export type ScenarioKind = "all-up" | "member-fail" | "member-return" | "quorum-loss" | "monitor-failure" | "migration-threshold" | "standby";

export interface Budget {
  detectionS: number;
  detectionNote: string;
  fencingS: number;
  /** Seconds of the transition's slowest chain after fencing (the starts that matter). */
  startsS: number;
  chain: ChainLink[];
  totalS: number;
  /** member-fail only: the same failure when only the guest died and fence_pve works. */
  guestOnly?: { fencingS: number; totalS: number; chain: ChainLink[]; returnMidMove?: ReturnMidMove & { totalS: number } };
  /**
   * monitor-failure only: the same failure when the application hangs (its process alive, not
   * answering): the monitor fails only when its probe gives up (at the latest the monitor's
   * timeout), and the stop waits out the whole grace before the kill (at most its timeout).
   */
  hung?: { detectionS: number; detectionNote: string; stopS: number; stopNote: string; totalS: number; chain: ChainLink[] };
  targetS?: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  kind: ScenarioKind;
  ok: boolean;
  problems: string[];
  /** Resource -> what must be true afterwards. */
  expected: Record<string, string>;
  /** Resource -> where the scheduler put it. */
  simulated: Record<string, string>;
  fenced: string[];
  /** The transition's actions in execution order. */
  actions: string[];
  budget?: Budget;
  /** crm_simulate's command line (paths relative to the scenario's working directory). */
  command: string;
}

export interface FailoverReport {
  ok: boolean;
  scenarios: ScenarioResult[];
  /** The short table the plan prints. */
  summary: string[];
  /** One row per scenario (summary.txt). */
  table: string[];
  detectionS: number;
  worstMemberFailureS?: number;
}

interface Env {
  config: HahaConfig;
  /** Primitives each primitive is (transitively) ordered after: it cannot serve before they do. */
  ancestors: Map<string, Set<string>>;
  cib: CibInfo;
  members: string[];
  stonith: boolean;
  watchdog: boolean;
  workDir: string;
  durations: (fence: (node: string) => Duration) => Durations;
  hostLostFence: (node: string) => Duration;
  /** Some fencing level of the member works when its host is gone. */
  fenceSurvivesHostLoss: (node: string) => boolean;
  guestOnlyFence: (node: string) => Duration;
  detection: Duration;
  /** The shortcuts of simulateScenarios (SimulateOptions.shortcuts). */
  shortcuts: boolean;
}

// ---------------------------------------------------------------------------------------------
// state helpers

const ACTIVE = new Set(["Started", "Promoted", "Unpromoted", "Starting"]);
const active = (i: Instance) => i.node !== undefined && ACTIVE.has(i.role);

/** Active instances of a top-level resource or of one primitive. */
function instancesOf(cib: CibInfo, state: ClusterState, id: string): Instance[] {
  const top = cib.tops.get(id);
  const prims = new Set(top ? top.primitives : [id]);
  return state.instances.filter((i) => prims.has(i.id) && (top ? i.top === id : true) && active(i));
}

const nodesOf = (cib: CibInfo, state: ClusterState, id: string) => [...new Set(instancesOf(cib, state, id).map((i) => i.node!))].sort();

function describeTop(cib: CibInfo, state: ClusterState, id: string): string {
  const inst = instancesOf(cib, state, id);
  if (inst.length === 0) return "Stopped";
  const top = cib.tops.get(id);
  if (top?.promotable) {
    const promoted = [...new Set(inst.filter((i) => i.role === "Promoted").map((i) => i.node!))].sort();
    return `on ${nodesOf(cib, state, id).join(", ")}; Promoted on ${promoted.join(", ") || "none"}`;
  }
  return `${top?.kind === "clone" ? "on" : "Started"} ${nodesOf(cib, state, id).join(", ")}`;
}

function simulatedPlacement(cib: CibInfo, state: ClusterState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of [...cib.tops.keys()].sort()) out[id] = describeTop(cib, state, id);
  return out;
}

/**
 * Members where a clone may run (or be promoted, with role): online, not in standby, not banned,
 * and where everything it is colocated with (INFINITY) runs in the role asked for.
 */
function cloneEligible(cib: CibInfo, state: ClusterState, cloneId: string, role?: string): string[] {
  const top = cib.tops.get(cloneId)!;
  const ids = new Set([cloneId, ...top.primitives]);
  const banned = new Set(cib.locations.filter((l) => ids.has(l.rsc) && l.score === "-INFINITY" && (l.role === undefined || l.role === role)).map((l) => l.node));
  let nodes = state.nodes.filter((n) => n.online && !n.standby && !n.unclean && !banned.has(n.name)).map((n) => n.name);
  for (const c of cib.colocations) {
    if (!c.directed || (c.score !== "INFINITY" && c.score !== "+INFINITY") || !ids.has(c.dependent)) continue;
    if (c.dependentRole !== undefined && c.dependentRole !== role) continue;
    const where = new Set(instancesOf(cib, state, c.primary).filter((i) => !c.primaryRole || i.role === c.primaryRole).map((i) => i.node));
    nodes = nodes.filter((n) => where.has(n));
  }
  return nodes;
}

function cloneCount(meta: Record<string, string>, key: string, alt: string, fallback: number): number {
  const v = meta[key] ?? meta[alt];
  return v === undefined ? fallback : Number(v);
}

// ---------------------------------------------------------------------------------------------
// generic checks (each returns problems; empty is fine)

function checkColocations(cib: CibInfo, state: ClusterState): string[] {
  const problems: string[] = [];
  for (const c of cib.colocations) {
    if (c.score !== "INFINITY" && c.score !== "+INFINITY") continue;
    const dep = instancesOf(cib, state, c.dependent).filter((i) => !c.dependentRole || i.role === c.dependentRole);
    const prim = instancesOf(cib, state, c.primary).filter((i) => !c.primaryRole || i.role === c.primaryRole);
    const primNodes = new Set(prim.map((i) => i.node));
    if (c.directed) {
      for (const d of dep) {
        if (!primNodes.has(d.node)) problems.push(`colocation ${c.id}: ${c.dependent} runs on ${d.node} but ${c.primary}${c.primaryRole ? ` (${c.primaryRole})` : ""} does not`);
      }
    } else if (dep.length > 0 && prim.length > 0 && !cib.tops.get(c.dependent)?.kind.startsWith("clone")) {
      const depNodes = new Set(dep.map((i) => i.node));
      if ([...depNodes].some((n) => !primNodes.has(n))) problems.push(`colocation ${c.id}: ${c.dependent} and ${c.primary} run on different members`);
    }
  }
  return problems;
}

function checkLocations(cib: CibInfo, state: ClusterState): string[] {
  const problems: string[] = [];
  for (const l of cib.locations) {
    if (l.score !== "-INFINITY") continue;
    const on = instancesOf(cib, state, l.rsc).filter((i) => i.node === l.node && (!l.role || i.role === l.role));
    if (on.length > 0) problems.push(`location ${l.id}: ${l.rsc} runs on ${l.node}, which it is banned from`);
  }
  return problems;
}

/** Mandatory orders in the final state: `then` active means `first` is active too. */
function checkOrdersFinal(cib: CibInfo, state: ClusterState): string[] {
  const problems: string[] = [];
  for (const o of cib.orders) {
    if (o.kind !== "Mandatory" || o.firstAction !== "start" || o.thenAction !== "start") continue;
    if (instancesOf(cib, state, o.then).length > 0 && instancesOf(cib, state, o.first).length === 0) {
      problems.push(`order ${o.id}: ${o.then} runs while ${o.first}, which must start first, does not`);
    }
  }
  return problems;
}

/** Mandatory orders in the transition: each `then` action waits (transitively) for each `first` action of this transition. */
function checkOrdersGraph(cib: CibInfo, graph: GraphAction[]): string[] {
  const problems: string[] = [];
  const byId = new Map(graph.map((a) => [a.id, a]));
  const ancestors = new Map<string, Set<string>>();
  const up = (id: string): Set<string> => {
    const known = ancestors.get(id);
    if (known) return known;
    const set = new Set<string>();
    ancestors.set(id, set);
    for (const i of byId.get(id)?.inputs ?? []) {
      set.add(i);
      for (const a of up(i)) set.add(a);
    }
    return set;
  };
  const prims = (id: string) => new Set(cib.tops.get(id)?.primitives ?? [id]);
  for (const o of cib.orders) {
    if (o.kind !== "Mandatory") continue;
    const fp = prims(o.first);
    const tp = prims(o.then);
    const firsts = graph.filter((a) => a.kind === "rsc_op" && a.operation === o.firstAction && a.resource && fp.has(a.resource));
    const thens = graph.filter((a) => a.kind === "rsc_op" && a.operation === o.thenAction && a.resource && tp.has(a.resource));
    const interleave = cib.tops.get(o.first)?.kind === "clone" && cib.tops.get(o.then)?.kind === "clone" && cib.tops.get(o.then)?.meta.interleave === "true";
    for (const t of thens) {
      const before = up(t.id);
      for (const f of firsts) {
        if (interleave && f.node !== t.node) continue;
        if (!before.has(f.id)) problems.push(`order ${o.id}: ${o.thenAction} ${t.resource} on ${t.node} does not wait for ${o.firstAction} ${f.resource} on ${f.node}`);
      }
    }
  }
  return problems;
}

function checkCommon(cib: CibInfo, sim: Simulation, allowBlocked = false): string[] {
  const problems = [...checkColocations(cib, sim.out.after), ...checkLocations(cib, sim.out.after), ...checkOrdersFinal(cib, sim.out.after), ...checkOrdersGraph(cib, sim.graph)];
  for (const i of sim.out.after.instances) if (i.failed) problems.push(`${i.id} is failed on ${i.node ?? "?"} after the transition`);
  if (!allowBlocked) {
    for (const a of sim.out.actions) if (a.blocked) problems.push(`blocked: ${a.action} ${a.resource ?? a.node ?? ""}${a.reason ? ` (${a.reason})` : ""}`);
    if (sim.out.code !== 0) problems.push(`crm_simulate exited ${sim.out.code}: the transition could not complete`);
  }
  return problems;
}

function checkFenced(sim: Simulation, expected: string[]): string[] {
  const got = [...sim.out.fenced].sort();
  const want = [...expected].sort();
  if (JSON.stringify(got) === JSON.stringify(want)) return [];
  return [`fenced ${got.length ? got.join(", ") : "nothing"}, expected ${want.length ? want.join(", ") : "nothing"}`];
}

/** Every top-level resource placed as it must be on the given state: primitives/groups once, clones on every eligible member. */
function checkAllPlaced(cib: CibInfo, state: ClusterState, expected: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const top of cib.tops.values()) {
    const inst = instancesOf(cib, state, top.id);
    const nodes = nodesOf(cib, state, top.id);
    if (top.kind === "clone") {
      const eligible = cloneEligible(cib, state, top.id);
      const max = cloneCount(top.meta, "clone-max", "clone-max", state.nodes.length);
      const want = Math.min(max, eligible.length);
      expected[top.id] ??= `on ${want === eligible.length ? eligible.join(", ") : `${want} of ${eligible.join(", ")}`}`;
      if (nodes.length !== want || nodes.some((n) => !eligible.includes(n))) problems.push(`${top.id}: expected on ${want} eligible member(s) (${eligible.join(", ")}), simulated ${describeTop(cib, state, top.id)}`);
      if (top.promotable) {
        const promotable = cloneEligible(cib, state, top.id, "Promoted").filter((n) => nodes.includes(n));
        const pmax = cloneCount(top.meta, "promoted-max", "master-max", 1);
        const pwant = Math.min(pmax, promotable.length);
        const promoted = new Set(inst.filter((i) => i.role === "Promoted").map((i) => i.node)).size;
        expected[top.id] += `; Promoted on ${pwant}`;
        if (promoted !== pwant) problems.push(`${top.id}: expected ${pwant} Promoted instance(s), simulated ${promoted}`);
      }
    } else {
      expected[top.id] ??= "Started on one member";
      if (nodes.length !== 1) problems.push(`${top.id}: expected Started on exactly one member, simulated ${describeTop(cib, state, top.id)}`);
      if (top.kind === "group" && new Set(inst.map((i) => i.id)).size !== top.primitives.length) problems.push(`${top.id}: not all group members run`);
    }
  }
  return problems;
}

function checkStayed(cib: CibInfo, before: ClusterState, after: ClusterState, exceptOn: string[], expected: Record<string, string>, includeStonith: boolean): string[] {
  const problems: string[] = [];
  for (const top of cib.tops.values()) {
    if (top.kind === "clone" || (top.stonith && !includeStonith)) continue;
    const was = nodesOf(cib, before, top.id);
    if (was.length === 0 || was.some((n) => exceptOn.includes(n))) continue;
    expected[top.id] = `stays on ${was.join(", ")}`;
    const now = nodesOf(cib, after, top.id);
    if (JSON.stringify(now) !== JSON.stringify(was)) problems.push(`${top.id}: moved from ${was.join(", ")} to ${now.join(", ") || "nowhere"}; it had no reason to`);
  }
  return problems;
}

function checkClonesKept(cib: CibInfo, before: ClusterState, after: ClusterState, gone: string[]): string[] {
  const problems: string[] = [];
  for (const top of cib.tops.values()) {
    if (top.kind !== "clone") continue;
    const kept = nodesOf(cib, before, top.id).filter((n) => !gone.includes(n));
    const now = nodesOf(cib, after, top.id);
    const lost = kept.filter((n) => !now.includes(n));
    if (lost.length > 0) problems.push(`${top.id}: its instance on ${lost.join(", ")} stopped; only ${gone.join(", ") || "nothing"} failed`);
  }
  return problems;
}

function stoppedOrRestarted(sim: Simulation, resources: Set<string>): string[] {
  return sim.out.transition.filter((t) => t.kind === "resource" && (t.op === "stop" || t.op === "demote") && t.resource && resources.has(t.resource.replace(/:\d+$/, ""))).map(describeStep);
}

/**
 * The promotion scores the agents of promotable clones would set (crm_simulate runs no agent):
 * on every member not banned from the Promoted role; for DRBD (ocf:linbit:drbd) only on diskful
 * members, because the agent gives a diskless peer no score.
 */
async function setPromotionScores(env: Env, file: string, dir: string, nodes: string[]): Promise<void> {
  const diskful = new Set(clusterMembers(env.config).filter((m) => m.diskful).map((m) => m.name));
  for (const top of env.cib.tops.values()) {
    if (!top.promotable) continue;
    const banned = new Set(env.cib.locations.filter((l) => (l.rsc === top.id || top.primitives.includes(l.rsc)) && l.score === "-INFINITY" && (l.role === undefined || l.role === "Promoted" || l.role === "Master")).map((l) => l.node));
    for (const id of top.primitives) {
      const p = env.cib.primitives.get(id)!;
      const drbd = p.provider === "linbit" && p.type === "drbd";
      for (const n of nodes) {
        if (banned.has(n) || (drbd && !diskful.has(n))) continue;
        await setTransientAttribute(file, dir, n, `master-${id}`, "10000");
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// scenario plumbing

interface Run {
  id: string;
  sim: Simulation;
  dir: string;
}

async function runSim(env: Env, id: string, input: string, opts: { quorum: boolean; nodeUp?: string[]; nodeFail?: string[]; inject?: string[]; prepare?: (file: string, dir: string) => Promise<void> }): Promise<Run> {
  const dir = path.join(env.workDir, id);
  await fs.mkdir(dir, { recursive: true });
  await fs.copyFile(input, path.join(dir, "input.xml"));
  if (opts.prepare) await opts.prepare("input.xml", dir);
  const sim = await simulate(dir, {
    input: "input.xml",
    output: "next.xml",
    graph: "graph.xml",
    quorum: opts.quorum,
    nodeUp: opts.nodeUp,
    nodeFail: opts.nodeFail,
    inject: opts.inject,
    watchdog: env.watchdog,
  });
  await fs.writeFile(path.join(dir, "simulate.xml"), sim.xml);
  return { id, sim, dir };
}

function result(
  id: string,
  title: string,
  kind: ScenarioKind,
  env: Env,
  run: Run,
  problems: string[],
  expected: Record<string, string>,
  budget?: Budget,
): ScenarioResult {
  return {
    id,
    title,
    kind,
    ok: problems.length === 0,
    problems,
    expected,
    simulated: simulatedPlacement(env.cib, run.sim.out.after),
    fenced: run.sim.out.fenced,
    actions: run.sim.out.transition.map(describeStep),
    budget,
    command: `crm_simulate ${run.sim.args.join(" ")}`,
  };
}

/** Waits the graph does not show: a start cannot serve before the starts it is ordered after (orderAncestors). */
function orderWaits(env: Env, graph: GraphAction[]): (a: GraphAction) => string[] {
  const starting = (a: GraphAction) => a.kind === "rsc_op" && (a.operation === "start" || a.operation === "promote") && a.resource !== undefined;
  return (a) => {
    if (!starting(a)) return [];
    const before = env.ancestors.get(a.resource!);
    return before ? graph.filter((g) => starting(g) && before.has(g.resource!)).map((g) => g.id) : [];
  };
}

function budgetOf(env: Env, graph: GraphAction[], detection: Duration, fence: (node: string) => Duration, targetS?: number): Budget {
  const p = criticalPath(graph, env.durations(fence), orderWaits(env, graph));
  return {
    detectionS: detection.seconds,
    detectionNote: detection.note,
    fencingS: p.fencingS,
    startsS: round(p.totalS - p.fencingS),
    chain: p.chain,
    totalS: round(detection.seconds + p.totalS),
    targetS,
  };
}

/** Tenths of a second, rounded up: a budget is never shorter than what it adds up (1e-9: float noise of sums). */
const round = (n: number) => Math.ceil(n * 10 - 1e-9) / 10;

// ---------------------------------------------------------------------------------------------
// the scenarios

async function allUp(env: Env, cibFile: string): Promise<{ res: ScenarioResult; state: string; after: ClusterState }> {
  // Members up first (status entries), then the agents' promotion scores, then the transition.
  const prepDir = path.join(env.workDir, "members-up");
  await fs.mkdir(prepDir, { recursive: true });
  await fs.copyFile(cibFile, path.join(prepDir, "input.xml"));
  const prep = await simulate(prepDir, { input: "input.xml", output: "next.xml", graph: "graph.xml", quorum: true, nodeUp: env.members, watchdog: env.watchdog, execute: false });
  // A CIB the schema refuses ends here, with the schema's own words (exit 78: invalid configuration).
  if (prep.out.code !== 0) {
    const why = prep.stderr.split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 5);
    throw new ToolError(`crm_simulate refuses the CIB (exit ${prep.out.code}): ${why.join(" | ") || "no reason given"}`);
  }
  await setPromotionScores(env, "next.xml", prepDir, env.members);
  // Shortcut (SimulateOptions.shortcuts): the transition runs unvalidated, the document having been
  // read validated just above; its state, which every other scenario starts from, stays so.
  const schema = env.cib.validateWith;
  const quick = env.shortcuts && schema !== undefined && schema !== "none";
  if (quick) await setValidateWith("next.xml", prepDir, "none");
  const run = await runSim(env, "all-up", path.join(prepDir, "next.xml"), { quorum: true });
  const expected: Record<string, string> = {};
  const problems = [...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, []), ...checkAllPlaced(env.cib, run.sim.out.after, expected)];
  let verifyFile = "next.xml";
  if (quick) {
    // crm_verify checks the schema the document names: a copy of the state that names it again.
    verifyFile = "verify.xml";
    await fs.copyFile(path.join(run.dir, "next.xml"), path.join(run.dir, verifyFile));
    await setValidateWith(verifyFile, run.dir, schema);
  }
  const verify = await crmVerify(verifyFile, run.dir);
  if (!verify.ok) problems.push(`crm_verify refuses the CIB with all members up: ${verify.messages.join(" | ")}`);
  const budget = budgetOf(env, run.sim.graph, { seconds: 0, note: "cold start: nothing to detect" }, env.hostLostFence);
  return { res: result("all-up", "all members up", "all-up", env, run, problems, expected, budget), state: path.join(run.dir, "next.xml"), after: run.sim.out.after };
}

async function memberFail(env: Env, up: string, m: string): Promise<{ res: ScenarioResult; state: string }> {
  const id = `fail-${m}`;
  const run = await runSim(env, id, up, { quorum: true, nodeFail: [m] });
  const before = run.sim.out.before;
  const after = run.sim.out.after;
  const expected: Record<string, string> = {};
  const problems = [...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, env.stonith ? [m] : [])];
  for (const top of env.cib.tops.values()) {
    if (top.kind === "clone" || top.stonith) continue;
    const was = nodesOf(env.cib, before, top.id);
    if (was.includes(m)) {
      expected[top.id] = `moves from ${m} to a survivor`;
      const now = nodesOf(env.cib, after, top.id);
      if (now.length !== 1 || now[0] === m) problems.push(`${top.id}: expected on a survivor, simulated ${describeTop(env.cib, after, top.id)}`);
    }
  }
  problems.push(...checkStayed(env.cib, before, after, [m], expected, false), ...checkClonesKept(env.cib, before, after, [m]));
  for (const top of env.cib.tops.values()) {
    if (top.kind !== "clone") continue;
    expected[top.id] = `keeps its instances on ${nodesOf(env.cib, before, top.id).filter((n) => n !== m).join(", ") || "no survivor"}`;
    if (top.promotable) {
      const promotable = cloneEligible(env.cib, after, top.id, "Promoted").filter((n) => nodesOf(env.cib, after, top.id).includes(n));
      const want = Math.min(cloneCount(top.meta, "promoted-max", "master-max", 1), promotable.length);
      const got = new Set(instancesOf(env.cib, after, top.id).filter((i) => i.role === "Promoted").map((i) => i.node)).size;
      expected[top.id] += `; Promoted on ${want}`;
      if (got !== want) problems.push(`${top.id}: expected ${want} Promoted instance(s) on the survivors, simulated ${got}`);
    }
  }
  if (env.stonith && !env.fenceSurvivesHostLoss(m)) {
    problems.push(`no fencing level of ${m} works with its host gone: crm_simulate assumes fencing succeeded, the survivors would wait for it forever`);
  }
  const budget = budgetOf(env, run.sim.graph, env.detection, env.hostLostFence, TARGETS.memberFailureS);
  const guest = budgetOf(env, run.sim.graph, env.detection, env.guestOnlyFence);
  budget.guestOnly = { fencingS: guest.fencingS, totalS: guest.totalS, chain: guest.chain };
  // fence_pve's reboot powers the guest on again at once: it may rejoin mid-move (simulate-budget.ts returnMidMove).
  if (env.stonith && (env.cib.properties["stonith-action"] ?? "reboot") === "reboot") {
    const onMember = new Set([...env.cib.tops.values()].filter((t) => t.kind === "clone" && nodesOf(env.cib, before, t.id).includes(m)).map((t) => t.id));
    const cores = env.config.nodes.find((n) => n.guest.name === m)?.guest.cores ?? 1;
    const probes = rejoinProbes(env.cib.primitives.size, cores, Number(env.cib.properties["node-action-limit"]) || undefined);
    const r = returnMidMove(env.cib, run.sim.graph, env.durations(env.guestOnlyFence), onMember, probes);
    if (r) budget.guestOnly.returnMidMove = { ...r, totalS: round(guest.totalS + r.seconds) };
  }
  const title = `${m} fails with its host${env.stonith ? " (fenced)" : ""}`;
  return { res: result(id, title, "member-fail", env, run, problems, expected, budget), state: path.join(run.dir, "next.xml") };
}

async function memberReturn(env: Env, failed: string, m: string): Promise<ScenarioResult> {
  const id = `return-${m}`;
  const run = await runSim(env, id, failed, { quorum: true, nodeUp: [m], prepare: (file, dir) => setPromotionScores(env, file, dir, [m]) });
  const before = run.sim.out.before;
  const after = run.sim.out.after;
  const expected: Record<string, string> = {};
  const problems = [...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, []), ...checkStayed(env.cib, before, after, [], expected, true), ...checkClonesKept(env.cib, before, after, [])];
  const nonClones = new Set([...env.cib.tops.values()].filter((t) => t.kind !== "clone").flatMap((t) => t.primitives));
  for (const s of stoppedOrRestarted(run.sim, nonClones)) problems.push(`${s}: nothing may fail back or restart when ${m} returns`);
  for (const top of env.cib.tops.values()) {
    if (top.kind !== "clone") continue;
    const eligible = cloneEligible(env.cib, after, top.id);
    const max = cloneCount(top.meta, "clone-max", "clone-max", after.nodes.length);
    if (eligible.includes(m) && max >= eligible.length) {
      expected[top.id] = `gains an instance on ${m}`;
      if (!nodesOf(env.cib, after, top.id).includes(m)) problems.push(`${top.id}: no instance started on the returning ${m}`);
    }
  }
  return result(id, `${m} returns (nothing fails back)`, "member-return", env, run, problems, expected);
}

async function quorumLoss(env: Env, up: string, survivors: string[]): Promise<ScenarioResult> {
  const failing = env.members.filter((m) => !survivors.includes(m));
  const id = `quorum-loss-${survivors.join("+")}`;
  const run = await runSim(env, id, up, { quorum: false, nodeFail: failing });
  const expected: Record<string, string> = { "*": `nothing starts, nothing is fenced; no-quorum-policy ${env.cib.properties["no-quorum-policy"] ?? "stop"} on ${survivors.join(", ")}` };
  const problems = [...checkFenced(run.sim, [])];
  for (const t of run.sim.out.transition) {
    if (t.kind === "resource" && (t.op === "start" || t.op === "promote")) problems.push(`${describeStep(t)}: a partition without quorum must not start anything`);
  }
  for (const i of run.sim.out.after.instances) if (i.failed) problems.push(`${i.id} is failed on ${i.node ?? "?"}`);
  return result(id, `${failing.join(" + ")} fail: ${survivors.join(", ")} without quorum`, "quorum-loss", env, run, problems, expected);
}

function monitorFor(cib: CibInfo, primitiveId: string, role: string): OpInfo | undefined {
  const mons = cib.primitives.get(primitiveId)?.ops.filter((o) => o.name === "monitor" && o.intervalMs > 0) ?? [];
  const wanted = role === "Promoted" ? ["Promoted", "Master"] : role === "Unpromoted" ? ["Unpromoted", "Slave", undefined] : [undefined, "Started"];
  return mons.find((o) => wanted.includes(o.role)) ?? mons.find((o) => o.role === undefined);
}

async function monitorScenarios(env: Env, up: string, upState: ClusterState, p: PrimitiveInfo): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  const insts = upState.instances.filter((i) => i.id === p.id && i.top === p.top && active(i));
  const inst = insts.find((i) => i.role === "Promoted") ?? insts[0];
  if (!inst) return out;
  const node = inst.node!;
  const mon = monitorFor(env.cib, p.id, inst.role);
  if (!mon) return out;
  const spec = `${p.id}_monitor_${mon.intervalMs}@${node}=7`;
  const onFail = mon.onFail ?? "restart";
  const detection = { seconds: mon.intervalMs / 1000, note: `the ${mon.intervalMs / 1000} s monitor notices it` };
  const onceId = `monitor-${p.id}`;
  const run = await runSim(env, onceId, up, { quorum: true, inject: [spec] });
  const expected: Record<string, string> = {};
  const problems: string[] = [];
  if (onFail === "fence") {
    expected[p.id] = `on-fail=fence: ${node} is fenced`;
    problems.push(...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, env.stonith ? [node] : []));
  } else if (onFail === "restart") {
    expected[p.id] = `restarted in place on ${node}`;
    problems.push(...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, []));
    const restarted = run.sim.out.transition.some((t) => t.kind === "resource" && t.op === "start" && t.resource?.replace(/:\d+$/, "") === p.id && t.node === node);
    if (!restarted) problems.push(`${p.id}: expected a restart on ${node}, the transition has none`);
    const now = run.sim.out.after.instances.filter((i) => i.id === p.id && i.top === p.top && active(i) && i.node === node);
    if (now.length === 0) problems.push(`${p.id}: no longer runs on ${node} after one failure (migration-threshold ${migrationThreshold(env.cib, p.id)})`);
    problems.push(...checkStayed(env.cib, run.sim.out.before, run.sim.out.after, [], expected, false));
  } else if (onFail === "ignore") {
    expected[p.id] = "on-fail=ignore: left as is";
    problems.push(...checkFenced(run.sim, []));
    if (stoppedOrRestarted(run.sim, new Set([p.id])).length > 0) problems.push(`${p.id}: on-fail=ignore, yet the transition acts on it`);
  } else if (onFail === "stop") {
    expected[p.id] = "on-fail=stop: stopped";
    problems.push(...checkFenced(run.sim, []));
    if (instancesOf(env.cib, run.sim.out.after, p.id).some((i) => i.node === node)) problems.push(`${p.id}: on-fail=stop, yet it still runs on ${node}`);
  } else {
    expected[p.id] = `on-fail=${onFail}: not checked by this plan`;
  }
  const budget = onFail === "restart" || onFail === "fence" ? budgetOf(env, run.sim.graph, detection, env.guestOnlyFence) : undefined;
  if (budget && onFail === "restart") budget.hung = hungBudget(env, run.sim.graph, p, mon);
  out.push(result(onceId, `${p.id} monitor fails once on ${node}`, "monitor-failure", env, run, problems, expected, budget));

  const threshold = migrationThreshold(env.cib, p.id);
  if (onFail !== "restart" || threshold >= 1000000) return out;
  // Fail it `threshold` times in a row on the same member: then it must leave that member.
  // The first of those failures is the one just simulated (same state, same injection; the
  // scheduler is deterministic): continue from its saved state.
  let tRun: Run;
  if (env.shortcuts && problems.length === 0 && threshold >= 2) {
    // Shortcut: failures 2 to threshold-1 each restart it in place as the first one did (their
    // inputs differ from the first's only in a fail count still below the threshold and in
    // operation history, which the scheduler does not weigh), so the last failure's input is the
    // first's saved state with the fail count at threshold: crm_simulate applies each injection of
    // the same operation in turn, counting the fail count up once per injection. One run instead
    // of threshold-1 (simulateScenarios' shortcuts; a test checks it against the run-by-run chain).
    tRun = await runSim(env, `threshold-${p.id}`, path.join(run.dir, "next.xml"), { quorum: true, inject: Array.from({ length: threshold - 1 }, () => spec) });
  } else {
    let state = path.join(run.dir, "next.xml");
    let last: Run = run;
    for (let k = 2; k <= threshold; k++) {
      last = await runSim(env, `threshold-${p.id}/${k}`, state, { quorum: true, inject: [spec] });
      state = path.join(last.dir, "next.xml");
    }
    tRun = last;
  }
  const texp: Record<string, string> = {};
  const tprob = [...checkCommon(env.cib, tRun.sim), ...checkFenced(tRun.sim, [])];
  const top = env.cib.tops.get(p.top)!;
  const here = tRun.sim.out.after.instances.filter((i) => i.id === p.id && i.top === p.top && active(i) && i.node === node);
  if (here.length > 0) tprob.push(`${p.id}: still on ${node} after ${threshold} failures (migration-threshold ${threshold})`);
  if (top.kind === "clone") {
    texp[p.id] = `its instance leaves ${node} after ${threshold} failures`;
  } else {
    texp[top.id] = `moves off ${node} after ${threshold} failures, with what is colocated with it`;
    const now = nodesOf(env.cib, tRun.sim.out.after, top.id);
    if (now.length !== 1 || now[0] === node) tprob.push(`${top.id}: expected on another member, simulated ${describeTop(env.cib, tRun.sim.out.after, top.id)}`);
  }
  const tbudget = budgetOf(env, tRun.sim.graph, detection, env.guestOnlyFence);
  out.push(result(`threshold-${p.id}`, `${p.id} fails ${threshold}x on ${node} (migration-threshold)`, "migration-threshold", env, tRun, tprob, texp, tbudget));
  return out;
}

/**
 * A hung application (its process alive, its probe not answering), from the CIB's own figures:
 * noticed by the monitor after at most its interval plus its timeout (the probe may give up
 * sooner, the operation's timeout is the bound), then the transition the crash gets, except that
 * the stop of the hung resource lasts until the agent's kill: for ocf:heartbeat:docker, docker
 * stop waits the whole grace (the stop timeout minus the 10 s the agent keeps), so the bound is
 * the stop timeout (beyond it the stop fails and the member is fenced).
 */
function hungBudget(env: Env, graph: GraphAction[], p: PrimitiveInfo, mon: OpInfo): NonNullable<Budget["hung"]> {
  const opDefault = durationMs(env.cib.opDefaults.timeout) ?? 20000;
  const monTimeoutMs = mon.timeoutMs ?? opDefault;
  const stopMs = p.ops.find((o) => o.name === "stop" && o.intervalMs === 0)?.timeoutMs ?? opDefault;
  const detection: Duration = { seconds: round((mon.intervalMs + monTimeoutMs) / 1000), note: `the ${mon.intervalMs / 1000} s monitor runs, its probe gets no answer until the ${monTimeoutMs / 1000} s monitor timeout` };
  const stop: Duration = { seconds: stopMs / 1000, note: `the stop of a hung ${p.type} waits out its grace before the kill: at most the ${stopMs / 1000} s stop timeout` };
  const base = env.durations(env.guestOnlyFence);
  const durations: Durations = { ...base, stop: (r) => (r === p.id ? stop : undefined) };
  const path_ = criticalPath(graph, durations, orderWaits(env, graph));
  return { detectionS: detection.seconds, detectionNote: detection.note, stopS: stop.seconds, stopNote: stop.note, totalS: round(detection.seconds + path_.totalS), chain: path_.chain };
}

async function standby(env: Env, up: string, m: string): Promise<ScenarioResult> {
  const id = `standby-${m}`;
  const run = await runSim(env, id, up, { quorum: true, prepare: (file, dir) => setNodeAttribute(file, dir, m, "standby", "on") });
  const before = run.sim.out.before;
  const after = run.sim.out.after;
  const expected: Record<string, string> = {};
  const problems = [...checkCommon(env.cib, run.sim), ...checkFenced(run.sim, []), ...checkAllPlaced(env.cib, after, expected), ...checkStayed(env.cib, before, after, [m], expected, false)];
  for (const i of after.instances) if (active(i) && i.node === m) problems.push(`${i.id} still runs on ${m}, which is in standby`);
  for (const top of env.cib.tops.values()) if (top.kind !== "clone" && nodesOf(env.cib, before, top.id).includes(m)) expected[top.id] = `moves off ${m}`;
  const budget = budgetOf(env, run.sim.graph, { seconds: 0, note: "planned: no detection" }, env.guestOnlyFence);
  return result(id, `${m} in standby (rolling maintenance)`, "standby", env, run, problems, expected, budget);
}

// ---------------------------------------------------------------------------------------------

export interface SimulateOptions {
  config: HahaConfig;
  cibXml: string;
  /** Where crm_simulate's own files go (input, saved state, graph, output per scenario). Emptied first. */
  workDir: string;
  /** The model the CIB was rendered from: its primitives' declared start times. Default: the stack's model from config. */
  model?: CibModel;
  /**
   * Shortcuts that change how much crm_simulate runs, never what a scenario ends with (default
   * on; HAHA_PLAN_SHORTCUTS=off, or false here, simulates every step the long way, which a test
   * compares them with):
   * - the all-up transition and every scenario run with validate-with="none": crm_simulate then
   *   skips the schema on each of its CIB updates (25 to 35 % of a run's CPU). The document was
   *   checked already: the members-up step reads it validated (a CIB the schema refuses ends the
   *   step there), and crm_verify checks the all-up state with its schema named again; the runs
   *   change only the status section (whose schema accepts anything) and node attributes, all
   *   through Pacemaker's own tools.
   * - a migration-threshold scenario is one run from the first failure's saved state (see
   *   monitorScenarios), not one run per further failure.
   */
  shortcuts?: boolean;
}

/** For each primitive, every primitive it is ordered after (Mandatory orders, group order), transitively. */
export function orderAncestors(cib: CibInfo): Map<string, Set<string>> {
  const prims = (id: string) => cib.tops.get(id)?.primitives ?? [id];
  const direct = new Map<string, Set<string>>();
  const add = (then: string, first: string) => {
    if (then === first) return;
    const set = direct.get(then) ?? new Set<string>();
    set.add(first);
    direct.set(then, set);
  };
  for (const o of cib.orders) {
    if (o.kind !== "Mandatory") continue;
    for (const t of prims(o.then)) for (const f of prims(o.first)) add(t, f);
  }
  for (const top of cib.tops.values()) {
    // A group starts its members one after the other.
    if (top.kind === "group") top.primitives.forEach((p, i) => top.primitives.slice(0, i).forEach((q) => add(p, q)));
  }
  const out = new Map<string, Set<string>>();
  const walk = (id: string, seen: Set<string>): Set<string> => {
    const known = out.get(id);
    if (known) return known;
    const all = new Set<string>();
    for (const f of direct.get(id) ?? []) {
      if (seen.has(f)) continue;
      all.add(f);
      for (const g of walk(f, new Set([...seen, id]))) all.add(g);
    }
    out.set(id, all);
    return all;
  };
  for (const id of cib.primitives.keys()) walk(id, new Set([id]));
  return out;
}

function makeEnv(config: HahaConfig, cib: CibInfo, workDir: string, model: CibModel, shortcuts: boolean): Env {
  const members = clusterMembers(config);
  const plan = new Map(fencingPlan(config, members).map((f) => [f.member.name, f.levels]));
  const declared = new Map(model.fragments.flatMap((f) => f.resources.flatMap(primitivesOf)).map((p) => [p.id, p.expectedStartS]));
  const opTimeoutDefault = durationMs(cib.opDefaults.timeout) ?? 20000;
  const start = (resource: string): Duration => {
    const p = cib.primitives.get(resource);
    if (!p || p.class === "stonith") return { seconds: 0, note: "fence device: registration only" };
    const d = declared.get(resource);
    if (d) return { seconds: d.value, note: `expectedStartS: ${d.reason}` };
    const t = p.ops.find((o) => o.name === "start")?.timeoutMs ?? opTimeoutDefault;
    return { seconds: t / 1000, note: "no expectedStartS declared: its start timeout stands in" };
  };
  const t = corosyncTiming(config);
  const hostLostFence = (node: string): Duration => {
    const levels = plan.get(node) ?? [];
    let s = 0;
    const parts: string[] = [];
    for (const l of levels) {
      if (l.needsHost !== null) {
        s += l.failS.value;
        parts.push(`${l.agent} fails (${l.failS.value} s: ${l.failS.reason})`);
        continue;
      }
      s += l.successS.value;
      parts.push(`${l.agent} (${l.successS.value} s: ${l.successS.reason})`);
      return { seconds: s, note: parts.join(", then ") };
    }
    return { seconds: s, note: levels.length === 0 ? "no fencing configured" : `no level works with the host gone: ${parts.join(", then ")}` };
  };
  const guestOnlyFence = (node: string): Duration => {
    const l = plan.get(node)?.[0];
    return l ? { seconds: l.successS.value, note: `${l.agent} (${l.successS.reason})` } : { seconds: 0, note: "no fencing configured" };
  };
  return {
    config,
    ancestors: orderAncestors(cib),
    cib,
    members: members.map((m) => m.name),
    stonith: cib.properties["stonith-enabled"] !== "false",
    watchdog: config.cluster.fencing.enabled && config.cluster.fencing.watchdog.enabled,
    workDir,
    durations: (fence) => ({ start, fence }),
    hostLostFence,
    fenceSurvivesHostLoss: (node) => (plan.get(node) ?? []).some((l) => l.needsHost === null),
    guestOnlyFence,
    // Until the survivors' Pacemaker sees the member gone: token + consensus, then the ring
    // formation allowance (its reason at MEMBERSHIP_FORMATION); the namespace lab measures the sum.
    detection: { seconds: round(t.membershipMs / 1000), note: `corosync token ${t.effectiveTokenMs} ms + consensus ${t.consensusMs} ms + ${t.formationMs} ms ${MEMBERSHIP_FORMATION.reason}` },
    shortcuts,
  };
}

const fmt = (s: number | undefined) => (s === undefined ? "-" : `${round(s)}s`);

/** Scenario kinds shown one row each in the short summary; the others are counted per kind. */
const ROW_KINDS = new Set<ScenarioKind>(["all-up", "member-fail"]);
const GROUP_TITLES: Partial<Record<ScenarioKind, string>> = {
  "member-return": "a failed member returns, nothing fails back",
  "quorum-loss": "majority lost: nothing starts, nothing is fenced",
  "monitor-failure": "a monitor fails once: restart in place",
  "migration-threshold": "fails migration-threshold times: it moves",
  standby: "each member in standby (rolling maintenance)",
};

/**
 * The failover table. `full`: one row per scenario (summary.txt); otherwise the member failures
 * get a row each, the other kinds one line each, and any scenario that ended wrong its own row.
 */
function summarize(scenarios: ScenarioResult[], detectionS: number, worst: number | undefined, full: boolean): string[] {
  const passed = scenarios.filter((s) => s.ok).length;
  const groupTitle = (kind: ScenarioKind, title: string) => {
    const group = scenarios.filter((s) => s.kind === kind);
    return `${title}: ${group.filter((s) => s.ok).length}/${group.length}`;
  };
  const titles = full ? scenarios.map((s) => s.title) : [...scenarios.filter((s) => ROW_KINDS.has(s.kind)).map((s) => s.title), ...Object.entries(GROUP_TITLES).map(([k, t]) => groupTitle(k as ScenarioKind, t))];
  const width = Math.max(...titles.map((t) => t.length), 8);
  const lines = [`failover: ${scenarios.length} crm_simulate scenarios, ${passed} as expected, ${scenarios.length - passed} not`, `  ${"scenario".padEnd(width)}  result  detect   fence  starts   total`];
  const row = (s: ScenarioResult) => {
    const b = s.budget;
    // "*": a figure the namespace lab measures (LAB_MEASURED); the lab fails when it measures more.
    const lab = (v: number | undefined, kinds: readonly ScenarioKind[]) => `${fmt(v)}${kinds.includes(s.kind) && v !== undefined ? "*" : " "}`.padStart(7);
    lines.push(`  ${s.title.padEnd(width)}  ${(s.ok ? "ok" : "WRONG").padEnd(6)} ${lab(b?.detectionS, LAB_MEASURED.detect)} ${lab(b?.fencingS, LAB_MEASURED.fence)}  ${fmt(b?.startsS).padStart(6)} ${lab(b?.totalS, LAB_MEASURED.total)}`);
    for (const p of s.problems) lines.push(`      - ${p}`);
  };
  for (const s of scenarios) if (full || ROW_KINDS.has(s.kind)) row(s);
  if (!full) {
    for (const [kind, title] of Object.entries(GROUP_TITLES) as [ScenarioKind, string][]) {
      const group = scenarios.filter((s) => s.kind === kind);
      if (group.length === 0) continue;
      const worstTotal = Math.max(...group.map((s) => s.budget?.totalS ?? 0));
      const dash = "-".padStart(6);
      lines.push(`  ${groupTitle(kind, title).padEnd(width)}  ${(group.every((s) => s.ok) ? "ok" : "WRONG").padEnd(6)}  ${dash}  ${dash}  ${dash}  ${(worstTotal > 0 ? `<=${fmt(worstTotal)}` : "-").padStart(6)}`);
      for (const s of group.filter((x) => !x.ok)) row(s);
    }
  }
  lines.push(`  detection (token + consensus + ring formation): ${fmt(detectionS)}* (target <= ${TARGETS.detectionS}s: ${detectionS <= TARGETS.detectionS ? "met" : "MISSED"})`);
  const hung = scenarios.filter((s) => s.budget?.hung).sort((a, b) => (b.budget!.hung!.totalS) - (a.budget!.hung!.totalS));
  const h = hung[0];
  if (h?.budget?.hung) {
    const hb = h.budget.hung;
    const measured = hung.filter((x) => LAB_MEASURED.hung.some((id) => x.id === `monitor-${id}`)).map((x) => `${x.id.replace(/^monitor-/, "")} ${fmt(x.budget!.hung!.totalS)}*`);
    lines.push(`  an application hangs (process alive, probe unanswered): worst ${fmt(hb.totalS)} (${h.id.replace(/^monitor-/, "")}: monitor + its timeout ${fmt(hb.detectionS)}, stop ${fmt(hb.stopS)}, restart)${measured.length ? `; ${measured.join(", ")}` : ""}`);
  }
  lines.push(`  * measured by the namespace lab too (npm run lab -- ns -> build/lab-ns/report.json); a lab measurement above the figure fails that lab scenario`);
  if (worst !== undefined) {
    const w = scenarios.filter((s) => s.kind === "member-fail").sort((a, b) => (b.budget?.totalS ?? 0) - (a.budget?.totalS ?? 0))[0];
    lines.push(`  single-member failure, host lost: worst ${fmt(worst)} (target <= ${TARGETS.memberFailureS}s: ${worst <= TARGETS.memberFailureS ? "met" : "MISSED"})`);
    if (w?.budget) lines.push(`    critical chain: ${[`detect ${fmt(w.budget.detectionS)}`, ...w.budget.chain.map((c) => `${c.action} ${fmt(c.seconds)}`)].join(" -> ")}`);
  }
  // fence_pve's reboot powers the guest on at once: a rejoin mid-move holds starts ordered after its clones.
  const back = scenarios.filter((s) => s.budget?.guestOnly?.returnMidMove).sort((a, b) => b.budget!.guestOnly!.returnMidMove!.seconds - a.budget!.guestOnly!.returnMidMove!.seconds)[0];
  const r = back?.budget?.guestOnly?.returnMidMove;
  if (back && r) lines.push(`  a fenced guest rejoining mid-move (fence_pve reboots it): up to +${fmt(r.seconds)}* (${back.id}: ${r.chain.map((c) => `${c.action.replace(" on the returned member", "")} ${fmt(c.seconds)}`).join(", ")}; ${r.gate})`);
  return lines;
}

/** Budget columns the namespace lab (labs/ns) measures, by scenario kind; `hung`: the primitives whose hung-application budget it measures. */
export const LAB_MEASURED = { detect: ["member-fail"], fence: ["member-fail"], total: ["member-fail"], hung: ["mosquitto"] } as const;

/**
 * How many crm_simulate runs at once: one per core (each is single-threaded and CPU-bound), plus
 * one to cover the moments each spends starting and this thread spends reading its output.
 * HAHA_PLAN_JOBS overrides it (the benchmark's knob; 1 runs them one after another).
 */
function concurrency(): number {
  const jobs = Number(process.env.HAHA_PLAN_JOBS);
  return Number.isInteger(jobs) && jobs >= 1 ? jobs : os.availableParallelism() + 1;
}

/** Run tasks at most `limit` at a time; results in task order. */
async function inPool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/**
 * Run every scenario. crm_simulate works in `workDir` (its files carry wall-clock timestamps, so
 * they are kept out of the plan's output unless asked for); nothing is written to `dir`.
 */
export function simulateScenarios(o: SimulateOptions): Promise<FailoverReport> {
  return withToolRunner(() => scenarios(o));
}

async function scenarios(o: SimulateOptions): Promise<FailoverReport> {
  await fs.rm(o.workDir, { recursive: true, force: true });
  const workDir = o.workDir;
  await fs.mkdir(workDir, { recursive: true });
  const cib = parseCib(o.cibXml);
  const env = makeEnv(o.config, cib, workDir, o.model ?? (await stackCibModel(o.config)), o.shortcuts ?? shortcutsOn());
  const unknownNodes = cib.nodes.filter((n) => !env.members.includes(n.uname));
  if (unknownNodes.length > 0 || cib.nodes.length !== env.members.length) {
    throw new Error(`the CIB's nodes (${cib.nodes.map((n) => n.uname).join(", ")}) are not the config's members (${env.members.join(", ")})`);
  }
  const base = path.join(workDir, "cib.xml");
  await fs.writeFile(base, o.cibXml);
  await stampFeatureSet("cib.xml", workDir, await featureSet(workDir));

  const first = await allUp(env, base);
  const up = first.state;
  // Every other scenario starts from the all-up state and is independent of the others.
  const tasks: (() => Promise<ScenarioResult[]>)[] = [];
  if (env.members.length >= 2) {
    for (const m of env.members) {
      tasks.push(async () => {
        const f = await memberFail(env, up, m);
        return [f.res, await memberReturn(env, f.state, m)];
      });
    }
  }
  const minority = Math.floor((env.members.length - 1) / 2);
  if (minority >= 1) {
    for (let i = 0; i < env.members.length; i++) {
      const survivors = Array.from({ length: minority }, (_, k) => env.members[(i + k) % env.members.length]!);
      tasks.push(async () => [await quorumLoss(env, up, survivors)]);
    }
  }
  for (const p of [...cib.primitives.values()].filter((x) => x.class !== "stonith").sort((a, b) => a.id.localeCompare(b.id))) {
    tasks.push(() => monitorScenarios(env, up, first.after, p));
  }
  if (env.members.length >= 2) for (const m of env.members) tasks.push(async () => [await standby(env, up, m)]);
  const scenarios = [first.res, ...(await inPool(tasks, concurrency())).flat()];

  const memberFails = scenarios.filter((s) => s.kind === "member-fail" && s.budget);
  const worst = memberFails.length > 0 ? Math.max(...memberFails.map((s) => s.budget!.totalS)) : undefined;
  const ok = scenarios.every((s) => s.ok);
  return {
    ok,
    scenarios,
    summary: summarize(scenarios, env.detection.seconds, worst, false),
    table: summarize(scenarios, env.detection.seconds, worst, true),
    detectionS: env.detection.seconds,
    worstMemberFailureS: worst,
  };
}

/**
 * Failover reports already simulated, by everything that decides them: the CIB text, the config,
 * the CIB model (the declared start times), the installed Pacemaker (crm_simulate's version,
 * pacemakerd's build and feature set) and the code that simulated and checked (every project
 * source file the simulating thread loaded, and the lockfile). Two uses:
 * - the cache in node_modules/.cache/haha-plan: a plan of an unchanged cluster reads the report
 *   of an earlier plan instead of running the ~80 crm_simulate calls again (they are
 *   deterministic for those inputs). HAHA_PLAN_CACHE=off turns it off: a cold plan.
 * - HAHA_PLAN_SHARE=DIR (set by --compare for its two plans): the plans of the two revisions run
 *   at once, and when both have the same simulation inputs one of them simulates and the other
 *   waits for its report. Nothing there comes from an earlier run, so it works cache off too.
 */
/** HAHA_PLAN_SHORTCUTS=off: every scenario the long way (SimulateOptions.shortcuts). */
const shortcutsOn = () => process.env.HAHA_PLAN_SHORTCUTS !== "off";

const CACHE_DIR = path.join(path.resolve(__dirname, ".."), "node_modules", ".cache", "haha-plan");
const CACHE_KEEP = 20;
/** Bumped when what a cached report holds changes shape. */
const CACHE_FORMAT = "failover-report 4";

/** The project's source files this thread has loaded (in the worker: the code that simulates and checks). */
function loadedSources(): string[] {
  const root = path.resolve(__dirname, "..");
  return Object.keys(require.cache).filter((f) => f.startsWith(root + path.sep) && !f.includes(`${path.sep}node_modules${path.sep}`)).sort();
}

async function cacheKey(job: FailoverJob, pacemaker: string): Promise<string> {
  const h = crypto.createHash("sha256");
  // Shortcuts off is the reference to compare them with: never answered from their cache.
  h.update(`${CACHE_FORMAT}\0pacemaker ${pacemaker}\0${shortcutsOn() ? "" : "no shortcuts\0"}`).update(job.cibXml).update("\0").update(JSON.stringify(job.config)).update("\0").update(JSON.stringify(job.model));
  const root = path.resolve(__dirname, "..");
  for (const f of [...loadedSources(), path.join(root, "package-lock.json")]) {
    h.update(`\0${path.relative(root, f)}\0`);
    h.update(await fs.readFile(f).catch(() => Buffer.from("(absent)")));
  }
  return h.digest("hex");
}

async function cachedReport(key: string): Promise<FailoverReport | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(CACHE_DIR, `failover-${key}.json`), "utf8")) as FailoverReport;
  } catch {
    return undefined;
  }
}

async function storeReport(key: string, report: FailoverReport): Promise<void> {
  try {
    await fs.mkdir(CACHE_DIR, { recursive: true });
    const tmp = path.join(CACHE_DIR, `.failover-${key}.${process.pid}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(report));
    await fs.rename(tmp, path.join(CACHE_DIR, `failover-${key}.json`));
    const entries = await Promise.all((await fs.readdir(CACHE_DIR)).filter((f) => f.startsWith("failover-")).map(async (f) => ({ f, t: (await fs.stat(path.join(CACHE_DIR, f))).mtimeMs })));
    for (const e of entries.sort((a, b) => b.t - a.t).slice(CACHE_KEEP)) await fs.rm(path.join(CACHE_DIR, e.f), { force: true });
  } catch {
    // A read-only node_modules only costs the next plan the simulation.
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * HAHA_PLAN_SHARE: claim `key` (this plan simulates and publishes the report) or, when the other
 * plan holds it, wait for its report. undefined: simulate here (claimed, or the other plan ended
 * without a report: it failed, and so will this one, with its own message).
 */
async function shared(dir: string, key: string): Promise<{ claimed: boolean; report?: FailoverReport }> {
  await fs.mkdir(dir, { recursive: true });
  const lock = path.join(dir, `${key}.lock`);
  try {
    await fs.writeFile(lock, String(process.pid), { flag: "wx" });
    return { claimed: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const owner = Number(await fs.readFile(lock, "utf8").catch(() => "0"));
  for (;;) {
    const done = await fs.readFile(path.join(dir, `${key}.json`), "utf8").catch(() => undefined);
    if (done !== undefined) return { claimed: false, report: JSON.parse(done) as FailoverReport };
    if (await fs.stat(path.join(dir, `${key}.failed`)).then(() => true, () => false)) return { claimed: false };
    if (owner > 0 && !alive(owner)) return { claimed: false };
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function publish(dir: string, key: string, report: FailoverReport | undefined): Promise<void> {
  if (report === undefined) {
    await fs.writeFile(path.join(dir, `${key}.failed`), "");
    return;
  }
  const tmp = path.join(dir, `.${key}.${process.pid}.tmp`);
  await fs.writeFile(tmp, JSON.stringify(report));
  await fs.rename(tmp, path.join(dir, `${key}.json`));
}

/** The key a job's report is cached and shared under (in this thread: its loaded sources count). */
export async function failoverKey(job: FailoverJob): Promise<string> {
  return cacheKey(job, await pacemakerVersion(os.tmpdir()));
}

/** Everything one failover step needs, as plain data (it crosses into the worker thread). */
export interface FailoverJob {
  config: HahaConfig;
  cibXml: string;
  model: CibModel;
  /** Read earlier reports from (and store this one in) node_modules/.cache/haha-plan. */
  cache: boolean;
}

/** A failover report (or why there is none, as the plan prints it). */
export type Outcome = { report: FailoverReport; notes: string[] } | { failed: string };

/** The failover step proper: the report of these very inputs if there is one, or every scenario simulated. */
export async function failoverOutcome(job: FailoverJob): Promise<Outcome> {
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), "haha-failover-"));
  const notes: string[] = [];
  const share = process.env.HAHA_PLAN_SHARE || undefined;
  let key = "";
  let claimed = false;
  let report: FailoverReport | undefined;
  try {
    if (renderCib(job.model) !== job.cibXml) notes.push("  note: the CIB differs from the one rendered from config alone; start times are taken from config's model");
    if (job.cache || share) key = await cacheKey(job, await pacemakerVersion(workDir));
    if (job.cache) report = await cachedReport(key);
    if (!report && share) {
      const s = await shared(share, key);
      claimed = s.claimed;
      report = s.report;
    }
    if (!report) {
      report = await simulateScenarios({ config: job.config, cibXml: job.cibXml, workDir, model: job.model });
      if (job.cache) await storeReport(key, report);
    }
    return { report, notes };
  } catch (e) {
    return { failed: e instanceof ToolError ? e.message : `failover simulation could not run: ${(e as Error).message}` };
  } finally {
    if (claimed) await publish(share!, key, report).catch(() => {});
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

/** The worker thread's entry: plain JavaScript, so under tsx it registers tsx's loader in its own thread first. */
function workerCode(): string {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `failover-worker${ext}`);
  // Resolved here: an eval'd worker's require starts from the process's cwd, not from this file.
  return `${ext === ".ts" ? `require(${JSON.stringify(require.resolve("tsx/cjs"))});` : ""}require(${JSON.stringify(file)});`;
}

let spare: Worker | undefined;

/**
 * Start the failover worker now, idle until it gets its job: it loads its modules while this
 * thread loads the program's. Called by plan/cli.ts before its heavy imports; off with
 * HAHA_PLAN_WORKER=off. A plan that never simulates lets it go (it is unref'd while idle).
 */
export function prestartFailoverWorker(): void {
  if (process.env.HAHA_PLAN_WORKER === "off" || spare) return;
  // execArgv []: not the parent's `--import tsx` (an ESM hooks thread of its own it does not need).
  const w = new Worker(workerCode(), { eval: true, execArgv: [] });
  // A worker that fails to load says so when it is given its job (outcomeAside), not as a crash.
  w.once("error", (e) => {
    spareError = e;
  });
  w.unref();
  spare = w;
}

let spareError: Error | undefined;

/**
 * failoverOutcome in a worker thread (failover-worker.ts): the main thread's work (the program
 * under mocks: long runs of promise callbacks, which starve I/O callbacks) then cannot hold up
 * crm_simulate's pool. HAHA_PLAN_WORKER=off runs it in this thread (same report).
 */
function outcomeAside(job: FailoverJob): Promise<Outcome> {
  if (process.env.HAHA_PLAN_WORKER === "off") return failoverOutcome(job);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: Outcome) => {
      if (!settled) resolve(o);
      settled = true;
    };
    if (spareError) {
      settle({ failed: `failover simulation could not run: its worker failed: ${spareError.message}` });
      return;
    }
    const w = spare ?? new Worker(workerCode(), { eval: true, execArgv: [] });
    spare = undefined;
    w.ref();
    w.once("message", (m: { outcome: Outcome; tools: Timing["tools"] }) => {
      mark("failover worker answered");
      addToolCounts(m.tools);
      settle(m.outcome);
    });
    w.once("error", (e) => settle({ failed: `failover simulation could not run: its worker failed: ${e.message}` }));
    w.once("exit", (c) => settle({ failed: `failover simulation could not run: its worker exited (code ${c}) without a report` }));
    w.postMessage(job);
    mark("failover job handed to the worker");
  });
}

/** A simulation started before the program ran, on the CIB rendered from config alone. */
export interface EarlyFailover {
  cibXml: string;
  outcome: Promise<Outcome>;
}

/**
 * Start the failover step on the CIB that config alone renders (modelOf: the stack's CIB model),
 * so that crm_simulate runs on the other cores while the program runs under mocks. runFailover
 * uses it only when the CIB the program shipped is that very text; otherwise it simulates the
 * shipped one. undefined when config cannot render a CIB (the program's run then says why).
 */
export function startFailover(config: HahaConfig, modelOf: (c: HahaConfig) => CibModel): EarlyFailover | undefined {
  let model: CibModel;
  let cibXml: string;
  try {
    model = modelOf(config);
    cibXml = renderCib(model);
  } catch {
    return undefined;
  }
  return { cibXml, outcome: outcomeAside({ config, cibXml, model, cache: process.env.HAHA_PLAN_CACHE !== "off" }) };
}

/** Plan step 5: writes build/<stack>/failover/ and returns the failover table. */
export async function runFailover(ctx: PlanContext, cibXml: string, early?: EarlyFailover): Promise<StepResult> {
  const dir = path.join(ctx.outDir, "failover");
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { recursive: true });
  let outcome: Outcome;
  if (early && early.cibXml === cibXml) outcome = await early.outcome;
  else {
    // Not the CIB config renders: let the early run end (its temporary directory goes with it).
    if (early) await early.outcome;
    let model: CibModel;
    try {
      model = await stackCibModel(ctx.config);
    } catch (e) {
      return { ok: false, summary: [`failover: failover simulation could not run: ${(e as Error).message}`] };
    }
    outcome = await outcomeAside({ config: ctx.config, cibXml, model, cache: process.env.HAHA_PLAN_CACHE !== "off" });
  }
  if ("failed" in outcome) return { ok: false, summary: [`failover: ${outcome.failed}`] };
  const { report, notes } = outcome;
  for (const [i, s] of report.scenarios.entries()) {
    await fs.writeFile(path.join(dir, `${String(i + 1).padStart(2, "0")}-${s.id.replace(/[^A-Za-z0-9._+-]/g, "_")}.json`), JSON.stringify(s, null, 2) + "\n");
  }
  const index = {
    ok: report.ok,
    targets: TARGETS,
    detectionS: report.detectionS,
    worstMemberFailureS: report.worstMemberFailureS,
    scenarios: report.scenarios.map((s) => ({ id: s.id, title: s.title, kind: s.kind, ok: s.ok, totalS: s.budget?.totalS, problems: s.problems.length })),
  };
  await fs.writeFile(path.join(dir, "summary.json"), JSON.stringify(index, null, 2) + "\n");
  await fs.writeFile(path.join(dir, "summary.txt"), [...report.table, ...notes].join("\n") + "\n");
  return { ok: report.ok, summary: [...report.summary, `  every scenario: ${path.join(dir, "summary.txt")} and one JSON file each`, ...notes] };
}
