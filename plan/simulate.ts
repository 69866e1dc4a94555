// Pacemaker's own scheduler, driven offline: crm_simulate on a CIB file (its status section holds
// the simulated cluster state), crm_verify, and the CIB_file variants of crm_attribute/cibadmin
// to change that state the way a live cluster would. Tools are spawned with execFile (no shell);
// their XML is read with fast-xml-parser into the small typed shapes below.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { toolRun } from "./timing";

export class ToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolError";
  }
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

const PACKAGE: Record<string, string> = {
  crm_simulate: "pacemaker-cli-utils",
  crm_verify: "pacemaker-cli-utils",
  crm_attribute: "pacemaker-cli-utils",
  cibadmin: "pacemaker-cli-utils",
  pacemakerd: "pacemaker",
};

/**
 * mimalloc for the Pacemaker tools where Debian's libmimalloc2.0 is installed: crm_simulate spends
 * much of its CPU in glibc's malloc and free (each CIB update of an executed transition copies
 * and frees the whole document), 20 to 30 % less CPU per run with mimalloc, measured on 3 and 9
 * hosts. An allocator decides nothing a tool computes; without the library the tools run on
 * glibc's (same results, slower). HAHA_PLAN_MALLOC=system keeps glibc's.
 */
function preload(): NodeJS.ProcessEnv {
  if (process.env.HAHA_PLAN_MALLOC === "system" || process.platform !== "linux") return {};
  if (mimalloc === undefined) {
    const triplet = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" }[process.arch as string] ?? "";
    mimalloc = [`/usr/lib/${triplet}/libmimalloc.so.2`, "/usr/lib64/libmimalloc.so.2", "/usr/lib/libmimalloc.so.2"].find((f) => existsSync(f)) ?? "";
  }
  if (!mimalloc) return {};
  return { LD_PRELOAD: process.env.LD_PRELOAD ? `${mimalloc}:${process.env.LD_PRELOAD}` : mimalloc };
}
let mimalloc: string | undefined;

