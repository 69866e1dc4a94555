// haha:services is the household's choice: only Mosquitto is required, and every cross-field rule
// that ties a peripheral or a login to a service refuses bad input with one clear message naming
// the key, through the plan as a user runs it (exit 2, no stack trace, nothing planned).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { builtinMqttClients } from "../../stacks/config/services";
import { ConfigError, formatProblem, parseConfig } from "../../stacks/config/validate";
import { prodRaw } from "../helpers/config";
import { mosquittoNoderedRaw } from "../helpers/stacks";
import { runPlanCli, tempDir, writeStackFile } from "../helpers/plan";

function problemsOf(raw: Record<string, any>): string[] {
  try {
    parseConfig(raw, "test");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map(formatProblem);
    throw e;
  }
  return [];
}

describe("optional services", () => {
  it("accepts a home with only Mosquitto and Node-RED, with no haha:peripherals at all", () => {
    const c = parseConfig(mosquittoNoderedRaw(), "mini");
    assert.deepEqual(Object.keys(c.services).sort(), ["mosquitto", "nodered"]);
    assert.equal(c.peripherals.zigbee, undefined);
    assert.deepEqual(c.peripherals.bluetoothProxies, []);
    // The default MQTT users follow the declared services: no login for an absent one.
    assert.deepEqual(c.services.mosquitto.clients, ["nodered", "monitor"]);
  });

  it("defaults the MQTT users of the full set to the built-in four, in their order", () => {
    assert.deepEqual(parseConfig(prodRaw(), "prod").services.mosquitto.clients, ["homeassistant", "zigbee2mqtt", "nodered", "monitor"]);
    assert.deepEqual(builtinMqttClients({}), ["monitor"]);
    assert.deepEqual(builtinMqttClients({ zigbee2mqtt: {} }), ["zigbee2mqtt", "monitor"]);
  });

  it("accepts Mosquitto alone", () => {
    const raw = mosquittoNoderedRaw();
    delete raw.services.nodered;
    assert.deepEqual(problemsOf(raw), []);
  });
});

interface Rule {
  name: string;
  mutate: (raw: Record<string, any>) => void;
  path: string;
  expect: RegExp;
}

// One case per cross-field rule, each from a config that is valid before the mutation.
const RULES: Rule[] = [
  { name: "Mosquitto is required", mutate: (r) => delete r.services.mosquitto, path: "haha:services.mosquitto", expect: /required key is missing \(expected the Mosquitto broker: every other service .* talk to one another through it\)/ },
  { name: "Zigbee2MQTT without a coordinator", mutate: (r) => delete r.peripherals.zigbee, path: "haha:peripherals.zigbee", expect: /missing — expected the Zigbee coordinator .* because haha:services.zigbee2mqtt is declared/ },
  {
    name: "a coordinator without Zigbee2MQTT",
    mutate: (r) => {
      delete r.services.zigbee2mqtt;
      r.services.mosquitto.clients = ["homeassistant", "nodered", "monitor"];
    },
    path: "haha:peripherals.zigbee",
    expect: /expected no Zigbee coordinator unless haha:services.zigbee2mqtt is declared/,
  },
  { name: "Bluetooth proxies without ESPHome", mutate: (r) => delete r.services.esphome, path: "haha:peripherals.bluetoothProxies", expect: /\["nllei01btproxy01"\] — expected no Bluetooth proxy unless haha:services.esphome is declared/ },
  {
    name: "voice without Home Assistant",
    mutate: (r) => {
      delete r.services.homeassistant;
      r.services.mosquitto.clients = ["zigbee2mqtt", "nodered", "monitor"];
    },
    path: "haha:voice.enabled",
    expect: /expected haha:services.homeassistant, because the voice servers .* serve Home Assistant's Assist pipeline/,
  },
  {
    name: "a declared service's MQTT user dropped",
    mutate: (r) => (r.services.mosquitto.clients = ["homeassistant", "nodered", "monitor"]),
    path: "haha:services.mosquitto.clients",
    expect: /expected the built-in clients homeassistant, zigbee2mqtt, nodered, monitor to stay listed .*missing: zigbee2mqtt/,
  },
  {
    name: "an absent service's MQTT user listed",
    mutate: (r) => {
      for (const k of Object.keys(r)) delete r[k];
      Object.assign(r, mosquittoNoderedRaw());
      r.services.mosquitto.clients = ["nodered", "monitor", "homeassistant"];
    },
    path: "haha:services.mosquitto.clients[2]",
    expect: /"homeassistant" — expected no client homeassistant: it is the login of haha:services.homeassistant, which is not declared/,
  },
];

describe("cross-field rules of the services", () => {
  for (const r of RULES) {
    it(`refuses ${r.name} at ${r.path}, through the plan: exit 2, no stack trace, nothing planned`, () => {
      const raw = prodRaw();
      r.mutate(raw);
      const problems = problemsOf(raw);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.ok(problems[0]!.startsWith(`${r.path}: `), problems[0]);
      assert.match(problems[0]!, r.expect);

      const out = tempDir();
      const run = runPlanCli(["--config", writeStackFile(raw), "--out", out]);
      const text = run.stdout + run.stderr;
      assert.equal(run.status, 2, text);
      assert.ok(text.includes(problems[0]!), text);
      assert.doesNotMatch(text, /^\s+at .*\(.*:\d+:\d+\)$/m, "a stack trace");
      assert.ok(!fs.existsSync(path.join(out, "test", "resources.json")), "nothing is planned");
    });
  }
});
