// The NFS side of the storage layer as pure renderers: the export's options and the clients'
// mount options (each with its reason), the nfsd lease/grace snippet, and the systemd unit that
// creates the export and state directories on OCFS2 before the server starts.
import type { HahaConfig } from "../../stacks/config/schema";
import { renderKeyfile } from "./keyfile";

export interface MountOption {
  name: string;
  value?: string | number;
  reason: string;
}

/** `a,b=1,c` as exportfs(8) and mount(8) read it. */
export function joinOptions(options: MountOption[]): string {
  for (const o of options) {
    if (!/^[a-z][a-z0-9_]*$/.test(o.name)) throw new Error(`mount option "${o.name}" is not an option name`);
    if (o.value !== undefined && !/^[A-Za-z0-9_.:/-]+$/.test(String(o.value))) throw new Error(`mount option ${o.name}: value "${o.value}" cannot be written in an option list`);
  }
  return options.map((o) => (o.value === undefined ? o.name : `${o.name}=${o.value}`)).join(",");
}

/** "name (reason); ..." for a CIB description, so the CIB says why as well. */
export function explainOptions(options: MountOption[]): string {
  return options.map((o) => `${o.value === undefined ? o.name : `${o.name}=${o.value}`}: ${o.reason}`).join("; ");
}

/**
 * Options of the export to one cluster member (the exportfs agent adds the fixed fsid itself).
 * Each member is its own clientspec: nothing else on the network may mount the data.
 */
export function exportOptions(): MountOption[] {
  return [
    { name: "rw", reason: "the services write their state here" },
    { name: "sync", reason: "the server answers a write only once it is on stable storage, i.e. on both DRBD replicas (protocol C)" },
    {
      name: "no_root_squash",
      reason: "containers run as root and chown their data directories; exported to the members' own addresses only, which already hold root over the cluster",
    },
    { name: "no_subtree_check", reason: "file handles stay valid across renames; the whole filesystem subtree is exported anyway" },
  ];
}

/** The Proxmox hosts' export of the backup directory only, root squashed. */
export function proxmoxExportOptions(): MountOption[] {
  return [
    { name: "rw", reason: "vzdump writes the guests' backups here" },
    { name: "sync", reason: "a backup is acknowledged only once it is on both DRBD replicas" },
    { name: "root_squash", reason: "a Proxmox host is root on its own machine, not on the home's data: its root writes as nobody, into the backup directory only" },
    { name: "no_subtree_check", reason: "file handles stay valid across renames" },
  ];
}

/** The uid:gid root_squash maps the Proxmox hosts' root to: owner of the backup directory. */
export const SQUASHED_ID = 65534;

/** Options of the NFS client mount on every member (and of the Proxmox storage). */
export function clientMountOptions(c: HahaConfig): MountOption[] {
  const n = c.storage.nfs;
  return [
    { name: "vers", value: "4.2", reason: "NFSv4.2 only: one TCP port through the VIP, no rpcbind/mountd/statd on the failover path; state is reclaimed in the grace period" },
    { name: "proto", value: "tcp", reason: "a moved VIP answers the old connection with a reset, so the client reconnects at once" },
    { name: "hard", reason: "I/O waits for the server to come back instead of failing: no write is silently lost during a move" },
    { name: "timeo", value: n.timeoDeciseconds, reason: "haha:storage.nfs.timeoDeciseconds: first retry after this many deciseconds" },
    { name: "retrans", value: n.retrans, reason: "haha:storage.nfs.retrans: retries before the timeout starts over, bounding the gap between attempts" },
    { name: "nosuid", reason: "a set-uid file planted on the export never runs with its owner's rights on a member or host" },
    { name: "nodev", reason: "a device node planted on the export never opens a member's or host's devices" },
  ];
}

export const NFSD_CONF_PATH = "/etc/nfs.conf.d/haha-nfsd.conf";

/** nfs.conf(5) snippet read by rpc.nfsd on the diskful members (where the server may run). */
export function renderNfsdConf(c: HahaConfig): string {
  const n = c.storage.nfs;
  return renderKeyfile(
    [
      {
        name: "nfsd",
        entries: [
          { key: "lease-time", value: n.leaseTimeS, reason: "haha:storage.nfs.leaseTimeS: NFSv4 lease, how long a silent client keeps its state" },
          { key: "grace-time", value: n.graceTimeS, reason: "haha:storage.nfs.graceTimeS: after a failover clients reclaim their state for this long; new opens wait (kernel default 90 s)" },
        ],
      },
    ],
    ["Rendered by HAHA from haha:storage.nfs; read by rpc.nfsd when Pacemaker starts the NFS server (takes effect at its next start)."],
  );
}

