// The services layer: the containers Pacemaker places (Mosquitto, Zigbee2MQTT, Home Assistant
// with its PostgreSQL recorder, ESPHome, Node-RED, the Wyoming voice servers), their generated
// secrets, their images pre-pulled on every member, their CIB fragment and their files.
//
// Two components, because of when things can happen:
// - ServiceSet, before the CIB: secrets, and every image pulled and tagged on every member, so
//   that the CIB never names an image a member lacks.
// - ServiceConfigs, after the CIB: the files go to the shared NFS mount, which exists only once
//   Pacemaker has started the storage the CIB describes. One member writes (the first in
//   haha:nodes); the mount is shared, so every member sees the same files, and each write is
//   atomic (temp file + rename) and idempotent. Each service is then restarted (or its failed
//   first start cleaned up) when its files changed.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { HahaComponent } from "../component";
import type { GuestConnection } from "../host/connection";
import { shq } from "../host/connection";
import { HostFile } from "../host/file";
import { HostStep } from "../host/step";
import { scaledTimeoutS } from "../pacemaker/cib/build";
import { AWAITING_FILES_META } from "../pacemaker/scripts";
import type { ServicesIntent } from "../intent";
import type { LayerArgs } from "../layer";
import type { CibFragment } from "../pacemaker/cib/model";
import { serviceCatalog, ServiceSpec } from "./catalog";
import { servicesCibFragment, startTimeoutS, stopTimeoutS } from "./cib";
import { ESPHOME_DASHBOARD_USER, FileSpec, PublicSeeds, renderFile, serviceFiles, ServiceSecrets } from "./files";
import { HA_UI_FILES } from "./homeassistant";
import { byDigest } from "./images";
import { dockerProvider } from "./docker";
import { servicesIntent } from "./intent";

export { servicesCibFragment } from "./cib";
export { serviceCatalog } from "./catalog";
export { serviceFiles, renderFile } from "./files";
export type { ServiceSecrets, PublicSeeds, FileSpec } from "./files";
export { servicesIntent } from "./intent";
export { VoiceAssistant } from "./voice";
export { dockerProvider, dockerSshOpts, knownHostsFile, renderKnownHosts } from "./docker";
export type { VoiceAssistantArgs } from "./voice";

/** What users need to log in to the services (exported by the stack as a secret output). */
export interface ServiceCredentials {
  /** Each login only while its service is declared in haha:services. */
  nodeRed?: { url: string; username: string; password: string };
  zigbee2mqtt?: { url: string; authToken: string };
  esphome?: { url: string; username: string; password: string };
  mqtt: { host: string; port: number; users: Record<string, string> };
}

export class ServiceSet extends HahaComponent {
  readonly cibFragment: CibFragment;
  readonly intent: ServicesIntent;
  /** Every generated value the files are rendered from (secret). */
  readonly secrets: pulumi.Output<ServiceSecrets>;
  readonly publicSeeds: pulumi.Output<PublicSeeds>;
  readonly credentials: pulumi.Output<ServiceCredentials>;
  readonly images: docker.RemoteImage[] = [];
  readonly aliases: docker.Tag[] = [];

