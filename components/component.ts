// The base of every HAHA component. Pulumi does not pass a component's `dependsOn` on to the
// children it creates, so a step inside a component could run before what the component was
// ordered after (packages before the VM exists). `child()` gives children that ordering.
import * as pulumi from "@pulumi/pulumi";

type Deps = pulumi.Input<pulumi.Input<pulumi.Resource>[]> | pulumi.Input<pulumi.Resource> | undefined;

const toList = (d: Deps): pulumi.Input<pulumi.Resource>[] => {
  if (d === undefined) return [];
  // An Output of a list cannot be flattened at construction; keep it as one input.
  return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
};

export class HahaComponent extends pulumi.ComponentResource {
  /** What this component, and so each of its children, must come after. */
  private readonly orderedAfter: pulumi.Input<pulumi.Resource>[];

  constructor(type: string, name: string, args: pulumi.Inputs, opts?: pulumi.ComponentResourceOptions) {
    super(type, name, args, opts);
    const parent = opts?.parent instanceof HahaComponent ? opts.parent.orderedAfter : [];
    this.orderedAfter = [...parent, ...toList(opts?.dependsOn as Deps)];
  }

  /** Options for a child: parented here, ordered after this component's own dependencies. */
  protected child<T extends pulumi.CustomResourceOptions | pulumi.ComponentResourceOptions>(extra?: T): T {
    return { ...(extra ?? ({} as T)), parent: this, dependsOn: [...this.orderedAfter, ...toList(extra?.dependsOn as Deps)] };
  }
}
