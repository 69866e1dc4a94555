// The DRBD resource file: read back by the real drbdadm (dump), dry-run as each member (the
// drbdsetup calls it would make), and refused by our own validation before drbdadm ever sees
// a broken model.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { DrbdConfSyntaxError, opt, renderDrbdConf, section } from "../../../components/storage/drbdconf";
import { DrbdModelError, DrbdResourceModel, drbdModel, drbdModelProblems, renderDrbdResource } from "../../../components/storage/drbd";
import { storageRefusals } from "../../../components/storage";
import { clusterMembers } from "../../../stacks/config/members";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { generatedRaw } from "../../helpers/stacks";
import { parseConfig } from "../../../stacks/config/validate";

const SECRET = "Zq3XbW9kPp0tR7mN2cV5yL8aHs4dJf6g";
let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-drbd-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(text: string, name = "haha.res"): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function drbdadm(args: string[], hostname?: string): { status: number | null; stdout: string; stderr: string } {
  const r = hostname
    ? // Dry runs act as the host whose name the guest has: a UTS namespace with that hostname.
      spawnSync("unshare", ["--uts", "sh", "-c", 'hostname "$0" && exec drbdadm "$@"', hostname, ...args], { encoding: "utf8" })
    : spawnSync("drbdadm", args, { encoding: "utf8" });
  if (r.error) throw new Error(`drbdadm could not run (install drbd-utils, as .ci/run does): ${r.error.message}`);
  // drbdadm asks modinfo about a kernel module this machine does not need; that line is noise.
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split("\n").filter((l) => !/modinfo: not found/.test(l)).join("\n").trim() };
}

