// A stack as the policies see it, built from a validated config the way the components declare
// it (components/intent.ts shapes, raw provider inputs), so each rule can be run on the prod
// stack and on the prod stack with one field changed.
import type { ClusterIntent, GuestIntent, HostNetworkIntent, ServicesIntent, StorageIntent } from "../../components/intent";
import { evaluatePack, OfflineResource, PackConfig, PackEvaluation, RuleResult } from "../../policies/evaluate";
import { clusterMembers } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import { parseConfig } from "../../stacks/config/validate";
import { stackDeclarationArgs } from "../../stacks/declaration";
import { generatedRaw } from "../helpers/stacks";

const STACK = "prod";
const PROJECT = "haha";

/** Adds resources with URNs built as the engine builds them (parent types joined by `$`). */
class Builder {
  readonly resources: OfflineResource[] = [];
  private readonly chains = new Map<string, string>();

  add(type: string, name: string, props: Record<string, unknown>, parent?: string, secretInputs: string[] = []): string {
    const chain = parent ? `${this.chains.get(parent)}$${type}` : type;
    const urn = `urn:pulumi:${STACK}::${PROJECT}::${chain}::${name}`;
    if (this.chains.has(urn)) throw new Error(`fixture: duplicate URN ${urn}`);
    this.chains.set(urn, chain);
    this.resources.push({ urn, type, name, parent, dependencies: [], props: structuredClone(props), secretInputs });
    return urn;
  }
}

export function hostIntent(n: HahaConfig["nodes"][number]): HostNetworkIntent {
  return {
    host: n.name,
    network: n.network.mode,
    bond: { name: n.bond.name, mode: n.bond.mode, hashPolicy: n.bond.hashPolicy, miimon: n.bond.miimon, mtu: n.bond.mtu, slaves: [...n.bond.slaves] },
    switchPorts: [...n.bond.switchPorts],
    switches: [...new Set(n.bond.switchPorts.map((p) => p.split(":")[0]!))],
  };
}

export function clusterIntentOf(c: HahaConfig): ClusterIntent {
  const members = clusterMembers(c);
  return {
    members: members.map((m) => ({ name: m.name, host: m.host, votes: 1 })),
    stonithEnabled: c.cluster.fencing.enabled,
    noQuorumPolicy: c.cluster.defaults.noQuorumPolicy,
    fencing: members.map((m) => ({
      member: m.name,
      host: m.host,
      paths: [
        // fence_pve asks the member's own host to power it off: useless when that host is gone.
        { level: 1, agent: "fence_pve", needsHost: m.host },
        ...(m.bmc ? [{ level: 2, agent: "fence_ipmilan", needsHost: null }] : []),
        ...(c.cluster.fencing.watchdog.enabled ? [{ level: 3, agent: "watchdog", needsHost: null }] : []),
      ],
    })),
  };
}

export function storageIntentOf(c: HahaConfig): StorageIntent {
  const members = clusterMembers(c);
  const d = c.storage.drbd;
  const v9 = d.version === "9";
  return {
    version: d.version,
    replicas: members.filter((m) => m.diskful).map((m) => ({ member: m.name, host: m.host })),
    diskless: v9 ? members.filter((m) => !m.diskful).map((m) => ({ member: m.name, host: m.host })) : [],
    protocol: d.protocol,
    quorum: v9 ? (d.quorum ?? "majority") : "none",
    onNoQuorum: v9 ? (d.onNoQuorum ?? "io-error") : "none",
    fencing: d.fencing,
    allowTwoPrimaries: d.allowTwoPrimaries,
  };
}

