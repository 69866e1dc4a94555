// The services' apply step, run by bash against a stand-in crm_resource that records its calls:
// a new service is started, a running one restarted only when its files changed since it was last
// (re)started by this step, so a second run of the same step restarts nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { applyScript, applyWaitS, appliedStampPath, serviceCatalog } from "../../../components/services";
import { prodConfig } from "../../helpers/config";

const CRM_RESOURCE = `#!/bin/sh
echo "$*" >> "$LOG"
case "$*" in
  *--get-parameter*) [ -n "$AWAITING" ] && echo "$AWAITING"; exit 0 ;;
  *--locate*) [ -n "$RUNNING" ] && echo "resource mosquitto is running on: labha01"; exit 0 ;;
esac
exit 0
`;

function setup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-apply-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "crm_resource"), CRM_RESOURCE, { mode: 0o755 });
  const files = ["a.conf", "b.acl"].map((f) => path.join(dir, f));
  for (const f of files) fs.writeFileSync(f, `${f}\n`);
  const spec = { ...serviceCatalog(prodConfig()).find((s) => s.id === "mosquitto")!, dataDir: dir };
  const run = (env: { AWAITING?: string; RUNNING?: string }) => {
    const log = path.join(dir, "calls.log");
    fs.rmSync(log, { force: true });
    const r = spawnSync("bash", ["-c", applyScript(spec, files)], { encoding: "utf8", env: { PATH: `${dir}/bin:/usr/bin:/bin`, LOG: log, AWAITING: env.AWAITING ?? "", RUNNING: env.RUNNING ?? "" } });
    assert.equal(r.status, 0, r.stderr);
    return fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
  };
  return { dir, files, spec, run };
}

describe("the services' apply step", () => {
  it("starts a service held for its files and records the digest of the files it started with", () => {
    const { spec, run } = setup();
    const calls = run({ AWAITING: "true" });
    assert.match(calls, /--meta --delete-parameter target-role/);
    assert.match(calls, /--wait --timeout=/);
    assert.match(fs.readFileSync(appliedStampPath(spec), "utf8"), /^[0-9a-f]{64}\n$/);
  });

  it("waits for the slowest service that may start at the same time (crm_resource --wait covers the whole cluster); a restart of its own at its own timeouts", () => {
    const { spec, files } = setup();
    const all = serviceCatalog(prodConfig());
    const slowest = Math.max(...all.map((s) => applyWaitS(s)));
    assert.ok(slowest > applyWaitS(spec), "the fixture's point: another service takes longer than mosquitto");
    const script = applyScript(spec, files, 1, slowest);
    assert.match(script, new RegExp(`--wait --timeout=${slowest}s`));
    assert.doesNotMatch(script, new RegExp(`--wait --timeout=${applyWaitS(spec)}s`));
    assert.match(script, new RegExp(`--restart --timeout=${applyWaitS(spec)}s`));
    assert.match(applyScript(spec, files, 1, 1), new RegExp(`--wait --timeout=${applyWaitS(spec)}s`), "never shorter than its own");
  });

  it("run again with the same files, restarts nothing", () => {
    const { run } = setup();
    run({ AWAITING: "true" });
    const calls = run({ RUNNING: "yes" });
    assert.doesNotMatch(calls, /--restart|--cleanup|--delete-parameter/);
  });

  it("restarts a running service once when one of its files changed, then not again", () => {
    const { files, spec, run } = setup();
    run({ AWAITING: "true" });
    const before = fs.readFileSync(appliedStampPath(spec), "utf8");
    fs.appendFileSync(files[1]!, "topic write x\n");
    assert.match(run({ RUNNING: "yes" }), /--resource mosquitto --restart --timeout=\d+s/);
    assert.notEqual(fs.readFileSync(appliedStampPath(spec), "utf8"), before);
    assert.doesNotMatch(run({ RUNNING: "yes" }), /--restart/);
  });

  it("restarts a running service it has no record of (deployed before the record existed)", () => {
    const { run } = setup();
    assert.match(run({ RUNNING: "yes" }), /--restart/);
  });

  it("clears a failed start of a service that is neither held nor running", () => {
    const { run } = setup();
    assert.match(run({}), /--resource mosquitto --cleanup/);
  });
});
