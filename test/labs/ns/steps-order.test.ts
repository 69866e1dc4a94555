// The lab runs the services' steps as the program's resource graph orders them (labs/ns/plan.ts).
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { inProgramOrder } from "../../../labs/ns/plan";

/** A run whose steps finish when the test releases them, recording what started and finished. */
function gate() {
  const events: string[] = [];
  const release = new Map<string, (err?: Error) => void>();
  const run = (id: string) =>
    new Promise<void>((resolve, reject) => {
      events.push(`start ${id}`);
      release.set(id, (err) => {
        events.push(`end ${id}`);
        if (err) reject(err);
        else resolve();
      });
    });
  return { events, release, run };
}
const tick = () => new Promise((r) => setImmediate(r));

describe("lab ns: the services' steps in the program's order", () => {
  it("independent services start together; a dependent one only after its dependency", async () => {
    const g = gate();
    const done = inProgramOrder(["mosquitto", "recorder", "zigbee2mqtt", "nodered"], { zigbee2mqtt: ["mosquitto"] }, g.run);
    await tick();
    assert.deepEqual(g.events, ["start mosquitto", "start recorder", "start nodered"]);
    g.release.get("recorder")?.();
    await tick();
    assert.ok(!g.events.includes("start zigbee2mqtt"), "zigbee2mqtt must wait for mosquitto");
    g.release.get("mosquitto")?.();
    await tick();
    assert.equal(g.events.at(-1), "start zigbee2mqtt");
    g.release.get("zigbee2mqtt")?.();
    g.release.get("nodered")?.();
    await done;
  });

  it("a dependency the lab does not run is not waited for", async () => {
    const g = gate();
    const done = inProgramOrder(["nodered", "homeassistant"], { homeassistant: ["recorder"] }, g.run);
    await tick();
    assert.deepEqual(g.events, ["start nodered", "start homeassistant"]);
    g.release.get("nodered")?.();
    g.release.get("homeassistant")?.();
    await done;
  });

  it("a failure is thrown after every started service ended, and its dependents never start", async () => {
    const g = gate();
    const done = inProgramOrder(["mosquitto", "nodered", "zigbee2mqtt"], { zigbee2mqtt: ["mosquitto"] }, g.run);
    await tick();
    g.release.get("mosquitto")?.(new Error("apply of mosquitto failed"));
    let settled = false;
    const caught = done.then(
      () => new Error("no failure thrown"),
      (e: Error) => ((settled = true), e),
    );
    await tick();
    assert.equal(settled, false, "nodered still runs: not thrown yet");
    g.release.get("nodered")?.();
    assert.match((await caught).message, /apply of mosquitto failed/);
    assert.ok(!g.events.includes("start zigbee2mqtt"));
  });

  it("a dependency listed after its dependent is an error, before anything runs", async () => {
    const g = gate();
    await assert.rejects(inProgramOrder(["zigbee2mqtt", "mosquitto"], { zigbee2mqtt: ["mosquitto"] }, g.run), /zigbee2mqtt starts after mosquitto, which come later/);
    assert.deepEqual(g.events, []);
  });
});
