// `npm run bench`: wall time of the offline plan, each run a fresh process as a user runs it, in
// one table: the prod stack, a generated 9-host stack (and its ratio to the 3-host one), and the
// compare of two revisions (HEAD and the work tree). Each is measured cold (HAHA_PLAN_CACHE=off:
// every crm_simulate scenario runs) and warm (the failover report of an unchanged cluster comes
// from node_modules/.cache/haha-plan). Medians of BENCH_RUNS runs (default 3). Timings belong
// here, never in a test; on a shared machine compare the columns of one run, not absolute figures.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { generatedRaw } from "../test/helpers/stacks";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
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

interface Figure {
  medianS: number;
  minS: number;
  maxS: number;
  exit: number | null;
}

function measure(args: string[], cache: boolean): Figure {
  const times: number[] = [];
  let exit: number | null = null;
  const env = { ...process.env, HAHA_PLAN_CACHE: cache ? "on" : "off" };
  // Warm: one run first fills the cache.
  if (cache) spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), ...args], { cwd: ROOT, env, encoding: "utf8" });
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), ...args], { cwd: ROOT, env, encoding: "utf8" });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    exit = r.status;
    process.stderr.write(`  ${args.join(" ")} (${cache ? "warm" : "cold"}) run ${i + 1}/${RUNS}: ${times.at(-1)!.toFixed(2)} s, exit ${exit}\n`);
  }
  times.sort((a, b) => a - b);
  return { medianS: times[Math.floor(times.length / 2)]!, minS: times[0]!, maxS: times.at(-1)!, exit };
}

const s = (f: Figure) => `${f.medianS.toFixed(2)} s (${f.minS.toFixed(2)}-${f.maxS.toFixed(2)}, exit ${f.exit})`;

function main(): void {
  const out = tmp("haha-bench-out-");
  const nine = stackFile("nine", generatedRaw(9));
  const three = stackFile("three", generatedRaw(3));
  const rows: [string, string[], number?][] = [
    ["prod (3 hosts)", ["--stack", "prod", "--out", out], 3],
    ["generated 3", ["--config", three, "--out", out]],
    ["generated 9", ["--config", nine, "--out", out]],
    ["compare HEAD", ["--stack", "prod", "--compare", "HEAD", "--out", out]],
  ];
  console.error(`offline plan wall time: ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, node ${process.version}, ${RUNS} runs each`);
  const results = rows.map(([label, args]) => ({ label, cold: measure(args, false), warm: measure(args, true) }));
  const resources = (stack: string) => JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")).resources.length as number;
  console.log(`offline plan wall time (median of ${RUNS}; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, node ${process.version})`);
  console.log(`${"".padEnd(16)} ${"cold (HAHA_PLAN_CACHE=off)".padEnd(34)} ${"warm (failover cache)".padEnd(34)} target`);
  const target: Record<string, string> = { "prod (3 hosts)": "<= 3 s", "compare HEAD": "<= 10 s" };
  for (const r of results) console.log(`${r.label.padEnd(16)} ${s(r.cold).padEnd(34)} ${s(r.warm).padEnd(34)} ${target[r.label] ?? ""}`);
  const g3 = results.find((r) => r.label === "generated 3")!;
  const g9 = results.find((r) => r.label === "generated 9")!;
  console.log(`9 hosts / 3 hosts: cold ${(g9.cold.medianS / g3.cold.medianS).toFixed(2)}x, warm ${(g9.warm.medianS / g3.warm.medianS).toFixed(2)}x (target <= 3x); resources: prod ${resources("prod")}, 3 hosts ${resources("three")}, 9 hosts ${resources("nine")}`);
}

try {
  main();
} finally {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
}
