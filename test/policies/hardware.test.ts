// node-bound-hardware: PCI passthrough only for DRBD replicas (replicated across hosts) or for
// what is declared non-critical; fixtures, then raw VMs declared under Pulumi mocks.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { OfflineResource } from "../../policies/evaluate";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";
import { recordRaw } from "./raw";

const RULE = "node-bound-hardware";
const prod = stackOf(prodConfig());
const VM = "proxmoxve:index/vmLegacy:VmLegacy";

const failsWith = (resources: OfflineResource[], pattern: RegExp, resource: string) => {
  const r = rule(evaluate(resources), RULE);
  assert.equal(r.status, "fail", "expected a violation");
  const v = r.violations.find((x) => x.resource?.name === resource);
  assert.ok(v, `no violation on ${resource}: ${messages(evaluate(resources), RULE)}`);
  assert.match(v.message, pattern);
};

describe(`${RULE} on the prod stack`, () => {
  it("passes: NVMe disks go to the two DRBD replicas, the GPU to the non-critical voice guest", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a PCI device on the diskless tiebreaker, whose component declares no purpose", () => {
    failsWith(mutated(prod, VM, "nllei01ha03-vm", (p) => (p.hostpcis = [{ device: "hostpci0", mapping: "gpu-pve03" }])), /passes PCI device gpu-pve03 through .* no component declares why/, "nllei01ha03-vm");
  });

  it("refuses a cluster guest that calls its passthrough non-critical", () => {
    failsWith(mutated(prod, "haha:proxmox:ClusterGuest", "nllei01ha01", (p) => (p.intent.pciPurpose = "non-critical")), /every cluster member is critical/, "nllei01ha01-vm");
  });

  it("refuses a DRBD disk on a member that is not a storage replica", () => {
    failsWith(
      mutated(prod, "haha:storage:ReplicatedStorage", "storage", (p) => (p.intent.replicas = p.intent.replicas.filter((r: { member: string }) => r.member !== "nllei01ha02"))),
      /member nllei01ha02 is not among the storage replicas \(nllei01ha01\)/,
      "nllei01ha02-vm",
    );
  });

  it("refuses DRBD disks when the replicas all sit on one host (not replicated across hosts)", () => {
    failsWith(
      mutated(prod, "haha:storage:ReplicatedStorage", "storage", (p) => p.intent.replicas.forEach((r: { host: string }) => (r.host = "nllei01pve01"))),
      /replicated on 1 host only \(nllei01pve01\)/,
      "nllei01ha01-vm",
    );
  });

  it("refuses the voice GPU once its owner no longer declares it non-critical", () => {
    failsWith(mutated(prod, "haha:services:VoiceAssistant", "voice", (p) => delete p.intent.pciPurpose), /no component declares why/, "nllei01llm01-vm");
  });
});

describe(`${RULE} on raw VMs declared under Pulumi mocks`, () => {
  let raw: OfflineResource[];
  before(async () => {
    raw = await recordRaw(() => {
      new proxmox.VmLegacy("bare-gpu-vm", { nodeName: "nllei01pve03", vmId: 950, hostpcis: [{ device: "hostpci0", mapping: "gpu-pve03" }] });
      const owner = new pulumi.ComponentResource("haha:services:VoiceAssistant", "voice", { intent: { pciPurpose: "non-critical" } });
      new proxmox.VmLegacy("voice-gpu-vm", { nodeName: "nllei01pve03", vmId: 951, hostpcis: [{ device: "hostpci0", mapping: "gpu-pve03" }] }, { parent: owner });
    });
  });

  it("refuses the VM nobody vouches for, accepts the one under a non-critical owner", () => {
    const r = rule(evaluate(raw), RULE);
    assert.deepEqual(r.violations.map((v) => v.resource?.name), ["bare-gpu-vm"]);
    assert.match(r.violations[0]!.message, /gpu-pve03 .* no component declares why .*Fix: remove the passthrough, or declare intent\.pciPurpose/);
  });
});
