// `npm run bench`: the offline plan's speed, each run a fresh process as a user runs it, in one
// table against the targets of issue 12: the prod stack (<= 3 s), a generated 9-host stack against
// a generated 3-host one (<= 3x), the compare of two revisions (<= 10 s): the work tree against
// HEAD, and a change of the cluster (every scenario simulated for both revisions) in a scratch
// repository. Each figure cold (HAHA_PLAN_CACHE=off: every crm_simulate scenario runs) and warm
// (the failover report of an unchanged cluster comes from node_modules/.cache/haha-plan), the
// median of BENCH_RUNS runs (default 3).
// Wall time is only a figure on a quiet machine: each figure carries the load average seen while
// it was measured, and the CPU time of the whole process tree (the plan and every tool it ran),
// which load does not inflate much. On N cores a run's wall time cannot be below CPU / N.
// Below the table: where the cold prod plan's time goes, phase by phase (HAHA_PLAN_TIMING).
// Timings belong here, never in a test.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { editStack, projectRepo } from "../plan/compare/sample";
import type { Timing } from "../plan/timing";
import { generatedRaw } from "../test/helpers/stacks";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CORES = os.availableParallelism();
const QUIET = 0.5;
const created: string[] = [];

function tmp(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

function stackFile(name: string, raw: Record<string, unknown>): string {
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) config[`haha:${k}`] = v;
  const file = path.join(tmp("haha-bench-"), `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, stringify({ config }));
  return file;
}

/** CPU time (user + sys, ms) of the children this process has waited for: each spawnSync's whole tree. */
function childrenCpuMs(): number {
  const stat = fs.readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) * 10;
}

interface Figure {
  wallS: number[];
  cpuS: number[];
  load: number[];
  exit: number | null;
  timings: Timing[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  label: string;
  args: string[];
  cwd: string;
  cli: string;
  target?: string;
}

function measure(row: Row, cache: boolean, timingDir: string): Figure {
  const env = { ...process.env, HAHA_PLAN_CACHE: cache ? "on" : "off" };
  const run = (extra: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, ["--import", "tsx", row.cli, ...row.args], { cwd: row.cwd, env: { ...env, ...extra }, encoding: "utf8" });
  // Warm: one run first fills the cache.
  if (cache) run();
  const fig: Figure = { wallS: [], cpuS: [], load: [], exit: null, timings: [] };
  for (let i = 0; i < RUNS; i++) {
    const timingFile = path.join(timingDir, `${row.label.replace(/\W+/g, "-")}-${cache ? "warm" : "cold"}-${i}.json`);
    const load = os.loadavg()[0]!;
    const c0 = childrenCpuMs();
    const t0 = process.hrtime.bigint();
    const r = run({ HAHA_PLAN_TIMING: timingFile });
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (childrenCpuMs() - c0) / 1000;
    fig.wallS.push(wall);
    fig.cpuS.push(cpu);
    fig.load.push(Math.max(load, os.loadavg()[0]!));
    fig.exit = r.status;
    if (r.status !== 0 && r.status !== 1) throw new Error(`${row.label}: the plan exited ${r.status}:\n${r.stdout}${r.stderr}`);
    if (fs.existsSync(timingFile)) fig.timings.push(JSON.parse(fs.readFileSync(timingFile, "utf8")) as Timing);
    process.stderr.write(`  ${row.label} (${cache ? "warm" : "cold"}) run ${i + 1}/${RUNS}: ${wall.toFixed(2)} s wall, ${cpu.toFixed(2)} s cpu, load ${fig.load.at(-1)!.toFixed(2)}, exit ${r.status}\n`);
  }
  return fig;
}

function cell(f: Figure): string {
  const loaded = Math.max(...f.load) > QUIET;
  return `${median(f.wallS).toFixed(2)} s${loaded ? "!" : " "} cpu ${median(f.cpuS).toFixed(1)} s load ${Math.min(...f.load).toFixed(1)}-${Math.max(...f.load).toFixed(1)}`;
}

function verdict(f: Figure, limitS: number): string {
  const wall = median(f.wallS);
  const floor = median(f.cpuS) / CORES;
  if (Math.max(...f.load) <= QUIET) return wall <= limitS ? "met" : "MISSED";
  return floor > limitS ? "MISSED (cpu/cores alone is over)" : "not valid (loaded)";
}

function phaseTable(timings: Timing[]): string[] {
  if (timings.length === 0) return ["  (no timings: the plan wrote no HAHA_PLAN_TIMING file)"];
  const names = timings[0]!.phases.map((p) => p.phase);
  const lines = [`  ${"phase".padEnd(30)} ${"wall".padStart(7)} ${"cpu".padStart(7)} ${"tools' cpu".padStart(11)}   (medians of ${timings.length} runs; cpu: the plan's threads, tools': crm_simulate & co.)`];
  const ms = (xs: (number | undefined)[]) => (xs.some((x) => x === undefined) ? "-" : `${(median(xs as number[]) / 1000).toFixed(2)}s`);
  for (const n of names) {
    const ps = timings.map((t) => t.phases.find((p) => p.phase === n));
    lines.push(`  ${n.padEnd(30)} ${ms(ps.map((p) => p?.wallMs)).padStart(7)} ${ms(ps.map((p) => p?.cpuMs)).padStart(7)} ${ms(ps.map((p) => p?.childCpuMs)).padStart(11)}`);
  }
  lines.push(`  ${"total".padEnd(30)} ${ms(timings.map((t) => t.totalWallMs)).padStart(7)} ${ms(timings.map((t) => t.totalCpuMs)).padStart(7)} ${ms(timings.map((t) => t.totalChildCpuMs)).padStart(11)}`);
  // When the simulation started and ended against the plan's own work (plan/early.ts hands it over
  // before the program's modules load): the overlap that the wall time rests on.
  for (const mark of timings[0]!.marks.map((m) => m.mark)) {
    const at = timings.map((t) => t.marks.find((m) => m.mark === mark)?.atMs);
    lines.push(`  at ${ms(at).padStart(6)}: ${mark}`);
  }
  return lines;
}

function main(): void {
  const out = tmp("haha-bench-out-");
  const timingDir = tmp("haha-bench-timing-");
  const nine = stackFile("nine", generatedRaw(9));
  const three = stackFile("three", generatedRaw(3));
  // A scratch copy of the project with a change of the cluster in its work tree: the CIB differs
  // between the revisions, so both plans simulate every scenario.
  const repo = tmp("haha-bench-repo-");
  projectRepo(repo);
  editStack(repo, (c) => {
    const d = (c["haha:cluster"] as { defaults: { resourceStickiness: number } }).defaults;
    d.resourceStickiness += 100;
  });
  const cli = path.join(ROOT, "plan/cli.ts");
  const rows: Row[] = [
    { label: "prod (3 hosts)", args: ["--stack", "prod", "--out", out], cwd: ROOT, cli, target: "<= 3 s" },
    { label: "generated 3", args: ["--config", three, "--out", out], cwd: ROOT, cli },
    { label: "generated 9", args: ["--config", nine, "--out", out], cwd: ROOT, cli },
    { label: "compare HEAD", args: ["--stack", "prod", "--compare", "HEAD", "--out", out], cwd: ROOT, cli, target: "<= 10 s" },
    { label: "compare, CIB changed", args: ["--stack", "prod", "--compare", "main", "--out", path.join(repo, "build")], cwd: repo, cli: path.join(repo, "plan/cli.ts"), target: "<= 10 s" },
  ];
  // BENCH_ROWS=prod,compare: only the rows whose label starts with one of these (quick checks).
  const only = process.env.BENCH_ROWS?.split(",").map((x) => x.trim()).filter(Boolean);
  if (only) rows.splice(0, rows.length, ...rows.filter((r) => only.some((o) => r.label.startsWith(o))));
  const head = `${CORES} cores, node ${process.version}, ${RUNS} runs each`;
  console.error(`offline plan benchmark: ${head}, load at start ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const results = rows.map((row) => ({ row, cold: measure(row, false, timingDir), warm: measure(row, true, timingDir) }));
  const resources = (dir: string): number => JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")).resources.length as number;

  const w = 44;
  console.log(`offline plan (median of ${RUNS}; ${head}; "!": measured at load > ${QUIET}, its wall time is not a valid figure)`);
  console.log(`${"".padEnd(22)} ${"cold (HAHA_PLAN_CACHE=off)".padEnd(w)} ${"warm (failover cache)".padEnd(w)} target: cold / warm`);
  for (const r of results) {
    const limit = r.row.target ? Number(/[\d.]+/.exec(r.row.target)![0]) : undefined;
    const t = limit === undefined ? "" : `${r.row.target}: ${verdict(r.cold, limit)} / ${verdict(r.warm, limit)}`;
    console.log(`${r.row.label.padEnd(22)} ${cell(r.cold).padEnd(w)} ${cell(r.warm).padEnd(w)} ${t}`);
  }
  const g3 = results.find((r) => r.row.label === "generated 3");
  const g9 = results.find((r) => r.row.label === "generated 9");
  if (g3 && g9) {
    const ratio = (k: "wallS" | "cpuS", m: "cold" | "warm") => (median(g9[m][k]) / median(g3[m][k])).toFixed(2);
    console.log(`9 hosts / 3 hosts (target <= 3x): wall cold ${ratio("wallS", "cold")}x, warm ${ratio("wallS", "warm")}x; cpu cold ${ratio("cpuS", "cold")}x, warm ${ratio("cpuS", "warm")}x`);
    console.log(`resources: 3 hosts ${resources(path.join(out, "three"))}, 9 hosts ${resources(path.join(out, "nine"))}`);
  }
  console.log(`on ${CORES} cores a run takes at least cpu / ${CORES} of wall time: a cold figure whose cpu / ${CORES} is over its target misses it on any load`);
  const toolsRun = (f: Figure) => {
    const tools = f.timings[0]?.tools ?? {};
    if (Object.keys(tools).length > 0) console.log(`  tools run: ${Object.entries(tools).map(([n, t]) => `${n} x${t.runs}`).join(", ")}`);
  };
  const prod = results.find((r) => r.row.label.startsWith("prod"));
  if (prod) {
    console.log(`\nwhere the cold prod plan's time goes:`);
    for (const l of phaseTable(prod.cold.timings)) console.log(l);
    toolsRun(prod.cold);
    console.log(`where the warm prod plan's time goes:`);
    for (const l of phaseTable(prod.warm.timings)) console.log(l);
  }
  // The 9-host ratio: the tools' share grows with the cluster (more scenarios, larger states).
  if (g9) {
    console.log(`where the cold 9-host plan's time goes:`);
    for (const l of phaseTable(g9.cold.timings)) console.log(l);
    toolsRun(g9.cold);
  }
}

try {
  main();
} finally {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
}
