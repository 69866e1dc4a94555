// The initialization steps as the guests run them (bash), against stand-ins of drbdadm, drbdsetup,
// blkid, dd, modprobe and mkfs.ocfs2 that report a chosen disk state and record what the step
// asks of them; cibadmin is the real one, reading a CIB file. What is asserted is the guard
// logic: what each step does, and above all what it refuses to do, in each real state.
// The stand-ins speak the real tools' formats: `No valid meta data found` is drbdmeta's own
// message (checked against drbdmeta on a loop device), events2 lines are `exists <object> k:v...`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { drbdModel } from "../../../components/storage/drbd";
import { adjustCommand, drbdUpScript, initialSyncScript, mkfsScript } from "../../../components/storage/init";
import { STORAGE_IDS } from "../../../components/storage";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { storageCib } from "./simulate";

let dir: string;
let bin: string;

// Each stand-in logs its command line, then behaves as the FAKE_* environment says.
const FAKES: Record<string, string> = {
  drbdadm: `
case "$1" in
  --version) printf 'DRBDADM_BUILDTAG=GIT-hash:\\ 409097fe\nDRBDADM_API_VERSION=1\nDRBD_KERNEL_VERSION_CODE=%s\nDRBDADM_VERSION_CODE=0x091600\nDRBDADM_VERSION=9.22.0\n' "\${FAKE_KCODE:-0x08040b}"; exit 0 ;;
  sh-resources) echo "\${FAKE_RESOURCES-haha}"; exit 0 ;;
  cstate) echo "\${FAKE_CSTATE:-Connected}"; exit 0 ;;
  dstate) echo "\${FAKE_DSTATE:-Inconsistent/Inconsistent}"; exit 0 ;;
  role) echo "\${FAKE_ROLE:-Secondary/Secondary}"; exit 0 ;;
esac
echo "drbdadm $*" >> "$LOG"
case "$1" in
  dump-md)
    if [ -n "\${FAKE_MD_ERROR:-}" ]; then echo "$FAKE_MD_ERROR" >&2; exit 20; fi
    if [ -e "$STATE/md" ]; then echo "# DRBD meta data dump"; exit 0; fi
    echo "No valid meta data found" >&2; exit 1 ;;
  create-md) touch "$STATE/md" ;;
esac
exit 0`,
  drbdsetup: `
case "$1" in
  status) [ -e "$STATE/up" ] && exit 0; echo "haha: No such resource" >&2; exit 10 ;;
  events2) cat "$STATE/events" 2>/dev/null; exit 0 ;;
esac
exit 1`,
  modprobe: `echo "modprobe $*" >> "$LOG"; case " \${FAKE_MISSING:-} " in *" $1 "*) echo "modprobe: FATAL: Module $1 not found" >&2; exit 1 ;; esac; exit 0`,
  dd: `echo "dd $*" >> "$LOG"; exit \${FAKE_DD_RC:-0}`,
  blkid: `echo "blkid $*" >> "$LOG"
case "$*" in *" $DISK") [ -n "\${FAKE_DISK_TYPE:-}" ] && echo "$FAKE_DISK_TYPE"; exit \${FAKE_DISK_RC:-2} ;; esac
[ -n "\${FAKE_BLKID_TYPE:-}" ] && echo "$FAKE_BLKID_TYPE"; exit \${FAKE_BLKID_RC:-2}`,
  "mkfs.ocfs2": `echo "mkfs.ocfs2 $*" >> "$LOG"; exit 0`,
};

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-init-"));
  bin = path.join(dir, "bin");
  fs.mkdirSync(bin);
  for (const [name, body] of Object.entries(FAKES)) fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The commands the step ran, in order. */
  log: string[];
}

let runs = 0;
function run(script: string, opts: { env?: Record<string, string>; md?: boolean; up?: boolean; events?: string[] } = {}): Run {
  const state = path.join(dir, `state-${runs++}`);
  fs.mkdirSync(state);
  if (opts.md) fs.writeFileSync(path.join(state, "md"), "");
  if (opts.up) fs.writeFileSync(path.join(state, "up"), "");
  if (opts.events) fs.writeFileSync(path.join(state, "events"), opts.events.join("\n") + "\n");
  const log = path.join(state, "log");
  fs.writeFileSync(log, "");
  // No CIB_file: the real cibadmin finds no cluster, as on a guest before the first CIB push.
  const env = { PATH: `${bin}:${process.env.PATH}`, LOG: log, STATE: state, DISK: disk, ...opts.env };
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env, timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, log: fs.readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
}

