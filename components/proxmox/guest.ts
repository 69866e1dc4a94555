// One cluster member: a VM pinned to its Proxmox host, booted from a cloud image with a static
// address and the deploy key, with an i6300esb watchdog for SBD self-fencing and, on DRBD
// members, the NVMe disk passed through by PCI resource mapping. Never USB, never ha-manager.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import type { GuestIntent } from "../intent";
import { GuestCloudInit } from "./snippets";
import { cloudVmArgs } from "./vm";
import type { Member } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import type { NodeConfig } from "../../stacks/config/infrastructure";

export interface ClusterGuestArgs {
  config: HahaConfig;
  node: NodeConfig;
  member: Member;
}

export function guestIntent(node: NodeConfig): GuestIntent {
  return {
    member: node.guest.name,
    host: node.name,
    vmid: node.guest.vmid,
    pciPurpose: node.drbdDisk ? "drbd-replica" : undefined,
    haManaged: false,
    watchdog: "i6300esb",
  };
}

export class ClusterGuest extends HahaComponent {
  readonly vm: proxmox.VmLegacy;
  readonly cloudInit: GuestCloudInit;
  /** The guest's SSH host key (OpenSSH public key line): every connection to the guest pins it. */
  readonly hostPublicKey: pulumi.Output<string>;

  constructor(name: string, args: ClusterGuestArgs, opts?: pulumi.ComponentResourceOptions) {
    const intent = guestIntent(args.node);
    super("haha:proxmox:ClusterGuest", name, { member: args.member.name, host: args.node.name, intent }, opts);
    const { config: c, node } = args;
    const g = node.guest;
    this.cloudInit = new GuestCloudInit(
      `${name}-cloud-init`,
      { config: c, node: node.name, vmid: g.vmid, hostname: g.name, address: g.address, secondaryAddress: g.secondaryAddress, mtu: node.bond.mtu },
      this.child(),
    );
    this.hostPublicKey = this.cloudInit.hostPublicKey;
    const init = { userDataFileId: this.cloudInit.userDataFileId, networkDataFileId: this.cloudInit.networkDataFileId, macs: this.cloudInit.nics.map((n) => n.mac) };
    this.vm = new proxmox.VmLegacy(
      `${name}-vm`,
      {
        ...cloudVmArgs(c, { node: node.name, vmid: g.vmid, name: g.name, address: g.address, secondaryAddress: g.secondaryAddress, cores: g.cores, memoryMiB: g.memoryMiB, diskGiB: g.diskGiB, mtu: node.bond.mtu }, init),
        description: `HAHA cluster member ${g.name} on ${node.name}${node.drbdDisk ? " (DRBD replica)" : " (diskless DRBD tiebreaker)"}`,
        tags: ["haha", node.drbdDisk ? "drbd-replica" : "drbd-tiebreaker"],
        // SBD's watchdog: the guest resets itself when it loses quorum, a fencing path that
        // needs no other host. Action reset: a hung guest comes back as a fresh member.
        watchdog: { enabled: true, model: "i6300esb", action: "reset" },
        hostpcis: node.drbdDisk ? [{ device: "hostpci0", mapping: node.drbdDisk.pciMapping, pcie: true, rombar: false }] : [],
        timeoutShutdownVm: 300,
      },
      this.child({ dependsOn: [this.cloudInit] }),
    );
    this.registerOutputs({ intent, vmId: g.vmid });
  }
}
