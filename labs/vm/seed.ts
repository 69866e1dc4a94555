// The NoCloud seed Proxmox builds for a VM from its cloud-init settings, rendered the way
// qemu-server's PVE/QemuServer/Cloudinit.pm does (cloudinit_userdata, nocloud_network,
// nocloud_gen_metadata), from the VmLegacy the program declares. The provider maps
// `initialization` onto the Proxmox options: userAccount -> ciuser/cipassword/sshkeys,
// ipConfigs[i] -> ipconfig<i>, dns -> nameserver/searchdomain, upgrade -> ciupgrade, and
// user/network/meta/vendorDataFileId -> cicustom snippets, which replace the generated part whole.
import * as crypto from "node:crypto";
import { parse as parseYaml } from "yaml";
import type { RecordedResource } from "../../plan/types";

export interface NoCloudSeed {
  "user-data": string;
  "meta-data": string;
  "network-config": string;
  "vendor-data": string;
}

interface IpConfig {
  ipv4?: { address?: string; gateway?: string };
  ipv6?: { address?: string; gateway?: string };
}

interface Initialization {
  userAccount?: { username?: string; password?: string; keys?: string[] };
  ipConfigs?: IpConfig[];
  dns?: { servers?: string[]; domain?: string };
  upgrade?: boolean;
  userDataFileId?: string;
  networkDataFileId?: string;
  metaDataFileId?: string;
  vendorDataFileId?: string;
}

/** What the recorded VM declares that a seed needs, checked (a lab must not guess). */
function initializationOf(vm: RecordedResource): Initialization {
  const init = vm.inputs.initialization as Initialization | undefined;
  if (!init || typeof init !== "object") throw new Error(`${vm.name}: the VmLegacy declares no initialization (no cloud-init drive): the guest would boot unconfigured`);
  return init;
}

/** Proxmox's ipv4 reverse mask for a prefix length. */
function netmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join(".");
}

function splitIp4(cidr: string, where: string): [string, string] {
  const [addr, mask] = cidr.split("/");
  if (!addr || mask === undefined || !/^\d+$/.test(mask)) throw new Error(`${where}: not a CIDR: ${cidr}`);
  return [addr, netmask(Number(mask))];
}

export function userData(vm: RecordedResource): string {
  const init = initializationOf(vm);
  const hostname = String(vm.inputs.name ?? `VM${String(vm.inputs.vmId)}`);
  const short = hostname.replace(/\..*$/, "");
  const fqdn = hostname.includes(".") ? hostname : init.dns?.domain ? `${hostname}.${init.dns.domain}` : hostname;
  const user = init.userAccount?.username;
  let out = "#cloud-config\n";
  out += `hostname: ${short}\nmanage_etc_hosts: true\nfqdn: ${fqdn}\n`;
  if (user !== undefined) out += `user: ${user}\n`;
  if (user === "root") out += "disable_root: False\n";
  if (init.userAccount?.password !== undefined) out += `password: ${init.userAccount.password}\n`;
  const keys = (init.userAccount?.keys ?? []).flatMap((k) => k.split("\n")).map((k) => k.trimEnd()).filter((k) => /\S/.test(k));
  if (init.userAccount?.keys) {
    out += "ssh_authorized_keys:\n";
    for (const k of keys) out += `  - ${k}\n`;
  }
  out += "chpasswd:\n  expire: False\n";
  if (user !== "root") out += "users:\n  - default\n";
  if (init.upgrade !== false) out += "package_upgrade: true\n";
  return out;
}

export function networkConfig(vm: RecordedResource, macs: string[]): string {
  const init = initializationOf(vm);
  let out = "version: 1\nconfig:\n";
  const nics = (vm.inputs.networkDevices as unknown[] | undefined) ?? [];
  (init.ipConfigs ?? []).forEach((ip, id) => {
    if (id >= nics.length) return; // Proxmox walks net<N> and skips those without ipconfig<N>
    const mac = macs[id];
    if (!mac) throw new Error(`${vm.name}: net${id} has no MAC address`);
    out += `    - type: physical\n      name: eth${id}\n      mac_address: '${mac.toLowerCase()}'\n      subnets:\n`;
    if (ip.ipv4?.address === "dhcp") out += "      - type: dhcp4\n";
    else if (ip.ipv4?.address) {
      const [addr, mask] = splitIp4(ip.ipv4.address, `${vm.name}.initialization.ipConfigs[${id}].ipv4.address`);
      out += `      - type: static\n        address: '${addr}'\n        netmask: '${mask}'\n`;
      if (ip.ipv4.gateway) out += `        gateway: '${ip.ipv4.gateway}'\n`;
    }
    if (ip.ipv6?.address === "dhcp") out += "      - type: dhcp6\n";
    else if (ip.ipv6?.address === "auto") out += "      - type: ipv6_slaac\n";
    else if (ip.ipv6?.address) {
      out += `      - type: static6\n        address: '${ip.ipv6.address}'\n`;
      if (ip.ipv6.gateway) out += `        gateway: '${ip.ipv6.gateway}'\n`;
    }
  });
  // Proxmox falls back to the host's resolv.conf for unset DNS; the lab's host has none.
  out += "    - type: nameserver\n";
  const servers = init.dns?.servers ?? [];
  if (servers.length > 0) out += `      address:\n${servers.map((s) => `      - '${s}'\n`).join("")}`;
  if (init.dns?.domain) out += `      search:\n${init.dns.domain.split(/\s+/).map((s) => `      - '${s}'\n`).join("")}`;
  return out;
}

