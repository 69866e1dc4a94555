// Plan step 5: Pacemaker's scheduler (crm_simulate) on the rendered CIB. Every scenario of the
// issue is asserted from crm_simulate --output-as=xml: on the prod stack as composed today
// (whatever storage and services contribute), on stand-in fragments with the real shape, on a
// 5-host stack, and on CIBs built to end wrong (the plan must then say so and fail).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { buildCibModel } from "../../components/pacemaker/cib/build";
import { CIB_IDS } from "../../components/pacemaker/cib/ids";
import type { CibFragment } from "../../components/pacemaker/cib/model";
import { renderCib } from "../../components/pacemaker/cib/serialize";
import { renderStackCib } from "../../components/pacemaker/cib/stack";
import { type FailoverReport, runFailover, type ScenarioResult, simulateScenarios, TARGETS } from "../../plan/failover";
import { criticalPath } from "../../plan/simulate-budget";
import { parseCib } from "../../plan/simulate-cib";
import type { GraphAction } from "../../plan/simulate";
import { corosyncTiming } from "../../stacks/config/cluster";
import { clusterMembers } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import { parseConfig } from "../../stacks/config/validate";
import { dummy, SERVICE_STARTS, servicesFixture, storageFixture } from "../components/pacemaker/fixtures";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { tempDir } from "../helpers/plan";
import { generatedRaw } from "../helpers/stacks";

const names = (c: HahaConfig) => clusterMembers(c).map((m) => m.name);
const find = (r: FailoverReport, id: string): ScenarioResult => {
  const s = r.scenarios.find((x) => x.id === id);
  assert.ok(s, `no scenario ${id} (have ${r.scenarios.map((x) => x.id).join(", ")})`);
  return s;
};
const where = (s: ScenarioResult, id: string) => s.simulated[id];
const okAll = (r: FailoverReport) => assert.ok(r.ok, r.scenarios.filter((s) => !s.ok).map((s) => `${s.id}: ${s.problems.join("; ")}`).join("\n"));

describe("the prod stack as composed today", () => {
  const c = prodConfig();
  const cibXml = renderStackCib(c);
  const outDir = tempDir("haha-failover-");
  let result: Awaited<ReturnType<typeof runFailover>>;

  it("ends every scenario as it must, and writes build/<stack>/failover/", async () => {
    result = await runFailover({ stack: "prod", config: c, outDir, resources: [] }, cibXml);
    assert.ok(result.ok, result.summary.join("\n"));
    const dir = path.join(outDir, "failover");
    const summary = JSON.parse(fs.readFileSync(path.join(dir, "summary.json"), "utf8")) as { ok: boolean; scenarios: { id: string }[] };
    assert.equal(summary.ok, true);
    const files = fs.readdirSync(dir).filter((f) => /^\d\d-.*\.json$/.test(f));
    assert.equal(files.length, summary.scenarios.length);
    const one = JSON.parse(fs.readFileSync(path.join(dir, files[1]!), "utf8")) as ScenarioResult;
    for (const k of ["expected", "simulated", "actions", "budget", "command"]) assert.ok(k in one, k);
    const table = fs.readFileSync(path.join(dir, "summary.txt"), "utf8");
    assert.equal(table.split("\n").filter((l) => /\s(ok|WRONG)\s/.test(l)).length, summary.scenarios.length, "summary.txt has a row per scenario");
  });

  it("covers every member (fail, return, standby, quorum loss) and every monitored resource the CIB holds", () => {
    const ids = JSON.parse(fs.readFileSync(path.join(outDir, "failover", "summary.json"), "utf8")).scenarios.map((s: { id: string }) => s.id) as string[];
    for (const m of names(c)) for (const p of [`fail-${m}`, `return-${m}`, `standby-${m}`]) assert.ok(ids.includes(p), p);
    assert.equal(ids.filter((i) => i.startsWith("quorum-loss-")).length, names(c).length);
    const cib = parseCib(cibXml);
    for (const p of cib.primitives.values()) {
      if (p.class === "stonith" || !p.ops.some((o) => o.name === "monitor" && o.intervalMs > 0)) continue;
      assert.ok(ids.includes(`monitor-${p.id}`), `monitor failure of ${p.id}`);
    }
  });

  it("prints a short failover table with the detection and single-member targets", () => {
    const text = result.summary.join("\n");
    assert.match(text, /^failover: \d+ crm_simulate scenarios, \d+ as expected, 0 not/);
    for (const m of names(c)) assert.match(text, new RegExp(`${m} fails with its host \\(fenced\\)\\s+ok\\s+[\\d.]+s\\*?\\s+[\\d.]+s\\*?`));
    assert.match(text, /a failed member returns, nothing fails back: 3\/3\s+ok/);
    assert.match(text, /majority lost: nothing starts, nothing is fenced: 3\/3\s+ok/);
    assert.ok(result.summary.length < 25, "short: the full table is in summary.txt");
    // token + consensus + the ring formation allowance, rounded up to the tenth (8.03 + 1 s -> 9.1 s).
    const detection = Math.ceil(corosyncTiming(c).membershipMs / 100) / 10;
    assert.equal(detection, 9.1);
    assert.match(text, new RegExp(`detection \\(token \\+ consensus \\+ ring formation\\): ${detection}s\\*? \\(target <= ${TARGETS.detectionS}s: met\\)`));
    assert.match(text, new RegExp(`single-member failure, host lost: worst [\\d.]+s \\(target <= ${TARGETS.memberFailureS}s: (met|MISSED)\\)`));
  });
});