export const DIRS_UNIT = "haha-nfs-dirs";
export const DIRS_UNIT_PATH = `/etc/systemd/system/${DIRS_UNIT}.service`;

/** A drop-in on the diskful members: nfsdcld stops with nfs-server. */
export const NFSDCLD_DROPIN_PATH = "/etc/systemd/system/nfsdcld.service.d/haha-stop-with-nfs-server.conf";

/**
 * nfsdcld (the NFSv4 client-tracking daemon that nfs-server.service pulls in) keeps its database
 * open in /var/lib/nfs, which the nfsserver agent bind-mounts from OCFS2 (nfs_shared_infodir).
 * On Debian the agent drives the NFS server through /etc/init.d/nfs-kernel-server, whose stop
 * stops nfs-server.service but leaves nfsdcld running: the agent's unmount of /var/lib/nfs then
 * fails ("target is busy"), the stop fails, and the member is fenced. Found by the rehearsal lab:
 * every controlled move of the export (a member's restart for SBD) fenced the member serving it.
 * PartOf makes systemd stop (and restart) nfsdcld with nfs-server.
 */
export function renderNfsdcldDropIn(): string {
  return renderKeyfile(
    [{ name: "Unit", entries: [{ key: "PartOf", value: "nfs-server.service", reason: "stopped with the NFS server, so the nfsserver agent can unmount /var/lib/nfs (nfsdcld holds its database there)" }] }],
    ["Rendered by HAHA. Do not edit: pulumi up rewrites it."],
  );
}

/** Directories Pacemaker creates on OCFS2 before the NFS server starts. */
export function exportDirectories(c: HahaConfig): string[] {
  const n = c.storage.nfs;
  return [n.exportPath, n.stateDir, ...(n.proxmoxStorage ? [proxmoxExportPath(c)] : [])];
}

/** Where Proxmox keeps its content inside the export, apart from the services' directories. */
export const proxmoxExportPath = (c: HahaConfig) => `${c.storage.nfs.exportPath.replace(/\/$/, "")}/proxmox`;

/**
 * A oneshot unit that Pacemaker starts first in the NFS group (systemd:haha-nfs-dirs): mkdir -p
 * of the export and state directories. The exportfs agent refuses a missing directory, and a
 * freshly made OCFS2 is empty; the assertion keeps it from ever creating them on the local
 * root filesystem when OCFS2 is not mounted. No [Install]: never started at boot.
 */
export function renderDirsUnit(c: HahaConfig): string {
  const dirs = exportDirectories(c);
  for (const d of dirs) if (!/^\/[A-Za-z0-9._/-]+$/.test(d)) throw new Error(`${d}: a directory for the NFS export must be a plain absolute path (letters, digits, . _ - /)`);
  return renderKeyfile(
    [
      {
        name: "Unit",
        entries: [
          { key: "Description", value: "HAHA: NFS export and state directories on OCFS2 (started by Pacemaker)" },
          { key: "AssertPathIsMountPoint", value: c.storage.ocfs2.mountPoint, reason: "only ever on the mounted OCFS2, never on the local root filesystem" },
        ],
      },
      {
        name: "Service",
        entries: [
          { key: "Type", value: "oneshot" },
          { key: "RemainAfterExit", value: true, reason: "stays active, so Pacemaker's monitor sees it running" },
          { key: "ExecStart", value: `/bin/mkdir -p ${dirs.join(" ")}` },
          ...(c.storage.nfs.proxmoxStorage
            ? [{ key: "ExecStart", value: `/bin/chown ${SQUASHED_ID}:${SQUASHED_ID} ${proxmoxExportPath(c)}`, reason: "the Proxmox hosts' root is squashed to nobody: the backup directory is nobody's" }]
            : []),
        ],
      },
    ],
    ["Rendered by HAHA from haha:storage; started and stopped by Pacemaker only (no [Install] section)."],
  );
}