describe("DRBD resource file", () => {
  it("is read back by drbdadm dump with every choice the issue asks for", () => {
    const file = write(renderDrbdResource(drbdModel(prodConfig(), SECRET)));
    const r = drbdadm(["-c", file, "dump", "all"]);
    assert.equal(r.status, 0, r.stderr);
    const dump = r.stdout.replace(/\s+/g, " ");
    for (const expected of [
      "protocol C;",
      "allow-two-primaries yes;",
      "fencing resource-and-stonith;",
      "quorum majority;",
      "on-no-quorum io-error;",
      "auto-promote no;",
      "cram-hmac-alg sha256;",
      `shared-secret ${SECRET};`,
      "after-sb-0pri discard-zero-changes;",
      "after-sb-1pri discard-secondary;",
      "after-sb-2pri disconnect;",
      `fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh --suicide-on-failure-if-primary";`,
      "unfence-peer /usr/lib/drbd/crm-unfence-peer.9.sh;",
      "on nllei01ha01 { node-id 0;",
      "on nllei01ha02 { node-id 1;",
      "on nllei01ha03 { node-id 2;",
      "address ipv4 10.0.181.21:7789;",
      "address ipv4 10.0.181.23:7789;",
      "disk none;",
      "hosts nllei01ha01 nllei01ha02 nllei01ha03;",
    ]) {
      assert.ok(dump.includes(expected), `drbdadm dump lacks "${expected}"`);
    }
  });

  it("carries the reason of each choice as a comment", () => {
    const text = renderDrbdResource(drbdModel(prodConfig(), SECRET));
    const lines = text.split("\n");
    for (const option of ["protocol", "allow-two-primaries", "fencing", "quorum", "on-no-quorum", "after-sb-0pri", "after-sb-1pri", "after-sb-2pri", "cram-hmac-alg", "fence-peer"]) {
      const i = lines.findIndex((l) => l.trim().startsWith(`${option} `));
      assert.ok(i > 0, `${option} missing`);
      assert.match(lines[i - 1]!, /^\s*# \S.{15,}/, `${option} has no reason above it`);
    }
  });

  // What `drbdadm up` would do on each member (drbdsetup calls), without a kernel module.
  for (const [member, self, peers, diskful] of [
    ["nllei01ha01", 0, [1, 2], true],
    ["nllei01ha02", 1, [0, 2], true],
    ["nllei01ha03", 2, [0, 1], false],
  ] as const) {
    it(`dry-runs as ${member}: protocol C, two primaries, every peer of the mesh${diskful ? ", its NVMe attached" : ", diskless"}`, () => {
      const c = prodConfig();
      const file = write(renderDrbdResource(drbdModel(c, SECRET)));
      const r = drbdadm(["-d", "-c", file, "up", "haha"], member);
      assert.equal(r.status, 0, r.stderr);
      const calls = r.stdout.trim().split("\n");
      assert.match(calls[0]!, new RegExp(`^drbdsetup new-resource haha ${self} .*--quorum=majority`));
      assert.match(calls[0]!, /--on-no-quorum=io-error/);
      assert.match(calls[0]!, /--auto-promote=no/);
      assert.ok(calls.includes(`drbdsetup new-minor haha 0 0${diskful ? "" : " --diskless"}`), calls.join("\n"));
      const members = clusterMembers(c);
      for (const peer of peers) {
        const name = members[peer]!.name;
        const np = calls.find((l) => l.startsWith(`drbdsetup new-peer haha ${peer} --_name=${name} `));
        assert.ok(np, `no new-peer for ${name}:\n${calls.join("\n")}`);
        for (const flag of ["--protocol=C", "--allow-two-primaries=yes", "--fencing=resource-and-stonith", "--cram-hmac-alg=sha256", `--shared-secret=${SECRET}`]) {
          assert.ok(np.includes(flag), `new-peer ${name} lacks ${flag}`);
        }
        assert.ok(calls.includes(`drbdsetup new-path haha ${peer} ipv4:${members[self]!.address}:7789 ipv4:${members[peer]!.address}:7789`));
        assert.ok(calls.includes(`drbdsetup connect haha ${peer}`));
      }
      const attach = calls.filter((l) => l.startsWith("drbdsetup attach"));
      if (diskful) assert.deepEqual(attach, ["drbdsetup attach 0 /dev/nvme0n1 /dev/nvme0n1 internal --on-io-error=detach"]);
      else assert.deepEqual(attach, []);
    });
  }

  it("follows the members of any config: five hosts, two replicas, three tiebreakers", () => {
    const c = parseConfig(generatedRaw(5), "generated");
    const file = write(renderDrbdResource(drbdModel(c, SECRET)), "five.res");
    const r = drbdadm(["-d", "-c", file, "up", "haha"], "nllei01ha05");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^drbdsetup new-resource haha 4 /);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("drbdsetup connect haha ")).length, 4);
    assert.ok(r.stdout.includes("drbdsetup new-minor haha 0 0 --diskless"));
  });
});

