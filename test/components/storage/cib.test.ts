// The storage layer's CIB fragment: agent parameters against the installed agents' metadata,
// crm_verify on the whole CIB (nodes, fencing, stonith enabled, from buildCibModel), and
// Pacemaker's scheduler (crm_simulate) on a cold start and on the loss of each member.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { CIB_IDS } from "../../../components/pacemaker/cib/ids";
import type { CibFragment, Primitive } from "../../../components/pacemaker/cib/model";
import { primitives } from "../../../components/pacemaker/cib/model";
import { STORAGE_IDS, storageCibFragment } from "../../../components/storage";
import { exportMoveS } from "../../../components/storage/cib";
import { fencePeerTimeouts } from "../../../components/storage/drbd";
import type { HahaConfig } from "../../../stacks/config/schema";
import { checkPrimitiveParams } from "../../helpers/agent-metadata";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { actionNodes, baseId, nodesOf, settle, simulate, SimResult, storageCib, withStatus } from "./simulate";

const HA01 = "nllei01ha01";
const HA02 = "nllei01ha02";
const HA03 = "nllei01ha03";
const ALL = [HA01, HA02, HA03];
/**
 * What the linbit agent sets (crm_master): 10000 on a diskful member with UpToDate data, and on an
 * intentionally diskless member with access to good data the same value minus one (its
 * adjust_master_score metadata says so). Only the CIB's location rule keeps the tiebreaker unpromoted.
 */
const PROMOTION = { [HA01]: 10000, [HA02]: 10000, [HA03]: 9999 };
const EXPORTS = [...ALL.map(STORAGE_IDS.nfsExport), ...["nllei01pve01", "nllei01pve02", "nllei01pve03"].map(STORAGE_IDS.nfsExportProxmox)];
const NFS: string[] = [STORAGE_IDS.nfsDirs, STORAGE_IDS.nfsServer, ...EXPORTS, STORAGE_IDS.storageVip];
const DRBD = STORAGE_IDS.drbd("haha");
/** The storage clones whose instances on a surviving member must never be touched by a failover. */
const STORAGE_CLONE_CHILDREN = [DRBD, STORAGE_IDS.dlm, STORAGE_IDS.ocfs2, STORAGE_IDS.sharedMount];

/** A stand-in service, placed like a real one (services VIP, after the shared mount), preferring ha03. */
const PROBE: CibFragment = {
  source: "services",
  resources: [
    {
      kind: "primitive",
      id: "probe-service",
      class: "ocf",
      provider: "pacemaker",
      type: "Dummy",
      params: {},
      ops: [{ name: "monitor", intervalS: 10, timeoutS: 20, reason: "test" }],
    },
  ],
  constraints: [{ kind: "location", id: "probe-vip-prefers-ha03", rsc: CIB_IDS.servicesVip, node: HA03, score: "100", reason: "test: services away from the NFS server" }],
};

let c: HahaConfig;
let dir: string;
let steady: SimResult;

