// Lifecycle of the Proxmox objects HAHA declares. Most have a fixed id (VMID, mapping name, user,
// role, ACL path, storage id, node:interface): Pulumi's default create-before-delete would create
// the replacement under the same id and fail on it, so each is replaced delete-first. What holds the
// home (guests with their DRBD disks, PCI mappings, the backup storage, managed host networking) is
// also protected: `pulumi destroy` or a planned replacement stops with "protected" instead of
// removing it. haha:proxmox.protect: false lifts that, for tearing down a lab.
import type * as pulumi from "@pulumi/pulumi";
import type { HahaConfig } from "../../stacks/config/schema";

export interface Lifecycle {
  /** Shown in the component's args, so the preview says why a replacement deletes first or is refused. */
  why: string;
  opts: Pick<pulumi.CustomResourceOptions, "protect" | "deleteBeforeReplace">;
}

/** A resource known to Proxmox by `id`: replaced delete-first; protected too when it holds data. */
export function fixedId(c: HahaConfig, id: string, holds?: string): Lifecycle {
  const protect = holds !== undefined && c.proxmox.protect;
  const why = [
    `fixed id ${id}: a replacement deletes the old one first`,
    holds === undefined ? undefined : protect ? `protected, it holds ${holds} (haha:proxmox.protect: false to remove it)` : `holds ${holds}; unprotected by haha:proxmox.protect: false`,
  ]
    .filter(Boolean)
    .join("; ");
  return { why, opts: { deleteBeforeReplace: true, ...(protect ? { protect: true } : {}) } };
}
