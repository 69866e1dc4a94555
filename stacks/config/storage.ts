// haha:storage: DRBD 9 under OCFS2, exported over NFS behind the storage VIP.
// The storage layer (components/storage) owns the meaning of these fields; values the
// policy pack judges (protocol, fencing, quorum) stay plain here so a preview can see them.
import { absPath, hostname, port, z } from "./primitives";

export const drbdSchema = z
  .object({
    resource: hostname.default("haha"),
    minor: z.number().int().min(0).max(1048575).default(0),
    port: port.default(7789),
    /** C is synchronous: a write is acknowledged only once both diskful replicas have it. */
    protocol: z.enum(["A", "B", "C"]).default("C"),
    /** Majority of three (two diskful + the diskless tiebreaker) keeps a split brain from writing. */
    quorum: z.enum(["majority", "all", "off"]).default("majority"),
    onNoQuorum: z.enum(["suspend-io", "io-error"]).default("io-error"),
    /** Both diskful members primary at once: OCFS2 is a cluster filesystem. */
    allowTwoPrimaries: z.boolean().default(true),
    fencing: z.enum(["dont-care", "resource-only", "resource-and-stonith"]).default("resource-and-stonith"),
    /** Resync rate ceiling in MiB/s, so a resync does not starve the services' own I/O. */
    resyncRateMiB: z.number().int().min(1).max(10000).default(400),
  })
  .strict();

export const ocfs2Schema = z
  .object({
    mountPoint: absPath.default("/srv/ocfs2"),
    label: z.string().regex(/^[A-Za-z0-9_-]{1,15}$/).default("haha"),
    /** Node slots: one per diskful member plus headroom for a replacement disk. */
    slots: z.number().int().min(2).max(16).default(4),
  })
  .strict();

export const nfsSchema = z
  .object({
    /** Exported directory, on the OCFS2 filesystem. */
    exportPath: absPath.default("/srv/ocfs2/export"),
    /** A fixed fsid keeps file handles valid when the export moves to the other replica. */
    fsid: z.number().int().min(1).max(65535).default(181),
    /** Where every member mounts the export; services keep data under <mountPoint>/<service>. */
    mountPoint: absPath.default("/srv/haha"),
    /** Client timeouts in deciseconds (nfs(5) timeo) and retries, chosen to ride out a failover. */
    timeoDeciseconds: z.number().int().min(10).max(600).default(100),
    retrans: z.number().int().min(1).max(10).default(3),
    /** Register the export as Proxmox storage for vzdump backups. */
    proxmoxStorage: z.object({ id: z.string().regex(/^[a-z][a-z0-9-]{1,30}$/), content: z.array(z.enum(["backup", "iso", "vztmpl"])).min(1) }).strict().optional(),
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
