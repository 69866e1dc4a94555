// The service set as one typed model, derived from config alone: which containers exist, their
// pinned images and local aliases, data directories on the shared mount, how each is probed,
// its timeouts and what it must start after. The CIB fragment, the pre-pulled images and the
// intent are all read from this, so they cannot disagree.
import * as path from "node:path";
import type { HahaConfig } from "../../stacks/config/schema";
import { ImageRef, localAlias, parseImageRef } from "./images";

export interface Volume {
  host: string;
  container: string;
  readOnly?: boolean;
}

export interface Probe {
  /** Runs inside the container (docker exec), word-split by the agent: no quoting, no spaces in a word. */
  command: string[];
  /** What it proves, for the CIB comment and the docs. */
  proves: string;
  intervalS: number;
  timeoutS: number;
}

export interface ServiceSpec {
  /** Primitive id, container name and data directory name. */
  id: string;
  /** Human name. */
  title: string;
  /** Config key the service comes from, for messages. */
  configKey: string;
  image: ImageRef;
  /** What the docker agent starts: a local alias of the pinned digest (see images.ts). */
  alias: string;
  critical: boolean;
  criticalReason: string;
  expectedStartS: number;
  expectedStartReason: string;
  /** Seconds docker waits for a clean shutdown before SIGKILL. */
  stopGraceS: number;
  stopGraceReason: string;
  /** `<mount>/<id>` on the shared NFS mount. */
  dataDir: string;
  /** Directories under dataDir (or elsewhere) the container needs, created with this owner. */
  dirs: { path: string; uid: number; gid: number; mode: string }[];
  /** The uid:gid the application runs as inside the container (owner of its files). */
  uid: number;
  gid: number;
  volumes: Volume[];
  env: Record<string, string>;
  /** Arguments after the image (replacing the image's CMD). */
  command?: string[];
  probe: Probe;
  /** Services this one must start after on the same member (Optional order: see cib.ts). */
  after: string[];
  /** Reaches other services through the services VIP (the placement rules start every service after it). */
  usesVip: boolean;
  /** TCP ports it listens on (host networking). */
  ports: number[];
  /** How the container is confined (docker run options; see hardeningOptions). */
  hardening: Hardening;
  /** A file on the member that docker reads environment variables from (secrets stay out of the CIB). */
  envFile?: string;
}

/** A value with the reason it is set. */
export interface Reasoned<T> {
  value: T;
  reason: string;
}

/**
 * Every container starts with --cap-drop=ALL and gets back only the capabilities listed here;
 * none may gain privileges (no-new-privileges); each has a memory limit so one runaway service
 * cannot take the member (and every other service on it) down with the kernel's OOM killer.
 */
export interface Hardening {
  /** `--user uid:gid`, or null to keep the image's user (with the reason). */
  user: Reasoned<{ uid: number; gid: number } | null>;
  capAdd: { cap: Capability; reason: string }[];
  memoryMiB: Reasoned<number>;
}

/** Capabilities a service may get back after --cap-drop=ALL (docker's names, without CAP_). */
export const CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL", "NET_RAW", "NET_BIND_SERVICE"] as const;
export type Capability = (typeof CAPABILITIES)[number];

const asUser = (uid: number, reason: string): Hardening["user"] => ({ value: { uid, gid: uid }, reason });
const imageUser = (reason: string): Hardening["user"] => ({ value: null, reason });
const NO_CAPS: Hardening["capAdd"] = [];

/**
 * Where the HAHA probe and secret files of a service live: on every member's own disk, mounted
 * read-only at /haha. Not on the shared mount: a monitor that read its probe's files from NFS
 * hung while the export moved, timed out, and restarted (then failed to stop) a service that was
 * answering all along (seen in the rehearsal lab). The same file is on every member, since
 * Pacemaker may start the service on any of them.
 */
export const PROBE_HOST_DIR = "/var/lib/haha/probe";
export const PROBE_MOUNT = "/haha";

/** A service's probe directory on each member. */
export function probeDir(id: string): string {
  return path.posix.join(PROBE_HOST_DIR, id);
}

/** Container uids of the images, as their Dockerfiles create them. */
export const UIDS = { root: 0, mosquitto: 1883, postgres: 999, nodered: 1000 } as const;

/** Service ids in start order of the config (stable, also the order of the CIB). */
export const CORE_SERVICE_IDS = ["mosquitto", "recorder", "zigbee2mqtt", "homeassistant", "esphome", "nodered"] as const;
export const VOICE_SERVICE_IDS = ["whisper", "piper"] as const;

