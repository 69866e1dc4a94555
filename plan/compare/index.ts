// `npm run plan -- --stack prod --compare [REF] [--format text|markdown]`: plans the git revision
// REF (default: the merge base with the main branch) and the work tree with the same code path
// (each revision's own plan/cli.ts, in a fresh process), then reports what the change does.
// REF is exported with `git archive` into a temporary directory that reuses this checkout's
// node_modules through a symlink; nothing in the repository (index, worktrees, refs) is touched.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { comparePlans } from "./diff";
import { loadPlan } from "./load";
import { MARKDOWN_LIMIT, renderFailure, renderMarkdown, renderText, type ReportHeader } from "./render";

export class CompareUsageError extends Error {}

export interface CompareOptions {
  /** The checkout to compare (its work tree is the "after"). */
  root: string;
  stack: string;
  /** The stack file of the work tree; inside `root` it is taken from REF at the same path. */
  file: string;
  /** undefined: the merge base with main. */
  ref?: string;
  format: "text" | "markdown";
  /** Where build/<stack> of the work tree goes (the base's goes to a temporary directory). */
  outDir: string;
  log: (text: string) => void;
  /** Progress lines (stderr), so stdout holds only the report. */
  progress?: (line: string) => void;
}

function git(root: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd: root, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The commit REF names; the default is the merge base of HEAD with main (origin/main in a CI clone). */
export async function resolveRef(root: string, ref: string | undefined): Promise<{ commit: string; label: string }> {
  if (ref !== undefined) {
    const r = await git(root, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    if (r.code !== 0) throw new CompareUsageError(`--compare ${ref}: not a git revision of ${root}`);
    return { commit: r.stdout.trim(), label: `${ref} (${r.stdout.trim().slice(0, 7)})` };
  }
  for (const main of ["main", "origin/main"]) {
    const r = await git(root, ["merge-base", "HEAD", main]);
    if (r.code === 0) return { commit: r.stdout.trim(), label: `merge base with ${main} (${r.stdout.trim().slice(0, 7)})` };
  }
  throw new CompareUsageError("--compare: no REF given and no merge base of HEAD with main or origin/main (fetch main, or name a revision)");
}

/** `git archive REF | tar -x -C dir`: the revision's tree, without touching the repository. */
async function exportRevision(root: string, commit: string, dir: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const archive = spawn("git", ["archive", "--format=tar", commit], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const tar = spawn("tar", ["-x", "-C", dir], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    archive.stderr.on("data", (d) => (err += String(d)));
    tar.stderr.on("data", (d) => (err += String(d)));
    archive.stdout.pipe(tar.stdin);
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new Error(`${what} of ${commit} failed (exit ${code}): ${err.trim()}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    archive.on("close", done("git archive"));
    tar.on("close", done("tar -x"));
  });
  // A revision that committed a node_modules (a symlink escapes .gitignore's `node_modules/`) gets this checkout's.
  fs.rmSync(path.join(dir, "node_modules"), { recursive: true, force: true });
  fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"), "dir");
}

interface PlanRun {
  code: number;
  output: string;
}

/** One revision's own plan, in a fresh process, as a user runs it. */
function runPlan(root: string, args: string[], share: string): Promise<PlanRun> {
  return new Promise((resolve, reject) => {
    // HAHA_PLAN_SHARE: when both revisions have the same failover inputs, one plan simulates them (failover.ts).
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "plan", "cli.ts"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HAHA_PLAN_SHARE: share } });
    let output = "";
    child.stdout.on("data", (d) => (output += String(d)));
    child.stderr.on("data", (d) => (output += String(d)));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 3, output }));
  });
}

function stackArgs(o: CompareOptions, root: string): string[] {
  const rel = path.relative(o.root, o.file);
  const inside = !rel.startsWith("..") && !path.isAbsolute(rel);
  if (inside && rel === `Pulumi.${o.stack}.yaml`) return ["--stack", o.stack];
  return ["--config", inside ? path.join(root, rel) : o.file];
}

/** Run the compare; returns the exit code (the work tree's plan's: 0 safe, 1 unsafe, 2 invalid, 3 internal). */
export async function runCompare(o: CompareOptions): Promise<number> {
  const progress = o.progress ?? (() => {});
  const ref = await resolveRef(o.root, o.ref);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "haha-compare-"));
  try {
    const baseRoot = path.join(tmp, "base");
    fs.mkdirSync(baseRoot);
    await exportRevision(o.root, ref.commit, baseRoot);
    const baseOut = path.join(tmp, "build");
    const baseFile = stackArgs(o, baseRoot);
    if (baseFile[0] === "--config" && !fs.existsSync(baseFile[1]!)) throw new CompareUsageError(`${path.relative(o.root, o.file)} does not exist at ${ref.label}`);
    progress(`compare: planning ${ref.label} and the work tree of stack "${o.stack}"`);
    // Both plans at once: each spends much of its time waiting on crm_simulate.
    const share = path.join(tmp, "share");
    const [base, head] = await Promise.all([runPlan(baseRoot, [...baseFile, "--out", baseOut], share), runPlan(o.root, [...stackArgs(o, o.root), "--out", path.dirname(o.outDir)], share)]);
    progress(`compare: base plan exit ${base.code}, work tree plan exit ${head.code}`);
    if (head.code === 2 || head.code === 3) {
      // Invalid config (or a bug): nothing to compare, but the comment must say why the check fails.
      o.log(renderFailure({ stack: o.stack, base: ref.label, head: "work tree", exitCode: head.code }, head.output, o.format).replace(/\n$/, ""));
      return head.code;
    }
    if (base.code === 3) throw new Error(`the plan of ${ref.label} failed with an internal error:\n${base.output}`);
    const header: ReportHeader = { stack: o.stack, base: ref.label, head: "work tree", exitCode: head.code };
    let before;
    if (base.code === 2) header.baseNote = `${ref.label} could not be planned (its stack config is invalid): everything counts as added`;
    else before = loadPlan(path.join(baseOut, o.stack));
    const after = loadPlan(o.outDir);
    const result = comparePlans(before, after, head.code === 1, base.code === 1);
    const text = o.format === "markdown" ? renderMarkdown(header, result) : renderText(header, result);
    if (o.format === "markdown" && text.length > MARKDOWN_LIMIT + 5536) throw new Error(`the Markdown report is ${text.length} characters, over GitHub's comment limit`);
    o.log(text.replace(/\n$/, ""));
    return head.code;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
