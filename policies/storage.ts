// storage-replication: the household's data (Home Assistant's config and recorder, Zigbee
// network state) lives on DRBD. It survives a host only with a second diskful replica on another
// host, written synchronously (protocol C), with STONITH-backed fencing when both replicas are
// primary (OCFS2). Under DRBD 9, DRBD quorum so a cut-off replica stops writing instead of
// diverging; under DRBD 8.4 (no DRBD quorum) resource-and-stonith fencing, always, since only
// Pacemaker's quorum and fencing then keep a cut-off replica from writing on its own.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, RuleConfig, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

function check(view: StackView, config: RuleConfig): Finding[] {
  const minReplicas = Number(config.minReplicas ?? 2);
  const storages = view.storage();
  const out = intentProblems(storages, T.storage, "StorageIntent", "replication");
  for (const { resource, value: s } of storages.found) {
    const subject = label(resource);
    const at = (problem: string, fix: string, targets: string[] = []) => out.push({ urn: resource.urn, subject, problem, fix, targets: [resource.name, ...targets] });
    const hosts = [...new Set(s.replicas.map((r) => r.host))];
    if (s.replicas.length < minReplicas || hosts.length < minReplicas) {
      at(
        `${s.replicas.length} diskful DRBD replica${s.replicas.length === 1 ? "" : "s"} on ${hosts.length} host${hosts.length === 1 ? "" : "s"} (${listOf(s.replicas.map((r) => `${r.member} on ${r.host}`)) || "none"}): losing ${hosts.length === 1 ? "that host" : "a host"} can lose the data`,
        `give at least ${minReplicas} members on different Proxmox hosts a DRBD disk (haha:nodes[].drbdDisk)`,
        hosts,
      );
    }
    if (s.protocol !== "C") {
      at(`DRBD protocol ${s.protocol} acknowledges writes before the peer has them: a failover loses the last writes`, "set haha:storage.drbd.protocol to C");
    }
    if (s.allowTwoPrimaries && s.fencing !== "resource-and-stonith") {
      at(`two primaries (OCFS2) with DRBD fencing "${s.fencing}": a replication link failure lets both sides write on their own`, "set haha:storage.drbd.fencing to resource-and-stonith");
    } else if (!s.allowTwoPrimaries && s.fencing === "dont-care") {
      at('DRBD fencing "dont-care": a cut-off primary keeps writing', "set haha:storage.drbd.fencing to resource-and-stonith (or resource-only)");
    }
    if (s.version === "8.4") {
      // With two primaries the rule above has said so already.
      if (s.fencing !== "resource-and-stonith" && !s.allowTwoPrimaries) {
        at(`DRBD 8.4 has no quorum of its own and fencing is "${s.fencing}": a replica cut off from its peer keeps writing and the data diverges`, "set haha:storage.drbd.fencing to resource-and-stonith");
      }
      if (s.replicas.length > 2) at(`${s.replicas.length} diskful replicas with DRBD 8.4, which connects two hosts per resource`, 'keep two nodes with drbdDisk, or set haha:storage.drbd.version to "9"');
    } else if (s.quorum === "off" || s.quorum === "" || s.quorum === "none") {
      at("DRBD quorum is off: a replica cut off from the others keeps accepting writes and the data diverges", "set haha:storage.drbd.quorum to majority");
    } else if (s.quorum === "majority") {
      const nodeHosts = new Set([...s.replicas, ...s.diskless].map((n) => n.host));
      if (nodeHosts.size < 3) {
        at(
          `DRBD quorum majority over ${nodeHosts.size} host${nodeHosts.size === 1 ? "" : "s"} (${listOf([...nodeHosts])}): losing one leaves no majority and I/O stops`,
          "add a diskless DRBD tiebreaker member on a third host (a member without drbdDisk)",
        );
      }
    }
  }
  return out;
}

export const storageReplicationRule: StackRule = {
  kind: "stack",
  name: "storage-replication",
  description:
    "At least two diskful DRBD replicas on different hosts, protocol C, fencing resource-and-stonith with two primaries; DRBD 9: DRBD quorum set over three hosts; DRBD 8.4: resource-and-stonith always (it has no quorum).",
  defaultLevel: "mandatory",
  waivable: true,
  configSchema: {
    properties: {
      minReplicas: { type: "integer", minimum: 2, default: 2, description: "Diskful DRBD replicas, on as many different hosts, the data needs at least." },
    },
  },
  check,
};

export const storageReplication = (level?: EnforcementLevel) => stackPolicy(storageReplicationRule, level);
