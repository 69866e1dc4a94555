// STUB (owned by the storage issue): DRBD 9, OCFS2 and HA NFS.
import * as pulumi from "@pulumi/pulumi";
import type { CibFragment } from "../pacemaker/cib/model";
import type { LayerArgs } from "../layer";
import type { HahaConfig } from "../../stacks/config/schema";

export function storageCibFragment(_c: HahaConfig): CibFragment {
  return { source: "storage", resources: [], constraints: [] };
}

export class ReplicatedStorage extends pulumi.ComponentResource {
  readonly cibFragment: CibFragment;
  constructor(name: string, args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haha:storage:ReplicatedStorage", name, {}, opts);
    this.cibFragment = storageCibFragment(args.config);
    this.registerOutputs({});
  }
}
