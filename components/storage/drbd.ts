// The DRBD resource as a typed model, its validation, and its rendering to
// /etc/drbd.d/<resource>.res, for DRBD 8.4 (Debian's kernel, the default) or DRBD 9 (LINBIT's).
// Pure: config (and the shared secret) in, text out.
//
// 8.4: a resource connects the two diskful members; the third member is no DRBD host at all
// (it is a Pacemaker vote only). 9: every member is a host, the third diskless, and DRBD 9's
// node-id = member.nodeId - 1 = the member's 0-based position in haha:nodes (Corosync and
// Pacemaker number the same members from 1). The `on <name>` sections use the guest hostname,
// which is what drbdadm compares with `uname -n`.
import { isIPv4 } from "node:net";
import { corosyncTiming } from "../../stacks/config/cluster";
import { clusterMembers } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import type { DrbdVersion } from "../../stacks/config/storage";
import { fencingPlan } from "../pacemaker/cib/fencing";
import { DrbdStatement, opt, renderDrbdConf, section } from "./drbdconf";

/** drbd.conf's limit on shared-secret (SHARED_SECRET_MAX). */
export const DRBD_SECRET_MAX = 64;
/** Node ids DRBD 9 accepts (DRBD_NODE_ID_MAX). */
export const DRBD_NODE_ID_MAX = 31;
/** Pacemaker's DRBD fence handlers as drbd-utils installs them on Debian, per DRBD version. */
export const FENCE_PEER_HANDLERS: Record<DrbdVersion, { fence: string; unfence: string }> = {
  "8.4": { fence: "/usr/lib/drbd/crm-fence-peer.sh", unfence: "/usr/lib/drbd/crm-unfence-peer.sh" },
  "9": { fence: "/usr/lib/drbd/crm-fence-peer.9.sh", unfence: "/usr/lib/drbd/crm-unfence-peer.9.sh" },
};

export interface DrbdHost {
  /** Guest hostname (`on <name>`, `uname -n`). */
  name: string;
  /** DRBD node-id (0-based); undefined models a missing one, which validation refuses. */
  nodeId?: number;
  address: string;
  port: number;
  /** Holds a replica (disk) or is the diskless tiebreaker (`disk none`). */
  diskful: boolean;
  /** Backing block device inside the guest; only diskful hosts have one. */
  disk?: string;
}

export interface DrbdResourceModel {
  version: DrbdVersion;
  resource: string;
  minor: number;
  protocol: "A" | "B" | "C";
  allowTwoPrimaries: boolean;
  fencing: "dont-care" | "resource-only" | "resource-and-stonith";
  /** DRBD 9 only: DRBD's own quorum (undefined under 8.4, which has none). */
  quorum?: "majority" | "all" | "off";
  onNoQuorum?: "suspend-io" | "io-error";
  /**
   * crm-fence-peer's --timeout and --dc-timeout (s). With two primaries both call the handler
   * when the link drops: it must wait longer than the cluster needs to detect and fence a peer
   * (its method b), so the member that is to be fenced is fenced before it could complete writes.
   */
  fencePeer: { timeoutS: number; dcTimeoutS: number; reason: string };
  resyncRateMiB: number;
  /** Shared secret for peer authentication (a placeholder under the offline plan). */
  sharedSecret: string;
  hosts: DrbdHost[];
}