/** Run a Pacemaker tool; a non-zero exit is returned, a missing tool is a ToolError naming its package. */
export function runTool(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<ToolRun> {
  const t0 = performance.now();
  const env = { ...process.env, ...preload(), ...opts.env };
  const done = (r: Reply, resolve: (r: ToolRun) => void, reject: (e: Error) => void) => {
    if (r.enoent) {
      reject(new ToolError(`${file} is not installed: apt-get install ${PACKAGE[file] ?? "pacemaker-cli-utils"} (the failover simulation needs Pacemaker's own tools)`));
      return;
    }
    toolRun(file, performance.now() - t0);
    resolve({ code: r.code, stdout: r.stdout, stderr: r.stderr });
  };
  return new Promise((resolve, reject) => {
    if (runnerUsers > 0) {
      viaRunner({ file, args, cwd: opts.cwd, env }).then((r) => done(r, resolve, reject), reject);
      return;
    }
    execFile(file, args, { cwd: opts.cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) => done(reply(err, stdout, stderr), resolve, reject));
  });
}

interface Reply {
  enoent: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

const reply = (err: (Error & { code?: unknown }) | null, stdout: string, stderr: string): Reply => ({
  enoent: !!err && err.code === "ENOENT",
  code: err ? (typeof err.code === "number" ? err.code : 1) : 0,
  stdout,
  stderr,
});

// The tool runner: a small node process that starts the tools for this thread (withToolRunner).
// Forking copies the page tables of the process that forks: the plan's process, with the program
// run under mocks in it, holds hundreds of MB, and each of the ~70 tool starts cost it 7 to 15 ms
// of CPU (measured); forked from a process of 40 MB, 1 to 2 ms. Plain JavaScript, no tsx.
const RUNNER = `
const { execFile } = require("node:child_process");
process.on("message", (m) => {
  execFile(m.file, m.args, { cwd: m.cwd, env: m.env, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" }, (err, stdout, stderr) =>
    // As reply() below.
    process.send({ id: m.id, enoent: !!err && err.code === "ENOENT", code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
  );
});
process.on("disconnect", () => process.exit(0));
`;

interface Runner {
  child: ChildProcess;
  pending: Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>;
  seq: number;
}
let runner: Runner | undefined;
let runnerUsers = 0;

function startRunner(): Runner {
  // NODE_OPTIONS cleared: the runner needs none of the plan's (tsx's loader, say).
  const child = spawn(process.execPath, ["-e", RUNNER], { stdio: ["ignore", "ignore", "inherit", "ipc"], env: { ...process.env, NODE_OPTIONS: "" } });
  const r: Runner = { child, pending: new Map(), seq: 0 };
  const idle = () => {
    if (r.pending.size > 0) return;
    child.unref();
    child.channel?.unref();
  };
  child.on("message", (m: Reply & { id: number }) => {
    const p = r.pending.get(m.id);
    r.pending.delete(m.id);
    idle();
    p?.resolve(m);
  });
  const gone = (why: string) => {
    if (runner === r) runner = undefined;
    for (const p of r.pending.values()) p.reject(new ToolError(`the tool runner ${why}`));
    r.pending.clear();
  };
  child.on("error", (e) => gone(`failed: ${e.message}`));
  child.on("exit", (code, signal) => gone(`exited (${signal ?? `code ${code}`}) with tools still running`));
  idle();
  return r;
}

function viaRunner(req: { file: string; args: string[]; cwd: string; env: NodeJS.ProcessEnv }): Promise<Reply> {
  const r = (runner ??= startRunner());
  const id = r.seq++;
  return new Promise((resolve, reject) => {
    r.pending.set(id, { resolve, reject });
    r.child.ref();
    r.child.channel?.ref();
    r.child.send({ id, ...req });
  });
}

/**
 * Run fn with this thread's tools started by the tool runner (above). The runner ends with the
 * last of them and is waited for: the tools' CPU time then counts as this process's children's
 * (plan/timing.ts, and the benchmark's figures).
 */
export async function withToolRunner<T>(fn: () => Promise<T>): Promise<T> {
  if (process.env.HAHA_PLAN_RUNNER === "off") return fn();
  runnerUsers++;
  try {
    return await fn();
  } finally {
    if (--runnerUsers === 0 && runner) {
      const r = runner;
      runner = undefined;
      if (r.child.exitCode === null && r.child.signalCode === null) {
        const exited = new Promise((resolve) => r.child.once("exit", resolve));
        // Referenced again: an idle runner is unref'd, and its exit must be waited for.
        r.child.ref();
        r.child.disconnect();
        await exited;
      }
    }
  }
}

/** "3.16.1": the feature set the installed Pacemaker stamps on a live CIB. */
export async function featureSet(cwd: string): Promise<string> {
  const r = await runTool("pacemakerd", ["--features"], { cwd });
  const m = /Supporting v(\d+\.\d+\.\d+)/.exec(r.stdout);
  if (!m) throw new ToolError(`pacemakerd --features did not report a feature set: ${r.stdout.trim() || r.stderr.trim()}`);
  return m[1]!;
}

/**
 * What identifies the installed scheduler for a cache of its results: crm_simulate's own version
 * and pacemakerd's build and feature set (one source package builds both).
 */
export async function pacemakerVersion(cwd: string): Promise<string> {
  const [sim, features] = await Promise.all([runTool("crm_simulate", ["--version"], { cwd }), runTool("pacemakerd", ["--features"], { cwd })]);
  if (sim.code !== 0 || !/Pacemaker \d/.test(sim.stdout)) throw new ToolError(`crm_simulate --version did not report a version: ${sim.stdout.trim() || sim.stderr.trim()}`);
  return `${sim.stdout.split("\n")[0]!.trim()} | ${features.stdout.trim()}`;
}

/**
 * A rendered CIB carries no crm_feature_set (the cluster stamps its own). Without one the
 * scheduler reads fail counts the pre-2.0 way and ignores per-operation fail counts, so a
 * simulation copy gets the installed version's stamp, as the live cluster would give it.
 */
export async function stampFeatureSet(file: string, cwd: string, version: string): Promise<void> {
  const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_" }).build({ cib: { "@_crm_feature_set": version } }) as string;
  const r = await runTool("cibadmin", ["--modify", "--xml-text", xml], { cwd, env: { CIB_file: path.resolve(cwd, file) } });
  if (r.code !== 0) throw new ToolError(`cibadmin could not stamp crm_feature_set on ${file}: ${r.stderr.trim()}`);
}

/**
 * Set the root's validate-with of a CIB file (cibadmin, as a live cluster's admin would): "none"
 * makes crm_simulate and crm_attribute skip the schema on every update of that file (see
 * failover.ts, where the scenarios' inputs get it).
 */
export async function setValidateWith(file: string, cwd: string, schema: string): Promise<void> {
  const xml = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@_" }).build({ cib: { "@_validate-with": schema } }) as string;
  const r = await runTool("cibadmin", ["--modify", "--xml-text", xml], { cwd, env: { CIB_file: path.resolve(cwd, file) } });
  if (r.code !== 0) throw new ToolError(`cibadmin could not set validate-with="${schema}" on ${file}: ${r.stderr.trim()}`);
}

/** Set a permanent node attribute in a CIB file (standby=on for maintenance). */
export async function setNodeAttribute(file: string, cwd: string, node: string, name: string, value: string): Promise<void> {
  const r = await runTool("crm_attribute", ["--node", node, "--name", name, "--update", value, "--lifetime", "forever"], { cwd, env: { CIB_file: path.resolve(cwd, file) } });
  if (r.code !== 0) throw new ToolError(`crm_attribute could not set ${name}=${value} on ${node} in ${file}: ${r.stderr.trim()}`);
}

/** Set a transient (status) node attribute in a CIB file, as an agent's crm_master would. */
export async function setTransientAttribute(file: string, cwd: string, node: string, name: string, value: string): Promise<void> {
  const r = await runTool("crm_attribute", ["--node", node, "--name", name, "--update", value, "--lifetime", "reboot"], { cwd, env: { CIB_file: path.resolve(cwd, file) } });
  if (r.code !== 0) throw new ToolError(`crm_attribute could not set ${name}=${value} on ${node} in ${file}: ${r.stderr.trim()}`);
}

export interface VerifyResult {
  ok: boolean;
  /** crm_verify's own lines (errors and warnings), for the report. */
  messages: string[];
}

/** crm_verify on a CIB file that carries a cluster state (a rendered CIB has none: see simulate's nodeUp). */
export async function crmVerify(file: string, cwd: string): Promise<VerifyResult> {
  const r = await runTool("crm_verify", ["--xml-file", file, "-V"], { cwd });
  const messages = `${r.stdout}\n${r.stderr}`
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return { ok: r.code === 0, messages };
}

/**
 * crm_verify on a rendered CIB as the cluster will see it: with every member up (a rendered CIB
 * has no status, and with fencing on crm_verify would warn that members it never saw are unclean).
 * Errors in the document itself make crm_simulate or crm_verify refuse it: both count as not ok.
 */
export async function verifyCib(cibXml: string, members: string[]): Promise<VerifyResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "haha-verify-"));
  try {
    await fs.writeFile(path.join(dir, "cib.xml"), cibXml);
    const args = ["-x", "cib.xml", "-q", "1", "--save-output", "up.xml", ...members.flatMap((m) => ["--node-up", m])];
    const r = await runTool("crm_simulate", args, { cwd: dir });
    if (r.code !== 0) return { ok: false, messages: `${r.stdout}\n${r.stderr}`.split("\n").map((l) => l.trim()).filter(Boolean) };
    return await crmVerify("up.xml", dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// crm_simulate --output-as=xml

export type Role = "Started" | "Stopped" | "Promoted" | "Unpromoted" | "Starting" | "Stopping" | "Unknown";

export interface Instance {
  /** Primitive id (clone instances share it). */
  id: string;
  /** Top-level resource it belongs to (clone or group id, or itself). */
  top: string;
  node?: string;
  role: Role;
  failed: boolean;
  blocked: boolean;
  managed: boolean;
}

export interface NodeState {
  name: string;
  online: boolean;
  standby: boolean;
  unclean: boolean;
}

export interface ClusterState {
  nodes: NodeState[];
  instances: Instance[];
}

export interface ScheduledAction {
  /** start, stop, move, recover, promote, demote, Fence (reboot), ... */
  action: string;
  resource?: string;
  node?: string;
  source?: string;
  dest?: string;
  reason?: string;
  blocked: boolean;
}

export interface TransitionStep {
  kind: "fencing" | "resource" | "pseudo";
  /** e.g. "start", "stop", "monitor", "reboot" */
  op: string;
  resource?: string;
  node?: string;
  intervalMs?: number;
  /** pseudo actions: the task key, e.g. "clone_running_0" */
  task?: string;
}

export interface SimOutput {
  code: number;
  before: ClusterState;
  after: ClusterState;
  actions: ScheduledAction[];
  transition: TransitionStep[];
  /** Fencing the transition executed: target node names. */
  fenced: string[];
}

const ARRAYS = new Set(["node", "resource", "clone", "group", "bundle", "rsc_action", "node_action", "pseudo_action", "fencing_action", "synapse", "trigger", "rsc_op", "pseudo_event", "crm_event", "modify_node", "inject_spec", "inject_attr"]);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name, _jpath, _leaf, isAttribute) => !isAttribute && ARRAYS.has(name), parseAttributeValue: false });
const resultParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  isArray: (name, _jpath, _leaf, isAttribute) => !isAttribute && ARRAYS.has(name),
  parseAttributeValue: false,
  stopNodes: ["pacemaker-result.transition"],
});