describe("stand-in storage and services", () => {
  const c = prodConfig();
  let report: FailoverReport;
  let up: ScenarioResult;
  let servicesOn = "";
  let nfsOn = "";
  before(async () => {
    const model = buildCibModel(c, [storageFixture(c), servicesFixture()]);
    report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: tempDir("haha-sim-") });
    up = find(report, "all-up");
    servicesOn = where(up, CIB_IDS.servicesVip)!.replace("Started ", "");
    nfsOn = where(up, "fx-nfs-group")!.replace("Started ", "");
  });

  it("ends every scenario as it must", () => okAll(report));

  it("starts everything with all members up: the promotable clone promoted on the diskful members only", () => {
    const diskful = clusterMembers(c).filter((m) => m.diskful).map((m) => m.name);
    assert.equal(where(up, "fx-drbd-clone"), `on ${names(c).join(", ")}; Promoted on ${diskful.join(", ")}`);
    assert.equal(where(up, CIB_IDS.sharedMountClone), `on ${names(c).join(", ")}`);
    for (const s of Object.keys(SERVICE_STARTS)) assert.equal(where(up, s), `Started ${servicesOn}`);
    assert.notEqual(servicesOn, nfsOn, "the services and the NFS export start on different members");
    assert.deepEqual(up.fenced, []);
  });

  it("fences a failed member and runs everything on the survivors, nothing else moving", () => {
    for (const m of names(c)) {
      const s = find(report, `fail-${m}`);
      assert.deepEqual(s.fenced, [m]);
      for (const [id, placed] of Object.entries(s.simulated)) assert.doesNotMatch(placed, new RegExp(`\\b${m}\\b`), `${id} after ${m} failed`);
      if (m !== servicesOn) for (const sv of Object.keys(SERVICE_STARTS)) assert.equal(where(s, sv), `Started ${servicesOn}`, `${sv} stays when ${m} fails`);
    }
  });

  it("budgets a failure as detection + fencing + the slowest chain of starts, not their sum", () => {
    const s = find(report, `fail-${servicesOn}`).budget!;
    const t = corosyncTiming(c);
    // Rounded up, never down: a budget below what corosync takes fails every lab measurement.
    assert.equal(s.detectionS, Math.ceil(t.membershipMs / 100) / 10);
    assert.ok(s.detectionS * 1000 >= t.detectionMs + t.formationMs);
    // fence_pve cannot reach a lost host (2 x requestTimeoutS), then the watchdog wait (2 x SBD timeout).
    assert.equal(s.fencingS, 2 * c.cluster.fencing.pve.requestTimeoutS + 2 * c.cluster.fencing.watchdog.timeoutS);
    assert.deepEqual(s.chain.map((l) => l.action), [`stonith ${servicesOn}`, `start ${CIB_IDS.servicesVip} on ${s.chain[1]!.action.split(" on ")[1]}`, `start fx-recorder on ${s.chain[2]!.action.split(" on ")[1]}`, `start fx-homeassistant on ${s.chain[3]!.action.split(" on ")[1]}`]);
    assert.equal(s.startsS, 1 + SERVICE_STARTS["fx-recorder"]! + SERVICE_STARTS["fx-homeassistant"]!);
    assert.equal(s.totalS, Math.round((s.detectionS + s.fencingS + s.startsS) * 10) / 10);
    const sum = Object.values(SERVICE_STARTS).reduce((a, b) => a + b, 0);
    assert.ok(s.startsS < sum, "services that do not depend on each other start in parallel");
    assert.equal(s.guestOnly!.fencingS, 6, "only the guest died: fence_pve works");
  });

  it("counts the NFS export's restart when its member fails, and the services do not restart", () => {
    const s = find(report, `fail-${nfsOn}`);
    assert.ok(s.budget!.chain.some((l) => l.action.startsWith("start fx-nfs-server")));
    assert.ok(!s.actions.some((a) => /^(stop|start) fx-(mosquitto|homeassistant)/.test(a)), s.actions.join("\n"));
  });

  it("lets nothing fail back when a member returns", () => {
    for (const m of names(c)) {
      const s = find(report, `return-${m}`);
      assert.ok(!s.actions.some((a) => /^(stop|demote|start fx-(mosquitto|recorder|homeassistant|zigbee2mqtt|nodered)) /.test(a)), `${m}: ${s.actions.join(", ")}`);
      assert.deepEqual(s.fenced, []);
    }
  });

  it("starts nothing and fences nothing in a partition without quorum", () => {
    for (const s of report.scenarios.filter((x) => x.kind === "quorum-loss")) {
      assert.deepEqual(s.fenced, []);
      assert.ok(!s.actions.some((a) => /^(start|promote) /.test(a)), s.actions.join(", "));
    }
  });

  it("restarts a failed service in place, and moves it (with the VIP and the other services) after migration-threshold", () => {
    for (const sv of Object.keys(SERVICE_STARTS)) {
      const once = find(report, `monitor-${sv}`);
      assert.ok(once.actions.includes(`stop ${sv} on ${servicesOn}`) && once.actions.includes(`start ${sv} on ${servicesOn}`), once.actions.join(", "));
      assert.equal(where(once, sv), `Started ${servicesOn}`);
      const moved = find(report, `threshold-${sv}`);
      const now = where(moved, sv)!.replace("Started ", "");
      assert.notEqual(now, servicesOn);
      assert.equal(where(moved, CIB_IDS.servicesVip), `Started ${now}`);
    }
  });

  it("budgets a hung application (probe unanswered, process alive) from the CIB: the monitor's timeout and the whole stop on top of the crash", () => {
    const cib = parseCib(renderCib(buildCibModel(c, [storageFixture(c), servicesFixture()])));
    const opDefault = Number.parseInt(cib.opDefaults.timeout ?? "20", 10) * 1000;
    for (const sv of Object.keys(SERVICE_STARTS)) {
      const b = find(report, `monitor-${sv}`).budget!;
      const ops = cib.primitives.get(sv)!.ops;
      const mon = ops.find((o) => o.name === "monitor" && o.intervalMs > 0)!;
      const stopS = (ops.find((o) => o.name === "stop")?.timeoutMs ?? opDefault) / 1000;
      assert.ok(b.hung, `${sv}: a hung budget`);
      assert.equal(b.hung.detectionS, (mon.intervalMs + (mon.timeoutMs ?? opDefault)) / 1000, sv);
      assert.equal(b.hung.stopS, stopS, sv);
      assert.ok(b.hung.chain.some((l) => l.action === `stop ${sv} on ${servicesOn}` && l.seconds === stopS), `${sv}: ${JSON.stringify(b.hung.chain)}`);
      // The crash's budget plus what only a hang costs: the probe's wait and the stop's grace.
      assert.equal(b.hung.totalS, Math.round((b.totalS + (mon.timeoutMs ?? opDefault) / 1000 + stopS) * 10) / 10, sv);
    }
    assert.match(report.summary.join("\n"), /an application hangs \(process alive, probe unanswered\): worst [\d.]+s/);
  });

  it("empties a member in standby and moves nothing that was elsewhere", () => {
    for (const m of names(c)) {
      const s = find(report, `standby-${m}`);
      for (const [id, placed] of Object.entries(s.simulated)) assert.doesNotMatch(placed, new RegExp(`\\b${m}\\b`), `${id} on ${m} in standby`);
      assert.deepEqual(s.fenced, []);
    }
  });
});

