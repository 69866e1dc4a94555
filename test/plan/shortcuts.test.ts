// The failover simulation's shortcuts (plan/failover.ts, SimulateOptions.shortcuts: scenarios on
// an unvalidated copy of the all-up state, a migration-threshold scenario in one run) change how
// much crm_simulate runs, never what a scenario ends with: every scenario of prod simulated both
// ways must end the same (placements, actions, fencing, budgets, problems). And the schema still
// guards the plan: a CIB it refuses fails the failover step.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { buildCibModel } from "../../components/pacemaker/cib/build";
import type { Primitive } from "../../components/pacemaker/cib/model";
import { renderCib } from "../../components/pacemaker/cib/serialize";
import { stackCibModel } from "../../components/pacemaker/cib/stack";
import { type FailoverReport, runFailover, simulateScenarios } from "../../plan/failover";
import { migrationThreshold, parseCib } from "../../plan/simulate-cib";
import { dummy, servicesFixture } from "../components/pacemaker/fixtures";
import { prodConfig } from "../helpers/config";
import { tempDir } from "../helpers/plan";

/** A report without the command lines, the one thing the shortcuts change by design. */
const outcome = (r: FailoverReport) => ({ ...r, scenarios: r.scenarios.map(({ command: _command, ...s }) => s) });

describe("the failover simulation's shortcuts", () => {
  const c = prodConfig();
  const model = stackCibModel(c);
  const cibXml = renderCib(model);
  let long: FailoverReport;
  let short: FailoverReport;
  before(async () => {
    [long, short] = await Promise.all([
      simulateScenarios({ config: c, cibXml, model, workDir: tempDir("haha-shortcuts-off-"), shortcuts: false }),
      simulateScenarios({ config: c, cibXml, model, workDir: tempDir("haha-shortcuts-on-"), shortcuts: true }),
    ]);
  });

  it("end every scenario of prod as simulating each step the long way does", () => {
    assert.ok(long.scenarios.length > 40, `${long.scenarios.length} scenarios`);
    assert.deepEqual(
      short.scenarios.map((s) => s.id),
      long.scenarios.map((s) => s.id),
    );
    for (const [i, s] of short.scenarios.entries()) assert.deepEqual(outcome(short).scenarios[i], outcome(long).scenarios[i], s.id);
    assert.deepEqual(outcome(short), outcome(long));
  });

  it("simulate a migration-threshold scenario in one run, its failures injected at once", () => {
    const cib = parseCib(cibXml);
    const t = short.scenarios.filter((s) => s.kind === "migration-threshold");
    assert.ok(t.length > 0, "prod has no migration-threshold scenario");
    for (const s of t) {
      const threshold = migrationThreshold(cib, s.id.replace(/^threshold-/, ""));
      assert.equal(s.command.match(/--op-inject /g)?.length, threshold - 1, s.command);
      assert.equal(long.scenarios.find((x) => x.id === s.id)!.command.match(/--op-inject /g)?.length, 1);
    }
  });
});

describe("a CIB the schema refuses", () => {
  it("fails the failover step, shortcuts or not", async () => {
    const c = prodConfig();
    const bad: Primitive = { ...dummy("fx-bad", 5), class: "nosuchclass" as Primitive["class"] };
    const fixture = servicesFixture();
    const cibXml = renderCib(buildCibModel(c, [{ ...fixture, resources: [...fixture.resources, bad] }]));
    for (const shortcuts of ["on", "off"]) {
      process.env.HAHA_PLAN_SHORTCUTS = shortcuts;
      try {
        const r = await runFailover({ stack: "bad", config: c, outDir: tempDir("haha-schema-"), resources: [] }, cibXml);
        assert.equal(r.ok, false);
        // Refused before any scenario: Pacemaker's first update of the file (the feature set's stamp).
        assert.match(r.summary.join("\n"), /^failover: .*does not conform to the configured schema/m);
      } finally {
        delete process.env.HAHA_PLAN_SHORTCUTS;
      }
    }
  });
});