/**
 * The step checks that the backing disk is a block device (`[ -b ]`, a shell builtin): the
 * models below name one that exists on this machine. Every tool that would touch it is a stand-in.
 */
const disk = fs.readdirSync("/dev").map((d) => `/dev/${d}`).find((d) => { try { return fs.statSync(d).isBlockDevice(); } catch { return false; } }) ?? "/dev/no-block-device-here";
const withDisk = (m: ReturnType<typeof drbdModel>) => ({ ...m, hosts: m.hosts.map((h) => (h.diskful ? { ...h, disk } : h)) });
/** Prod: DRBD 8.4. */
const model = () => withDisk(drbdModel(prodConfig(), "unused"));
const diskful = () => model().hosts[0]!;
/** DRBD 9 (haha:storage.drbd.version 9): the third member is a diskless tiebreaker. */
const model9 = () => withDisk(drbdModel(mutatedConfig((raw) => (raw.storage.drbd.version = "9")), "unused"));
const tiebreaker = () => model9().hosts[2]!;
const K9 = { FAKE_KCODE: "0x09020c" };

/** drbdsetup events2 --now as DRBD 9 prints it for the first member. */
function events(o: { role?: string; local: string; peer?: string; peerConnected?: boolean }): string[] {
  const conn = o.peerConnected === false ? "Connecting" : "Connected";
  return [
    `exists resource name:haha role:${o.role ?? "Secondary"} suspended:no`,
    `exists connection name:haha peer-node-id:1 conn-name:nllei01ha02 connection:${conn} role:Secondary`,
    "exists connection name:haha peer-node-id:2 conn-name:nllei01ha03 connection:Connected role:Secondary",
    `exists device name:haha volume:0 minor:0 disk:${o.local} client:no quorum:yes`,
    ...(o.peerConnected === false ? [] : [`exists peer-device name:haha peer-node-id:1 conn-name:nllei01ha02 volume:0 replication:Established peer-disk:${o.peer ?? "Inconsistent"} peer-client:no resync-suspended:no`]),
    "exists peer-device name:haha peer-node-id:2 conn-name:nllei01ha03 volume:0 replication:Established peer-disk:Diskless peer-client:yes resync-suspended:no",
    "exists -",
  ];
}

