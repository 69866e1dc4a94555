// The services layer's pure model when the home leaves services out: the catalog, the CIB
// fragment, the files and the MQTT ACL hold only what the declared services need, every file
// renders from the values generated for those services alone, and a real Mosquitto broker loads
// the rendered files and knows only the declared users.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderFile, serviceCatalog, serviceFiles, servicesCibFragment, type ServiceSecrets } from "../../../components/services";
import Ajv from "ajv";
import { mqttAcl } from "../../../components/services/files";
import { resolveZ2mSettings } from "../../../components/services/zigbee2mqtt";
import { parseConfig } from "../../../stacks/config/validate";
import { mutatedConfig } from "../../helpers/config";
import { mosquittoNoderedRaw } from "../../helpers/stacks";
import { Broker, brokerFromRenderedFiles, publish, renderedAt, run } from "./broker";
import { parse } from "yaml";
import { probeDir as probeHostDir } from "../../../components/services/catalog";

const mini = parseConfig(mosquittoNoderedRaw(), "mini");
/** Only what the ServiceSet generates for Mosquitto and Node-RED. */
const miniSecrets: ServiceSecrets = {
  mqtt: { nodered: "PwNoderedK9q2LmZr7Tt4Vb", monitor: "PwMonitorK9q2LmZr7Tt4Vb" },
  nodeRedCredentialSecret: "CredentialSecretA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
  nodeRedAdminHash: "$2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
  esphome: {},
};
/** Prod without Home Assistant (and so without voice). */
const noHa = mutatedConfig((raw) => {
  delete raw.services.homeassistant;
  delete raw.voice;
  raw.services.mosquitto.clients = ["zigbee2mqtt", "nodered", "monitor"];
});
/** Prod without Zigbee2MQTT and its coordinator. */
const noZigbee = mutatedConfig((raw) => {
  delete raw.services.zigbee2mqtt;
  delete raw.peripherals.zigbee;
  raw.services.mosquitto.clients = ["homeassistant", "nodered", "monitor"];
});

describe("a Mosquitto + Node-RED service set", () => {
  it("catalogs the two services, in the stable order, with no time zone borrowed from an absent Home Assistant", () => {
    const cat = serviceCatalog(mini);
    assert.deepEqual(
      cat.map((s) => s.id),
      ["mosquitto", "nodered"],
    );
    assert.equal(cat[1]!.env.TZ, undefined);
  });

  it("contributes two primitives and no order to a service that is absent", () => {
    const f = servicesCibFragment(mini);
    assert.deepEqual(
      f.resources.map((r) => r.id),
      ["mosquitto", "nodered"],
    );
    assert.deepEqual(f.constraints, []);
  });

  it("ships the two services' files only, each rendered from the two services' generated values alone", () => {
    const files = serviceFiles(mini);
    assert.deepEqual([...new Set(files.map((f) => f.service))], ["mosquitto", "nodered"]);
    for (const f of files) assert.ok(renderFile(f, miniSecrets, {}).length > 0, f.path);
  });

  it("gives the ACL only the declared users, and no rule on an absent service's topics", () => {
    assert.deepEqual(mqttAcl(mini), [
      { user: "nodered", reason: "flows: its own tree", rules: [{ access: "readwrite", topic: "nodered/#" }] },
      { user: "monitor", reason: "the cluster's probes: broker statistics, nothing else", rules: [{ access: "read", topic: "$SYS/#" }] },
    ]);
  });
});

