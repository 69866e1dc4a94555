// The storage layer's contribution to the one CIB: DRBD promoted on every diskful member,
// dlm and OCFS2 on those members, the NFS server behind the storage VIP where OCFS2 is mounted,
// and the NFS client mount on every member. Pure: config in, fragment out.
import { clusterMembers } from "../../stacks/config/members";
import { subnetInfo } from "../../stacks/config/net";
import type { HahaConfig } from "../../stacks/config/schema";
import { CIB_IDS } from "../pacemaker/cib/ids";
import type { CibFragment, Constraint, Op, Primitive } from "../pacemaker/cib/model";
import { drbdDevice, fencePeerTimeouts } from "./drbd";
import { storageAddress, storageNetwork } from "./network";
import { DIRS_UNIT, clientMountOptions, explainOptions, exportOptions, joinOptions, proxmoxExportOptions, proxmoxExportPath } from "./nfs";

/** The DRBD and OCFS2 clones' instance stickiness: above the linbit agent's highest promotion score (crm_master 10000). */
export const DRBD_INSTANCE_STICKINESS = 20000;

/**
 * How long the export can be away while it moves to a survivor: the serving member lost and
 * fenced along its slowest path (crm-fence-peer's --timeout: detection + fencing + headroom),
 * nfsd started with its NFSv4 grace period, then the exports and the storage VIP. A hard mount
 * waits that long, and so does anything that touches it, the Filesystem agent included.
 */
export function exportMoveS(c: HahaConfig): { seconds: number; reason: string } {
  const fence = fencePeerTimeouts(c).timeoutS;
  const nfsd = 5 + c.storage.nfs.graceTimeS;
  const rest = 10;
  return { seconds: fence + nfsd + rest, reason: `the export can be away ${fence + nfsd + rest} s while it moves (member lost and fenced ${fence} s, nfsd and its grace period ${nfsd} s, exports and storage VIP ${rest} s)` };
}

/** Ids this layer defines in the CIB (CIB_IDS holds the ones other layers refer to). */
export const STORAGE_IDS = {
  drbd: (resource: string) => `drbd-${resource}`,
  drbdClone: (resource: string) => `drbd-${resource}-clone`,
  dlm: "dlm",
  dlmClone: "dlm-clone",
  ocfs2: "ocfs2-fs",
  ocfs2Clone: "ocfs2-fs-clone",
  nfsGroup: "nfs-group",
  nfsDirs: "nfs-dirs",
  nfsServer: "nfs-server",
  /** One exportfs per client: the agent takes one clientspec (its metadata says so). */
  nfsExport: (client: string) => `nfs-export-${client}`,
  nfsExportProxmox: (host: string) => `nfs-export-backup-${host}`,
  storageVip: CIB_IDS.storageVip,
  sharedMount: "shared-mount",
  sharedMountClone: CIB_IDS.sharedMountClone,
} as const;

const op = (name: Op["name"], intervalS: number, timeoutS: number, reason: string, extra: Partial<Op> = {}): Op => ({ name, intervalS, timeoutS, reason, ...extra });
const t = <T extends string | number | boolean>(value: T, reason: string) => ({ value, reason });

