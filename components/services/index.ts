// STUB (owned by the services issue): the containers, their configs and pre-pulled images.
import * as pulumi from "@pulumi/pulumi";
import type { CibFragment } from "../pacemaker/cib/model";
import type { LayerArgs } from "../layer";
import type { HahaConfig } from "../../stacks/config/schema";

export function servicesCibFragment(_c: HahaConfig): CibFragment {
  return { source: "services", resources: [], constraints: [] };
}

export class ServiceSet extends pulumi.ComponentResource {
  readonly cibFragment: CibFragment;
  constructor(name: string, args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haha:services:ServiceSet", name, {}, opts);
    this.cibFragment = servicesCibFragment(args.config);
    this.registerOutputs({});
  }
}

export class VoiceAssistant extends pulumi.ComponentResource {
  constructor(name: string, _args: LayerArgs & { privateKey: pulumi.Input<string> }, opts?: pulumi.ComponentResourceOptions) {
    super("haha:services:VoiceAssistant", name, {}, opts);
    this.registerOutputs({});
  }
}
