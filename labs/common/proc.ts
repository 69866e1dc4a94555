// Running the real tools a lab drives (qemu, ip, ssh, debootstrap): argv only (no shell string
// built from data), bounded by a timeout, output captured for evidence.
import { spawn } from "node:child_process";
import * as fs from "node:fs";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with each chunk of output as it arrives (progress of long steps). */
  onOutput?: (chunk: string) => void;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      opts.onOutput?.(b.toString());
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      opts.onOutput?.(b.toString());
    });
    child.on("error", (e) => {
      stderr += `${e.message}\n`;
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, ms: Date.now() - started, timedOut });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(opts.input ?? "");
  });
}

/** Run and throw (naming the command and its output) unless it exits 0. */
export async function must(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const out = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ").slice(0, 200)} exited ${r.code}${r.timedOut ? " (timed out)" : ""}:\n${out}`);
  }
  return r;
}

/** The last `lines` lines of a text, for evidence in a report. */
export function excerpt(text: string, lines = 12, width = 300): string {
  return text
    .trimEnd()
    .split("\n")
    .slice(-lines)
    .map((l) => (l.length > width ? `${l.slice(0, width)}…` : l))
    .join("\n");
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Stop the daemon a pidfile names: TERM (a daemon stops its own children, as dockerd its
 * containerd, only on TERM), up to `graceMs` for it to go, then KILL; the pidfile is removed.
 */
export async function stopByPidFile(pidFile: string, graceMs: number): Promise<void> {
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8").trim()) : 0;
  try {
    if (pid > 0) {
      process.kill(pid, "SIGTERM");
      for (const end = Date.now() + graceMs; Date.now() < end; await sleep(100)) process.kill(pid, 0);
      process.kill(pid, "SIGKILL");
    }
  } catch {
    /* gone */
  }
  fs.rmSync(pidFile, { force: true });
}
