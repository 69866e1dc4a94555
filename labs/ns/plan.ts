// Plans the lab stack with the real program and the lab's real secrets: the files each member
// receives (corosync.conf, the authkey, the CIB, the fence password, the push script, the service
// configs) are exactly what the program renders for Pulumi.lab-ns.yaml.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { hostFiles, type MirroredFile } from "../../plan/files";
import { runProgram } from "../../plan/mocks";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";
import type { HahaConfig } from "../../stacks/config/schema";
import { LabSecrets } from "../common/secrets";

export interface LabPlan {
  config: HahaConfig;
  /** By member (guest) name: the files it receives, by absolute path. */
  files: Map<string, Map<string, MirroredFile>>;
  secrets: LabSecrets;
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
  const files = new Map<string, Map<string, MirroredFile>>();
  for (const f of hostFiles(run.resources)) {
    if (!files.has(f.host)) files.set(f.host, new Map());
    files.get(f.host)?.set(f.path, f);
  }
  return { config, files, secrets };
}

/** One member's rendered file, or a loud error naming what the program did not render. */
export function fileOf(plan: LabPlan, member: string, p: string): string {
  const f = plan.files.get(member)?.get(p);
  if (!f) throw new Error(`the program rendered no ${p} for ${member}`);
  return f.content;
}

export function writeMemberFiles(plan: LabPlan, member: string, dir: string): MirroredFile[] {
  const out = [...(plan.files.get(member)?.values() ?? [])];
  for (const f of out) {
    const target = path.join(dir, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: parseInt(f.mode, 8) });
  }
  return out;
}
