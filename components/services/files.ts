// Every file the services get on the shared mount, as a pure model: path, owner, mode, whether
// it holds a secret, and how its text is rendered from config and the generated values. The
// component ships exactly these; tests render the same list with known values and hand the
// files to the real tools.
import * as fs from "node:fs";
import * as path from "node:path";
import type { HahaConfig } from "../../stacks/config/schema";
import { BUILTIN_MQTT_CLIENTS } from "../../stacks/config/services";
import { probeDir, serviceCatalog, ServiceSpec, UIDS } from "./catalog";
import { renderBtProxy, renderEsphomeSecrets } from "./esphome";
import { haInputs, renderHaConfiguration, renderHaSecrets, renderHttpProbe } from "./homeassistant";
import { AclUser, renderClientOptions, renderMosquittoAcl, renderMosquittoConf, renderMosquittoPasswd } from "./mosquitto";
import { renderNodeRedSeedCredentials, renderNodeRedSeedFlows, renderNodeRedSettings } from "./nodered";
import { renderZ2mConfiguration, renderZ2mSecrets, zigbeeNetwork } from "./zigbee2mqtt";

/**
 * Values generated once per stack (by @pulumi/random) that files are rendered from. A service
 * absent from haha:services has no values generated for it: its fields are left out.
 */
export interface ServiceSecrets {
  /** MQTT client name to its password. */
  mqtt: Record<string, string>;
  recorderPassword?: string;
  /** Seed of the Zigbee network key. */
  zigbeeKeySeed?: string;
  z2mFrontendToken?: string;
  nodeRedCredentialSecret?: string;
  /** bcrypt hash of the Node-RED editor admin's password. */
  nodeRedAdminHash?: string;
  /** Bluetooth proxy name to its API key (base64 of 32 bytes) and OTA password. */
  esphome: Record<string, { apiKey: string; otaPassword: string }>;
  /** The ESPHome dashboard's login password (user ESPHOME_DASHBOARD_USER). */
  esphomeDashboardPassword?: string;
}

/** The ESPHome dashboard's login name. */
export const ESPHOME_DASHBOARD_USER = "admin";

/** docker's --env-file format: one KEY=value per line, taken literally (no quoting, no expansion). */
export function renderEnvFile(vars: Record<string, string>): string {
  return (
    Object.entries(vars)
      .map(([k, v]) => {
        if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`env file: "${k}" is not a variable name`);
        if (/[\r\n]/.test(v) || v !== v.trim()) throw new Error(`env file: the value of ${k} must be one line without surrounding spaces`);
        return `${k}=${v}`;
      })
      .join("\n") + "\n"
  );
}

/** Generated values that are not secret (broadcast by the Zigbee network anyway). */
export interface PublicSeeds {
  /** Seed of the Zigbee PAN id and extended PAN id (absent without Zigbee2MQTT). */
  zigbeePanSeed?: string;
}

export type Render = { kind: "static"; text: string } | { kind: "public"; render: (p: PublicSeeds) => string } | { kind: "secret"; render: (s: ServiceSecrets, p: PublicSeeds) => string };

export interface FileSpec {
  /** The service (primitive id) the file belongs to: its apply step restarts that service. */
  service: string;
  path: string;
  mode: string;
  uid: number;
  gid: number;
  /** Holds or derives from a secret: shipped with secret: true. */
  secret: boolean;
  content: Render;
  /** Why the file exists, for docs. */
  purpose: string;
  /** On every member's own disk (a probe's file: see PROBE_HOST_DIR), not once on the shared mount. */
  local: boolean;
}

const PROBES_DIR = path.join(__dirname, "probes");

/** The static probe scripts shipped with HAHA (read from components/services/probes). */
export function probeSource(name: "z2m-health.js" | "wyoming-probe.py"): string {
  return fs.readFileSync(path.join(PROBES_DIR, name), "utf8");
}

/**
 * Every MQTT user with the topics it may use, no more. Zigbee2MQTT (homeassistant: enabled)
 * publishes Home Assistant's discovery entries itself and reads them back to clear stale ones,
 * so it alone writes `homeassistant/#`; Home Assistant writes only its birth message there, and
 * nothing else can forge a discovered entity. Zigbee2MQTT's bridge API (permit_join, OTA updates,
 * removing devices, the network key backup) is for the hub and the probe's health check only.
 * Mosquitto checks `deny` before any grant, so a deny carves a subtree out of a wider grant.
 */
