// The DRBD resource file: read back by the real drbdadm (dump), dry-run as each member (the
// drbdsetup calls it would make), and refused by our own validation before drbdadm ever sees
// a broken model. DRBD 8.4 (the default) is read by drbd-utils' own 8.4 mode: drbdadm runs
// /usr/lib/drbd/drbdadm-84 when the loaded module is 8.4, which DRBD_DRIVER_VERSION_OVERRIDE
// stands in for on a machine without the module (the same parser and drbdsetup-84 calls).
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

/** The DRBD disk the prod stack names for a member (its /dev/disk/by-id path). */
const diskOf = (member: string) => prodConfig().nodes.find((n) => n.guest.name === member)!.drbdDisk!.device;
let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-drbd-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(text: string, name = "haha.res"): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The kernel module version drbdadm acts for: Debian 12's in-tree 8.4.11, or a DRBD 9. */
const KERNEL: Record<"8.4" | "9", string> = { "8.4": "8.4.11", "9": "9.2.12" };

function drbdadm(args: string[], hostname?: string, version: "8.4" | "9" = "8.4"): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env, DRBD_DRIVER_VERSION_OVERRIDE: KERNEL[version] };
  const r = hostname
    ? // Dry runs act as the host whose name the guest has: a UTS namespace with that hostname.
      spawnSync("unshare", ["--uts", "sh", "-c", 'hostname "$0" && exec drbdadm "$@"', hostname, ...args], { encoding: "utf8", env })
    : spawnSync("drbdadm", args, { encoding: "utf8", env });
  if (r.error) throw new Error(`drbdadm could not run (install drbd-utils, as .ci/run does): ${r.error.message}`);
  // drbdadm asks modinfo about a kernel module this machine does not need; that line is noise.
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.split("\n").filter((l) => !/modinfo: not found/.test(l)).join("\n").trim() };
}

/** The prod stack with haha:storage.drbd.version "9" (quorum and onNoQuorum at their defaults). */
const v9 = () => mutatedConfig((raw) => {
  raw.storage.drbd.version = "9";
});

