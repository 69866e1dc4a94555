// The application files besides Mosquitto and Zigbee2MQTT: every YAML parsed back (tags
// included) and compared with its model, Node-RED's settings loaded as Node loads them and its
// seed credentials decrypted as Node-RED does, the HTTP and Wyoming probes run against local
// servers, and a check that every generated value lands only in files shipped as secret.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { createRequire } from "node:module";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { renderFile, serviceCatalog, serviceFiles } from "../../../components/services";
import { btProxyConfig } from "../../../components/services/esphome";
import { haConfiguration, haInputs, haSecretFile } from "../../../components/services/homeassistant";
import { decryptNodeRedCredentials, MQTT_BROKER_NODE_ID, nodeRedSeedFlows, nodeRedSettings } from "../../../components/services/nodered";
import { IncludeRef, parseYamlFile, SecretRef } from "../../../components/services/yamlfile";
import { prodConfig } from "../../helpers/config";
import { freePort, renderedAt, testSecrets, testSeeds } from "./broker";
import { probeDir as probeHostDir } from "../../../components/services/catalog";

const c = prodConfig();
const secrets = testSecrets(c);
const mount = c.storage.nfs.mountPoint;
const tmp: string[] = [];
after(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "haha-configs-"));
  tmp.push(d);
  return d;
};

describe("Home Assistant files", () => {
  const conf = () => parseYamlFile(renderedAt(c, `${mount}/homeassistant/config/configuration.yaml`, secrets));

  it("configuration.yaml parses back to the model, with real !secret and !include tags", () => {
    const model = haConfiguration(haInputs(c));
    const parsed = conf() as Record<string, Record<string, unknown>>;
    assert.deepEqual(parsed, model);
    assert.ok(parsed.recorder!.db_url instanceof SecretRef);
    assert.equal((parsed.recorder!.db_url as SecretRef).name, "recorder_db_url");
    assert.ok((parsed as Record<string, unknown>).automation instanceof IncludeRef);
    const text = renderedAt(c, `${mount}/homeassistant/config/configuration.yaml`, secrets);
    assert.match(text, /^ {2}db_url: !secret recorder_db_url$/m);
    assert.match(text, /^default_config:$/m);
  });

  it("records to PostgreSQL beside it, never SQLite; the URL is only in secrets.yaml", () => {
    const sec = parseYamlFile(renderedAt(c, `${mount}/homeassistant/config/secrets.yaml`, secrets)) as Record<string, string>;
    assert.deepEqual(sec, haSecretFile({ recorderPassword: secrets.recorderPassword, recorderPort: c.services.homeassistant!.recorder.port, mqttPassword: secrets.mqtt.homeassistant! }));
    const url = new URL(sec.recorder_db_url!);
    assert.equal(url.protocol, "postgresql:");
    assert.equal(url.hostname, "127.0.0.1");
    assert.equal(decodeURIComponent(url.password), secrets.recorderPassword);
    assert.doesNotMatch(JSON.stringify(conf()), /sqlite/i);
  });
});

