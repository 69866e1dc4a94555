// The plan of one stack (DESIGN.md section 3, steps 1 to 6), once plan/cli.ts has read the
// arguments: validate the config, run the program under mocks and record it, mirror the files,
// run the policies and the failover simulation, print the summary and write report.html.
import * as fs from "node:fs";
import * as path from "node:path";
import { stackCibModel } from "../components/pacemaker/cib/stack";
import { readStackFile } from "../stacks/config/file";
import { ConfigError, formatProblem, missingSecrets, parseConfig } from "../stacks/config/validate";
import type { Options } from "./cli";
import { type EarlyStart, earlyFor } from "./early";
import { runFailover, startFailover } from "./failover";
import { hostFiles, mirrorFiles, renderedCib, writeJson } from "./files";
import { runProgram } from "./mocks";
import { runPolicies } from "./policy";
import { writeReport } from "./report";
import { layerCounts } from "./summary";
import { phase, reportTiming } from "./timing";
import type { PlanContext, StepResult } from "./types";

/** Exit 0 fine, 1 unsafe, 2 invalid config. */
export async function planStack(opts: Options, log: (line: string) => void, pre?: EarlyStart): Promise<number> {
  // 1. Validate before anything is declared.
  let stackFile, config;
  try {
    stackFile = readStackFile(opts.file);
    const source = path.relative(process.cwd(), opts.file) || opts.file;
    config = parseConfig(stackFile.raw, source);
    const missing = missingSecrets(config, stackFile.secretsSet);
    if (missing.length > 0) throw new ConfigError(source, missing);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    log(`plan: ${e.source}: the stack config is invalid (${e.problems.length} problem${e.problems.length === 1 ? "" : "s"}):`);
    for (const p of e.problems) log(`  - ${formatProblem(p)}`);
    return 2;
  }
  phase("config validation");
  // crm_simulate starts on the CIB config renders while the program runs (failover.ts): started
  // by plan/cli.ts before the program's modules loaded (plan/early.ts), or now.
  const early = (await earlyFor(pre, config)) ?? startFailover(config, stackCibModel);

  // 2. Run the real program under mocks and record it.
  const run = await runProgram(opts.stack, stackFile, opts.preview);
  phase("program under mocks");
  clearPlanOutputs(opts.outDir);
  writeJson(path.join(opts.outDir, "resources.json"), { stack: opts.stack, mode: opts.preview ? "preview" : "update", resources: run.resources });

  // 3. Mirror every file a host would receive, and the CIB.
  const files = hostFiles(run.resources);
  mirrorFiles(opts.outDir, files);
  const cib = renderedCib(files);
  if (cib !== undefined) fs.writeFileSync(path.join(opts.outDir, "cib.xml"), cib);
  phase("record and mirror files");

  // 4. Policies, 5. failover simulation.
  const ctx: PlanContext = { stack: opts.stack, config, outDir: opts.outDir, resources: run.resources };
  const policy = runPolicies(ctx);
  phase("policies");
  const failover: StepResult = cib !== undefined ? await runFailover(ctx, cib, early) : { ok: false, summary: ["failover: no CIB was rendered (no host file at /etc/haha/cib.xml)"] };

  phase("failover (waiting for it)");

  // 6. Summary.
  const hosts = [...new Set(files.map((f) => f.host))];
  log(`HAHA plan of stack "${opts.stack}" (${opts.preview ? "preview" : "update"} mode) -> ${path.relative(process.cwd(), opts.outDir) || "."}`);
  log(`resources: ${run.resources.length} (${layerCounts(run.resources).map(([l, n]) => `${l} ${n}`).join(", ")})`);
  log(`files: ${files.length} on ${hosts.length} hosts (${files.filter((f) => f.secret).length} holding secrets, shown as <secret:NAME>)`);
  for (const line of policy.summary) log(line);
  for (const line of failover.summary) log(line);
  const ok = policy.ok && failover.ok;
  log(ok ? "result: safe to apply (exit 0)" : "result: UNSAFE, see above (exit 1)");
  log(`report: ${writeReport(ctx)}`);
  phase("summary and report.html");
  reportTiming();
  return ok ? 0 : 1;
}

/** What a plan writes into its output directory: a plan replaces these and nothing else. */
export const PLAN_OUTPUTS = ["resources.json", "cib.xml", "hosts", "failover", "policy-report.json", "report.html"] as const;

/**
 * Remove the previous plan's outputs, not the directory: `--out` may name a directory that holds
 * more (a lab's state and cache lived in build/lab-vm, and a plan of stack lab-vm wiped it).
 */
export function clearPlanOutputs(outDir: string): void {
  for (const f of PLAN_OUTPUTS) fs.rmSync(path.join(outDir, f), { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
}
