// cluster-fencing: STONITH on, and a fencing path per member that survives its own host.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";

const RULE = "cluster-fencing";
const prod = stackOf(prodConfig());

describe(RULE, () => {
  it("passes on prod: fence_pve plus the SBD watchdog, which needs no host", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses STONITH disabled", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => (raw.cluster.fencing.enabled = false))));
    assert.equal(rule(ev, RULE).status, "fail");
    assert.match(messages(ev, RULE), /haha:pacemaker:Cib "cib": stonith-enabled is false.*Fix: set haha:cluster\.fencing\.enabled to true/);
  });

  it("refuses members whose only fencing path needs their own host (watchdog off, no BMC)", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => (raw.cluster.fencing.watchdog.enabled = false))));
    const r = rule(ev, RULE);
    assert.equal(r.status, "fail");
    assert.equal(r.violations.length, 3, "one per member");
    assert.match(messages(ev, RULE), /member nllei01ha02 \(level 1 fence_pve\) needs its own host nllei01pve02: when that host fails, nothing can confirm the member is down/);
    assert.deepEqual(r.violations[0]!.targets?.slice(0, 2), ["nllei01ha01", "nllei01pve01"]);
  });

  it("accepts a BMC as the independent path when the watchdog is off", () => {
    const withBmc = mutatedConfig((raw) => {
      raw.cluster.fencing.watchdog.enabled = false;
      raw.nodes.forEach((n: any, i: number) => (n.bmc = { address: `10.0.181.${61 + i}`, username: "fence" }));
    });
    assert.equal(rule(evaluate(stackOf(withBmc)), RULE).status, "pass");
  });

  it("refuses a member with no fencing path at all", () => {
    const ev = evaluate(mutated(prod, "haha:pacemaker:Cib", "cib", (p) => (p.intent.fencing = p.intent.fencing.filter((f: { member: string }) => f.member !== "nllei01ha03"))));
    assert.match(messages(ev, RULE), /member nllei01ha03 \(on nllei01pve03\) has no fencing path/);
  });
});
