// The VM lab's placement check against the real crm_mon: the state crm_simulate gives the plan's
// all-up scenario, read back by crm_mon as the lab reads a guest's, agrees with the plan; the state
// after a member failed does not, and the differences name what moved.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { buildCibModel } from "../../components/pacemaker/cib/build";
import { renderCib } from "../../components/pacemaker/cib/serialize";
import { simulateScenarios, type FailoverReport } from "../../plan/failover";
import { clusterMembers } from "../../stacks/config/members";
import { actualPlacement, placementDiff, plannedPlacement } from "../../labs/vm/placement";
import { servicesFixture, storageFixture } from "../components/pacemaker/fixtures";
import { prodConfig } from "../helpers/config";
import { tempDir } from "../helpers/plan";

const c = prodConfig();
let report: FailoverReport;
let dir = "";
const crmMon = (state: string) => {
  const r = spawnSync("crm_mon", ["-1", "-r", "--output-as=xml"], { encoding: "utf8", env: { ...process.env, CIB_file: state } });
  assert.ok(r.stdout.includes("<pacemaker-result"), r.stderr);
  return r.stdout;
};

describe("VM lab: placement against the plan's all-up scenario", () => {
  before(async () => {
    dir = tempDir("haha-placement-");
    const model = buildCibModel(c, [storageFixture(c), servicesFixture()]);
    report = await simulateScenarios({ config: c, cibXml: renderCib(model), model, workDir: dir });
  });
  const allUp = () => plannedPlacement(report.scenarios.find((s) => s.id === "all-up")!.simulated);

  it("reads the all-up state back as the plan placed it, clones, promotions and groups included", () => {
    const a = actualPlacement(crmMon(path.join(dir, "all-up", "next.xml")));
    assert.deepEqual(placementDiff(allUp(), a.placed), []);
    assert.deepEqual(a.failed, []);
    const promoted = [...a.placed.values()].filter((p) => p.promoted.length > 0);
    assert.equal(promoted.length, 1, "the DRBD stand-in is the one promotable clone");
    assert.deepEqual(promoted[0]!.promoted.sort(), clusterMembers(c).filter((m) => m.diskful).map((m) => m.name).sort());
  });

  it("names every resource that is not where the plan put it", () => {
    const lost = clusterMembers(c)[0]!.name;
    const failed = report.scenarios.find((s) => s.id === `fail-${lost}`)!;
    const a = actualPlacement(crmMon(path.join(dir, failed.id, "next.xml")));
    const diff = placementDiff(allUp(), a.placed);
    assert.ok(diff.length > 0, "a failed member changes the placement");
    for (const d of diff) assert.match(d, new RegExp(lost), d);
  });

  it("refuses a placement text it does not know", () => {
    assert.throws(() => plannedPlacement({ x: "Migrating somewhere" }), /x reads "Migrating somewhere"/);
  });
});
