// Policies over unknown preview values: they never crash; reading an unknown raises the engine's
// UnknownValueError (a preview turns it into an advisory, the offline plan into a failure of
// mandatory rules), and values they do not read do not get in the way.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as docker from "@pulumi/docker";
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import * as policySdk from "@pulumi/policy";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import type { OfflineResource } from "../../policies/evaluate";
import { packPolicies, POLICY_NAMES } from "../../policies/registry";
import { isUnknownValueError, unknownCheckingProxy } from "../../policies/sdk";
import { policyOk } from "../../plan/policy";
import { prodConfig } from "../helpers/config";
import { evaluate, mutated, rule, stackOf } from "./fixtures";
import { recordRaw } from "./raw";

const prod = stackOf(prodConfig());

/** The exported proxy is @pulumi/policy's own, not a look-alike. */
it("uses @pulumi/policy's unknownCheckingProxy", () => {
  assert.equal(unknownCheckingProxy, (policySdk as unknown as { unknownCheckingProxy: unknown }).unknownCheckingProxy);
});

describe("every policy over a stack whose every input is unknown", () => {
  const allUnknown: OfflineResource[] = prod.map((r) => ({ ...r, props: Object.fromEntries(Object.keys(r.props).map((k) => [k, unknownValue])) }));

  it("completes, and each policy either passes or says which value was unknown", () => {
    const ev = evaluate(allUnknown);
    assert.deepEqual(ev.rules.map((r) => r.name), [...POLICY_NAMES]);
    for (const r of ev.rules) {
      // Only the secrets rule reads nothing it needs: an unknown value holds no placeholder.
      assert.equal(r.status, r.name === "no-secret-in-plain-input" ? "pass" : "unknown", `${r.name}: ${r.status}`);
      assert.equal(r.violations.length, 0, r.name);
    }
    const quorum = rule(ev, "cluster-quorum");
    assert.equal(quorum.status, "unknown");
    assert.match(quorum.unknown[0]!, /string value at \.intent can't be known during preview/);
    assert.equal(policyOk(ev), false, "the plan refuses a mandatory rule it could not evaluate");
  });
});

describe("one unknown deep inside an intent", () => {
  it("makes only the rules that read it unknown", () => {
    const ev = evaluate(mutated(prod, "haha:pacemaker:Cib", "cib", (p) => (p.intent.members = unknownValue)));
    assert.equal(rule(ev, "cluster-quorum").status, "unknown");
    assert.match(rule(ev, "cluster-quorum").unknown.join("\n"), /\.intent\.members can't be known during preview/);
    assert.equal(rule(ev, "storage-replication").status, "pass");
    assert.equal(rule(ev, "no-usb-passthrough").status, "pass");
  });
});

describe("a resource policy called as the engine calls it", () => {
  const usb = packPolicies().find((p) => p.name === "no-usb-passthrough") as ResourceValidationPolicy;
  const call = (props: Record<string, unknown>) => {
    const reported: string[] = [];
    const args = { type: "proxmoxve:index/vmLegacy:VmLegacy", name: "vm", urn: "urn:pulumi:s::p::proxmoxve:index/vmLegacy:VmLegacy::vm", props: unknownCheckingProxy(props), getConfig: () => ({}), notApplicable: () => { throw new Error("n/a"); } } as unknown as ResourceValidationArgs;
    (usb.validateResource as (a: ResourceValidationArgs, r: (m: string) => void) => void)(args, (m) => reported.push(m));
    return reported;
  };

  it("reports a known USB device even when unrelated inputs are unknown", () => {
    assert.equal(call({ name: unknownValue, vmId: unknownValue, usbs: [{ host: "10c4:ea60" }] }).length, 1);
  });

  it("raises UnknownValueError, nothing else, when the device list itself is unknown", () => {
    assert.throws(() => call({ usbs: unknownValue }), (e) => isUnknownValueError(e));
    assert.throws(() => call({ usbs: [{ host: unknownValue }] }), (e) => isUnknownValueError(e));
  });
});

describe("raw resources under Pulumi mocks in preview mode", () => {
  let raw: OfflineResource[];
  before(async () => {
    raw = await recordRaw(() => {
      // A device path computed from another resource's output: unknown until it exists.
      const vm = new proxmox.VmLegacy("vm", { nodeName: "nllei01pve01", vmId: 960 });
      new docker.Container("c", { image: "eclipse-mosquitto:2.0.22", devices: [{ hostPath: vm.ipv4Addresses.apply((a) => `/dev/${a[0]?.[0]}`) }] });
    }, true);
  });

  it("records the unknown and the policy reports it unknown instead of passing it", () => {
    const c = raw.find((r) => r.name === "c")!;
    assert.deepEqual(c.props.devices, [{ hostPath: unknownValue }]);
    const r = rule(evaluate(raw), "no-usb-passthrough");
    assert.equal(r.status, "unknown");
    assert.match(r.unknown[0]!, /docker:index\/container:Container "c": string value at \.devices\.0\.hostPath can't be known during preview/);
  });
});