export class DrbdModelError extends Error {
  constructor(
    readonly resource: string,
    readonly problems: string[],
  ) {
    super(`DRBD resource "${resource}" refused before rendering (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "DrbdModelError";
  }
}

/** The model of haha:storage.drbd over the cluster members. */
export function drbdModel(c: HahaConfig, sharedSecret: string): DrbdResourceModel {
  const d = c.storage.drbd;
  const v9 = d.version === "9";
  return {
    version: d.version,
    resource: d.resource,
    minor: d.minor,
    protocol: d.protocol,
    allowTwoPrimaries: d.allowTwoPrimaries,
    fencing: d.fencing,
    quorum: v9 ? (d.quorum ?? "majority") : d.quorum,
    onNoQuorum: v9 ? (d.onNoQuorum ?? "io-error") : d.onNoQuorum,
    fencePeer: fencePeerTimeouts(c),
    resyncRateMiB: d.resyncRateMiB,
    sharedSecret,
    hosts: clusterMembers(c).map((m) => ({
      name: m.name,
      nodeId: m.nodeId - 1,
      address: m.address,
      port: d.port,
      diskful: m.diskful,
      disk: m.diskful ? m.drbdDevice : undefined,
    })),
  };
}

/**
 * How long crm-fence-peer waits. --timeout: at least what the cluster takes to declare the peer
 * lost and fence it along its slowest path (corosync detection plus every fencing level failing
 * but the last), plus headroom; --dc-timeout longer still (a DC election may come first).
 */
export function fencePeerTimeouts(c: HahaConfig): DrbdResourceModel["fencePeer"] {
  const detectS = Math.ceil(corosyncTiming(c).detectionMs / 1000);
  const members = clusterMembers(c);
  const worstFenceS = Math.max(
    0,
    ...fencingPlan(c, members).map(({ levels }) => levels.reduce((n, l, i) => n + (i === levels.length - 1 ? l.successS.value : l.failS.value), 0)),
  );
  const headroomS = 10;
  const timeoutS = detectS + worstFenceS + headroomS;
  return {
    timeoutS,
    dcTimeoutS: timeoutS + 30,
    reason: `--timeout ${timeoutS} s = detection ${detectS} s + the slowest fencing path ${worstFenceS} s + ${headroomS} s: the peer is fenced before this member's writes complete (dual-primary); --dc-timeout 30 s more for a DC election`,
  };
}

/** The members the resource file names: both diskful ones under 8.4, every member under 9. */
export const resourceHosts = (m: DrbdResourceModel): DrbdHost[] => (m.version === "8.4" ? m.hosts.filter((h) => h.diskful) : m.hosts);

/**
 * Every reason the model cannot be rendered: inconsistent models (a missing or repeated node
 * id, one address used twice, a diskless host marked diskful) and models that contradict what
 * this layer is built on (protocol C, dual-primary OCFS2 behind stonith fencing). Empty: fine.
 */
export function drbdModelProblems(m: DrbdResourceModel): string[] {
  const p: string[] = [];
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(m.resource)) p.push(`resource name "${m.resource}": expected a lowercase name (a-z, 0-9, '-')`);
  if (!Number.isInteger(m.minor) || m.minor < 0 || m.minor > 1048575) p.push(`minor ${m.minor}: expected a whole number from 0 to 1048575`);
  if (m.protocol !== "C") {
    p.push(`protocol ${m.protocol}: expected C. Only synchronous replication acknowledges a write after every connected replica has it, so no acknowledged write is lost with a host; allow-two-primaries (OCFS2 on both replicas) also requires it`);
  }
  const diskful = m.hosts.filter((h) => h.diskful);
  if (diskful.length === 0) p.push("no diskful host: expected at least one host holding a replica");
  if (m.version === "8.4") {
    if (diskful.length > 2) p.push(`${diskful.length} diskful hosts with DRBD 8.4: expected at most two (an 8.4 resource connects two hosts; DRBD 9 replicates to more)`);
    if (m.quorum !== undefined || m.onNoQuorum !== undefined) p.push("quorum options with DRBD 8.4: expected none (8.4 has no DRBD quorum; Pacemaker's quorum and resource-and-stonith fencing guard the data)");
    if (m.fencing !== "resource-and-stonith") {
      p.push(`fencing ${m.fencing} with DRBD 8.4: expected resource-and-stonith. Without DRBD quorum, only fencing through Pacemaker keeps a cut-off replica from writing on its own`);
    }
  }
  if (!Number.isInteger(m.fencePeer.timeoutS) || m.fencePeer.timeoutS < 1 || m.fencePeer.dcTimeoutS <= m.fencePeer.timeoutS) {
    p.push(`crm-fence-peer timeouts ${m.fencePeer.timeoutS} s / dc ${m.fencePeer.dcTimeoutS} s: expected a positive --timeout and a longer --dc-timeout`);
  }
  if (diskful.length >= 2 && !m.allowTwoPrimaries) {
    p.push(`allow-two-primaries off with ${diskful.length} diskful hosts: OCFS2 is mounted on every diskful member at once, which needs every one of them primary`);
  }
  if (m.allowTwoPrimaries && m.fencing !== "resource-and-stonith") {
    p.push(`fencing ${m.fencing} with allow-two-primaries: expected resource-and-stonith. Two primaries that lose sight of each other must freeze I/O until one is fenced, or both keep writing and the cluster filesystem splits`);
  }
  if (!Number.isInteger(m.resyncRateMiB) || m.resyncRateMiB < 1) p.push(`resync rate ${m.resyncRateMiB} MiB/s: expected a whole number of at least 1`);
  if (m.sharedSecret.length === 0 || m.sharedSecret.length > DRBD_SECRET_MAX) p.push(`shared secret: expected 1 to ${DRBD_SECRET_MAX} characters, got ${m.sharedSecret.length}`);
  else if (!/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(m.sharedSecret)) p.push("shared secret: expected printable ASCII without quotes or backslashes");

