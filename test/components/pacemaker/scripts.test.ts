// The steps the pacemaker layer runs on members, run here with the real Pacemaker tools against a
// CIB file standing in for the live cluster (every tool honours CIB_file); only `crm_node --quorum`,
// which asks corosync, is answered by a stand-in.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { XMLParser } from "fast-xml-parser";
import { buildCibModel, CIB_DIGEST_PROPERTY } from "../../../components/pacemaker/cib/build";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { MEMBER_MARKER_DIR, renderAuthkeyInstall, renderCibPushScript, renderClusterStart, renderCorosyncReload, renderSbdRestart } from "../../../components/pacemaker/scripts";
import { parseCib } from "../../../plan/simulate-cib";
import { clusterMembers } from "../../../stacks/config/members";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { tempDir } from "../../helpers/plan";
import { dummy, servicesFixture, storageFixture } from "./fixtures";
import type { Op } from "../../../components/pacemaker/cib/model";

const dummyWithOps = (id: string, ops: Op[]) => ({ ...dummy(id), ops });

const dir = tempDir("haha-push-");
const live = path.join(dir, "live.xml");
const cibFile = path.join(dir, "cib.xml");
const script = path.join(dir, "haha-cib-push");
const bin = path.join(dir, "bin");

function setQuorum(q: 0 | 1) {
  fs.writeFileSync(path.join(bin, "crm_node"), `#!/bin/sh\n[ "$1" = --quorum ] && echo ${q}\n`, { mode: 0o755 });
}

function push(env: Record<string, string> = {}) {
  const r = spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CIB_file: live, TMPDIR: dir, ...env } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const cibAttrs = (file: string) => (new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(fs.readFileSync(file, "utf8")) as { cib: Record<string, string> }).cib;
