// The cluster members as every layer sees them: one guest per Proxmox host, numbered in
// config order. Node ids are stable as long as the order of haha:nodes is.
import type { HahaConfig } from "./schema";

export interface Member {
  /** 0-based position in haha:nodes. */
  index: number;
  /** Corosync nodeid, DRBD node-id + 1 and Pacemaker node id: index + 1. */
  nodeId: number;
  /** Guest hostname: the Pacemaker node name. */
  name: string;
  /** The Proxmox host (failure domain) it runs on. */
  host: string;
  address: string;
  secondaryAddress?: string;
  vmid: number;
  /** Holds a DRBD replica (an NVMe disk passed through); otherwise the diskless tiebreaker. */
  diskful: boolean;
  drbdDevice?: string;
  /** The switches its host's bond slaves are cabled to. */
  switches: string[];
  bmc?: HahaConfig["nodes"][number]["bmc"];
}

export function clusterMembers(c: HahaConfig): Member[] {
  return c.nodes.map((n, index) => ({
    index,
    nodeId: index + 1,
    name: n.guest.name,
    host: n.name,
    address: n.guest.address,
    secondaryAddress: n.guest.secondaryAddress,
    vmid: n.guest.vmid,
    diskful: n.drbdDisk !== undefined,
    drbdDevice: n.drbdDisk?.device,
    switches: [...new Set(n.bond.switchPorts.map((p) => p.split(":")[0] ?? ""))],
    bmc: n.bmc,
  }));
}
