// cluster-quorum: three voting members on three hosts, an odd vote count, no host with half the
// votes, no-quorum-policy not ignore; and fail-closed when the cluster intent is missing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OfflineResource } from "../../policies/evaluate";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, hostsConfig, messages, mutated, rule, stackOf } from "./fixtures";

const RULE = "cluster-quorum";
const CIB = "haha:pacemaker:Cib";
const prod = stackOf(prodConfig());

function refused(resources: OfflineResource[], pattern: RegExp) {
  const ev = evaluate(resources);
  const r = rule(ev, RULE);
  assert.equal(r.status, "fail", "expected cluster-quorum to fail");
  assert.match(messages(ev, RULE), pattern);
  for (const v of r.violations) assert.ok(v.fix && v.fix.length > 10, `no fix in ${v.message}`);
}

describe(RULE, () => {
  it("passes on prod: three members, one vote each, on three hosts, no-quorum-policy stop", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a two-host stack: too few voting members and hosts, and an even vote count", () => {
    const two = stackOf(hostsConfig(2));
    refused(two, /haha:pacemaker:Cib "cib": 2 voting members \(nllei01ha01 and nllei01ha02\); losing one leaves no majority/);
    refused(two, /run on 2 Proxmox hosts/);
    refused(two, /votes add up to 2, an even number/);
  });

  it("refuses two members on one host", () => {
    refused(mutated(prod, CIB, "cib", (p) => (p.intent.members[2].host = "nllei01pve01")), /run on 2 Proxmox hosts \(nllei01pve01 and nllei01pve02\)/);
  });

  it("refuses an even vote count", () => {
    refused(mutated(prod, CIB, "cib", (p) => (p.intent.members[0].votes = 0)), /2 voting members/);
    refused(mutated(prod, CIB, "cib", (p) => p.intent.members.push({ name: "nllei01ha04", host: "nllei01pve04", votes: 1 })), /votes add up to 4, an even number/);
  });

  it("refuses a host holding half of the votes", () => {
    refused(mutated(prod, CIB, "cib", (p) => (p.intent.members[0].votes = 3)), /host nllei01pve01 holds 3 of 5 votes: losing it loses quorum/);
  });

  it("refuses no-quorum-policy ignore", () => {
    refused(stackOf(mutatedConfig((raw) => (raw.cluster.defaults.noQuorumPolicy = "ignore"))), /no-quorum-policy is "ignore".*Fix: set haha:cluster\.defaults\.noQuorumPolicy to stop/);
  });

  it("fails closed when the Cib declares no intent, or a malformed one, or there is no Cib", () => {
    refused(mutated(prod, CIB, "cib", (p) => delete p.intent), /haha:pacemaker:Cib "cib": declares no `intent` in its args or outputs, so quorum cannot be checked/);
    refused(mutated(prod, CIB, "cib", (p) => (p.intent.members[1].votes = "one")), /malformed intent: intent\.members\[1\]\.votes: expected number/);
    refused(prod.filter((r) => r.type !== CIB), /no haha:pacemaker:Cib component declares its intent/);
  });

  it("takes a stricter minimum from the pack config", () => {
    const ev = evaluate(prod, { [RULE]: { minVotingMembers: 5 } });
    assert.equal(rule(ev, RULE).status, "fail");
    assert.match(messages(ev, RULE), /declare at least 5 cluster members/);
  });
});
