// The compare report as plain text (terminal) and as Markdown (one pull-request comment, under
// GitHub's 65,536-character limit: long diffs are folded in <details> with their line count, and
// what does not fit is named with its count instead of shown).
import type { CompareResult, FileChange, ResourceChange } from "./diff";
import type { PolicyFinding } from "./load";

/** Marks the comment the workflow edits on every push (one comment per pull request). */
export const COMMENT_MARKER = "<!-- haha-plan-compare -->";
/** GitHub refuses comments longer than 65,536 characters; keep room for the footer. */
export const MARKDOWN_LIMIT = 60000;
/** A file diff longer than this is cut, with the count of the lines left out. */
const MAX_DIFF_LINES = 200;
const MAX_RESOURCE_LINES = 150;

export interface ReportHeader {
  stack: string;
  /** e.g. "main@1a2b3c4 (merge base)" */
  base: string;
  /** e.g. "work tree" */
  head: string;
  exitCode: number;
  /** The base could not be planned (its config invalid): everything counts as added. */
  baseNote?: string;
}

const SIGN: Record<ResourceChange["kind"], string> = { added: "+", replaced: "+-", changed: "~", deleted: "-" };

function resourceLine(r: ResourceChange): string {
  const what = r.kind === "replaced" ? ` (replaced: ${r.replaceKeys.join(", ")} changed; inputs changed: ${r.keys.join(", ")})` : r.kind === "changed" ? `: ${r.keys.join(", ")}` : "";
  return `${SIGN[r.kind]} ${r.type} "${r.name}"${what}`;
}

function counts(c: CompareResult): string {
  const n = (k: ResourceChange["kind"]) => c.resources.filter((r) => r.kind === k).length;
  return `${n("added")} to add, ${n("changed")} to change, ${n("replaced")} to replace, ${n("deleted")} to delete`;
}

function fileTitle(f: FileChange): string {
  const where = `on ${f.hosts.join(", ")}`;
  if (f.secret) return `${f.path} ${where}: ${f.kind}, content secret`;
  return `${f.path} ${where}: ${f.kind} (+${f.added} -${f.removed})`;
}

const finding = (f: PolicyFinding) => `[${f.rule}] (${f.level}) ${f.subject}: ${f.message}`;

function policyLines(c: CompareResult): string[] {
  const p = c.policy;
  const lines: string[] = [];
  for (const f of p.newViolations) lines.push(`NEW VIOLATION ${finding(f)}`);
  for (const w of p.staleWaivers) lines.push(`WAIVER NO LONGER MATCHES haha:waivers[${w.index}] (policy ${w.policy}, target ${w.target})`);
  for (const w of p.newWaivers) lines.push(`new waiver haha:waivers[${w.index}] (policy ${w.policy}, target ${w.target}): ${w.reason || "(no reason)"}`);
  for (const w of p.removedWaivers) lines.push(`waiver removed (policy ${w.policy}, target ${w.target})`);
  for (const f of p.newlyWaived) lines.push(`newly waived ${finding(f)}${f.waiver !== undefined ? ` by haha:waivers[${f.waiver}]` : ""}`);
  for (const f of p.noLongerWaived) lines.push(`no longer waived ${finding(f)}`);
  for (const f of p.resolvedViolations) lines.push(`resolved ${finding(f)}`);
  for (const s of p.statusChanges) lines.push(`rule ${s.rule} (${s.level}): ${s.before ?? "absent"} -> ${s.after ?? "absent"}`);
  for (const x of p.newPlanProblems) lines.push(`NEW PLAN PROBLEM ${x}`);
  return lines;
}

function scenarioLines(c: CompareResult): string[] {
  return c.scenarios.map((s) => `${s.title}: ${s.what.join("; ")}`);
}

function verdict(h: ReportHeader, c: CompareResult): string {
  if (h.exitCode === 0) return "safe to apply (exit 0)";
  if (h.exitCode === 1) return c.newlyUnsafe ? "UNSAFE: this change makes the home unsafe (exit 1)" : "UNSAFE: the home is unsafe with this change, as it was before (exit 1)";
  return `the work tree could not be planned (exit ${h.exitCode})`;
}

export function renderText(h: ReportHeader, c: CompareResult): string {
  const out: string[] = [`HAHA compare of stack "${h.stack}": ${h.base} -> ${h.head}`];
  if (h.baseNote) out.push(`  note: ${h.baseNote}`);
  out.push(`verdict: ${verdict(h, c)}`);
  const pol = policyLines(c);
  out.push(`policies: ${pol.length === 0 ? "no change" : `${pol.length} change(s)`}`, ...pol.map((l) => `  ${l}`));
  const sc = scenarioLines(c);
  out.push(`failover: ${sc.length === 0 ? "no scenario changed" : `${sc.length} scenario(s) changed`}`, ...sc.map((l) => `  ${l}`));
  out.push(`files: ${c.files.length === 0 ? "no rendered file changed" : `${c.files.length} change(s)`}`);
  for (const f of c.files) {
    out.push(`  ${fileTitle(f)}`);
    if (f.patch) out.push(...f.patch.split("\n").map((l) => `    ${l}`));
  }
  out.push(`resources: ${counts(c)}`, ...c.resources.map((r) => `  ${resourceLine(r)}`));
  return out.join("\n") + "\n";
}

