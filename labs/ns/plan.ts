// Plans the lab stack with the real program and the lab's real secrets: the files each member
// receives (corosync.conf, the authkey, the CIB, the fence password, the push script, the service
// configs) are exactly what the program renders for Pulumi.lab-ns.yaml.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { HOST_FILE_TYPE, hostFiles, type MirroredFile } from "../../plan/files";
import { runProgram } from "../../plan/mocks";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";
import type { HahaConfig } from "../../stacks/config/schema";
import { LabSecrets } from "../common/secrets";

/** components/host/step.ts's type token: one idempotent command on a guest. */
export const HOST_STEP_TYPE = "haha:host:Step";

/** A rendered file with what the program does with it: owner, group and the command run on change. */
export interface LabFile extends MirroredFile {
  owner?: string;
  group?: string;
  onChange?: string;
}

export interface LabPlan {
  config: HahaConfig;
  /** By member (guest) name: the files it receives, by absolute path. */
  files: Map<string, Map<string, LabFile>>;
  /** The program's guest-side steps (haha:host:Step), by name: the host they run on and their script. */
  steps: Map<string, LabStep>;
  secrets: LabSecrets;
}

export interface LabStep {
  name: string;
  /** Member (guest) name. */
  host: string;
  script: string;
}

export async function planLab(root: string, labDir: string): Promise<LabPlan> {
  const stackPath = path.join(root, "Pulumi.lab-ns.yaml");
  const stack = readStackFile(stackPath);
  const config = parseConfig(stack.raw, "Pulumi.lab-ns.yaml");
  // The provider credentials are never used (no Proxmox, no SSH in this lab), but they are real
  // random values, not placeholders, like every other secret the lab hands the program.
  const secrets = new LabSecrets(path.join(labDir, "secrets.json"), {
    proxmoxApiToken: crypto.randomUUID(),
    sshPrivateKey: `lab-ns-unused-${crypto.randomBytes(16).toString("hex")}`,
  });
  const run = await runProgram("lab-ns", stack, false, secrets);
  const files = new Map<string, Map<string, LabFile>>();
  const extra = new Map<string, { owner?: string; group?: string; onChange?: string }>();
  for (const r of run.resources) {
    if (r.type !== HOST_FILE_TYPE) continue;
    const i = r.inputs as { connection?: { host?: string }; path?: string; owner?: string; group?: string; onChange?: string };
    extra.set(`${i.connection?.host}:${i.path}`, { owner: i.owner, group: i.group, onChange: i.onChange });
  }
  const byAddress = new Map(config.nodes.map((n) => [n.guest.address, n.guest.name]));
  const steps = new Map<string, LabStep>();
  for (const r of run.resources) {
    if (r.type !== HOST_STEP_TYPE) continue;
    const i = r.inputs as { host?: string; create?: string };
    if (typeof i.create !== "string" || !i.host) continue;
    steps.set(r.name, { name: r.name, host: byAddress.get(i.host) ?? i.host, script: i.create });
  }
  for (const f of hostFiles(run.resources)) {
    const host = byAddress.get(f.host) ?? f.host;
    if (!files.has(host)) files.set(host, new Map());
    files.get(host)?.set(f.path, { ...f, host, ...extra.get(`${f.host}:${f.path}`) });
  }
  return { config, files, steps, secrets };
}

/** One member's rendered file, or a loud error naming what the program did not render. */
export function fileOf(plan: LabPlan, member: string, p: string): string {
  const f = plan.files.get(member)?.get(p);
  if (!f) throw new Error(`the program rendered no ${p} for ${member}`);
  return f.content;
}

export function writeMemberFiles(plan: LabPlan, member: string, dir: string, under = "/"): LabFile[] {
  const out = [...(plan.files.get(member)?.values() ?? [])].filter((f) => f.path.startsWith(under));
  for (const f of out) {
    const target = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
    fs.chmodSync(target, parseInt(f.mode, 8));
    if (f.owner !== undefined || f.group !== undefined) fs.chownSync(target, Number(f.owner ?? 0), Number(f.group ?? 0));
  }
  return out;
}

/**
 * The program's steps for one service's files on the shared mount, in the order the program runs
 * them: its directories, the seed (Node-RED's flows), then its apply (which starts a service the
 * CIB push held stopped awaiting its files). A missing dirs or apply step is an error: the lab
 * would otherwise start a service the program would not.
 */
export function serviceSteps(plan: LabPlan, service: string): LabStep[] {
  const find = (kind: string) => [...plan.steps.values()].find((s) => s.name.endsWith(`-${service}-${kind}`));
  const dirs = find("dirs");
  const apply = find("apply");
  if (!dirs || !apply) throw new Error(`the program records no ${!dirs ? "dirs" : "apply"} step for ${service} (haha:host:Step *-${service}-${!dirs ? "dirs" : "apply"})`);
  const seed = find("seed");
  return [dirs, ...(seed ? [seed] : []), apply];
}

/**
 * Runs each service's steps as the program's resource graph orders them: a service's apply depends
 * on its own files and on the applies of the services it must start after (the catalog's `after`),
 * nothing else, so Pulumi runs independent services' steps at once. Dependencies outside `ids`
 * (services the lab holds stopped) are not waited for. Every started service is awaited before
 * the first failure is thrown (nothing left running unobserved).
 */
export async function inProgramOrder(ids: string[], after: Record<string, string[]>, run: (id: string) => Promise<void>): Promise<void> {
  const depsOf = (id: string) => (after[id] ?? []).filter((d) => ids.includes(d));
  ids.forEach((id, i) => {
    const late = depsOf(id).filter((d) => ids.indexOf(d) > i);
    if (late.length > 0) throw new Error(`${id} starts after ${late.join(", ")}, which come later in the catalog's order`);
  });
  const started = new Map<string, Promise<void>>();
  for (const id of ids) started.set(id, Promise.all(depsOf(id).map((d) => started.get(d) as Promise<void>)).then(() => run(id)));
  const results = await Promise.allSettled(started.values());
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}
