// corosync.conf: rendered from config, and accepted by corosync itself (`corosync -t`) as each
// member, with a real 256-byte key; a second link where config declares a second network.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { corosyncConf, CorosyncConfError, renderCorosync, renderCorosyncConf } from "../../../components/pacemaker/corosync";
import { corosyncTiming, MEMBERSHIP_FORMATION } from "../../../stacks/config/cluster";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";
import { parseConfig } from "../../../stacks/config/validate";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { tempDir } from "../../helpers/plan";
import { generatedRaw } from "../../helpers/stacks";

/** Run `corosync -t` on a rendered file as host `name` (its own UTS namespace). */
function corosyncTest(file: string, name: string): { status: number | null; out: string } {
  const r = spawnSync("unshare", ["--uts", "sh", "-c", 'hostname "$1" && exec corosync -t -c "$2"', "sh", name, file], { encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function renderWithKey(c: HahaConfig): { dir: string; file: string } {
  const dir = tempDir("haha-corosync-");
  const key = path.join(dir, "authkey");
  fs.writeFileSync(key, crypto.randomBytes(256), { mode: 0o400 });
  const file = path.join(dir, "corosync.conf");
  fs.writeFileSync(file, renderCorosync(c, clusterMembers(c), { keyfile: key }));
  return { dir, file };
}

const entries = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

describe("corosync.conf", () => {
  it("passes corosync -t as every member of the prod stack", () => {
    const c = prodConfig();
    const { file } = renderWithKey(c);
    for (const m of clusterMembers(c)) {
      const r = corosyncTest(file, m.name);
      assert.equal(r.status, 0, `${m.name}: ${r.out}`);
    }
  });

  it("is refused by corosync -t on a host that is not a member (the tool really checks)", () => {
    const { file } = renderWithKey(prodConfig());
    assert.notEqual(corosyncTest(file, "not-a-member").status, 0);
  });

  it("declares knet with encryption, one node per guest with its nodeid and address, and votequorum", () => {
    const c = prodConfig();
    const lines = entries(renderCorosync(c, clusterMembers(c)));
    for (const l of ["transport: knet", "crypto_cipher: aes256", "crypto_hash: sha256", "cluster_name: haha", "provider: corosync_votequorum", "keyfile: /etc/corosync/authkey"]) {
      assert.ok(lines.includes(l), l);
    }
    for (const m of clusterMembers(c)) {
      const at = lines.indexOf(`name: ${m.name}`);
      assert.ok(at > 0, m.name);
      assert.deepEqual(lines.slice(at + 1, at + 4), [`nodeid: ${m.nodeId}`, "quorum_votes: 1", `ring0_addr: ${m.address}`]);
    }
    assert.ok(!lines.some((l) => l.startsWith("ring1_addr")), "no second link without haha:network.secondary");
  });

  it("writes the timing corosync really runs, so detection = token + consensus is exact", () => {
    const c = prodConfig();
    const t = corosyncTiming(c);
    // 3 members: token 3000 + 1 x 650; consensus 1.2 x that.
    assert.deepEqual(t, { effectiveTokenMs: 3650, consensusMs: 4380, detectionMs: 8030, formationMs: MEMBERSHIP_FORMATION.ms, membershipMs: 8030 + MEMBERSHIP_FORMATION.ms });
    const lines = entries(renderCorosync(c, clusterMembers(c)));
    assert.ok(lines.includes("token: 3000") && lines.includes("token_coefficient: 650") && lines.includes("consensus: 4380"));
    const explicit = mutatedConfig((raw) => (raw.cluster.corosync = { tokenMs: 2000, tokenCoefficientMs: 0, consensusMs: 3000 }));
    assert.deepEqual(corosyncTiming(explicit), { effectiveTokenMs: 2000, consensusMs: 3000, detectionMs: 5000, formationMs: MEMBERSHIP_FORMATION.ms, membershipMs: 5000 + MEMBERSHIP_FORMATION.ms });
  });

  it("adds the second link (ring1_addr, two knet interfaces) when config declares a second network, and corosync accepts it", () => {
    const c = mutatedConfig((raw) => {
      raw.network.secondary = { subnet: "10.0.182.0/24", bridge: "vmbr1" };
      raw.nodes.forEach((n: { guest: { secondaryAddress?: string } }, i: number) => (n.guest.secondaryAddress = `10.0.182.${21 + i}`));
    });
    const text = renderCorosync(c, clusterMembers(c));
    const lines = entries(text);
    assert.ok(lines.includes("link_mode: passive"));
    assert.deepEqual(lines.filter((l) => l.startsWith("linknumber")), ["linknumber: 0", "linknumber: 1"]);
    assert.deepEqual(lines.filter((l) => l.startsWith("ring1_addr")), ["ring1_addr: 10.0.182.21", "ring1_addr: 10.0.182.22", "ring1_addr: 10.0.182.23"]);
    const { file } = renderWithKey(c);
    for (const m of clusterMembers(c)) assert.equal(corosyncTest(file, m.name).status, 0, m.name);
  });

  it("numbers a 5-member cluster from config order and corosync accepts it", () => {
    const c = parseConfig(generatedRaw(5), "generated 5 hosts");
    const members = clusterMembers(c);
    const lines = entries(renderCorosync(c, members));
    assert.deepEqual(lines.filter((l) => l.startsWith("nodeid")), ["nodeid: 1", "nodeid: 2", "nodeid: 3", "nodeid: 4", "nodeid: 5"]);
    assert.ok(lines.includes(`consensus: ${Math.ceil(1.2 * (3000 + 3 * 650))}`));
    const { file } = renderWithKey(c);
    assert.equal(corosyncTest(file, members[4]!.name).status, 0);
  });

  it("refuses a consensus below 1.2 x the effective token with a message naming the key", () => {
    assert.throws(
      () => mutatedConfig((raw) => (raw.cluster.corosync = { tokenMs: 3000, consensusMs: 3600 })),
      (e: Error) => /haha:cluster\.corosync\.consensusMs: 3600 — expected at least 1\.2 x the effective token \(3650 ms/.test(e.message),
    );
  });

  it("serializes only what the format can carry: a value with a brace or a line break is refused", () => {
    const conf = corosyncConf(prodConfig(), clusterMembers(prodConfig()));
    conf.sections[0]!.entries.push({ key: "cluster_name", value: "evil }\nquorum {" });
    assert.throws(() => renderCorosyncConf(conf), CorosyncConfError);
    const bad = { header: [], sections: [{ name: "Totem", entries: [] }] };
    assert.throws(() => renderCorosyncConf(bad), /section name "Totem"/);
  });
});
