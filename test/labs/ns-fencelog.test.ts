// The namespace lab reads "fencing confirmed" from the fencers' own log lines (labs/ns/fencelog.ts):
// every fencing of a member counts, a failure or another target does not, and the time is the
// line's own.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fenceConfirmations, fenceFailures, logLineTime, LogTail } from "../../labs/ns/fencelog";

// Lines as Pacemaker 2.1.5's fencer and controller write them (from a lab member's pacemaker.log).
const OK1 = "Dec 02 18:24:52.178 nllei01ha01 pacemaker-fenced    [1088] (finalize_op) \tnotice: Operation 'reboot' targeting nllei01ha03 by nllei01ha01 for pacemaker-controld.1092@nllei01ha01: OK (complete) | id=5e66b5bb";
const OK2 = "Dec 02 18:42:27.790 nllei01ha01 pacemaker-fenced    [795] (finalize_op) \tnotice: Operation 'reboot' targeting nllei01ha03 by nllei01ha02 for pacemaker-controld.797@nllei01ha02: OK (complete) | id=5b49a0ee";
const OTHER = "Dec 02 18:42:40.314 nllei01ha01 pacemaker-fenced    [795] (finalize_op) \tnotice: Operation 'reboot' targeting nllei01ha02 by nllei01ha01 for pacemaker-controld.799@nllei01ha01: OK (complete) | id=834cb925";
const FAILED = "Dec 02 18:24:49.214 nllei01ha01 pacemaker-controld  [1092] (tengine_stonith_callback) \tnotice: Fence operation 6 for nllei01ha03 failed: Agent returned error (aborting transition)";
const NEAR = new Date(2026, 11, 2, 18, 30).getTime();

describe("lab ns: fencing read from the fencers' logs", () => {
  it("reads a log line's own time (local, the year of the fault)", () => {
    assert.equal(logLineTime(OK1, NEAR), new Date(2026, 11, 2, 18, 24, 52, 178).getTime());
    assert.equal(logLineTime("garbage", NEAR), undefined);
    // A line of Dec 31 read on Jan 1 is of the year before.
    assert.equal(logLineTime("Dec 31 23:59:59.000 h x", new Date(2027, 0, 1, 0, 0, 5).getTime()), new Date(2026, 11, 31, 23, 59, 59).getTime());
  });

  it("counts every successful fencing of the target, not only the latest, and nothing else", () => {
    const lines = [FAILED, OK1, OTHER, OK2];
    assert.deepEqual(fenceConfirmations(lines, "nllei01ha03", NEAR), [logLineTime(OK1, NEAR), logLineTime(OK2, NEAR)]);
    assert.deepEqual(fenceConfirmations(lines, "nllei01ha02", NEAR), [logLineTime(OTHER, NEAR)]);
    assert.deepEqual(fenceConfirmations(lines, "nllei01ha0", NEAR), []);
    assert.deepEqual(fenceFailures(lines, "nllei01ha03", NEAR), [logLineTime(FAILED, NEAR)]);
  });

  it("a tail sees only what was appended after it was made, whole lines only", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ns4-fencelog-"));
    try {
      const f = path.join(dir, "pacemaker.log");
      fs.writeFileSync(f, `${OK1}\n`);
      const tail = new LogTail(f, /Operation/);
      assert.deepEqual(tail.read(), []);
      fs.appendFileSync(f, `${FAILED}\n${OK2.slice(0, 40)}`);
      assert.deepEqual(tail.read(), []);
      fs.appendFileSync(f, `${OK2.slice(40)}\n`);
      assert.deepEqual(tail.read(), [OK2]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
