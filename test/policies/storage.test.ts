// storage-replication: two diskful replicas on different hosts, protocol C, resource-and-stonith
// fencing with two primaries, DRBD quorum with a third node to make a majority.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OfflineResource } from "../../policies/evaluate";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";

const RULE = "storage-replication";
const STORAGE = "haha:storage:ReplicatedStorage";
const prod = stackOf(prodConfig());

function refused(resources: OfflineResource[], pattern: RegExp) {
  const ev = evaluate(resources);
  assert.equal(rule(ev, RULE).status, "fail", "expected storage-replication to fail");
  assert.match(messages(ev, RULE), pattern);
}

describe(RULE, () => {
  it("passes on prod: replicas on pve01 and pve02, tiebreaker on pve03, protocol C, resource-and-stonith, quorum majority", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a single diskful replica (all DRBD disks on one host)", () => {
    refused(stackOf(mutatedConfig((raw) => delete raw.nodes[1].drbdDisk)), /haha:storage:ReplicatedStorage "storage": 1 diskful DRBD replica on 1 host \(nllei01ha01 on nllei01pve01\): losing that host can lose the data/);
  });

  it("refuses two replicas on the same host", () => {
    refused(mutated(prod, STORAGE, "storage", (p) => (p.intent.replicas[1].host = "nllei01pve01")), /2 diskful DRBD replicas on 1 host/);
  });

  it("refuses an asynchronous protocol", () => {
    refused(stackOf(mutatedConfig((raw) => (raw.storage.drbd.protocol = "A"))), /DRBD protocol A acknowledges writes before the peer has them.*Fix: set haha:storage\.drbd\.protocol to C/);
  });

  it("refuses two primaries without resource-and-stonith fencing", () => {
    refused(stackOf(mutatedConfig((raw) => (raw.storage.drbd.fencing = "resource-only"))), /two primaries \(OCFS2\) with DRBD fencing "resource-only"/);
  });

  it("refuses DRBD quorum off", () => {
    refused(stackOf(mutatedConfig((raw) => (raw.storage.drbd.quorum = "off"))), /DRBD quorum is off/);
  });

  it("refuses quorum majority without a third DRBD node", () => {
    refused(mutated(prod, STORAGE, "storage", (p) => (p.intent.diskless = [])), /DRBD quorum majority over 2 hosts \(nllei01pve01 and nllei01pve02\): losing one leaves no majority/);
  });

  it("fails closed without a storage intent", () => {
    refused(mutated(prod, STORAGE, "storage", (p) => (p.intent = null)), /"storage": declares no `intent`/);
  });

  it("takes a higher replica count from the pack config", () => {
    const ev = evaluate(prod, { [RULE]: { enforcementLevel: "mandatory", minReplicas: 3 } });
    assert.match(messages(ev, RULE), /give at least 3 members on different Proxmox hosts a DRBD disk/);
  });
});
