// How the namespace lab spreads its rounds over its clusters (labs/ns/schedule.ts): one queue, a
// cluster takes rounds as soon as it is up, a round a cluster could not run goes to another.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runQueue } from "../../../labs/ns/schedule";

/** A promise the test resolves (or rejects) when it wants. */
function later() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const p = new Promise<void>((a, b) => ((resolve = a), (reject = b)));
  return { p, resolve, reject };
}
const tick = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe("runQueue: the lab's rounds over its clusters", () => {
  it("a cluster that is up takes rounds while another is still coming up, in the queue's order", async () => {
    const ups = new Map([["c1", later()], ["c2", later()]]);
    const ran: string[] = [];
    let allUp = 0;
    const done = runQueue(["c1", "c2"], ["long", "mid", "short"], {
      up: (c) => ups.get(c)!.p,
      ready: Promise.resolve(),
      allUp: () => void allUp++,
      round: async (c, u) => {
        ran.push(`${c}:${u}`);
        return { usable: true };
      },
    });
    ups.get("c1")!.resolve();
    await tick();
    assert.deepEqual(ran, ["c1:long", "c1:mid", "c1:short"], "c1 ran everything while c2 came up");
    assert.equal(allUp, 0);
    ups.get("c2")!.resolve();
    assert.deepEqual(await done, []);
    assert.equal(allUp, 1);
  });

  it("no round before the plan is ready", async () => {
    const ready = later();
    const ran: string[] = [];
    const done = runQueue(["c1"], ["a"], { up: async () => undefined, ready: ready.p, round: async (_c, u) => (ran.push(u), { usable: true }) });
    await tick();
    assert.deepEqual(ran, []);
    ready.resolve();
    await done;
    assert.deepEqual(ran, ["a"]);
  });

  it("a round a cluster could not run goes back to the queue for another; the broken cluster takes no more", async () => {
    const ran: string[] = [];
    const broke: string[] = [];
    const gate = later();
    const left = await runQueue(["bad", "good"], ["r1", "r2", "r3"], {
      up: async (c) => (c === "good" ? gate.p : undefined),
      ready: Promise.resolve(),
      broke: (c, why) => broke.push(`${c}: ${why}`),
      round: async (c, u) => {
        if (c === "bad") {
          gate.resolve();
          return { usable: false, reason: "does not settle" };
        }
        ran.push(u);
        return { usable: true };
      },
    });
    assert.deepEqual(broke, ["bad: does not settle"]);
    assert.deepEqual(ran, ["r1", "r2", "r3"]);
    assert.deepEqual(left, []);
  });

  it("what no cluster could run is returned", async () => {
    const left = await runQueue(["c1"], ["r1", "r2"], { up: async () => undefined, ready: Promise.resolve(), round: async () => ({ usable: false, reason: "x" }) });
    assert.deepEqual(left, ["r1", "r2"]);
  });

  it("a bring-up that fails fails the run", async () => {
    await assert.rejects(runQueue(["c1"], ["r1"], { up: async () => Promise.reject(new Error("c1: haha-cib-push failed")), ready: Promise.resolve(), round: async () => ({ usable: true }) }), /haha-cib-push failed/);
  });
});
