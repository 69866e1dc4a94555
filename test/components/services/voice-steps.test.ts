// The voice guest's reboot for the NVIDIA driver, as the guest runs it (sh) with stand-ins for
// nvidia-smi, systemd-run and systemctl: the command returns before the reboot (scheduled, sshd
// stopped for new sessions), and the next step fails loudly unless the guest really rebooted.
// Then the Ollama container under mocks: it takes the pulled image's id.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { REBOOT_FROM_FILE, renderGpuReady, renderNvidiaReboot } from "../../../components/services/voice";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-init-voice-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const thisBoot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();

/** Stand-ins that log their arguments to calls.log; nvidia-smi answers when `gpu`. */
function bin(gpu: boolean): { path: string; calls: () => string } {
  const d = fs.mkdtempSync(path.join(dir, "bin-"));
  const log = path.join(d, "calls.log");
  const logger = (name: string, rc = 0) => fs.writeFileSync(path.join(d, name), `#!/bin/sh\necho "${name} $*" >> ${log}\nexit ${rc}\n`, { mode: 0o755 });
  logger("systemd-run");
  logger("systemctl");
  logger("nvidia-smi", gpu ? 0 : 9);
  return { path: d, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "") };
}

const fromFile = path.join(dir, "reboot-from");
const run = (script: string, pathDir: string) => {
  // bash, as the guest runs a remote command: root's login shell on Debian (the steps use pipefail, which dash lacks).
  const r = spawnSync("bash", ["-c", script.split(REBOOT_FROM_FILE).join(fromFile)], { encoding: "utf8", env: { ...process.env, PATH: `${pathDir}:${process.env.PATH}` }, timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
};

describe("the NVIDIA reboot", () => {
  it("schedules the reboot after it returns and refuses new SSH sessions meanwhile, then reports the boot it left", () => {
    const b = bin(false);
    const r = run(renderNvidiaReboot(), b.path);
    assert.equal(r.status, 0, r.out);
    const calls = b.calls().trim().split("\n");
    assert.deepEqual(calls.filter((c) => !c.startsWith("nvidia-smi")), ["systemd-run --unit=haha-nvidia-reboot --on-active=5 /bin/systemctl reboot", "systemctl stop ssh.service"]);
    assert.equal(fs.readFileSync(fromFile, "utf8").trim(), thisBoot);
  });

  it("does nothing when the driver already answers", () => {
    const b = bin(true);
    const r = run(renderNvidiaReboot(), b.path);
    assert.equal(r.status, 0);
    assert.equal(fs.readFileSync(fromFile, "utf8").trim(), "none");
    assert.doesNotMatch(b.calls(), /systemd-run|systemctl/);
  });

  it("the next step fails loudly when the guest is still in the boot the reboot was scheduled from", () => {
    fs.writeFileSync(fromFile, `${thisBoot}\n`);
    const r = run(renderGpuReady(), bin(true).path);
    assert.equal(r.status, 1);
    assert.match(r.out, /the voice guest did not reboot after the NVIDIA driver install/);
  });

  it("the next step passes in a new boot once the GPU answers, or when no reboot was needed, and fails when the reboot step left no record", () => {
    fs.writeFileSync(fromFile, "00000000-0000-4000-8000-000000000000\n");
    assert.equal(run(renderGpuReady(), bin(true).path).status, 0);
    fs.writeFileSync(fromFile, "none\n");
    assert.equal(run(renderGpuReady(), bin(true).path).status, 0);
    fs.rmSync(fromFile);
    const r = run(renderGpuReady(), bin(true).path);
    assert.equal(r.status, 1);
    assert.match(r.out, /is missing: the reboot step did not run/);
  });
});
