// The NFS side's rendered files, read by the tools that read them on the guests: nfsconf (the
// nfs.conf parser rpc.nfsd uses) and systemd-analyze verify; and the option lists with reasons.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { KeyfileSyntaxError, renderKeyfile } from "../../../components/storage/keyfile";
import { DIRS_UNIT, NFSDCLD_DROPIN_PATH, clientMountOptions, exportOptions, joinOptions, renderDirsUnit, renderNfsdConf, renderNfsdcldDropIn } from "../../../components/storage/nfs";
import { mutatedConfig, prodConfig } from "../../helpers/config";

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-nfs-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw new Error(`${cmd} could not run (install the Debian packages scripts/install-debian-tools.sh installs): ${r.error.message}`);
  return r;
}

describe("nfsd lease and grace snippet", () => {
  it("is read by nfsconf as rpc.nfsd reads it", () => {
    const file = path.join(dir, "haha-nfsd.conf");
    fs.writeFileSync(file, renderNfsdConf(mutatedConfig((raw) => ((raw.storage.nfs.leaseTimeS = 20), (raw.storage.nfs.graceTimeS = 30)))));
    const get = (tag: string) => run("nfsconf", ["--file", file, "--get", "nfsd", tag]);
    assert.equal(get("lease-time").stdout.trim(), "20");
    assert.equal(get("grace-time").stdout.trim(), "30");
    assert.notEqual(run("nfsconf", ["--file", file, "--isset", "nfsd", "threads"]).status, 0, "nothing else is set");
  });
});

describe("directories unit (systemd:haha-nfs-dirs)", () => {
  it("passes systemd-analyze verify and creates the export and state directories only on the mounted OCFS2", () => {
    const c = prodConfig();
    const file = path.join(dir, `${DIRS_UNIT}.service`);
    const text = renderDirsUnit(c);
    fs.writeFileSync(file, text);
    const r = run("systemd-analyze", ["verify", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "systemd-analyze reported problems");
    assert.match(text, /^AssertPathIsMountPoint=\/srv\/ocfs2$/m);
    assert.match(text, /^ExecStart=\/bin\/mkdir -p \/srv\/ocfs2\/export \/srv\/ocfs2\/nfs-state \/srv\/ocfs2\/export\/proxmox$/m);
    assert.doesNotMatch(text, /^\[Install\]$/m, "never started at boot: Pacemaker starts it");
  });

  it("leaves out the Proxmox directory where no Proxmox storage is asked for", () => {
    const text = renderDirsUnit(mutatedConfig((raw) => delete raw.storage.nfs.proxmoxStorage));
    assert.match(text, /^ExecStart=\/bin\/mkdir -p \/srv\/ocfs2\/export \/srv\/ocfs2\/nfs-state$/m);
  });
});

describe("nfsdcld drop-in (stopped with nfs-server)", () => {
  // systemd reads a drop-in only with its unit: stand-in units of the same names on a unit path of
  // the test's own, which systemd-analyze loads with their drop-in directories.
  function verify(dropIn: string) {
    const units = fs.mkdtempSync(path.join(dir, "units-"));
    for (const u of ["nfsdcld", "nfs-server"]) fs.writeFileSync(path.join(units, `${u}.service`), `[Unit]\nDescription=${u}\n[Service]\nType=oneshot\nExecStart=/bin/true\n`);
    fs.mkdirSync(path.join(units, "nfsdcld.service.d"));
    fs.writeFileSync(path.join(units, "nfsdcld.service.d", path.basename(NFSDCLD_DROPIN_PATH)), dropIn);
    const r = spawnSync("systemd-analyze", ["verify", "nfsdcld.service"], { encoding: "utf8", env: { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` } });
    if (r.error) throw new Error(`systemd-analyze could not run: ${r.error.message}`);
    return r;
  }

  it("systemd reads it without a complaint, and it makes nfsdcld part of nfs-server", () => {
    const text = renderNfsdcldDropIn();
    const r = verify(text);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), "", "systemd-analyze reported problems");
    assert.match(text, /^\[Unit\]\n(#.*\n)*PartOf=nfs-server\.service$/m);
    assert.equal(path.dirname(NFSDCLD_DROPIN_PATH), "/etc/systemd/system/nfsdcld.service.d");
  });

  it("the check can fail: systemd names a key it does not know", () => {
    const r = verify(renderNfsdcldDropIn().replace("PartOf=", "PartOff="));
    assert.match(r.stderr, /Unknown key 'PartOff'/);
  });
});

describe("export and mount options", () => {
  it("export: synchronous writes, each option with its reason", () => {
    const opts = exportOptions();
    assert.equal(joinOptions(opts), "rw,sync,no_root_squash,no_subtree_check");
    for (const o of opts) assert.ok(o.reason.length > 20, `${o.name} has no reason`);
  });

  it("client: NFSv4.2, hard, timeouts from config", () => {
    const c = mutatedConfig((raw) => ((raw.storage.nfs.timeoDeciseconds = 30), (raw.storage.nfs.retrans = 4)));
    assert.equal(joinOptions(clientMountOptions(c)), "vers=4.2,proto=tcp,hard,timeo=30,retrans=4,nosuid,nodev");
  });

  it("refuses an option list it cannot write", () => {
    assert.throws(() => joinOptions([{ name: "opt", value: "a,b", reason: "x" }]), /cannot be written/);
    assert.throws(() => joinOptions([{ name: "Bad", reason: "x" }]), /not an option name/);
  });
});

describe("key file serializer", () => {
  it("writes sections with reasons as comments and refuses what the readers would misread", () => {
    const text = renderKeyfile([{ name: "nfsd", entries: [{ key: "lease-time", value: 15, reason: "why" }, { key: "udp", value: false }] }], ["head"]);
    assert.equal(text, "# head\n\n[nfsd]\n# why\nlease-time=15\nudp=no\n");
    assert.throws(() => renderKeyfile([{ name: "s", entries: [{ key: "k", value: "a\nb" }] }]), KeyfileSyntaxError);
    assert.throws(() => renderKeyfile([{ name: "s", entries: [{ key: "k", value: " padded" }] }]), KeyfileSyntaxError);
    assert.throws(() => renderKeyfile([{ name: "bad section", entries: [] }]), KeyfileSyntaxError);
    assert.throws(() => renderKeyfile([{ name: "s", entries: [{ key: "bad key", value: 1 }] }]), KeyfileSyntaxError);
  });
});