const epoch = (file: string) => Number(cibAttrs(file).epoch);
const run = (cmd: string, args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: dir, env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

const c = prodConfig();
const members = clusterMembers(c).map((m) => m.name);
const fragments = () => [storageFixture(c), servicesFixture()];

before(() => {
  fs.mkdirSync(bin);
  setQuorum(1);
  // The "live cluster": the current configuration with every member up and everything started.
  fs.writeFileSync(path.join(dir, "old.xml"), renderCib(buildCibModel(c, fragments())));
  run("crm_simulate", ["-x", "old.xml", "-S", "-q", "1", ...clusterMembers(c).flatMap((m) => ["--node-up", m.name]), "--save-output", "live.xml"]);
  // What the DC maintains itself, which a push must keep.
  run("crm_attribute", ["--type", "crm_config", "--name", "dc-version", "--update", "2.1.5-test"], { CIB_file: live });
  fs.writeFileSync(script, renderCibPushScript({ cibPath: cibFile, nodeId: 1, members, staggerS: 5, waitS: 2 }), { mode: 0o755 });
});

describe("haha-cib-push", () => {
  it("replaces the live configuration in one change, keeps the status and the DC's properties, and records the digest", () => {
    const next = mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 200));
    fs.writeFileSync(cibFile, renderCib(buildCibModel(next, fragments())));
    const before = epoch(live);
    const r = push();
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /applied CIB [0-9a-f]{64}/);
    const after = parseCib(fs.readFileSync(live, "utf8"));
    assert.equal(after.rscDefaults["resource-stickiness"], "200");
    assert.equal(after.properties[CIB_DIGEST_PROPERTY], crypto.createHash("sha256").update(fs.readFileSync(cibFile)).digest("hex"));
    assert.equal(after.properties["dc-version"], "2.1.5-test");
    assert.ok(epoch(live) > before, "the cluster bumps the epoch itself: no replace of an older CIB");
    assert.match(fs.readFileSync(live, "utf8"), /<node_state /, "the status section is untouched");
  });

  it("does nothing when the digest is live already (a second member, or a re-run)", () => {
    const before = epoch(live);
    const r = push();
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /is live already/);
    assert.equal(epoch(live), before);
  });

  it("refuses to change a minority partition's configuration", () => {
    fs.writeFileSync(cibFile, renderCib(buildCibModel(mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 300)), fragments())));
    const before = fs.readFileSync(live, "utf8");
    setQuorum(0);
    try {
      const r = push();
      assert.equal(r.status, 1);
      assert.match(r.out, /no quorum: refusing/);
      assert.equal(fs.readFileSync(live, "utf8"), before);
    } finally {
      setQuorum(1);
    }
  });

  it("applies nothing when the new CIB does not validate against the schema", () => {
    const frag = { source: "broken", resources: [{ kind: "primitive" as const, id: "noprov", class: "ocf" as const, type: "Dummy", params: {}, ops: [] }], constraints: [] };
    fs.writeFileSync(cibFile, renderCib(buildCibModel(c, [...fragments(), frag])));
    const before = fs.readFileSync(live, "utf8");
    const r = push();
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /does not validate against its schema; the cluster keeps its current configuration/);
    assert.equal(fs.readFileSync(live, "utf8"), before);
  });

  it("applies nothing when crm_verify refuses the new CIB against the live state", () => {
    const dup = dummyWithOps("dupmon", [
      { name: "monitor", intervalS: 10, timeoutS: 20, reason: "x" },
      { name: "monitor", intervalS: 10, timeoutS: 20, role: "Started", reason: "the same interval twice: Pacemaker refuses it" },
    ]);
    fs.writeFileSync(cibFile, renderCib(buildCibModel(c, [...fragments(), { source: "broken", resources: [dup], constraints: [] }])));
    const before = fs.readFileSync(live, "utf8");
    const r = push();
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /is duplicate of[\s\S]*crm_verify refuses the new CIB/);
    assert.equal(fs.readFileSync(live, "utf8"), before);
  });

  it("fails, naming what is missing, when Pacemaker does not answer after its wait", () => {
    const r = push({ CIB_file: path.join(dir, "no-such-cib.xml") });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /Pacemaker does not answer after 2 s \(cibadmin --query: .+\); is pacemaker.service running\? The CIB [0-9a-f]{64} is NOT applied/);
  });

  it("fails, naming the package, when the Pacemaker tools are not installed", () => {
    // Only what the script needs before its tool check: no cibadmin, no crm_* on PATH.
    const bare = path.join(dir, "bare-bin");
    fs.mkdirSync(bare, { recursive: true });
    for (const t of ["uname"]) fs.symlinkSync(spawnSync("bash", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim(), path.join(bare, t));
    const r = spawnSync("/bin/bash", [script], { encoding: "utf8", env: { PATH: bare, CIB_file: live, TMPDIR: dir } });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /cibadmin is not installed \(Debian package pacemaker-cli-utils\): the CIB is NOT applied/);
  });

  it("holds a new primitive whose files come later stopped, and keeps a live one's target-role (an operator's stop)", () => {
    const held = path.join(dir, "haha-cib-push-held");
    fs.writeFileSync(held, renderCibPushScript({ cibPath: cibFile, nodeId: 1, members, staggerS: 5, waitS: 2, awaitingFiles: ["fx-mosquitto", "fx-newservice"] }), { mode: 0o755 });
    run("crm_resource", ["--resource", "fx-mosquitto", "--meta", "--set-parameter", "target-role", "--parameter-value", "Stopped"], { CIB_file: live });
    const frag = { source: "new", resources: [dummy("fx-newservice")], constraints: [] };
    fs.writeFileSync(cibFile, renderCib(buildCibModel(mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 150)), [...fragments(), frag])));
    const r = spawnSync("bash", [held], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, CIB_file: live, TMPDIR: dir } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /fx-newservice is new: held stopped until its files are written/);
    const meta = (id: string, a: string) => run("crm_resource", ["--resource", id, "--meta", "--get-parameter", a, "--quiet"], { CIB_file: live }).trim();
    assert.equal(meta("fx-newservice", "target-role"), "Stopped");
    assert.equal(meta("fx-newservice", "haha-awaiting-files"), "true");
    assert.equal(meta("fx-mosquitto", "target-role"), "Stopped", "the operator's stop survives the push");
    assert.equal(meta("fx-mosquitto", "haha-awaiting-files"), "");
    // The crm_simulate view of the live CIB: nothing starts the held service.
    const sim = spawnSync("crm_simulate", ["-x", live, "-S", "-q", "1", "--save-output", path.join(dir, "held-next.xml")], { encoding: "utf8" });
    assert.equal(sim.status, 0, sim.stderr);
    assert.doesNotMatch(sim.stdout, /Start\s+fx-newservice/);
    run("crm_resource", ["--resource", "fx-mosquitto", "--meta", "--delete-parameter", "target-role"], { CIB_file: live });
  });

  it("keeps what the cluster and operators added: fence-peer and ban/move constraints, node standby", () => {
    const env = { CIB_file: live };
    run("crm_resource", ["--ban", "--resource", "fx-mosquitto", "--node", "nllei01ha01"], env);
    run("crm_resource", ["--move", "--resource", "fx-homeassistant", "--node", "nllei01ha02"], env);
    run("cibadmin", ["--create", "--scope", "constraints", "--xml-text",
      '<rsc_location rsc="fx-drbd-clone" id="drbd-fence-by-handler-haha-fx-drbd-clone"><rule role="Promoted" score="-INFINITY" id="drbd-fence-by-handler-haha-rule-fx-drbd-clone"><expression attribute="#uname" operation="ne" value="nllei01ha01" id="drbd-fence-by-handler-haha-expr-1-fx-drbd-clone"/></rule></rsc_location>'], env);
    run("crm_attribute", ["--node", "nllei01ha03", "--name", "standby", "--update", "on"], env);
    fs.writeFileSync(cibFile, renderCib(buildCibModel(mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 170)), fragments())));
    const r = push();
    assert.equal(r.status, 0, r.out);
    const ids = run("cibadmin", ["--query", "--scope", "constraints"], env);
    for (const id of ["cli-ban-fx-mosquitto-on-nllei01ha01", "cli-prefer-fx-homeassistant", "drbd-fence-by-handler-haha-fx-drbd-clone"]) assert.match(ids, new RegExp(`id="${id}"`), `${id} dropped by the push`);
    assert.equal(run("crm_attribute", ["--node", "nllei01ha03", "--name", "standby", "--query", "--quiet"], env).trim(), "on");
    assert.equal(parseCib(fs.readFileSync(live, "utf8")).rscDefaults["resource-stickiness"], "170", "and the new configuration is applied");
  });

  it("refuses, naming it, to push while a kept constraint points at a resource the new configuration drops", () => {
    const env = { CIB_file: live };
    fs.writeFileSync(cibFile, renderCib(buildCibModel(c, [storageFixture(c), { ...servicesFixture(), resources: servicesFixture().resources.filter((x) => x.id !== "fx-mosquitto"), constraints: [] }])));
    const before = fs.readFileSync(live, "utf8");
    const r = push();
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /refusing to push: live constraint 'cli-ban-fx-mosquitto-on-nllei01ha01' \(<rsc_location .*\) cannot be kept in the new configuration \(.*Update does not conform to the configured schema.*\); remove it \(crm_resource --clear, or cibadmin --delete\)/);
    assert.equal(fs.readFileSync(live, "utf8"), before);
    for (const id of ["cli-ban-fx-mosquitto-on-nllei01ha01", "cli-prefer-fx-homeassistant"]) run("cibadmin", ["--delete", "--xml-text", `<rsc_location id="${id}"/>`], env);
    run("crm_attribute", ["--node", "nllei01ha03", "--name", "standby", "--delete"], env);
  });

  // The namespace lab found it: the first deployment starts every member's stack, then pushes;
  // member 1 pushed while member 3 had not joined yet, and crm_verify refused the CIB (Pacemaker
  // would fence a member it never saw at once) with a warning the push did not even print.
  it("waits for a member that never joined (no node state) instead of having it fenced, and fails naming it", () => {
    const late = members[members.length - 1] as string;
    const joining = path.join(dir, "joining.xml");
    fs.copyFileSync(live, joining);
    run("cibadmin", ["--delete", "--xml-text", `<node_state uname="${late}"/>`], { CIB_file: joining });
    fs.writeFileSync(cibFile, renderCib(buildCibModel(mutatedConfig((raw) => (raw.cluster.defaults.resourceStickiness = 120)), fragments())));
    const before = fs.readFileSync(joining, "utf8");
    const r = push({ CIB_file: joining });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, new RegExp(`${late} never joined this cluster \\(no node state after 2 s\\): under the new configuration Pacemaker would fence them at once \\(startup-fencing\\).*NOT applied`));
    assert.equal(fs.readFileSync(joining, "utf8"), before, "nothing applied");
    // What the wait prevents: crm_verify refuses that CIB, and now says why.
    const verify = spawnSync("bash", ["-c", `sed -n '/^# 4\\./,/^fi$/p' ${script}`], { encoding: "utf8" }).stdout;
    const cand = path.join(dir, "joining-candidate.xml");
    fs.copyFileSync(joining, cand);
    run("cibadmin", ["--replace", "--scope", "configuration", "--xml-file", cibFile], { CIB_file: cand });
    const v = spawnSync("bash", ["-c", `work=${dir}; cp ${cand} $work/candidate.xml; say() { echo "$*"; }; ${verify}`], { encoding: "utf8" });
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.match(v.stderr, new RegExp(`warning: Scheduling node ${late} for fencing[\\s\\S]*crm_verify refuses the new CIB`));
    // Once it has joined (its node state is there), the same push applies.
    const ok = push();
    assert.equal(ok.status, 0, ok.out);
    assert.match(ok.out, /applied CIB/);
  });

  it("lets members try in node-id order, a few seconds apart", () => {
    assert.doesNotMatch(renderCibPushScript({ cibPath: cibFile, nodeId: 1, members, staggerS: 5, waitS: 120 }), /\nsleep \d+\n/);
    assert.match(renderCibPushScript({ cibPath: cibFile, nodeId: 3, members, staggerS: 5, waitS: 120 }), /\nsleep 10\n/);
  });
});

