// One cluster member: a VM pinned to its Proxmox host, booted from a cloud image with a static
// address and the deploy key, with an i6300esb watchdog for SBD self-fencing and, on DRBD
// members, the NVMe disk passed through by PCI resource mapping. Never USB, never ha-manager.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import type { GuestIntent } from "../intent";
import { subnetInfo } from "../../stacks/config/net";
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

  constructor(name: string, args: ClusterGuestArgs, opts?: pulumi.ComponentResourceOptions) {
    const intent = guestIntent(args.node);
    super("haha:proxmox:ClusterGuest", name, { member: args.member.name, host: args.node.name, intent }, opts);
    const { config: c, node } = args;
    const g = node.guest;
    const prefix = subnetInfo(c.network.subnet).prefix;
    // The guest NIC follows the bond's MTU so jumbo frames reach DRBD and NFS end to end.
    const networkDevices: { bridge: string; model: string; mtu?: number }[] = [{ bridge: c.network.bridge, model: "virtio", mtu: node.bond.mtu }];
    const ipConfigs: { ipv4: { address: string; gateway?: string } }[] = [{ ipv4: { address: `${g.address}/${prefix}`, gateway: c.network.gateway } }];
    if (c.network.secondary && g.secondaryAddress) {
      networkDevices.push({ bridge: c.network.secondary.bridge, model: "virtio" });
      ipConfigs.push({ ipv4: { address: `${g.secondaryAddress}/${subnetInfo(c.network.secondary.subnet).prefix}` } });
    }
    this.vm = new proxmox.VmLegacy(
      `${name}-vm`,
      {
        nodeName: node.name,
        vmId: g.vmid,
        name: g.name,
        description: `HAHA cluster member ${g.name} on ${node.name}${node.drbdDisk ? " (DRBD replica)" : " (diskless DRBD tiebreaker)"}`,
        tags: ["haha", node.drbdDisk ? "drbd-replica" : "drbd-tiebreaker"],
        onBoot: true,
        started: true,
        // Pinned to its host by design: the passed-through disk and the failure-domain model
        // both assume it; Pacemaker, not Proxmox, moves the services.
        migrate: false,
        machine: "q35",
        operatingSystem: { type: "l26" },
        agent: { enabled: true, trim: true },
        cpu: { cores: g.cores, type: "host" },
        memory: { dedicated: g.memoryMiB },
        scsiHardware: "virtio-scsi-single",
        disks: [
          {
            interface: "virtio0",
            datastoreId: c.proxmox.vmDatastore,
            fileId: pulumi.interpolate`${c.proxmox.imageDatastore}:iso/${c.proxmox.cloudImage.fileName}`,
            size: g.diskGiB,
            discard: "on",
            iothread: true,
          },
        ],
        networkDevices,
        initialization: {
          datastoreId: c.proxmox.vmDatastore,
          ipConfigs,
          dns: { servers: c.network.dns },
          userAccount: { username: c.ssh.user, keys: [c.ssh.publicKey] },
        },
        // SBD's watchdog: the guest resets itself when it loses quorum, a fencing path that
        // needs no other host. Action reset: a hung guest comes back as a fresh member.
        watchdog: { enabled: true, model: "i6300esb", action: "reset" },
        hostpcis: node.drbdDisk ? [{ device: "hostpci0", mapping: node.drbdDisk.pciMapping, pcie: true, rombar: false }] : [],
        usbs: [],
        // The VM stops hard on destroy only; an update never reboots a member behind Pacemaker's back.
        rebootAfterUpdate: false,
        stopOnDestroy: true,
        timeoutShutdownVm: 300,
      },
      this.child(),
    );
    this.registerOutputs({ intent, vmId: g.vmid });
  }
}
