// host-storage-cycle: the hosts mounting an export served by their own guests is warned about
// (advisory), harder when the mount is hard; storage served from outside the cluster is not.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, rule, stackOf, withResource } from "./fixtures";

const RULE = "host-storage-cycle";
const prod = stackOf(prodConfig());
const COMPONENT = "haha:storage:ProxmoxNfsStorage";
const NFS = "proxmoxve:storage/nfs:Nfs";
const nfsProps = (options: string) => ({ resourceId: "haha-backup", server: "10.0.181.51", export: "/srv/ocfs2/export/proxmox", nodes: ["nllei01pve01", "nllei01pve02", "nllei01pve03"], options });

function withBackup(servedByCluster: boolean, options: string) {
  const withComponent = withResource(prod, COMPONENT, "backup-storage", { storage: { id: "haha-backup", servedByCluster } });
  return withResource(withComponent, NFS, "backup-storage-nfs", nfsProps(options), "backup-storage");
}

describe(RULE, () => {
  it("passes without a Proxmox storage on the cluster's export", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass");
  });

  it("warns (advisory) that the hosts mount what their own guests serve, soft", () => {
    const ev = evaluate(withBackup(true, "vers=4.2,proto=tcp,soft,timeo=50,retrans=2"));
    assert.equal(rule(ev, RULE).status, "advisory", messages(ev, RULE));
    assert.match(messages(ev, RULE), /hosts nllei01pve01, nllei01pve02 and nllei01pve03 mount 10\.0\.181\.51:\/srv\/ocfs2\/export\/proxmox, served by their own guests \(nllei01ha01, nllei01ha02 and nllei01ha03\).*mounted soft/);
  });

  it("says a hard mount hangs pvestatd, and to mount it soft", () => {
    const ev = evaluate(withBackup(true, "vers=4.2,proto=tcp,hard,timeo=50,retrans=2"));
    assert.match(messages(ev, RULE), /mounted hard it hangs pvestatd.*Fix: mount it soft/);
  });

  it("says nothing about storage served from outside the cluster", () => {
    assert.equal(rule(evaluate(withBackup(false, "vers=4.2,hard")), RULE).status, "pass");
  });
});
