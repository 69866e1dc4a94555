// network-bond-redundancy (mandatory) and network-bond-switch-diversity (advisory by default).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf, twoSwitchRaw } from "./fixtures";

const REDUNDANCY = "network-bond-redundancy";
const DIVERSITY = "network-bond-switch-diversity";
const HOST = "haha:proxmox:Host";
const prod = stackOf(prodConfig());

describe(REDUNDANCY, () => {
  it("passes on prod: two slaves per bond in 802.3ad, every slave's switch port declared", () => {
    assert.equal(rule(evaluate(prod), REDUNDANCY).status, "pass", messages(evaluate(prod), REDUNDANCY));
  });

  it("refuses a bond with one slave", () => {
    const one = stackOf(mutatedConfig((raw) => ((raw.nodes[1].bond.slaves = ["enp1s0f0"]), (raw.nodes[1].bond.switchPorts = ["nllei01sw01:Te1/0/3"]))));
    const ev = evaluate(one);
    assert.equal(rule(ev, REDUNDANCY).status, "fail");
    assert.match(messages(ev, REDUNDANCY), /haha:proxmox:Host "nllei01pve02" \(bond0\): 1 bond slave \(enp1s0f0\): one cable, NIC or switch port takes host nllei01pve02 off the network\. Fix: give haha:nodes\[\]\.bond\.slaves at least 2/);
  });

  it("refuses a bond mode that does not fail over", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => (raw.nodes[0].bond.mode = "balance-rr"))));
    assert.match(messages(ev, REDUNDANCY), /"nllei01pve01" \(bond0\): bond mode balance-rr does not fail over/);
    assert.equal(rule(evaluate(stackOf(mutatedConfig((raw) => (raw.nodes[0].bond.mode = "active-backup")))), REDUNDANCY).status, "pass");
  });

  it("refuses slaves whose switch ports are not all declared", () => {
    const ev = evaluate(mutated(prod, HOST, "nllei01pve03", (p) => p.intent.switchPorts.pop()));
    assert.match(messages(ev, REDUNDANCY), /1 switch ports declared for 2 slaves/);
  });

  it("fails closed on a host without intent, and on a member's host with no Host at all", () => {
    assert.match(messages(evaluate(mutated(prod, HOST, "nllei01pve02", (p) => delete p.intent)), REDUNDANCY), /"nllei01pve02": declares no `intent`/);
    const noHost = prod.filter((r) => !(r.type === HOST && r.name === "nllei01pve03"));
    assert.match(messages(evaluate(noHost), REDUNDANCY), /host nllei01pve03: runs nllei01ha03 but no haha:proxmox:Host declares its uplink/);
  });

  it("narrows the accepted modes through the pack config", () => {
    const backup = stackOf(mutatedConfig((raw) => (raw.nodes[2].bond.mode = "active-backup")));
    const ev = evaluate(backup, { [REDUNDANCY]: { allowedModes: ["802.3ad"] } });
    assert.match(messages(ev, REDUNDANCY), /bond mode active-backup .*Fix: set haha:nodes\[\]\.bond\.mode to "802\.3ad"/);
  });
});

describe(DIVERSITY, () => {
  it("is advisory by default, and on prod its three findings are waived with the switch's reason", () => {
    const r = rule(evaluate(prod), DIVERSITY);
    assert.equal(r.level, "advisory");
    assert.equal(r.status, "waived");
    assert.equal(r.waived.length, 3);
    for (const v of r.waived) {
      assert.match(v.message, /all bond slaves \(enp1s0f0 and enp1s0f1\) land on switch nllei01sw01/);
      assert.equal(v.waiver?.target, "nllei01sw01");
      assert.match(v.waiver?.reason ?? "", /a second switch is budgeted/);
    }
  });

  it("reports an advisory (not a failure) without the waiver", () => {
    const r = rule(evaluate(stackOf(mutatedConfig((raw) => (raw.waivers = [])))), DIVERSITY);
    assert.equal(r.status, "advisory");
    assert.equal(r.violations.length, 3);
  });

  it("passes with each bond spread over two switches", () => {
    assert.equal(rule(evaluate(stackOf(mutatedConfig((raw) => ((raw.waivers = []), twoSwitchRaw(raw))))), DIVERSITY).status, "pass");
  });

  it("treats two switches in one stack group as one", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => ((raw.waivers = []), twoSwitchRaw(raw, "core-stack")))));
    assert.match(messages(ev, DIVERSITY), /land on switch stack core-stack \(nllei01sw01 and nllei01sw02\)/);
  });

  it("becomes mandatory through the pack config", () => {
    const ev = evaluate(stackOf(mutatedConfig((raw) => (raw.waivers = []))), { [DIVERSITY]: "mandatory" });
    assert.equal(rule(ev, DIVERSITY).status, "fail");
  });
});
