// Zigbee2MQTT's configuration.yaml and secret.yaml. The coordinator is reached over TCP (never a
// device path), MQTT goes to the services VIP with Zigbee2MQTT's own user, and the network
// identity (key, PAN ids) is fixed from one generated seed: a GENERATE left in the file would be
// replaced by Zigbee2MQTT, and the next deploy writing GENERATE back would make a new network
// and orphan every paired device.
import * as crypto from "node:crypto";
import { renderPlainYaml } from "./yamlfile";

/** Zigbee2MQTT 2.x settings format version (zigbee2mqtt/dist/util/settings.js CURRENT_VERSION). */
export const Z2M_SETTINGS_VERSION = 5;

export interface ZigbeeNetwork {
  /** 16 bytes. */
  networkKey: number[];
  /** 1 to 65534. */
  panId: number;
  /** 8 bytes. */
  extPanId: number[];
}

function hmac(seed: string, label: string): Buffer {
  return crypto.createHmac("sha256", seed).update(`haha-zigbee:${label}`).digest();
}

/** The network identity, a pure function of the secret seed: stable for as long as the seed is. */
export function zigbeeNetwork(seed: string): ZigbeeNetwork {
  if (seed.length < 16) throw new Error("zigbee network seed must be at least 16 characters");
  const pan = hmac(seed, "pan_id").readUInt16BE(0);
  return {
    networkKey: [...hmac(seed, "network_key").subarray(0, 16)],
    // 0x0000 and 0xFFFF are not valid PAN ids.
    panId: 1 + (pan % 0xfffe),
    extPanId: [...hmac(seed, "ext_pan_id").subarray(0, 8)],
  };
}

export interface Z2mInputs {
  /** MQTT broker address: the services VIP. */
  brokerHost: string;
  brokerPort: number;
  baseTopic: string;
  user: string;
  coordinator: { host: string; port: number; adapter: string };
  channel: number;
  frontendPort: number;
  /** Publish Home Assistant's MQTT discovery: only when the stack declares Home Assistant. */
  homeAssistant: boolean;
  /** Not secret: both are broadcast in every beacon. */
  panId: number;
  extPanId: number[];
}

export interface Z2mSecrets {
  mqttPassword: string;
  networkKey: number[];
  frontendToken: string;
}

/** Zigbee2MQTT reads `!secret <key>` strings from secret.yaml for these fields only. */
export const Z2M_SECRET_REFS = { password: "!secret password", network_key: "!secret network_key", auth_token: "!secret auth_token" } as const;

/** The configuration.yaml model (secrets as Zigbee2MQTT's own `!secret` references). */
export function z2mConfiguration(i: Z2mInputs): Record<string, unknown> {
  return {
    version: Z2M_SETTINGS_VERSION,
    homeassistant: { enabled: i.homeAssistant },
    availability: { enabled: true },
    mqtt: {
      base_topic: i.baseTopic,
      server: `mqtt://${i.brokerHost}:${i.brokerPort}`,
      user: i.user,
      password: Z2M_SECRET_REFS.password,
      client_id: i.user,
    },
    serial: {
      // A network coordinator: TCP, never a USB device on a host.
      port: `tcp://${i.coordinator.host}:${i.coordinator.port}`,
      adapter: i.coordinator.adapter,
    },
    advanced: {
      channel: i.channel,
      network_key: Z2M_SECRET_REFS.network_key,
      pan_id: i.panId,
      ext_pan_id: i.extPanId,
      // To the container log (the member's journal); data/log on NFS is not needed.
      log_output: ["console"],
      log_level: "info",
    },
    frontend: { enabled: true, port: i.frontendPort, auth_token: Z2M_SECRET_REFS.auth_token },
    // Device and group settings Zigbee2MQTT writes at runtime go to their own files, so a deploy
    // rewriting configuration.yaml never erases them.
    devices: "devices.yaml",
    groups: "groups.yaml",
  };
}

export function z2mSecretFile(s: Z2mSecrets): Record<string, unknown> {
  return { password: s.mqttPassword, network_key: s.networkKey, auth_token: s.frontendToken };
}

export function renderZ2mConfiguration(i: Z2mInputs): string {
  return renderPlainYaml(z2mConfiguration(i), "Zigbee2MQTT configuration rendered by HAHA from haha:services.zigbee2mqtt and haha:peripherals.zigbee. Secrets: secret.yaml.");
}

export function renderZ2mSecrets(s: Z2mSecrets): string {
  return renderPlainYaml(z2mSecretFile(s), "Zigbee2MQTT secrets rendered by HAHA (MQTT password, network key, frontend token).");
}

/**
 * The settings as Zigbee2MQTT sees them once read: `!secret` strings replaced from secret.yaml and
 * the devices/groups file names replaced by their (empty) contents. What its schema validates.
 */
export function resolveZ2mSettings(configuration: Record<string, unknown>, secrets: Record<string, unknown>): Record<string, unknown> {
  const resolved = structuredClone(configuration) as Record<string, Record<string, unknown>>;
  const ref = (v: unknown) => {
    const m = typeof v === "string" ? /^!(\S+)\s(\S+)$/.exec(v) : null;
    if (!m) return v;
    if (m[1] !== "secret") throw new Error(`unexpected reference file ${m[1]}`);
    if (!(m[2]! in secrets)) throw new Error(`secret.yaml has no ${m[2]}`);
    return secrets[m[2]!];
  };
  resolved.mqtt!.password = ref(resolved.mqtt!.password);
  resolved.advanced!.network_key = ref(resolved.advanced!.network_key);
  resolved.frontend!.auth_token = ref(resolved.frontend!.auth_token);
  (resolved as Record<string, unknown>).devices = {};
  (resolved as Record<string, unknown>).groups = {};
  return resolved;
}
