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
import { buildCibModel } from "../../../components/pacemaker/cib/build";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { clusterMembers } from "../../../stacks/config/members";
import { servicesFixture, storageFixture } from "../pacemaker/fixtures";

const CRM_RESOURCE = `#!/bin/sh
case "$*" in
  # The operation history: the real tool where a test gives it a CIB file, else what OPS says.
  *--list-operations*) echo list-operations >> "$LOG"; if [ -n "$CIB_file" ]; then exec /usr/sbin/crm_resource "$@"; fi; echo "\${OPS:-<pacemaker-result><operations/></pacemaker-result>}"; exit 0 ;;
esac
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
  // What Pacemaker reports once the start asked for is done (the real crm_mon is in the test below).
  fs.writeFileSync(path.join(dir, "bin", "crm_mon"), `#!/bin/sh\necho '<pacemaker-result><resources><resource id="mosquitto" role="Started" active="true" failed="false"/></resources></pacemaker-result>'\n`, { mode: 0o755 });
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
    assert.match(calls, /--meta --delete-parameter haha-awaiting-files/);
    assert.match(fs.readFileSync(appliedStampPath(spec), "utf8"), /^[0-9a-f]{64}\n$/);
  });

  it("waits for its own service only, as the real crm_mon reports it (not the whole cluster), and fails naming it when it does not start", () => {
    // The live cluster: a CIB file with the fixture's services, every member up, run through
    // crm_simulate (crm_mon honours CIB_file); the stand-in answers only crm_resource's calls.
    const { dir, files, spec } = setup();
    fs.rmSync(path.join(dir, "bin", "crm_mon"));
    const c = prodConfig();
    fs.writeFileSync(path.join(dir, "old.xml"), renderCib(buildCibModel(c, [storageFixture(c), servicesFixture()])));
    const sim = spawnSync("crm_simulate", ["-x", "old.xml", "-S", "-q", "1", ...clusterMembers(c).flatMap((m) => ["--node-up", m.name]), "--save-output", "live.xml"], { cwd: dir, encoding: "utf8" });
    assert.equal(sim.status, 0, sim.stderr);
    // One simulated transition starts the fence devices and the watchdog device, not the
    // services (the fixture's DRBD has no promotion scores): the started case asks for one of
    // those, the failing case for the fixture's Mosquitto, which stays stopped.
    const run = (cib: string, id: string) => {
      const fx = { ...spec, id };
      const log = path.join(dir, "calls.log");
      fs.rmSync(log, { force: true });
      // opTimeoutScale 0.01: a wait of a few seconds, so the failing case ends quickly.
      return spawnSync("bash", ["-c", applyScript(fx, files, 0.01)], { encoding: "utf8", env: { PATH: `${dir}/bin:/usr/sbin:/usr/bin:/bin`, LOG: log, AWAITING: "true", RUNNING: "", CIB_file: path.join(dir, cib) } });
    };
    const ok = run("live.xml", "watchdog");
    assert.equal(ok.status, 0, ok.stderr);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, "calls.log"), "utf8"), /--wait/, "it must not wait for the whole cluster");
    // A service that does not start: the step fails, naming it.
    const stopped = run("live.xml", "fx-mosquitto");
    assert.notEqual(stopped.status, 0);
    assert.match(stopped.stderr, /fx-mosquitto is not started \d+ s after its apply asked for it/);
    assert.match(applyScript(spec, files), new RegExp(`--restart --timeout=${applyWaitS(spec)}s`));
  });

  it("does not count a start in flight as started (a CIB read off a rehearsal-lab guest while the broker started), and counts it once the start is recorded done", () => {
    // The real crm_mon and crm_resource on the captured CIB (CIB_file): crm_mon says
    // role="Starting" active="true", the operation history status="pending".
    const { dir, files, spec } = setup();
    fs.rmSync(path.join(dir, "bin", "crm_mon"));
    const pending = fs.readFileSync(path.join(__dirname, "fixtures", "mosquitto-start-pending.xml"), "utf8");
    const rec = /<lrm_rsc_op id="mosquitto_last_0" operation_key="mosquitto_start_0"[^>]*call-id="-1" rc-code="193" op-status="-1"[^>]*\/>/.exec(pending)?.[0];
    assert.ok(rec, "the fixture holds the pending start of mosquitto");
    fs.writeFileSync(path.join(dir, "pending.xml"), pending);
    fs.writeFileSync(path.join(dir, "done.xml"), pending.replace(rec, rec.replace(/transition-magic="-1:193;/, 'transition-magic="0:0;').replace('call-id="-1" rc-code="193" op-status="-1"', 'call-id="120" rc-code="0" op-status="0"')));
    const run = (cib: string) =>
      spawnSync("bash", ["-c", applyScript(spec, files, 0.01)], { encoding: "utf8", env: { PATH: `${dir}/bin:/usr/sbin:/usr/bin:/bin`, LOG: path.join(dir, "calls.log"), AWAITING: "true", RUNNING: "", CIB_file: path.join(dir, cib) } });
    const inFlight = run("pending.xml");
    assert.notEqual(inFlight.status, 0, "a start in flight passed as started");
    assert.match(inFlight.stderr, /mosquitto is not started \d+ s after its apply asked for it/);
    const done = run("done.xml");
    assert.equal(done.status, 0, done.stderr);
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

  it("after a restart, waits until the start has finished, not only until Pacemaker counts the service active", () => {
    const { dir, files, run } = setup();
    run({ AWAITING: "true" });
    fs.appendFileSync(files[1]!, "topic write x\n");
    // crm_resource --restart can return while its start still runs: crm_mon then shows the
    // service active (the stand-in always does), the operation history the start "pending" (the
    // stand-in, at its first ask).
    const polls = path.join(dir, "polls");
    const pending = `<pacemaker-result><operations><operation op="mosquitto_start_0" node="labha03" call="-1" rc="193" status="pending" rsc="mosquitto"/></operations></pacemaker-result>`;
    fs.writeFileSync(
      path.join(dir, "bin", "crm_resource"),
      CRM_RESOURCE.replace('echo "${OPS:-', `n=$(cat ${polls} 2>/dev/null || echo 0); echo $((n + 1)) > ${polls}; [ "$n" -lt 1 ] && OPS='${pending}'; echo "\${OPS:-`),
      { mode: 0o755 },
    );
    const calls = run({ RUNNING: "yes" }).split("\n");
    const restart = calls.findIndex((l) => /--restart/.test(l));
    assert.ok(restart >= 0, "it restarts the service");
    assert.deepEqual(calls.slice(restart + 1).filter(Boolean), ["list-operations", "list-operations"], "it asks for the operation history until the start is no longer pending");
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