  constructor(name: string, args: LayerArgs, opts?: pulumi.ComponentResourceOptions) {
    const intent = servicesIntent(args.config, args.members);
    super("haha:services:ServiceSet", name, { members: args.members.map((m) => m.name), intent }, opts);
    const c = args.config;
    this.intent = intent;
    this.cibFragment = servicesCibFragment(c);
    const catalog = serviceCatalog(c);

    // Generated once per stack and kept in its (encrypted) state. Letters and digits only: they
    // end up in URLs, YAML and option files without any escaping question.
    const password = (id: string, length = 32) => new random.RandomPassword(`${name}-${id}`, { length, special: false }, this.child());
    const clients = c.services.mosquitto.clients;
    const mqttPasswords = clients.map((cl) => password(`mqtt-${cl}`).result);
    const mqtt: pulumi.Output<Record<string, string>> = pulumi.all(mqttPasswords).apply((pws) => Object.fromEntries(clients.map((cl, i) => [cl, pws[i]!])));
    // A service absent from haha:services gets no generated value at all.
    const svc = c.services;
    const recorder = svc.homeassistant ? password("recorder-db") : undefined;
    // The Zigbee network key is derived from this seed: losing it means re-pairing every device.
    const zigbeeKey = svc.zigbee2mqtt ? new random.RandomBytes(`${name}-zigbee-network-key-seed`, { length: 32 }, this.child()) : undefined;
    const zigbeePan = svc.zigbee2mqtt ? new random.RandomId(`${name}-zigbee-pan-seed`, { byteLength: 8 }, this.child()) : undefined;
    const z2mToken = svc.zigbee2mqtt ? password("zigbee2mqtt-frontend-token") : undefined;
    const credentialSecret = svc.nodered ? password("nodered-credential-secret", 48) : undefined;
    const nodeRedAdmin = svc.nodered ? password("nodered-admin", 24) : undefined;
    const esphomeDashboard = svc.esphome ? password("esphome-dashboard", 24) : undefined;
    // Validation refuses Bluetooth proxies without ESPHome (crossCheckServices).
    const proxies = svc.esphome ? c.peripherals.bluetoothProxies.map((p) => p.name) : [];
    const apiKeys = proxies.map((p) => new random.RandomBytes(`${name}-${p}-api-key`, { length: 32 }, this.child()).base64);
    const otaPasswords = proxies.map((p) => password(`${p}-ota`).result);
    const esphome: pulumi.Output<ServiceSecrets["esphome"]> = pulumi
      .all([pulumi.all(apiKeys), pulumi.all(otaPasswords)])
      .apply(([keys, otas]) => Object.fromEntries(proxies.map((p, i) => [p, { apiKey: keys[i]!, otaPassword: otas[i]! }])));
    this.secrets = pulumi.secret(
      pulumi
        .all([mqtt, recorder?.result, zigbeeKey?.base64, z2mToken?.result, credentialSecret?.result, nodeRedAdmin?.bcryptHash, esphome, esphomeDashboard?.result])
        .apply(
          ([m, recorderPassword, zigbeeKeySeed, z2mFrontendToken, nodeRedCredentialSecret, nodeRedAdminHash, esp, esphomeDashboardPassword]): ServiceSecrets => ({
            mqtt: m,
            ...(recorderPassword === undefined ? {} : { recorderPassword }),
            ...(zigbeeKeySeed === undefined ? {} : { zigbeeKeySeed }),
            ...(z2mFrontendToken === undefined ? {} : { z2mFrontendToken }),
            ...(nodeRedCredentialSecret === undefined ? {} : { nodeRedCredentialSecret }),
            ...(nodeRedAdminHash === undefined ? {} : { nodeRedAdminHash }),
            esphome: esp,
            ...(esphomeDashboardPassword === undefined ? {} : { esphomeDashboardPassword }),
          }),
        ),
    );
    // The PAN ids are broadcast in every Zigbee beacon: not secret, so the Zigbee2MQTT
    // configuration stays readable in a preview diff.
    this.publicSeeds = zigbeePan ? pulumi.unsecret(zigbeePan.hex.apply((zigbeePanSeed): PublicSeeds => ({ zigbeePanSeed }))) : pulumi.output<PublicSeeds>({});
    const vip = c.network.vip;
    this.credentials = pulumi.secret(
      pulumi.all([nodeRedAdmin?.result, z2mToken?.result, mqtt, esphomeDashboard?.result]).apply(
        ([nodeRedPassword, token, users, esphomePassword]): ServiceCredentials => ({
          ...(svc.nodered && nodeRedPassword !== undefined ? { nodeRed: { url: `http://${vip}:${svc.nodered.port}`, username: "admin", password: nodeRedPassword } } : {}),
          ...(svc.zigbee2mqtt && token !== undefined ? { zigbee2mqtt: { url: `http://${vip}:${svc.zigbee2mqtt.frontendPort}`, authToken: token } } : {}),
          ...(svc.esphome && esphomePassword !== undefined ? { esphome: { url: `http://${vip}:${svc.esphome.port}`, username: ESPHOME_DASHBOARD_USER, password: esphomePassword } } : {}),
          mqtt: { host: vip, port: svc.mosquitto.port, users },
        }),
      ),
    );

    // Every Pacemaker-placed image on every member, then tagged as the alias the CIB names.
    args.members.forEach((m, i) => {
      const conn = args.connections[i]!;
      const provider = dockerProvider(`${name}-${m.name}-docker`, conn, this.child());
      for (const s of catalog) {
        const image = new docker.RemoteImage(
          `${name}-${m.name}-${s.id}`,
          // keepLocally: replacing a pin must not delete the image a running container uses, nor
          // the one the CIB still names until the new CIB is pushed.
          { name: s.image.pinned, keepLocally: true },
          this.child({ provider }),
        );
        this.images.push(image);
        this.aliases.push(
          new docker.Tag(`${name}-${m.name}-${s.id}-alias`, { sourceImage: byDigest(s.image), targetImage: s.alias, tagTriggers: [s.image.pinned] }, this.child({ provider, dependsOn: [image] })),
        );
      }
    });

    this.registerOutputs({ intent, cibFragment: this.cibFragment, credentials: this.credentials });
  }
}

