// What a guest's cloud-init receives, rendered from the model: the user data (hostname, the
// deploy key, a pinned SSH host key, qemu-guest-agent) and the network config (the NIC matched by
// its fixed MAC and renamed to haha:network.guestNic). Proxmox generates neither once a snippet
// is given (userDataFileId replaces its user part, networkDataFileId its network part), so both
// are complete cloud-init documents on their own.
import { stringify } from "yaml";

/** A guest NIC as cloud-init sees it. */
export interface GuestNic {
  /** The name the NIC gets (`set-name`), whatever the kernel called it. */
  name: string;
  /** The MAC declared on the VM's network device (see guestMac). */
  mac: string;
  /** address/prefix */
  address: string;
  gateway?: string;
  mtu?: number;
}

export interface GuestUserData {
  hostname: string;
  user: string;
  authorizedKeys: string[];
  /** The guest's SSH host key (ed25519, OpenSSH format); the private half is a secret. */
  hostKey: { privateOpenssh: string; publicOpenssh: string };
}

export interface GuestNetwork {
  nics: GuestNic[];
  dns: string[];
}

/**
 * qemu-guest-agent: every VM enables the agent, and the provider waits its whole agent timeout
 * (15 minutes) on every create, refresh and update when nothing in the guest answers.
 */
export const CLOUD_INIT_PACKAGES = ["qemu-guest-agent"];

/**
 * A stable, locally administered unicast MAC for NIC `index` of VM `vmid`: first octet 0x02 plus
 * the NIC index (bits 2..7), then "H" (0x48) and the vmid as 32 bits. Proxmox VMIDs stay below
 * 2^32, so no two HAHA guests or NICs share one, and the same vmid always gives the same MAC
 * (cloud-init matches the NIC by it).
 */
export function guestMac(vmid: number, index: number): string {
  if (!Number.isInteger(vmid) || vmid < 100 || vmid > 0xffffffff) throw new Error(`guestMac: vmid ${vmid} is not a Proxmox VMID`);
  if (!Number.isInteger(index) || index < 0 || index > 63) throw new Error(`guestMac: NIC index ${index} is out of 0..63`);
  const bytes = [0x02 | (index << 2), 0x48, (vmid >>> 24) & 0xff, (vmid >>> 16) & 0xff, (vmid >>> 8) & 0xff, vmid & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":").toUpperCase();
}

const SSH_ED25519 = /^ssh-ed25519 [A-Za-z0-9+/=]+( .*)?$/;

/** The `#cloud-config` user data of one guest. */
export function renderUserData(u: GuestUserData): string {
  if (!SSH_ED25519.test(u.hostKey.publicOpenssh.trim())) throw new Error(`cloud-init user data of ${u.hostname}: the host key must be an OpenSSH ed25519 public key`);
  if (u.authorizedKeys.length === 0) throw new Error(`cloud-init user data of ${u.hostname}: no authorized key: nobody could log in`);
  const root = u.user === "root";
  const doc: Record<string, unknown> = {
    hostname: u.hostname,
    fqdn: u.hostname,
    // As Proxmox's own generated user data: the hostname resolves on the guest itself.
    manage_etc_hosts: true,
    // The deploy user is cloud-init's default user; for root, the only user (no "debian" login).
    user: root ? "root" : { name: u.user, sudo: "ALL=(ALL) NOPASSWD:ALL", shell: "/bin/bash", lock_passwd: true },
    users: ["default"],
    ...(root ? { disable_root: false } : {}),
    ssh_authorized_keys: u.authorizedKeys,
    ssh_pwauth: false,
    // The pinned host key, and no other: every connection verifies it, and an ed25519-only
    // host makes clients negotiate that key (the image's own keys are deleted on first boot).
    ssh_deletekeys: true,
    ssh_genkeytypes: ["ed25519"],
    ssh_keys: { ed25519_private: u.hostKey.privateOpenssh.trimEnd() + "\n", ed25519_public: u.hostKey.publicOpenssh.trim() },
    package_update: true,
    packages: CLOUD_INIT_PACKAGES,
    // Debian starts the agent from a udev rule on the virtio port; installed after boot, the rule
    // has already fired. Failing here makes `cloud-init status` report an error, which stops the deploy.
    runcmd: [["systemctl", "start", "qemu-guest-agent.service"]],
  };
  return "#cloud-config\n" + stringify(doc, { lineWidth: 0 });
}

/**
 * The network config of one guest, version 1 (the format Proxmox itself generates): each NIC
 * matched by its MAC and named. Version 1, not 2: Debian 12's cloud-init renders v2 routes and
 * nameservers for ifupdown as `post-up route add` (net-tools, absent from the image) and a stray
 * `dns` option, while v1 gives ifupdown's own `gateway` and `dns-nameservers`.
 */
export function renderNetworkConfig(n: GuestNetwork): string {
  const names = new Set<string>();
  const config: Record<string, unknown>[] = n.nics.map((nic, i) => {
    if (!/^[a-z][a-z0-9]{0,14}$/.test(nic.name)) throw new Error(`network config: NIC ${i} name "${nic.name}" is not a Linux interface name`);
    if (names.has(nic.name)) throw new Error(`network config: two NICs are named "${nic.name}"`);
    names.add(nic.name);
    return {
      type: "physical",
      // cloud-init renames the NIC with this MAC to this name (a udev rule, and at first boot).
      name: nic.name,
      mac_address: nic.mac.toLowerCase(),
      ...(nic.mtu ? { mtu: nic.mtu } : {}),
      subnets: [{ type: "static", address: nic.address, ...(nic.gateway ? { gateway: nic.gateway } : {}) }],
    };
  });
  if (n.dns.length > 0) config.push({ type: "nameserver", address: n.dns });
  return stringify({ version: 1, config }, { lineWidth: 0 });
}
