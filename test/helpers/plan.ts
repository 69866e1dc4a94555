// Runs the offline plan as a user does (a child process), or writes a stack file to plan.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { writeCommandOf } from "../../plan/files";
import type { RecordedResource } from "../../plan/types";
import { ROOT } from "./config";

export interface PlanRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runPlanCli(args: string[], env: NodeJS.ProcessEnv = {}): PlanRun {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, HAHA_DEBUG: "", ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const created: string[] = [];
process.on("exit", () => {
  for (const d of created) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory, removed when the test process exits. */
export function tempDir(prefix = "haha-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Write `raw` (keys without the haha: prefix) as Pulumi.<stack>.yaml in a fresh directory. */
export function writeStackFile(raw: Record<string, unknown>, stack = "test", extra: Record<string, unknown> = {}): string {
  const dir = tempDir();
  const config: Record<string, unknown> = { ...extra };
  for (const [k, v] of Object.entries(raw)) config[`haha:${k}`] = v;
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  fs.writeFileSync(file, stringify({ config }));
  return file;
}

/** A haha:host:File's text: the stdin of its write command, the one input that holds it. */
export function fileText(resources: RecordedResource[], file: RecordedResource): unknown {
  return writeCommandOf(resources, file)?.inputs.stdin;
}

/** Whether a haha:host:File's text is secret (its write command's stdin is). */
export function fileSecret(resources: RecordedResource[], file: RecordedResource): boolean {
  return writeCommandOf(resources, file)?.secretInputs.includes("stdin") ?? false;
}