function probeVolume(id: string): Volume {
  return { host: probeDir(id), container: PROBE_MOUNT, readOnly: true };
}

function dir(p: string, uid: number, mode = "0750"): { path: string; uid: number; gid: number; mode: string } {
  return { path: p, uid, gid: uid, mode };
}

/** Every Pacemaker-placed container of the stack, in a stable order; a service absent from haha:services has none. */
export function serviceCatalog(c: HahaConfig): ServiceSpec[] {
  const mount = c.storage.nfs.mountPoint.replace(/\/+$/, "");
  const dataDir = (id: string) => path.posix.join(mount, id);
  const s = c.services;
  // The household's time zone is Home Assistant's; a home without it runs its containers in UTC.
  const tz: Record<string, string> = s.homeassistant ? { TZ: s.homeassistant.timeZone } : {};
  const image = (id: string, pinned: string, key: string) => {
    const ref = parseImageRef(pinned, `haha:${key}.image`);
    return { image: ref, alias: localAlias(id, ref) };
  };
  const started = (n: number, key: string) => `haha:${key}.expectedStartS: ${n} s from docker run until the probe passes`;
  const out: ServiceSpec[] = [];

  {
    const d = dataDir("mosquitto");
    out.push({
      id: "mosquitto",
      title: "Mosquitto MQTT broker",
      configKey: "services.mosquitto",
      ...image("mosquitto", s.mosquitto.image, "services.mosquitto"),
      critical: true,
      criticalReason: "every Zigbee device and automation talks through it",
      expectedStartS: s.mosquitto.expectedStartS,
      expectedStartReason: started(s.mosquitto.expectedStartS, "services.mosquitto"),
      stopGraceS: 10,
      stopGraceReason: "the broker writes its persistence file on SIGTERM within a second or two",
      dataDir: d,
      uid: UIDS.mosquitto,
      gid: UIDS.mosquitto,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/config`, UIDS.mosquitto), dir(`${d}/data`, UIDS.mosquitto)],
      volumes: [
        { host: `${d}/config`, container: "/mosquitto/config" },
        { host: `${d}/data`, container: "/mosquitto/data" },
        probeVolume("mosquitto"),
      ],
      env: {},
      command: ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"],
      probe: {
        // mosquitto_sub is in the image; it logs in as the monitor user from /haha/mosquitto_sub
        // and must receive the broker's uptime: authentication, ACL and delivery all work.
        command: ["env", `XDG_CONFIG_HOME=${PROBE_MOUNT}`, "mosquitto_sub", "-C", "1", "-W", "8", "-t", "$SYS/broker/uptime"],
        proves: "an authenticated subscribe as the monitor user receives $SYS/broker/uptime",
        intervalS: 10,
        timeoutS: 20,
      },
      after: [],
      usesVip: false,
      ports: [s.mosquitto.port],
      hardening: {
        user: asUser(UIDS.mosquitto, "its files are owned by the image's mosquitto user: the broker never runs as root, and the entrypoint's chown is skipped"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 256, reason: "a home broker holds a few thousand retained messages: tens of MiB" },
      },
    });
  }

  if (s.homeassistant) {
    const d = dataDir("recorder");
    const r = s.homeassistant.recorder;
    out.push({
      id: "recorder",
      title: "PostgreSQL recorder database of Home Assistant",
      configKey: "services.homeassistant.recorder",
      ...image("recorder", r.image, "services.homeassistant.recorder"),
      critical: true,
      criticalReason: "Home Assistant's history and statistics; its recorder fails to set up without it",
      expectedStartS: r.expectedStartS,
      expectedStartReason: started(r.expectedStartS, "services.homeassistant.recorder"),
      stopGraceS: 30,
      stopGraceReason: "the image stops with SIGINT (fast shutdown): abort sessions, write a checkpoint, so the next start needs no crash recovery",
      dataDir: d,
      uid: UIDS.postgres,
      gid: UIDS.postgres,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/data`, UIDS.postgres, "0700")],
      volumes: [{ host: `${d}/data`, container: "/var/lib/postgresql/data" }, probeVolume("recorder")],
      env: {
        ...tz,
        // initdb writes `trust` for local and loopback connections unless told otherwise, and with
        // host networking every container on the member is "local": require the password on both.
        POSTGRES_INITDB_ARGS: "--auth=scram-sha-256",
        POSTGRES_USER: "homeassistant",
        POSTGRES_DB: "homeassistant",
        POSTGRES_PASSWORD_FILE: `${PROBE_MOUNT}/password`,
        // A subdirectory: initdb refuses a mount point that is not empty.
        PGDATA: "/var/lib/postgresql/data/pgdata",
      },
      // Loopback only: Home Assistant, its only client, always runs beside it.
      command: ["postgres", "-c", "listen_addresses=127.0.0.1", "-c", `port=${r.port}`],
      probe: {
        command: ["pg_isready", "-h", "127.0.0.1", "-p", String(r.port), "-U", "homeassistant", "-d", "homeassistant", "-t", "8"],
        proves: "the server accepts connections to the homeassistant database",
        intervalS: 10,
        timeoutS: 20,
      },
      after: [],
      usesVip: false,
      ports: [r.port],
      hardening: {
        user: asUser(UIDS.postgres, "its data is owned by the image's postgres user; the entrypoint initialises and runs the server as that user without gosu"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 1024, reason: "shared_buffers defaults to 128 MiB; 1 GiB leaves room for Home Assistant's statistics queries and autovacuum" },
      },
    });
  }

  if (s.zigbee2mqtt) {
    const d = dataDir("zigbee2mqtt");
    const z = s.zigbee2mqtt;
    out.push({
      id: "zigbee2mqtt",
      title: "Zigbee2MQTT",
      configKey: "services.zigbee2mqtt",
      ...image("zigbee2mqtt", z.image, "services.zigbee2mqtt"),
      critical: true,
      criticalReason: "the only path to the Zigbee network",
      expectedStartS: z.expectedStartS,
      expectedStartReason: started(z.expectedStartS, "services.zigbee2mqtt"),
      stopGraceS: 20,
      stopGraceReason: "closes the coordinator's TCP session and writes database.db and the coordinator backup",
      dataDir: d,
      uid: UIDS.root,
      gid: UIDS.root,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/data`, UIDS.root)],
      volumes: [{ host: `${d}/data`, container: "/app/data" }, probeVolume("zigbee2mqtt")],
      env: { ...tz },
      probe: {
        // node and the mqtt package are in the image; the probe asks the bridge itself.
        command: ["node", `${PROBE_MOUNT}/z2m-health.js`, `${PROBE_MOUNT}/probe.json`],
        proves: "bridge/state is online and bridge/request/health_check answers healthy over MQTT",
        intervalS: 10,
        timeoutS: 30,
      },
      after: ["mosquitto"],
      usesVip: true,
      ports: [z.frontendPort],
      hardening: {
        user: imageUser("the image runs as root and its data directory is root's; root without capabilities reads and writes only what root owns"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 512, reason: "Node.js with a few hundred devices stays near 200 MiB" },
      },
    });
  }

  if (s.homeassistant) {
    const d = dataDir("homeassistant");
    const h = s.homeassistant;
    out.push({
      id: "homeassistant",
      title: "Home Assistant",
      configKey: "services.homeassistant",
      ...image("homeassistant", h.image, "services.homeassistant"),
      critical: true,
      criticalReason: "the household's automations and user interface",
      expectedStartS: h.expectedStartS,
      expectedStartReason: started(h.expectedStartS, "services.homeassistant"),
      stopGraceS: 60,
      stopGraceReason: "Home Assistant's staged shutdown flushes the recorder queue and .storage; a SIGKILL mid-write loses them",
      dataDir: d,
      uid: UIDS.root,
      gid: UIDS.root,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/config`, UIDS.root)],
      volumes: [{ host: `${d}/config`, container: "/config" }, probeVolume("homeassistant")],
      env: { ...tz },
      probe: {
        // curl is in the image (Home Assistant's alpine base); the script accepts 200 or 401 from
        // /api/: the API and its auth middleware answered, so the core event loop is alive.
        command: ["/bin/sh", `${PROBE_MOUNT}/monitor.sh`],
        proves: `GET http://127.0.0.1:${h.port}/api/ answers 401 or 200 within 8 s`,
        intervalS: 10,
        timeoutS: 30,
      },
      after: ["recorder"],
      usesVip: true,
      ports: [h.port],
      hardening: {
        user: imageUser("the image's s6-overlay init must start as root"),
        capAdd: [
          { cap: "CHOWN", reason: "s6-overlay fixes the ownership of its run directories at start" },
          { cap: "DAC_OVERRIDE", reason: "s6-overlay and integrations installing their requirements write directories they do not own" },
          { cap: "FOWNER", reason: "s6-overlay sets modes on files it does not own" },
          { cap: "SETUID", reason: "s6-overlay runs its supervision tree's helpers under other users" },
          { cap: "SETGID", reason: "with SETUID, for the supervision tree's helpers" },
          { cap: "KILL", reason: "s6 signals its supervised processes at shutdown" },
          { cap: "NET_RAW", reason: "the dhcp integration (default_config) watches DHCP on a raw socket to discover new devices" },
        ],
        memoryMiB: { value: 2048, reason: "Home Assistant with a few hundred entities and the recorder queue stays under 1 GiB; headroom for integrations" },
      },
    });
  }

  if (s.esphome) {
    const d = dataDir("esphome");
    const e = s.esphome;
    out.push({
      id: "esphome",
      title: "ESPHome dashboard",
      configKey: "services.esphome",
      ...image("esphome", e.image, "services.esphome"),
      critical: false,
      criticalReason: "builds and updates device firmware; Home Assistant talks to the devices without it",
      expectedStartS: e.expectedStartS,
      expectedStartReason: started(e.expectedStartS, "services.esphome"),
      stopGraceS: 10,
      stopGraceReason: "a web dashboard with no state to flush",
      dataDir: d,
      uid: UIDS.root,
      gid: UIDS.root,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/config`, UIDS.root)],
      // Build caches are large and rebuildable: on the member's own disk, not on NFS.
      volumes: [{ host: `${d}/config`, container: "/config" }, { host: "/var/lib/haha/esphome-cache", container: "/cache" }],
      env: { ...tz },
      // Only on the services VIP, where the household reaches it, never on a member's own or the
      // storage network's address; the login comes from the env file (USERNAME, PASSWORD).
      command: ["dashboard", "--address", c.network.vip, "--port", String(e.port), "/config"],
      envFile: `${probeDir("esphome")}/dashboard.env`,
      probe: {
        // The image's own HEALTHCHECK uses this endpoint with curl. With the login on, the
        // dashboard may answer it with a redirect to ./login: still the application answering.
        command: ["curl", "--fail", "--silent", "--show-error", "--max-time", "8", "--output", "/dev/null", `http://${c.network.vip}:${e.port}/version`],
        proves: "the dashboard answers /version on the services VIP",
        intervalS: 30,
        timeoutS: 20,
      },
      after: [],
      // Bound to the VIP: it starts after the address (see the placement rules).
      usesVip: true,
      ports: [e.port],
      hardening: {
        user: imageUser("the image runs as root and its config and build cache are root's; no capability is needed to compile and upload over the network"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 1536, reason: "an ESP-IDF firmware build peaks near 1 GiB; the dashboard alone needs 100 MiB" },
      },
    });
  }

  if (s.nodered) {
    const d = dataDir("nodered");
    const n = s.nodered;
    out.push({
      id: "nodered",
      title: "Node-RED",
      configKey: "services.nodered",
      ...image("nodered", n.image, "services.nodered"),
      critical: true,
      criticalReason: "runs automations the household relies on",
      expectedStartS: n.expectedStartS,
      expectedStartReason: started(n.expectedStartS, "services.nodered"),
      stopGraceS: 15,
      stopGraceReason: "flows close their connections and context is saved",
      dataDir: d,
      uid: UIDS.nodered,
      gid: UIDS.nodered,
      dirs: [dir(d, UIDS.root, "0755"), dir(`${d}/data`, UIDS.nodered)],
      volumes: [{ host: `${d}/data`, container: "/data" }],
      env: { ...tz },
      probe: {
        // The request the image's /healthcheck.js makes (settings.js sets neither uiHost nor
        // https), by the curl the image ships: the healthcheck starts a whole Node.js runtime
        // (about 40 MiB and a CPU-second on a small guest) at every 10 s monitor.
        command: ["curl", "-fsS", "-o", "/dev/null", "--max-time", "8", `http://127.0.0.1:${n.port}/`],
        proves: "the Node-RED editor answers HTTP 200 on its uiPort",
        intervalS: 10,
        timeoutS: 20,
      },
      after: [],
      usesVip: true,
      ports: [n.port],
      hardening: {
        user: asUser(UIDS.nodered, "the image's node-red user, written out so no flow ever runs as root"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 512, reason: "Node-RED with a few hundred nodes stays near 150 MiB" },
      },
    });
  }

  const v = c.voice;
  if (v?.enabled) {
    const crit = v.critical;
    const critReason = crit ? "declared critical in haha:voice.critical" : "voice is optional: local intents answer without it (haha:voice.critical false)";
    const wd = dataDir("whisper");
    out.push({
      id: "whisper",
      title: "Wyoming faster-whisper (speech to text)",
      configKey: "voice.whisper",
      ...image("whisper", v.whisper.image, "voice.whisper"),
      critical: crit,
      criticalReason: critReason,
      expectedStartS: v.whisper.expectedStartS,
      expectedStartReason: started(v.whisper.expectedStartS, "voice.whisper"),
      stopGraceS: 10,
      stopGraceReason: "stateless server",
      dataDir: wd,
      uid: UIDS.root,
      gid: UIDS.root,
      dirs: [dir(wd, UIDS.root, "0755"), dir(`${wd}/data`, UIDS.root)],
      volumes: [{ host: `${wd}/data`, container: "/data" }, probeVolume("whisper")],
      env: { ...tz },
      command: ["--model", v.whisper.model, "--language", v.whisper.language, "--uri", `tcp://0.0.0.0:${v.whisper.port}`],
      probe: {
        command: ["python3", `${PROBE_MOUNT}/wyoming-probe.py`, "127.0.0.1", String(v.whisper.port), "asr"],
        proves: "a Wyoming describe is answered with info listing an installed speech-to-text program",
        intervalS: 30,
        timeoutS: 20,
      },
      after: [],
      usesVip: false,
      ports: [v.whisper.port],
      hardening: {
        user: imageUser("the image runs as root and its model directory is root's"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 1536, reason: "faster-whisper's small int8 model needs about 1 GiB while transcribing" },
      },
    });
    const pd = dataDir("piper");
    out.push({
      id: "piper",
      title: "Wyoming Piper (text to speech)",
      configKey: "voice.piper",
      ...image("piper", v.piper.image, "voice.piper"),
      critical: crit,
      criticalReason: critReason,
      expectedStartS: v.piper.expectedStartS,
      expectedStartReason: started(v.piper.expectedStartS, "voice.piper"),
      stopGraceS: 10,
      stopGraceReason: "stateless server",
      dataDir: pd,
      uid: UIDS.root,
      gid: UIDS.root,
      dirs: [dir(pd, UIDS.root, "0755"), dir(`${pd}/data`, UIDS.root)],
      volumes: [{ host: `${pd}/data`, container: "/data" }, probeVolume("piper")],
      env: { ...tz },
      command: ["--voice", v.piper.voice, "--uri", `tcp://0.0.0.0:${v.piper.port}`],
      probe: {
        command: ["python3", `${PROBE_MOUNT}/wyoming-probe.py`, "127.0.0.1", String(v.piper.port), "tts"],
        proves: "a Wyoming describe is answered with info listing an installed text-to-speech program",
        intervalS: 30,
        timeoutS: 20,
      },
      after: [],
      usesVip: false,
      ports: [v.piper.port],
      hardening: {
        user: imageUser("the image runs as root and its voice directory is root's"),
        capAdd: NO_CAPS,
        memoryMiB: { value: 512, reason: "one medium Piper voice needs about 100 MiB" },
      },
    });
  }
  // Dependencies come first: the config steps (re)start services in this order.
  out.forEach((s, i) => {
    for (const dep of s.after) if (!out.slice(0, i).some((x) => x.id === dep)) throw new Error(`service catalog: ${s.id} needs ${dep}, which must be listed before it`);
  });
  return out;
}