describe("DRBD 8.4 resource file (the default: Debian's kernel)", () => {
  it("is read back by drbd-utils in 8.4 mode with every choice the issue asks for, and nothing DRBD 9 only", () => {
    const c = prodConfig();
    assert.equal(c.storage.drbd.version, "8.4");
    const file = write(renderDrbdResource(drbdModel(c, SECRET)), "haha84.res");
    const r = drbdadm(["-c", file, "dump", "all"], undefined, "8.4");
    assert.equal(r.status, 0, r.stderr);
    const dump = r.stdout.replace(/\s+/g, " ");
    for (const expected of [
      "protocol C;",
      "allow-two-primaries yes;",
      "disk { on-io-error detach; fencing resource-and-stonith;",
      "cram-hmac-alg sha256;",
      `shared-secret ${SECRET};`,
      "after-sb-0pri discard-zero-changes;",
      "after-sb-2pri disconnect;",
      `fence-peer "/usr/lib/drbd/crm-fence-peer.sh --timeout 35 --dc-timeout 65 --suicide-on-failure-if-primary";`,
      "after-resync-target /usr/lib/drbd/crm-unfence-peer.sh;",
      `on nllei01ha01 { volume 0 { device minor 0; disk ${diskOf("nllei01ha01")}; meta-disk internal; } address ipv4 10.0.181.21:7789; }`,
      "on nllei01ha02 {",
    ]) {
      assert.ok(dump.includes(expected), `drbdadm dump lacks "${expected}":\n${r.stdout}`);
    }
    for (const absent of ["quorum", "node-id", "nllei01ha03", "connection-mesh", "auto-promote", ".9.sh", "disk none"]) assert.ok(!dump.includes(absent), `8.4 file has "${absent}"`);
  });

  it("is really read by the 8.4 parser: the DRBD 9 file is refused in 8.4 mode", () => {
    const file = write(renderDrbdResource(drbdModel(v9(), SECRET)), "haha9-as-84.res");
    const r = drbdadm(["-c", file, "dump", "all"], undefined, "8.4");
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Parse error/);
  });

  for (const [member, peer] of [
    ["nllei01ha01", "nllei01ha02"],
    ["nllei01ha02", "nllei01ha01"],
  ] as const) {
    it(`dry-runs up as ${member} with drbdsetup-84: its NVMe attached with stonith fencing, connected to ${peer} as a second primary`, () => {
      const c = prodConfig();
      const file = write(renderDrbdResource(drbdModel(c, SECRET)), "haha84.res");
      const r = drbdadm(["-d", "-c", file, "up", "haha"], member, "8.4");
      assert.equal(r.status, 0, r.stderr);
      const calls = r.stdout.trim().split("\n");
      const ms = clusterMembers(c);
      const self = ms.find((m) => m.name === member)!;
      const other = ms.find((m) => m.name === peer)!;
      assert.equal(calls[0], "drbdsetup-84 new-resource haha");
      assert.ok(calls.includes("drbdsetup-84 new-minor haha 0 0"), calls.join("\n"));
      assert.ok(calls.includes(`drbdsetup-84 attach 0 ${diskOf(member)} ${diskOf(member)} internal --c-max-rate=400M --fencing=resource-and-stonith --on-io-error=detach`), calls.join("\n"));
      const connect = calls.find((l) => l.startsWith(`drbdsetup-84 connect haha ipv4:${self.address}:7789 ipv4:${other.address}:7789 `));
      assert.ok(connect, calls.join("\n"));
      for (const flag of ["--protocol=C", "--allow-two-primaries=yes", "--cram-hmac-alg=sha256", `--shared-secret=${SECRET}`, "--rr-conflict=disconnect"]) assert.ok(connect.includes(flag), `connect lacks ${flag}`);
    });
  }

  it("takes the disk by its stable /dev/disk/by-id name (haha:nodes[].drbdDisk.device)", () => {
    const id = "/dev/disk/by-id/nvme-Samsung_SSD_980_PRO_1TB_S5GXNX0T123456A";
    const c = mutatedConfig((raw) => (raw.nodes[0].drbdDisk.device = id));
    const file = write(renderDrbdResource(drbdModel(c, SECRET)), "byid.res");
    const r = drbdadm(["-d", "-c", file, "up", "haha"], "nllei01ha01", "8.4");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^drbdsetup-84 attach 0 ${id} ${id} internal `, "m"));
  });

  it("names only the two replicas: the third member is no host of the resource", () => {
    const file = write(renderDrbdResource(drbdModel(prodConfig(), SECRET)), "haha84.res");
    const r = drbdadm(["-d", "-c", file, "up", "haha"], "nllei01ha03", "8.4");
    assert.notEqual(r.status, 0, r.stdout);
  });

  it("creates metadata with create-md --force in 8.4's format (v08), so the step never prompts", () => {
    const file = write(renderDrbdResource(drbdModel(prodConfig(), SECRET)), "haha84.res");
    const r = drbdadm(["-d", "-c", file, "create-md", "--force", "haha"], "nllei01ha01", "8.4");
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.split("\n").includes(`drbdmeta 0 v08 ${diskOf("nllei01ha01")} internal create-md --force`), r.stdout);
  });
});

describe("DRBD 9 resource file (haha:storage.drbd.version 9)", () => {
  it("is read back by drbdadm dump with every choice the issue asks for", () => {
    const file = write(renderDrbdResource(drbdModel(v9(), SECRET)));
    const r = drbdadm(["-c", file, "dump", "all"], undefined, "9");
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
      `fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh --timeout 35 --dc-timeout 65 --suicide-on-failure-if-primary";`,
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

  it("carries the reason of each choice as a comment (both versions)", () => {
    for (const [c, options] of [
      [v9(), ["quorum", "on-no-quorum"]],
      [prodConfig(), ["after-resync-target"]],
    ] as const) {
      const lines = renderDrbdResource(drbdModel(c, SECRET)).split("\n");
      for (const option of ["protocol", "allow-two-primaries", "fencing", "after-sb-0pri", "after-sb-1pri", "after-sb-2pri", "cram-hmac-alg", "fence-peer", ...options]) {
        const i = lines.findIndex((l) => l.trim().startsWith(`${option} `));
        assert.ok(i > 0, `${option} missing`);
        assert.match(lines[i - 1]!, /^\s*# \S.{15,}/, `${option} has no reason above it`);
      }
    }
  });

  // What `drbdadm up` would do on each member (drbdsetup calls), without a kernel module.
  for (const [member, self, peers, diskful] of [
    ["nllei01ha01", 0, [1, 2], true],
    ["nllei01ha02", 1, [0, 2], true],
    ["nllei01ha03", 2, [0, 1], false],
  ] as const) {
    it(`dry-runs as ${member}: protocol C, two primaries, every peer of the mesh${diskful ? ", its NVMe attached" : ", diskless"}`, () => {
      const c = v9();
      const file = write(renderDrbdResource(drbdModel(c, SECRET)));
      const r = drbdadm(["-d", "-c", file, "up", "haha"], member, "9");
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
      if (diskful) assert.deepEqual(attach, [`drbdsetup attach 0 ${diskOf(member)} ${diskOf(member)} internal --on-io-error=detach`]);
      else assert.deepEqual(attach, []);
    });
  }

  it("follows the members of any config: five hosts, two replicas, three tiebreakers", () => {
    const raw = generatedRaw(5);
    raw.storage.drbd = { ...raw.storage.drbd, version: "9" };
    const c = parseConfig(raw, "generated");
    const file = write(renderDrbdResource(drbdModel(c, SECRET)), "five.res");
    const r = drbdadm(["-d", "-c", file, "up", "haha"], "nllei01ha05", "9");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^drbdsetup new-resource haha 4 /);
    assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("drbdsetup connect haha ")).length, 4);
    assert.ok(r.stdout.includes("drbdsetup new-minor haha 0 0 --diskless"));
  });
});

