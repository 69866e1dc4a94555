// storage-network-isolation and zigbee-coordinator-isolation: who shares a network with what.
// The cluster's internals are authenticated, but two doors are not: the NFS export and DRBD
// replication (cleartext, see docs/security.md) on the storage network, and the Zigbee
// coordinator's serial-over-TCP port, which speaks to whoever connects (network key, permit
// join, locks) and bypasses every MQTT ACL. Both are the user's network design, so these rules
// warn (advisory by default) with the layout that fixes them; README shows it.
import type { EnforcementLevel } from "@pulumi/policy";
import type { NetworkDeclaration } from "./contract";
import { Finding, listOf, StackRule, stackPolicy } from "./rule";
import { StackView } from "./view";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const toInt = (ip: string) => ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
/** The pack stands alone (it is published without the program), so it carries its own IPv4 test. */
function inNet(address: string, cidr: string): boolean {
  const [net, len] = cidr.split("/");
  const prefix = Number(len);
  if (!IPV4.test(address) || !net || !IPV4.test(net) || !Number.isInteger(prefix)) return false;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((toInt(address) & mask) >>> 0) === ((toInt(net) & mask) >>> 0);
}

function declared(view: StackView): { urn: string; network: NetworkDeclaration } | Finding {
  const d = view.declarations().found[0];
  if (!d) return { subject: "the stack", problem: "no readable haha:stack:Declaration: who shares which network cannot be checked", fix: "declare the stack (stacks/declaration.ts) with its network", targets: [] };
  return { urn: d.resource.urn, network: d.value.network };
}

/** The declared peripherals; undefined when the declaration is missing (the checks report that). */
function peripheralsOf(view: StackView): NetworkDeclaration["peripherals"] | undefined {
  const d = declared(view);
  return "subject" in d ? undefined : d.network.peripherals;
}

function storageIsolation(view: StackView): Finding[] {
  const d = declared(view);
  if ("subject" in d) return [d];
  const n = d.network;
  const out: Finding[] = [];
  for (const p of n.peripherals) {
    if (!inNet(p.address, n.storage.subnet)) continue;
    out.push({
      urn: d.urn,
      subject: p.kind === "zigbee-coordinator" ? `Zigbee coordinator (${p.address})` : `Bluetooth proxy ${p.name} (${p.address})`,
      problem: `shares the storage network ${n.storage.subnet}${n.storage.dedicated ? "" : " (the cluster subnet: no network of its own is declared)"} with the NFS export and DRBD's cleartext replication: a compromised device there reads the replication stream and reaches the export's port`,
      fix: "declare haha:network.secondary with storage: true (its own switch ports or VLAN, only the members on it) and keep the peripherals off it",
      targets: [p.name, p.address],
    });
  }
  return out;
}

function coordinatorIsolation(view: StackView): Finding[] {
  const d = declared(view);
  if ("subject" in d) return [d];
  const n = d.network;
  const out: Finding[] = [];
  const memberAddresses = new Set(n.members.map((m) => m.address));
  for (const z of n.peripherals.filter((p) => p.kind === "zigbee-coordinator")) {
    if (!IPV4.test(z.address)) {
      out.push({ urn: d.urn, subject: "Zigbee coordinator", problem: `address "${z.address}" is not an IPv4 address: who reaches it cannot be checked`, fix: "give haha:peripherals.zigbee.host as an address", targets: [z.name] });
      continue;
    }
    const sharers: string[] = [];
    if (inNet(z.address, n.lan)) sharers.push(`the household's LAN ${n.lan} (every phone, laptop and guest on it)`);
    const others = [...n.others, ...n.peripherals.filter((p) => p !== z)].filter((o) => !memberAddresses.has(o.address) && [n.lan, n.storage.subnet].some((s) => inNet(z.address, s) && inNet(o.address, s)));
    if (others.length > 0) sharers.push(listOf(others.map((o) => `${o.name} (${o.address})`)));
    if (sharers.length === 0) continue;
    out.push({
      urn: d.urn,
      subject: `Zigbee coordinator (${z.address})`,
      problem: `its serial-over-TCP port answers anyone who connects (network key, permit join, door locks), bypassing every MQTT ACL, and it shares a network with ${sharers.join(" and ")}`,
      fix: "put the coordinator on a network of its own (an IoT VLAN) whose router lets only the cluster members' addresses reach its TCP port; see README, \"The isolated layout\"",
      targets: [z.name, z.address],
    });
  }
  return out;
}

export const storageNetworkIsolationRule: StackRule = {
  kind: "stack",
  name: "storage-network-isolation",
  description: "No peripheral shares the storage network (NFS export, cleartext DRBD replication) with the members.",
  // Advisory: a second network is the user's cabling; the export is limited to the members' addresses regardless.
  defaultLevel: "advisory",
  waivable: true,
  check: storageIsolation,
  notApplicable: (view) => (peripheralsOf(view)?.length === 0 ? "the stack declares no peripheral (haha:peripherals is empty)" : undefined),
};

export const zigbeeCoordinatorIsolationRule: StackRule = {
  kind: "stack",
  name: "zigbee-coordinator-isolation",
  description: "The Zigbee coordinator's TCP port shares a network with nothing but the cluster members.",
  // Advisory: the fix is the user's router and VLANs, which HAHA does not manage.
  defaultLevel: "advisory",
  waivable: true,
  check: coordinatorIsolation,
  notApplicable: (view) =>
    peripheralsOf(view)?.some((p) => p.kind === "zigbee-coordinator") === false ? "the stack declares no Zigbee coordinator (no haha:peripherals.zigbee, no haha:services.zigbee2mqtt)" : undefined,
};

export const storageNetworkIsolation = (level?: EnforcementLevel) => stackPolicy(storageNetworkIsolationRule, level);
export const zigbeeCoordinatorIsolation = (level?: EnforcementLevel) => stackPolicy(zigbeeCoordinatorIsolationRule, level);
