// Writes what the plan learned: resources.json, and every file a host would receive mirrored
// under hosts/<host>/<absolute path>.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "./types";

export const HOST_FILE_TYPE = "haha:host:File";
/** Where the pacemaker layer ships the CIB on every member. */
export const CIB_PATH = "/etc/haha/cib.xml";

export interface MirroredFile {
  host: string;
  path: string;
  mode: string;
  secret: boolean;
  content: string;
}

/** The command that writes a host file: its `stdin` is the one input holding the file's text. */
export function writeCommandOf(resources: RecordedResource[], file: RecordedResource): RecordedResource | undefined {
  return resources.find((c) => c.parent === file.urn && c.type === "command:remote:Command" && c.name === `${file.name}-write`);
}

export function hostFiles(resources: RecordedResource[]): MirroredFile[] {
  // Each file's write command by parent, looked up once: a scan of every resource per file (as
  // writeCommandOf does) grows with files x resources, the square of the hosts.
  const writes = new Map<string, RecordedResource>();
  for (const c of resources) {
    if (c.type !== "command:remote:Command" || c.parent === undefined) continue;
    const key = `${c.parent}\0${c.name}`;
    if (!writes.has(key)) writes.set(key, c);
  }
  const files: MirroredFile[] = [];
  for (const r of resources) {
    if (r.type !== HOST_FILE_TYPE) continue;
    const i = r.inputs as { connection?: { host?: string }; path?: string; mode?: string };
    const write = writes.get(`${r.urn}\0${r.name}-write`);
    const host = i.connection?.host;
    const content = write?.inputs.stdin;
    if (typeof host !== "string" || typeof i.path !== "string" || typeof content !== "string") {
      throw new Error(`${r.urn}: a host file without a known host, path or content (created inside an apply?)`);
    }
    files.push({ host, path: i.path, mode: i.mode ?? "0644", secret: write!.secretInputs.includes("stdin"), content });
  }
  const seen = new Map<string, string>();
  for (const f of files) {
    const key = `${f.host}:${f.path}`;
    if (seen.has(key) && seen.get(key) !== f.content) throw new Error(`two different contents for ${f.path} on ${f.host}`);
    seen.set(key, f.content);
  }
  return files.sort((a, b) => a.host.localeCompare(b.host) || a.path.localeCompare(b.path));
}

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

export function mirrorFiles(outDir: string, files: MirroredFile[]): void {
  for (const f of files) {
    const target = path.join(outDir, "hosts", f.host, f.path);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, f.content, { mode: 0o600 });
  }
}

/** The pacemaker layer ships one CIB to every member; they must agree. */
export function renderedCib(files: MirroredFile[]): string | undefined {
  const cibs = [...new Set(files.filter((f) => f.path === CIB_PATH).map((f) => f.content))];
  if (cibs.length > 1) throw new Error(`members received ${cibs.length} different CIBs`);
  return cibs[0];
}