function fence(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return "`".repeat(longest + 1);
}

const esc = (s: string) => s.replace(/[<>&]/g, (ch) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;" })[ch]!);

function diffBlock(f: FileChange, budget: number): { text: string; shown: boolean } {
  const lines = f.patch!.split("\n");
  const cut = lines.length > MAX_DIFF_LINES;
  const body = (cut ? lines.slice(0, MAX_DIFF_LINES) : lines).join("\n");
  const f3 = fence(body);
  const tail = cut ? `\n\n… ${lines.length - MAX_DIFF_LINES} more diff lines not shown (run the compare locally for all of it)` : "";
  const text = `<details><summary><code>${esc(f.path)}</code> on ${esc(f.hosts.join(", "))}: ${f.kind} (+${f.added} −${f.removed})</summary>\n\n${f3}diff\n${body}\n${f3}${tail}\n\n</details>\n`;
  if (text.length <= budget) return { text, shown: true };
  return { text: `- <code>${esc(f.path)}</code> on ${esc(f.hosts.join(", "))}: ${f.kind} (+${f.added} −${f.removed}), diff of ${lines.length} lines folded away: the comment limit is reached\n`, shown: false };
}

export function renderMarkdown(h: ReportHeader, c: CompareResult): string {
  const head: string[] = [COMMENT_MARKER, `## HAHA plan: stack \`${h.stack}\`, ${esc(h.base)} → ${esc(h.head)}`, ""];
  const icon = h.exitCode === 0 ? "✅" : "❌";
  head.push(`**${icon} ${esc(verdict(h, c))}**`, "");
  if (h.baseNote) head.push(`> ${esc(h.baseNote)}`, "");

  const pol = policyLines(c);
  head.push(`### Policies`, "", ...(pol.length === 0 ? ["No change in the policy results."] : pol.map((l) => `- ${esc(l)}`)), "");
  const sc = scenarioLines(c);
  head.push(`### Failover scenarios`, "", ...(sc.length === 0 ? ["No scenario changed its result or budget."] : sc.map((l) => `- ${esc(l)}`)), "");

  const res: string[] = [`### Resources: ${counts(c)}`, ""];
  if (c.resources.length > 0) {
    const shown = c.resources.slice(0, MAX_RESOURCE_LINES);
    res.push(`<details><summary>${c.resources.length} resource(s)</summary>`, "", ...shown.map((r) => `- ${esc(resourceLine(r))}`));
    if (c.resources.length > shown.length) res.push(`- … and ${c.resources.length - shown.length} more`);
    res.push("", "</details>", "");
  }
  const foot = ["", `<sub>\`npm run plan -- --stack ${h.stack} --compare\` (offline plan under Pulumi's mock runtime; secrets are placeholders, secret-bearing files are never shown)</sub>`, ""];

  const files: string[] = [`### Rendered files: ${c.files.length === 0 ? "no change" : `${c.files.length} change(s)`}`, ""];
  let budget = MARKDOWN_LIMIT - [...head, ...res, ...foot].join("\n").length - files.join("\n").length - 200;
  let folded = 0;
  for (const f of c.files) {
    if (f.secret || !f.patch) {
      const line = `- <code>${esc(f.path)}</code> on ${esc(f.hosts.join(", "))}: ${f.kind}, content secret\n`;
      files.push(line);
      budget -= line.length;
      continue;
    }
    const b = diffBlock(f, budget);
    if (!b.shown) folded++;
    files.push(b.text);
    budget -= b.text.length;
  }
  if (folded > 0) files.push(`${folded} diff(s) folded away to stay under GitHub's comment limit.`, "");
  return [...head, ...files, "", ...res, ...foot].join("\n");
}

/** The work tree could not be planned (exit 2: its stack config is invalid; 3: an internal error): the plan's own words. */
export function renderFailure(h: ReportHeader, planOutput: string, format: "text" | "markdown"): string {
  const what = h.exitCode === 2 ? "the stack config of the work tree is invalid" : "the plan of the work tree failed with an internal error";
  const lines = planOutput.split("\n").filter((l) => l.trim() !== "");
  if (format === "text") return [`HAHA compare of stack "${h.stack}": ${h.base} -> ${h.head}`, `verdict: ${what} (exit ${h.exitCode})`, ...lines.map((l) => `  ${l}`)].join("\n") + "\n";
  const body = lines.join("\n").slice(0, MARKDOWN_LIMIT - 2000);
  const f3 = fence(body);
  return [COMMENT_MARKER, `## HAHA plan: stack \`${h.stack}\`, ${esc(h.base)} → ${esc(h.head)}`, "", `**❌ ${what} (exit ${h.exitCode})**`, "", `${f3}text`, body, f3, ""].join("\n");
}
