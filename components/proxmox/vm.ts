// What every HAHA guest VM shares: booted from the host's cloud image with cloud-init (static
// address, deploy key), virtio disk and NIC, pinned to its host, never rebooted by an update.
import type * as proxmox from "@muhlba91/pulumi-proxmoxve";
import { subnetInfo } from "../../stacks/config/net";
import type { HahaConfig } from "../../stacks/config/schema";

export interface CloudVmSpec {
  node: string;
  vmid: number;
  name: string;
  address: string;
  cores: number;
  memoryMiB: number;
  diskGiB: number;
  /** MTU of the guest NIC: follow the host bond so jumbo frames reach DRBD and NFS end to end. */
  mtu?: number;
  /** A second NIC on haha:network.secondary (second corosync link). */
  secondaryAddress?: string;
}

export function cloudVmArgs(c: HahaConfig, vm: CloudVmSpec): proxmox.VmLegacyArgs {
  const networkDevices: { bridge: string; model: string; mtu?: number }[] = [{ bridge: c.network.bridge, model: "virtio", mtu: vm.mtu }];
  const ipConfigs: { ipv4: { address: string; gateway?: string } }[] = [{ ipv4: { address: `${vm.address}/${subnetInfo(c.network.subnet).prefix}`, gateway: c.network.gateway } }];
  if (c.network.secondary && vm.secondaryAddress) {
    networkDevices.push({ bridge: c.network.secondary.bridge, model: "virtio" });
    ipConfigs.push({ ipv4: { address: `${vm.secondaryAddress}/${subnetInfo(c.network.secondary.subnet).prefix}` } });
  }
  return {
    nodeName: vm.node,
    vmId: vm.vmid,
    name: vm.name,
    onBoot: true,
    started: true,
    // Pinned to its host by design (passed-through hardware, the failure-domain model):
    // Pacemaker, not Proxmox, moves the services.
    migrate: false,
    machine: "q35",
    operatingSystem: { type: "l26" },
    agent: { enabled: true, trim: true },
    cpu: { cores: vm.cores, type: "host" },
    // A passed-through device pins all guest memory: no ballooning.
    memory: { dedicated: vm.memoryMiB, floating: 0 },
    scsiHardware: "virtio-scsi-single",
    disks: [
      {
        interface: "virtio0",
        datastoreId: c.proxmox.vmDatastore,
        fileId: `${c.proxmox.imageDatastore}:iso/${c.proxmox.cloudImage.fileName}`,
        size: vm.diskGiB,
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
    usbs: [],
    // An update never reboots a guest behind Pacemaker's back; destroy stops it hard.
    rebootAfterUpdate: false,
    stopOnDestroy: true,
  };
}
