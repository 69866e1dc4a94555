// The identity fence_pve logs in with: a Proxmox user whose role can only read and power-cycle
// the cluster guests, with a generated password. Least privilege: a leaked fence password can
// stop a guest, never reconfigure one.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import * as random from "@pulumi/random";
import { fixedId } from "./lifecycle";
import type { Member } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";

export interface FencingIdentityArgs {
  config: HahaConfig;
  members: Member[];
}

/** VM.PowerMgmt to power off/on, VM.Audit to read a guest's state: what fence_pve calls. */
export const FENCE_PRIVILEGES = ["VM.Audit", "VM.PowerMgmt"];

export class FencingIdentity extends HahaComponent {
  readonly userId: string;
  readonly password: pulumi.Output<string>;

  constructor(name: string, args: FencingIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    const userId = args.config.cluster.fencing.pveUser;
    super("haha:proxmox:FencingIdentity", name, { userId, privileges: FENCE_PRIVILEGES, vmids: args.members.map((m) => m.vmid), lifecycle: "fixed ids (role, user, ACL paths): a replacement deletes the old one first" }, opts);
    this.userId = userId;
    const pw = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, this.child());
    this.password = pw.result;
    // Fixed ids (role HahaFence, the user, one ACL per path): replaced delete-first.
    const role = new proxmox.RoleLegacy(`${name}-role`, { roleId: "HahaFence", privileges: FENCE_PRIVILEGES }, this.child(fixedId(args.config, "role HahaFence").opts));
    const user = new proxmox.UserLegacy(
      `${name}-user`,
      { userId, password: pw.result, enabled: true, comment: "HAHA fence_pve: power management of the cluster guests only" },
      this.child(fixedId(args.config, `user ${userId}`).opts),
    );
    // One ACL per guest, not on /vms as a whole: the fence user cannot touch other VMs.
    for (const m of args.members) {
      new proxmox.Acl(`${name}-acl-${m.vmid}`, { path: `/vms/${m.vmid}`, roleId: role.roleId, userId: user.userId, propagate: false }, this.child(fixedId(args.config, `ACL /vms/${m.vmid}`).opts));
    }
    this.registerOutputs({ userId });
  }
}
