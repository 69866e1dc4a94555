// failure-domains: remove each host and each switch (or stack group) and check what survives.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyseFailureDomains, DomainModel } from "../../policies/failure-domains";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { clusterIntentOf, evaluate, hostsConfig, messages, mutated, rule, servicesIntentOf, stackOf, storageIntentOf, twoSwitchRaw } from "./fixtures";

const RULE = "failure-domains";

describe(`${RULE} on prod`, () => {
  it("passes with its waiver: every host is survivable, the single switch is waived with its reason", () => {
    const r = rule(evaluate(stackOf(prodConfig())), RULE);
    assert.equal(r.status, "waived", r.violations.map((v) => v.message).join("\n"));
    assert.equal(r.violations.length, 0);
    assert.equal(r.waived.length, 1);
    assert.equal(r.waived[0]!.subject, "failure domain switch nllei01sw01");
    assert.equal(r.waived[0]!.waiver?.policy, "network-bond-switch-diversity");
    for (const host of ["nllei01pve01", "nllei01pve02", "nllei01pve03"]) {
      assert.ok(r.notes.some((n) => n.startsWith(`host ${host}: survivable — quorum 2/3 votes`)), `${host}: ${r.notes.join("\n")}`);
    }
  });

  it("fails without the waiver, naming the switch and everything that breaks", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => (raw.waivers = []))));
    const r = rule(ev, RULE);
    assert.equal(r.status, "fail");
    assert.equal(r.violations.length, 1);
    const m = r.violations[0]!.message;
    assert.match(m, /^failure domain switch nllei01sw01: losing it breaks: cluster quorum lost \(0 of 3 votes left, 2 needed\); no DRBD replica reachable/);
    assert.match(m, /member nllei01ha01 loses its network \(all bond slaves of nllei01pve01 on nllei01sw01\)/);
    assert.match(m, /Fix: .*cable each bond's slaves to two switches in different stack groups/);
    assert.equal(r.violations[0]!.resource?.type, "haha:stack:Declaration");
  });

  it("passes outright with a second switch: five domains, all survivable", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => ((raw.waivers = []), twoSwitchRaw(raw))))), RULE);
    assert.equal(r.status, "pass", r.violations.map((v) => v.message).join("\n"));
    assert.equal(r.notes.length, 5);
    assert.ok(r.notes.every((n) => n.includes("survivable")), r.notes.join("\n"));
  });

  it("fails when two switches form one stack group (they fail together)", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => ((raw.waivers = []), twoSwitchRaw(raw, "core-stack"))))), RULE);
    assert.equal(r.status, "fail");
    assert.match(r.violations[0]!.message, /^failure domain switch core-stack: losing it breaks: cluster quorum lost/);
  });
});

describe(`${RULE} on unsafe stacks`, () => {
  it("fails a two-host stack: losing either host loses quorum", () => {
    const r = rule(evaluate(stackOf(hostsConfig(2))), RULE);
    assert.equal(r.status, "fail");
    const text = r.violations.map((v) => v.message).join("\n");
    for (const host of ["nllei01pve01", "nllei01pve02"]) assert.match(text, new RegExp(`failure domain host ${host}: losing it breaks: cluster quorum lost \\(1 of 2 votes left`));
  });

  it("fails with all DRBD disks on one host: losing it leaves no replica", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => delete raw.nodes[1].drbdDisk))), RULE);
    assert.equal(r.status, "fail");
    assert.match(r.violations.map((v) => v.message).join("\n"), /failure domain host nllei01pve01: losing it breaks: no DRBD replica reachable \(replicas on nllei01pve01\); no critical service can be placed/);
  });

  it("fails when a member's fencing needs the host that is lost", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => (raw.cluster.fencing.watchdog.enabled = false)))), RULE);
    assert.match(r.violations.map((v) => v.message).join("\n"), /failure domain host nllei01pve02: losing it breaks: member nllei01ha02 has no fencing path left \(fence_pve via nllei01pve02\)/);
  });

  it("fails when a critical service's image is pre-pulled only on the lost host", () => {
    const ev = evaluate(
      mutated(stackOf(prodConfig()), "haha:services:ServiceSet", "services", (p) => (p.intent.services.find((s: { name: string }) => s.name === "homeassistant").prePulledOn = ["nllei01ha01"])),
    );
    assert.match(messages(ev, RULE), /failure domain host nllei01pve01: losing it breaks: critical service homeassistant has no surviving member with its image pre-pulled/);
  });

  it("fails closed without the stack declaration", () => {
    const ev = evaluate(stackOf(prodConfig()).filter((r) => r.type !== "haha:stack:Declaration"));
    assert.match(messages(ev, RULE), /no haha:stack:Declaration declares the failure domains/);
  });
});

describe("analyseFailureDomains (the model alone)", () => {
  const c = prodConfig();
  const base = (): DomainModel => ({
    members: clusterIntentOf(c).members,
    fencing: clusterIntentOf(c).fencing,
    hostSwitches: new Map(c.nodes.map((n) => [n.name, ["sw-a", "sw-b"]])),
    storage: storageIntentOf(c),
    services: servicesIntentOf(c).services,
    domains: [
      ...c.nodes.map((n) => ({ name: n.name, kind: "host" as const, hosts: [n.name], switches: [] })),
      { name: "sw-a", kind: "switch", hosts: [], switches: ["sw-a"] },
      { name: "sw-b", kind: "switch", hosts: [], switches: ["sw-b"] },
    ],
  });

  it("finds every domain survivable on a fully redundant model", () => {
    const outcomes = analyseFailureDomains(base());
    assert.deepEqual(outcomes.map((o) => o.breaks.length), [0, 0, 0, 0, 0]);
    assert.deepEqual(outcomes[0]!.survivors, ["nllei01ha02", "nllei01ha03"]);
  });

  it("DRBD 9: loses DRBD quorum when the tiebreaker shares a switch with a replica", () => {
    const m = { ...base(), storage: storageIntentOf(mutatedConfig((raw) => (raw.storage.drbd.version = "9"))) };
    m.hostSwitches.set("nllei01pve01", ["sw-a"]);
    m.hostSwitches.set("nllei01pve03", ["sw-a"]);
    const swA = analyseFailureDomains(m).find((o) => o.domain.name === "sw-a")!;
    assert.deepEqual(
      swA.breaks.map((b) => b.kind),
      ["quorum", "drbd-quorum", "service", "network", "network"],
    );
    assert.match(swA.summary, /DRBD loses its quorum \(1 of 3 nodes, quorum majority\)/);
  });

  it("DRBD 8.4: has no DRBD quorum to lose; the same switch breaks Pacemaker's quorum only", () => {
    const m = base();
    assert.equal(m.storage.quorum, "none");
    m.hostSwitches.set("nllei01pve01", ["sw-a"]);
    m.hostSwitches.set("nllei01pve03", ["sw-a"]);
    const swA = analyseFailureDomains(m).find((o) => o.domain.name === "sw-a")!;
    assert.deepEqual(
      swA.breaks.map((b) => b.kind),
      ["quorum", "service", "network", "network"],
    );
  });

  it("breaks a pinned critical service with its host", () => {
    const m = base();
    m.services = [{ name: "zigbee2mqtt", critical: true, image: "x", placement: "pinned", pinnedHost: "nllei01pve03", prePulledOn: [] }];
    const pve3 = analyseFailureDomains(m).find((o) => o.domain.name === "nllei01pve03")!;
    assert.deepEqual(pve3.breaks, [{ kind: "service", text: "critical service zigbee2mqtt is pinned to nllei01pve03, which is lost" }]);
  });
});
