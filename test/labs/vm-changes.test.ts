// The rehearsal lab's changed-config phase, without a cluster: every change is an edit of the lab
// stack that the real config schema accepts and that changes the config as its title says, and
// the checks on what an apply executed fail when a step outside the change ran, when one it must
// run did not, and when two applies that must be one member at a time overlapped.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { labChanges, sequential, stepsAsExpected, type Applied, type StackDoc } from "../../labs/vm/changes";
import type { StepRecord } from "../../labs/vm/deploy";
import { parseConfig } from "../../stacks/config/validate";
import { ROOT } from "../helpers/config";

const file = path.join(ROOT, "Pulumi.lab-vm.yaml");
const labDoc = () => parseYaml(fs.readFileSync(file, "utf8")) as StackDoc;
// What readStackFile hands parseConfig: the haha:* keys without their namespace.
const raw = (doc: StackDoc) => Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(doc.config)) as Record<string, unknown>).map(([k, v]) => [k.replace(/^haha:/, ""), v]));
const labConfig = () => parseConfig(raw(labDoc()), file);

test("each lab change, applied on top of the previous ones, is a stack the config schema accepts, changing what it says", () => {
  const c = labConfig();
  const doc = labDoc();
  const changes = labChanges(c);
  assert.equal(changes.length, 4);
  const seen: ReturnType<typeof parseConfig>[] = [];
  for (const ch of changes) {
    ch.mutate(doc);
    seen.push(parseConfig(raw(doc), `${file} + ${ch.title}`));
  }
  const [acl, cib, drbd, sbd] = seen as [ReturnType<typeof parseConfig>, ReturnType<typeof parseConfig>, ReturnType<typeof parseConfig>, ReturnType<typeof parseConfig>];
  assert.deepEqual(acl.services.mosquitto.clients, [...c.services.mosquitto.clients, "labclient"]);
  assert.equal(cib.cluster.defaults.failureTimeoutS, c.cluster.defaults.failureTimeoutS + 60);
  assert.notEqual(drbd.storage.drbd.resyncRateMiB, c.storage.drbd.resyncRateMiB);
  assert.equal(sbd.cluster.fencing.watchdog.timeoutS, c.cluster.fencing.watchdog.timeoutS + 10);
  // Cumulative: the last stack still carries the first change.
  assert.ok(sbd.services.mosquitto.clients.includes("labclient"));
});

const rec = (name: string, startedAt: number, endedAt: number): StepRecord => ({ n: 0, host: "h", name, action: "update", seconds: (endedAt - startedAt) / 1000, startedAt, endedAt, exitCode: 0, output: "" });

test("one member at a time: overlapping applies fail, back-to-back ones pass", () => {
  const re = /-sbd-apply$/;
  assert.equal(sequential([rec("cluster-a-sbd-apply", 0, 10_000), rec("cluster-b-sbd-apply", 10_000, 20_000), rec("cluster-c-sbd-apply", 21_000, 30_000)], re).ok, true);
  const bad = sequential([rec("cluster-a-sbd-apply", 0, 10_000), rec("cluster-b-sbd-apply", 5_000, 20_000)], re);
  assert.equal(bad.ok, false);
  assert.match(bad.evidence, /cluster-b-sbd-apply started before cluster-a-sbd-apply ended/);
  // A single run proves nothing about "one at a time".
  assert.equal(sequential([rec("cluster-a-sbd-apply", 0, 1)], re).ok, false);
});

test("the steps an apply ran: exactly the engine's diff, each required one, nothing outside the layer", () => {
  const ch = { mustRun: [/acl-write$/, /mosquitto-apply-run$/], only: /mosquitto/ };
  const applied = (names: string[], expected = names): Applied => ({ expected, result: { planned: 9, executed: names.map((n) => rec(n, 0, 1)) } });
  assert.deepEqual(stepsAsExpected(ch, applied(["x-mosquitto-config-acl-write", "x-mosquitto-apply-run"])), { ok: true, problems: [] });
  assert.match(stepsAsExpected(ch, applied(["x-mosquitto-config-acl-write"])).problems.join(), /no step matching \/mosquitto-apply-run\$\/ re-ran/);
  assert.match(stepsAsExpected(ch, applied(["x-mosquitto-config-acl-write", "x-mosquitto-apply-run", "cib-a-cib-apply"])).problems.join(), /outside \/mosquitto\/ re-ran: cib-a-cib-apply/);
  assert.match(stepsAsExpected(ch, applied(["x-mosquitto-config-acl-write", "x-mosquitto-apply-run"], ["x-mosquitto-config-acl-write"])).problems.join(), /the engine's diff named 1 step\(s\), 2 ran/);
});
