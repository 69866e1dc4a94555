// /etc/default/sbd for diskless SBD: the guest's i6300esb watchdog resets it when it loses quorum
// or its Pacemaker stops answering. A shell-variable file (systemd EnvironmentFile and sbd's own
// init both read it), rendered from a typed list by a small serializer.
import type { HahaConfig } from "../../stacks/config/schema";

export const SBD_DEFAULTS_PATH = "/etc/default/sbd";

export interface EnvEntry {
  key: string;
  value: string;
  reason?: string;
}

export class EnvFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`environment file model is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvFileError";
  }
}

// Values stay unquoted: they must mean the same to sh, to systemd and to sbd's parser.
const KEY = /^[A-Z_][A-Z0-9_]*$/;
const VALUE = /^[A-Za-z0-9_.,/:+-]*$/;

/** `KEY=value` lines with reasons as comments. Throws EnvFileError on anything that would need quoting. */
export function renderEnvFile(header: string[], entries: EnvEntry[]): string {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (!KEY.test(e.key)) problems.push(`${e.key}: not a shell variable name`);
    if (!VALUE.test(e.value)) problems.push(`${e.key}: value ${JSON.stringify(e.value)} would need quoting`);
    if (seen.has(e.key)) problems.push(`${e.key}: set twice`);
    seen.add(e.key);
  }
  if (problems.length > 0) throw new EnvFileError(problems);
  const lines = header.map((h) => `# ${h}`);
  for (const e of entries) {
    if (e.reason) lines.push(`# ${e.reason}`);
    lines.push(`${e.key}=${e.value}`);
  }
  return lines.join("\n") + "\n";
}

/** The SBD settings of every member (diskless: no SBD_DEVICE). */
export function sbdSettings(c: HahaConfig): EnvEntry[] {
  const w = c.cluster.fencing.watchdog;
  return [
    { key: "SBD_PACEMAKER", value: "yes", reason: "watch Pacemaker's health too: a hung Pacemaker or a lost quorum resets the guest" },
    { key: "SBD_WATCHDOG_DEV", value: "/dev/watchdog", reason: "the guest's i6300esb (Proxmox watchdog device, action reset)" },
    {
      key: "SBD_WATCHDOG_TIMEOUT",
      value: String(w.timeoutS),
      reason: `haha:cluster.fencing.watchdog.timeoutS; the cluster waits stonith-watchdog-timeout = ${2 * w.timeoutS} s before it counts the guest as fenced`,
    },
    { key: "SBD_STARTMODE", value: "always", reason: "a guest reset by its watchdog rejoins by itself; stickiness keeps the services where they went" },
    { key: "SBD_DELAY_START", value: "no", reason: "diskless: no message slot to wait for" },
    { key: "SBD_TIMEOUT_ACTION", value: "flush,reboot", reason: "flush the page cache, then reset: the guest comes back as a spare" },
    { key: "SBD_MOVE_TO_ROOT_CGROUP", value: "auto", reason: "keep sbd out of CPU-limited cgroups so it always feeds the watchdog" },
  ];
}

export function renderSbdDefaults(c: HahaConfig): string {
  return renderEnvFile(["Rendered by HAHA: diskless SBD (watchdog only). Do not edit: pulumi up rewrites it."], sbdSettings(c));
}
