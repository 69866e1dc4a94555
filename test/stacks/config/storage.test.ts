// haha:storage: defaults, strictness, and the storage cross-field checks with their messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../stacks/config/validate";
import { mutatedConfig, prodConfig } from "../../helpers/config";

/** The problems of a mutated prod config, as users read them. */
function problems(mutate: (raw: Record<string, any>) => void): string[] {
  try {
    mutatedConfig(mutate);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.expected}`);
    throw e;
  }
  return [];
}

describe("haha:storage", () => {
  it("fills every field with its default when the key is left out", () => {
    const c = mutatedConfig((raw) => delete raw.storage);
    // DRBD 8.4 (Debian's kernel) by default; quorum and onNoQuorum are DRBD 9's and stay unset.
    assert.deepEqual(c.storage.drbd, { version: "8.4", resource: "haha", minor: 0, port: 7789, protocol: "C", allowTwoPrimaries: true, fencing: "resource-and-stonith", resyncRateMiB: 400 });
    assert.deepEqual(c.storage.nfs, { exportPath: "/srv/ocfs2/export", fsid: 181, stateDir: "/srv/ocfs2/nfs-state", mountPoint: "/srv/haha", timeoDeciseconds: 50, retrans: 2, leaseTimeS: 15, graceTimeS: 15 });
    assert.equal(c.storage.nfs.proxmoxStorage, undefined, "Proxmox storage only where config asks");
  });

  it("accepts unsafe but well-formed choices: the policy pack refuses them at preview", () => {
    const c = mutatedConfig((raw) => Object.assign(raw.storage.drbd, { version: "9", protocol: "A", quorum: "off", fencing: "dont-care" }));
    assert.equal(c.storage.drbd.protocol, "A");
    assert.deepEqual(prodConfig().storage.drbd.protocol, "C");
  });

  it("refuses unknown keys", () => {
    assert.deepEqual(problems((raw) => (raw.storage.nfs.exportOptions = "rw")), ["haha:storage.nfs.exportOptions: unknown key (not part of the config contract; see README's configuration reference)"]);
  });

  it("keeps the NFS state on OCFS2 and out of the export", () => {
    assert.deepEqual(problems((raw) => (raw.storage.nfs.stateDir = "/var/lib/nfs")), [
      "haha:storage.nfs.stateDir: expected a directory on the OCFS2 filesystem mounted at /srv/ocfs2, so the server that takes over finds it",
    ]);
    assert.deepEqual(problems((raw) => (raw.storage.nfs.stateDir = "/srv/ocfs2/export/.nfs")), [
      "haha:storage.nfs.stateDir: expected a directory outside the export /srv/ocfs2/export and not containing it: clients must not see or change the server's state",
    ]);
  });

  it("keeps the client mount apart from the OCFS2 mount", () => {
    assert.deepEqual(problems((raw) => (raw.storage.nfs.mountPoint = "/srv/ocfs2/haha")), [
      "haha:storage.nfs.mountPoint: expected a mount point apart from the OCFS2 mount /srv/ocfs2 (neither inside the other)",
    ]);
  });

  it("refuses paths the resource agents would split", () => {
    assert.deepEqual(problems((raw) => (raw.storage.nfs.exportPath = "/srv/ocfs2/my export")), [
      "haha:storage.nfs.exportPath: expected a plain absolute path (letters, digits, '.', '_', '-', '/'): resource agents split paths on blanks",
    ]);
  });

  it("refuses DRBD 9's quorum options and a third replica under DRBD 8.4, naming the key", () => {
    assert.deepEqual(
      problems((raw) => Object.assign(raw.storage.drbd, { quorum: "majority", onNoQuorum: "io-error" })),
      [
        'haha:storage.drbd.quorum: expected no quorum with version "8.4": DRBD 8.4 has none (Pacemaker\'s quorum and resource-and-stonith fencing guard the data); set version "9" for DRBD\'s own quorum',
        'haha:storage.drbd.onNoQuorum: expected no onNoQuorum with version "8.4": DRBD 8.4 has no quorum',
      ],
    );
    assert.deepEqual(problems((raw) => (raw.nodes[2].drbdDisk = { pciMapping: "nvme-pve03" })), [
      'haha:nodes: expected at most two nodes with drbdDisk with haha:storage.drbd.version "8.4": a DRBD 8.4 resource connects two hosts (version "9" replicates to more)',
    ]);
    assert.deepEqual(problems((raw) => (raw.storage.drbd.version = "7")).length, 1);
    const c = mutatedConfig((raw) => Object.assign(raw.storage.drbd, { version: "9", quorum: "majority" }));
    assert.equal(c.storage.drbd.quorum, "majority");
  });

  it("needs a slot per diskful member and at least one diskful member", () => {
    assert.deepEqual(problems((raw) => (raw.storage.ocfs2.slots = 2)), []);
    assert.deepEqual(
      problems((raw) => {
        raw.storage.drbd.version = "9";
        raw.storage.ocfs2.slots = 2;
        raw.nodes[2].drbdDisk = { pciMapping: "nvme-pve03" };
      }),
      ["haha:storage.ocfs2.slots: expected at least one OCFS2 node slot per diskful member (3)"],
    );
    const none = problems((raw) => raw.nodes.forEach((n: any) => delete n.drbdDisk));
    assert.deepEqual(none, ["haha:nodes: expected at least one node with drbdDisk: without a DRBD replica there is no storage to build"]);
  });

  it("refuses a grace period shorter than the lease", () => {
    assert.deepEqual(problems((raw) => Object.assign(raw.storage.nfs, { leaseTimeS: 30, graceTimeS: 15 })), [
      "haha:storage.nfs.graceTimeS: expected at least leaseTimeS (30): a shorter grace ends before every client has noticed the restart and reclaimed its state",
    ]);
  });
});
