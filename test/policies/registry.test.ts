// The registry: stable, unique names; the prod waiver names a real policy; awsguard-style
// factories take the enforcement level; docs/policies.md documents every policy.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { failureDomains } from "../../policies/failure-domains";
import { clusterFencing } from "../../policies/fencing";
import { noProxmoxHaManager } from "../../policies/ha-manager";
import { nodeBoundHardware } from "../../policies/hardware";
import { hostStorageCycle } from "../../policies/host-storage";
import { guestFullKernel } from "../../policies/kernel";
import { networkBondRedundancy, networkBondSwitchDiversity } from "../../policies/network";
import { clusterQuorum } from "../../policies/quorum";
import { packPolicies, POLICIES, POLICY_NAMES } from "../../policies/registry";
import { noSecretInPlainInput } from "../../policies/secrets";
import { storageNetworkIsolation, zigbeeCoordinatorIsolation } from "../../policies/segregation";
import { criticalServiceImages, criticalServicesUnderPacemaker } from "../../policies/services";
import { storageReplication } from "../../policies/storage";
import { noUsbPassthrough } from "../../policies/usb";
import { prodConfig, ROOT } from "../helpers/config";

describe("the policy registry", () => {
  it("names every policy once, in kebab-case", () => {
    assert.equal(new Set(POLICY_NAMES).size, POLICY_NAMES.length);
    for (const n of POLICY_NAMES) assert.match(n, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it("has the policy the prod stack's waiver names, and it is waivable", () => {
    for (const w of prodConfig().waivers) assert.ok(POLICIES.find((p) => p.name === w.policy)?.waivable, w.policy);
  });

  it("keeps switch diversity and the host-storage cycle advisory by default and everything else that judges the stack mandatory", () => {
    const advisory = POLICIES.filter((p) => p.defaultLevel === "advisory").map((p) => p.name);
    assert.deepEqual(advisory, ["network-bond-switch-diversity", "host-storage-cycle", "storage-network-isolation", "zigbee-coordinator-isolation", "waived-violations"]);
  });

  it("offers one factory per policy that takes the enforcement level", () => {
    const factories = [noUsbPassthrough, nodeBoundHardware, clusterQuorum, clusterFencing, networkBondRedundancy, networkBondSwitchDiversity, storageReplication, hostStorageCycle, criticalServicesUnderPacemaker, criticalServiceImages, noProxmoxHaManager, noSecretInPlainInput, storageNetworkIsolation, zigbeeCoordinatorIsolation, failureDomains, guestFullKernel];
    assert.deepEqual(factories.map((f) => f().name), POLICY_NAMES.slice(0, factories.length));
    for (const f of factories) {
      assert.equal(f("advisory").enforcementLevel, "advisory");
      assert.equal(f("disabled").enforcementLevel, "disabled");
    }
    assert.equal(noUsbPassthrough().enforcementLevel, "mandatory");
    assert.equal(networkBondSwitchDiversity().enforcementLevel, "advisory");
  });

  it("builds the pack with levels overridden by name, and refuses unknown names", () => {
    const policies = packPolicies({ "network-bond-switch-diversity": "mandatory" });
    assert.equal(policies.find((p) => p.name === "network-bond-switch-diversity")!.enforcementLevel, "mandatory");
    assert.throws(() => packPolicies({ "no-such-policy": "advisory" }), /unknown policy name\(s\): no-such-policy/);
  });

  it("never puts enforcementLevel in a configSchema (the engine refuses such a pack)", () => {
    for (const p of packPolicies()) {
      assert.ok(!("enforcementLevel" in (p.configSchema?.properties ?? {})), p.name);
      for (const [key, schema] of Object.entries(p.configSchema?.properties ?? {})) assert.ok(typeof schema === "object" && schema.default !== undefined, `${p.name}.${key} has a default`);
    }
  });

  it("is documented in docs/policies.md: a section per policy with its reason, fix and how to waive", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/policies.md"), "utf8");
    const sections = new Map<string, string>();
    for (const part of doc.split(/^## /m).slice(1)) sections.set(part.split("\n")[0]!.replace(/`/g, "").trim(), part);
    for (const p of POLICIES) {
      const s = sections.get(p.name);
      assert.ok(s, `docs/policies.md has no "## ${p.name}" section`);
      for (const field of ["**Level**", "**Reason**", "**Fix**", "**Waive**"]) assert.ok(s.includes(field), `${p.name}: no ${field}`);
      assert.ok(s.includes(p.defaultLevel), `${p.name}: level ${p.defaultLevel} not stated`);
    }
    const policyLike = [...sections.keys()].filter((k) => /^[a-z0-9]+(-[a-z0-9]+)+$/.test(k));
    assert.deepEqual(policyLike.filter((k) => !POLICY_NAMES.includes(k)), [], "sections for policies the pack does not have");
  });
});
