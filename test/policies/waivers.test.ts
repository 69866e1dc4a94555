// Waivers: a waived finding becomes an advisory that prints its reason; a waiver naming an
// unknown policy, a policy that cannot be waived, or an unknown target is itself an error.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchWaiver } from "../../policies/rule";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, hostsConfig, messages, rule, stackOf, twoSwitchRaw } from "./fixtures";

const KNOWN = "waivers-known";
const REPORT = "waived-violations";
const reason = "accepted for this test: the reason is printed wherever the finding would have been";
const withWaivers = (...waivers: { policy: string; target: string }[]) => stackOf(mutatedConfig((raw) => (raw.waivers = waivers.map((w) => ({ ...w, reason })))));

describe("waivers-known", () => {
  it("passes on prod (its one waiver names a real policy and a real switch)", () => {
    assert.equal(rule(evaluate(stackOf(prodConfig())), KNOWN).status, "pass");
  });

  it("refuses a waiver naming a policy the pack does not have", () => {
    const ev = evaluate(withWaivers({ policy: "network-switch-diversity", target: "nllei01sw01" }));
    assert.equal(rule(ev, KNOWN).status, "fail");
    assert.match(messages(ev, KNOWN), /haha:waivers\[0\]: policy "network-switch-diversity" is not a policy of this pack\. Fix: name one of .*network-bond-switch-diversity/);
  });

  it("refuses a waiver naming a target that is nowhere in the stack", () => {
    const ev = evaluate(withWaivers({ policy: "network-bond-switch-diversity", target: "nllei01sw09" }));
    assert.equal(rule(ev, KNOWN).status, "fail");
    assert.match(messages(ev, KNOWN), /haha:waivers\[0\]: target "nllei01sw09" names nothing in this stack/);
    // And it waives nothing: the switch findings are reported again.
    assert.equal(rule(ev, "failure-domains").status, "fail");
  });

  it("refuses a waiver of a per-resource policy, which a preview could not honour", () => {
    const ev = evaluate(withWaivers({ policy: "no-usb-passthrough", target: "*" }));
    assert.match(messages(ev, KNOWN), /policy "no-usb-passthrough" cannot be waived: it is checked per resource/);
  });

  it("refuses a waiver of the waiver rules themselves", () => {
    assert.match(messages(evaluate(withWaivers({ policy: "waivers-known", target: "*" })), KNOWN), /"waivers-known" cannot be waived/);
  });
});

describe("a waiver at work", () => {
  it("turns a mandatory violation into a waived finding whose reason is printed", () => {
    const two = stackOf(
      mutatedConfig((raw) => {
        const cfg = hostsConfig(2);
        raw.nodes = structuredClone(cfg.nodes);
        raw.voice.ollama.guest.node = "nllei01pve02";
        raw.waivers = [{ policy: "cluster-quorum", target: "cib", reason }];
      }),
    );
    const ev = evaluate(two);
    const quorum = rule(ev, "cluster-quorum");
    assert.equal(quorum.status, "waived");
    assert.equal(quorum.violations.length, 0);
    assert.ok(quorum.waived.length >= 2);
    assert.ok(quorum.waived.every((v) => v.waiver?.reason === reason));
    // The advisory reporter prints each waived finding with the reason.
    const report = rule(ev, REPORT);
    assert.equal(report.level, "advisory");
    assert.match(messages(ev, REPORT), /cluster-quorum waived by haha:waivers\[0\] \(cluster-quorum on cib\): haha:pacemaker:Cib "cib": 2 voting members .* Accepted because: accepted for this test/);
    // Other rules are not waived by it.
    assert.equal(rule(ev, "failure-domains").status, "fail");
  });

  it("waives every finding of a policy with target *", () => {
    const ev = evaluate(withWaivers({ policy: "network-bond-switch-diversity", target: "*" }));
    assert.equal(rule(ev, "network-bond-switch-diversity").status, "waived");
    assert.equal(rule(ev, "failure-domains").status, "waived");
    assert.equal(rule(ev, KNOWN).status, "pass");
  });

  it("reports a waiver that no longer matches anything", () => {
    const fixed = stackOf(mutatedConfig((raw) => twoSwitchRaw(raw)));
    const ev = evaluate(fixed);
    assert.equal(rule(ev, "failure-domains").status, "pass");
    assert.match(messages(ev, REPORT), /haha:waivers\[0\]: the waiver \(network-bond-switch-diversity on nllei01sw01\) matches no violation any more\. Fix: remove it/);
  });

  it("matches by policy and target, or through a finding's other waivable names", () => {
    const w = [{ index: 0, policy: "network-bond-switch-diversity", target: "sw1", reason }];
    const f = { subject: "x", problem: "p", fix: "f", targets: ["domain-a"] };
    assert.equal(matchWaiver("failure-domains", f, w), undefined);
    assert.equal(matchWaiver("failure-domains", { ...f, alsoWaivedBy: [{ policy: "network-bond-switch-diversity", target: "sw1" }] }, w)?.index, 0);
    assert.equal(matchWaiver("network-bond-switch-diversity", { ...f, targets: ["sw1"] }, w)?.index, 0);
    assert.equal(matchWaiver("network-bond-switch-diversity", { ...f, targets: ["sw2"] }, w), undefined);
  });
});
