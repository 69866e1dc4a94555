// /etc/default/sbd: read back by a real shell (what sbd's unit and init script do) and compared
// with the settings it was rendered from; its watchdog timeout and the CIB's agree.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { clusterProperties } from "../../../components/pacemaker/cib/build";
import { EnvFileError, renderEnvFile, renderSbdDefaults, sbdSettings } from "../../../components/pacemaker/sbd";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { tempDir } from "../../helpers/plan";

/** The variables a POSIX shell sets when it sources the file. */
function sourced(text: string): Record<string, string> {
  const file = path.join(tempDir("haha-sbd-"), "sbd");
  fs.writeFileSync(file, text);
  const r = spawnSync("env", ["-i", "sh", "-c", 'set -a; . "$1"; env', "sh", file], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^(SBD_[A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe("/etc/default/sbd", () => {
  it("sets exactly the rendered settings when sourced by a shell", () => {
    const c = prodConfig();
    const vars = sourced(renderSbdDefaults(c));
    assert.deepEqual(vars, Object.fromEntries(sbdSettings(c).map((e) => [e.key, e.value])));
    assert.equal(vars.SBD_WATCHDOG_DEV, "/dev/watchdog");
    assert.equal(vars.SBD_PACEMAKER, "yes");
    assert.equal(vars.SBD_DEVICE, undefined, "diskless: no SBD_DEVICE");
  });

  it("uses the configured watchdog timeout, and the CIB waits twice as long", () => {
    const c = mutatedConfig((raw) => (raw.cluster.fencing.watchdog = { enabled: true, timeoutS: 7 }));
    assert.equal(sourced(renderSbdDefaults(c)).SBD_WATCHDOG_TIMEOUT, "7");
    assert.equal(clusterProperties(c)["stonith-watchdog-timeout"]!.value, "14s");
  });

  it("turns watchdog fencing off in the CIB when SBD is off", () => {
    const c = mutatedConfig((raw) => (raw.cluster.fencing.watchdog = { enabled: false, timeoutS: 5 }));
    assert.equal(clusterProperties(c)["stonith-watchdog-timeout"]!.value, "0");
  });

  it("refuses values that would need quoting and keys that are not variables", () => {
    assert.throws(() => renderEnvFile([], [{ key: "SBD_OPTS", value: "-v; reboot" }]), EnvFileError);
    assert.throws(() => renderEnvFile([], [{ key: "sbd-opts", value: "x" }]), /not a shell variable name/);
    assert.throws(() => renderEnvFile([], [{ key: "A", value: "1" }, { key: "A", value: "2" }]), /set twice/);
  });
});
