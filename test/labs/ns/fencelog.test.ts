// When the controller asked for a fencing (labs/ns/fencelog.ts fenceRequests), which splits a
// fencing's time in the lab's report; confirmations and failures: test/labs/ns-fencelog.test.ts.
// Lines are Pacemaker 2.1.5's, as the lab's members wrote them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fenceConfirmations, fenceRequests, logLineTime } from "../../../labs/ns/fencelog";

const near = new Date(2026, 11, 3, 1, 23, 0).getTime();
const LOG = [
  "Dec 03 01:23:46.643 nllei01ha01 pacemaker-controld  [1128] (controld_execute_fence_action) \tnotice: Requesting fencing (reboot) of node nllei01ha03 | action=1 timeout=60000",
  "Dec 03 01:23:46.647 nllei01ha01 pacemaker-fenced    [1124] (initiate_remote_stonith_op) \tnotice: Requesting peer fencing (reboot) targeting nllei01ha03 | id=66948d31 state=querying base_timeout=60",
  "Dec 03 01:23:47.099 nllei01ha01 pacemaker-fenced    [1124] (finalize_op) \tnotice: Operation 'reboot' targeting nllei01ha03 by nllei01ha01 for pacemaker-controld.1128@nllei01ha01: OK (complete) | id=66948d31",
  "Dec 03 01:23:50.001 nllei01ha01 pacemaker-controld  [1128] (controld_execute_fence_action) \tnotice: Requesting fencing (reboot) of node nllei01ha033 | action=1 timeout=60000",
];

describe("fencelog: fencing read from the members' Pacemaker logs", () => {
  it("the controller's request for a fencing, by target (not the fencer's peer request, not a longer name)", () => {
    assert.deepEqual(fenceRequests(LOG, "nllei01ha03", near), [logLineTime(LOG[0] as string, near)]);
    assert.deepEqual(fenceRequests(LOG, "nllei01ha02", near), []);
  });
  it("the request comes before the confirmation, both in the log's own time", () => {
    const asked = fenceRequests(LOG, "nllei01ha03", near)[0] as number;
    const done = fenceConfirmations(LOG, "nllei01ha03", near)[0] as number;
    assert.equal(done - asked, 456);
  });
});
