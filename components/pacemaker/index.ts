// STUB (owned by the Pacemaker issue): corosync membership and the one CIB.
import * as pulumi from "@pulumi/pulumi";
import type { CibFragment } from "./cib/model";
import type { LayerArgs } from "../layer";

export class ClusterMembership extends pulumi.ComponentResource {
  constructor(name: string, _args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haha:pacemaker:Membership", name, {}, opts);
    this.registerOutputs({});
  }
}

export interface ClusterCibArgs extends LayerArgs {
  /** The fence user's password (secret), for fence_pve through a root-only file. */
  fencePassword: pulumi.Input<string>;
  /** What the other layers contribute to the one CIB. */
  fragments: CibFragment[];
}

export class ClusterCib extends pulumi.ComponentResource {
  constructor(name: string, _args: ClusterCibArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haha:pacemaker:Cib", name, {}, opts);
    this.registerOutputs({});
  }
}
