// corosync.conf as a typed model and its serializer (corosync's own nested `name { key: value }`
// format), plus the model HAHA renders from config: knet with crypto, one node entry per guest,
// a second link where config declares a second network, votequorum, and explicit timing.
import { corosyncTiming } from "../../stacks/config/cluster";
import type { Member } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";

export interface CorosyncEntry {
  key: string;
  value: string | number;
  /** Why this value: rendered as a comment above it. */
  reason?: string;
}

export interface CorosyncSection {
  name: string;
  entries: CorosyncEntry[];
  sections?: CorosyncSection[];
  reason?: string;
}

export interface CorosyncConf {
  /** Comment lines at the top of the file. */
  header: string[];
  sections: CorosyncSection[];
}

/** Where corosync reads its key; the authkey is shipped there (see ClusterMembership). */
export const COROSYNC_AUTHKEY_PATH = "/etc/corosync/authkey";
export const COROSYNC_CONF_PATH = "/etc/corosync/corosync.conf";
/** corosync's authkey is binary; 256 bytes is what corosync-keygen writes (its maximum is 4096). */
export const COROSYNC_AUTHKEY_BYTES = 256;

export class CorosyncConfError extends Error {
  constructor(readonly problems: string[]) {
    super(`corosync.conf model is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CorosyncConfError";
  }
}

const KEY = /^[a-z][a-z0-9_]*$/;
// A value is one token on one line: no braces, comment marks or line breaks that would change the structure.
const VALUE = /^[^\s{}#:][^{}#\n\r]*$/;

function check(conf: CorosyncConf): void {
  const problems: string[] = [];
  const walk = (s: CorosyncSection, where: string) => {
    if (!KEY.test(s.name)) problems.push(`${where}: section name "${s.name}" is not a corosync key`);
    for (const e of s.entries) {
      if (!KEY.test(e.key)) problems.push(`${where}.${e.key}: not a corosync key`);
      if (!VALUE.test(String(e.value)) || String(e.value).trim() !== String(e.value)) problems.push(`${where}.${e.key}: value ${JSON.stringify(e.value)} cannot be written as one corosync value`);
      if (e.reason !== undefined && /[\r\n]/.test(e.reason)) problems.push(`${where}.${e.key}: reason spans lines`);
    }
    (s.sections ?? []).forEach((c, i) => walk(c, `${where}.${c.name}[${i}]`));
  };
  conf.sections.forEach((s) => walk(s, s.name));
  if (problems.length > 0) throw new CorosyncConfError(problems);
}

/** Serialize a corosync.conf model. Throws CorosyncConfError on keys or values the format cannot carry. */
export function renderCorosyncConf(conf: CorosyncConf): string {
  check(conf);
  const lines: string[] = conf.header.map((h) => `# ${h}`);
  const section = (s: CorosyncSection, depth: number) => {
    const pad = "    ".repeat(depth);
    if (depth === 0 && lines.length > 0) lines.push("");
    if (s.reason) lines.push(`${pad}# ${s.reason}`);
    lines.push(`${pad}${s.name} {`);
    for (const e of s.entries) {
      if (e.reason) lines.push(`${pad}    # ${e.reason}`);
      lines.push(`${pad}    ${e.key}: ${e.value}`);
    }
    for (const c of s.sections ?? []) section(c, depth + 1);
    lines.push(`${pad}}`);
  };
  for (const s of conf.sections) section(s, 0);
  return lines.join("\n") + "\n";
}

export interface CorosyncOptions {
  /** Override the key path (tests point it at a temporary key). */
  keyfile?: string;
}

/** The corosync.conf every member receives (one file, identical on all members). */
export function corosyncConf(c: HahaConfig, members: Member[], opts: CorosyncOptions = {}): CorosyncConf {
  const co = c.cluster.corosync;
  const t = corosyncTiming(c);
  const twoLinks = c.network.secondary !== undefined;
  const totem: CorosyncSection = {
    name: "totem",
    entries: [
      { key: "version", value: 2 },
      { key: "cluster_name", value: c.cluster.name },
      { key: "transport", value: "knet", reason: "kronosnet: encrypted, several links per node, corosync 3's native transport" },
      { key: "crypto_cipher", value: co.cipher, reason: "cluster traffic is encrypted with the shared authkey" },
      { key: "crypto_hash", value: co.hash, reason: "and authenticated: a forged membership message is dropped" },
      { key: "keyfile", value: opts.keyfile ?? COROSYNC_AUTHKEY_PATH },
      { key: "ip_version", value: "ipv4", reason: "members are addressed by IPv4 literals; no resolver in the membership path" },
      { key: "token", value: co.tokenMs, reason: "ms without the token before a member is suspected (haha:cluster.corosync.tokenMs)" },
      {
        key: "token_coefficient",
        value: co.tokenCoefficientMs,
        reason: `ms added per member beyond two: the token corosync really runs is ${t.effectiveTokenMs} ms`,
      },
      {
        key: "consensus",
        value: t.consensusMs,
        reason: `ms to agree on the new membership (>= 1.2 x ${t.effectiveTokenMs}); detection = token + consensus = ${t.detectionMs} ms`,
      },
      ...(twoLinks ? [{ key: "link_mode", value: "passive", reason: "one link carries the traffic, the other takes over when it fails (priority decides)" }] : []),
    ],
    sections: twoLinks
      ? [
          { name: "interface", entries: [{ key: "linknumber", value: 0 }, { key: "knet_link_priority", value: 2, reason: "the main network is preferred" }] },
          { name: "interface", entries: [{ key: "linknumber", value: 1 }, { key: "knet_link_priority", value: 1, reason: "the second network (haha:network.secondary) is the standby link" }] },
        ]
      : [],
  };
  const nodelist: CorosyncSection = {
    name: "nodelist",
    reason: "one entry per cluster guest; nodeid is the Pacemaker node id (config order)",
    entries: [],
    sections: members.map((m) => ({
      name: "node",
      entries: [
        { key: "name", value: m.name },
        { key: "nodeid", value: m.nodeId },
        { key: "quorum_votes", value: 1, reason: `one vote per member: ${m.name} on ${m.host}` },
        { key: "ring0_addr", value: m.address },
        ...(twoLinks && m.secondaryAddress ? [{ key: "ring1_addr", value: m.secondaryAddress }] : []),
      ],
    })),
  };
  const quorum: CorosyncSection = {
    name: "quorum",
    entries: [
      { key: "provider", value: "corosync_votequorum", reason: `a partition needs ${Math.floor(members.length / 2) + 1} of ${members.length} votes to run anything` },
      {
        key: "wait_for_all",
        value: 0,
        reason: "after a power cut the surviving majority starts the services even if one host never comes back",
      },
    ],
  };
  const logging: CorosyncSection = {
    name: "logging",
    entries: [
      { key: "to_syslog", value: "yes", reason: "journald keeps membership changes with the rest of the guest's log" },
      { key: "to_logfile", value: "no" },
      { key: "to_stderr", value: "no" },
      { key: "timestamp", value: "on" },
    ],
  };
  return {
    header: [`Rendered by HAHA for cluster "${c.cluster.name}" (${members.length} members). Do not edit: pulumi up rewrites it.`],
    sections: [totem, nodelist, quorum, logging],
  };
}

export function renderCorosync(c: HahaConfig, members: Member[], opts: CorosyncOptions = {}): string {
  return renderCorosyncConf(corosyncConf(c, members, opts));
}
