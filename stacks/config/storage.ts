// haha:storage: DRBD (8.4 from Debian's kernel by default, or LINBIT's DRBD 9) under OCFS2,
// exported over NFS behind the storage VIP.
// The storage layer (components/storage, docs/storage.md) owns the meaning of these fields.
// Values the policy pack judges (protocol, fencing, quorum) stay plain here so a preview can
// see them: a well-formed but unsafe choice (protocol A, quorum off) passes this schema and is
// refused by the policy pack, so the same rule guards `pulumi preview` and the offline plan.
import * as path from "node:path";
import { absPath, hostname, port, z } from "./primitives";
import type { HahaConfig } from "./schema";
import type { ConfigProblem } from "./validate";

/** The DRBD versions the storage layer renders for. */
export const DRBD_VERSIONS = ["8.4", "9"] as const;
export type DrbdVersion = (typeof DRBD_VERSIONS)[number];

export const drbdSchema = z
  .object({
    /**
     * 8.4 (default): the module in Debian 12's own kernel and drbd-utils' 8.4 mode; two diskful
     * members, no DRBD quorum (Pacemaker's quorum over three members and resource-and-stonith
     * fencing guard the data), the third member is a Pacemaker vote only. 9: LINBIT's drbd-dkms
     * and drbd-utils from LINBIT's repository, DRBD's own quorum with the third member as a
     * diskless tiebreaker; not tested on these machines (no DRBD 9 module is reachable here).
     */
    version: z.enum(DRBD_VERSIONS).default("8.4"),
    /** DRBD resource name: /etc/drbd.d/<resource>.res, `drbdadm ... <resource>`. */
    resource: hostname.default("haha"),
    /** /dev/drbd<minor>: the device OCFS2 is made on. */
    minor: z.number().int().min(0).max(1048575).default(0),
    /** One TCP port per member for its peer(s) (DRBD 9 multiplexes the mesh on it). 7789 is DRBD's customary first port. */
    port: port.default(7789),
    /** C is synchronous: a write is acknowledged only once every connected diskful replica has it on disk. */
    protocol: z.enum(["A", "B", "C"]).default("C"),
    /**
     * DRBD 9 only (8.4 has no DRBD quorum; leave unset). Majority of three (two diskful + the
     * diskless tiebreaker): a member cut off from both others stops writing. Unset under 9: majority.
     */
    quorum: z.enum(["majority", "all", "off"]).optional(),
    /**
     * What a primary does when it loses quorum. io-error: writes fail at once, so the filesystem
     * and Pacemaker see the loss and the member's resources stop or it is fenced; suspend-io would
     * freeze every writer in uninterruptible sleep until quorum returns, turning stops into
     * timeouts and fencing anyway, only later. DRBD 9 only; unset under 9: io-error.
     */
    onNoQuorum: z.enum(["suspend-io", "io-error"]).optional(),
    /** Both diskful members primary at once: OCFS2 is a cluster filesystem mounted on both. */
    allowTwoPrimaries: z.boolean().default(true),
    /** resource-and-stonith: on losing a peer, freeze I/O until Pacemaker has fenced it (what dual-primary requires). */
    fencing: z.enum(["dont-care", "resource-only", "resource-and-stonith"]).default("resource-and-stonith"),
    /** Resync rate ceiling in MiB/s (c-max-rate), so a resync after a disk replacement does not starve the services' own I/O. */
    resyncRateMiB: z.number().int().min(1).max(10000).default(400),
  })
  .strict();

export const ocfs2Schema = z
  .object({
    /** Where the diskful members mount OCFS2 (the NFS server's side; services use the NFS mount). */
    mountPoint: absPath.default("/srv/ocfs2"),
    /** Volume label (mkfs.ocfs2 -L): at most 15 characters. */
    label: z.string().regex(/^[A-Za-z0-9_-]{1,15}$/, { message: "expected 1 to 15 letters, digits, '-' or '_'" }).default("haha"),
    /** Node slots (mkfs.ocfs2 -N): one per diskful member plus headroom for a replacement member. */
    slots: z.number().int().min(2).max(16).default(4),
  })
  .strict();

export const proxmoxStorageSchema = z
  .object({
    /** The Proxmox storage id (`pvesm status`). */
    id: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/, { message: "expected a Proxmox storage id such as haha-backup" }),
    content: z.array(z.enum(["backup", "iso", "vztmpl"])).min(1),
    /**
     * Backups kept per guest. They live on the same two NVMe replicas as the live data: unbounded
     * retention would fill them and stop every service, so the count is bounded.
     */
    keepLast: z.number().int().min(1).max(100).default(3),
  })
  .strict();

