// `npm run plan -- --stack prod` : the offline plan (DESIGN.md section 3). Runs the real program
// under Pulumi's mock runtime, records and mirrors what it would deploy, runs the policy pack and
// the failover simulation, prints a summary. Exit 0 fine, 1 unsafe, 2 invalid input or usage,
// 3 internal error (a bug in HAHA, not in the stack).
// First: stands in for SDK modules the plan never uses (see lazy-sdk.ts).
import "./lazy-sdk";
// Second: starts the failover worker early (see prestart.ts).
import "./prestart";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { readStackFile } from "../stacks/config/load";
import { stackCibModel } from "../components/pacemaker/cib/stack";
import { ConfigError, formatProblem, missingSecrets, parseConfig } from "../stacks/config/validate";
import { CompareUsageError, runCompare } from "./compare";
import { runFailover, startFailover } from "./failover";
import { hostFiles, mirrorFiles, renderedCib, writeJson } from "./files";
import { runProgram } from "./mocks";
import { runPolicies } from "./policy";
import { writeReport } from "./report";
import { layerCounts } from "./summary";
import { phase, reportTiming } from "./timing";
import type { PlanContext, StepResult } from "./types";

export const ROOT = path.resolve(__dirname, "..");
const USAGE = `usage: npm run plan -- (--stack NAME | --config FILE) [--out DIR] [--preview]
  --stack NAME   plan Pulumi.NAME.yaml from the project root
  --config FILE  plan any stack file (the stack is named after Pulumi.<name>.yaml)
  --out DIR      where build/<stack>/ goes (default: build)
  --preview      run the mocks in preview mode (as \`pulumi preview\` would) instead of update mode
  --compare [REF]  plan the git revision REF (default: the merge base with main) and the work tree,
                 and report what the change does (resources, rendered files, policies, failover)
  --format text|markdown  the compare report's format (markdown: one pull-request comment)`;

class UsageError extends Error {}

interface Options {
  stack: string;
  file: string;
  outDir: string;
  preview: boolean;
  /** --compare: null for the default base (the merge base with main). */
  compare?: string | null;
  format: "text" | "markdown";
}

/** `--compare` may stand without its REF (then the merge base with main is the base). */
const COMPARE_DEFAULT = "\0merge-base";

function options(argv: string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv.flatMap((a, i) => (a === "--compare" && (i === argv.length - 1 || argv[i + 1]!.startsWith("--")) ? [a, COMPARE_DEFAULT] : [a])),
      options: {
        stack: { type: "string" },
        config: { type: "string" },
        out: { type: "string" },
        preview: { type: "boolean" },
        compare: { type: "string" },
        format: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) throw new UsageError("");
  if (!!values.stack === !!values.config) throw new UsageError("give exactly one of --stack or --config");
  if (values.stack !== undefined && !/^[A-Za-z0-9_.-]+$/.test(values.stack)) throw new UsageError(`--stack "${values.stack}" is not a stack name`);
  if (values.format !== undefined && values.format !== "text" && values.format !== "markdown") throw new UsageError(`--format "${values.format}": expected text or markdown`);
  if (values.format !== undefined && values.compare === undefined) throw new UsageError("--format applies to --compare only");
  if (values.compare !== undefined && values.preview) throw new UsageError("--compare plans in update mode; drop --preview");
  const file = values.config ? path.resolve(values.config) : path.join(ROOT, `Pulumi.${values.stack}.yaml`);
  const stack = values.stack ?? (/^Pulumi\.(.+)\.ya?ml$/.exec(path.basename(file))?.[1] ?? path.basename(file).replace(/\.ya?ml$/, ""));
  return { stack, file, outDir: path.resolve(values.out ?? path.join(ROOT, "build"), stack), preview: values.preview ?? false, compare: values.compare === undefined ? undefined : values.compare === COMPARE_DEFAULT ? null : values.compare, format: (values.format ?? "text") as Options["format"] };
}

export async function main(argv: string[], log: (line: string) => void = console.log): Promise<number> {
  phase("start-up (node, tsx, imports)");
  let opts: Options;
  try {
    opts = options(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) log(`plan: ${e.message}`);
    log(USAGE);
    return 2;
  }

  if (opts.compare !== undefined) {
    try {
      return await runCompare({ root: ROOT, stack: opts.stack, file: opts.file, ref: opts.compare ?? undefined, format: opts.format, outDir: opts.outDir, log, progress: (l) => console.error(l) });
    } catch (e) {
      if (!(e instanceof CompareUsageError)) throw e;
      log(`plan: ${e.message}`);
      return 2;
    }
  }

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
  // crm_simulate starts on the CIB config renders while the program runs (failover.ts).
  const early = startFailover(config, stackCibModel);

  // 2. Run the real program under mocks and record it.
  const run = await runProgram(opts.stack, stackFile, opts.preview);
  phase("program under mocks");
  fs.rmSync(opts.outDir, { recursive: true, force: true });
  fs.mkdirSync(opts.outDir, { recursive: true });
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

if (require.main === module) {
  process.on("unhandledRejection", (e) => fail(e));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => fail(e),
  );
}

function fail(e: unknown): never {
  if (e instanceof ConfigError) {
    console.log(`plan: ${e.source}: the stack config is invalid:`);
    for (const p of e.problems) console.log(`  - ${formatProblem(p)}`);
    process.exit(2);
  }
  const message = e instanceof Error ? e.message : String(e);
  console.log(`plan: internal error: ${message}`);
  if (process.env.HAHA_DEBUG && e instanceof Error) console.log(e.stack);
  process.exit(3);
}
