// The pack on stacks that leave services out: no rule crashes, a rule with nothing to guard says
// "not applicable" (never a pass it did not earn), and the rules that still apply keep refusing
// what they refuse on the full stack.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../stacks/config/validate";
import { mutatedConfig } from "../helpers/config";
import { mosquittoNoderedRaw } from "../helpers/stacks";
import { evaluate, messages, mutated, rule, stackOf, withResource } from "./fixtures";

const mini = parseConfig(mosquittoNoderedRaw(), "mini");
const miniStack = stackOf(mini);
const DECL = "haha:stack:Declaration";
const SERVICES = "haha:services:ServiceSet";
/** Prod without Zigbee2MQTT and its coordinator: the Bluetooth proxy remains. */
const noZigbee = mutatedConfig((raw) => {
  delete raw.services.zigbee2mqtt;
  delete raw.peripherals.zigbee;
  raw.services.mosquitto.clients = ["homeassistant", "nodered", "monitor"];
});

describe("the pack on a Mosquitto + Node-RED stack", () => {
  it("evaluates every rule without a crash; none fails and none is unknown", () => {
    const ev = evaluate(miniStack);
    assert.equal(ev.rules.length, 18);
    assert.deepEqual(
      ev.rules.filter((r) => r.status === "fail" || r.status === "unknown").map((r) => `${r.name}: ${r.violations.map((v) => v.message).join("; ")}`),
      [],
    );
  });

  it("zigbee-coordinator-isolation and storage-network-isolation are not applicable, with the reason, and report no finding", () => {
    const ev = evaluate(miniStack);
    for (const name of ["zigbee-coordinator-isolation", "storage-network-isolation"]) {
      const r = rule(ev, name);
      assert.equal(r.status, "not-applicable", name);
      assert.equal(r.violations.length, 0);
    }
    assert.match(rule(ev, "zigbee-coordinator-isolation").notApplicable[0]!, /no Zigbee coordinator/);
    assert.match(rule(ev, "storage-network-isolation").notApplicable[0]!, /no peripheral/);
  });

  it("the two services' intents are the critical ones checked: both under Pacemaker, pinned, pre-pulled everywhere", () => {
    const ev = evaluate(miniStack);
    const intent = miniStack.find((r) => r.type === SERVICES)!.props.intent as { services: { name: string }[] };
    assert.deepEqual(intent.services.map((s) => s.name), ["mosquitto", "nodered"]);
    assert.equal(rule(ev, "critical-services-under-pacemaker").status, "pass");
    assert.equal(rule(ev, "critical-service-images").status, "pass");
  });

  it("critical-services-under-pacemaker still refuses Node-RED run as a raw docker.Container", () => {
    const ev = evaluate(withResource(miniStack, "docker:index/container:Container", "nodered-pinned", { name: "nodered", image: mini.services.nodered!.image }));
    assert.equal(rule(ev, "critical-services-under-pacemaker").status, "fail");
    assert.match(messages(ev, "critical-services-under-pacemaker"), /runs critical service nodered/);
  });

  it("critical-service-images still refuses an image missing on a member", () => {
    const ev = evaluate(mutated(miniStack, SERVICES, undefined, (p) => (p.intent.services[1].prePulledOn = p.intent.services[1].prePulledOn.slice(1))));
    assert.equal(rule(ev, "critical-service-images").status, "fail");
    assert.match(messages(ev, "critical-service-images"), /nodered.*not pre-pulled on/);
  });

  it("failure-domains counts the declared critical services only", () => {
    const notes = rule(evaluate(miniStack), "failure-domains").notes.join("\n");
    assert.match(notes, /2 critical services placeable/);
    assert.doesNotMatch(notes, /zigbee2mqtt|homeassistant|recorder/);
  });
});

describe("the pack on a stack without Zigbee", () => {
  it("zigbee-coordinator-isolation is not applicable; storage-network-isolation still warns about the Bluetooth proxy", () => {
    const ev = evaluate(stackOf(noZigbee));
    assert.equal(rule(ev, "zigbee-coordinator-isolation").status, "not-applicable");
    const storage = rule(ev, "storage-network-isolation");
    assert.equal(storage.status, "advisory");
    assert.equal(storage.violations.length, 1);
    assert.match(messages(ev, "storage-network-isolation"), /Bluetooth proxy nllei01btproxy01/);
  });

  it("zigbee-coordinator-isolation applies again as soon as a coordinator is declared (it never passes unchecked)", () => {
    const withCoordinator = mutated(stackOf(noZigbee), DECL, undefined, (p) => p.network.peripherals.push({ name: "zigbee-coordinator", kind: "zigbee-coordinator", address: "10.0.181.40" }));
    const r = rule(evaluate(withCoordinator), "zigbee-coordinator-isolation");
    assert.equal(r.status, "advisory");
    assert.match(r.violations[0]!.message, /Zigbee coordinator \(10\.0\.181\.40\)/);
  });

  it("a stack whose declaration is missing is not called not applicable: the rule reports the missing declaration", () => {
    const r = rule(
      evaluate(miniStack.filter((x) => x.type !== DECL)),
      "zigbee-coordinator-isolation",
    );
    assert.notEqual(r.status, "not-applicable");
    assert.match(r.violations.map((v) => v.message).join("\n"), /no readable haha:stack:Declaration/);
  });
});