describe("DRBD model validation (before any tool sees the model)", () => {
  const good = () => drbdModel(prodConfig(), SECRET);
  const good9 = () => drbdModel(v9(), SECRET);
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
    const m = good9();
    m.hosts[2]!.diskful = true;
    const problems = refused(m);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^host 2 \("nllei01ha03"\): marked diskful but has no disk/);
  });

  it("refuses a repeated node id, a tiebreaker with a disk, and reports every problem at once", () => {
    const m = good9();
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
    assert.match(refused({ ...good9(), fencing: "resource-only" })[0]!, /^fencing resource-only with allow-two-primaries: expected resource-and-stonith/);
    assert.match(refused({ ...good(), allowTwoPrimaries: false })[0]!, /^allow-two-primaries off with 2 diskful hosts/);
  });

  it("refuses, under DRBD 8.4, anything but resource-and-stonith, quorum options, and more than two replicas", () => {
    assert.deepEqual(
      refused({ ...good(), allowTwoPrimaries: false, hosts: good().hosts.slice(0, 1), fencing: "resource-only" }).map((p) => p.split(":")[0]),
      ["fencing resource-only with DRBD 8.4"],
    );
    assert.match(refused({ ...good(), quorum: "majority" })[0]!, /^quorum options with DRBD 8.4: expected none/);
    const three = good();
    three.hosts[2] = { ...three.hosts[2]!, diskful: true, disk: "/dev/nvme0n1" };
    assert.match(refused(three)[0]!, /^3 diskful hosts with DRBD 8.4: expected at most two/);
  });

  it("waits in crm-fence-peer longer than the cluster takes to detect and fence a peer", () => {
    const m = good();
    // prod: detection 9 s (8.03 s of corosync, rounded up) + fence_pve failing 6 s + watchdog 10 s + 10 s headroom.
    assert.deepEqual([m.fencePeer.timeoutS, m.fencePeer.dcTimeoutS], [35, 65]);
    assert.match(refused({ ...m, fencePeer: { ...m.fencePeer, dcTimeoutS: 35 } })[0]!, /^crm-fence-peer timeouts 35 s \/ dc 35 s/);
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
    const r = drbdadm(["-c", file, "dump", "all"], undefined, "8.4");
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.split("\n").find((l) => l.includes("shared-secret"))!;
    assert.equal(line.trim().replace(/^shared-secret\s+/, "").replace(/;$/, ""), JSON.stringify(secret));
  });
});