before(() => {
  c = prodConfig();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-storage-sim-"));
  steady = settle(withStatus(storageCib(c, [PROBE]), c, ALL, PROMOTION), dir);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("storage CIB fragment", () => {
  it("sets only parameters the installed agents know, and every required one", () => {
    const prims: Primitive[] = storageCibFragment(c).resources.flatMap(primitives);
    assert.deepEqual(
      prims.map((p) => `${p.class}:${p.provider ?? ""}:${p.type}`).sort(),
      [
        "ocf:heartbeat:Filesystem",
        "ocf:heartbeat:Filesystem",
        "ocf:heartbeat:IPaddr2",
        ...Array(6).fill("ocf:heartbeat:exportfs"),
        "ocf:heartbeat:nfsserver",
        "ocf:linbit:drbd",
        "ocf:pacemaker:controld",
        "systemd::haha-nfs-dirs",
      ],
    );
    assert.deepEqual(checkPrimitiveParams(prims), []);
  });

  it("exports with a fixed fsid to exactly the members' addresses, the backup directory root-squashed to the Proxmox hosts, state on OCFS2, mounts hard through the storage VIP", () => {
    const prims = new Map(storageCibFragment(c).resources.flatMap(primitives).map((p) => [p.id, p]));
    const exports = [...prims.values()].filter((p) => p.type === "exportfs");
    assert.deepEqual(exports.map((p) => p.id), EXPORTS);
    // Nothing is exported to a subnet or a wildcard: one address per primitive.
    for (const p of exports) assert.match(p.params.clientspec!, /^\d+\.\d+\.\d+\.\d+$/, p.id);
    assert.deepEqual(
      ALL.map((m) => prims.get(STORAGE_IDS.nfsExport(m))!.params.clientspec),
      c.nodes.map((n) => n.guest.address),
    );
    for (const m of ALL) {
      const exp = prims.get(STORAGE_IDS.nfsExport(m))!;
      assert.equal(exp.params.fsid, "181");
      assert.equal(exp.params.directory, "/srv/ocfs2/export");
      assert.equal(exp.params.options, "rw,sync,no_root_squash,no_subtree_check");
      assert.match(exp.description ?? "", /sync: .*stable storage/);
    }
    c.nodes.forEach((n) => {
      const b = prims.get(STORAGE_IDS.nfsExportProxmox(n.name))!;
      assert.equal(b.params.clientspec, n.address);
      assert.equal(b.params.directory, "/srv/ocfs2/export/proxmox");
      assert.equal(b.params.fsid, "182");
      assert.equal(b.params.options, "rw,sync,root_squash,no_subtree_check");
    });
    assert.equal(prims.get(STORAGE_IDS.nfsServer)!.params.nfs_shared_infodir, "/srv/ocfs2/nfs-state");
    const vip = prims.get(CIB_IDS.storageVip)!;
    assert.deepEqual(vip.params, { ip: "10.0.181.51", cidr_netmask: "24", nic: "ens18" });
    const mount = prims.get(STORAGE_IDS.sharedMount)!;
    assert.deepEqual(mount.params, { device: "10.0.181.51:/srv/ocfs2/export", directory: "/srv/haha", fstype: "nfs4", options: "vers=4.2,proto=tcp,hard,timeo=50,retrans=2,nosuid,nodev", force_unmount: "safe" });
    assert.equal(prims.get(STORAGE_IDS.ocfs2)!.params.device, "/dev/drbd0");
    // No fuser on a possibly stalled mount (NFS moving, DRBD frozen waiting for fencing).
    assert.equal(prims.get(STORAGE_IDS.ocfs2)!.params.force_unmount, "safe");
  });

  it("declares the start times that matter for the failover budget, each with its reason", () => {
    for (const p of storageCibFragment(c).resources.flatMap(primitives)) {
      assert.ok(p.expectedStartS, `${p.id} has no expectedStartS`);
      assert.ok(p.expectedStartS.reason.length > 10);
    }
    const server = storageCibFragment(c).resources.flatMap(primitives).find((p) => p.id === STORAGE_IDS.nfsServer)!;
    assert.equal(server.expectedStartS!.value, 5 + c.storage.nfs.graceTimeS, "the NFSv4 grace period is on the failover path");
  });

  it("the shared mount's monitor and stop outlast a move of the export (the agent stats the hard mount), and follow slower fencing", () => {
    const ops = (cfg: HahaConfig) => Object.fromEntries(storageCibFragment(cfg).resources.flatMap(primitives).find((p) => p.id === STORAGE_IDS.sharedMount)!.ops.map((o) => [o.name, o.timeoutS]));
    const move = exportMoveS(c).seconds;
    const fence = fencePeerTimeouts(c).timeoutS;
    assert.equal(move, fence + 5 + c.storage.nfs.graceTimeS + 10);
    assert.ok(ops(c).monitor! >= move, `monitor timeout ${ops(c).monitor} s < the export's move ${move} s`);
    assert.ok(ops(c).stop! >= move + 30, `stop timeout ${ops(c).stop} s leaves no time to unmount after the move`);
    const slower = mutatedConfig((r) => {
      r.storage.nfs = { ...r.storage.nfs, graceTimeS: 90, leaseTimeS: 90 };
    });
    assert.equal(exportMoveS(slower).seconds, move + 75, "a longer grace period is a longer move");
    assert.ok(ops(slower).monitor! >= exportMoveS(slower).seconds);
  });

  it("is accepted by crm_verify as part of the whole CIB, with fencing enabled", () => {
    const xml = withStatus(storageCib(c), c, ALL, PROMOTION);
    assert.match(xml, /name="stonith-enabled" value="true"/);
    const file = path.join(dir, "verify.xml");
    fs.writeFileSync(file, xml);
    const r = spawnSync("crm_verify", ["--xml-file", file, "-V"], { encoding: "utf8" });
    assert.ok(!r.error, `crm_verify could not run: ${r.error?.message}`);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(r.stderr.trim(), "");
  });

  it("DRBD 8.4: a promotable clone on the two replicas only, both promoted (dual-primary), never on the third member", () => {
    const prims = storageCibFragment(c).resources;
    const clone = prims.find((r) => r.id === STORAGE_IDS.drbdClone("haha"));
    assert.ok(clone && clone.kind === "clone" && clone.promotable);
    assert.equal(clone.meta!["promoted-max"]!.value, 2);
    assert.equal(clone.meta!["clone-max"]!.value, 2);
    const locs = storageCibFragment(c).constraints.filter((k) => k.kind === "location");
    assert.deepEqual(
      locs.map((l) => [l.rsc, l.node, l.score, l.kind === "location" ? l.role : undefined]),
      [
        [STORAGE_IDS.drbdClone("haha"), HA03, "-INFINITY", undefined],
        [STORAGE_IDS.dlmClone, HA03, "-INFINITY", undefined],
      ],
    );
  });

  it("DRBD 9: on every member (the third one diskless, for DRBD's quorum), promoted on the replicas only", () => {
    const c9 = mutatedConfig((raw) => (raw.storage.drbd.version = "9"));
    const clone = storageCibFragment(c9).resources.find((r) => r.id === STORAGE_IDS.drbdClone("haha"));
    assert.ok(clone && clone.kind === "clone" && clone.promotable);
    assert.equal(clone.meta!["promoted-max"]!.value, 2);
    assert.equal(clone.meta!["clone-max"]!.value, 3);
    const locs = storageCibFragment(c9).constraints.filter((k) => k.kind === "location");
    assert.deepEqual(
      locs.map((l) => [l.rsc, l.node, l.score, l.kind === "location" ? l.role : undefined]),
      [
        [STORAGE_IDS.drbdClone("haha"), HA03, "-INFINITY", "Promoted"],
        [STORAGE_IDS.dlmClone, HA03, "-INFINITY", undefined],
      ],
    );
  });
});

describe("crm_simulate: cold start", () => {
  it("starts nothing on the export's path and mounts nothing before DRBD is promoted", () => {
    const r = simulate(withStatus(storageCib(c), c, ALL, {}), dir);
    const started = (id: string) => r.actions.some((a) => baseId(a.resource) === id && (a.action === "start" || a.action === "move") && a.blocked !== "true");
    // Without a promotion score (the agent has not reported an UpToDate disk yet) nothing is promoted...
    assert.ok(!r.actions.some((a) => a.action === "promote"));
    assert.deepEqual(nodesOf(r, DRBD, "Promoted"), []);
    // ... so OCFS2, the NFS server and every client mount wait instead of failing.
    for (const id of [STORAGE_IDS.ocfs2, ...NFS, STORAGE_IDS.sharedMount]) assert.ok(!started(id), `${id} started before DRBD was promoted`);
    assert.deepEqual(nodesOf(r, STORAGE_IDS.sharedMount), []);
    const mounts = r.actions.filter((a) => baseId(a.resource) === STORAGE_IDS.sharedMount);
    assert.equal(mounts.length, 3, "every member's mount is scheduled...");
    for (const a of mounts) assert.equal(a.blocked, "true", `...and held back until the export is served: ${a.reason}`);
  });

  it("settles with DRBD promoted on both replicas, OCFS2 on both, the NFS server on one, the mount on every member", () => {
    assert.deepEqual(nodesOf(steady, DRBD, "Promoted"), [HA01, HA02]);
    // DRBD 8.4: the third member runs no DRBD instance at all.
    assert.deepEqual(nodesOf(steady, DRBD, "Unpromoted"), []);
    assert.deepEqual(nodesOf(steady, DRBD), [HA01, HA02]);
    assert.deepEqual(nodesOf(steady, STORAGE_IDS.dlm), [HA01, HA02]);
    assert.deepEqual(nodesOf(steady, STORAGE_IDS.ocfs2), [HA01, HA02]);
    const server = nodesOf(steady, STORAGE_IDS.nfsServer);
    assert.equal(server.length, 1);
    assert.ok([HA01, HA02].includes(server[0]!));
    for (const id of NFS) assert.deepEqual(nodesOf(steady, id), server, `${id} runs with the NFS server`);
    assert.deepEqual(nodesOf(steady, STORAGE_IDS.sharedMount), ALL);
    assert.deepEqual(nodesOf(steady, "probe-service"), [HA03]);
  });
});

describe("crm_simulate: losing one member", () => {
  const nfsNode = () => nodesOf(steady, STORAGE_IDS.nfsServer)[0]!;
  const otherDiskful = () => [HA01, HA02].find((n) => n !== nfsNode())!;

  /** Fail `lost`; check it is fenced, nothing is blocked and nothing of the storage stack is touched on the survivors. */
  function lose(lost: string): SimResult {
    const r = simulate(steady.next, dir, ["--node-fail", lost]);
    assert.equal(r.status, 0, `blocked actions after losing ${lost}:\n${r.text}`);
    assert.deepEqual(r.fenced, [lost], "the lost member is fenced before anything of it is recovered");
    const survivors = ALL.filter((n) => n !== lost);
    for (const a of r.actions) {
      if (!STORAGE_CLONE_CHILDREN.includes(baseId(a.resource))) continue;
      const touched = actionNodes(a).filter((n) => survivors.includes(n));
      assert.deepEqual(touched, [], `${a.action} ${a.resource} on surviving ${touched.join(", ")}`);
    }
    for (const n of survivors) assert.ok(nodesOf(r, STORAGE_IDS.sharedMount).includes(n), `${n} lost its NFS mount`);
    assert.deepEqual(nodesOf(r, STORAGE_IDS.sharedMount), survivors);
    return r;
  }

  it("the diskful member serving NFS: OCFS2 stays on the other, which takes over the export; no mount or service elsewhere restarts", () => {
    const lost = nfsNode();
    const r = lose(lost);
    assert.deepEqual(nodesOf(r, DRBD, "Promoted"), [otherDiskful()]);
    assert.deepEqual(nodesOf(r, STORAGE_IDS.ocfs2), [otherDiskful()]);
    for (const id of NFS) {
      assert.deepEqual(nodesOf(r, id), [otherDiskful()], `${id} moved to the surviving replica`);
      assert.ok(r.actions.some((a) => a.resource === id && a.action === "move" && a.dest === otherDiskful()));
    }
    assert.ok(!r.actions.some((a) => a.resource === "probe-service"), "a service on a surviving member is not restarted by the export's move");
  });

  it("the other diskful member: OCFS2 stays mounted where the export is served, and the export does not move", () => {
    const lost = otherDiskful();
    const r = lose(lost);
    assert.deepEqual(nodesOf(r, DRBD, "Promoted"), [nfsNode()]);
    assert.deepEqual(nodesOf(r, STORAGE_IDS.ocfs2), [nfsNode()]);
    for (const id of NFS) assert.deepEqual(nodesOf(r, id), [nfsNode()]);
    assert.ok(!r.actions.some((a) => NFS.includes(a.resource)), "nothing of the NFS server moves or restarts");
  });

  it("the diskless tiebreaker: nothing changes on the replicas or the export", () => {
    const r = simulate(steady.next, dir, ["--node-fail", HA03]);
    assert.equal(r.status, 0);
    assert.deepEqual(r.fenced, [HA03]);
    for (const a of r.actions) {
      if ([...STORAGE_CLONE_CHILDREN, ...NFS].includes(baseId(a.resource))) assert.deepEqual(actionNodes(a), [HA03], `${a.action} ${a.resource}`);
    }
    assert.deepEqual(nodesOf(r, DRBD, "Promoted"), [HA01, HA02]);
    assert.deepEqual(nodesOf(r, STORAGE_IDS.ocfs2), [HA01, HA02]);
    for (const id of NFS) assert.deepEqual(nodesOf(r, id), nodesOf(steady, id));
    assert.deepEqual(nodesOf(r, STORAGE_IDS.sharedMount), [HA01, HA02]);
  });
});