export function mqttAcl(c: HahaConfig): AclUser[] {
  const svc = c.services;
  // Rules that name another service's topics exist only while that service is declared.
  const base = svc.zigbee2mqtt?.baseTopic;
  const extras = svc.mosquitto.clients.filter((cl) => !(BUILTIN_MQTT_CLIENTS as readonly string[]).includes(cl));
  const talksTo = [...(svc.nodered ? ["Node-RED"] : []), "the extra clients"].join(" and ");
  const builtin: Record<(typeof BUILTIN_MQTT_CLIENTS)[number], AclUser> = {
    homeassistant: {
      user: "homeassistant",
      reason: `the hub: ${[...(base ? ["Zigbee devices and the bridge API"] : []), "reads discovery", "writes only its birth message under homeassistant/", `talks to ${talksTo}`].join(", ")}`,
      rules: [
        ...(base ? [{ access: "readwrite" as const, topic: `${base}/#` }] : []),
        { access: "read", topic: "homeassistant/#" },
        { access: "write", topic: "homeassistant/status" },
        ...(svc.nodered ? [{ access: "readwrite" as const, topic: "nodered/#" }] : []),
        ...extras.map((cl) => ({ access: "readwrite" as const, topic: `${cl}/#` })),
      ],
    },
    zigbee2mqtt: {
      user: "zigbee2mqtt",
      reason: svc.homeassistant ? "its own tree; Home Assistant discovery, which it publishes and reads back (homeassistant integration enabled)" : "its own tree (no Home Assistant declared: its discovery is off)",
      rules: [...(base ? [{ access: "readwrite" as const, topic: `${base}/#` }] : []), ...(svc.homeassistant ? [{ access: "readwrite" as const, topic: "homeassistant/#" }] : [])],
    },
    nodered: {
      user: "nodered",
      reason: base
        ? "flows: its own tree, Zigbee device states and commands; never the bridge API (permit_join, OTA, device removal) nor Home Assistant discovery"
        : "flows: its own tree",
      rules: [
        ...(base
          ? [
              { access: "deny" as const, topic: `${base}/bridge/request/#` },
              { access: "readwrite" as const, topic: `${base}/#` },
            ]
          : []),
        { access: "readwrite", topic: "nodered/#" },
      ],
    },
    monitor: {
      user: "monitor",
      reason: base ? "the cluster's probes: broker statistics and the Zigbee2MQTT bridge health check, nothing else" : "the cluster's probes: broker statistics, nothing else",
      rules: [
        { access: "read", topic: "$SYS/#" },
        ...(base
          ? [
              { access: "read" as const, topic: `${base}/bridge/state` },
              { access: "read" as const, topic: `${base}/bridge/response/health_check` },
              { access: "write" as const, topic: `${base}/bridge/request/health_check` },
            ]
          : []),
      ],
    },
  };
  // Config validation refuses a built-in client whose service is absent (crossCheckServices).
  return svc.mosquitto.clients.map((client) =>
    client in builtin
      ? builtin[client as keyof typeof builtin]
      : { user: client, reason: `an extra client: its own tree only${svc.homeassistant ? " (Home Assistant may talk to it there)" : ""}`, rules: [{ access: "readwrite", topic: `${client}/#` }] },
  );
}

type SpecOptions = { mode?: string; uid?: number; secret?: boolean; purpose: string; content: Render };

/** A probe's file: in the service's probe directory on every member's own disk (PROBE_HOST_DIR). */
function probeSpec(service: ServiceSpec, name: string, o: SpecOptions): FileSpec {
  return { ...spec(service, name, o), path: path.posix.join(probeDir(service.id), name), local: true };
}

function spec(service: ServiceSpec, rel: string, o: SpecOptions): FileSpec {
  return {
    service: service.id,
    path: path.posix.join(service.dataDir, rel),
    local: false,
    mode: o.mode ?? "0644",
    uid: o.uid ?? service.uid,
    gid: o.uid ?? service.gid,
    secret: o.secret ?? false,
    content: o.content,
    purpose: o.purpose,
  };
}

