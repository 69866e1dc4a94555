// Composes the whole smart home from a validated config: Proxmox hosts and guests, then the
// packages, corosync membership, storage, services and finally the one CIB that ties them.
import { GuestConnection } from "../components/host/connection";
import { clusterPackages, GuestPackages } from "../components/host/packages";
import { CLUSTER_MODULES, GuestReady } from "../components/host/ready";
import { ClusterCib, ClusterMembership } from "../components/pacemaker";
import { ClusterGuest, FencingIdentity, ProxmoxHost, proxmoxProvider } from "../components/proxmox";
import { ServiceConfigs, ServiceCredentials, ServiceSet, VoiceAssistant } from "../components/services";
import { ProxmoxNfsStorage, ReplicatedStorage } from "../components/storage";
import type { Output } from "@pulumi/pulumi";
import type { Secrets } from "./config/load";
import { clusterMembers } from "./config/members";
import type { HahaConfig } from "./config/schema";
import { StackDeclaration, stackDeclarationArgs } from "./declaration";

export interface StackOutputs {
  members: { name: string; host: string; address: string; diskful: boolean }[];
  servicesVip: string;
  storageVip: string;
  /** Logins the household needs (Node-RED editor, Zigbee2MQTT frontend, MQTT users); secret. */
  serviceCredentials: Output<ServiceCredentials>;
}

export function declareStack(c: HahaConfig, secrets: Secrets): StackOutputs {
  const members = clusterMembers(c);
  new StackDeclaration("haha", stackDeclarationArgs(c));
  const provider = proxmoxProvider("proxmox", c, secrets);

  const hosts = c.nodes.map((node) => new ProxmoxHost(node.name, { config: c, node }, { provider }));
  const fencing = new FencingIdentity("fencing", { config: c, members }, { provider });
  const guests = c.nodes.map((node, i) => new ClusterGuest(node.guest.name, { config: c, node, member: members[i]! }, { provider, dependsOn: [hosts[i]!] }));

  if (!secrets.sshPrivateKey) throw new Error("haha:sshPrivateKey is required");
  const privateKey = secrets.sshPrivateKey;
  // Every connection pins the host key its guest was given through cloud-init.
  const connections: GuestConnection[] = members.map((m, i) => ({ host: m.name, address: m.address, user: c.ssh.user, port: c.ssh.port, privateKey, hostKey: guests[i]!.hostPublicKey }));
  const layer = { config: c, members, connections };

  // cloud-init done (apt free), full kernel, NIC named: before the first package is installed.
  const ready = members.map((m, i) => new GuestReady(`${m.name}-ready`, { connection: connections[i]!, modules: Object.keys(CLUSTER_MODULES), nic: c.network.guestNic }, { dependsOn: [guests[i]!] }));
  const packages = members.map((m, i) => new GuestPackages(`${m.name}-packages`, { connection: connections[i]!, packages: clusterPackages(c) }, { dependsOn: [ready[i]!] }));
  const membership = new ClusterMembership("cluster", layer, { dependsOn: packages });
  const storage = new ReplicatedStorage("storage", layer, { dependsOn: [membership] });
  const services = new ServiceSet("services", layer, { dependsOn: [storage] });
  const cib = new ClusterCib(
    "cib",
    { ...layer, fencePassword: fencing.password, bmcPassword: secrets.bmcPassword, fragments: [storage.cibFragment, services.cibFragment] },
    { dependsOn: [membership, storage, services] },
  );
  // The service files go to the shared mount, which exists once Pacemaker runs the CIB.
  new ServiceConfigs("services-config", { ...layer, services }, { dependsOn: [cib] });
  // Proxmox mounts a storage when it is created: only once Pacemaker serves the export.
  if (c.storage.nfs.proxmoxStorage) new ProxmoxNfsStorage("backup-storage", { config: c }, { provider, dependsOn: [cib] });
  if (c.voice?.enabled) new VoiceAssistant("voice", { ...layer, privateKey }, { provider, dependsOn: [services] });

  return {
    members: members.map((m) => ({ name: m.name, host: m.host, address: m.address, diskful: m.diskful })),
    servicesVip: c.network.vip,
    storageVip: c.network.storageVip,
    serviceCredentials: services.credentials,
  };
}

