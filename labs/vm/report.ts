// build/lab/report.json (the fields issue 9 lists, plus the lab's own under `lab`) and a
// Markdown summary; both redacted of every lab secret before they are written.
import * as fs from "node:fs";
import * as path from "node:path";
import type { CheckResult } from "./checks";
import type { StepRecord } from "./deploy";

export interface LabReport {
  converged: boolean;
  /** The guest kernel package (and release) the image the stack declares boots. */
  kernel: string;
  checks: CheckResult[];
  rerun: { stepsExecuted: number; forcedSteps: number; restarts: string[]; changedFiles?: string[]; changedConfig?: { change: string; steps: string[] } };
  scenarios: { name: string; ok: boolean; fenced: string[]; seconds: number; evidence?: string[]; problems?: string[] }[];
  records: { acknowledged: number; found: number; lost: number; duplicated: number };
  notRun: { what: string; why: string }[];
  /** Set when the lab itself broke (exit 3). */
  broke?: string;
  lab: {
    started: string;
    /** What the run covered: the whole lab, --ci's subset, or a developer's --skip-failovers run. */
    profile: "full" | "ci" | "skip-failovers";
    seconds: number;
    accel: string;
    host: string;
    phases: { name: string; seconds: number }[];
    steps: StepRecord[];
    failedStep?: { n: number; host: string; name: string; exitCode: number; output: string };
    vms: { name: string; address: string; console: string }[];
    image?: { cached: { image: boolean; repo: boolean }; kernelPackage: string };
  };
}

/** What this lab does not run yet, and why (kept in the report until it does). */
export function notRunDefaults(stoppedAt?: string): { what: string; why: string }[] {
  const out = [
    { what: "Proxmox host side (bonds, bridges, PCI mappings, users/ACLs, cloud image download, backup storage)", why: "the lab plays Proxmox: it boots each VmLegacy itself; the host resources are the Proxmox API's, not a guest's" },
    { what: "voice guest (Ollama on a GPU)", why: "the lab stack declares no voice: no GPU to pass through under qemu" },
  ];
  if (stoppedAt) out.push({ what: "everything after the failing step", why: stoppedAt });
  return out;
}

/** Why the lab stack leaves out each service it does not declare (issue 9: it declares only what it can really run). */
const LEFT_OUT: Record<string, string> = {
  zigbee2mqtt: "it does not start without a Zigbee coordinator, and the lab has no coordinator (a TCP Zigbee adapter) to give it",
  homeassistant: "Home Assistant ships as Python wheels from PyPI, which this machine cannot reach, and Debian does not package it; its recorder (PostgreSQL) goes with it",
  esphome: "ESPHome ships from PyPI, which this machine cannot reach, and Debian does not package it",
  nodered: "not declared by the lab stack",
  mosquitto: "not declared by the lab stack",
};

export function leftOutServices(declared: string[]): { what: string; why: string }[] {
  return Object.keys(LEFT_OUT)
    .filter((s) => !declared.includes(s))
    .map((s) => ({ what: `haha:services.${s}`, why: LEFT_OUT[s] as string }));
}

export function renderMarkdown(r: LabReport): string {
  const l: string[] = [];
  l.push(`# Rehearsal lab report (${r.lab.started})`, "");
  l.push(`- converged: **${r.converged ? "yes" : "no"}**${r.broke ? ` (the lab broke: ${r.broke.split("\n")[0]})` : ""}`);
  l.push(`- guest kernel: ${r.kernel || "(not built)"}`);
  l.push(`- run: ${r.lab.profile === "full" ? "the whole lab" : r.lab.profile === "ci" ? "--ci (CI's subset: one storage failover; \"Not run\" lists the rest)" : "--skip-failovers (a developer's run)"}`);
  l.push(`- accelerator: ${r.lab.accel || "(not started)"}; wall time ${r.lab.seconds} s on ${r.lab.host}`);
  l.push(`- re-run: ${r.rerun.stepsExecuted < 0 ? "not reached" : `${r.rerun.stepsExecuted} steps executed by the plain re-run`}, ${r.rerun.forcedSteps} forced, restarts: ${r.rerun.restarts.length ? r.rerun.restarts.join("; ") : "none"}`);
  l.push(`- records: acknowledged ${r.records.acknowledged}, found ${r.records.found}, lost ${r.records.lost}, duplicated ${r.records.duplicated}`, "");
  l.push("Timings below were measured under software emulation (TCG) on a shared 2-core machine: they say nothing about a real home.", "");
  l.push("## Phases", "", "| phase | seconds |", "|---|---|", ...r.lab.phases.map((p) => `| ${p.name} | ${p.seconds} |`), "");
  if (r.lab.failedStep) {
    const f = r.lab.failedStep;
    l.push("## The deployment stopped", "", `Step ${f.n} on ${f.host}: \`${f.name}\` exited ${f.exitCode}.`, "", "```", f.output, "```", "");
  }
  l.push("## Checks", "", ...r.checks.map((c) => `- ${c.ok ? "PASS" : "FAIL"} ${c.name}`), "");
  for (const c of r.checks.filter((x) => !x.ok)) l.push(`### ${c.name}`, "", "```", c.evidence.slice(0, 3000), "```", "");
  l.push("## Steps", "", "| n | host | step | action | s | exit |", "|---|---|---|---|---|---|", ...r.lab.steps.map((s) => `| ${s.n} | ${s.host} | ${s.name} | ${s.action} | ${s.seconds} | ${s.exitCode} |`), "");
  if (r.scenarios.length) l.push("## Failover scenarios (timings under TCG: not a home's)", "", ...r.scenarios.flatMap((s) => [`- ${s.ok ? "PASS" : "FAIL"} ${s.name}: fenced ${s.fenced.join(", ") || "none"}, ${s.seconds} s`, ...(s.evidence ?? []).map((e) => `  - ${e}`), ...(s.problems ?? []).map((p) => `  - problem: ${p}`)]), "");
  l.push("## Not run", "", ...r.notRun.map((n) => `- ${n.what}: ${n.why}`), "");
  return `${l.join("\n")}\n`;
}

export function writeReport(dir: string, r: LabReport, redact: (s: string) => string): void {
  fs.writeFileSync(path.join(dir, "report.json"), redact(JSON.stringify(r, null, 2)));
  fs.writeFileSync(path.join(dir, "report.md"), redact(renderMarkdown(r)));
}
