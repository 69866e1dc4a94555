// The namespace lab's pure parts: statistics, the report's shape and budget verdicts, the table,
// and the lab CIB (substitutions keep ids and operations; the real crm_verify accepts it).
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { XMLParser } from "fast-xml-parser";
import { renderStackCib } from "../../components/pacemaker/cib/stack";
import { labCib, STAND_INS } from "../../labs/ns/cib";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";
import { budgetTable, scenarioReport, stats, type LabReport } from "../../labs/ns/report";

const run = promisify(execFile);

describe("lab ns statistics and report", () => {
  it("min, median (odd and even) and max", () => {
    assert.deepEqual(stats([3, 1, 2]), { min: 1, median: 2, max: 3 });
    assert.deepEqual(stats([4, 1, 3, 2]), { min: 1, median: 2.5, max: 4 });
    assert.deepEqual(stats([7.04]), { min: 7, median: 7, max: 7 });
    assert.equal(stats([]), undefined);
  });

  it("a budget line measured above the plan's figure fails the scenario, with the reason", () => {
    const rounds = [8.1, 7.9, 8.4].map((m) => ({ ok: true, problems: [], measured: { membership: m, fenced: m + 1 } }));
    const ok = scenarioReport("p", "power", rounds, [{ line: "detect", measure: "membership", planS: 9 }]);
    assert.equal(ok.ok, true);
    assert.deepEqual(ok.measured.membership, { min: 7.9, median: 8.1, max: 8.4 });
    assert.equal(ok.rounds, 3);
    const over = scenarioReport("p", "power", rounds, [{ line: "detect", measure: "membership", planS: 8 }]);
    assert.equal(over.ok, false);
    assert.match(over.problems.join("\n"), /detect: measured up to 8.4 s, the plan budgets 8 s/);
    const missing = scenarioReport("p", "power", rounds, [{ line: "vip", measure: "vip", planS: 30 }]);
    assert.equal(missing.ok, false);
    assert.match(missing.problems[0] ?? "", /not measured/);
  });

  it("a round that ended wrong fails the scenario; no rounds is not ok", () => {
    const r = scenarioReport("x", "x", [{ ok: true, problems: [], measured: {} }, { ok: false, problems: ["mosquitto moved"], measured: {} }], []);
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems, ["round 2: mosquitto moved"]);
    assert.equal(scenarioReport("x", "x", [], []).ok, false);
  });

  it("fewer rounds than asked (a cluster broke) is not ok, and says so", () => {
    const r = scenarioReport("x", "x", [{ ok: true, problems: [], measured: {} }], [], 5);
    assert.equal(r.ok, false);
    assert.deepEqual(r.problems, ["only 1 of 5 rounds ran"]);
  });

  it("the table shows plan and measured figures per budget line", () => {
    const s = scenarioReport("p", "power loss", [{ ok: true, problems: [], measured: { vip: 10 } }], [{ line: "total: vip", measure: "vip", planS: 9 }]);
    const report: LabReport = { stack: "lab-ns", startedAt: "", durationS: 1, clusters: 1, ok: false, scenarios: [s], substitutions: [], targets: [], timing: { bringUpS: 1, roundsS: 1, perScenario: {} }, broken: [] };
    const t = budgetTable(report);
    assert.match(t[0] ?? "", /budget line\s+plan\s+measured/);
    assert.match(t[1] ?? "", /power loss\s+FAIL\s+total: vip\s+9s\s+10\/10\/10s\s+<- over budget/);
  });
});

describe("lab ns CIB", () => {
  it("replaces the storage by stand-ins with the same ids and operations, drops the watchdog level, and crm_verify accepts it", async () => {
    // The lab stack's CIB from config alone, as the stack renders it.
    const stack = readStackFile(path.join(__dirname, "../../Pulumi.lab-ns.yaml"));
    const rendered = renderStackCib(parseConfig(stack.raw, "Pulumi.lab-ns.yaml"));
    const lab = labCib(rendered, ["homeassistant"]);
    const p = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" });
    const ops = (xml: string) => [...xml.matchAll(/<op id="([^"]+)"[^>]*timeout="([^"]+)"/g)].map((m) => `${m[1]}=${m[2]}`).sort();
    assert.deepEqual(ops(lab.xml), ops(rendered).filter((o) => !o.startsWith("watchdog")));
    for (const id of STAND_INS) {
      const tagText = new RegExp(`<primitive id="${id}(-[^"]*)?"[^>]*>`).exec(lab.xml)?.[0] ?? "";
      for (const a of ['class="ocf"', 'provider="haha-lab"', 'type="standin"']) assert.ok(tagText.includes(a), `${id}: ${tagText}`);
    }
    assert.equal(lab.standInStartS["nfs-server"], 20);
    assert.doesNotMatch(lab.xml, /fence_watchdog|stonith-watchdog-timeout|devices="watchdog"/);
    assert.match(lab.xml, /id="homeassistant-lab-meta-target-role" name="target-role" value="Stopped"/);
    assert.ok(lab.substitutions.length >= STAND_INS.length + 3);
    // The controllers' load throttling is lifted (the members share this machine's load average), and said so.
    assert.match(lab.xml, /name="load-threshold" value="100000%"/);
    assert.doesNotMatch(rendered, /load-threshold/);
    assert.ok(lab.substitutions.some((s) => s.what.startsWith("load-threshold=") && /load average/.test(s.why)));
    assert.throws(() => labCib(rendered.replace('name="stonith-enabled"', 'name="load-threshold"'), []), /rendered CIB sets load-threshold/);
    assert.ok(p.parse(lab.xml).cib);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-ns-test-"));
    try {
      fs.writeFileSync(path.join(dir, "cib.xml"), lab.xml);
      // Schema and constraint references; the stand-in agent itself is installed only in the members.
      const r = await run("crm_verify", ["--xml-file", path.join(dir, "cib.xml"), "-V"]).then((x) => x.stdout + x.stderr, (e: { stdout?: string; stderr?: string }) => (e.stdout ?? "") + (e.stderr ?? ""));
      const errors = r.split("\n").filter((l) => /error/i.test(l) && !/haha-lab|standin/.test(l));
      assert.deepEqual(errors, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