describe("a 5-host stack", () => {
  it("simulates every member, with a two-member minority for the quorum scenarios", async () => {
    const c = parseConfig(generatedRaw(5), "generated 5 hosts");
    const model = buildCibModel(c, [servicesFixture()]);
    const report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: tempDir("haha-sim5-") });
    okAll(report);
    const q = report.scenarios.filter((s) => s.kind === "quorum-loss");
    assert.equal(q.length, 5);
    assert.match(q[0]!.title, /: nllei01ha01, nllei01ha02 without quorum$/);
    assert.equal(report.scenarios.filter((s) => s.kind === "member-fail").length, 5);
  });
});

describe("CIBs that end wrong", () => {
  it("a service that can only run on one member: its failure leaves it stopped, and the plan says so", async () => {
    const c = prodConfig();
    const [only, ...others] = names(c);
    const pinned: CibFragment = {
      source: "services",
      resources: [dummy("fx-pinned", 5)],
      constraints: others.map((n) => ({ kind: "location" as const, id: `fx-pinned-not-on-${n}`, rsc: "fx-pinned", node: n, score: "-INFINITY", reason: "a service bound to one host" })),
    };
    const outDir = tempDir("haha-failover-wrong-");
    const r = await runFailover({ stack: "wrong", config: c, outDir, resources: [] }, renderCib(buildCibModel(c, [pinned])));
    assert.equal(r.ok, false);
    const text = r.summary.join("\n");
    assert.match(text, new RegExp(`${only} fails with its host \\(fenced\\)\\s+WRONG`));
    assert.match(text, /fx-pinned: expected on a survivor, simulated Stopped/);
    const json = JSON.parse(fs.readFileSync(path.join(outDir, "failover", "summary.json"), "utf8")) as { ok: boolean };
    assert.equal(json.ok, false);
  });

  it("without stickiness a service fails back when its preferred member returns", async () => {
    const c = mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 0));
    const [first] = names(c);
    const prefers: CibFragment = {
      source: "services",
      resources: [dummy("fx-app", 5)],
      constraints: [{ kind: "location", id: "fx-app-prefers", rsc: "fx-app", node: first!, score: "50", reason: "a preference" }],
    };
    const model = buildCibModel(c, [prefers]);
    const report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: tempDir("haha-sim-back-") });
    const back = find(report, `return-${first}`);
    assert.equal(back.ok, false);
    assert.ok(back.problems.some((p) => /fx-app: moved from .* to nllei01ha01; it had no reason to/.test(p)), back.problems.join("\n"));
  });

  it("fence_pve alone cannot fence a member whose host is gone: each member failure ends wrong", async () => {
    const c = mutatedConfig((raw) => (raw.cluster.fencing.watchdog = { enabled: false, timeoutS: 5 }));
    const model = buildCibModel(c, [servicesFixture()]);
    const report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: tempDir("haha-sim-nowd-") });
    for (const m of names(c)) assert.match(find(report, `fail-${m}`).problems.join("\n"), new RegExp(`no fencing level of ${m} works with its host gone`));
    assert.equal(report.ok, false);
  });

  it("with fencing off, the services move, but the member that returns still claims them: they run twice and restart", async () => {
    const c = mutatedConfig((raw) => (raw.cluster.fencing = { enabled: false, watchdog: { enabled: false, timeoutS: 5 } }));
    const model = buildCibModel(c, [servicesFixture()]);
    const report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: tempDir("haha-sim-nofence-") });
    const servicesOn = where(find(report, "all-up"), CIB_IDS.servicesVip)!.replace("Started ", "");
    for (const m of names(c)) {
      assert.deepEqual(find(report, `fail-${m}`).fenced, []);
      assert.ok(find(report, `fail-${m}`).ok, find(report, `fail-${m}`).problems.join("\n"));
    }
    // Never fenced, its last known state says the services still run there.
    const back = find(report, `return-${servicesOn}`);
    assert.equal(back.ok, false);
    assert.ok(back.problems.some((p) => /^stop fx-\w+ on .*: nothing may fail back or restart/.test(p)), back.problems.join("\n"));
  });

  it("reports a missing Pacemaker tool instead of crashing", async () => {
    const saved = process.env.PATH;
    process.env.PATH = tempDir("haha-empty-path-");
    try {
      const c = prodConfig();
      const r = await runFailover({ stack: "notools", config: c, outDir: tempDir("haha-notools-"), resources: [] }, renderCib(buildCibModel(c, [])));
      assert.equal(r.ok, false);
      assert.match(r.summary.join("\n"), /is not installed: apt-get install pacemaker/);
    } finally {
      process.env.PATH = saved;
    }
  });
});

