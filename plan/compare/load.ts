// Reads what one plan wrote (build/<stack>/: resources.json, hosts/, policy-report.json,
// failover/) back into the shapes the comparison works on. Both sides of a compare are read by
// this code, whichever revision wrote them, so it relies only on the plan's output contract
// (DESIGN.md section 3), not on the revision's internals.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "../types";

export interface PlannedFile {
  host: string;
  path: string;
  content: string;
  /** Holds a secret: its text is never shown, not even as a hash. */
  secret: boolean;
}

export interface PolicyFinding {
  rule: string;
  level: string;
  /** What the finding is about (subject, or the resource, or the stack). */
  subject: string;
  message: string;
  /** haha:waivers index that accepts it, if waived. */
  waiver?: number;
}

export interface PolicyView {
  ok: boolean;
  rules: { name: string; level: string; status: string }[];
  violations: PolicyFinding[];
  waived: PolicyFinding[];
  waivers: { index: number; policy: string; target: string; reason: string; covers: number }[];
  planProblems: string[];
}

export interface ScenarioView {
  id: string;
  title: string;
  ok: boolean;
  problems: string[];
  totalS?: number;
  detectionS?: number;
  fencingS?: number;
  startsS?: number;
}

export interface PlanView {
  resources: RecordedResource[];
  files: PlannedFile[];
  policy?: PolicyView;
  scenarios: ScenarioView[];
}

const PLACEHOLDER = /<secret:[^>]+>/;

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * Paths (host:path) whose content the recorded resources mark secret: a host file component whose
 * `content` input is secret, or a command writing a file from a secret `stdin`. Read from both
 * shapes so a revision from before or after item 4 of issue 12 is understood alike.
 */
function secretPaths(resources: RecordedResource[]): Set<string> {
  const out = new Set<string>();
  for (const r of resources) {
    const i = r.inputs as { connection?: { host?: unknown }; path?: unknown };
    if (r.type === "haha:host:File" && typeof i.path === "string" && typeof i.connection?.host === "string") {
      const child = resources.find((c) => c.parent === r.urn && c.type === "command:remote:Command" && c.name === `${r.name}-write`);
      if (r.secretInputs.includes("content") || child?.secretInputs.includes("stdin") || r.inputs.secret === true) out.add(`${i.connection.host}:${i.path}`);
    }
  }
  return out;
}

function finding(v: Record<string, unknown>, rule: string, level: string): PolicyFinding {
  const resource = v.resource as { type?: string; name?: string } | undefined;
  const subject = typeof v.subject === "string" ? v.subject : resource ? `${resource.type} "${resource.name}"` : "stack";
  const waiver = (v.waiver as { index?: number } | undefined)?.index;
  return { rule: typeof v.rule === "string" ? v.rule : rule, level: typeof v.level === "string" ? v.level : level, subject, message: String(v.problem ?? v.message ?? ""), waiver };
}

function readPolicy(file: string): PolicyView | undefined {
  if (!fs.existsSync(file)) return undefined;
  const p = readJson(file) as {
    ok: boolean;
    planProblems?: string[];
    waivers?: { index: number; policy: string; target: string; reason: string; covers?: unknown[] }[];
    rules: { name: string; level: string; status: string; violations: Record<string, unknown>[]; waived: Record<string, unknown>[] }[];
  };
  return {
    ok: p.ok,
    rules: p.rules.map((r) => ({ name: r.name, level: r.level, status: r.status })),
    // waived-violations repeats every waived finding for a preview's output: they are listed under their rules.
    violations: p.rules.filter((r) => r.name !== "waived-violations").flatMap((r) => r.violations.map((v) => finding(v, r.name, r.level))),
    waived: p.rules.flatMap((r) => r.waived.map((v) => finding(v, r.name, r.level))),
    waivers: (p.waivers ?? []).map((w) => ({ index: w.index, policy: w.policy, target: w.target, reason: w.reason, covers: w.covers?.length ?? 0 })),
    planProblems: p.planProblems ?? [],
  };
}

function readScenarios(dir: string): ScenarioView[] {
  if (!fs.existsSync(dir)) return [];
  const out: ScenarioView[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    if (!/^\d+-.*\.json$/.test(f)) continue;
    const s = readJson(path.join(dir, f)) as { id: string; title: string; ok: boolean; problems: string[]; budget?: { totalS: number; detectionS: number; fencingS: number; startsS: number } };
    out.push({ id: s.id, title: s.title, ok: s.ok, problems: s.problems, totalS: s.budget?.totalS, detectionS: s.budget?.detectionS, fencingS: s.budget?.fencingS, startsS: s.budget?.startsS });
  }
  return out;
}

/** Read build/<stack>/ as one plan wrote it. */
export function loadPlan(dir: string): PlanView {
  const resourcesFile = path.join(dir, "resources.json");
  if (!fs.existsSync(resourcesFile)) throw new Error(`${resourcesFile} is missing: the plan did not record its resources`);
  const resources = (readJson(resourcesFile) as { resources: RecordedResource[] }).resources;
  const secret = secretPaths(resources);
  const hostsDir = path.join(dir, "hosts");
  const files: PlannedFile[] = [];
  for (const file of walk(hostsDir)) {
    const rel = path.relative(hostsDir, file).split(path.sep);
    const host = rel[0]!;
    const p = "/" + rel.slice(1).join("/");
    const content = fs.readFileSync(file, "utf8");
    files.push({ host, path: p, content, secret: secret.has(`${host}:${p}`) || PLACEHOLDER.test(content) });
  }
  files.sort((a, b) => a.host.localeCompare(b.host) || a.path.localeCompare(b.path));
  return { resources, files, policy: readPolicy(path.join(dir, "policy-report.json")), scenarios: readScenarios(path.join(dir, "failover")) };
}