export const nfsSchema = z
  .object({
    /** Exported directory, on the OCFS2 filesystem (created by Pacemaker before the export starts). */
    exportPath: absPath.default("/srv/ocfs2/export"),
    /** A fixed fsid keeps file handles valid when the export moves to the other replica. */
    fsid: z.number().int().min(1).max(65535).default(181),
    /**
     * The NFS server's state (/var/lib/nfs: NFSv4 client records, statd): on OCFS2, outside the
     * export, so the server that takes over knows the clients and lets them reclaim their state.
     */
    stateDir: absPath.default("/srv/ocfs2/nfs-state"),
    /** Where every member mounts the export; services keep data under <mountPoint>/<service>. */
    mountPoint: absPath.default("/srv/haha"),
    /**
     * Client RPC timeout in deciseconds (nfs(5) timeo). Over TCP the client waits timeo, then 2x,
     * ... until `retrans` retries make a major timeout, then starts again at timeo: 5 s and 2
     * retries bound the wait between two attempts to 10 s, so a client reaches the moved VIP
     * within about 10 s of it answering (the default of 60 s would eat most of the budget).
     */
    timeoDeciseconds: z.number().int().min(10).max(600).default(50),
    retrans: z.number().int().min(1).max(10).default(2),
    /**
     * NFSv4 lease (nfsd lease-time, kernel minimum 10 s). Clients renew within it; it bounds how
     * long a dead client's locks block others. 15 s: short for failover, not so short that a
     * brief network stall expires healthy clients.
     */
    leaseTimeS: z.number().int().min(10).max(3600).default(15),
    /**
     * NFSv4 grace period after the server (re)starts, when clients may only reclaim: new opens
     * wait. It is on the failover path, so it is kept at the lease (the minimum that lets every
     * client notice the restart) instead of the kernel's 90 s.
     */
    graceTimeS: z.number().int().min(10).max(3600).default(15),
    /** Register the export as Proxmox storage (e.g. for vzdump backups); absent: not registered. */
    proxmoxStorage: proxmoxStorageSchema.optional(),
  })
  .strict();

export const storageSchema = z
  .object({
    drbd: drbdSchema.default(drbdSchema.parse({})),
    ocfs2: ocfs2Schema.default(ocfs2Schema.parse({})),
    nfs: nfsSchema.default(nfsSchema.parse({})),
  })
  .strict();

export type StorageConfig = z.infer<typeof storageSchema>;
export type DrbdConfig = z.infer<typeof drbdSchema>;
export type NfsConfig = z.infer<typeof nfsSchema>;

const inside = (child: string, parent: string) => {
  const rel = path.posix.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.posix.isAbsolute(rel));
};

/**
 * Cross-field checks of haha:storage (called from crossCheck in validate.ts): configs that
 * cannot work at all. Safety choices (replica count, protocol, quorum, fencing) are the policy
 * pack's. `exportPath` on the OCFS2 filesystem is checked by crossCheck itself.
 */
export function storageCrossCheck(c: HahaConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: string, value: unknown, expected: string) => problems.push({ path: `haha:${path}`, value, expected });
  const { ocfs2, nfs, drbd } = c.storage;
  const diskful = c.nodes.filter((n) => n.drbdDisk !== undefined).length;
  if (drbd.version === "8.4") {
    // DRBD 8.4 has no quorum of its own and connects exactly two hosts per resource.
    if (drbd.quorum !== undefined) add("storage.drbd.quorum", drbd.quorum, 'expected no quorum with version "8.4": DRBD 8.4 has none (Pacemaker\'s quorum and resource-and-stonith fencing guard the data); set version "9" for DRBD\'s own quorum');
    if (drbd.onNoQuorum !== undefined) add("storage.drbd.onNoQuorum", drbd.onNoQuorum, 'expected no onNoQuorum with version "8.4": DRBD 8.4 has no quorum');
    if (diskful > 2) add("nodes", `${diskful} nodes with drbdDisk`, 'expected at most two nodes with drbdDisk with haha:storage.drbd.version "8.4": a DRBD 8.4 resource connects two hosts (version "9" replicates to more)');
  }
  if (diskful === 0) {
    add("nodes", `${c.nodes.length} node(s), none with drbdDisk`, "expected at least one node with drbdDisk: without a DRBD replica there is no storage to build");
  }
  // Resource agents split these on blanks (exportfs exports each word) and systemd and mount
  // options have no quoting that all of them share: plain paths only.
  const plain = /^\/[A-Za-z0-9._/-]*$/;
  const paths: [string, string][] = [["storage.ocfs2.mountPoint", ocfs2.mountPoint], ["storage.nfs.exportPath", nfs.exportPath], ["storage.nfs.stateDir", nfs.stateDir], ["storage.nfs.mountPoint", nfs.mountPoint]];
  for (const [key, p] of paths) {
    if (!plain.test(p)) add(key, p, "expected a plain absolute path (letters, digits, '.', '_', '-', '/'): resource agents split paths on blanks");
    else if (p === "/") add(key, p, "expected a directory below /, not the root filesystem itself");
  }
  if (ocfs2.slots < diskful) add("storage.ocfs2.slots", ocfs2.slots, `expected at least one OCFS2 node slot per diskful member (${diskful})`);
  if (!inside(nfs.stateDir, ocfs2.mountPoint) || nfs.stateDir === ocfs2.mountPoint) {
    add("storage.nfs.stateDir", nfs.stateDir, `expected a directory on the OCFS2 filesystem mounted at ${ocfs2.mountPoint}, so the server that takes over finds it`);
  } else if (inside(nfs.stateDir, nfs.exportPath) || inside(nfs.exportPath, nfs.stateDir)) {
    add("storage.nfs.stateDir", nfs.stateDir, `expected a directory outside the export ${nfs.exportPath} and not containing it: clients must not see or change the server's state`);
  }
  if (inside(nfs.mountPoint, ocfs2.mountPoint) || inside(ocfs2.mountPoint, nfs.mountPoint)) {
    add("storage.nfs.mountPoint", nfs.mountPoint, `expected a mount point apart from the OCFS2 mount ${ocfs2.mountPoint} (neither inside the other)`);
  }
  if (nfs.graceTimeS < nfs.leaseTimeS) {
    add("storage.nfs.graceTimeS", nfs.graceTimeS, `expected at least leaseTimeS (${nfs.leaseTimeS}): a shorter grace ends before every client has noticed the restart and reclaimed its state`);
  }
  return problems;
}
