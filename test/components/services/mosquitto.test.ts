// A real Mosquitto broker on 127.0.0.1 with the files the services layer ships: every client logs
// in with its own password, anonymous and wrong passwords are refused, the ACL holds, the
// monitor's probe passes, a retained message survives a restart, and the password file is
// byte-identical from one run to the next.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { serviceCatalog } from "../../../components/services";
import { deterministicSalt, renderMosquittoPasswd } from "../../../components/services/mosquitto";
import { prodConfig } from "../../helpers/config";
import { Broker, brokerFromRenderedFiles, publish, renderedAt, run, RunResult, testSecrets } from "./broker";
import { probeDir as probeHostDir } from "../../../components/services/catalog";

const c = prodConfig();
const secrets = testSecrets(c);
const pw = (u: string) => secrets.mqtt[u]!;
let broker: Broker;

/**
 * mosquitto_sub in the background: resolves with what it received (or its timeout). `ready`
 * resolves once the broker acknowledged the subscription (-d prints SUBACK), so a publish after
 * it is never missed however loaded the machine is; stdout keeps only the received messages.
 */
function subscribe(user: string, topic: string, waitS: number, extra: string[] = []): { ready: Promise<void>; done: Promise<RunResult> } {
  // mosquitto_sub block-buffers a pipe: line-buffer it, or SUBACK would show only at exit.
  const p = spawn("stdbuf", ["-oL", "mosquitto_sub", "-d", "-h", "127.0.0.1", "-p", String(broker.port), "-u", user, "-P", pw(user), "-C", "1", "-W", String(waitS), "-t", topic, "-v", ...extra]);
  let raw = "";
  let stderr = "";
  let subscribed: () => void = () => {};
  const ready = new Promise<void>((r) => (subscribed = r));
  p.stdout.on("data", (b) => {
    raw += b;
    if (/received SUBACK/.test(raw)) subscribed();
  });
  p.stderr.on("data", (b) => (stderr += b));
  const messages = () => raw.split("\n").filter((l) => l !== "" && !/^(Client |Subscribed )/.test(l)).map((l) => `${l}\n`).join("");
  const done = new Promise<RunResult>((resolve) => p.on("exit", (status) => (subscribed(), resolve({ status, stdout: messages(), stderr }))));
  return { ready, done };
}

before(async () => {
  broker = await brokerFromRenderedFiles(c, secrets);
});
after(async () => {
  await broker?.stop();
  if (broker) fs.rmSync(broker.dir, { recursive: true, force: true });
});

