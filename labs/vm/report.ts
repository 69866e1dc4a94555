// build/lab-vm/report.json (the fields issue 9 lists, plus the lab's own under `lab`) and a
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
  scenarios: { name: string; ok: boolean; fenced: string[]; seconds: number }[];
  records: { acknowledged: number; found: number; lost: number; duplicated: number };
  notRun: { what: string; why: string }[];
  /** Set when the lab itself broke (exit 3). */
  broke?: string;
  lab: {
    started: string;
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
    { what: "container images pulled by digest from an in-lab registry", why: "the lab stack's services carry the prod image references (the config requires every service); the in-lab registry and images (labs/common/images.ts, branch lab-ns) are not merged yet, so every RemoteImage pull fails on a lab with no route out" },
    { what: "storage failover scenarios with the numbered-record writer (power off the NFS server, each diskful member, cable pull, two of three lost)", why: "they need a converged cluster and fencing through fence_pve against the fake Proxmox API (labs/common/fake-pve.ts, branch lab-ns, not merged yet)" },
    { what: "voice guest (Ollama on a GPU)", why: "the lab stack declares no voice: no GPU to pass through under qemu" },
  ];
  if (stoppedAt) out.push({ what: "everything after the failing step", why: stoppedAt });
  return out;
}

export function renderMarkdown(r: LabReport): string {
  const l: string[] = [];
  l.push(`# Rehearsal lab report (${r.lab.started})`, "");
  l.push(`- converged: **${r.converged ? "yes" : "no"}**${r.broke ? ` (the lab broke: ${r.broke.split("\n")[0]})` : ""}`);
  l.push(`- guest kernel: ${r.kernel || "(not built)"}`);
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
  if (r.scenarios.length) l.push("## Failover scenarios", "", ...r.scenarios.map((s) => `- ${s.ok ? "PASS" : "FAIL"} ${s.name}: fenced ${s.fenced.join(", ") || "none"}, ${s.seconds} s`), "");
  l.push("## Not run", "", ...r.notRun.map((n) => `- ${n.what}: ${n.why}`), "");
  return `${l.join("\n")}\n`;
}

export function writeReport(dir: string, r: LabReport, redact: (s: string) => string): void {
  fs.writeFileSync(path.join(dir, "report.json"), redact(JSON.stringify(r, null, 2)));
  fs.writeFileSync(path.join(dir, "report.md"), redact(renderMarkdown(r)));
}
