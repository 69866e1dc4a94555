// One Proxmox host: its uplink (an LACP bond of its NICs and the guest bridge on top), the PCI
// mappings of the hardware its guests get (the DRBD NVMe disk), and the cloud image its guests boot.
// Every Proxmox install already has vmbr0 with the management address: by default (network mode
// adopt) HAHA declares nothing that changes it and states the bond only as intent for the policies;
// in mode manage it declares bond and bridge, each host after the previous one.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import type { HostNetworkIntent } from "../intent";
import { fixedId, Lifecycle } from "./lifecycle";
import { subnetInfo } from "../../stacks/config/net";
import type { HahaConfig, } from "../../stacks/config/schema";
import type { NodeConfig } from "../../stacks/config/infrastructure";

export interface ProxmoxHostArgs {
  config: HahaConfig;
  node: NodeConfig;
  /**
   * The previous host's last network resource: a managed host's networking changes only after the
   * previous host's change has applied, so one bad change never takes every host off the network.
   */
  networkAfter?: pulumi.Resource;
}

export function hostNetworkIntent(node: NodeConfig): HostNetworkIntent {
  const b = node.bond;
  return {
    host: node.name,
    network: node.network.mode,
    bond: { name: b.name, mode: b.mode, hashPolicy: b.hashPolicy, miimon: b.miimon, mtu: b.mtu, slaves: [...b.slaves] },
    switchPorts: [...b.switchPorts],
    switches: [...new Set(b.switchPorts.map((p) => p.split(":")[0] ?? ""))],
  };
}

/** Lifecycle of each fixed-id object a host component declares, by what it is. */
export function hostLifecycles(c: HahaConfig, node: NodeConfig): Record<string, Lifecycle> {
  const out: Record<string, Lifecycle> = {
    cloudImage: fixedId(c, `${node.name}:${c.proxmox.imageDatastore}:iso/${c.proxmox.cloudImage.fileName}`),
  };
  if (node.network.mode === "manage") {
    out.bond = fixedId(c, `${node.name}:${node.bond.name}`, `the management path of ${node.name}`);
    out.bridge = fixedId(c, `${node.name}:${c.network.bridge}`, `the management address of ${node.name}`);
  }
  if (node.drbdDisk?.pci) out.pciMapping = fixedId(c, `mapping ${node.drbdDisk.pciMapping}`, `the passthrough of the DRBD disk of ${node.guest.name}`);
  return out;
}

export class ProxmoxHost extends HahaComponent {
  /** Only in network mode manage. */
  readonly bond?: proxmox.network.linux.Bond;
  readonly bridge?: proxmox.network.linux.Bridge;
  readonly cloudImage: proxmox.download.File;
  readonly pciMappings: proxmox.hardware.mapping.Pci[] = [];
  /** What the next host's network waits for: this host's bridge, or the chain so far when adopted. */
  readonly networkDone?: pulumi.Resource;

  constructor(name: string, args: ProxmoxHostArgs, opts?: pulumi.ComponentResourceOptions) {
    const intent = hostNetworkIntent(args.node);
    const lifecycle = hostLifecycles(args.config, args.node);
    super("haha:proxmox:Host", name, { host: args.node.name, intent, lifecycle: Object.fromEntries(Object.entries(lifecycle).map(([k, l]) => [k, l.why])) }, opts);
    const { node, config: c } = args;
    this.networkDone = args.networkAfter;
    if (node.network.mode === "manage") {
      const { bond, bridge } = this.manageNetwork(name, c, node, lifecycle, args.networkAfter);
      this.bond = bond;
      this.bridge = bridge;
      this.networkDone = bridge;
    }
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
      this.child(lifecycle.cloudImage!.opts),
    );
    if (node.drbdDisk?.pci) {
      const pci = node.drbdDisk.pci;
      this.pciMappings.push(
        new proxmox.hardware.mapping.Pci(
          `${name}-${node.drbdDisk.pciMapping}`,
          {
            name: node.drbdDisk.pciMapping,
            comment: `NVMe disk of the DRBD replica on ${node.guest.name} (${lifecycle.pciMapping!.why})`,
            maps: [{ node: node.name, path: pci.path, id: pci.id, subsystemId: pci.subsystemId, iommuGroup: pci.iommuGroup }],
          },
          this.child(lifecycle.pciMapping!.opts),
        ),
      );
    }
    this.registerOutputs({ intent });
  }

  /**
   * Bond, then bridge. Each network resource reloads the host's networking when it changes, so the
   * bridge (carrying the management address) waits for the bond it sits on, and both wait for the
   * previous host: at most one host is mid-reload at any time.
   */
  private manageNetwork(name: string, c: HahaConfig, node: NodeConfig, lifecycle: Record<string, Lifecycle>, after?: pulumi.Resource) {
    const b = node.bond;
    const prefix = subnetInfo(c.network.subnet).prefix;
    const bond = new proxmox.network.linux.Bond(
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
      this.child({ ...lifecycle.bond!.opts, dependsOn: after ? [after] : [] }),
    );
    const bridge = new proxmox.network.linux.Bridge(
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
      this.child({ ...lifecycle.bridge!.opts, dependsOn: [bond] }),
    );
    return { bond, bridge };
  }
}