type Attrs = Record<string, string | undefined>;
type RawResource = Attrs & { node?: Attrs[] };
type RawClone = Attrs & { resource?: RawResource[]; group?: RawGroup[] };
type RawGroup = Attrs & { resource?: RawResource[] };
type RawStatus = { nodes?: { node?: Attrs[] }; resources?: { resource?: RawResource[]; clone?: RawClone[]; group?: RawGroup[] } };

const truthy = (v: string | undefined) => v === "true" || v === "1";

export function normalizeRole(r: string | undefined): Role {
  switch (r) {
    case "Master":
    case "Promoted":
      return "Promoted";
    case "Slave":
    case "Unpromoted":
      return "Unpromoted";
    case "Started":
    case "Stopped":
    case "Starting":
    case "Stopping":
      return r;
    default:
      return "Unknown";
  }
}

function instancesOf(r: RawResource, top: string): Instance[] {
  const base = { id: r.id ?? "", top, role: normalizeRole(r.role), failed: truthy(r.failed), blocked: truthy(r.blocked), managed: r.managed !== "false" };
  const nodes = r.node ?? [];
  if (nodes.length === 0) return [{ ...base, role: base.role === "Unknown" ? "Stopped" : base.role }];
  return nodes.map((n) => ({ ...base, node: n.name }));
}