export function servicesIntentOf(c: HahaConfig): ServicesIntent {
  const all = clusterMembers(c).map((m) => m.name);
  const s = c.services;
  // The declared services only: a stack without Zigbee2MQTT has no zigbee2mqtt intent.
  const images: [string, string][] = [
    ["mosquitto", s.mosquitto.image],
    ...(s.zigbee2mqtt ? [["zigbee2mqtt", s.zigbee2mqtt.image] as [string, string]] : []),
    ...(s.homeassistant ? [["homeassistant", s.homeassistant.image] as [string, string], ["recorder", s.homeassistant.recorder.image] as [string, string]] : []),
    ...(s.esphome ? [["esphome", s.esphome.image] as [string, string]] : []),
    ...(s.nodered ? [["nodered", s.nodered.image] as [string, string]] : []),
  ];
  return { services: images.map(([name, image]) => ({ name, critical: true, image, placement: "pacemaker", prePulledOn: [...all] })) };
}

/** The prod-like stack of `c`: every HAHA component with its intent, and the raw resources policies read. */
export function stackOf(c: HahaConfig): OfflineResource[] {
  const b = new Builder();
  const stack = b.add("pulumi:pulumi:Stack", `${PROJECT}-${STACK}`, {});
  b.add("haha:stack:Declaration", "haha", { ...stackDeclarationArgs(c) }, stack);
  b.add("pulumi:providers:proxmoxve", "proxmox", { endpoint: c.proxmox.endpoint, apiToken: `${c.proxmox.tokenId}=<secret:proxmoxApiToken>`, ssh: { privateKey: "<secret:sshPrivateKey>" } }, undefined, ["apiToken", "ssh"]);
  const members = clusterMembers(c);
  c.nodes.forEach((n, i) => {
    const host = b.add("haha:proxmox:Host", n.name, { host: n.name, intent: hostIntent(n) }, stack);
    b.add("proxmoxve:network/linux/bond:Bond", `${n.name}-${n.bond.name}`, { nodeName: n.name, name: n.bond.name, slaves: n.bond.slaves, bondMode: n.bond.mode }, host);
    const m = members[i]!;
    const intent: GuestIntent = { member: m.name, host: n.name, vmid: m.vmid, pciPurpose: n.drbdDisk ? "drbd-replica" : undefined, haManaged: false, watchdog: "i6300esb" };
    if (!n.drbdDisk) delete intent.pciPurpose;
    const guest = b.add("haha:proxmox:ClusterGuest", m.name, { member: m.name, host: n.name, intent }, stack);
    b.add(
      "proxmoxve:index/vmLegacy:VmLegacy",
      `${m.name}-vm`,
      {
        nodeName: n.name,
        vmId: m.vmid,
        name: m.name,
        hostpcis: n.drbdDisk ? [{ device: "hostpci0", mapping: n.drbdDisk.pciMapping, pcie: true, rombar: false }] : [],
        usbs: [],
        serialDevices: [{ device: "socket" }],
        watchdog: { enabled: true, model: "i6300esb", action: "reset" },
        disks: [{ interface: "virtio0", datastoreId: c.proxmox.vmDatastore, fileId: `${c.proxmox.imageDatastore}:iso/${c.proxmox.cloudImage.fileName}` }],
      },
      guest,
    );
  });
  b.add("haha:pacemaker:Cib", "cib", { intent: clusterIntentOf(c) }, stack);
  const storage = b.add("haha:storage:ReplicatedStorage", "storage", { intent: storageIntentOf(c) }, stack);
  b.add("haha:host:Step", "storage-drbd-adjust", { host: members[0]!.name, create: "drbdadm adjust haha" }, storage);
  const servicesIntent = servicesIntentOf(c);
  const services = b.add("haha:services:ServiceSet", "services", { intent: servicesIntent }, stack);
  for (const m of members) {
    for (const s of servicesIntent.services) b.add("docker:index/remoteImage:RemoteImage", `${m.name}-${s.name}-image`, { name: s.image, keepLocally: true }, services);
  }
  const file = b.add("haha:host:File", `${members[0]!.name}-mosquitto-passwd`, { path: "/srv/haha/mosquitto/passwd", content: "homeassistant:<secret:mosquitto-homeassistant.bcrypt>\n", mode: "0640" }, services, ["content"]);
  b.add("command:remote:Command", `${members[0]!.name}-mosquitto-passwd-write`, { create: "cat > /srv/haha/mosquitto/passwd", stdin: "homeassistant:<secret:mosquitto-homeassistant.bcrypt>\n", connection: { host: members[0]!.address, privateKey: "<secret:sshPrivateKey>" } }, file, ["connection", "stdin"]);

  if (c.voice?.enabled) {
    const g = c.voice.ollama.guest;
    const voice = b.add("haha:services:VoiceAssistant", "voice", { intent: { member: g.name, host: g.node, vmid: g.vmid, pciPurpose: "non-critical", haManaged: false, watchdog: null } }, stack);
    b.add("proxmoxve:index/vmLegacy:VmLegacy", `${g.name}-vm`, { nodeName: g.node, vmId: g.vmid, hostpcis: [{ device: "hostpci0", mapping: g.gpuMapping, pcie: true }], usbs: [] }, voice);
    b.add("docker:index/container:Container", "voice-ollama", { name: "ollama", image: c.voice.ollama.image, devices: [{ hostPath: "/dev/nvidia0" }], volumes: [{ hostPath: "/srv/ollama", containerPath: "/root/.ollama" }] }, voice);
  }
  return b.resources;
}

