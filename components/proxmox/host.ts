// One Proxmox host's uplink: an LACP bond of its NICs and the guest bridge on top, plus the PCI
// mappings of the hardware its guests get (the DRBD NVMe disk), and the cloud image its guests boot.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import type { HostNetworkIntent } from "../intent";
import { subnetInfo } from "../../stacks/config/net";
import type { HahaConfig, } from "../../stacks/config/schema";
import type { NodeConfig } from "../../stacks/config/infrastructure";

export interface ProxmoxHostArgs {
  config: HahaConfig;
  node: NodeConfig;
}

export function hostNetworkIntent(node: NodeConfig): HostNetworkIntent {
  const b = node.bond;
  return {
    host: node.name,
    bond: { name: b.name, mode: b.mode, hashPolicy: b.hashPolicy, miimon: b.miimon, mtu: b.mtu, slaves: [...b.slaves] },
    switchPorts: [...b.switchPorts],
    switches: [...new Set(b.switchPorts.map((p) => p.split(":")[0] ?? ""))],
  };
}

export class ProxmoxHost extends HahaComponent {
  readonly bond: proxmox.network.linux.Bond;
  readonly bridge: proxmox.network.linux.Bridge;
  readonly cloudImage: proxmox.download.File;
  readonly pciMappings: proxmox.hardware.mapping.Pci[] = [];

  constructor(name: string, args: ProxmoxHostArgs, opts?: pulumi.ComponentResourceOptions) {
    const intent = hostNetworkIntent(args.node);
    super("haha:proxmox:Host", name, { host: args.node.name, intent }, opts);
    const { node, config: c } = args;
    const b = node.bond;
    const prefix = subnetInfo(c.network.subnet).prefix;
    // Each network resource reloads the host's networking when it changes: keep both in one
    // place, bridge after bond, so a change is one reload each and never a half-configured host.
    this.bond = new proxmox.network.linux.Bond(
      `${name}-${b.name}`,
      {
        nodeName: node.name,
        name: b.name,
        slaves: b.slaves,
        bondMode: b.mode,
        // Only meaningful for 802.3ad / balance-xor; Proxmox ignores it otherwise.
        bondXmitHashPolicy: b.mode === "802.3ad" || b.mode === "balance-xor" ? b.hashPolicy : undefined,
        mtu: b.mtu,
        autostart: true,
        comment: `HAHA uplink of ${node.name}: ${b.switchPorts.join(", ")}`,
      },
      this.child(),
    );
    this.bridge = new proxmox.network.linux.Bridge(
      `${name}-${c.network.bridge}`,
      {
        nodeName: node.name,
        name: c.network.bridge,
        ports: [b.name],
        address: `${node.address}/${prefix}`,
        gateway: c.network.gateway,
        mtu: b.mtu,
        autostart: true,
        vlanAware: false,
        comment: "HAHA guest bridge on the LACP bond",
      },
      this.child({ dependsOn: [this.bond] }),
    );
    this.cloudImage = new proxmox.download.File(
      `${name}-cloud-image`,
      {
        nodeName: node.name,
        datastoreId: c.proxmox.imageDatastore,
        contentType: "iso",
        url: c.proxmox.cloudImage.url,
        fileName: c.proxmox.cloudImage.fileName,
        checksum: c.proxmox.cloudImage.checksum,
        checksumAlgorithm: c.proxmox.cloudImage.checksum ? (c.proxmox.cloudImage.checksum.length === 64 ? "sha256" : "sha512") : undefined,
        // A newer upstream image must not replace the disk under running guests.
        overwrite: false,
      },
      this.child(),
    );
    if (node.drbdDisk?.pci) {
      const pci = node.drbdDisk.pci;
      this.pciMappings.push(
        new proxmox.hardware.mapping.Pci(
          `${name}-${node.drbdDisk.pciMapping}`,
          {
            name: node.drbdDisk.pciMapping,
            comment: `NVMe disk of the DRBD replica on ${node.guest.name}`,
            maps: [{ node: node.name, path: pci.path, id: pci.id, subsystemId: pci.subsystemId, iommuGroup: pci.iommuGroup }],
          },
          this.child(),
        ),
      );
    }
    this.registerOutputs({ intent });
  }
}