/** The provider's file resources (the legacy one is what the program uses for snippets). */
export const SNIPPET_TYPES = new Set(["proxmoxve:storage/file:File", "proxmoxve:index/fileLegacy:FileLegacy"]);

/** A snippet file id (`local:snippets/x.yaml`, or the File resource's id under the plan's mocks) -> its content. */
export function snippetResolver(resources: RecordedResource[]): (fileId: string, where: string) => string {
  const files = resources.filter((r) => SNIPPET_TYPES.has(r.type));
  return (fileId, where) => {
    const f = files.find((r) => {
      const raw = r.inputs.sourceRaw as { fileName?: string } | undefined;
      return `${r.name}-id` === fileId || r.urn === fileId || (raw?.fileName !== undefined && `${String(r.inputs.datastoreId)}:snippets/${raw.fileName}` === fileId);
    });
    const data = (f?.inputs.sourceRaw as { data?: unknown } | undefined)?.data;
    if (typeof data !== "string") throw new Error(`${where} = ${fileId}: no recorded proxmoxve file resource (FileLegacy or storage/File) with sourceRaw.data matches it`);
    return data;
  };
}

/** The whole seed, as generate_nocloud writes it: snippets replace the generated parts they cover. */
export function renderSeed(vm: RecordedResource, macs: string[], resolve: (fileId: string, where: string) => string): NoCloudSeed {
  const init = initializationOf(vm);
  const user = init.userDataFileId ? resolve(init.userDataFileId, `${vm.name}.initialization.userDataFileId`) : userData(vm);
  const network = init.networkDataFileId ? resolve(init.networkDataFileId, `${vm.name}.initialization.networkDataFileId`) : networkConfig(vm, macs);
  const vendor = init.vendorDataFileId ? resolve(init.vendorDataFileId, `${vm.name}.initialization.vendorDataFileId`) : "";
  const meta = init.metaDataFileId ? resolve(init.metaDataFileId, `${vm.name}.initialization.metaDataFileId`) : `instance-id: ${crypto.createHash("sha1").update(user + network).digest("hex")}\n`;
  return { "user-data": user, "meta-data": meta, "network-config": network, "vendor-data": vendor };
}

/** A stable MAC per VM and NIC in Proxmox's own OUI (BC:24:11), unless the VM declares one. */
export function macsOf(vm: RecordedResource): string[] {
  const nics = (vm.inputs.networkDevices as { macAddress?: string }[] | undefined) ?? [];
  return nics.map((n, i) => {
    if (n.macAddress) return n.macAddress.toLowerCase();
    const h = crypto.createHash("sha256").update(`${String(vm.inputs.vmId)}:${i}`).digest();
    return ["bc", "24", "11", ...[h[0], h[1], h[2]].map((b) => (b ?? 0).toString(16).padStart(2, "0"))].join(":");
  });
}

/**
 * The address the guest comes up on: the first static IPv4 of its network config (the snippet
 * or the generated one), which is what cloud-init configures.
 */
export function guestAddress(vm: RecordedResource, seed: NoCloudSeed): string {
  const doc = parseYaml(seed["network-config"]) as { version?: number; config?: { subnets?: { type?: string; address?: string }[] }[]; ethernets?: Record<string, { addresses?: string[] }> } | null;
  const v1 = (doc?.config ?? []).flatMap((c) => c.subnets ?? []).find((s) => s.type === "static" && s.address)?.address;
  const v2 = Object.values(doc?.ethernets ?? {}).flatMap((e) => e.addresses ?? [])[0];
  const a = v1 ?? v2;
  if (!a) throw new Error(`${vm.name}: its network config declares no static IPv4 address: the lab cannot know where the guest answers`);
  return a.split("/")[0] as string;
}
