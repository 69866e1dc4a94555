// haha:services, haha:peripherals, haha:voice: what the household uses. Every service is a
// container Pacemaker places; its image is pinned by digest and its expected start time is
// declared, so start timeouts and the failover budget follow from it.
import type { ConfigProblem } from "./validate";
import type { HahaConfig } from "./schema";
import { pciDeviceSchema } from "./infrastructure";
import { hostname, imageRef, ipv4, mappingId, port, seconds, z } from "./primitives";
import { ipInSubnet } from "./net";

/**
 * An image reference that carries its digest. A tag alone can move under a failover; the digest
 * is what every member pre-pulls and what the local alias the cluster starts is made from.
 */
export const pinnedImage = imageRef.refine((v) => /@sha256:[a-f0-9]{64}$/.test(v), {
  message: "expected an image reference pinned by digest: repo[:tag]@sha256:<64 hex> (a tag alone can move under a failover)",
});

/** Fields every Pacemaker-managed container shares. */
const serviceBase = {
  image: pinnedImage,
  /** How long the application needs from `docker run` to answering its monitor, measured. */
  expectedStartS: seconds(1, 900),
};

/**
 * MQTT users the services themselves log in as, each with the service it belongs to (null: the
 * cluster's own probes, always there). A service absent from haha:services has no user.
 */
export const BUILTIN_MQTT_CLIENTS = ["homeassistant", "zigbee2mqtt", "nodered", "monitor"] as const;
export type BuiltinMqttClient = (typeof BUILTIN_MQTT_CLIENTS)[number];
export const MQTT_CLIENT_SERVICE: Record<BuiltinMqttClient, "homeassistant" | "zigbee2mqtt" | "nodered" | null> = {
  homeassistant: "homeassistant",
  zigbee2mqtt: "zigbee2mqtt",
  nodered: "nodered",
  monitor: null,
};

export const mosquittoSchema = z
  .object(
    {
      ...serviceBase,
      port: port.default(1883),
      /**
       * One MQTT user per client, each with a generated password and its own ACL. The built-in
       * clients of the declared services (and `monitor`, the probes') must stay listed; extra
       * clients get read/write on `<client>/#` only. Absent: the built-in clients of the declared
       * services (see crossCheckServices and servicesSchema's default).
       */
      clients: z.array(hostname).optional(),
      /**
       * Seconds between persistence saves. Mosquitto's default (1800 s) would lose half an hour of
       * retained state when a member dies; 10 s costs one small write to NFS.
       */
      autosaveIntervalS: seconds(1, 3600).default(10),
    },
    {
      // The one required service: say why when it is missing.
      error: (iss) => (iss.input === undefined ? "expected the Mosquitto broker: every other service and the cluster's probes talk to one another through it" : undefined),
    },
  )
  .strict();

export const zigbee2mqttSchema = z
  .object({
    ...serviceBase,
    frontendPort: port.default(8080),
    /** Zigbee channel; 15, 20 and 25 avoid the busiest Wi-Fi channels. */
    channel: z.number().int().min(11).max(26).default(25),
    baseTopic: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, { message: "expected an MQTT topic prefix such as zigbee2mqtt (letters, digits, '_', '-', '/')" }).default("zigbee2mqtt"),
  })
  .strict();

/** A time zone the platform knows (IANA name such as Europe/Amsterdam). */
const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return /^[A-Za-z]/.test(tz);
    } catch {
      return false;
    }
  },
  { message: "expected an IANA time zone such as Europe/Amsterdam" },
);

export const homeassistantSchema = z
  .object({
    ...serviceBase,
    port: port.default(8123),
    timeZone: timeZone.default("Europe/Amsterdam"),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    elevation: z.number().int().default(0),
    unitSystem: z.enum(["metric", "us_customary"]).default("metric"),
    /**
     * Whether the owner account exists. Until it does, the first client to open the UI becomes the
     * owner, so Home Assistant listens on loopback only: onboard through an SSH tunnel to the
     * member that runs it, then set this to true (see docs/security.md).
     */
    onboarded: z.boolean().default(false),
    /** Failed logins from one address before it is banned (http.login_attempts_threshold; off by default in Home Assistant). */
    loginAttemptsThreshold: z.number().int().min(1).max(100).default(5),
    /** Recorder database: PostgreSQL, because SQLite on NFS corrupts. */
    recorder: z
      .object({
        image: pinnedImage,
        expectedStartS: seconds(1, 900),
        port: port.default(5432),
        purgeKeepDays: z.number().int().min(1).max(3650).default(30),
      })
      .strict(),
  })
  .strict();

export const esphomeSchema = z.object({ ...serviceBase, port: port.default(6052) }).strict();
export const noderedSchema = z.object({ ...serviceBase, port: port.default(1880) }).strict();

/**
 * The services the home runs: a key present is a service deployed, a key absent is nothing at all
 * (no container, image, secret, MQTT user, file or CIB resource). Mosquitto alone is required:
 * every other service, and the cluster's own probes, talk to one another through it.
 */