describe("corosync authkey install", () => {
  it("turns the base64 text into the 256-byte binary key, root-only", () => {
    const key = crypto.randomBytes(256);
    const b64 = path.join(dir, "authkey.b64");
    const target = path.join(dir, "authkey");
    fs.writeFileSync(b64, key.toString("base64"));
    const r = spawnSync("bash", ["-c", renderAuthkeyInstall(b64, target)], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readFileSync(target), key);
    assert.equal(fs.statSync(target).mode & 0o777, 0o400);
  });

  it("refuses a key of the wrong size and leaves the old one", () => {
    const b64 = path.join(dir, "short.b64");
    const target = path.join(dir, "authkey-short");
    fs.writeFileSync(target, "old");
    fs.writeFileSync(b64, crypto.randomBytes(16).toString("base64"));
    const r = spawnSync("bash", ["-c", renderAuthkeyInstall(b64, target)], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.equal(fs.readFileSync(target, "utf8"), "old");
  });
});

describe("cluster start", () => {
  it("is valid shell, enables sbd before corosync starts, and corosync before pacemaker", () => {
    const text = renderClusterStart({ clusterName: "haha", sbd: true });
    for (const s of [text, renderCorosyncReload("haha"), renderCibPushScript({ cibPath: "/etc/haha/cib.xml", nodeId: 2, members, staggerS: 5, waitS: 120 })]) {
      const r = spawnSync("bash", ["-n"], { input: s, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    }
    const at = (needle: string) => text.indexOf(needle);
    assert.ok(at("systemctl enable sbd") >= 0 && at("systemctl enable sbd") < at("systemctl start corosync"));
    assert.ok(at("systemctl start corosync") < at("systemctl start pacemaker"));
    assert.match(text, /if \[ ! -e '\/var\/lib\/haha\/member-of-haha' \]; then/);
    assert.match(renderClusterStart({ clusterName: "haha", sbd: false }), /systemctl disable sbd/);
    // Each unit is enabled only when it is not: a re-run does no update-rc.d and no daemon-reload.
    assert.match(text, /systemctl is-enabled --quiet sbd \|\| systemctl enable sbd/);
    assert.match(text, /for u in corosync pacemaker; do systemctl is-enabled --quiet "\$u" \|\| systemctl enable "\$u"; done/);
  });
});

describe("sbd restart (a changed /etc/default/sbd)", () => {
  // The cluster's answers come from stand-ins on PATH (no cluster here); the script is the real one.
  const sdir = tempDir("haha-sbd-");
  const sbin = path.join(sdir, "bin");
  const calls = path.join(sdir, "calls");
  const cluster = `sbdtest${process.pid}`;
  const marker = `${MEMBER_MARKER_DIR}/member-of-${cluster}`;
  const stand = (name: string, body: string) => fs.writeFileSync(path.join(sbin, name), `#!/bin/sh\necho "${name} $*" >> ${calls}\n${body}\n`, { mode: 0o755 });
  before(() => {
    fs.mkdirSync(sbin, { recursive: true });
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, "");
    stand("systemctl", "exit 0");
    stand("crm_node", '[ "$1" = --quorum ] && echo 1');
    stand("crm_mon", 'echo "  * Online: [ $(uname -n) ]"');
    stand("crm_resource", "exit 0");
    // The returning replica resyncs: Inconsistent for its first three looks, then UpToDate.
    stand("drbdadm", `case "$1" in cstate) echo Connected ;; dstate) n=$(grep -c '^drbdadm dstate' ${calls}); if [ "$n" -le 3 ]; then echo Inconsistent/UpToDate; else echo UpToDate/UpToDate; fi ;; esac`);
  });
  after(() => fs.rmSync(marker, { force: true }));
  const restart = (opts: Parameters<typeof renderSbdRestart>[1]) => {
    fs.writeFileSync(calls, "");
    const r = spawnSync("bash", ["-c", renderSbdRestart(cluster, opts)], { encoding: "utf8", env: { ...process.env, PATH: `${sbin}:${process.env.PATH}` } });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, calls: fs.readFileSync(calls, "utf8") };
  };

  it("on a diskful member, ends only once the cluster settled and its replica is UpToDate again", () => {
    const r = restart({ drbd: { resource: "haha", version: "8.4" }, waitS: 60 });
    assert.equal(r.status, 0, r.out);
    assert.match(r.calls, /systemctl stop pacemaker\nsystemctl stop corosync\nsystemctl start corosync\nsystemctl start pacemaker/);
    assert.match(r.calls, /crm_resource --wait --timeout=\d+s/);
    assert.equal((r.calls.match(/^drbdadm dstate haha$/gm) ?? []).length, 4, "it stopped looking before the replica was UpToDate");
    assert.ok(r.calls.indexOf("crm_resource --wait") < r.calls.indexOf("drbdadm dstate"));
  });

  it("fails, naming the resource, when the replica does not come back in time (the next member then does not restart)", () => {
    stand("drbdadm", 'case "$1" in cstate) echo WFConnection ;; dstate) echo UpToDate/DUnknown ;; esac');
    const r = restart({ drbd: { resource: "haha", version: "8.4" }, waitS: 3 });
    assert.notEqual(r.status, 0);
    assert.match(r.out, /DRBD resource haha is not connected and UpToDate 3 s after restarting its cluster stack for sbd: the next member does not restart/);
  });

  it("fails when the cluster never settles", () => {
    stand("crm_resource", "exit 124");
    const r = restart({ waitS: 3 });
    assert.notEqual(r.status, 0);
    assert.match(r.out, /the cluster has not settled/);
    stand("crm_resource", "exit 0");
  });

  it("does nothing before the member first started (the start step starts sbd)", () => {
    fs.rmSync(marker);
    const r = restart({});
    fs.writeFileSync(marker, "");
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.calls, /systemctl stop/);
  });
});
