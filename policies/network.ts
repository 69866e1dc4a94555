// network-bond-redundancy and network-bond-switch-diversity: each Proxmox host reaches the others
// through one bond. One slave, or a mode that does not fail over, makes a cable or NIC a single
// point of failure; all slaves on one switch (or one switch stack) make that switch one.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, RuleConfig, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

export const FAILOVER_BOND_MODES = ["802.3ad", "active-backup"];

/** The switch each `<switch>:<port>` lands on. */
export const switchOf = (port: string): string => port.split(":")[0] ?? "";

/** Switch name -> failure domain (its stack group, or itself), from the stack declaration. */
export function switchDomains(view: StackView): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of view.declarations().found[0]?.value.switches ?? []) out.set(s.name, s.stackGroup ?? s.name);
  return out;
}

/** Proxmox hosts that run a cluster member, from the cluster and guest intents. */
function memberHosts(view: StackView): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (host: string, member: string) => out.set(host, [...new Set([...(out.get(host) ?? []), member])]);
  for (const { value } of view.clusters().found) for (const m of value.members) add(m.host, m.name);
  for (const { value } of view.guests().found) add(value.host, value.member);
  return out;
}

function redundancy(view: StackView, config: RuleConfig): Finding[] {
  const minSlaves = Number(config.minSlaves ?? 2);
  const modes = (config.allowedModes as string[] | undefined) ?? FAILOVER_BOND_MODES;
  const hosts = view.hosts();
  const out = intentProblems(hosts, T.host, "HostNetworkIntent", "bond redundancy");
  for (const { resource, value: h } of hosts.found) {
    const subject = `${label(resource)} (${h.bond.name})`;
    const targets = [h.host, resource.name];
    if (h.bond.slaves.length < minSlaves) {
      out.push({
        urn: resource.urn,
        subject,
        problem: `${h.bond.slaves.length} bond slave${h.bond.slaves.length === 1 ? "" : "s"} (${listOf(h.bond.slaves) || "none"}): one cable, NIC or switch port takes host ${h.host} off the network`,
        fix: `give haha:nodes[].bond.slaves at least ${minSlaves} interfaces, each cabled to its own switch port`,
        targets,
      });
    }
    if (!modes.includes(h.bond.mode)) {
      out.push({
        urn: resource.urn,
        subject,
        problem: `bond mode ${h.bond.mode} does not fail over cleanly to the remaining slave`,
        fix: `set haha:nodes[].bond.mode to ${listOf(modes.map((m) => `"${m}"`))}`,
        targets,
      });
    }
    if (h.switchPorts.length !== h.bond.slaves.length) {
      out.push({
        urn: resource.urn,
        subject,
        problem: `${h.switchPorts.length} switch ports declared for ${h.bond.slaves.length} slaves: where each slave lands is unknown, so switch failures cannot be analysed`,
        fix: "declare one <switch>:<port> per slave in haha:nodes[].bond.switchPorts",
        targets,
      });
    }
  }
  // A member on a host with no declared uplink: nothing vouches for its network.
  const declared = new Set(hosts.found.map((h) => h.value.host).concat(hosts.broken.map((b) => String((b.resource.props as { host?: unknown }).host ?? b.resource.name))));
  for (const [host, members] of memberHosts(view)) {
    if (declared.has(host)) continue;
    out.push({
      subject: `host ${host}`,
      problem: `runs ${listOf(members)} but no ${T.host} declares its uplink, so its bond cannot be checked`,
      fix: `declare ProxmoxHost for ${host} with its network intent`,
      targets: [host],
    });
  }
  return out;
}

function diversity(view: StackView): Finding[] {
  const domains = switchDomains(view);
  const out: Finding[] = [];
  for (const { resource, value: h } of view.hosts().found) {
    const switches = [...new Set(h.switchPorts.map(switchOf))];
    const groups = [...new Set(switches.map((s) => domains.get(s) ?? s))];
    if (groups.length !== 1) continue;
    const domain = groups[0]!;
    const where = domain === switches[0] && switches.length === 1 ? `switch ${domain}` : `switch stack ${domain} (${listOf(switches)})`;
    out.push({
      urn: resource.urn,
      subject: `${label(resource)} (${h.bond.name})`,
      problem: `all bond slaves (${listOf(h.bond.slaves)}) land on ${where}: when it fails, host ${h.host} loses its network`,
      fix: "cable one slave of the bond to a second switch outside that stack group, declare it in haha:switches and in haha:nodes[].bond.switchPorts",
      targets: [...new Set([domain, ...switches, h.host, resource.name])],
    });
  }
  return out;
}

export const networkBondRedundancyRule: StackRule = {
  kind: "stack",
  name: "network-bond-redundancy",
  description: "Every Proxmox host's bond has at least two slaves in 802.3ad (or active-backup) mode, each slave's switch port declared.",
  defaultLevel: "mandatory",
  waivable: true,
  configSchema: {
    properties: {
      minSlaves: { type: "integer", minimum: 2, default: 2, description: "Bond slaves every host needs at least." },
      allowedModes: {
        type: "array",
        items: { type: "string", enum: FAILOVER_BOND_MODES },
        minItems: 1,
        default: FAILOVER_BOND_MODES,
        description: "Bond modes accepted as failing over to the remaining slave.",
      },
    },
  },
  check: redundancy,
};

export const networkBondSwitchDiversityRule: StackRule = {
  kind: "stack",
  name: "network-bond-switch-diversity",
  description: "The slaves of a bond do not all land on one switch (or one switch stack group).",
  // Advisory by default: a second switch is hardware many homes do not have yet; the
  // failure-domain analysis still reports what losing the switch breaks.
  defaultLevel: "advisory",
  waivable: true,
  check: diversity,
};

export const networkBondRedundancy = (level?: EnforcementLevel) => stackPolicy(networkBondRedundancyRule, level);
export const networkBondSwitchDiversity = (level?: EnforcementLevel) => stackPolicy(networkBondSwitchDiversityRule, level);
