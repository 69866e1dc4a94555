// What each layer declares it intends: the contract with the policy pack, defined in the pack's
// own folder (policies/contract.ts) so the pack stands alone; re-exported here for components.
export type { ClusterIntent, GuestIntent, HostNetworkIntent, ServicesIntent, StorageIntent } from "../policies/contract";
