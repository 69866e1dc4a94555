// `npm run plan -- --stack prod` : the offline plan (DESIGN.md section 3). Runs the real program
// under Pulumi's mock runtime, records and mirrors what it would deploy, runs the policy pack and
// the failover simulation, prints a summary. Exit 0 fine, 1 unsafe, 2 invalid input or usage,
// 3 internal error (a bug in HAHA, not in the stack).
// First: stands in for SDK modules the plan never uses (see lazy-sdk.ts).
import "./lazy-sdk";
// Second: starts the failover worker early (see prestart.ts).
import "./prestart";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, formatProblem } from "../stacks/config/validate";
import { CompareUsageError, runCompare } from "./compare";
import { phase } from "./timing";

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

export interface Options {
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

  // The failover simulation first, from the stack file alone (plan/early.ts): it runs while the
  // program's modules load.
  const early = (await import("./early")).startEarlyFailover(opts.file);
  // The plan proper, with the program's modules (the Pulumi SDK and every component): loaded only
  // now, so that a --compare, which runs two plans as children, starts them without loading them.
  const { planStack } = await import("./stack-plan");
  phase("start-up (node, tsx, imports)");
  return planStack(opts, log, early);
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
