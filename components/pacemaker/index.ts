// The pacemaker layer: corosync membership (config, authkey, SBD, services started in order) and
// the one CIB (rendered whole from the model, shipped to every member, pushed atomically).
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { HahaComponent } from "../component";
import { HostFile } from "../host/file";
import { HostStep } from "../host/step";
import type { LayerArgs } from "../layer";
import { buildCibModel } from "./cib/build";
import { BMC_PASSWORD_FILE, clusterIntent, PVE_PASSWORD_FILE } from "./cib/fencing";
import type { CibFragment } from "./cib/model";
import { renderCib } from "./cib/serialize";
import { COROSYNC_AUTHKEY_BYTES, COROSYNC_CONF_PATH, renderCorosync } from "./corosync";
import { renderSbdDefaults, SBD_DEFAULTS_PATH } from "./sbd";
import { AGENT_DEPS_PATH, COROSYNC_ORDER_PATH, renderAgentDeps, renderCorosyncOrder } from "./units";
import { CIB_PATH, CIB_PUSH_PATH, renderAuthkeyInstall, renderCibPushScript, renderClusterStart, renderCorosyncReload, renderSbdRestart } from "./scripts";

export { buildCibModel } from "./cib/build";
export { clusterIntent, fencingPlan } from "./cib/fencing";

const AUTHKEY_B64_PATH = "/etc/corosync/authkey.b64";
const sha256 = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

/** Corosync on every member: config, shared key, SBD, and the services started in order. */
export class ClusterMembership extends HahaComponent {
  /** One step per member, done when corosync and pacemaker run there. */
  readonly started: HostStep[];
  readonly corosyncConf: string;

  constructor(name: string, args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const sbd = c.cluster.fencing.enabled && c.cluster.fencing.watchdog.enabled;
    const corosyncConf = renderCorosync(c, args.members);
    super(
      "haha:pacemaker:Membership",
      name,
      {
        clusterName: c.cluster.name,
        members: args.members.map((m) => ({ name: m.name, nodeId: m.nodeId, host: m.host, votes: 1 })),
        transport: "knet",
        links: c.network.secondary ? 2 : 1,
        sbd,
      },
      opts,
    );
    this.corosyncConf = corosyncConf;
    // corosync's key is 256 random bytes; base64 carries them through text, the guest decodes them.
    const authkey = new random.RandomBytes(`${name}-authkey`, { length: COROSYNC_AUTHKEY_BYTES }, this.child());
    const sbdText = sbd ? renderSbdDefaults(c) : undefined;
    let previousSbd: pulumi.Resource | undefined;
    this.started = args.members.map((m, i) => {
      const connection = args.connections[i]!;
      const key = new HostFile(
        `${name}-${m.name}-authkey`,
        { connection, path: AUTHKEY_B64_PATH, content: authkey.base64, mode: "0400", secret: true, onChange: renderAuthkeyInstall(AUTHKEY_B64_PATH) },
        this.child(),
      );
      // `corosync -t` reads the keyfile the config names: it runs once the key is installed.
      const conf = new HostFile(
        `${name}-${m.name}-corosync-conf`,
        { connection, path: COROSYNC_CONF_PATH, content: corosyncConf, mode: "0644", onChange: renderCorosyncReload(c.cluster.name), applyAfter: [key.apply!] },
        this.child(),
      );
      // Docker answers before Pacemaker's first probes (units.ts); read by systemd at the next start.
      const deps = new HostFile(`${name}-${m.name}-agent-deps`, { connection, path: AGENT_DEPS_PATH, content: renderAgentDeps(), mode: "0644", onChange: "systemctl daemon-reload" }, this.child());
      // Corosync joins when Pacemaker can follow (units.ts); read by systemd at the next start.
      const order = new HostFile(`${name}-${m.name}-corosync-order`, { connection, path: COROSYNC_ORDER_PATH, content: renderCorosyncOrder(), mode: "0644", onChange: "systemctl daemon-reload" }, this.child());
      const files: pulumi.Resource[] = [conf, key, deps, order];
      if (sbdText) {
        // A changed file restarts sbd with the member's cluster stack, one member at a time.
        const sbdFile = new HostFile(
          `${name}-${m.name}-sbd`,
          { connection, path: SBD_DEFAULTS_PATH, content: sbdText, mode: "0644", onChange: renderSbdRestart(c.cluster.name, { drbd: m.diskful ? { resource: c.storage.drbd.resource, version: c.storage.drbd.version } : undefined }), applyAfter: previousSbd ? [previousSbd] : [] },
          this.child(),
        );
        previousSbd = sbdFile.apply;
        files.push(sbdFile);
      }
      return new HostStep(
        `${name}-${m.name}-start`,
        {
          connection,
          create: renderClusterStart({ clusterName: c.cluster.name, sbd }),
          // Re-run (enable, start) when what the services read at start changes; it never restarts a running member.
          triggers: [sha256(corosyncConf), sha256(sbdText ?? "no-sbd")],
        },
        this.child({ dependsOn: files }),
      );
    });
    this.registerOutputs({ clusterName: c.cluster.name, members: args.members.map((m) => m.name) });
  }
}

