// Zigbee2MQTT: the shipped configuration.yaml and secret.yaml, as Zigbee2MQTT resolves them,
// validated by the zigbee2mqtt package's own settings schema, plus our stricter rules; and the
// monitor probe run against a real broker with a stand-in bridge.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import Ajv from "ajv";
import { parse } from "yaml";
import { serviceCatalog, serviceFiles } from "../../../components/services";
import { resolveZ2mSettings, Z2M_SETTINGS_VERSION, z2mConfiguration, zigbeeNetwork } from "../../../components/services/zigbee2mqtt";
import { prodConfig } from "../../helpers/config";
import { Broker, brokerFromRenderedFiles, renderedAt, testSecrets, testSeeds } from "./broker";
import { probeDir as probeHostDir } from "../../../components/services/catalog";

const c = prodConfig();
const secrets = testSecrets(c);
const dir = `${c.storage.nfs.mountPoint}/zigbee2mqtt`;
const configuration = () => renderedAt(c, `${dir}/data/configuration.yaml`, secrets);
const secretFile = () => renderedAt(c, `${dir}/data/secret.yaml`, secrets);
const z2mRoot = path.dirname(require.resolve("zigbee2mqtt/package.json"));

function schemaValidator() {
  const schema = JSON.parse(fs.readFileSync(path.join(z2mRoot, "dist/util/settings.schema.json"), "utf8"));
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addKeyword("requiresRestart");
  return ajv.compile(schema);
}