export interface ServiceConfigsArgs extends LayerArgs {
  services: ServiceSet;
}

/** POSIX sh lines creating a service's directories with their owners. */
function dirScript(s: ServiceSpec): string[] {
  return s.dirs.map((d) => `install -d -o ${d.uid} -g ${d.gid} -m ${d.mode} ${shq(d.path)}`);
}

/** One service's stop and start at the CIB's (scaled) timeouts: what a restart of it may take. */
export function applyWaitS(s: ServiceSpec, opTimeoutScale = 1): number {
  return scaledTimeoutS(startTimeoutS(s), opTimeoutScale) + scaledTimeoutS(stopTimeoutS(s), opTimeoutScale);
}

/** Where the apply step keeps the digest of the files the running service was (re)started with. */
export function appliedStampPath(s: ServiceSpec): string {
  return `${s.dataDir}/.haha-applied`;
}

/**
 * A shell function `started <id> <seconds>`: waits until Pacemaker reports the resource started
 * (active, in a started role, not failed, no action pending on it) and fails naming it, with
 * crm_mon's view, when it is not by then. While a start is in flight, Pacemaker 2.1.5's crm_mon
 * XML has the resource active="true" with role="Starting" and no pending attribute (read off a
 * rehearsal-lab guest: the broker's apply had returned while its start still ran, and a client
 * 5 s later found nothing listening); the operation history (`crm_resource --list-operations`)
 * marks that start status="pending". Both are read, with Python's own XML parser (python3 is in
 * every Debian cloud image: cloud-init runs on it).
 */
const STARTED_PY = [
  "import subprocess, sys, xml.etree.ElementTree as E",
  "rid = sys.argv[1]",
  'xml = lambda *a: E.fromstring(subprocess.run(a, capture_output=True, text=True, check=True).stdout)',
  'mon = [x for x in xml("crm_mon", "-1", "--output-as=xml").iter("resource") if x.get("id") == rid]',
  'ops = list(xml("crm_resource", "--list-operations", "--resource", rid, "--output-as=xml").iter("operation"))',
  'up = lambda x: x.get("active") == "true" and x.get("role") in ("Started", "Promoted", "Unpromoted") and x.get("failed") == "false" and not x.get("pending")',
  'sys.exit(0 if mon and all(up(x) for x in mon) and not any(o.get("status") == "pending" for o in ops) else 1)',
].join("\n");

const STARTED_FN = [
  "started() {",
  '  deadline=$(( $(date +%s) + $2 ))',
  `  until python3 -c ${shq(STARTED_PY)} "$1" 2>/dev/null; do`,
  '    if [ "$(date +%s)" -ge "$deadline" ]; then echo "$1 is not started $2 s after its apply asked for it:" >&2; crm_mon -1 -r >&2 || true; exit 1; fi',
  "    sleep 2",
  "  done",
  "}",
];

