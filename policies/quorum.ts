// cluster-quorum: a cluster that must survive one host needs a majority left after losing it.
// That takes at least three voting members on three different hosts, an odd total (an even
// split has no majority), no host holding half the votes, and a no-quorum-policy that stops
// resources rather than ignoring the loss (which is how split brains write twice).
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, RuleConfig, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

function check(view: StackView, config: RuleConfig): Finding[] {
  const min = Number(config.minVotingMembers ?? 3);
  const clusters = view.clusters();
  const out = intentProblems(clusters, T.cib, "ClusterIntent", "quorum");
  for (const { resource, value: c } of clusters.found) {
    const subject = label(resource);
    const at = (problem: string, fix: string, targets: string[] = []) => out.push({ urn: resource.urn, subject, problem, fix, targets: [resource.name, ...targets] });
    const voting = c.members.filter((m) => m.votes > 0);
    const total = voting.reduce((n, m) => n + m.votes, 0);
    const hosts = new Map<string, number>();
    for (const m of voting) hosts.set(m.host, (hosts.get(m.host) ?? 0) + m.votes);

    if (voting.length < min) {
      at(
        `${voting.length} voting member${voting.length === 1 ? "" : "s"} (${listOf(voting.map((m) => m.name)) || "none"}); losing one leaves no majority`,
        `declare at least ${min} cluster members, one per Proxmox host (haha:nodes); a diskless DRBD tiebreaker member is enough for the third`,
        voting.map((m) => m.name),
      );
    }
    if (hosts.size < min) {
      at(
        `the voting members run on ${hosts.size} Proxmox host${hosts.size === 1 ? "" : "s"} (${listOf([...hosts.keys()]) || "none"}); a host failure takes several votes at once`,
        `spread the members over at least ${min} different Proxmox hosts`,
        [...hosts.keys()],
      );
    }
    if (total > 0 && total % 2 === 0) {
      at(`the votes add up to ${total}, an even number: a clean split leaves both halves without a majority`, "make the vote count odd (add a member, or a tiebreaker)");
    }
    for (const [host, votes] of hosts) {
      if (total > 0 && 2 * votes >= total && hosts.size > 1) {
        at(`host ${host} holds ${votes} of ${total} votes: losing it loses quorum`, "give every Proxmox host the same share of the votes (one member each)", [host]);
      }
    }
    if (c.noQuorumPolicy === "ignore") {
      at('no-quorum-policy is "ignore": a partition without quorum keeps running resources and writes beside the majority (split brain)', "set haha:cluster.defaults.noQuorumPolicy to stop (or freeze, demote)");
    }
  }
  return out;
}

export const clusterQuorumRule: StackRule = {
  kind: "stack",
  name: "cluster-quorum",
  description: "At least three voting members on three different hosts, an odd vote count, and a no-quorum-policy other than ignore.",
  defaultLevel: "mandatory",
  waivable: true,
  configSchema: {
    properties: {
      minVotingMembers: { type: "integer", minimum: 3, default: 3, description: "Voting members (and distinct hosts) the cluster needs at least." },
    },
  },
  check,
};

export const clusterQuorum = (level?: EnforcementLevel) => stackPolicy(clusterQuorumRule, level);
