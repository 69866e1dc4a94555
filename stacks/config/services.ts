// haha:services, haha:peripherals, haha:voice: what the household uses. Every service is a
// container Pacemaker places; its image is pinned and its expected start time is declared so
// start timeouts and the failover budget follow from it.
import { pciDeviceSchema } from "./infrastructure";
import { hostname, imageRef, ipv4, mappingId, port, seconds, z } from "./primitives";

/** Fields every Pacemaker-managed container shares. */
const serviceBase = {
  image: imageRef,
  /** How long the application needs from `docker start` to answering its monitor, measured. */
  expectedStartS: seconds(1, 900),
};

export const mosquittoSchema = z
  .object({
    ...serviceBase,
    port: port.default(1883),
    /** One MQTT user per client; each gets a generated password and its own ACL. */
    clients: z.array(hostname).default(["homeassistant", "zigbee2mqtt", "nodered", "monitor"]),
  })
  .strict();

export const zigbee2mqttSchema = z
  .object({
    ...serviceBase,
    frontendPort: port.default(8080),
    /** Zigbee channel; 15, 20 and 25 avoid the busiest Wi-Fi channels. */
    channel: z.number().int().min(11).max(26).default(25),
    baseTopic: z.string().regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/).default("zigbee2mqtt"),
  })
  .strict();

export const homeassistantSchema = z
  .object({
    ...serviceBase,
    port: port.default(8123),
    timeZone: z.string().regex(/^[A-Za-z]+(\/[A-Za-z0-9_+-]+)*$/).default("Europe/Amsterdam"),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    elevation: z.number().int().default(0),
    unitSystem: z.enum(["metric", "us_customary"]).default("metric"),
    /** Recorder database: PostgreSQL, because SQLite on NFS corrupts. */
    recorder: z
      .object({ image: imageRef, expectedStartS: seconds(1, 900), port: port.default(5432), purgeKeepDays: z.number().int().min(1).max(3650).default(30) })
      .strict(),
  })
  .strict();

export const esphomeSchema = z.object({ ...serviceBase, port: port.default(6052) }).strict();
export const noderedSchema = z.object({ ...serviceBase, port: port.default(1880) }).strict();

export const servicesSchema = z
  .object({
    mosquitto: mosquittoSchema,
    zigbee2mqtt: zigbee2mqttSchema,
    homeassistant: homeassistantSchema,
    esphome: esphomeSchema,
    nodered: noderedSchema,
  })
  .strict();

export const peripheralsSchema = z
  .object({
    zigbee: z
      .object({
        /** The network coordinator (e.g. TubesZB CC2652P7) reached over TCP: no USB stick on any host. */
        model: z.string().min(1).default("TubesZB CC2652P7"),
        host: ipv4,
        port: port.default(6638),
        adapter: z.enum(["zstack", "ember", "ezsp", "deconz", "zigate", "zboss"]),
      })
      .strict(),
    bluetoothProxies: z
      .array(
        z
          .object({
            name: hostname,
            board: z.enum(["olimex-esp32-poe-iso"]).default("olimex-esp32-poe-iso"),
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
        image: imageRef,
        model: z.string().regex(/^[a-z0-9][a-z0-9._-]*(:[A-Za-z0-9._-]+)?$/, { message: "expected an Ollama model name such as qwen2.5:7b" }),
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
    whisper: z.object({ image: imageRef, expectedStartS: seconds(1, 900), model: z.string().min(1).default("base-int8"), port: port.default(10300) }).strict(),
    piper: z.object({ image: imageRef, expectedStartS: seconds(1, 900), voice: z.string().min(1).default("en_US-lessac-medium"), port: port.default(10200) }).strict(),
  })
  .strict();

export type ServicesConfig = z.infer<typeof servicesSchema>;
export type PeripheralsConfig = z.infer<typeof peripheralsSchema>;
export type VoiceConfig = z.infer<typeof voiceSchema>;
