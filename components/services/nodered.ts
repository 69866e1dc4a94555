// Node-RED: settings.js (a CommonJS module exporting a plain object, serialized with JSON) and a
// first-start seed: one MQTT broker config node at the services VIP, its credentials encrypted
// with the generated credentialSecret in Node-RED's own format.
import * as crypto from "node:crypto";

export interface NodeRedInputs {
  port: number;
  credentialSecret: string;
  /** bcrypt hash of the editor admin's password. */
  adminPasswordHash: string;
}

export function nodeRedSettings(i: NodeRedInputs): Record<string, unknown> {
  return {
    uiPort: i.port,
    flowFile: "flows.json",
    // Without it Node-RED generates a key into .config.runtime.json; with it, the credentials
    // file decrypts on whichever member runs Node-RED, from the stack's own secret.
    credentialSecret: i.credentialSecret,
    flowFilePretty: true,
    // The editor can deploy code onto a cluster member: never open.
    adminAuth: { type: "credentials", users: [{ username: "admin", password: i.adminPasswordHash, permissions: "*" }] },
    logging: { console: { level: "info", metrics: false, audit: false } },
    editorTheme: { projects: { enabled: false } },
    // No calls home from the cluster.
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
  };
}

/** settings.js: a module whose export is data only, so the image's /healthcheck.js can require it. */
export function renderNodeRedSettings(i: NodeRedInputs): string {
  return [
    "// Node-RED settings rendered by HAHA from haha:services.nodered; changes here are overwritten.",
    `module.exports = ${JSON.stringify(nodeRedSettings(i), null, 2)};`,
    "",
  ].join("\n");
}

/** The seed flow's broker node id: fixed, so the seed and its credentials agree. */
export const MQTT_BROKER_NODE_ID = "4a48414d51545430";

export interface NodeRedSeedInputs {
  brokerHost: string;
  brokerPort: number;
  user: string;
}

export function nodeRedSeedFlows(i: NodeRedSeedInputs): unknown[] {
  return [
    {
      id: MQTT_BROKER_NODE_ID,
      type: "mqtt-broker",
      name: "Mosquitto at the services VIP",
      broker: i.brokerHost,
      port: String(i.brokerPort),
      clientid: i.user,
      autoConnect: true,
      usetls: false,
      protocolVersion: "4",
      keepalive: "60",
      cleansession: true,
      birthTopic: "",
      closeTopic: "",
      willTopic: "",
    },
  ];
}

export function renderNodeRedSeedFlows(i: NodeRedSeedInputs): string {
  return JSON.stringify(nodeRedSeedFlows(i), null, 4) + "\n";
}

/**
 * Node-RED's encrypted credentials file: `{"$": <iv hex><base64 aes-256-ctr(JSON)>}` with the
 * key sha256(credentialSecret). The IV is derived from secret and content so a re-run writes
 * the same bytes (no diff), and different content never reuses an IV.
 */
export function encryptNodeRedCredentials(credentialSecret: string, credentials: Record<string, Record<string, string>>): string {
  const plain = JSON.stringify(credentials);
  const key = crypto.createHash("sha256").update(credentialSecret).digest();
  const iv = crypto.createHmac("sha256", credentialSecret).update(`haha-nodered-iv:${plain}`).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv("aes-256-ctr", key, iv);
  const body = cipher.update(plain, "utf8", "base64") + cipher.final("base64");
  return JSON.stringify({ $: iv.toString("hex") + body }) + "\n";
}

/** The inverse, as Node-RED's runtime does it (for tests and for checking a file on a member). */
export function decryptNodeRedCredentials(credentialSecret: string, file: string): Record<string, Record<string, string>> {
  const enc = (JSON.parse(file) as { $: string }).$;
  const key = crypto.createHash("sha256").update(credentialSecret).digest();
  const decipher = crypto.createDecipheriv("aes-256-ctr", key, Buffer.from(enc.slice(0, 32), "hex"));
  return JSON.parse(decipher.update(enc.slice(32), "base64", "utf8") + decipher.final("utf8"));
}

export function renderNodeRedSeedCredentials(credentialSecret: string, user: string, password: string): string {
  return encryptNodeRedCredentials(credentialSecret, { [MQTT_BROKER_NODE_ID]: { user, password } });
}