/** The docker run options of a service, as the agent's run_opts word list. */
export function runOptions(s: ServiceSpec): string[] {
  const opts = [
    // Discovery (mDNS, SSDP) and the VIP both need the member's own network stack.
    "--network=host",
    // Pacemaker, not docker, restarts containers.
    "--restart=no",
    // Containers are removed on stop (reuse=false): their logs go to the member's journal.
    "--log-driver=journald",
    `--log-opt=tag=haha-${s.id}`,
  ];
  opts.push(...hardeningOptions(s.hardening));
  for (const [k, val] of Object.entries(s.env)) opts.push(`--env=${k}=${val}`);
  if (s.envFile) opts.push(`--env-file=${s.envFile}`);
  for (const vol of s.volumes) opts.push(`--volume=${vol.host}:${vol.container}${vol.readOnly ? ":ro" : ""}`);
  return opts;
}

/** The confinement of a container as docker run options. */
export function hardeningOptions(h: Hardening): string[] {
  const opts = ["--cap-drop=ALL", ...h.capAdd.map((c) => `--cap-add=${c.cap}`), "--security-opt=no-new-privileges", `--memory=${h.memoryMiB.value}m`];
  if (h.user.value) opts.push(`--user=${h.user.value.uid}:${h.user.value.gid}`);
  return opts;
}

/** The agent word-splits run_opts, run_cmd and monitor_cmd: every word must be plain. */
export function checkWords(where: string, words: string[]): void {
  for (const w of words) {
    if (w.length === 0 || /[\s'"\\*?[\]`;&|<>()]/.test(w)) throw new Error(`${where}: "${w}" would be split or expanded by the docker agent (no spaces, quotes or glob characters)`);
  }
}
