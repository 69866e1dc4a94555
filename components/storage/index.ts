// The storage layer: DRBD replicated across the two diskful members (8.4, Debian's kernel; the
// third member is a Pacemaker vote only), or DRBD 9 with the third member as diskless quorum
// tiebreaker; OCFS2 on top (dual-primary, dlm), exported over NFS behind the storage VIP and
// mounted on every member. Renderers are pure (drbd.ts, nfs.ts, cib.ts,
// init.ts); this component only ships what they produce, with guarded, re-runnable steps.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { HahaComponent } from "../component";
import { shq } from "../host/connection";
import { HostFile } from "../host/file";
import { HostStep } from "../host/step";
import type { StorageIntent } from "../intent";
import type { LayerArgs } from "../layer";
import type { CibFragment } from "../pacemaker/cib/model";
import type { HahaConfig } from "../../stacks/config/schema";
import { STORAGE_IDS, storageCibFragment } from "./cib";
import { DRBD_SECRET_MAX, drbdDevice, drbdModel, drbdModelProblems, drbdResPath, renderDrbdResource, resourceHosts } from "./drbd";
import { adjustCommand, drbdUpScript, initialSyncScript, mkfsScript } from "./init";
import { DIRS_UNIT_PATH, NFSDCLD_DROPIN_PATH, NFSD_CONF_PATH, renderDirsUnit, renderNfsdConf, renderNfsdcldDropIn } from "./nfs";

export { storageCibFragment, STORAGE_IDS } from "./cib";
export { ProxmoxNfsStorage, type ProxmoxNfsStorageArgs } from "./proxmox";

/** Length of the generated DRBD shared secret: 32 alphanumerics (about 190 bits), within drbd.conf's limit. */
export const DRBD_SECRET_SIZE = Math.min(32, DRBD_SECRET_MAX);

/** What the storage layer intends, from config alone (known at preview; the policy pack reads it). */
export function storageIntent(c: HahaConfig): StorageIntent {
  const nodes = c.nodes.map((n) => ({ member: n.guest.name, host: n.name, diskful: n.drbdDisk !== undefined }));
  const d = c.storage.drbd;
  const v9 = d.version === "9";
  return {
    version: d.version,
    replicas: nodes.filter((n) => n.diskful).map(({ member, host }) => ({ member, host })),
    // Under 8.4 the members without a disk are Pacemaker votes only, not DRBD nodes.
    diskless: v9 ? nodes.filter((n) => !n.diskful).map(({ member, host }) => ({ member, host })) : [],
    protocol: d.protocol,
    quorum: v9 ? (d.quorum ?? "majority") : "none",
    onNoQuorum: v9 ? (d.onNoQuorum ?? "io-error") : "none",
    fencing: d.fencing,
    allowTwoPrimaries: d.allowTwoPrimaries,
  };
}

/**
 * Why the storage layer refuses to render this config's DRBD resource (empty: it renders).
 * A config can be well-formed and still be refused here (protocol A, dual-primary without
 * stonith fencing): the policy pack refuses the same config at preview from the intent, and
 * this layer never ships a file it refuses.
 */
export function storageRefusals(c: HahaConfig): string[] {
  // The secret is not a config choice; a stand-in of the real length is checked instead.
  return drbdModelProblems(drbdModel(c, "x".repeat(DRBD_SECRET_SIZE)));
}

export class ReplicatedStorage extends HahaComponent {
  readonly cibFragment: CibFragment;
  readonly intent: StorageIntent;
  /** Non-empty when the config is refused: nothing is shipped to the members but a failing step. */
  readonly refused: string[];

