// The machinery that makes the plan fast (never its speed: timings belong to npm run bench).
// The failover simulation runs in a worker thread: the same report as in the main thread. Its
// phase timings are written where HAHA_PLAN_TIMING says. A failover report is cached and shared
// under a key that changes with everything that decides it, and a report another plan of the
// same inputs published (HAHA_PLAN_SHARE) is used instead of simulating again.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { primitives } from "../../components/pacemaker/cib/model";
import { stackCibModel } from "../../components/pacemaker/cib/stack";
import { renderCib } from "../../components/pacemaker/cib/serialize";
import { earlyFor, startEarlyFailover } from "../../plan/early";
import { failoverKey, type FailoverJob, failoverOutcome, type FailoverReport } from "../../plan/failover";
import type { Timing } from "../../plan/timing";
import { mutatedConfig, prodConfig, ROOT } from "../helpers/config";
import { PlanRun, runPlanCli, tempDir } from "../helpers/plan";

const PROD = ["--stack", "prod"];
// The two plans write to their own directories: their names are the one difference allowed.
const withoutPaths = (s: string) => s.replace(/haha-speed-(worker|thread)-\w+/g, "OUT").split("\n");

describe("the failover step in its worker thread", () => {
  const outWorker = tempDir("haha-speed-worker-");
  const outThread = tempDir("haha-speed-thread-");
  const timingFile = path.join(tempDir("haha-speed-timing-"), "timing.json");
  let worker: PlanRun;
  let thread: PlanRun;
  before(() => {
    worker = runPlanCli([...PROD, "--out", outWorker], { HAHA_PLAN_CACHE: "off", HAHA_PLAN_TIMING: timingFile });
    thread = runPlanCli([...PROD, "--out", outThread], { HAHA_PLAN_CACHE: "off", HAHA_PLAN_WORKER: "off" });
  });

  it("prints the plan of the main thread, word for word, and writes the same scenarios", () => {
    assert.equal(worker.status, 0, worker.stdout + worker.stderr);
    assert.equal(thread.status, 0, thread.stdout + thread.stderr);
    assert.deepEqual(withoutPaths(worker.stdout), withoutPaths(thread.stdout));
    const list = (out: string) => fs.readdirSync(path.join(out, "prod", "failover")).sort();
    assert.deepEqual(list(outWorker), list(outThread));
    for (const f of list(outWorker)) {
      assert.equal(fs.readFileSync(path.join(outWorker, "prod", "failover", f), "utf8"), fs.readFileSync(path.join(outThread, "prod", "failover", f), "utf8"), f);
    }
  });

  it("writes its phases where HAHA_PLAN_TIMING says, with the worker's crm_simulate runs counted", () => {
    const t = JSON.parse(fs.readFileSync(timingFile, "utf8")) as Timing;
    assert.deepEqual(
      t.phases.map((p) => p.phase),
      ["start-up (node, tsx, imports)", "config validation", "program under mocks", "record and mirror files", "policies", "failover (waiting for it)", "summary and report.html"],
    );
    for (const p of t.phases) assert.ok(p.wallMs >= 0 && p.cpuMs >= 0, JSON.stringify(p));
    const scenarios = JSON.parse(fs.readFileSync(path.join(outWorker, "prod", "failover", "summary.json"), "utf8")).scenarios.length as number;
    assert.ok((t.tools.crm_simulate?.runs ?? 0) >= scenarios, `crm_simulate ran ${t.tools.crm_simulate?.runs} times for ${scenarios} scenarios`);
    assert.deepEqual(t.marks.map((m) => m.mark), ["failover job handed to the worker", "failover worker answered"]);
    // Handed over before the program's modules were loaded (plan/early.ts): the simulation
    // overlaps their loading and the program's run.
    const startUp = t.phases[0]!.wallMs;
    assert.ok(t.marks[0]!.atMs <= startUp, `job handed over at ${t.marks[0]!.atMs} ms, the modules were loaded at ${startUp} ms`);
  });

  it("prints no timing and writes no file without HAHA_PLAN_TIMING", () => {
    assert.doesNotMatch(thread.stderr, /plan timing/);
  });
});