describe("critical path", () => {
  const g = (id: string, operation: string, resource: string | undefined, inputs: string[], kind: GraphAction["kind"] = "rsc_op"): GraphAction => ({ id, kind, operation, key: id, resource, node: "n1", intervalMs: 0, inputs });

  it("is the slowest chain through the graph, with waits the graph does not show added", () => {
    const graph = [g("f", "stonith", undefined, [], "crm_event"), g("a", "start", "a", ["f"]), g("b", "start", "b", ["a"]), g("c", "start", "c", ["f"]), g("m", "monitor", "b", ["b"])];
    const secs: Record<string, number> = { a: 1, b: 45, c: 30 };
    const d = { start: (r: string) => ({ seconds: secs[r]!, note: "" }), fence: () => ({ seconds: 10, note: "" }) };
    const p = criticalPath(graph, d);
    assert.deepEqual([p.totalS, p.fencingS, p.chain.map((l) => l.action)], [56, 10, ["stonith n1", "start a on n1", "start b on n1"]]);
    // c cannot serve before b does (an order the transition did not need to express): now it is the tail.
    const q = criticalPath(graph, d, (a) => (a.id === "c" ? ["b"] : []));
    assert.deepEqual([q.totalS, q.chain.map((l) => l.action)], [86, ["stonith n1", "start a on n1", "start b on n1", "start c on n1"]]);
  });
});
