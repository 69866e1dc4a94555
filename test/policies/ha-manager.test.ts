// no-proxmox-ha-manager: no ha-manager resource or rule on a cluster guest; fixtures, then a
// raw Haresource declared under Pulumi mocks.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { OfflineResource } from "../../policies/evaluate";
import { haVmid } from "../../policies/ha-manager";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf, withResource } from "./fixtures";
import { recordRaw } from "./raw";

const RULE = "no-proxmox-ha-manager";
const prod = stackOf(prodConfig());

describe(`${RULE} on the prod stack`, () => {
  it("passes: no guest is HA-managed by Proxmox", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a cluster guest registered with ha-manager", () => {
    const ev = evaluate(mutated(prod, "haha:proxmox:ClusterGuest", "nllei01ha02", (p) => (p.intent.haManaged = true)));
    assert.match(messages(ev, RULE), /haha:proxmox:ClusterGuest "nllei01ha02": cluster guest nllei01ha02 \(VM 182\) is registered with Proxmox ha-manager\. Fix: remove the Proxmox HA resource/);
  });

  it("refuses an HA resource on a cluster guest (legacy and current types), not on another VM", () => {
    for (const type of ["proxmoxve:index/haresource:Haresource", "proxmoxve:index/haresourceLegacy:HaresourceLegacy"]) {
      const ev = evaluate(withResource(prod, type, "ha-181", { resourceId: "vm:181", state: "started" }));
      assert.match(messages(ev, RULE), /"ha-181": puts cluster guest nllei01ha01 \(VM 181\) under Proxmox ha-manager/, type);
    }
    assert.equal(rule(evaluate(withResource(prod, "proxmoxve:index/haresource:Haresource", "ha-voice", { resourceId: "vm:191" })), RULE).status, "pass");
  });

  it("refuses an HA rule naming a cluster guest", () => {
    const ev = evaluate(withResource(prod, "proxmoxve:index/harule:Harule", "keep-apart", { rule: "keep-apart", type: "resource-affinity", resources: ["vm:182", "vm:183"] }));
    assert.match(messages(ev, RULE), /an ha-manager rule places cluster guests nllei01ha02 and nllei01ha03/);
  });

  it("reads ha-manager resource ids", () => {
    assert.equal(haVmid("vm:181"), 181);
    assert.equal(haVmid("ct:300"), 300);
    assert.equal(haVmid("181"), 181);
    assert.equal(haVmid("vm:abc"), undefined);
    assert.equal(haVmid(undefined), undefined);
  });
});

describe(`${RULE} on a raw Haresource declared under Pulumi mocks`, () => {
  let raw: OfflineResource[];
  before(async () => {
    raw = await recordRaw(() => {
      new pulumi.ComponentResource("haha:proxmox:ClusterGuest", "nllei01ha01", { intent: { member: "nllei01ha01", host: "nllei01pve01", vmid: 181, haManaged: false, watchdog: "i6300esb" } });
      new proxmox.Haresource("ha-guest", { resourceId: "vm:181", state: "started" });
    });
  });

  it("refuses it and names the resource", () => {
    const r = rule(evaluate(raw), RULE);
    assert.equal(r.status, "fail");
    assert.equal(r.violations[0]!.resource?.type, "proxmoxve:index/haresource:Haresource");
    assert.equal(r.violations[0]!.resource?.name, "ha-guest");
  });
});
