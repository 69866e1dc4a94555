// The NFS export registered as Proxmox storage, only where haha:storage.nfs.proxmoxStorage asks.
// Proxmox activates a storage when it is created and refuses one it cannot mount, and the export
// is served only once Pacemaker runs it: so a member first proves the export answers behind the
// storage VIP, then the storage is declared. The hosts then mount an export served by their own
// guests: when the cluster is down that mount cannot answer, and a hard mount would hang the
// hosts' pvestatd. It is mounted soft, and the policy pack warns about the cycle.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection, shq } from "../host/connection";
import { HostStep } from "../host/step";
import { fixedId } from "../proxmox/lifecycle";
import type { HahaConfig } from "../../stacks/config/schema";
import { clientMountOptions, joinOptions, MountOption, proxmoxExportPath } from "./nfs";

/** How long the probe waits for Pacemaker to serve the export after the CIB push, and why. */
export const EXPORT_PROBE = {
  attempts: 36,
  delayS: 5,
  reason: "36 x 5 s = 3 min: Pacemaker starts DRBD, OCFS2 and the NFS group after the push; longer means it is not coming",
} as const;

/** The hosts' mount options: the members' ones, but soft (see the header) and without retrying forever. */
export function proxmoxMountOptions(c: HahaConfig): MountOption[] {
  return clientMountOptions(c).map((o) =>
    o.name === "hard"
      ? { name: "soft", reason: "the hosts mount an export their own guests serve: when the cluster is down, I/O fails after timeo x retrans instead of hanging pvestatd and the host's storage status" }
      : o,
  );
}

/**
 * From a member: mount the Proxmox directory of the export through the storage VIP, read-only and
 * soft, until it answers. Success proves the VIP is up, nfsd serves the export and the directory
 * exists; after the budget the step fails, naming what did not answer.
 */
export function renderExportProbe(server: string, exportPath: string, attempts: number = EXPORT_PROBE.attempts, delayS: number = EXPORT_PROBE.delayS): string {
  const target = shq(`${server}:${exportPath}`);
  return [
    "set -euo pipefail",
    'dir=$(mktemp -d /run/haha-nfs-probe.XXXXXX)',
    'trap \'umount "$dir" 2>/dev/null || true; rmdir "$dir"\' EXIT',
    `i=0`,
    `while [ "$i" -lt ${attempts} ]; do`,
    `  i=$((i + 1))`,
    `  if timeout 20 mount -t nfs4 -o vers=4.2,proto=tcp,soft,ro,timeo=30,retrans=1 ${target} "$dir"; then`,
    `    umount "$dir"`,
    `    echo "export ${server}:${exportPath} answers (attempt $i)"`,
    `    exit 0`,
    `  fi`,
    `  sleep ${delayS}`,
    `done`,
    `echo "export ${server}:${exportPath} did not answer after ${attempts} attempts ${delayS} s apart: is the NFS group running in Pacemaker (crm_mon -1)?" >&2`,
    `exit 1`,
  ].join("\n");
}

export interface ProxmoxNfsStorageArgs {
  config: HahaConfig;
  /** A cluster member that probes the export before the hosts mount it. */
  probeFrom: GuestConnection;
}

export class ProxmoxNfsStorage extends HahaComponent {
  readonly probe?: HostStep;
  readonly storage?: proxmox.storage.Nfs;

  constructor(name: string, args: ProxmoxNfsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const ps = c.storage.nfs.proxmoxStorage;
    const options = ps ? joinOptions(proxmoxMountOptions(c)) : undefined;
    const declared = ps
      ? { id: ps.id, server: c.network.storageVip, export: proxmoxExportPath(c), content: ps.content, nodes: c.nodes.map((n) => n.name), keepLast: ps.keepLast, options, servedByCluster: true }
      : null;
    const lifecycle = ps ? fixedId(c, `storage ${ps.id}`, "the guests' backups") : undefined;
    super("haha:storage:ProxmoxNfsStorage", name, { storage: declared, lifecycle: lifecycle?.why }, opts);
    if (ps && declared && lifecycle) {
      this.probe = new HostStep(
        `${name}-export-probe`,
        { connection: args.probeFrom, create: renderExportProbe(declared.server, declared.export), triggers: [declared.server, declared.export] },
        this.child(),
      );
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
          options,
          backups: { keepLast: ps.keepLast },
        },
        this.child({ ...lifecycle.opts, dependsOn: [this.probe] }),
      );
    }
    this.registerOutputs({ storage: declared });
  }
}