  if (m.hosts.length === 0) p.push("no hosts: expected every cluster member");
  const names = new Map<string, number>();
  const ids = new Map<number, string>();
  const addresses = new Map<string, string>();
  m.hosts.forEach((h, i) => {
    const who = `host ${i} ("${h.name}")`;
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(h.name)) p.push(`${who}: expected the guest hostname (lowercase, a-z 0-9 '-'), which drbdadm matches with uname -n`);
    if (names.has(h.name)) p.push(`${who}: name already used by host ${names.get(h.name)}`);
    else names.set(h.name, i);
    if (h.nodeId === undefined || h.nodeId === null) p.push(`${who}: missing node-id (expected the member's Pacemaker node id - 1)`);
    else if (!Number.isInteger(h.nodeId) || h.nodeId < 0 || h.nodeId > DRBD_NODE_ID_MAX) p.push(`${who}: node-id ${h.nodeId}: expected a whole number from 0 to ${DRBD_NODE_ID_MAX}`);
    else if (ids.has(h.nodeId)) p.push(`${who}: node-id ${h.nodeId} already used by ${ids.get(h.nodeId)}`);
    else ids.set(h.nodeId, `"${h.name}"`);
    if (!isIPv4(h.address)) p.push(`${who}: address "${h.address}": expected an IPv4 address`);
    else if (addresses.has(h.address)) p.push(`${who}: address ${h.address} already used by ${addresses.get(h.address)}: each member needs its own`);
    else addresses.set(h.address, `"${h.name}"`);
    if (!Number.isInteger(h.port) || h.port < 1 || h.port > 65535) p.push(`${who}: port ${h.port}: expected 1 to 65535`);
    if (h.diskful && !h.disk) p.push(`${who}: marked diskful but has no disk: a diskless member (no haha:nodes[].drbdDisk) cannot hold a replica`);
    if (!h.diskful && h.disk) p.push(`${who}: diskless (the tiebreaker) but names disk ${h.disk}: a tiebreaker holds no replica`);
    if (h.disk !== undefined && !/^\/dev\/[A-Za-z0-9._/-]+$/.test(h.disk)) p.push(`${who}: disk "${h.disk}": expected a block device path under /dev`);
  });
  return p;
}

/** Throws DrbdModelError listing every problem; returns quietly when the model is sound. */
export function checkDrbdModel(m: DrbdResourceModel): void {
  const problems = drbdModelProblems(m);
  if (problems.length > 0) throw new DrbdModelError(m.resource, problems);
}

export const drbdDevice = (minor: number) => `/dev/drbd${minor}`;
export const drbdResPath = (resource: string) => `/etc/drbd.d/${resource}.res`;

function hostSection(m: DrbdResourceModel, h: DrbdHost): DrbdStatement {
  const volume = h.diskful
    ? [opt("device", ["minor", m.minor]), opt("disk", h.disk ?? ""), opt("meta-disk", "internal", "DRBD metadata at the end of the disk itself: a replacement disk carries everything it needs")]
    : [opt("device", ["minor", m.minor]), opt("disk", "none", "the tiebreaker holds no replica; it only votes for quorum")];
  const body = [
    // DRBD 9 numbers the hosts of a mesh; 8.4 has exactly two and no node ids.
    ...(m.version === "9" ? [opt("node-id", h.nodeId ?? -1)] : []),
    opt("address", ["ipv4", `${h.address}:${h.port}`]),
    section("volume", volume, undefined, ["0"]),
  ];
  return section("on", body, h.diskful ? "diskful member: holds a replica" : "diskless member: quorum tiebreaker", [h.name]);
}

function fencePeerHandler(m: DrbdResourceModel): DrbdStatement {
  const h = FENCE_PEER_HANDLERS[m.version];
  return opt(
    "fence-peer",
    `${h.fence} --timeout ${m.fencePeer.timeoutS} --dc-timeout ${m.fencePeer.dcTimeoutS}${m.allowTwoPrimaries ? " --suicide-on-failure-if-primary" : ""}`,
    [
      "places a Pacemaker constraint that keeps the unreachable peer from being promoted until it is fenced or back in sync.",
      `${m.fencePeer.reason}.`,
      ...(m.allowTwoPrimaries
        ? ["With two primaries a lost replication link makes both call it and only one can place the constraint:", "the other reboots itself instead of staying frozen (--suicide-on-failure-if-primary)"]
        : []),
    ].join("\n"),
    true,
  );
}

