// storage-replication: two diskful replicas on different hosts, protocol C, resource-and-stonith
// fencing with two primaries; DRBD 9: DRBD quorum with a third node to make a majority; DRBD 8.4
// (no DRBD quorum): resource-and-stonith always, at most two replicas.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OfflineResource } from "../../policies/evaluate";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";

const RULE = "storage-replication";
const STORAGE = "haha:storage:ReplicatedStorage";
const prod = stackOf(prodConfig());
const v9 = (more: (raw: Record<string, any>) => void = () => undefined) =>
  mutatedConfig((raw) => {
    raw.storage.drbd.version = "9";
    more(raw);
  });
const prod9 = stackOf(v9());

function refused(resources: OfflineResource[], pattern: RegExp) {
  const ev = evaluate(resources);
  assert.equal(rule(ev, RULE).status, "fail", "expected storage-replication to fail");
  assert.match(messages(ev, RULE), pattern);
}

describe(RULE, () => {
  it("passes on prod (DRBD 8.4): replicas on pve01 and pve02, protocol C, resource-and-stonith, no DRBD quorum", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("passes on prod with DRBD 9: tiebreaker on pve03, quorum majority", () => {
    assert.equal(rule(evaluate(prod9), RULE).status, "pass", messages(evaluate(prod9), RULE));
  });

  it("refuses DRBD 8.4 with one primary and fencing short of resource-and-stonith (it has no quorum to stop a cut-off replica)", () => {
    refused(
      mutated(prod, STORAGE, "storage", (p) => {
        p.intent.allowTwoPrimaries = false;
        p.intent.fencing = "resource-only";
      }),
      /DRBD 8\.4 has no quorum of its own and fencing is "resource-only".*Fix: set haha:storage\.drbd\.fencing to resource-and-stonith/,
    );
  });

  it("refuses DRBD 8.4 with three replicas", () => {
    refused(
      mutated(prod, STORAGE, "storage", (p) => p.intent.replicas.push({ member: "nllei01ha03", host: "nllei01pve03" })),
      /3 diskful replicas with DRBD 8\.4, which connects two hosts per resource/,
    );
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
    refused(stackOf(v9((raw) => (raw.storage.drbd.quorum = "off"))), /DRBD quorum is off/);
  });

  it("refuses DRBD 9 quorum majority without a third DRBD node", () => {
    refused(mutated(prod9, STORAGE, "storage", (p) => (p.intent.diskless = [])), /DRBD quorum majority over 2 hosts \(nllei01pve01 and nllei01pve02\): losing one leaves no majority/);
  });

  it("fails closed without a storage intent", () => {
    refused(mutated(prod, STORAGE, "storage", (p) => (p.intent = null)), /"storage": declares no `intent`/);
  });

  it("takes a higher replica count from the pack config", () => {
    const ev = evaluate(prod, { [RULE]: { enforcementLevel: "mandatory", minReplicas: 3 } });
    assert.match(messages(ev, RULE), /give at least 3 members on different Proxmox hosts a DRBD disk/);
  });
});