function parseStatus(s: RawStatus | undefined): ClusterState {
  const nodes = (s?.nodes?.node ?? []).map((n) => ({ name: n.name ?? "", online: truthy(n.online), standby: truthy(n.standby), unclean: truthy(n.unclean) }));
  const instances: Instance[] = [];
  const res = s?.resources;
  for (const r of res?.resource ?? []) instances.push(...instancesOf(r, r.id ?? ""));
  for (const g of res?.group ?? []) for (const r of g.resource ?? []) instances.push(...instancesOf(r, g.id ?? ""));
  for (const c of res?.clone ?? []) {
    for (const r of c.resource ?? []) instances.push(...instancesOf(r, c.id ?? ""));
    for (const g of c.group ?? []) for (const r of g.resource ?? []) instances.push(...instancesOf(r, c.id ?? ""));
  }
  return { nodes, instances };
}

export function parseSimOutput(xml: string, code: number): SimOutput {
  const doc = resultParser.parse(xml) as { "pacemaker-result"?: Record<string, unknown> };
  const root = doc["pacemaker-result"];
  if (!root) throw new ToolError(`crm_simulate did not return a pacemaker-result document: ${xml.slice(0, 200)}`);
  const status = root.status as Attrs | undefined;
  const before = parseStatus(root.cluster_status as RawStatus | undefined);
  const after = root.revised_cluster_status ? parseStatus(root.revised_cluster_status as RawStatus) : before;
  const acts = (root.actions ?? {}) as { rsc_action?: Attrs[]; node_action?: Attrs[] };
  const actions: ScheduledAction[] = [
    ...(acts.node_action ?? []).map((a) => ({ action: a.task ?? "", node: a.node, reason: a.reason, blocked: truthy(a.blocked) })),
    ...(acts.rsc_action ?? []).map((a) => ({ action: a.action ?? "", resource: a.resource, node: a.node, source: a.source, dest: a.dest, reason: a.reason, blocked: truthy(a.blocked) })),
  ];
  // The transition's children in document order are the execution order; fast-xml-parser groups
  // them by tag, so read them with preserveOrder from the same text.
  const transition = parseTransition(xml);
  const fenced = transition.filter((t) => t.kind === "fencing").map((t) => t.node ?? "");
  if (status?.code !== undefined && status.code !== "0" && code === 0) code = Number(status.code);
  return { code, before, after, actions, transition, fenced };
}

// Each parser skips what the other reads (stopNodes: kept as unparsed text): the ordered one is
// only for the transition, the status sections are most of the document (on 9 hosts, 10 ms a run).
const orderedParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  preserveOrder: true,
  stopNodes: ["pacemaker-result.cluster_status", "pacemaker-result.revised_cluster_status", "pacemaker-result.actions"],
});

type Ordered = Record<string, unknown> & { ":@"?: Attrs };