describe("ESPHome files", () => {
  it("each Bluetooth proxy's YAML parses back to the model: LAN8720 pins of the ESP32-POE-ISO, proxy active, secrets by tag", () => {
    for (const p of c.peripherals.bluetoothProxies) {
      const parsed = parseYamlFile(renderedAt(c, `${mount}/esphome/config/${p.name}.yaml`, secrets)) as Record<string, Record<string, unknown>>;
      assert.deepEqual(parsed, btProxyConfig({ name: p.name, address: p.address, subnet: c.network.subnet, gateway: c.network.gateway, dns: c.network.dns }));
      assert.deepEqual(parsed.ethernet, {
        type: "LAN8720",
        mdc_pin: "GPIO23",
        mdio_pin: "GPIO18",
        clk: { pin: "GPIO17", mode: "CLK_OUT" },
        phy_addr: 0,
        power_pin: "GPIO12",
        manual_ip: { static_ip: p.address, gateway: c.network.gateway, subnet: "255.255.255.0", dns1: c.network.dns[0] },
      });
      assert.deepEqual(parsed.bluetooth_proxy, { active: true });
      assert.ok((parsed.api!.encryption as Record<string, unknown>).key instanceof SecretRef);
      assert.equal(parsed.api!.reboot_timeout, "30min");
    }
  });

  it("secrets.yaml holds a 32-byte API key and the OTA password of every device", () => {
    const sec = parseYamlFile(renderedAt(c, `${mount}/esphome/config/secrets.yaml`, secrets)) as Record<string, string>;
    for (const p of c.peripherals.bluetoothProxies) {
      const key = sec[`${p.name}_api_key`]!;
      assert.equal(Buffer.from(key, "base64").length, 32);
      assert.equal(sec[`${p.name}_ota_password`], secrets.esphome[p.name]!.otaPassword);
    }
  });
});

describe("Node-RED files", () => {
  it("settings.js loads as a plain module (as the image's /healthcheck.js requires it) and equals the model", () => {
    const d = tempDir();
    const file = path.join(d, "settings.js");
    fs.writeFileSync(file, renderedAt(c, `${mount}/nodered/data/settings.js`, secrets));
    const loaded = createRequire(__filename)(file) as Record<string, unknown>;
    assert.deepEqual(loaded, nodeRedSettings({ port: c.services.nodered!.port, credentialSecret: secrets.nodeRedCredentialSecret, adminPasswordHash: secrets.nodeRedAdminHash }));
    assert.equal(loaded.uiPort, c.services.nodered!.port);
    assert.equal(loaded.credentialSecret, secrets.nodeRedCredentialSecret);
  });

  it("seeds an MQTT broker at the VIP whose login decrypts with the credentialSecret, and only with it", () => {
    const flows = JSON.parse(renderedAt(c, `${mount}/nodered/seed/flows.json`, secrets));
    assert.deepEqual(flows, nodeRedSeedFlows({ brokerHost: c.network.vip, brokerPort: c.services.mosquitto.port, user: "nodered" }));
    const cred = renderedAt(c, `${mount}/nodered/seed/flows_cred.json`, secrets);
    assert.deepEqual(decryptNodeRedCredentials(secrets.nodeRedCredentialSecret, cred), { [MQTT_BROKER_NODE_ID]: { user: "nodered", password: secrets.mqtt.nodered } });
    assert.throws(() => decryptNodeRedCredentials("another secret", cred));
    assert.ok(!cred.includes(secrets.mqtt.nodered!));
    // A re-run writes the same bytes (no diff).
    assert.equal(renderedAt(c, `${mount}/nodered/seed/flows_cred.json`, secrets), cred);
  });
});