export interface ClusterCibArgs extends LayerArgs {
  /** The fence user's password (secret), for fence_pve through a root-only file. */
  fencePassword: pulumi.Input<string>;
  /** The BMC password (haha:bmcPassword, secret): required when any haha:nodes[*].bmc is declared. */
  bmcPassword?: pulumi.Input<string>;
  /** What the other layers contribute to the one CIB. */
  fragments: CibFragment[];
  /** Primitives whose files are written after the push: new ones enter the cluster stopped (renderCibPushScript). */
  awaitingFiles?: string[];
}

/** The one CIB: rendered from the model, shipped to /etc/haha/cib.xml on every member, pushed atomically. */
export class ClusterCib extends HahaComponent {
  readonly cibXml: string;
  readonly files: HostFile[];

  constructor(name: string, args: ClusterCibArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const withBmc = c.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.bmc !== undefined);
    if (c.cluster.fencing.enabled && withBmc.length > 0 && args.bmcPassword === undefined) {
      throw new Error(
        `haha:bmcPassword is required: ${withBmc.map(({ i }) => `haha:nodes[${i}].bmc`).join(", ")} declare(s) a BMC for fence_ipmilan. Set it with \`pulumi config set --secret haha:bmcPassword\``,
      );
    }
    // Rendered before anything is declared: an inconsistent model throws here, not half-way.
    const cibXml = renderCib(buildCibModel(c, args.fragments));
    const intent = clusterIntent(c, args.members);
    super("haha:pacemaker:Cib", name, { intent, cibSha256: sha256(cibXml), members: args.members.map((m) => m.name) }, opts);
    this.cibXml = cibXml;
    const fencing = c.cluster.fencing.enabled;
    this.files = args.members.map((m, i) => {
      const connection = args.connections[i]!;
      const deps: pulumi.Resource[] = [];
      if (fencing) {
        deps.push(new HostFile(`${name}-${m.name}-fence-pve-password`, { connection, path: PVE_PASSWORD_FILE, content: args.fencePassword, mode: "0600", secret: true }, this.child()));
        if (withBmc.length > 0 && args.bmcPassword !== undefined) {
          deps.push(new HostFile(`${name}-${m.name}-fence-bmc-password`, { connection, path: BMC_PASSWORD_FILE, content: args.bmcPassword, mode: "0600", secret: true }, this.child()));
        }
      }
      deps.push(
        new HostFile(
          `${name}-${m.name}-push-script`,
          { connection, path: CIB_PUSH_PATH, content: renderCibPushScript({ cibPath: CIB_PATH, nodeId: m.nodeId, members: args.members.map((x) => x.name), staggerS: 5, waitS: 120, awaitingFiles: args.awaitingFiles }), mode: "0755" },
          this.child(),
        ),
      );
      return new HostFile(`${name}-${m.name}-cib`, { connection, path: CIB_PATH, content: cibXml, mode: "0644", onChange: CIB_PUSH_PATH }, this.child({ dependsOn: deps }));
    });
    this.registerOutputs({ intent, cibSha256: sha256(cibXml) });
  }
}
