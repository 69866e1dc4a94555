// The plan end to end, as a user runs it, on stacks only the policy pack refuses: it exits 1
// and its output names the rule, the resource and the fix.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { prodRaw } from "../helpers/config";
import { PlanRun, runPlanCli, tempDir, writeStackFile } from "../helpers/plan";

describe("npm run plan on the prod stack without its switch waiver", () => {
  let run: PlanRun;
  let out: string;
  before(() => {
    const raw = prodRaw();
    raw.waivers = [];
    out = tempDir();
    run = runPlanCli(["--config", writeStackFile(raw, "nowaiver"), "--out", out]);
  });

  it("exits 1", () => {
    assert.equal(run.status, 1, run.stdout + run.stderr);
  });

  it("names the rule, the resource and the fix", () => {
    assert.match(run.stdout, /FAIL +failure-domains \(mandatory\)\n +- \[failure-domains\] failure domain switch nllei01sw01 \(haha:stack:Declaration "haha"\): losing it breaks: cluster quorum lost/);
    assert.match(run.stdout, /\n +fix: .*cable each bond's slaves to two switches in different stack groups/);
    assert.match(run.stdout, /ADVISORY +network-bond-switch-diversity \(advisory\)/);
  });

  it("writes the report with the violation", () => {
    const report = JSON.parse(fs.readFileSync(path.join(out, "nowaiver", "policy-report.json"), "utf8"));
    assert.equal(report.ok, false);
    const fd = report.rules.find((r: { name: string }) => r.name === "failure-domains");
    assert.equal(fd.status, "fail");
    assert.equal(fd.violations[0].resource.type, "haha:stack:Declaration");
  });
});
