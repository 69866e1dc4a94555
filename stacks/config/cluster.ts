// haha:cluster: corosync membership, fencing and Pacemaker defaults. Numbers are in the
// units their tools use; each default carries why it was chosen.
import { hostname, z } from "./primitives";

export const corosyncSchema = z
  .object({
    /** 3 s token: a dead member is noticed in token + consensus (about 6.6 s), inside the 10 s detection target. */
    tokenMs: z.number().int().min(1000).max(60000).default(3000),
    /** Corosync's default is 1.2 x token; set explicitly so the detection budget is computable. */
    consensusMs: z.number().int().min(1200).max(72000).optional(),
    cipher: z.enum(["aes256", "aes192", "aes128"]).default("aes256"),
    hash: z.enum(["sha256", "sha384", "sha512"]).default("sha256"),
  })
  .strict();

export const fencingSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Proxmox user the fence agent logs in as; its role can only power guests on and off. */
    pveUser: z.string().regex(/^[a-z0-9._-]+@(pve|pam)$/, { message: "expected a Proxmox user such as haha-fence@pve" }).default("haha-fence@pve"),
    /** Diskless SBD on the guest's i6300esb watchdog: self-fencing that needs no other host. */
    watchdog: z
      .object({
        enabled: z.boolean().default(true),
        /** SBD_WATCHDOG_TIMEOUT: the guest resets this long after it loses quorum. */
        timeoutS: z.number().int().min(3).max(120).default(5),
      })
      .strict()
      .default({ enabled: true, timeoutS: 5 }),
  })
  .strict();

export const NO_QUORUM_POLICIES = ["stop", "freeze", "ignore", "demote", "suicide"] as const;

export const clusterDefaultsSchema = z
  .object({
    noQuorumPolicy: z.enum(NO_QUORUM_POLICIES).default("stop"),
    resourceStickiness: z.number().int().min(0).max(1000000).default(100),
    migrationThreshold: z.number().int().min(1).max(1000000).default(3),
    failureTimeoutS: z.number().int().min(0).max(86400).default(600),
    clusterRecheckIntervalS: z.number().int().min(30).max(86400).default(300),
  })
  .strict();

export const clusterSchema = z
  .object({
    name: hostname,
    corosync: corosyncSchema.default(corosyncSchema.parse({})),
    fencing: fencingSchema.default(fencingSchema.parse({})),
    defaults: clusterDefaultsSchema.default(clusterDefaultsSchema.parse({})),
  })
  .strict();

export type ClusterConfig = z.infer<typeof clusterSchema>;
