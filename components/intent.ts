// What each layer declares it intends, in plain values known at preview. Components put these
// in their args (and outputs) under `intent`; the policy pack reads them from there, and reads
// raw facts (usbs, hostpcis, devices) from provider resources. Change a shape here only
// together with the policies that read it.

/** On `haha:proxmox:Host`: one Proxmox host's uplink. */
export interface HostNetworkIntent {
  host: string;
  bond: { name: string; mode: string; hashPolicy: string; miimon: number; mtu: number; slaves: string[] };
  /** `<switch>:<port>` per slave, in slave order. */
  switchPorts: string[];
  /** Switches (by name) that each slave lands on, deduplicated. */
  switches: string[];
}

/** On `haha:proxmox:ClusterGuest`: a cluster member VM. */
export interface GuestIntent {
  member: string;
  host: string;
  vmid: number;
  /** Why it holds node-bound hardware, if it does: "drbd-replica" or "non-critical". */
  pciPurpose?: "drbd-replica" | "non-critical";
  /** Registered with Proxmox ha-manager: always false for cluster guests (Pacemaker owns placement). */
  haManaged: boolean;
  watchdog: string | null;
}

/** On `haha:pacemaker:Cib`: quorum, fencing and the cluster properties as pushed. */
export interface ClusterIntent {
  members: { name: string; host: string; votes: number }[];
  stonithEnabled: boolean;
  noQuorumPolicy: string;
  /** Per member, its fencing paths in level order. */
  fencing: {
    member: string;
    host: string;
    paths: {
      level: number;
      /** e.g. fence_pve, fence_ipmilan, watchdog (SBD self-fence). */
      agent: string;
      /** The Proxmox host this path needs alive, or null when it works with the member's own host gone. */
      needsHost: string | null;
    }[];
  }[];
}

/** On `haha:storage:ReplicatedStorage`: where the data lives and how it is protected. */
export interface StorageIntent {
  /** "8.4" (Debian's kernel: two replicas, no DRBD quorum) or "9" (LINBIT: DRBD quorum, diskless tiebreaker). */
  version: string;
  replicas: { member: string; host: string }[];
  /** DRBD's diskless tiebreakers (DRBD 9 only; under 8.4 the third member is no DRBD node). */
  diskless: { member: string; host: string }[];
  protocol: string;
  /** DRBD's own quorum: majority/all/off under 9; "none" under 8.4, which has no DRBD quorum. */
  quorum: string;
  /** "none" under 8.4. */
  onNoQuorum: string;
  fencing: string;
  allowTwoPrimaries: boolean;
}

/** On `haha:services:ServiceSet`: each service and how it is run. */
export interface ServicesIntent {
  services: {
    name: string;
    critical: boolean;
    image: string;
    /** "pacemaker": placed by the cluster on any member; "pinned": fixed to one host. */
    placement: "pacemaker" | "pinned";
    pinnedHost?: string;
    /** Members that have the image pre-pulled. */
    prePulledOn: string[];
  }[];
}
