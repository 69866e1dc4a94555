// The export probe that gates the Proxmox backup storage, run for real: mount.nfs4 against a
// loopback address where no NFS server listens must fail the step, loudly, naming the export.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import { EXPORT_PROBE, proxmoxMountOptions, renderExportProbe } from "../../../components/storage/proxmox";
import { joinOptions } from "../../../components/storage/nfs";
import { prodConfig } from "../../helpers/config";

describe("the export probe", () => {
  it("is valid shell and waits a bounded time, with its reason", () => {
    const r = spawnSync("bash", ["-n"], { input: renderExportProbe("10.0.181.51", "/srv/ocfs2/export/proxmox"), encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(EXPORT_PROBE.attempts * EXPORT_PROBE.delayS, 180);
    assert.match(EXPORT_PROBE.reason, /3 min/);
  });

  it("fails, naming the export, when nothing serves it (real mount.nfs4 on loopback)", () => {
    const script = renderExportProbe("127.0.0.1", "/host-fixes-no-such-export", 2, 0);
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 1, `expected exit 1, got ${r.status}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /export 127\.0\.0\.1:\/host-fixes-no-such-export did not answer after 2 attempts/);
    assert.deepEqual(fs.readdirSync("/run").filter((f) => f.startsWith("haha-nfs-probe.")), [], "the probe left its mount point behind");
  });

  it("mounts the hosts soft, keeping the members' timeouts", () => {
    assert.equal(joinOptions(proxmoxMountOptions(prodConfig())), "vers=4.2,proto=tcp,soft,timeo=50,retrans=2,nosuid,nodev");
  });
});