describe("the failover step started from the stack file alone (plan/early.ts)", () => {
  it("starts on the CIB config renders, and only from a complete, valid stack file", async () => {
    const early = startEarlyFailover(path.join(ROOT, "Pulumi.prod.yaml"));
    assert.ok(early, "no early start for prod");
    assert.equal(early.failover.cibXml, renderCib(stackCibModel(prodConfig())));
    // The plan read the same file again: the same run is taken.
    assert.equal(await earlyFor(early, structuredClone(early.config)), early.failover);
    const o = await early.failover.outcome;
    assert.ok("report" in o && o.report.ok, JSON.stringify(o).slice(0, 300));

    const dir = tempDir("haha-speed-early-");
    assert.equal(startEarlyFailover(path.join(dir, "absent.yaml")), undefined);
    const invalid = path.join(dir, "Pulumi.invalid.yaml");
    const prod = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    const bogus = prod.replace(/^config:\n/m, "config:\n  haha:bogus: 1\n");
    assert.notEqual(bogus, prod);
    fs.writeFileSync(invalid, bogus);
    assert.equal(startEarlyFailover(invalid), undefined);
  });

  it("loads no Pulumi SDK (or the early start would wait for it)", () => {
    const probe = `require(${JSON.stringify(path.join(ROOT, "plan/early.ts"))}); const sdk = Object.keys(require.cache).filter((f) => f.includes("/node_modules/@pulumi/")); console.log(JSON.stringify(sdk));`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", probe], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), []);
  });

  it("is let end, and not used, when the plan's config is not the one it started with", async () => {
    const early = startEarlyFailover(path.join(ROOT, "Pulumi.prod.yaml"));
    assert.ok(early);
    let settled = false;
    void early.failover.outcome.then(() => (settled = true));
    const other = mutatedConfig((raw) => {
      (raw.cluster as { defaults: { resourceStickiness: number } }).defaults.resourceStickiness += 1;
    });
    assert.equal(await earlyFor(early, other), undefined);
    assert.ok(settled, "earlyFor returned before the early run ended");
  });
});

describe("the failover report's key", () => {
  const c = prodConfig();
  const model = stackCibModel(c);
  const job: FailoverJob = { config: c, cibXml: renderCib(model), model, cache: false };

  it("is the same for the same inputs and changes with the CIB text, the config and the model", async () => {
    const key = await failoverKey(job);
    assert.equal(await failoverKey({ ...job }), key);
    assert.notEqual(await failoverKey({ ...job, cibXml: job.cibXml.replace("</cib>", "<!-- -->\n</cib>") }), key);
    const other = mutatedConfig((raw) => {
      (raw.cluster as { defaults: { resourceStickiness: number } }).defaults.resourceStickiness += 1;
    });
    assert.notEqual(await failoverKey({ ...job, config: other }), key);
    const slower = structuredClone(model);
    const p = slower.fragments.flatMap((f) => f.resources.flatMap(primitives)).find((r) => r.expectedStartS !== undefined);
    assert.ok(p?.expectedStartS, "no primitive declares expectedStartS");
    p.expectedStartS.value += 1;
    assert.notEqual(await failoverKey({ ...job, model: slower }), key);
  });

  it("finds the report another plan of the same inputs published (HAHA_PLAN_SHARE), and only for those inputs", async () => {
    const share = tempDir("haha-speed-share-");
    const key = await failoverKey(job);
    // A report no simulation makes: if it comes back, it was read, not simulated.
    const marker: FailoverReport = { ok: true, scenarios: [], summary: ["failover: published by the other plan"], table: [], detectionS: 0 };
    fs.writeFileSync(path.join(share, `${key}.lock`), String(process.pid));
    fs.writeFileSync(path.join(share, `${key}.json`), JSON.stringify(marker));
    const before = process.env.HAHA_PLAN_SHARE;
    process.env.HAHA_PLAN_SHARE = share;
    try {
      const o = await failoverOutcome(job);
      assert.ok("report" in o, JSON.stringify(o));
      assert.deepEqual(o.report.summary, marker.summary);
      // Another CIB: its own key, so not that report (no simulation here: the CIB is refused first).
      const bad = await failoverOutcome({ ...job, cibXml: "<cib/>" });
      assert.ok("failed" in bad, JSON.stringify(bad).slice(0, 200));
    } finally {
      if (before === undefined) delete process.env.HAHA_PLAN_SHARE;
      else process.env.HAHA_PLAN_SHARE = before;
    }
  });
});