/** A deep copy of `resources` with `mutate` applied to the props of the one resource of `type` (named `name`, if given). */
export function mutated(resources: OfflineResource[], type: string, name: string | undefined, mutate: (props: any) => void): OfflineResource[] {
  const copy = structuredClone(resources);
  const hits = copy.filter((r) => r.type === type && (name === undefined || r.name === name));
  if (hits.length !== 1) throw new Error(`fixture: expected one ${type}${name ? ` named ${name}` : ""}, found ${hits.length}`);
  mutate(hits[0]!.props);
  return copy;
}

/** Add a resource under the stack (URN built like the others). */
export function withResource(resources: OfflineResource[], type: string, name: string, props: Record<string, unknown>, parentName?: string, secretInputs: string[] = []): OfflineResource[] {
  const copy = structuredClone(resources);
  const parent = parentName ? copy.find((r) => r.name === parentName) : copy.find((r) => r.type === "pulumi:pulumi:Stack");
  if (!parent) throw new Error(`fixture: no parent ${parentName}`);
  const chain = parent.urn.split("::")[2]!;
  copy.push({ urn: `urn:pulumi:${STACK}::${PROJECT}::${chain}$${type}::${name}`, type, name, parent: parent.urn, dependencies: [], props, secretInputs });
  return copy;
}

export function evaluate(resources: OfflineResource[], packConfig?: PackConfig): PackEvaluation {
  return evaluatePack(resources, packConfig);
}

export function rule(ev: PackEvaluation, name: string): RuleResult {
  const r = ev.rules.find((x) => x.name === name);
  if (!r) throw new Error(`no rule ${name} in the evaluation`);
  return r;
}

/** Every reported (unwaived) message of a rule, one per line, for assertion messages and matching. */
export function messages(ev: PackEvaluation, name: string): string {
  return rule(ev, name).violations.map((v) => v.message).join("\n");
}

/** The prod stack grown or shrunk to `hosts` Proxmox hosts (the first two diskful), validated. */
export function hostsConfig(hosts: number): HahaConfig {
  return parseConfig(generatedRaw(hosts), `prod with ${hosts} hosts`);
}

/** Prod with a second switch: each bond's second slave cabled to it (optionally both switches in one stack group). */
export function twoSwitchRaw(raw: Record<string, any>, stackGroup?: string): void {
  raw.switches = [
    { name: "nllei01sw01", model: "WS-C3850-12X48U", ...(stackGroup ? { stackGroup } : {}) },
    { name: "nllei01sw02", model: "WS-C3850-12X48U", ...(stackGroup ? { stackGroup } : {}) },
  ];
  raw.nodes.forEach((n: any, i: number) => (n.bond.switchPorts = [`nllei01sw01:Te1/0/${i + 1}`, `nllei01sw02:Te1/0/${i + 1}`]));
}
