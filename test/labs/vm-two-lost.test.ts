// The two-of-three-lost verdict (labs/vm/two-lost.ts) on the samples a survivor gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TwoLostJudge, type TwoLostSample } from "../../labs/vm/two-lost";
import type { CrmView } from "../../labs/vm/scenarios";

const view = (online: string[], quorate: boolean, active: Record<string, string[]>): CrmView => ({ online, quorate, active: new Map(Object.entries(active)), failed: [] });
const before = view(["labha01", "labha02", "labha03"], true, { "services-vip": ["labha03"], mosquitto: ["labha03"], "nfs-server": ["labha01"], "fence-pve-labha01": ["labha03"] });
const sample = (s: Partial<TwoLostSample>): TwoLostSample => ({ boot: 0, drbdPrimary: false, containers: [], vipUp: false, ...s });

test("two-lost: the stale pre-fault view is not judged (run 8's false alarm)", () => {
  const j = new TwoLostJudge("labha03");
  j.observe(sample({ view: before, containers: ["mosquitto"], vipUp: true }));
  assert.deepEqual([...j.problems], []);
});

test("two-lost: what ran before and is still stopping once alone is not a start; the reset boot starting nothing passes", () => {
  const j = new TwoLostJudge("labha03");
  j.observe(sample({ view: before, containers: ["mosquitto"], vipUp: true }));
  j.observe(sample({ view: view(["labha03"], false, { "services-vip": ["labha03"], mosquitto: ["labha03"] }), containers: ["mosquitto"], vipUp: true }));
  j.observe(sample({ view: view(["labha03"], false, {}), containers: [] }));
  j.observe(sample({ boot: 1, view: view(["labha03"], false, {}) }));
  assert.deepEqual([...j.problems], []);
});

test("two-lost: a resource that starts once the survivor is alone fails the scenario", () => {
  const j = new TwoLostJudge("labha03");
  j.observe(sample({ view: view(["labha03"], false, { mosquitto: ["labha03"] }) }));
  j.observe(sample({ view: view(["labha03"], false, { mosquitto: ["labha03"], "nfs-server": ["labha03"] }) }));
  assert.deepEqual([...j.problems], ["started without quorum: nfs-server"]);
});

test("two-lost: anything active, running, Primary or holding a VIP in a boot after the reset started without quorum", () => {
  const j = new TwoLostJudge("labha03");
  j.observe(sample({ view: view(["labha03"], false, { mosquitto: ["labha03"] }), containers: ["mosquitto"] }));
  j.observe(sample({ boot: 1, view: view(["labha03"], false, { mosquitto: ["labha03"] }), containers: ["mosquitto"], drbdPrimary: true, vipUp: true }));
  assert.deepEqual([...j.problems].sort(), ["a DRBD replica is Primary alone", "a VIP came up on the survivor without quorum", "containers started without quorum: mosquitto", "started without quorum: mosquitto"]);
});

test("two-lost: quorum claimed alone in two samples in a row fails; one transient sample does not", () => {
  const once = new TwoLostJudge("labha03");
  once.observe(sample({ view: view(["labha03"], true, {}) }));
  once.observe(sample({ view: view(["labha03"], false, {}) }));
  assert.deepEqual([...once.problems], []);
  const twice = new TwoLostJudge("labha03");
  twice.observe(sample({ view: view(["labha03"], true, {}) }));
  twice.observe(sample({ view: view(["labha03"], true, {}) }));
  assert.deepEqual([...twice.problems], ["labha03 alone claims quorum"]);
});