export const servicesSchema = z
  .object({
    mosquitto: mosquittoSchema,
    zigbee2mqtt: zigbee2mqttSchema.optional(),
    /** With its PostgreSQL recorder: the recorder comes and goes with Home Assistant. */
    homeassistant: homeassistantSchema.optional(),
    esphome: esphomeSchema.optional(),
    nodered: noderedSchema.optional(),
  })
  .strict()
  // The default MQTT users follow the declared services, in the built-in order.
  .transform((s) => ({ ...s, mosquitto: { ...s.mosquitto, clients: s.mosquitto.clients ?? builtinMqttClients(s) } }));

/** The built-in MQTT clients the declared services need, in a stable order. */
export function builtinMqttClients(s: { [K in "homeassistant" | "zigbee2mqtt" | "nodered"]?: unknown }): BuiltinMqttClient[] {
  return BUILTIN_MQTT_CLIENTS.filter((cl) => {
    const svc = MQTT_CLIENT_SERVICE[cl];
    return svc === null || s[svc] !== undefined;
  });
}

export const peripheralsSchema = z
  .object({
    /** Required exactly when haha:services.zigbee2mqtt is declared (see crossCheckServices). */
    zigbee: z
      .object({
        /** The network coordinator (e.g. TubesZB CC2652P7) reached over TCP: no USB stick on any host. */
        model: z.string().min(1).default("TubesZB CC2652P7"),
        host: ipv4,
        port: port.default(6638),
        adapter: z.enum(["zstack", "ember", "ezsp", "deconz", "zigate", "zboss"]),
      })
      .strict()
      .optional(),
    /** ESPHome devices: they need haha:services.esphome (their configs and firmware live there). */
    bluetoothProxies: z
      .array(
        z
          .object({
            name: hostname,
            board: z.enum(["olimex-esp32-poe-iso"]).default("olimex-esp32-poe-iso"),
            /** Static address on the cluster subnet: the proxy must come up without DHCP during an outage. */
            address: ipv4,
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export const voiceSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Voice is not on the critical path: local intents keep working without the LLM. */
    critical: z.boolean().default(false),
    ollama: z
      .object({
        image: pinnedImage,
        model: z.string().regex(/^[a-z0-9][a-z0-9._-]*(\/[a-z0-9][a-z0-9._-]*)?(:[A-Za-z0-9._-]+)?$/, { message: "expected an Ollama model name such as qwen2.5:7b" }),
        port: port.default(11434),
        /** The GPU guest, pinned to the host that holds the GPU. */
        guest: z
          .object({
            vmid: z.number().int().min(100).max(999999999),
            name: hostname,
            node: hostname,
            address: ipv4,
            cores: z.number().int().min(1).max(128).default(8),
            memoryMiB: z.number().int().min(2048).max(1048576).default(16384),
            diskGiB: z.number().int().min(16).max(4096).default(64),
            gpuMapping: mappingId,
            gpuPci: pciDeviceSchema.optional(),
          })
          .strict(),
      })
      .strict(),
    whisper: z
      .object({
        image: pinnedImage,
        expectedStartS: seconds(1, 900),
        model: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, { message: "expected a faster-whisper model name such as base-int8" }).default("base-int8"),
        language: z.string().regex(/^[a-z]{2,3}$|^auto$/, { message: "expected a language code such as en, or auto" }).default("en"),
        port: port.default(10300),
      })
      .strict(),
    piper: z
      .object({
        image: pinnedImage,
        expectedStartS: seconds(1, 900),
        voice: z.string().regex(/^[a-z]{2,3}_[A-Z]{2}-[A-Za-z0-9_]+-(x_low|low|medium|high)$/, { message: "expected a Piper voice such as en_US-lessac-medium" }).default("en_US-lessac-medium"),
        port: port.default(10200),
      })
      .strict(),
  })
  .strict();

export type ServicesConfig = z.infer<typeof servicesSchema>;
export type PeripheralsConfig = z.infer<typeof peripheralsSchema>;
export type VoiceConfig = z.infer<typeof voiceSchema>;

/**
 * Ports the cluster itself holds on every member (host networking shares them with the
 * services): SSH, rpcbind, NFS, pcsd, corosync, Pacemaker remote.
 */
export const RESERVED_PORTS: Record<number, string> = {
  22: "SSH",
  111: "rpcbind",
  2049: "NFS",
  2224: "pcsd",
  3121: "Pacemaker remote",
  5403: "corosync-qnetd",
  5404: "corosync",
  5405: "corosync",
  5406: "corosync",
};

/**
 * Cross-field checks of haha:services, haha:peripherals and haha:voice: host-network port
 * collisions, addresses the devices need, paths the container agent takes unquoted. Called from
 * crossCheck in validate.ts.
 */
export function crossCheckServices(c: HahaConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = (path: (string | number)[]) =>
    "haha" + path.map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? `:${seg}` : `.${seg}`)).join("");
  const add = (path: (string | number)[], value: unknown, expected: string) => problems.push({ path: at(path), value, expected });

  // Every Pacemaker-placed container runs with host networking on the same member: one port each.
  const s = c.services;
  const ports: [(string | number)[], number][] = [[["services", "mosquitto", "port"], s.mosquitto.port]];
  if (s.zigbee2mqtt) ports.push([["services", "zigbee2mqtt", "frontendPort"], s.zigbee2mqtt.frontendPort]);
  if (s.homeassistant) ports.push([["services", "homeassistant", "port"], s.homeassistant.port], [["services", "homeassistant", "recorder", "port"], s.homeassistant.recorder.port]);
  if (s.esphome) ports.push([["services", "esphome", "port"], s.esphome.port]);
  if (s.nodered) ports.push([["services", "nodered", "port"], s.nodered.port]);
  if (c.voice?.enabled) {
    ports.push([["voice", "whisper", "port"], c.voice.whisper.port], [["voice", "piper", "port"], c.voice.piper.port]);
  }
  const taken = new Map<number, string>(Object.entries(RESERVED_PORTS).map(([p, what]) => [Number(p), `${what} on every member`]));
  taken.set(c.storage.drbd.port, "haha:storage.drbd.port");
  for (const [path, p] of ports) {
    const prior = taken.get(p);
    if (prior) add(path, p, `expected a port no other service or cluster daemon uses on the members (host networking); already used by ${prior}`);
    else taken.set(p, at(path));
  }

  // What talks to what: a peripheral needs the service that drives it, and nothing is declared
  // for a service that is absent.
  if (s.zigbee2mqtt && !c.peripherals.zigbee) {
    add(["peripherals", "zigbee"], undefined, "expected the Zigbee coordinator ({ host, port, adapter }), because haha:services.zigbee2mqtt is declared and drives it");
  } else if (!s.zigbee2mqtt && c.peripherals.zigbee) {
    add(["peripherals", "zigbee"], c.peripherals.zigbee, "expected no Zigbee coordinator unless haha:services.zigbee2mqtt is declared (nothing else talks to it): declare Zigbee2MQTT, or remove haha:peripherals.zigbee");
  }
  if (!s.esphome && c.peripherals.bluetoothProxies.length > 0) {
    add(["peripherals", "bluetoothProxies"], c.peripherals.bluetoothProxies.map((p) => p.name), "expected no Bluetooth proxy unless haha:services.esphome is declared: their device configs, API keys and firmware live in the ESPHome dashboard");
  }
  if (c.voice?.enabled && !s.homeassistant) {
    add(["voice", "enabled"], true, "expected haha:services.homeassistant, because the voice servers (Wyoming, Ollama) serve Home Assistant's Assist pipeline: declare Home Assistant, or set haha:voice.enabled to false");
  }
  const needed = builtinMqttClients(s);
  const missing = needed.filter((b) => !s.mosquitto.clients.includes(b));
  if (missing.length > 0) {
    add(["services", "mosquitto", "clients"], s.mosquitto.clients, `expected the built-in clients ${needed.join(", ")} to stay listed (the declared services and the probes log in as them; missing: ${missing.join(", ")}); add extra clients after them`);
  }
  s.mosquitto.clients.forEach((cl, i) => {
    const svc = (BUILTIN_MQTT_CLIENTS as readonly string[]).includes(cl) ? MQTT_CLIENT_SERVICE[cl as BuiltinMqttClient] : null;
    if (svc && !s[svc]) add(["services", "mosquitto", "clients", i], cl, `expected no client ${cl}: it is the login of haha:services.${svc}, which is not declared (declare the service, or give your own client another name)`);
  });

  // Each proxy gets a static address with the cluster's gateway and netmask.
  c.peripherals.bluetoothProxies.forEach((p, i) => {
    if (!ipInSubnet(p.address, c.network.subnet)) add(["peripherals", "bluetoothProxies", i, "address"], p.address, `expected an address inside ${c.network.subnet} (the proxy is given the cluster's gateway and netmask)`);
  });

  // The docker agent word-splits its parameters: the data path must be one plain word.
  const mount = c.storage.nfs.mountPoint;
  if (!/^\/[A-Za-z0-9._/-]+$/.test(mount)) {
    add(["storage", "nfs", "mountPoint"], mount, "expected a plain path (letters, digits, '.', '_', '-', '/'): the container agent passes it unquoted to docker");
  }

  if (c.voice) {
    const g = c.voice.ollama.guest;
    c.nodes.forEach((n) => {
      if (n.drbdDisk?.pciMapping === g.gpuMapping) add(["voice", "ollama", "guest", "gpuMapping"], g.gpuMapping, `expected a PCI mapping of its own; already the DRBD disk of ${n.name}`);
    });
  }
  return problems;
}
