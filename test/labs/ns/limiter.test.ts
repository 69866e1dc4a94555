// The namespace lab's bring-up lets at most N clusters run the program's service steps at once
// (labs/ns/main.ts Limiter): five clusters' first starts at once outlasted the apply steps' waits.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Limiter } from "../../../labs/ns/main";

const tick = () => new Promise((r) => setImmediate(r));

describe("Limiter: at most n holders, served in the order they asked", () => {
  it("holds the third of two until one releases, then serves the waiters in order", async () => {
    const l = new Limiter(2);
    const order: string[] = [];
    let inside = 0;
    let most = 0;
    const job = async (name: string, gate: Promise<void>) => {
      const release = await l.acquire();
      inside++;
      most = Math.max(most, inside);
      order.push(`${name} in`);
      await gate;
      inside--;
      release();
    };
    const gates = new Map<string, () => void>();
    const gate = (n: string) => new Promise<void>((r) => gates.set(n, r));
    const runs = ["a", "b", "c", "d"].map((n) => job(n, gate(n)));
    await tick();
    assert.deepEqual(order, ["a in", "b in"]);
    gates.get("b")!();
    await tick();
    await tick();
    assert.deepEqual(order, ["a in", "b in", "c in"]);
    gates.get("a")!();
    gates.get("c")!();
    gates.get("d")!();
    await Promise.all(runs);
    assert.deepEqual(order, ["a in", "b in", "c in", "d in"]);
    assert.equal(most, 2);
  });

  it("a second release of the same hold frees nothing more", async () => {
    const l = new Limiter(1);
    const r1 = await l.acquire();
    r1();
    r1();
    const r2 = await l.acquire();
    let third = false;
    void l.acquire().then(() => (third = true));
    await tick();
    assert.equal(third, false, "one holder at a time, a double release notwithstanding");
    r2();
    await tick();
    assert.equal(third, true);
  });

  it("refuses a limit below 1", () => {
    assert.throws(() => new Limiter(0), /0: expected a whole number >= 1/);
  });
});
