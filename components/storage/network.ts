// Which network the storage traffic (DRBD replication, the NFS export and the members' mounts)
// uses: the cluster subnet, or haha:network.secondary when it is declared with `storage: true`,
// so that the household's LAN reaches neither the export nor the cleartext replication.
import type { Member } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";

export interface StorageNetwork {
  subnet: string;
  /** The guests' NIC the storage VIP goes on. */
  nic: string;
  /** true: haha:network.secondary, a network of its own. */
  dedicated: boolean;
}

export function storageNetwork(c: HahaConfig): StorageNetwork {
  const sec = c.network.secondary;
  if (sec?.storage) return { subnet: sec.subnet, nic: sec.guestNic, dedicated: true };
  return { subnet: c.network.subnet, nic: c.network.guestNic, dedicated: false };
}

/** A member's address on the storage network (validation requires secondaryAddress when it is dedicated). */
export function storageAddress(c: HahaConfig, m: Pick<Member, "name" | "address" | "secondaryAddress">): string {
  if (!c.network.secondary?.storage) return m.address;
  if (!m.secondaryAddress) throw new Error(`${m.name}: haha:network.secondary.storage needs the guest's secondaryAddress`);
  return m.secondaryAddress;
}
