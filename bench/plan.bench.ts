// `npm run bench`: wall time of the offline plan (median of several runs, each a fresh process
// as a user runs it) and resource count, for the prod stack and a generated 9-host stack.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { generatedRaw } from "../test/helpers/stacks";

const ROOT = path.resolve(__dirname, "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function stackFile(name: string, raw: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-bench-"));
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) config[`haha:${k}`] = v;
  const file = path.join(dir, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, stringify({ config }));
  return file;
}

function bench(label: string, file: string, stack: string): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "haha-bench-out-"));
  const times: number[] = [];
  let status: number | null = null;
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--config", file, "--out", out], { cwd: ROOT, encoding: "utf8" });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    status = r.status;
  }
  times.sort((a, b) => a - b);
  const resources = JSON.parse(fs.readFileSync(path.join(out, stack, "resources.json"), "utf8")).resources.length;
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`${label.padEnd(16)} resources ${String(resources).padStart(5)}   median ${(median / 1000).toFixed(2)} s   min ${(times[0]! / 1000).toFixed(2)} s   max ${(times[times.length - 1]! / 1000).toFixed(2)} s   exit ${status}   (${RUNS} runs)`);
}

console.log(`offline plan wall time (${os.cpus().length} cores, node ${process.version})`);
bench("prod (3 hosts)", path.join(ROOT, "Pulumi.prod.yaml"), "prod");
bench("generated 9", stackFile("nine", generatedRaw(9)), "nine");
