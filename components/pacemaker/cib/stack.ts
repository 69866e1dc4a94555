// The whole stack's CIB from config alone, as the stack composes it: the storage and services
// layers' fragments (pure functions of config) and the pacemaker layer's own. Tests and the
// failover simulation use it; the ClusterCib component renders the same from its args.
import type { HahaConfig } from "../../../stacks/config/schema";
import { servicesCibFragment } from "../../services/cib";
import { storageCibFragment } from "../../storage/cib";
import { buildCibModel } from "./build";
import type { CibFragment, CibModel } from "./model";
import { renderCib } from "./serialize";

/** The fragments the other layers contribute, in the order stacks/haha.ts passes them. */
export function stackFragments(c: HahaConfig): CibFragment[] {
  return [storageCibFragment(c), servicesCibFragment(c)];
}

export function stackCibModel(c: HahaConfig): CibModel {
  return buildCibModel(c, stackFragments(c));
}

export function renderStackCib(c: HahaConfig): string {
  return renderCib(stackCibModel(c));
}