describe("Mosquitto with the shipped files", () => {
  it("refuses anonymous clients", () => {
    const r = publish(broker, undefined, undefined, "homeassistant/status", "x");
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /not authori[sz]ed/i);
  });

  it("refuses a wrong password, and one client's password for another", () => {
    const wrong = publish(broker, "homeassistant", "not-the-password", "homeassistant/status", "x");
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /not authori[sz]ed/i);
    const swapped = publish(broker, "homeassistant", pw("zigbee2mqtt"), "homeassistant/status", "x");
    assert.notEqual(swapped.status, 0);
  });

  it("lets every client log in with its own password", () => {
    const allowed: Record<string, string> = {
      homeassistant: "homeassistant/status",
      zigbee2mqtt: `${c.services.zigbee2mqtt!.baseTopic}/bridge/state`,
      nodered: "nodered/heartbeat",
      monitor: `${c.services.zigbee2mqtt!.baseTopic}/bridge/request/health_check`,
    };
    assert.deepEqual(Object.keys(allowed).sort(), [...c.services.mosquitto.clients].sort());
    for (const [user, topic] of Object.entries(allowed)) {
      const r = publish(broker, user, pw(user), topic, "hello");
      assert.equal(r.status, 0, `${user}: ${r.stderr}`);
    }
  });

  it("delivers what the ACL allows and drops what it does not", async () => {
    const base = c.services.zigbee2mqtt!.baseTopic;
    const ok = subscribe("homeassistant", `${base}/living-room/lamp`, 5);
    await ok.ready;
    assert.equal(publish(broker, "zigbee2mqtt", pw("zigbee2mqtt"), `${base}/living-room/lamp`, "on").status, 0);
    const got = await ok.done;
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout.trim(), `${base}/living-room/lamp on`);

    // zigbee2mqtt may not write outside its own tree: the broker accepts and drops it.
    const denied = subscribe("homeassistant", "alarm/disarm", 2);
    await denied.ready;
    publish(broker, "zigbee2mqtt", pw("zigbee2mqtt"), "alarm/disarm", "now");
    const nothing = await denied.done;
    assert.equal(nothing.stdout, "");
    assert.equal(nothing.status, 27, "mosquitto_sub timed out without a message");

    // the monitor reads nothing but its probe topics.
    const spy = subscribe("monitor", `${base}/living-room/lamp`, 2);
    await spy.ready;
    publish(broker, "zigbee2mqtt", pw("zigbee2mqtt"), `${base}/living-room/lamp`, "off");
    assert.equal((await spy.done).stdout, "");
  });

  // Each grant and each deny of the ACL, on the real broker: the publisher's message is delivered
  // to an observer that may read the topic, or dropped by the broker (it accepts and discards it).
  const base = c.services.zigbee2mqtt!.baseTopic;
  const cases: { who: string; topic: string; observer: string; delivered: boolean; why: string }[] = [
    { who: "nodered", topic: `${base}/living-room/lamp/set`, observer: "zigbee2mqtt", delivered: true, why: "flows switch Zigbee devices" },
    { who: "nodered", topic: "nodered/heartbeat", observer: "homeassistant", delivered: true, why: "its own tree" },
    { who: "nodered", topic: `${base}/bridge/request/permit_join`, observer: "zigbee2mqtt", delivered: false, why: "no permit_join from flows" },
    { who: "nodered", topic: `${base}/bridge/request/device/ota_update/update`, observer: "zigbee2mqtt", delivered: false, why: "no OTA from flows" },
    { who: "nodered", topic: `${base}/bridge/request/device/remove`, observer: "zigbee2mqtt", delivered: false, why: "no device removal from flows" },
    { who: "nodered", topic: "homeassistant/switch/fake/config", observer: "homeassistant", delivered: false, why: "no forged discovery" },
    { who: "zigbee2mqtt", topic: "homeassistant/light/0x0017880104e45517/light/config", observer: "homeassistant", delivered: true, why: "Zigbee2MQTT publishes Home Assistant discovery" },
    { who: "zigbee2mqtt", topic: "nodered/heartbeat", observer: "homeassistant", delivered: false, why: "not Node-RED's tree" },
    { who: "zigbee2mqtt", topic: "alarm/disarm", observer: "homeassistant", delivered: false, why: "outside its trees" },
    { who: "homeassistant", topic: "homeassistant/status", observer: "zigbee2mqtt", delivered: true, why: "the birth message Zigbee2MQTT listens for" },
    { who: "homeassistant", topic: "homeassistant/switch/fake/config", observer: "zigbee2mqtt", delivered: false, why: "discovery is Zigbee2MQTT's" },
    { who: "homeassistant", topic: `${base}/bridge/request/permit_join`, observer: "zigbee2mqtt", delivered: true, why: "the hub may open the network (the discovered permit-join switch)" },
    { who: "homeassistant", topic: "nodered/command", observer: "nodered", delivered: true, why: "the hub talks to flows" },
    { who: "monitor", topic: `${base}/bridge/request/health_check`, observer: "zigbee2mqtt", delivered: true, why: "the probe's health check" },
    { who: "monitor", topic: `${base}/bridge/request/permit_join`, observer: "zigbee2mqtt", delivered: false, why: "the probe may ask for health only" },
  ];
  for (const k of cases) {
    it(`${k.delivered ? "delivers" : "drops"} ${k.who} -> ${k.topic} (${k.why})`, async () => {
      const sub = subscribe(k.observer, k.topic, k.delivered ? 5 : 2);
      await sub.ready;
      assert.equal(publish(broker, k.who, pw(k.who), k.topic, "m").status, 0);
      const got = await sub.done;
      if (k.delivered) assert.equal(got.stdout.trim(), `${k.topic} m`, got.stderr + broker.log());
      else {
        assert.equal(got.stdout, "", `${k.who} could write ${k.topic}`);
        assert.equal(got.status, 27, "mosquitto_sub timed out without a message");
      }
    });
  }

  it("keeps Node-RED from reading the bridge API requests (the deny covers reads too)", async () => {
    const spy = subscribe("nodered", `${base}/bridge/request/permit_join`, 2);
    await spy.ready;
    assert.equal(publish(broker, "homeassistant", pw("homeassistant"), `${base}/bridge/request/permit_join`, "m").status, 0);
    assert.equal((await spy.done).stdout, "");
  });

  it("passes the broker's monitor probe exactly as the CIB runs it, and fails it with the broker down", async () => {
    const spec = serviceCatalog(c).find((s) => s.id === "mosquitto")!;
    const words = spec.probe.command;
    assert.equal(words[0], "env");
    // The options file mosquitto_sub reads from $XDG_CONFIG_HOME, as shipped, pointed at this broker.
    const probeDir = path.join(broker.dir, "probe");
    fs.mkdirSync(probeDir);
    const options = renderedAt(c, `${probeHostDir(spec.id)}/mosquitto_sub`, secrets).replace(`-p ${c.services.mosquitto.port}`, `-p ${broker.port}`);
    fs.writeFileSync(path.join(probeDir, "mosquitto_sub"), options, { mode: 0o600 });
    const args = words.slice(1).map((w) => w.replace(/^XDG_CONFIG_HOME=\/haha$/, `XDG_CONFIG_HOME=${probeDir}`));
    assert.ok(args.includes(`XDG_CONFIG_HOME=${probeDir}`));
    const up = run("env", args);
    assert.equal(up.status, 0, up.stderr);
    assert.match(up.stdout, /\d+ seconds/);

    // With a wrong password in the options file, the probe fails.
    fs.writeFileSync(path.join(probeDir, "mosquitto_sub"), options.replace(/^-P .*$/m, "-P wrong"));
    assert.notEqual(run("env", args).status, 0);
    fs.writeFileSync(path.join(probeDir, "mosquitto_sub"), options, { mode: 0o600 });

    await broker.stop();
    try {
      assert.notEqual(run("env", args).status, 0);
    } finally {
      await broker.start();
    }
  });

  it("keeps a retained message across a restart (persistence)", async () => {
    const r = publish(broker, "homeassistant", pw("homeassistant"), "nodered/test/retained", "kept", ["-r"]);
    assert.equal(r.status, 0, r.stderr);
    await broker.stop();
    assert.ok(fs.readdirSync(path.join(broker.dir, "data")).some((f) => f.endsWith(".db")), `no persistence file written:\n${broker.log()}`);
    await broker.start();
    const got = run("mosquitto_sub", ["-h", "127.0.0.1", "-p", String(broker.port), "-u", "homeassistant", "-P", pw("homeassistant"), "-C", "1", "-W", "5", "-t", "nodered/test/retained"]);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout.trim(), "kept");
  });
});

describe("the password file", () => {
  it("is mosquitto_passwd's $7$ format, one line per client", () => {
    const text = renderedAt(c, `${c.storage.nfs.mountPoint}/mosquitto/config/passwd`, secrets);
    const lines = text.trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.split(":")[0]), c.services.mosquitto.clients);
    for (const l of lines) assert.match(l, /^[a-z0-9-]+:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  });

  it("is byte-identical on every run, and a new password gets a new salt", () => {
    const users = [{ user: "homeassistant", password: "abc123XYZ" }];
    assert.equal(renderMosquittoPasswd(users), renderMosquittoPasswd(structuredClone(users)));
    assert.notDeepEqual(deterministicSalt("homeassistant", "abc123XYZ"), deterministicSalt("homeassistant", "abc123XYZ-2"));
    assert.notDeepEqual(deterministicSalt("homeassistant", "same"), deterministicSalt("nodered", "same"));
  });
});
