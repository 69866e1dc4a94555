// The NFS export registered as Proxmox storage, only where haha:storage.nfs.proxmoxStorage asks.
// Proxmox activates a storage when it is created and refuses one it cannot mount, so this is
// declared after the CIB push (the export is served only once Pacemaker runs it): it is its own
// component, constructed by the stack after ClusterCib, with the Proxmox provider.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import type { HahaConfig } from "../../stacks/config/schema";
import { clientMountOptions, joinOptions, proxmoxExportPath } from "./nfs";

export interface ProxmoxNfsStorageArgs {
  config: HahaConfig;
}

export class ProxmoxNfsStorage extends HahaComponent {
  readonly storage?: proxmox.storage.Nfs;

  constructor(name: string, args: ProxmoxNfsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const ps = c.storage.nfs.proxmoxStorage;
    const declared = ps
      ? { id: ps.id, server: c.network.storageVip, export: proxmoxExportPath(c), content: ps.content, nodes: c.nodes.map((n) => n.name), keepLast: ps.keepLast }
      : null;
    super("haha:storage:ProxmoxNfsStorage", name, { storage: declared }, opts);
    if (ps && declared) {
      this.storage = new proxmox.storage.Nfs(
        `${name}-nfs`,
        {
          resourceId: ps.id,
          // Through the storage VIP: Proxmox follows the export when it moves.
          server: c.network.storageVip,
          // A directory of its own inside the export, apart from the services' data.
          export: declared.export,
          contents: ps.content,
          nodes: declared.nodes,
          // The members' mount options: NFSv4.2, hard, the same timeouts for riding out a move.
          options: joinOptions(clientMountOptions(c)),
          backups: { keepLast: ps.keepLast },
        },
        this.child(),
      );
    }
    this.registerOutputs({ storage: declared });
  }
}