/**
 * Start a service that waits stopped for its files (new to the cluster: the CIB push held it,
 * so Pacemaker never ran it without them), restart one whose files changed since it was last
 * (re)started here, or clear a failed start; then wait until this service runs, so a service
 * that depends on this one is only started once this one runs. It waits for its own service,
 * not for the whole cluster (`crm_resource --wait`): the rehearsal lab's run 6 failed its first
 * deploy when the fence devices' monitors errored and their recovery outlasted the wait, and the
 * namespace lab's independent applies ran out while other services started. The digest of the
 * files as they are on the shared mount, kept beside them, is what makes a second run of the same
 * step (a `pulumi up --refresh`, a replaced step, a lab's forced run) restart nothing.
 */
export function applyScript(s: ServiceSpec, files: string[], opTimeoutScale = 1): string {
  // The wait covers a stop and a start at the timeouts the CIB really has (scaled as buildCibModel
  // scales them), or the step gives up while Pacemaker still waits.
  const wait = applyWaitS(s, opTimeoutScale);
  const stamp = shq(appliedStampPath(s));
  return [
    "set -euo pipefail",
    ...STARTED_FN,
    files.length ? `now=$(sha256sum ${files.map(shq).join(" ")} | sha256sum | cut -d' ' -f1)` : "now=no-files",
    `applied=$(cat ${stamp} 2>/dev/null || true)`,
    // A service new to the cluster waits stopped for its files (the CIB push holds it): start it.
    `if [ -n "$(crm_resource --resource ${s.id} --meta --get-parameter ${AWAITING_FILES_META} --quiet 2>/dev/null || true)" ]; then`,
    `  crm_resource --resource ${s.id} --meta --delete-parameter ${AWAITING_FILES_META}`,
    `  crm_resource --resource ${s.id} --meta --delete-parameter target-role`,
    `  started ${s.id} ${wait}`,
    `elif crm_resource --resource ${s.id} --locate 2>/dev/null | grep -q 'is running on'; then`,
    // crm_resource --restart can return while the start it asked for still runs (the rehearsal
    // lab's MQTT client, 5 s after the broker's apply returned, found nothing listening on the
    // VIP): wait until the start has finished.
    `  if [ "$now" != "$applied" ]; then crm_resource --resource ${s.id} --restart --timeout=${wait}s; started ${s.id} ${wait}; fi`,
    "else",
    `  crm_resource --resource ${s.id} --cleanup`,
    `  started ${s.id} ${wait}`,
    "fi",
    `[ "$now" = "$applied" ] || { printf '%s\\n' "$now" > ${stamp}.new && mv ${stamp}.new ${stamp}; }`,
  ].join("\n");
}

export class ServiceConfigs extends HahaComponent {
  readonly files: HostFile[] = [];