/** Every file of every service in the catalog, in a stable order. */
export function serviceFiles(c: HahaConfig): FileSpec[] {
  const cat = new Map(serviceCatalog(c).map((s) => [s.id, s]));
  const vip = c.network.vip;
  const s = c.services;
  const out: FileSpec[] = [];

  const mq = cat.get("mosquitto")!;
  out.push(
    spec(mq, "config/mosquitto.conf", {
      purpose: "broker configuration: no anonymous access, password file, ACL, persistence",
      content: {
        kind: "static",
        text: renderMosquittoConf({
          listeners: [{ port: s.mosquitto.port }],
          passwordFile: "/mosquitto/config/passwd",
          aclFile: "/mosquitto/config/acl",
          persistence: { location: "/mosquitto/data", autosaveIntervalS: s.mosquitto.autosaveIntervalS },
        }),
      },
    }),
    spec(mq, "config/passwd", {
      mode: "0600",
      secret: true,
      purpose: "one user per client, PBKDF2-SHA512 hashed as mosquitto_passwd writes it",
      content: { kind: "secret", render: (sec) => renderMosquittoPasswd(s.mosquitto.clients.map((u) => ({ user: u, password: need(sec.mqtt, u, "MQTT password") }))) },
    }),
    spec(mq, "config/acl", { mode: "0640", purpose: "the topics each user may read and write", content: { kind: "static", text: renderMosquittoAcl(mqttAcl(c)) } }),
    probeSpec(mq, "mosquitto_sub", {
      // The broker's user: docker exec runs the probe as the container's user.
      mode: "0600",
      secret: true,
      purpose: "the monitor's login, read by mosquitto_sub from $XDG_CONFIG_HOME",
      content: { kind: "secret", render: (sec) => renderClientOptions({ host: "127.0.0.1", port: s.mosquitto.port, user: "monitor", password: need(sec.mqtt, "monitor", "MQTT password") }) },
    }),
  );

  // Each service's files only while it is declared (its catalog entry exists).
  const rec = cat.get("recorder");
  if (rec) {
    out.push(
      probeSpec(rec, "password", {
        mode: "0600",
        secret: true,
        purpose: "the recorder database password (POSTGRES_PASSWORD_FILE; used when the database is first created)",
        content: { kind: "secret", render: (sec) => generated(sec.recorderPassword, "recorder database password") },
      }),
    );
  }

  const z = cat.get("zigbee2mqtt");
  const zc = s.zigbee2mqtt;
  const zb = c.peripherals.zigbee;
  if (z && zc) {
    // Validation guarantees the coordinator whenever Zigbee2MQTT is declared.
    if (!zb) throw new Error("haha:peripherals.zigbee: missing, but haha:services.zigbee2mqtt is declared");
    const zInputs = (p: PublicSeeds) => {
      const net = zigbeeNetwork(generated(p.zigbeePanSeed, "Zigbee PAN seed"));
      return {
        brokerHost: vip,
        brokerPort: s.mosquitto.port,
        baseTopic: zc.baseTopic,
        user: "zigbee2mqtt",
        coordinator: { host: zb.host, port: zb.port, adapter: zb.adapter },
        channel: zc.channel,
        frontendPort: zc.frontendPort,
        homeAssistant: s.homeassistant !== undefined,
        panId: net.panId,
        extPanId: net.extPanId,
      };
    };
    out.push(
      spec(z, "data/configuration.yaml", {
        purpose: "coordinator over TCP, MQTT at the VIP, fixed network identity, frontend",
        content: { kind: "public", render: (p) => renderZ2mConfiguration(zInputs(p)) },
      }),
      spec(z, "data/secret.yaml", {
        mode: "0600",
        secret: true,
        purpose: "MQTT password, network key and frontend token, referenced as !secret",
        content: {
          kind: "secret",
          render: (sec) => renderZ2mSecrets({ mqttPassword: need(sec.mqtt, "zigbee2mqtt", "MQTT password"), networkKey: zigbeeNetwork(generated(sec.zigbeeKeySeed, "Zigbee network key seed")).networkKey, frontendToken: generated(sec.z2mFrontendToken, "Zigbee2MQTT frontend token") }),
        },
      }),
      probeSpec(z, "z2m-health.js", { purpose: "the monitor probe (bridge state and health_check over MQTT)", content: { kind: "static", text: probeSource("z2m-health.js") } }),
      probeSpec(z, "probe.json", {
        mode: "0600",
        secret: true,
        purpose: "the probe's MQTT login (monitor user) and topics",
        content: {
          kind: "secret",
          render: (sec) =>
            JSON.stringify({ url: `mqtt://127.0.0.1:${s.mosquitto.port}`, username: "monitor", password: need(sec.mqtt, "monitor", "MQTT password"), baseTopic: zc.baseTopic, timeoutMs: 8000 }, null, 2) + "\n",
        },
      }),
    );
  }

  const ha = cat.get("homeassistant");
  const h = s.homeassistant;
  if (ha && h) {
    out.push(
      spec(ha, "config/configuration.yaml", {
        purpose: "location, units, HTTP, recorder on PostgreSQL, the UI editors' includes",
        content: {
          kind: "static",
          text: renderHaConfiguration(haInputs(c)),
        },
      }),
      spec(ha, "config/secrets.yaml", {
        mode: "0600",
        secret: true,
        purpose: "recorder database URL; Home Assistant's MQTT password for the manual MQTT step",
        content: { kind: "secret", render: (sec) => renderHaSecrets({ recorderPassword: generated(sec.recorderPassword, "recorder database password"), recorderPort: h.recorder.port, mqttPassword: need(sec.mqtt, "homeassistant", "MQTT password") }) },
      }),
      probeSpec(ha, "monitor.sh", {
        purpose: "the monitor probe: /api/ must answer 401 or 200",
        content: { kind: "static", text: renderHttpProbe({ url: `http://127.0.0.1:${h.port}/api/`, accept: [200, 401], timeoutS: 8 }) },
      }),
    );
  }

  const esp = cat.get("esphome");
  if (esp) {
    for (const p of c.peripherals.bluetoothProxies) {
      out.push(
        spec(esp, `config/${p.name}.yaml`, {
          purpose: `device configuration of Bluetooth proxy ${p.name}`,
          content: { kind: "static", text: renderBtProxy({ name: p.name, address: p.address, subnet: c.network.subnet, gateway: c.network.gateway, dns: c.network.dns }) },
        }),
      );
    }
    out.push(
      spec(esp, "config/secrets.yaml", {
        mode: "0600",
        secret: true,
        purpose: "API encryption keys and OTA passwords of the devices",
        content: {
          kind: "secret",
          render: (sec) => renderEsphomeSecrets(c.peripherals.bluetoothProxies.map((p) => ({ name: p.name, ...need(sec.esphome, p.name, "ESPHome device secrets") }))),
        },
      }),
    );

    out.push(
      probeSpec(esp, "dashboard.env", {
        mode: "0600",
        uid: UIDS.root,
        secret: true,
        purpose: "the dashboard's login (USERNAME, PASSWORD), read by docker run --env-file on the member: never in the CIB",
        content: { kind: "secret", render: (sec) => renderEnvFile({ USERNAME: ESPHOME_DASHBOARD_USER, PASSWORD: generated(sec.esphomeDashboardPassword, "ESPHome dashboard password") }) },
      }),
    );
  }

  const nr = cat.get("nodered");
  const n = s.nodered;
  if (nr && n) {
    const seed = { brokerHost: vip, brokerPort: s.mosquitto.port, user: "nodered" };
    out.push(
      spec(nr, "data/settings.js", {
        mode: "0600",
        secret: true,
        purpose: "credentialSecret, editor login, port",
        content: { kind: "secret", render: (sec) => renderNodeRedSettings({ port: n.port, credentialSecret: generated(sec.nodeRedCredentialSecret, "Node-RED credential secret"), adminPasswordHash: generated(sec.nodeRedAdminHash, "Node-RED admin password hash") }) },
      }),
      spec(nr, "seed/flows.json", { uid: UIDS.root, purpose: "first-start flows: the MQTT broker at the VIP (copied only while no flows exist)", content: { kind: "static", text: renderNodeRedSeedFlows(seed) } }),
      spec(nr, "seed/flows_cred.json", {
        mode: "0600",
        uid: UIDS.root,
        secret: true,
        purpose: "that broker's login, encrypted with the credentialSecret",
        content: { kind: "secret", render: (sec) => renderNodeRedSeedCredentials(generated(sec.nodeRedCredentialSecret, "Node-RED credential secret"), "nodered", need(sec.mqtt, "nodered", "MQTT password")) },
      }),
    );
  }

  for (const id of ["whisper", "piper"]) {
    const v = cat.get(id);
    if (v) out.push(probeSpec(v, "wyoming-probe.py", { purpose: "the monitor probe (Wyoming describe)", content: { kind: "static", text: probeSource("wyoming-probe.py") } }));
  }
  return out;
}

/** A generated value the file needs; absent only if its service was not declared (a program bug). */
function generated<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`no ${what} generated (its service is not declared)`);
  return v;
}

function need<T>(m: Record<string, T>, key: string, what: string): T {
  const v = m[key];
  if (v === undefined) throw new Error(`no ${what} generated for ${key}`);
  return v;
}

/** The text of one file given the generated values (what tests and the component both use). */
export function renderFile(f: FileSpec, secrets: ServiceSecrets, seeds: PublicSeeds): string {
  switch (f.content.kind) {
    case "static":
      return f.content.text;
    case "public":
      return f.content.render(seeds);
    case "secret":
      return f.content.render(secrets, seeds);
  }
}
