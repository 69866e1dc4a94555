// The VM lab's probe check, run by bash against stand-ins for crm_resource, crm_node and docker:
// the member running a service runs its own probe inside the container (a failing probe fails the
// check), the others pass it by, and a service running nowhere fails on every member.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { serviceProbeChecks } from "../../labs/vm/checks";
import { serviceCatalog } from "../../components/services/catalog";
import { prodConfig } from "../helpers/config";

const c = prodConfig();

function runCheck(script: string, env: { LOCATED: string; ME: string; PROBE_RC: string }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-probe-"));
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  stub("crm_resource", '[ -n "$LOCATED" ] && echo "resource $2 is running on: $LOCATED"; exit 0');
  stub("crm_node", 'echo "$ME"');
  stub("docker", 'echo "$*" >> "$LOG"; exit "$PROBE_RC"');
  const log = path.join(dir, "docker.log");
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { PATH: `${dir}:/usr/bin:/bin`, LOG: log, ...env } });
  return { code: r.status, out: r.stdout + r.stderr, docker: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
}

test("one probe check per service of the stack, on every member", () => {
  const checks = serviceProbeChecks(c);
  assert.deepEqual(checks.map((x) => x.name.split(":")[0]), serviceCatalog(c).map((s) => s.id));
  for (const x of checks) assert.deepEqual(x.hosts, c.nodes.map((n) => n.guest.address));
});

test("the member running the service runs its probe in the container; a failing probe fails", () => {
  const mosq = serviceProbeChecks(c).find((x) => x.name.startsWith("mosquitto:"))!;
  const spec = serviceCatalog(c).find((s) => s.id === "mosquitto")!;
  const ok = runCheck(mosq.script, { LOCATED: "ha01", ME: "ha01", PROBE_RC: "0" });
  assert.equal(ok.code, 0, ok.out);
  assert.equal(ok.docker.trim(), `exec mosquitto ${spec.probe.command.join(" ")}`);
  const bad = runCheck(mosq.script, { LOCATED: "ha01", ME: "ha01", PROBE_RC: "1" });
  assert.notEqual(bad.code, 0, "a failing probe fails the check");
});

test("a member not running the service passes it by; a service running nowhere fails", () => {
  const mosq = serviceProbeChecks(c).find((x) => x.name.startsWith("mosquitto:"))!;
  const other = runCheck(mosq.script, { LOCATED: "ha01", ME: "ha02", PROBE_RC: "1" });
  assert.equal(other.code, 0, other.out);
  assert.equal(other.docker, "");
  const nowhere = runCheck(mosq.script, { LOCATED: "", ME: "ha02", PROBE_RC: "0" });
  assert.equal(nowhere.code, 1);
  assert.match(nowhere.out, /mosquitto runs on no member/);
});