describe("DRBD model validation (before any tool sees the model)", () => {
  const good = () => drbdModel(prodConfig(), SECRET);
  const refused = (m: DrbdResourceModel): string[] => {
    assert.throws(() => renderDrbdResource(m), DrbdModelError);
    return drbdModelProblems(m);
  };

  it("accepts the prod model", () => {
    assert.deepEqual(drbdModelProblems(good()), []);
  });

  it("refuses protocol A, saying why", () => {
    const problems = refused({ ...good(), protocol: "A" });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^protocol A: expected C\. .*acknowledged write/);
  });

  it("refuses a missing node id, naming the host", () => {
    const m = good();
    delete m.hosts[1]!.nodeId;
    assert.deepEqual(refused(m), ['host 1 ("nllei01ha02"): missing node-id (expected the member\'s Pacemaker node id - 1)']);
  });

  it("refuses one address used twice", () => {
    const m = good();
    m.hosts[2]!.address = m.hosts[0]!.address;
    assert.deepEqual(refused(m), ['host 2 ("nllei01ha03"): address 10.0.181.21 already used by "nllei01ha01": each member needs its own']);
  });

  it("refuses a diskless member marked diskful", () => {
    const m = good();
    m.hosts[2]!.diskful = true;
    const problems = refused(m);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^host 2 \("nllei01ha03"\): marked diskful but has no disk/);
  });

  it("refuses a repeated node id, a tiebreaker with a disk, and reports every problem at once", () => {
    const m = good();
    m.hosts[1]!.nodeId = 0;
    m.hosts[2]!.disk = "/dev/nvme0n1";
    const err = (() => {
      try {
        renderDrbdResource({ ...m, protocol: "B" });
      } catch (e) {
        return e as DrbdModelError;
      }
      throw new Error("not refused");
    })();
    assert.equal(err.problems.length, 3);
    assert.match(err.message, /^DRBD resource "haha" refused before rendering \(3 problems\):/);
    assert.match(err.message, /node-id 0 already used by "nllei01ha01"/);
    assert.match(err.message, /diskless \(the tiebreaker\) but names disk \/dev\/nvme0n1/);
  });

  it("refuses two primaries without stonith fencing, and no two primaries for a dual-primary OCFS2", () => {
    assert.match(refused({ ...good(), fencing: "resource-only" })[0]!, /^fencing resource-only with allow-two-primaries: expected resource-and-stonith/);
    assert.match(refused({ ...good(), allowTwoPrimaries: false })[0]!, /^allow-two-primaries off with 2 diskful hosts/);
  });

  it("refuses a secret drbd.conf cannot hold", () => {
    assert.match(refused({ ...good(), sharedSecret: "x".repeat(65) })[0]!, /^shared secret: expected 1 to 64 characters/);
    assert.match(refused({ ...good(), sharedSecret: 'a"b' })[0]!, /^shared secret: expected printable ASCII without quotes/);
  });

  it("a well-formed config with protocol A passes config validation (the policy pack's to refuse) but the storage layer refuses to render it", () => {
    const c = mutatedConfig((raw) => (raw.storage.drbd.protocol = "A"));
    assert.equal(c.storage.drbd.protocol, "A");
    const r = storageRefusals(c);
    assert.equal(r.length, 1);
    assert.match(r[0]!, /^protocol A: expected C/);
    assert.deepEqual(storageRefusals(prodConfig()), []);
  });
});

describe("drbd.conf serializer", () => {
  it("quotes what is not a bare word and refuses what a drbd.conf string cannot hold", () => {
    const text = renderDrbdConf([section("resource", [opt("net", "x"), opt("shared-secret", "a b<c>", "why", true), opt("protocol", "C")], undefined, ["r0"])]);
    assert.match(text, /shared-secret "a b<c>";/);
    assert.match(text, /# why\n\s+shared-secret/);
    assert.match(text, /protocol C;/);
    assert.throws(() => renderDrbdConf([opt("shared-secret", 'a"b')]), DrbdConfSyntaxError);
    assert.throws(() => renderDrbdConf([opt("shared-secret", "a\\b")]), DrbdConfSyntaxError);
    assert.throws(() => renderDrbdConf([opt("shared-secret", "a\nb")]), DrbdConfSyntaxError);
    assert.throws(() => renderDrbdConf([opt("Bad Keyword", "x")]), DrbdConfSyntaxError);
    assert.throws(() => renderDrbdConf([opt("empty", [])]), DrbdConfSyntaxError);
  });

  it("renders a secret with every character it accepts so that drbdadm reads it back unchanged", () => {
    const secret = "A-z_0.9:/+ !#$%&'()*,;<=>?@[]^`{|}~";
    const m = { ...drbdModel(prodConfig(), "x"), sharedSecret: secret };
    const file = write(renderDrbdResource(m), "odd.res");
    const r = drbdadm(["-c", file, "dump", "all"]);
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.includes("shared-secret"))!;
    assert.equal(line.trim().replace(/^shared-secret\s+/, "").replace(/;$/, ""), JSON.stringify(secret));
  });
});
