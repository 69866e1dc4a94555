// runPolicies, the plan's policy step: the report file, the summary lines, and the verdict that
// makes the plan exit 1 (the CLI's exit code is checked end to end in test/plan/plan.test.ts).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runPolicies } from "../../plan/policy";
import type { PlanContext, RecordedResource } from "../../plan/types";
import type { OfflineResource } from "../../policies/evaluate";
import { POLICY_NAMES } from "../../policies/registry";
import type { HahaConfig } from "../../stacks/config/schema";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { tempDir } from "../helpers/plan";
import { hostsConfig, mutated, stackOf } from "../policies/fixtures";

const recorded = (resources: OfflineResource[]): RecordedResource[] =>
  resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, custom: !r.type.startsWith("haha:") && r.type !== "pulumi:pulumi:Stack", parent: r.parent, dependencies: r.dependencies ?? [], inputs: r.props, secretInputs: r.secretInputs ?? [] }));

function plan(config: HahaConfig, resources: OfflineResource[] = stackOf(config)) {
  const ctx: PlanContext = { stack: "test", config, outDir: path.join(tempDir(), "test"), resources: recorded(resources) };
  const result = runPolicies(ctx);
  const report = JSON.parse(fs.readFileSync(path.join(ctx.outDir, "policy-report.json"), "utf8"));
  return { result, report, text: result.summary.join("\n"), ctx };
}

describe("runPolicies on prod", () => {
  const { result, report, text } = plan(prodConfig());

  it("is ok: every rule evaluated, none failing, the switch waived", () => {
    assert.equal(result.ok, true, text);
    assert.equal(report.ok, true);
    assert.deepEqual(report.rules.map((r: { name: string }) => r.name), [...POLICY_NAMES]);
    assert.equal(report.counts.fail, 0);
  });

  it("prints one line per rule with its result", () => {
    for (const name of POLICY_NAMES) assert.match(text, new RegExp(`^ {2}(PASS|WAIVED|ADVISORY) +${name} \\((mandatory|advisory)\\)`, "m"), name);
    assert.match(text, /^policies: pack haha 0\.1\.0, 18 rules evaluated: 13 pass, 2 waived, 3 advisory, 0 FAIL/m);
  });

  it("prints the waiver with its reason, and each failure domain's outcome", () => {
    assert.match(text, /WAIVED +network-bond-switch-diversity \(advisory\)\n +waived by haha:waivers\[0\] \(target nllei01sw01\), 3 finding\(s\)/);
    assert.match(text, /reason: One WS-C3850-12X48U serves the rack today/);
    assert.match(text, /failure domains:\n +- host nllei01pve01: survivable/);
    assert.equal(report.waivers[0].covers.length, 4);
    assert.equal(report.failureDomains.length, 4);
  });
});

describe("runPolicies on unsafe stacks", () => {
  it("is not ok with a two-host stack, and names rule, resource and fix", () => {
    const { result, report, text } = plan(hostsConfig(2));
    assert.equal(result.ok, false);
    assert.equal(report.ok, false);
    assert.match(text, /^ {2}FAIL +cluster-quorum \(mandatory\)\n +- \[cluster-quorum\] haha:pacemaker:Cib "cib": 2 voting members .*\n +fix: declare at least 3 cluster members/m);
    assert.match(text, /\[failure-domains\] failure domain host nllei01pve01 \(haha:stack:Declaration "haha"\): losing it breaks: cluster quorum lost/);
    const v = report.rules.find((r: { name: string }) => r.name === "cluster-quorum").violations[0];
    assert.deepEqual(v.resource, { urn: "urn:pulumi:prod::haha::pulumi:pulumi:Stack$haha:pacemaker:Cib::cib", type: "haha:pacemaker:Cib", name: "cib" });
    assert.ok(v.fix.length > 0);
  });

  it("is not ok with a USB stick on a guest", () => {
    const c = prodConfig();
    const { result, text } = plan(c, mutated(stackOf(c), "proxmoxve:index/vmLegacy:VmLegacy", "nllei01ha01-vm", (p) => (p.usbs = [{ host: "1a86:55d4" }])));
    assert.equal(result.ok, false);
    assert.match(text, /\[no-usb-passthrough\] proxmoxve:index\/vmLegacy:VmLegacy "nllei01ha01-vm": usbs\[0\] passes USB host device "1a86:55d4" to the VM/);
  });

  it("is ok with a violation of an advisory rule", () => {
    const c = mutatedConfig((raw) => (raw.waivers = []));
    const res = stackOf(c);
    const ctx: PlanContext = { stack: "t", config: c, outDir: tempDir(), resources: recorded(res) };
    // Without the waiver the switch fails the failure-domain analysis; lowered to advisory, only advisories remain.
    const r = runPolicies(ctx, { packConfig: { "failure-domains": "advisory" } });
    assert.equal(r.ok, true, r.summary.join("\n"));
    assert.match(r.summary.join("\n"), /ADVISORY +network-bond-switch-diversity/);
  });

  it("is not ok when a mandatory rule meets an unknown value (a preview would only warn)", () => {
    const c = prodConfig();
    const { result, text } = plan(c, mutated(stackOf(c), "haha:storage:ReplicatedStorage", "storage", (p) => (p.intent.replicas = "<unknown>")));
    assert.equal(result.ok, false);
    assert.match(text, /UNKNOWN +storage-replication \(mandatory\)\n +unknown at preview: .*\.intent\.replicas can't be known during preview/);
  });

  it("is not ok when the declaration does not carry haha:waivers as configured", () => {
    const c = prodConfig();
    const { result, text } = plan(c, mutated(stackOf(c), "haha:stack:Declaration", "haha", (p) => (p.waivers[0].target = "*")));
    assert.equal(result.ok, false);
    assert.match(text, /FAIL +plan: haha:stack:Declaration "haha" carries waivers .* but haha:waivers is/);
  });

  it("is not ok without a declaration: waivers would not reach the policies", () => {
    const c = prodConfig();
    const { result, text } = plan(c, stackOf(c).filter((r) => r.type !== "haha:stack:Declaration"));
    assert.equal(result.ok, false);
    assert.match(text, /the program declares no haha:stack:Declaration/);
  });
});

it("writes a byte-identical report for the same stack", () => {
  const a = plan(prodConfig());
  const b = plan(prodConfig());
  assert.equal(fs.readFileSync(path.join(a.ctx.outDir, "policy-report.json"), "utf8"), fs.readFileSync(path.join(b.ctx.outDir, "policy-report.json"), "utf8"));
});