  constructor(name: string, args: ServiceConfigsArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const writer = args.members[0];
    if (!writer) throw new Error("ServiceConfigs: no cluster member to write the service files");
    const specs = serviceFiles(c);
    super("haha:services:Configs", name, { writer: writer.name, files: specs.map((f) => ({ service: f.service, path: f.path, mode: f.mode, secret: f.secret })) }, opts);
    const conn = args.connections[0]!;
    const mount = c.storage.nfs.mountPoint;
    const { secrets, publicSeeds } = args.services;

    // The mount comes up once Pacemaker runs the CIB's storage; until then a write would land on
    // the member's own disk under the mount point and vanish behind the mount.
    // 600 s: DRBD, dlm, OCFS2, the NFS server and the mount start one after another on a fresh
    // cluster; as long again per opTimeoutScale, whose guests start everything that much slower.
    const mountWaitS = 600 * Math.ceil(c.cluster.defaults.opTimeoutScale);
    const awaitMount = new HostStep(
      `${name}-await-mount`,
      {
        connection: conn,
        create: ["set -euo pipefail", `for i in $(seq 1 ${mountWaitS / 5}); do mountpoint -q ${shq(mount)} && exit 0; sleep 5; done`, `echo ${shq(`${mount} is not mounted after ${mountWaitS} s: is the shared-mount clone running?`)} >&2`, "exit 1"].join("\n"),
        triggers: [mount],
      },
      this.child(),
    );

    const applied = new Map<string, HostStep>();
    const catalog = serviceCatalog(c);
    for (const s of catalog) {
      const lines = ["set -euo pipefail", ...dirScript(s)];
      // Home Assistant's UI editors own these: created empty once, never overwritten.
      if (s.id === "homeassistant") {
        for (const [file, text] of Object.entries(HA_UI_FILES)) lines.push(`[ -e ${shq(`${s.dataDir}/config/${file}`)} ] || printf '%s' ${shq(text)} > ${shq(`${s.dataDir}/config/${file}`)}`);
      }
      const dirs = new HostStep(`${name}-${s.id}-dirs`, { connection: conn, create: lines.join("\n"), triggers: [lines.join("\n")] }, this.child({ dependsOn: [awaitMount] }));

      const mine = specs.filter((f) => f.service === s.id);
      // A probe's files on every member's own disk (catalog.ts: PROBE_HOST_DIR), the rest once on the shared mount.
      const files = mine.flatMap((f) =>
        f.local ? args.members.map((m, i) => this.file(`${name}-${m.name}`, args.connections[i]!, f, secrets, publicSeeds)) : [this.file(name, conn, f, secrets, publicSeeds, dirs)],
      );
      this.files.push(...files);
      const after: pulumi.Resource[] = [...files];
      if (s.id === "nodered") after.push(this.seedNodeRed(name, conn, s, files));
      // A service is (re)started only after what it needs (the catalog lists dependencies first).
      for (const dep of s.after) after.push(applied.get(dep)!);
      applied.set(s.id, new HostStep(`${name}-${s.id}-apply`, { connection: conn, create: applyScript(s, mine.map((f) => f.path), c.cluster.defaults.opTimeoutScale), triggers: files.map((f) => f.contentHash) }, this.child({ dependsOn: after })));
    }
    this.registerOutputs({ writer: writer.name });
  }

  private file(name: string, conn: GuestConnection, f: FileSpec, secrets: pulumi.Output<ServiceSecrets>, seeds: pulumi.Output<PublicSeeds>, dirs?: HostStep): HostFile {
    const slug = f.path.slice(1).replace(/[^A-Za-z0-9]+/g, "-");
    let content: pulumi.Input<string>;
    switch (f.content.kind) {
      case "static":
        content = f.content.text;
        break;
      case "public":
        content = seeds.apply((p) => renderFile(f, {} as ServiceSecrets, p));
        break;
      case "secret":
        content = pulumi.secret(pulumi.all([secrets, seeds]).apply(([sec, p]) => renderFile(f, sec, p)));
        break;
    }
    return new HostFile(`${name}-${slug}`, { connection: conn, path: f.path, content, mode: f.mode, owner: String(f.uid), group: String(f.gid), secret: f.secret }, this.child({ dependsOn: dirs ? [dirs] : [] }));
  }

  /** Node-RED's flows belong to its editor: the seed is copied in only while no flows exist. */
  private seedNodeRed(name: string, conn: GuestConnection, s: ServiceSpec, files: HostFile[]): HostStep {
    const data = `${s.dataDir}/data`;
    const seed = `${s.dataDir}/seed`;
    const script = [
      "set -euo pipefail",
      `if [ ! -s ${shq(`${data}/flows.json`)} ] || [ "$(tr -d ' \\n' < ${shq(`${data}/flows.json`)})" = "[]" ]; then`,
      `  install -o ${s.uid} -g ${s.gid} -m 0644 ${shq(`${seed}/flows.json`)} ${shq(`${data}/flows.json`)}`,
      `  install -o ${s.uid} -g ${s.gid} -m 0600 ${shq(`${seed}/flows_cred.json`)} ${shq(`${data}/flows_cred.json`)}`,
      "fi",
    ].join("\n");
    return new HostStep(`${name}-${s.id}-seed`, { connection: conn, create: script, triggers: files.map((f) => f.contentHash) }, this.child({ dependsOn: files }));
  }
}
