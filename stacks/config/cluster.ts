// haha:cluster: corosync membership, fencing and Pacemaker defaults. Numbers are in the
// units their tools use; each default carries why it was chosen. docs/pacemaker.md explains
// how they add up to the failover budget.
import type { ConfigProblem } from "./validate";
import type { HahaConfig } from "./schema";
import { hostname, z } from "./primitives";

export const corosyncSchema = z
  .object({
    /**
     * 3 s token (corosync 3's own default): long enough to ride out a busy guest or a bond
     * failover (miimon 100 ms), short enough that a dead member is noticed well inside 10 s.
     */
    tokenMs: z.number().int().min(1000).max(60000).default(3000),
    /**
     * Corosync adds this per member beyond two to the token (650 ms is its default). Stated so
     * the detection budget is computed from what corosync really runs, not from `tokenMs` alone.
     */
    tokenCoefficientMs: z.number().int().min(0).max(5000).default(650),
    /**
     * How long to wait for consensus before a new membership round. Absent: 1.2 x the effective
     * token, which is what corosync computes and its documented minimum.
     */
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
    /** fence_pve, the first level for every guest. */
    pve: z
      .object({
        /**
         * fence_pve's timeout for each API request (its shell_timeout; 3 s is the agent's own
         * default). A live Proxmox API answers in well under a second; when the guest's host is
         * gone, the call proxied to it fails within this and fencing escalates to the next level.
         */
        requestTimeoutS: z.number().int().min(1).max(60).default(3),
        /** How long fence_pve waits for the guest to report off (and on again): a hard stop takes 1 to 3 s. */
        powerTimeoutS: z.number().int().min(5).max(120).default(20),
      })
      .strict()
      .default({ requestTimeoutS: 3, powerTimeoutS: 20 }),
    /** Diskless SBD on the guest's i6300esb watchdog: self-fencing that needs no other host. */
    watchdog: z
      .object({
        enabled: z.boolean().default(true),
        /** SBD_WATCHDOG_TIMEOUT: the guest resets this long after it loses quorum or Pacemaker hangs. */
        timeoutS: z.number().int().min(3).max(120).default(5),
      })
      .strict()
      .default({ enabled: true, timeoutS: 5 }),
  })
  .strict();

export const NO_QUORUM_POLICIES = ["stop", "freeze", "ignore", "demote", "suicide"] as const;

export const clusterDefaultsSchema = z
  .object({
    /** stop: a minority partition stops its services, so the majority can safely run them. */
    noQuorumPolicy: z.enum(NO_QUORUM_POLICIES).default("stop"),
    /** 100 outweighs every placement preference we set: a service stays put when a member returns. */
    resourceStickiness: z.number().int().min(0).max(1000000).default(100),
    /** 3 monitor failures on one member move the service (and what is colocated with it) elsewhere. */
    migrationThreshold: z.number().int().min(1).max(1000000).default(3),
    /** After 10 min without failures a member is trusted again for that service. */
    failureTimeoutS: z.number().int().min(0).max(86400).default(600),
    /** failure-timeout is evaluated at this granularity; 5 min is fine against a 10 min timeout. */
    clusterRecheckIntervalS: z.number().int().min(30).max(86400).default(300),
    /**
     * Every operation timeout in the CIB, multiplied: 1 on a home's hardware. For guests that run
     * many times slower than the timeouts assume (software emulation, an overloaded host), where a
     * healthy agent's monitor would otherwise time out and fail its resource over.
     */
    opTimeoutScale: z.number().min(1).max(10).default(1),
    /**
     * Every recurring monitor's interval in the CIB, multiplied: 1 on a home's hardware. For the
     * same slow guests: each monitor starts a process (fence_pve's python, docker exec), and
     * there a minute of them can cost more than a minute of the guest's CPU. Whole numbers keep
     * a promotable clone's two monitor intervals distinct. The plan's budgets follow.
     */
    monitorIntervalScale: z.number().int().min(1).max(10).default(1),
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

/** Corosync's real timing for a member count: what it runs with, not only what is written. */
export interface CorosyncTiming {
  /** token + (members - 2) x token_coefficient when there are at least 3 members. */
  effectiveTokenMs: number;
  consensusMs: number;
  /** A dead member is declared gone after token + consensus. */
  detectionMs: number;
  /** What comes after token + consensus before Pacemaker sees the new membership (MEMBERSHIP_FORMATION). */
  formationMs: number;
  /** detection + formation: when the survivors' Pacemaker (and corosync-quorumtool) see the member gone. */
  membershipMs: number;
}

/**
 * After token + consensus declare a member gone, the survivors still form the new ring (the
 * commit token's two rotations, recovery of the old ring's messages), votequorum exchanges the
 * votes of the new membership, and only then is it delivered to Pacemaker's controller. That is
 * milliseconds on an idle LAN, but a loaded member runs it late: the namespace lab
 * (`npm run lab -- ns`) measures it (the membership change seen by corosync-quorumtool on a
 * survivor, from the fault) at 0.2 to 0.9 s over token + consensus on a 2-core machine at load 10
 * to 25. 1 s covers that; the lab fails its scenarios if it ever measures more.
 */
export const MEMBERSHIP_FORMATION = { ms: 1000, reason: "ring formation, votequorum's vote exchange and delivery to Pacemaker after token + consensus: measured by the namespace lab at up to 0.9 s on a loaded 2-core machine" } as const;

export function corosyncTiming(c: Pick<HahaConfig, "cluster" | "nodes">): CorosyncTiming {
  const co = c.cluster.corosync;
  const n = c.nodes.length;
  const effectiveTokenMs = co.tokenMs + (n >= 3 ? (n - 2) * co.tokenCoefficientMs : 0);
  const consensusMs = co.consensusMs ?? Math.ceil(1.2 * effectiveTokenMs);
  const detectionMs = effectiveTokenMs + consensusMs;
  return { effectiveTokenMs, consensusMs, detectionMs, formationMs: MEMBERSHIP_FORMATION.ms, membershipMs: detectionMs + MEMBERSHIP_FORMATION.ms };
}

/** Cross-field checks of haha:cluster (called from crossCheck in validate.ts). */
export function clusterCrossCheck(c: HahaConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const co = c.cluster.corosync;
  const t = corosyncTiming(c);
  // At or below the token is already refused by crossCheck with its own message.
  if (co.consensusMs !== undefined && co.consensusMs > co.tokenMs && co.consensusMs < Math.ceil(1.2 * t.effectiveTokenMs)) {
    problems.push({
      path: "haha:cluster.corosync.consensusMs",
      value: co.consensusMs,
      expected: `expected at least 1.2 x the effective token (${t.effectiveTokenMs} ms = tokenMs ${co.tokenMs} + ${Math.max(0, c.nodes.length - 2)} x tokenCoefficientMs ${co.tokenCoefficientMs}), i.e. ${Math.ceil(1.2 * t.effectiveTokenMs)} ms, corosync's minimum; or leave it out`,
    });
  }
  return problems;
}
