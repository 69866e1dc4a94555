// What every HAHA guest VM shares: booted from the host's cloud image with cloud-init from its own
// snippets (static address on a NIC named by its fixed MAC, deploy key, pinned host key, guest
// agent), virtio disk and NIC, pinned to its host, never rebooted by an update.
import type * as proxmox from "@muhlba91/pulumi-proxmoxve";
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

/** The guest's cloud-init snippets (see GuestCloudInit). */
export interface CloudVmInit {
  userDataFileId: string;
  networkDataFileId: string;
  /** MACs of the NICs, in the order of haha:network.bridge then haha:network.secondary.bridge. */
  macs: string[];
}

export function cloudVmArgs(c: HahaConfig, vm: CloudVmSpec, init: CloudVmInit): proxmox.VmLegacyArgs {
  // The fixed MAC is what cloud-init's network config matches to name the NIC.
  const networkDevices: { bridge: string; model: string; mtu?: number; macAddress: string }[] = [{ bridge: c.network.bridge, model: "virtio", mtu: vm.mtu, macAddress: init.macs[0]! }];
  if (c.network.secondary && vm.secondaryAddress) {
    networkDevices.push({ bridge: c.network.secondary.bridge, model: "virtio", macAddress: init.macs[1]! });
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
    // Both parts from snippets: Proxmox then generates neither (ipConfigs and userAccount
    // conflict with them), so the snippets carry the address, the user and the host key.
    initialization: {
      datastoreId: c.proxmox.vmDatastore,
      userDataFileId: init.userDataFileId,
      networkDataFileId: init.networkDataFileId,
    },
    usbs: [],
    // An update never reboots a guest behind Pacemaker's back; destroy stops it hard.
    rebootAfterUpdate: false,
    stopOnDestroy: true,
  };
}