export function storageCibFragment(c: HahaConfig): CibFragment {
  const members = clusterMembers(c);
  const diskful = members.filter((m) => m.diskful);
  const diskless = members.filter((m) => !m.diskful);
  const { drbd, ocfs2, nfs } = c.storage;
  const id = STORAGE_IDS;
  const drbdId = id.drbd(drbd.resource);
  const drbdCloneId = id.drbdClone(drbd.resource);
  // DRBD 9 runs on every member (the third one diskless, for DRBD's quorum); 8.4 only on the
  // two diskful members: the third member is no host of the resource, a Pacemaker vote only.
  const v9 = drbd.version === "9";
  const drbdMembers = v9 ? members : diskful;

  const drbdPrimitive: Primitive = {
    kind: "primitive",
    id: drbdId,
    class: "ocf",
    provider: "linbit",
    type: "drbd",
    params: { drbd_resource: drbd.resource },
    ops: [
      op("start", 0, 240, "agent's advertised minimum: attach and connect can wait for a peer"),
      op("stop", 0, 100, "agent's advertised minimum; a stop that times out escalates to fencing"),
      op("promote", 0, 90, "agent's advertised minimum"),
      op("demote", 0, 90, "agent's advertised minimum"),
      op("notify", 0, 90, "agent's advertised minimum"),
      op("monitor", 10, 20, "promoted instance: the agent's default interval; node loss itself is detected by corosync", { role: "Promoted" }),
      op("monitor", 20, 20, "unpromoted instance (the tiebreaker, or a replica not yet promoted): a different interval than the promoted monitor, as Pacemaker requires", { role: "Unpromoted" }),
    ],
    expectedStartS: t(5, "estimate: attach the local NVMe and connect to two peers on one LAN; not on the failover path (the survivor stays primary)"),
  };

  const dlmPrimitive: Primitive = {
    kind: "primitive",
    id: id.dlm,
    class: "ocf",
    provider: "pacemaker",
    type: "controld",
    params: {},
    ops: [
      op("start", 0, 90, "agent's advertised minimum"),
      op("stop", 0, 100, "agent's advertised minimum"),
      op("monitor", 10, 20, "agent's default; lock recovery after a failure waits for fencing, not for this monitor"),
    ],
    expectedStartS: t(3, "estimate: dlm_controld joins the corosync group; not on the failover path"),
  };

  const ocfs2Primitive: Primitive = {
    kind: "primitive",
    id: id.ocfs2,
    class: "ocf",
    provider: "heartbeat",
    type: "Filesystem",
    // force_unmount=safe: on stop, kill what holds the mount by walking /proc, not with fuser,
    // which stats the mount and hangs on frozen I/O (DRBD waiting for fencing).
    params: { device: drbdDevice(drbd.minor), directory: ocfs2.mountPoint, fstype: "ocfs2", options: "noatime", force_unmount: "safe" },
    description: "OCFS2 on DRBD, mounted on every diskful member. noatime: reads do not write metadata (each write of it is a cluster lock round trip).",
    ops: [
      op("start", 0, 90, "the first mount after a member's loss replays that member's journal; more than the agent's 60 s"),
      op("stop", 0, 90, "unmount flushes the journal; a stop that times out escalates to fencing"),
      op("monitor", 20, 40, "depth 0 reads /proc/mounts only, so a monitor never hangs on frozen I/O while DRBD waits for fencing"),
    ],
    expectedStartS: t(5, "estimate: cluster mount with dlm lockspace join; not on the failover path (the survivor keeps its mount)"),
  };

  const storageNet = storageNetwork(c);
  const prefix = subnetInfo(storageNet.subnet).prefix;
  const exportOpts = exportOptions();
  const exportOps = [
    op("start", 0, 40, "agent's advertised minimum"),
    op("stop", 0, 120, "agent's advertised minimum: unexport waits for in-flight requests"),
    op("monitor", 10, 20, "agent's default"),
  ];
  // Exactly the members' addresses (on the storage network), never a subnet: any other machine
  // that mounted the export would be root over every secret and every line of code the services run.
  const memberExports: Primitive[] = members.map((m) => ({
    kind: "primitive",
    id: id.nfsExport(m.name),
    class: "ocf",
    provider: "heartbeat",
    type: "exportfs",
    params: { directory: nfs.exportPath, clientspec: storageAddress(c, m), fsid: String(nfs.fsid), options: joinOptions(exportOpts) },
    description: `clientspec: member ${m.name} only. fsid ${nfs.fsid} fixed: file handles stay valid when the export moves (stale handles once cost 66 hours). ${explainOptions(exportOpts)}`,
    ops: exportOps,
    expectedStartS: t(1, "exportfs of one directory to one client"),
  }));
  const backupOpts = proxmoxExportOptions();
  // The Proxmox hosts mount only the backup directory (a nested export needs its own fsid), root squashed.
  const backupExports: Primitive[] = nfs.proxmoxStorage
    ? c.nodes.map((n) => ({
        kind: "primitive",
        id: id.nfsExportProxmox(n.name),
        class: "ocf",
        provider: "heartbeat",
        type: "exportfs",
        params: { directory: proxmoxExportPath(c), clientspec: n.address, fsid: String(nfs.fsid + 1), options: joinOptions(backupOpts) },
        description: `clientspec: Proxmox host ${n.name} only, the backup directory only. ${explainOptions(backupOpts)}`,
        ops: exportOps,
        expectedStartS: t(1, "exportfs of one directory to one client"),
      }))
    : [];
  const nfsPrimitives: Primitive[] = [
    {
      kind: "primitive",
      id: id.nfsDirs,
      class: "systemd",
      type: DIRS_UNIT,
      params: {},
      description:
        "mkdir -p of the export and state directories on OCFS2: the exportfs agent refuses a missing directory and a new OCFS2 is empty. No recurring monitor: there is nothing to watch, and a failed one would restart the NFS server behind it for nothing",
      ops: [
        op("start", 0, 20, "mkdir on a mounted filesystem; longer means OCFS2 is stuck"),
        op("stop", 0, 20, "nothing to undo"),
      ],
      expectedStartS: t(1, "mkdir -p of existing directories"),
    },
    {
      kind: "primitive",
      id: id.nfsServer,
      class: "ocf",
      provider: "heartbeat",
      type: "nfsserver",
      params: {
        nfs_shared_infodir: nfs.stateDir,
        nfs_ip: c.network.storageVip,
        nfs_server_scope: c.network.storageVip,
      },
      description:
        "nfs_shared_infodir on OCFS2: the server that takes over knows the clients and lets them reclaim. nfs_server_scope is the VIP on every server, so NFSv4 clients may reclaim their locks after a move.",
      ops: [
        op("start", 0, 40, "agent's advertised minimum"),
        op("stop", 0, 60, "more than the agent's 20 s: a stop that times out escalates to fencing"),
        op("monitor", 10, 20, "agent's default: a dead nfsd is restarted within seconds"),
      ],
      expectedStartS: t(5 + nfs.graceTimeS, `estimate: about 5 s to start nfsd plus the NFSv4 grace period (haha:storage.nfs.graceTimeS = ${nfs.graceTimeS} s) during which new opens wait`),
    },
    ...memberExports,
    ...backupExports,
    {
      kind: "primitive",
      id: id.storageVip,
      class: "ocf",
      provider: "heartbeat",
      type: "IPaddr2",
      params: { ip: c.network.storageVip, cidr_netmask: String(prefix), nic: storageNet.nic },
      description: "the NFS server's address; it moves with the server and is up last, so a reconnecting client finds the export served",
      ops: [
        op("start", 0, 20, "agent's advertised minimum"),
        op("stop", 0, 20, "agent's advertised minimum"),
        op("monitor", 10, 20, "agent's default"),
      ],
      expectedStartS: t(1, "address plus gratuitous ARP"),
    },
  ];

  const mountOpts = clientMountOptions(c);
  // Every operation of the Filesystem agent stats the mount point first (`[ -e dir ]`, then
  // `readlink -f`), which blocks on a hard mount while the export moves: a monitor or stop that
  // gave up then would restart or fence every member at once. Both outlast the move (seen in the
  // rehearsal lab: the monitor timed out on every member while the export moved).
  const move = exportMoveS(c);
  const sharedMount: Primitive = {
    kind: "primitive",
    id: id.sharedMount,
    class: "ocf",
    provider: "heartbeat",
    type: "Filesystem",
    // force_unmount=safe: the default (true) runs fuser, which stats a hard NFS mount whose
    // server is moving and hangs until the stop times out, and a failed stop ends in fencing.
    params: { device: `${c.network.storageVip}:${nfs.exportPath}`, directory: nfs.mountPoint, fstype: "nfs4", options: joinOptions(mountOpts), force_unmount: "safe" },
    description: `the export through the storage VIP, on every member. ${explainOptions(mountOpts)}`,
    ops: [
      op("start", 0, 60, "mount through the VIP; the export is served before it (ordered at start)"),
      op("stop", 0, Math.max(60, move.seconds + 30), `unmount; processes still using it are killed first; ${move.reason}, and an unmount waits for it: that plus 30 s`),
      op("monitor", 20, Math.max(40, move.seconds), `the agent stats the mount point, which waits while the export is away: ${move.reason}, and a hard mount riding out a move is not a failure`),
    ],
    expectedStartS: t(2, "NFSv4 mount of a served export"),
  };

  const resources: CibFragment["resources"] = [
    {
      kind: "clone",
      id: drbdCloneId,
      promotable: true,
      child: drbdPrimitive,
      meta: {
        "promoted-max": t(Math.max(1, diskful.length), "every diskful member primary: OCFS2 is mounted on each of them (DRBD allow-two-primaries)"),
        "promoted-node-max": t(1, "one instance per member"),
        "clone-max": v9
          ? t(members.length, "DRBD 9 runs on every member: the diskless tiebreaker's vote is what keeps DRBD's quorum when a replica is lost")
          : t(drbdMembers.length, "DRBD 8.4 runs on the diskful members only: the third member is no host of the resource"),
        "clone-node-max": t(1, "one instance per member"),
        notify: t(true, "the linbit agent needs pre/post notifications to track its peers"),
        interleave: t(true, "each member's OCFS2 waits for its own DRBD instance, not for every instance"),
        "resource-stickiness": t(
          DRBD_INSTANCE_STICKINESS,
          "each instance stays on its member: above the linbit agent's highest promotion score (10000), or Pacemaker 2.1.5 (Debian 12) shuffles the instances when a fenced member returns while the survivor is promoted (instance 0 moves to the returning member; the survivor's OCFS2 and the export restart; fixed upstream in 2.1.7, ClusterLabs/pacemaker#3137). Found by the namespace lab",
        ),
      },
    },
    {
      kind: "clone",
      id: id.dlmClone,
      child: dlmPrimitive,
      meta: { interleave: t(true, "each member's OCFS2 waits for its own dlm only") },
    },
    {
      kind: "clone",
      id: id.ocfs2Clone,
      child: ocfs2Primitive,
      meta: {
        interleave: t(true, "a member's mount depends on its own DRBD and dlm instances only"),
        "resource-stickiness": t(
          DRBD_INSTANCE_STICKINESS,
          "each instance stays on its member, as DRBD's do: colocated with the promoted DRBD instances, both members score INFINITY and Pacemaker 2.1.5 renumbers the instances when a fenced member returns and is promoted while the survivor brings the export up (ocfs2-fs:0 moves to the returning member, the survivor's OCFS2 and its whole export group restart: the export back 80 s instead of 50). Found by the namespace lab",
        ),
      },
    },
    { kind: "group", id: id.nfsGroup, members: nfsPrimitives },
    {
      kind: "clone",
      id: id.sharedMountClone,
      child: sharedMount,
      meta: { interleave: t(true, "each member's services wait for their own member's mount only") },
    },
  ];

  const constraints: Constraint[] = [
    ...diskless.map(
      (m): Constraint =>
        v9
          ? {
              kind: "location",
              id: `loc-${drbdId}-not-promoted-on-${m.name}`,
              rsc: drbdCloneId,
              node: m.name,
              score: "-INFINITY",
              role: "Promoted",
              reason: `${m.name} is the diskless tiebreaker: it votes, it never serves the data`,
            }
          : {
              kind: "location",
              id: `loc-${drbdId}-not-on-${m.name}`,
              rsc: drbdCloneId,
              node: m.name,
              score: "-INFINITY",
              reason: `${m.name} holds no replica and is no host of the DRBD 8.4 resource: a Pacemaker vote only`,
            },
    ),
    ...diskless.map(
      (m): Constraint => ({
        kind: "location",
        id: `loc-${id.dlmClone}-not-on-${m.name}`,
        rsc: id.dlmClone,
        node: m.name,
        score: "-INFINITY",
        reason: `${m.name} never mounts OCFS2, so it needs no lock manager (one thing less to fail there)`,
      }),
    ),
    {
      kind: "order",
      id: `order-${drbdId}-promote-then-${id.ocfs2}`,
      first: drbdCloneId,
      firstAction: "promote",
      then: id.ocfs2Clone,
      thenAction: "start",
      reason: "OCFS2 mounts a primary DRBD device only",
    },
    {
      kind: "colocation",
      id: `col-${id.ocfs2}-with-${drbdId}-promoted`,
      score: "INFINITY",
      rsc: id.ocfs2Clone,
      withRsc: drbdCloneId,
      withRscRole: "Promoted",
      reason: "OCFS2 runs where DRBD is primary",
    },
    { kind: "order", id: `order-${id.dlm}-then-${id.ocfs2}`, first: id.dlmClone, then: id.ocfs2Clone, reason: "OCFS2 takes its cluster locks from dlm" },
    { kind: "colocation", id: `col-${id.ocfs2}-with-${id.dlm}`, score: "INFINITY", rsc: id.ocfs2Clone, withRsc: id.dlmClone, reason: "OCFS2 needs dlm on the same member" },
    {
      kind: "order",
      id: `order-${id.ocfs2}-then-${id.nfsGroup}`,
      first: id.ocfs2Clone,
      then: id.nfsGroup,
      reason: "the NFS server exports a mounted OCFS2 and keeps its state on it",
    },
    {
      kind: "colocation",
      id: `col-${id.nfsGroup}-with-${id.ocfs2}`,
      score: "INFINITY",
      rsc: id.nfsGroup,
      withRsc: id.ocfs2Clone,
      reason: "the NFS server runs on a member where OCFS2 is mounted, i.e. a diskful member",
    },
    {
      kind: "order",
      id: `order-${id.nfsGroup}-then-${id.sharedMount}`,
      first: id.nfsGroup,
      then: id.sharedMountClone,
      // Not Optional: at a cold start the export comes up a transition after DRBD is promoted,
      // and an Optional order would let the mounts start (and fail) before it.
      orderKind: "Mandatory",
      symmetrical: false,
      reason:
        "a mount starts only once the export is served; not symmetrical, so when the export moves the running hard mounts ride it out instead of being restarted with every service on them",
    },
  ];

  return { source: "storage", resources, constraints };
}
