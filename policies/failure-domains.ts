// failure-domains: the stack-level proof that there is no single point of failure left. For
// every declared failure domain (each Proxmox host, each switch or switch stack group) it removes
// the domain and checks what the household would notice: cluster quorum, a reachable DRBD replica
// (and DRBD's own quorum), every critical service placeable on a survivor, and every member's
// network and fencing paths. The finding names the domain and everything that breaks with it.
import type { EnforcementLevel } from "@pulumi/policy";
import type { ClusterIntent, ServicesIntent, StorageIntent } from "../components/intent";
import type { FailureDomain } from "../stacks/declaration";
import { networkBondSwitchDiversityRule, switchOf } from "./network";
import { Finding, intentProblems, listOf, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { StackView } from "./view";

/** Everything the analysis needs, from the intents; pure data so it can be tested directly. */
export interface DomainModel {
  members: ClusterIntent["members"];
  fencing: ClusterIntent["fencing"];
  /** Proxmox host -> the switches its bond slaves land on. */
  hostSwitches: Map<string, string[]>;
  storage: Pick<StorageIntent, "replicas" | "diskless" | "quorum">;
  /** Critical services only. */
  services: ServicesIntent["services"];
  domains: FailureDomain[];
}

export type BreakKind = "quorum" | "storage" | "drbd-quorum" | "service" | "network" | "fencing";

export interface DomainOutcome {
  domain: FailureDomain;
  breaks: { kind: BreakKind; text: string }[];
  /** Members still up with a network path. */
  survivors: string[];
  /** One line: what holds, or what breaks. */
  summary: string;
}

const FIXES: Record<BreakKind, string> = {
  quorum: "give no failure domain half of the votes: one member per Proxmox host, each host's bond spread over two switches",
  storage: "keep DRBD replicas in different failure domains (hosts on different switches)",
  "drbd-quorum": "add a diskless DRBD tiebreaker member in a third failure domain",
  service: "let Pacemaker place each critical service on any member and pre-pull its image on every member",
  network: "cable each bond's slaves to two switches in different stack groups",
  fencing: "give every member a fencing path independent of this domain (SBD watchdog or a BMC)",
};

export function analyseFailureDomains(m: DomainModel): DomainOutcome[] {
  const totalVotes = m.members.reduce((n, x) => n + x.votes, 0);
  const drbdNodes = [...m.storage.replicas, ...m.storage.diskless];
  return m.domains.map((domain) => {
    const hostsDown = new Set(domain.hosts);
    const switchesDown = new Set(domain.switches);
    const reachable = (host: string) => !hostsDown.has(host) && (m.hostSwitches.get(host) ?? []).some((s) => !switchesDown.has(s));
    const breaks: DomainOutcome["breaks"] = [];
    const add = (kind: BreakKind, text: string) => breaks.push({ kind, text });

    const up = m.members.filter((x) => reachable(x.host));
    const upVotes = up.reduce((n, x) => n + x.votes, 0);
    const quorum = 2 * upVotes > totalVotes;
    if (!quorum) add("quorum", `cluster quorum lost (${upVotes} of ${totalVotes} votes left${up.length ? `: ${listOf(up.map((x) => x.name))}` : ""}, ${Math.floor(totalVotes / 2) + 1} needed)`);

    const replicasUp = m.storage.replicas.filter((r) => reachable(r.host));
    if (replicasUp.length === 0) add("storage", `no DRBD replica reachable (replicas on ${listOf(m.storage.replicas.map((r) => r.host)) || "no host"})`);
    const drbdUp = drbdNodes.filter((n) => reachable(n.host)).length;
    // DRBD 8.4 ("none") has no quorum to lose: Pacemaker's quorum, checked above, decides.
    const drbdQuorum = m.storage.quorum === "off" || m.storage.quorum === "none" || (m.storage.quorum === "all" ? drbdUp === drbdNodes.length : 2 * drbdUp > drbdNodes.length);
    if (replicasUp.length > 0 && !drbdQuorum) add("drbd-quorum", `DRBD loses its quorum (${drbdUp} of ${drbdNodes.length} nodes, quorum ${m.storage.quorum}) and stops I/O`);

    const placeable = quorum && replicasUp.length > 0 && drbdQuorum;
    if (!placeable && m.services.length > 0) {
      add("service", `no critical service can be placed (${listOf(m.services.map((s) => s.name))}) without quorum and storage`);
    } else {
      for (const s of m.services) {
        if (s.placement === "pinned") {
          if (!s.pinnedHost || !reachable(s.pinnedHost)) add("service", `critical service ${s.name} is pinned to ${s.pinnedHost ?? "an undeclared host"}, which is lost`);
          continue;
        }
        if (!up.some((x) => s.prePulledOn.includes(x.name))) add("service", `critical service ${s.name} has no surviving member with its image pre-pulled`);
      }
    }

    for (const x of m.members) {
      if (hostsDown.has(x.host)) continue;
      if (!reachable(x.host)) add("network", `member ${x.name} loses its network (all bond slaves of ${x.host} on ${listOf(m.hostSwitches.get(x.host) ?? []) || "no declared switch"})`);
    }

    for (const x of m.members) {
      const paths = m.fencing.find((f) => f.member === x.name)?.paths ?? [];
      if (paths.some((p) => p.needsHost === null || reachable(p.needsHost))) continue;
      add("fencing", `member ${x.name} has no fencing path left${paths.length ? ` (${listOf(paths.map((p) => `${p.agent} via ${p.needsHost}`))})` : ""}`);
    }

    const what = `${domain.kind} ${domain.name}`;
    const summary = breaks.length
      ? `${what}: losing it breaks ${breaks.map((b) => b.text).join("; ")}`
      : `${what}: survivable — quorum ${upVotes}/${totalVotes} votes, DRBD replica on ${listOf(replicasUp.map((r) => r.member))}, ${m.services.length} critical services placeable, every member keeps a network and a fencing path`;
    return { domain, breaks, survivors: up.map((x) => x.name), summary };
  });
}

/** The analysis model from the stack's intents, or the findings explaining why there is none. */
export function domainModel(view: StackView): { model?: DomainModel; problems: Finding[] } {
  const clusters = view.clusters();
  const storages = view.storage();
  const services = view.services();
  const declarations = view.declarations();
  const problems = [
    ...intentProblems(clusters, T.cib, "ClusterIntent", "the failure domains"),
    ...intentProblems(storages, T.storage, "StorageIntent", "the failure domains"),
    ...intentProblems(services, T.services, "ServicesIntent", "the failure domains"),
    ...intentProblems(view.hosts(), T.host, "HostNetworkIntent", "the failure domains", false),
  ];
  for (const { resource, problem } of declarations.broken) {
    problems.push({ urn: resource.urn, subject: `${resource.type} "${resource.name}"`, problem: `${problem}, so the failure domains cannot be read`, fix: "construct StackDeclaration with stackDeclarationArgs(config) (stacks/declaration.ts)", targets: [resource.name] });
  }
  if (declarations.found.length === 0 && declarations.broken.length === 0) {
    problems.push({ subject: "stack", problem: `no ${T.declaration} declares the failure domains (hosts, switches and their stack groups)`, fix: "construct StackDeclaration with stackDeclarationArgs(config) in stacks/haha.ts", targets: [T.declaration] });
  }
  const cluster = clusters.found[0]?.value;
  const storage = storages.found[0]?.value;
  if (!cluster || !storage || services.found.length === 0) return { problems };

  const hostSwitches = new Map<string, string[]>();
  for (const { value: h } of view.hosts().found) hostSwitches.set(h.host, [...new Set(h.switchPorts.map(switchOf))]);
  const declaration = declarations.found[0]?.value;
  const domains: FailureDomain[] = [...(declaration?.failureDomains ?? [])];
  // Whatever the intents show but the declaration misses is analysed too.
  const groupOf = new Map((declaration?.switches ?? []).map((s) => [s.name, s.stackGroup ?? s.name]));
  for (const host of new Set([...cluster.members.map((x) => x.host), ...hostSwitches.keys()])) {
    if (!domains.some((d) => d.hosts.includes(host))) domains.push({ name: host, kind: "host", hosts: [host], switches: [] });
  }
  for (const sw of new Set([...hostSwitches.values()].flat())) {
    if (domains.some((d) => d.switches.includes(sw))) continue;
    const group = groupOf.get(sw) ?? sw;
    const existing = domains.find((d) => d.kind === "switch" && d.name === group);
    if (existing) existing.switches = [...existing.switches, sw];
    else domains.push({ name: group, kind: "switch", hosts: [], switches: [sw] });
  }
  return {
    problems,
    model: {
      members: cluster.members,
      fencing: cluster.fencing,
      hostSwitches,
      storage,
      services: services.found.flatMap((s) => s.value.services.filter((x) => x.critical)),
      domains,
    },
  };
}

function check(view: StackView): Finding[] {
  const { model, problems } = domainModel(view);
  if (!model) return problems;
  const at = view.declarations().found[0]?.resource ?? view.clusters().found[0]?.resource;
  for (const o of analyseFailureDomains(model)) {
    if (o.breaks.length === 0) continue;
    const d = o.domain;
    const names = [...new Set([d.name, ...d.hosts, ...d.switches])];
    problems.push({
      urn: at?.urn,
      subject: `failure domain ${d.kind} ${d.name}`,
      problem: `losing it breaks: ${o.breaks.map((b) => b.text).join("; ")}`,
      fix: [...new Set(o.breaks.map((b) => FIXES[b.kind]))].join("; "),
      targets: names,
      // Accepting a switch as a single point of failure accepts what losing it breaks.
      alsoWaivedBy: d.kind === "switch" ? names.map((target) => ({ policy: networkBondSwitchDiversityRule.name, target })) : undefined,
    });
  }
  return problems;
}

function notes(view: StackView): string[] {
  const { model } = domainModel(view);
  return model ? analyseFailureDomains(model).map((o) => o.summary) : [];
}

export const failureDomainsRule: StackRule = {
  kind: "stack",
  name: "failure-domains",
  description: "Losing any one failure domain (a Proxmox host, a switch or switch stack) keeps quorum, a DRBD replica, every critical service placeable, and every member's network and fencing paths.",
  defaultLevel: "mandatory",
  waivable: true,
  check,
  notes,
};

export const failureDomains = (level?: EnforcementLevel) => stackPolicy(failureDomainsRule, level);