function parseTransition(xml: string): TransitionStep[] {
  const doc = orderedParser.parse(xml) as Ordered[];
  const find = (list: Ordered[], tag: string): Ordered[] => {
    for (const n of list) if (tag in n) return n[tag] as Ordered[];
    return [];
  };
  const transition = find(find(doc, "pacemaker-result"), "transition");
  const steps: TransitionStep[] = [];
  for (const n of transition) {
    const a = n[":@"] ?? {};
    if ("fencing_action" in n) steps.push({ kind: "fencing", op: a.op ?? "reboot", node: a.target });
    else if ("rsc_action" in n) steps.push({ kind: "resource", op: a.op ?? "", resource: a.resource, node: a.node, intervalMs: a.interval ? Number(a.interval) : undefined });
    else if ("pseudo_action" in n) steps.push({ kind: "pseudo", op: "pseudo", task: a.task });
  }
  return steps;
}

export function describeStep(t: TransitionStep): string {
  if (t.kind === "fencing") return `fence (${t.op}) ${t.node}`;
  if (t.kind === "pseudo") return `pseudo ${t.task}`;
  return `${t.op}${t.intervalMs ? ` every ${t.intervalMs / 1000}s` : ""} ${t.resource} on ${t.node}`;
}

// ---------------------------------------------------------------------------------------------
// the transition graph (-G)

export interface GraphAction {
  id: string;
  kind: "rsc_op" | "pseudo_event" | "crm_event";
  operation: string;
  key: string;
  /** Primitive id for rsc_op (clone instances: the primitive, not the instance number). */
  resource?: string;
  node?: string;
  intervalMs: number;
  inputs: string[];
}

export function parseGraph(xml: string): GraphAction[] {
  const doc = parser.parse(xml) as { transition_graph?: { synapse?: Record<string, unknown>[] } };
  const out: GraphAction[] = [];
  for (const syn of doc.transition_graph?.synapse ?? []) {
    const set = (syn.action_set ?? {}) as Record<string, (Attrs & { primitive?: Attrs; attributes?: Attrs })[]>;
    const triggers = ((syn.inputs as { trigger?: Record<string, Attrs[]>[] } | undefined)?.trigger ?? []).flatMap((t) =>
      ["rsc_op", "pseudo_event", "crm_event"].flatMap((k) => (t[k] ?? []).map((x) => x.id ?? "")),
    );
    for (const kind of ["rsc_op", "pseudo_event", "crm_event"] as const) {
      for (const a of set[kind] ?? []) {
        const interval = a.attributes?.CRM_meta_interval;
        out.push({
          id: a.id ?? "",
          kind,
          operation: a.operation ?? "",
          key: a.operation_key ?? "",
          resource: a.primitive?.id,
          node: a.on_node,
          intervalMs: interval ? Number(interval) : 0,
          inputs: triggers,
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export interface SimulateArgs {
  /** CIB file to start from (relative to the working directory). */
  input: string;
  /** Where to save the resulting CIB (state after the transition). */
  output: string;
  graph: string;
  quorum: boolean;
  nodeUp?: string[];
  nodeFail?: string[];
  /** crm_simulate op injections: `${rsc}_${op}_${intervalMs}@${node}=${rc}`. */
  inject?: string[];
  watchdog?: boolean;
  /** ISO 8601 "now" for the scheduler; absent: the wall clock (which crm_simulate stamps injected failures with). */
  datetime?: string;
  /** false: apply the modifications (node up, ...) and save, without executing the transition. */
  execute?: boolean;
}

export interface Simulation {
  out: SimOutput;
  graph: GraphAction[];
  /** The raw XML crm_simulate printed. */
  xml: string;
  /** What it printed on stderr (a refused CIB: the schema's complaints). */
  stderr: string;
  args: string[];
}

/** Run `crm_simulate -S` (execute the transition) and read its result, graph and saved state. */
export async function simulate(cwd: string, a: SimulateArgs): Promise<Simulation> {
  const args = ["-x", a.input, ...(a.execute === false ? [] : ["-S"]), "--output-as=xml", "-q", a.quorum ? "1" : "0", ...(a.datetime ? ["-t", a.datetime] : []), "--save-output", a.output, "-G", a.graph];
  if (a.watchdog) args.push("-w", "1");
  for (const n of a.nodeUp ?? []) args.push("--node-up", n);
  for (const n of a.nodeFail ?? []) args.push("--node-fail", n);
  for (const i of a.inject ?? []) args.push("--op-inject", i);
  const r = await runTool("crm_simulate", args, { cwd });
  if (!r.stdout.includes("<pacemaker-result")) throw new ToolError(`crm_simulate ${args.join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  const out = parseSimOutput(r.stdout, r.code);
  let graph: GraphAction[] = [];
  try {
    graph = parseGraph(await fs.readFile(path.join(cwd, a.graph), "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  return { out, graph, xml: r.stdout, stderr: r.stderr, args };
}
