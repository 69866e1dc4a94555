// Where a plan's time goes, phase by phase: wall time, this process's CPU time (user + sys) and
// the CPU time of the tools it ran (crm_simulate, ...: the children it has waited for, from
// /proc/self/stat). On a shared machine wall time says little; CPU time says what the plan costs.
// HAHA_PLAN_TIMING=FILE writes the phases as JSON to FILE (the benchmark reads it), =1 prints them
// to stderr. Off by default: a plan's output never carries timings.
import * as fs from "node:fs";
import * as os from "node:os";
import { performance } from "node:perf_hooks";

export interface Phase {
  phase: string;
  wallMs: number;
  /** This process (user + sys). */
  cpuMs: number;
  /** Children waited for (user + sys); undefined where /proc is absent. */
  childCpuMs?: number;
}

export interface Timing {
  /** From the process's start (node, tsx, module loading count as "start-up"). */
  phases: Phase[];
  totalWallMs: number;
  totalCpuMs: number;
  totalChildCpuMs?: number;
  /** Tool runs by name (the worker thread's included): how many, and their summed wall time (concurrent runs overlap). */
  tools: Record<string, { runs: number; wallMs: number }>;
  /** Moments (ms from the process's start), e.g. when the failover worker got its job and answered. */
  marks: { mark: string; atMs: number }[];
  loadavg: number[];
}

// Clock ticks per second of /proc/<pid>/stat: 100 on every Linux that node runs on (USER_HZ).
const TICKS = 100;

/** CPU time of the children this process has waited for, in ms (Linux); undefined elsewhere. */
function childCpuMs(): number | undefined {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    // The command name (field 2) may hold spaces: fields are counted after its closing paren.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 (cutime, cstime) are f[13] and f[14] once pid and comm are cut off.
    return ((Number(f[13]) + Number(f[14])) * 1000) / TICKS;
  } catch {
    return undefined;
  }
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const enabled = process.env.HAHA_PLAN_TIMING !== undefined && process.env.HAHA_PLAN_TIMING !== "" && process.env.HAHA_PLAN_TIMING !== "0";
const phases: Phase[] = [];
const tools: Timing["tools"] = {};
const marks: Timing["marks"] = [];
// The process started before this module loaded: the first phase runs from there.
let last = { wall: 0, cpu: 0, child: childCpuMs() === undefined ? undefined : 0 };

/** Close the current phase under `name` (the first one runs from the process's start). */
export function phase(name: string): void {
  if (!enabled) return;
  const now = { wall: performance.now(), cpu: cpuMs(), child: childCpuMs() };
  phases.push({ phase: name, wallMs: now.wall - last.wall, cpuMs: now.cpu - last.cpu, childCpuMs: now.child === undefined || last.child === undefined ? undefined : now.child - last.child });
  last = now;
}

/** Count one run of a tool and its wall time. */
export function toolRun(name: string, wallMs: number): void {
  if (!enabled) return;
  const t = (tools[name] ??= { runs: 0, wallMs: 0 });
  t.runs++;
  t.wallMs += wallMs;
}

/** Note a moment (this thread's clock: call it on the main thread). */
export function mark(name: string): void {
  if (enabled) marks.push({ mark: name, atMs: performance.now() });
}

/** This thread's tool counts (a worker sends them to the main thread). */
export function toolCounts(): Timing["tools"] {
  return tools;
}

/** Add another thread's tool counts. */
export function addToolCounts(other: Timing["tools"] | undefined): void {
  for (const [name, t] of Object.entries(other ?? {})) {
    const mine = (tools[name] ??= { runs: 0, wallMs: 0 });
    mine.runs += t.runs;
    mine.wallMs += t.wallMs;
  }
}

export function timing(): Timing {
  const sum = (k: "wallMs" | "cpuMs") => phases.reduce((s, p) => s + p[k], 0);
  const child = phases.every((p) => p.childCpuMs !== undefined) ? phases.reduce((s, p) => s + p.childCpuMs!, 0) : undefined;
  return { phases, totalWallMs: sum("wallMs"), totalCpuMs: sum("cpuMs"), totalChildCpuMs: child, tools, marks, loadavg: os.loadavg() };
}

/** Write (HAHA_PLAN_TIMING=FILE) or print (=1) the phases; nothing when timing is off. */
export function reportTiming(): void {
  if (!enabled) return;
  const t = timing();
  const target = process.env.HAHA_PLAN_TIMING!;
  if (target !== "1") {
    fs.writeFileSync(target, JSON.stringify(t, null, 2) + "\n");
    return;
  }
  const ms = (n: number | undefined) => (n === undefined ? "-" : `${(n / 1000).toFixed(2)}s`);
  process.stderr.write(`plan timing (load ${t.loadavg.map((l) => l.toFixed(2)).join(" ")}):\n`);
  for (const p of t.phases) process.stderr.write(`  ${p.phase.padEnd(28)} wall ${ms(p.wallMs).padStart(7)}  cpu ${ms(p.cpuMs).padStart(7)}  tools' cpu ${ms(p.childCpuMs).padStart(7)}\n`);
  process.stderr.write(`  ${"total".padEnd(28)} wall ${ms(t.totalWallMs).padStart(7)}  cpu ${ms(t.totalCpuMs).padStart(7)}  tools' cpu ${ms(t.totalChildCpuMs).padStart(7)}\n`);
  for (const m of t.marks) process.stderr.write(`  at ${ms(m.atMs)}: ${m.mark}\n`);
  for (const [name, r] of Object.entries(t.tools)) process.stderr.write(`  ${name}: ${r.runs} runs, ${ms(r.wallMs)} summed wall\n`);
}