  constructor(name: string, args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const intent = storageIntent(c);
    const refused = storageRefusals(c);
    const d = c.storage.drbd;
    super("haha:storage:ReplicatedStorage", name, { intent, refused, drbdVersion: d.version, resource: d.resource, device: drbdDevice(d.minor), exportPath: c.storage.nfs.exportPath }, opts);
    this.intent = intent;
    this.refused = refused;
    this.cibFragment = storageCibFragment(c);
    if (args.members.length !== args.connections.length) throw new Error(`${name}: ${args.members.length} members but ${args.connections.length} connections`);

    if (refused.length > 0) {
      // Nothing half-applied: no DRBD file, no metadata, no filesystem. The policy pack refuses
      // this config at preview; should anyone apply it without the pack, this step fails the
      // update before the CIB and the services (which come after storage) are touched.
      const message = `HAHA storage refuses haha:storage.drbd:\n${refused.map((r) => `  - ${r}`).join("\n")}`;
      new HostStep(`${name}-refused`, { connection: args.connections[0]!, create: `set -euo pipefail\nprintf '%s\\n' ${shq(message)} >&2\nexit 1`, triggers: [message] }, this.child());
      this.registerOutputs({ intent, refused });
      return;
    }

    // Peer authentication of the DRBD mesh; alphanumeric, so drbd.conf needs no escaping.
    const secret = new random.RandomPassword(`${name}-drbd-secret`, { length: DRBD_SECRET_SIZE, special: false }, this.child());
    const resText = secret.result.apply((s) => renderDrbdResource(drbdModel(c, s)));
    const model = drbdModel(c, "");
    const nfsdConf = renderNfsdConf(c);
    const dirsUnit = renderDirsUnit(c);

    const upSteps: HostStep[] = [];
    const drbdHosts = new Set(resourceHosts(model).map((h) => h.name));
    // drbdadm adjust one member at a time, in node order: each waits for its peer to be back.
    let previousAdjust: pulumi.Resource | undefined;
    args.members.forEach((m, i) => {
      const connection = args.connections[i]!;
      const host = model.hosts[i]!;
      // DRBD 8.4: the member without a disk is no host of the resource, so it gets no file.
      if (drbdHosts.has(m.name)) {
        const res = new HostFile(
          `${name}-${m.name}-drbd-res`,
          {
            connection,
            path: drbdResPath(d.resource),
            content: resText,
            mode: "0600",
            secret: true,
            onChange: adjustCommand(model),
            applyAfter: previousAdjust ? [previousAdjust] : [],
          },
          this.child(),
        );
        previousAdjust = res.apply;
        upSteps.push(
          new HostStep(
            `${name}-${m.name}-drbd-up`,
            { connection, create: drbdUpScript(model, host), triggers: [d.version, d.resource, d.minor, host.disk ?? "none"] },
            this.child({ dependsOn: [res] }),
          ),
        );
      }
      // On every member, though it only ever starts on a diskful one: Pacemaker probes the unit
      // everywhere, and a unit that exists answers "not running" instead of "not installed".
      new HostFile(`${name}-${m.name}-nfs-dirs-unit`, { connection, path: DIRS_UNIT_PATH, content: dirsUnit, mode: "0644", onChange: "systemctl daemon-reload" }, this.child());
      if (m.diskful) {
        // Read by rpc.nfsd at its next start: changing lease or grace never restarts a serving nfsd.
        new HostFile(`${name}-${m.name}-nfsd-conf`, { connection, path: NFSD_CONF_PATH, content: nfsdConf, mode: "0644" }, this.child());
        // Before Pacemaker ever stops the NFS server here (the CIB push comes after the storage layer).
        new HostFile(`${name}-${m.name}-nfsdcld-dropin`, { connection, path: NFSDCLD_DROPIN_PATH, content: renderNfsdcldDropIn(), mode: "0644", onChange: "systemctl daemon-reload" }, this.child());
      }
    });

    // One member decides the initial sync and makes the filesystem: the first diskful one.
    const first = args.members.findIndex((m) => m.diskful);
    const connection = args.connections[first]!;
    const sync = new HostStep(
      `${name}-initial-sync`,
      { connection, create: initialSyncScript(model), triggers: [d.resource, model.hosts.filter((h) => h.diskful).map((h) => h.name).join(",")] },
      this.child({ dependsOn: upSteps }),
    );
    const { ocfs2 } = c.storage;
    new HostStep(
      `${name}-mkfs`,
      {
        connection,
        create: mkfsScript(model, { clusterName: c.cluster.name, label: ocfs2.label, slots: ocfs2.slots, drbdCloneId: STORAGE_IDS.drbdClone(d.resource) }),
        triggers: [d.resource, d.minor, c.cluster.name, ocfs2.label, ocfs2.slots],
      },
      this.child({ dependsOn: [sync] }),
    );

    this.registerOutputs({ intent, refused, resource: d.resource, device: drbdDevice(d.minor) });
  }
}