describe("a service set without Home Assistant", () => {
  it("turns Zigbee2MQTT's Home Assistant discovery off, and its ACL has no homeassistant/# grant", () => {
    const conf = parse(renderedAt(noHa, `${noHa.storage.nfs.mountPoint}/zigbee2mqtt/data/configuration.yaml`)) as Record<string, Record<string, unknown>>;
    assert.deepEqual(conf.homeassistant, { enabled: false });
    const z = mqttAcl(noHa).find((u) => u.user === "zigbee2mqtt")!;
    assert.deepEqual(z.rules, [{ access: "readwrite", topic: "zigbee2mqtt/#" }]);
    assert.ok(!mqttAcl(noHa).some((u) => u.user === "homeassistant"));
    // Zigbee2MQTT's own settings schema accepts it, as Zigbee2MQTT resolves the files.
    const schema = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve("zigbee2mqtt/package.json")), "dist/util/settings.schema.json"), "utf8"));
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addKeyword("requiresRestart");
    const validate = ajv.compile(schema);
    const secretFile = parse(renderedAt(noHa, `${noHa.storage.nfs.mountPoint}/zigbee2mqtt/data/secret.yaml`));
    assert.ok(validate(resolveZ2mSettings(conf, secretFile)), JSON.stringify(validate.errors));
    // With Home Assistant declared, discovery stays on.
    const full = mutatedConfig(() => {});
    assert.deepEqual((parse(renderedAt(full, `${full.storage.nfs.mountPoint}/zigbee2mqtt/data/configuration.yaml`)) as Record<string, unknown>).homeassistant, { enabled: true });
  });

  it("has no recorder: no primitive, no file, no order of Home Assistant after it", () => {
    assert.ok(!serviceCatalog(noHa).some((s) => s.id === "recorder" || s.id === "homeassistant"));
    assert.ok(!serviceFiles(noHa).some((f) => /recorder|homeassistant\//.test(f.path)));
    assert.deepEqual(
      servicesCibFragment(noHa).constraints.map((x) => x.id),
      ["zigbee2mqtt-after-mosquitto"],
    );
  });
});

describe("a service set without Zigbee2MQTT", () => {
  it("gives Home Assistant, Node-RED and the monitor no rule on the Zigbee tree", () => {
    const acl = mqttAcl(noZigbee);
    assert.deepEqual(
      acl.map((u) => u.user),
      ["homeassistant", "nodered", "monitor"],
    );
    for (const u of acl) assert.ok(!u.rules.some((r) => r.topic.startsWith("zigbee2mqtt/")), u.user);
    assert.deepEqual(acl.find((u) => u.user === "monitor")!.rules, [{ access: "read", topic: "$SYS/#" }]);
  });
});

describe("Mosquitto with the Mosquitto + Node-RED files", () => {
  let broker: Broker;
  before(async () => {
    broker = await brokerFromRenderedFiles(mini, miniSecrets);
  });
  after(async () => {
    await broker?.stop();
    if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
  });

  it("lets Node-RED log in and publish in its tree", () => {
    const r = publish(broker, "nodered", miniSecrets.mqtt.nodered, "nodered/heartbeat", "hello");
    assert.equal(r.status, 0, r.stderr);
  });

  it("has no login for an absent service's user", () => {
    for (const user of ["homeassistant", "zigbee2mqtt"]) {
      const r = publish(broker, user, miniSecrets.mqtt.nodered, `${user}/x`, "x");
      assert.notEqual(r.status, 0, user);
      assert.match(r.stderr, /not authori[sz]ed/i);
    }
  });

  it("passes the monitor probe exactly as the CIB runs it", () => {
    const spec = serviceCatalog(mini).find((s) => s.id === "mosquitto")!;
    const probeDir = path.join(broker.dir, "probe");
    fs.mkdirSync(probeDir);
    const options = renderedAt(mini, `${probeHostDir(spec.id)}/mosquitto_sub`, miniSecrets).replace(`-p ${mini.services.mosquitto.port}`, `-p ${broker.port}`);
    fs.writeFileSync(path.join(probeDir, "mosquitto_sub"), options, { mode: 0o600 });
    const args = spec.probe.command.slice(1).map((w) => w.replace(/^XDG_CONFIG_HOME=\/haha$/, `XDG_CONFIG_HOME=${probeDir}`));
    const up = run("env", args);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /\d+ seconds/);
  });
});
