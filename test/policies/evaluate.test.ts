// The offline runner: the pack config as `--policy-pack-config` takes it, levels, statuses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluatePack } from "../../policies/evaluate";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, rule, stackOf } from "./fixtures";

const prod = stackOf(prodConfig());

describe("evaluatePack", () => {
  it("evaluates every policy of the pack on prod: nothing fails, the switch is waived", () => {
    const ev = evaluate(prod);
    assert.equal(ev.pack.name, "haha");
    assert.deepEqual(
      ev.rules.filter((r) => r.status !== "pass").map((r) => [r.name, r.status]),
      [
        ["network-bond-switch-diversity", "waived"],
        // prod's peripherals share the cluster subnet: warned, not refused (the user's network)
        ["storage-network-isolation", "advisory"],
        ["zigbee-coordinator-isolation", "advisory"],
        ["failure-domains", "waived"],
        ["waived-violations", "advisory"],
      ],
    );
  });

  it("disables a policy through the pack config", () => {
    const noWaiver = stackOf(mutatedConfig((raw) => (raw.waivers = [])));
    assert.equal(rule(evaluate(noWaiver), "failure-domains").status, "fail");
    const r = rule(evaluate(noWaiver, { "failure-domains": "disabled" }), "failure-domains");
    assert.equal(r.status, "disabled");
    assert.equal(r.violations.length, 0);
  });

  it("lowers a mandatory policy to advisory through the pack config", () => {
    const noWaiver = stackOf(mutatedConfig((raw) => (raw.waivers = [])));
    const r = rule(evaluate(noWaiver, { "failure-domains": { enforcementLevel: "advisory" } }), "failure-domains");
    assert.equal(r.level, "advisory");
    assert.equal(r.status, "advisory");
  });

  it("treats remediate as mandatory (these policies only validate)", () => {
    assert.equal(rule(evaluate(prod, { "cluster-quorum": "remediate" }), "cluster-quorum").level, "mandatory");
  });

  it("refuses a pack config naming an unknown policy or level, with a clear message", () => {
    assert.throws(() => evaluatePack(prod, { "no-usb": "mandatory" }), /policy pack config names unknown policy "no-usb" \(known: no-usb-passthrough, /);
    assert.throws(() => evaluatePack(prod, { "no-usb-passthrough": "strict" as never }), /enforcementLevel "strict" is not one of advisory, mandatory, remediate, disabled/);
  });

  it("gives each violation its rule, level, resource, subject and fix", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => (raw.storage.drbd.protocol = "B")))), "storage-replication");
    assert.deepEqual(
      { rule: r.violations[0]!.rule, level: r.violations[0]!.level, resource: r.violations[0]!.resource },
      { rule: "storage-replication", level: "mandatory", resource: { urn: "urn:pulumi:prod::haha::pulumi:pulumi:Stack$haha:storage:ReplicatedStorage::storage", type: "haha:storage:ReplicatedStorage", name: "storage" } },
    );
    assert.match(r.violations[0]!.fix!, /protocol to C/);
  });
});