/** Runs a probe's words (with /haha mapped to `dir`) and resolves with its exit code. */
function runProbe(words: string[], dir: string): Promise<number | null> {
  const mapped = words.map((w) => w.replace(/^\/haha\//, `${dir}/`));
  return new Promise((resolve) => {
    const p = spawn(mapped[0]!, mapped.slice(1), { stdio: "ignore" });
    const kill = setTimeout(() => p.kill("SIGKILL"), 20000);
    p.on("exit", (code) => (clearTimeout(kill), resolve(code)));
  });
}

describe("the Home Assistant probe script (sh + curl, as in the image)", () => {
  it("passes on 401 and 200 from /api/, fails on a server error and on a closed port", async () => {
    const spec = serviceCatalog(c).find((s) => s.id === "homeassistant")!;
    const d = tempDir();
    const port = await freePort();
    const script = renderedAt(c, `${probeHostDir(spec.id)}/monitor.sh`).replace(`127.0.0.1:${c.services.homeassistant!.port}/`, `127.0.0.1:${port}/`);
    fs.writeFileSync(path.join(d, "monitor.sh"), script);
    let status = 401;
    let seen = "";
    const srv = http.createServer((req, res) => ((seen = req.url ?? ""), res.writeHead(status), res.end("{}")));
    await new Promise<void>((r) => srv.listen(port, "127.0.0.1", r));
    try {
      assert.equal(await runProbe(spec.probe.command, d), 0);
      assert.equal(seen, "/api/");
      status = 200;
      assert.equal(await runProbe(spec.probe.command, d), 0);
      status = 502;
      assert.equal(await runProbe(spec.probe.command, d), 1);
    } finally {
      await new Promise((r) => srv.close(r));
    }
    assert.notEqual(await runProbe(spec.probe.command, d), 0);
  });
});

describe("the Wyoming probe (python3, standard library)", () => {
  /** A Wyoming server stand-in answering describe with `info` (header line + data, as wyoming 1.x sends). */
  async function wyoming(info: Record<string, unknown> | "silent"): Promise<{ port: number; close: () => Promise<void> }> {
    const srv = net.createServer((sock) => {
      sock.once("data", (b) => {
        const req = JSON.parse(b.toString().split("\n")[0]!) as { type: string };
        if (req.type !== "describe" || info === "silent") return;
        const data = Buffer.from(JSON.stringify(info));
        sock.end(JSON.stringify({ type: "info", version: "1.5.0", data_length: data.length }) + "\n" + data.toString());
      });
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
  }

  it("passes when whisper lists an installed asr program, fails on a tts-only server, a silent one and a closed port", async () => {
    const spec = serviceCatalog(c).find((s) => s.id === "whisper")!;
    const d = tempDir();
    fs.writeFileSync(path.join(d, "wyoming-probe.py"), renderedAt(c, `${probeHostDir(spec.id)}/wyoming-probe.py`));
    const withPort = (port: number) => [...spec.probe.command.slice(0, -2), String(port), spec.probe.command.at(-1)!, "2"];
    const asr = await wyoming({ asr: [{ name: "faster-whisper", installed: true }], tts: [] });
    const tts = await wyoming({ asr: [], tts: [{ name: "piper", installed: true }] });
    const silent = await wyoming("silent");
    try {
      assert.equal(await runProbe(withPort(asr.port), d), 0);
      assert.equal(await runProbe(withPort(tts.port), d), 1);
      assert.equal(await runProbe(withPort(silent.port), d), 1);
    } finally {
      await Promise.all([asr.close(), tts.close(), silent.close()]);
    }
    assert.equal(await runProbe(withPort(await freePort()), d), 1);
  });
});

describe("secrecy of the shipped files", () => {
  it("every generated value appears only in files shipped with secret: true and a restrictive mode", () => {
    const values = [
      ...Object.values(secrets.mqtt),
      secrets.recorderPassword,
      secrets.z2mFrontendToken,
      secrets.nodeRedCredentialSecret,
      secrets.nodeRedAdminHash,
      ...Object.values(secrets.esphome).flatMap((e) => [e.apiKey, e.otaPassword]),
    ];
    for (const f of serviceFiles(c)) {
      const text = renderFile(f, secrets, testSeeds);
      const leaks = values.filter((v) => text.includes(v) || text.includes(encodeURIComponent(v)));
      if (!f.secret) assert.deepEqual(leaks, [], `${f.path} is shipped in clear but holds a secret`);
      else assert.ok(["0600", "0400"].includes(f.mode), `${f.path} holds a secret with mode ${f.mode}`);
    }
  });

  it("puts every file under its service's directory: on the shared mount, or a probe's on the members' own disks", () => {
    const dirs = new Map(serviceCatalog(c).map((s) => [s.id, s.dataDir]));
    for (const f of serviceFiles(c)) assert.ok(f.path.startsWith(`${f.local ? probeHostDir(f.service) : dirs.get(f.service)}/`), f.path);
    assert.equal(new Set(serviceFiles(c).map((f) => f.path)).size, serviceFiles(c).length, "no path twice");
  });
});