/** The statements of the resource file (what renderDrbdResource serializes). */
export function drbdResourceStatements(m: DrbdResourceModel): DrbdStatement[] {
  const v9 = m.version === "9";
  const h = FENCE_PEER_HANDLERS[m.version];
  const fencing = opt("fencing", m.fencing, "on losing a peer, freeze I/O and call the fence-peer handler; I/O resumes once Pacemaker has fenced the peer");
  const options = section("options", [
    opt("auto-promote", "no", "only Pacemaker promotes: opening the device never makes a member primary by itself"),
    opt("quorum", m.quorum ?? "majority", "a partition without a majority of members (diskful or the diskless tiebreaker) stops writing: no split brain"),
    opt("on-no-quorum", m.onNoQuorum ?? "io-error", "writes fail at once on a member that lost quorum, so its stops complete and it is fenced, instead of freezing until timeouts"),
  ]);
  const net = section("net", [
    opt("protocol", m.protocol, "synchronous: a write is acknowledged once every connected replica has it; no acknowledged write is lost with a host"),
    opt("allow-two-primaries", m.allowTwoPrimaries ? "yes" : "no", "OCFS2 is mounted on both diskful members at once"),
    // DRBD 9 sets fencing per connection (net); 8.4 per device (disk).
    ...(v9 ? [fencing] : []),
    opt("cram-hmac-alg", "sha256", "peers authenticate with the shared secret: a stray or misaddressed host cannot join the resource"),
    opt("shared-secret", m.sharedSecret, "generated by @pulumi/random, never committed", true),
    opt("verify-alg", "crc32c", "lets `drbdadm verify` compare the replicas online, e.g. after a disk replacement"),
    opt("after-sb-0pri", "discard-zero-changes", "split brain with no primary: if only one side wrote, keep its data automatically; otherwise stay disconnected for a human"),
    opt("after-sb-1pri", "discard-secondary", "split brain with one primary: the primary is the one Pacemaker kept running, its data wins"),
    opt("after-sb-2pri", "disconnect", "split brain with two primaries: both wrote, no automatic choice is safe; stay disconnected for a human"),
    opt("rr-conflict", "disconnect", "a resync that would overwrite a primary's data is refused instead of applied"),
  ]);
  const disk = section("disk", [
    opt("on-io-error", "detach", "a failing NVMe is dropped and the member keeps serving from its peer (diskless) until the disk is replaced"),
    ...(v9 ? [] : [fencing]),
    opt("c-max-rate", `${m.resyncRateMiB}M`, "resync ceiling (haha:storage.drbd.resyncRateMiB): a resync does not starve the services' own I/O"),
  ]);
  const handlers = section("handlers", [
    fencePeerHandler(m),
    v9
      ? opt("unfence-peer", h.unfence, "removes that constraint once the peer is up to date again", true)
      : opt("after-resync-target", h.unfence, "removes that constraint once this member is up to date again (8.4 calls it after a resync)", true),
  ]);
  const hosts = resourceHosts(m);
  if (!v9) return [section("resource", [net, disk, handlers, ...hosts.map((x) => hostSection(m, x))], undefined, [m.resource])];
  const mesh = section("connection-mesh", [opt("hosts", hosts.map((x) => x.name))], "every member connects to every other: each diskful member sees its peer and the tiebreaker");
  return [section("resource", [options, net, disk, handlers, ...hosts.map((x) => hostSection(m, x)), mesh], undefined, [m.resource])];
}

/** /etc/drbd.d/<resource>.res. Throws DrbdModelError before rendering a model it refuses. */
export function renderDrbdResource(m: DrbdResourceModel): string {
  checkDrbdModel(m);
  return renderDrbdConf(drbdResourceStatements(m), [
    `DRBD ${m.version} resource "${m.resource}", rendered by HAHA from haha:storage.drbd and haha:nodes; pulumi up rewrites it.`,
    m.version === "9"
      ? "node-id = Pacemaker/corosync node id - 1 (position in haha:nodes). Applied with `drbdadm adjust`, one member at a time."
      : "The two diskful members; the third member is a Pacemaker vote only. Applied with `drbdadm adjust`, one member at a time.",
  ]);
}
