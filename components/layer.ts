// What every layer component above the Proxmox layer is given: the validated config, the
// members derived from it, and how to reach each member. All of it is known at preview.
import type { HahaConfig } from "../stacks/config/schema";
import type { Member } from "../stacks/config/members";
import type { GuestConnection } from "./host/connection";

export interface LayerArgs {
  config: HahaConfig;
  members: Member[];
  /** connections[i] reaches members[i]. */
  connections: GuestConnection[];
}