describe("Zigbee2MQTT settings", () => {
  it("are the settings version of the zigbee2mqtt package the schema comes from", () => {
    const settingsJs = fs.readFileSync(path.join(z2mRoot, "dist/util/settings.js"), "utf8");
    const m = /exports\.CURRENT_VERSION = (\d+);/.exec(settingsJs);
    assert.ok(m, "CURRENT_VERSION not found in zigbee2mqtt's settings.js");
    assert.equal(Number(m[1]), Z2M_SETTINGS_VERSION);
    const image = c.services.zigbee2mqtt!.image;
    const pkg = JSON.parse(fs.readFileSync(path.join(z2mRoot, "package.json"), "utf8")) as { version: string };
    assert.match(image, new RegExp(`:${pkg.version.replace(/\./g, "\\.")}@sha256:`), "the image and the schema's package are one version");
  });

  it("validate against zigbee2mqtt's own settings schema once resolved as Zigbee2MQTT reads them", () => {
    const validate = schemaValidator();
    const resolved = resolveZ2mSettings(parse(configuration()), parse(secretFile()));
    const ok = validate(resolved);
    assert.ok(ok, JSON.stringify(validate.errors, null, 2));
  });

  it("are refused by that schema when broken (the validation has teeth)", () => {
    const validate = schemaValidator();
    const resolved = resolveZ2mSettings(parse(configuration()), parse(secretFile())) as Record<string, Record<string, unknown>>;
    const broken = structuredClone(resolved);
    broken.serial!.adapter = "cc2652";
    broken.advanced!.channel = 27;
    assert.equal(validate(broken), false);
    const noMqtt = structuredClone(resolved);
    delete (noMqtt as Record<string, unknown>).mqtt;
    assert.equal(validate(noMqtt), false);
  });

  it("reach the coordinator over TCP and name no device path anywhere", () => {
    const conf = parse(configuration()) as Record<string, Record<string, unknown>>;
    const z = c.peripherals.zigbee!;
    assert.equal(conf.serial!.port, `tcp://${z.host}:${z.port}`);
    assert.match(String(conf.serial!.port), /^tcp:\/\/\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/);
    assert.equal(conf.serial!.adapter, z.adapter);
    for (const text of [configuration(), secretFile()]) {
      assert.doesNotMatch(text, /\/dev\//);
      assert.doesNotMatch(text, /GENERATE/, "a GENERATE would be replaced by Zigbee2MQTT and reverted by the next deploy");
    }
  });

  it("send MQTT to the services VIP as Zigbee2MQTT's own user, password from secret.yaml", () => {
    const conf = parse(configuration()) as Record<string, Record<string, unknown>>;
    assert.equal(conf.mqtt!.server, `mqtt://${c.network.vip}:${c.services.mosquitto.port}`);
    assert.equal(conf.mqtt!.user, "zigbee2mqtt");
    assert.equal(conf.mqtt!.password, "!secret password");
    assert.equal((parse(secretFile()) as Record<string, unknown>).password, secrets.mqtt.zigbee2mqtt);
    assert.ok(!configuration().includes(secrets.mqtt.zigbee2mqtt!), "the password is only in secret.yaml");
  });

  it("fix a valid network identity from the seeds: 16-byte key, PAN id 1..65534, 8-byte extended PAN id", () => {
    const conf = parse(configuration()) as Record<string, Record<string, unknown>>;
    const sec = parse(secretFile()) as { network_key: number[] };
    const bytes = (a: unknown, n: number) => Array.isArray(a) && a.length === n && a.every((b) => Number.isInteger(b) && b >= 0 && b <= 255);
    assert.ok(bytes(sec.network_key, 16));
    assert.ok(bytes(conf.advanced!.ext_pan_id, 8));
    const pan = conf.advanced!.pan_id as number;
    assert.ok(Number.isInteger(pan) && pan >= 1 && pan <= 0xfffe);
    assert.equal(conf.advanced!.channel, c.services.zigbee2mqtt!.channel);
    // Stable for a seed, different for another.
    assert.deepEqual(zigbeeNetwork(testSeeds.zigbeePanSeed), zigbeeNetwork(testSeeds.zigbeePanSeed));
    assert.notDeepEqual(zigbeeNetwork("another-seed-0123456789").networkKey, zigbeeNetwork(secrets.zigbeeKeySeed).networkKey);
  });

  it("parse back to exactly the model", () => {
    const net = zigbeeNetwork(testSeeds.zigbeePanSeed);
    const model = z2mConfiguration({
      brokerHost: c.network.vip,
      brokerPort: c.services.mosquitto.port,
      baseTopic: c.services.zigbee2mqtt!.baseTopic,
      user: "zigbee2mqtt",
      coordinator: { host: c.peripherals.zigbee!.host, port: c.peripherals.zigbee!.port, adapter: c.peripherals.zigbee!.adapter },
      channel: c.services.zigbee2mqtt!.channel,
      frontendPort: c.services.zigbee2mqtt!.frontendPort,
      homeAssistant: true,
      panId: net.panId,
      extPanId: net.extPanId,
    });
    assert.deepEqual(parse(configuration()), model);
  });

  it("keep the secret file secret and the configuration readable", () => {
    const files = new Map(serviceFiles(c).map((f) => [f.path, f]));
    assert.equal(files.get(`${dir}/data/secret.yaml`)!.secret, true);
    assert.equal(files.get(`${dir}/data/secret.yaml`)!.mode, "0600");
    assert.equal(files.get(`${dir}/data/configuration.yaml`)!.secret, false);
  });
});

describe("the Zigbee2MQTT monitor probe, against a real broker", () => {
  let broker: Broker;
  let mqtt: typeof import("mqtt");
  const base = c.services.zigbee2mqtt!.baseTopic;
  const spec = serviceCatalog(c).find((s) => s.id === "zigbee2mqtt")!;
  let probeDir: string;

  before(async () => {
    broker = await brokerFromRenderedFiles(c, secrets);
    mqtt = createRequire(__filename)(require.resolve("mqtt", { paths: [z2mRoot] }));
    probeDir = path.join(broker.dir, "z2m-probe");
    fs.mkdirSync(probeDir);
    // The probe script and its options as shipped; the test points them at this broker and at
    // the mqtt package here instead of the image's /app/node_modules.
    fs.copyFileSync(path.join(__dirname, "../../../components/services/probes/z2m-health.js"), path.join(probeDir, "z2m-health.js"));
    assert.equal(renderedAt(c, `${probeHostDir(spec.id)}/z2m-health.js`), fs.readFileSync(path.join(probeDir, "z2m-health.js"), "utf8"));
    const shipped = JSON.parse(renderedAt(c, `${probeHostDir(spec.id)}/probe.json`, secrets)) as Record<string, unknown>;
    assert.equal(shipped.username, "monitor");
    shipped.url = `mqtt://127.0.0.1:${broker.port}`;
    shipped.mqttModule = path.dirname(require.resolve("mqtt/package.json", { paths: [z2mRoot] }));
    shipped.timeoutMs = 3000;
    fs.writeFileSync(path.join(probeDir, "probe.json"), JSON.stringify(shipped));
  });
  after(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  /** Runs the probe words of the CIB with /haha pointing at the test directory (async: the stand-in bridge answers meanwhile). */
  function probe(): Promise<{ status: number | null; stderr: string }> {
    const words = spec.probe.command.map((w) => w.replace(/^\/haha\//, `${probeDir}/`));
    assert.equal(words[0], "node");
    return new Promise((resolve) => {
      const p = spawn(process.execPath, words.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      p.stderr.on("data", (b) => (stderr += b));
      const kill = setTimeout(() => p.kill("SIGKILL"), 15000);
      p.on("exit", (status) => (clearTimeout(kill), resolve({ status, stderr })));
    });
  }

  /** A stand-in for the bridge: Zigbee2MQTT's retained state and its health_check answer. */
  async function bridge(state: "online" | "offline", healthy: boolean | "silent") {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { username: "zigbee2mqtt", password: secrets.mqtt.zigbee2mqtt, clientId: "z2m-standin" });
    await client.publishAsync(`${base}/bridge/state`, JSON.stringify({ state }), { retain: true, qos: 1 });
    await client.subscribeAsync(`${base}/bridge/request/health_check`);
    client.on("message", (_topic, payload) => {
      if (healthy === "silent") return;
      const req = JSON.parse(payload.toString()) as { transaction?: string };
      client.publish(`${base}/bridge/response/health_check`, JSON.stringify({ data: { healthy }, status: "ok", transaction: req.transaction }), () => undefined);
    });
    return client;
  }

  it("passes when the bridge is online and answers its health check", async () => {
    const b = await bridge("online", true);
    try {
      const r = await probe();
      assert.equal(r.status, 0, r.stderr);
    } finally {
      await b.endAsync();
    }
  });

  it("fails when the bridge is online but does not answer (the application hangs)", async () => {
    const b = await bridge("online", "silent");
    try {
      const r = await probe();
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no answer/);
    } finally {
      await b.endAsync();
    }
  });

  it("fails when the bridge reports itself offline or unhealthy", async () => {
    let b = await bridge("offline", true);
    try {
      assert.equal((await probe()).status, 1);
    } finally {
      await b.endAsync();
    }
    b = await bridge("online", false);
    try {
      assert.equal((await probe()).status, 1);
    } finally {
      await b.endAsync();
    }
  });

  it("fails when the broker is down", async () => {
    await broker.stop();
    try {
      assert.equal((await probe()).status, 1);
    } finally {
      await broker.start();
    }
  });
});