describe("DRBD up step", () => {
  it("creates metadata (create-md --force, never a prompt) on a blank disk that has none, then brings the resource up", () => {
    const r = run(drbdUpScript(model(), diskful()));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, ["modprobe drbd", "modprobe ocfs2_stack_user", "modprobe ocfs2", "drbdadm dump-md haha", `blkid -p -o value -s TYPE ${disk}`, "drbdadm create-md --force haha", "drbdadm up haha"]);
  });

  it("refuses to create metadata over a disk that holds something (create-md --force would not ask)", () => {
    const r = run(drbdUpScript(model(), diskful()), { env: { FAKE_DISK_TYPE: "ext4", FAKE_DISK_RC: "0" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has no DRBD metadata but is not blank \(blkid: ext4\): refusing to create metadata over it/);
    assert.ok(!r.log.some((l) => l.includes("create-md") || l.includes(" up ")));
  });

  it("refuses a disk that is no block device, naming the config key", () => {
    const m = drbdModel(prodConfig(), "unused");
    const r = run(drbdUpScript(m, { ...m.hosts[0]!, disk: "/dev/disk/by-id/nvme-missing" }));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/dev\/disk\/by-id\/nvme-missing is not a block device on .*: check haha:nodes\[\]\.drbdDisk/);
  });

  it("keeps existing metadata", () => {
    const r = run(drbdUpScript(model(), diskful()), { md: true });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.log.some((l) => l.includes("create-md")));
    assert.equal(r.log.at(-1), "drbdadm up haha");
    assert.match(r.stdout, /metadata present on .*: keeping it/);
  });

  it("does nothing to a resource that is already up (Pacemaker runs it)", () => {
    const r = run(drbdUpScript(model(), diskful()), { up: true });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log.filter((l) => l.startsWith("drbdadm")), []);
  });

  it("refuses to create metadata when the disk cannot be read, rather than guess it is blank", () => {
    const r = run(drbdUpScript(model(), diskful()), { env: { FAKE_MD_ERROR: "open(/dev/nvme0n1) failed: No such file or directory" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read DRBD metadata on .* \(drbdadm dump-md exit 20\): refusing to create it/);
    assert.ok(!r.log.some((l) => l.includes("create-md") || l.includes(" up ")));
  });

  it("refuses a module of the other version with a clear message, either way", () => {
    const r = run(drbdUpScript(model(), diskful()), { env: K9 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /DRBD kernel module 9\.2\.12 is loaded; haha:storage\.drbd\.version 8\.4 needs a 8\.4\.x module \(from Debian's own kernel\)/);
    assert.deepEqual(r.log, ["modprobe drbd"]);
    const r9 = run(drbdUpScript(model9(), model9().hosts[0]!));
    assert.equal(r9.status, 1);
    assert.match(r9.stderr, /DRBD kernel module 8\.4\.11 is loaded; haha:storage\.drbd\.version 9 needs a 9\.x module \(from drbd-dkms from LINBIT's repository/);
  });

  it("refuses when the guest's hostname is not a host of the rendered resource", () => {
    const r = run(drbdUpScript(model(), diskful()), { env: { FAKE_RESOURCES: "" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not a host of DRBD resource haha/);
    assert.ok(!r.log.some((l) => l.startsWith("drbdadm")));
  });

  it("stops when OCFS2's kernel support is missing on a diskful member", () => {
    const r = run(drbdUpScript(model(), diskful()), { env: { FAKE_MISSING: "ocfs2_stack_user" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ocfs2_stack_user is missing/);
  });

  it("DRBD 9, on the tiebreaker: no metadata, no OCFS2 modules, just up (diskless)", () => {
    const r = run(drbdUpScript(model9(), tiebreaker()), { env: K9 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, ["modprobe drbd", "drbdadm up haha"]);
  });
});

describe("initial sync step (DRBD 8.4: cstate/dstate of the one connection)", () => {
  const script = () => initialSyncScript(model(), 1);

  it("starts the full sync once, from this member only, when the replicas are connected and neither holds data", () => {
    const r = run(script());
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, ["drbdadm primary --force haha", "drbdadm secondary haha"]);
  });

  for (const [what, dstate] of [
    ["the peer holds up-to-date data (a replaced local disk)", "Inconsistent/UpToDate"],
    ["this member holds up-to-date data", "UpToDate/Inconsistent"],
    ["both are in sync already (a later run)", "UpToDate/UpToDate"],
  ] as const) {
    it(`does nothing when ${what}`, () => {
      const r = run(script(), { env: { FAKE_DSTATE: dstate } });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.log, []);
    });
  }

  it("refuses to decide while the other replica is unreachable (it may hold the only good data)", () => {
    const r = run(script(), { env: { FAKE_CSTATE: "WFConnection" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /replica nllei01ha02 is not connected after 1 s \(cstate WFConnection\): refusing/);
    assert.deepEqual(r.log, []);
  });

  it("refuses to force a resource whose disks are not fresh ones", () => {
    const r = run(script(), { env: { FAKE_DSTATE: "Outdated/Outdated" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /disks of haha are Outdated\/Outdated \(local\/peer\), not Inconsistent: not a new resource, refusing to force it/);
    assert.deepEqual(r.log, []);
  });
});

describe("initial sync step (DRBD 9: events2 of every connection)", () => {
  const script = () => initialSyncScript(model9(), 1);

  it("starts the full sync once, when both replicas are connected and neither holds data", () => {
    const r = run(script(), { events: events({ local: "Inconsistent", peer: "Inconsistent" }), env: K9 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, ["drbdadm primary --force haha", "drbdadm secondary haha"]);
  });

  for (const [what, ev] of [
    ["the peer holds up-to-date data (a replaced local disk)", events({ local: "Inconsistent", peer: "UpToDate" })],
    ["this member holds up-to-date data", events({ local: "UpToDate", peer: "Inconsistent" })],
    ["both are in sync already (a later run)", events({ local: "UpToDate", peer: "UpToDate" })],
  ] as const) {
    it(`does nothing when ${what}`, () => {
      const r = run(script(), { events: [...ev], env: K9 });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.log, []);
    });
  }

  it("refuses to decide while the other replica is unreachable (it may hold the only good data)", () => {
    const r = run(script(), { events: events({ local: "Inconsistent", peerConnected: false }), env: K9 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /replica nllei01ha02 is not connected after 1 s: refusing/);
    assert.deepEqual(r.log, []);
  });

  it("refuses to force a resource whose local disk is not a fresh one", () => {
    const r = run(script(), { events: events({ local: "Outdated", peer: "Outdated" }), env: K9 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /not Inconsistent: not a new resource, refusing to force it/);
    assert.deepEqual(r.log, []);
  });
});

describe("mkfs step", () => {
  const script = () => mkfsScript(model(), { clusterName: "haha", label: "haha", slots: 4, drbdCloneId: STORAGE_IDS.drbdClone("haha") });
  const secondary: string[] = [];

  it("makes OCFS2 on a blank device, primary only while it does", () => {
    const r = run(script(), { events: secondary });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, [
      "drbdadm primary haha",
      "dd if=/dev/drbd0 of=/dev/null bs=4096 count=1 iflag=direct status=none",
      "blkid -p -s TYPE -o value /dev/drbd0",
      "mkfs.ocfs2 --cluster-stack=pcmk --cluster-name=haha -N 4 -L haha /dev/drbd0",
      "drbdadm secondary haha",
    ]);
  });

  it("never formats an existing OCFS2", () => {
    const r = run(script(), { events: secondary, env: { FAKE_BLKID_TYPE: "ocfs2", FAKE_BLKID_RC: "0" } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.log.some((l) => l.startsWith("mkfs")));
    assert.equal(r.log.at(-1), "drbdadm secondary haha");
  });

  it("refuses a device holding another filesystem", () => {
    const r = run(script(), { events: secondary, env: { FAKE_BLKID_TYPE: "ext4", FAKE_BLKID_RC: "0" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds another signature \(ext4\): refusing to format it/);
    assert.ok(!r.log.some((l) => l.startsWith("mkfs")));
    assert.equal(r.log.at(-1), "drbdadm secondary haha", "demoted again on the way out");
  });

  it("refuses when the probe fails or the device does not answer: a failed probe is not a blank disk", () => {
    const probe = run(script(), { events: secondary, env: { FAKE_BLKID_RC: "4" } });
    assert.equal(probe.status, 1);
    assert.match(probe.stderr, /blkid could not probe \/dev\/drbd0 \(exit 4\)/);
    assert.ok(!probe.log.some((l) => l.startsWith("mkfs")));
    const read = run(script(), { events: secondary, env: { FAKE_DD_RC: "1" } });
    assert.notEqual(read.status, 0);
    assert.ok(!read.log.some((l) => l.startsWith("blkid") || l.startsWith("mkfs")));
  });

  it("does not touch DRBD at all once the CIB holds the DRBD clone (real cibadmin on the rendered CIB)", () => {
    const cib = path.join(dir, "cib.xml");
    fs.writeFileSync(cib, storageCib(prodConfig()));
    const r = run(script(), { events: secondary, env: { CIB_file: cib } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /the CIB holds haha/);
    assert.deepEqual(r.log, []);
  });

  it("leaves an already primary member primary", () => {
    const r = run(script(), { env: { FAKE_ROLE: "Primary/Secondary", FAKE_BLKID_TYPE: "ocfs2", FAKE_BLKID_RC: "0" } });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.log.some((l) => l.startsWith("drbdadm")));
  });
});

describe("adjust on change (one member at a time)", () => {
  const adjust = (waitS = 1) => adjustCommand(model(), waitS);
  it("adjusts a running resource, then waits until it is connected and UpToDate again before it reports done", () => {
    const r = run(adjust(), { up: true, env: { FAKE_DSTATE: "UpToDate/UpToDate" } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.log, ["drbdadm adjust haha"]);
    assert.match(r.stdout, /adjusted on .* and back in sync/);
  });

  it("fails (so the next member does not adjust) while the peer has not reconnected", () => {
    const r = run(adjust(), { up: true, env: { FAKE_CSTATE: "WFConnection", FAKE_DSTATE: "UpToDate/DUnknown" } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not connected and UpToDate 1 s after drbdadm adjust: the next member does not adjust/);
  });

  it("leaves a resource that is not up to the up step", () => {
    const fresh = run(adjust());
    assert.equal(fresh.status, 0);
    assert.deepEqual(fresh.log, []);
  });
});
