// The lab's "home network" client (labs/ns/probe.ts) in a namespace of its own: it probes only
// from a fault ("go") until the round ends ("rest"), and times an outage from the fault.
import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { after, before, describe, it } from "node:test";
import { Probe } from "../../../labs/ns/probe";

const NS = "ns5-probe-test";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// As root (network namespaces), as the lab itself.
describe("lab ns probe", () => {
  let server: ReturnType<typeof spawn> | undefined;
  const hits: number[] = [];
  before(async () => {
    execFileSync("ip", ["netns", "add", NS]);
    execFileSync("ip", ["-n", NS, "link", "set", "lo", "up"]);
    // Node-RED's stand-in: answers each GET with the status the test sets (via stdin), logs each hit.
    const src = `const http=require("http");let code=200;require("readline").createInterface({input:process.stdin}).on("line",(l)=>code=Number(l));http.createServer((q,r)=>{console.log("hit");r.statusCode=code;r.end();}).listen(18800,"127.0.0.1",()=>console.log("up"));`;
    server = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", src], { stdio: ["pipe", "pipe", "inherit"] });
    const up = new Promise<void>((resolve) => readline.createInterface({ input: server?.stdout as NodeJS.ReadableStream }).on("line", (l) => (l === "up" ? resolve() : hits.push(Date.now()))));
    await up;
  });
  after(() => {
    server?.kill("SIGKILL");
    execFileSync("ip", ["netns", "del", NS]);
  });
  const setAnswer = (code: number) => server?.stdin?.write(`${code}\n`);

  it("asks nothing before the fault nor after the round; times the outage from the fault", async () => {
    const p = new Probe(NS, path.resolve(__dirname, "../../.."), { vip: "127.0.0.1", http: { port: 18800 } });
    try {
      await p.ready();
      await sleep(700);
      assert.equal(hits.length, 0, "probed before any fault");
      setAnswer(500);
      const t0 = Date.now();
      p.go(t0);
      await sleep(600);
      assert.ok(hits.length > 0, "not probing after go");
      setAnswer(200);
      await sleep(600);
      const r = await p.get();
      assert.equal(r.failed.nodered, true);
      const back = r.back.nodered as number;
      assert.ok(back >= 600 && back < 1200, `back ${back} ms after the fault`);
      p.rest();
      await sleep(400);
      const n = hits.length;
      await sleep(700);
      assert.equal(hits.length, n, "still probing after rest");
      // What was measured stays readable after rest.
      assert.equal((await p.get()).back.nodered, back);
    } finally {
      p.stop();
    }
  });
});
