// haha:network.secondary.storage: DRBD replication, the NFS export (its VIP and clientspecs) and
// the members' mounts move onto the second network; without it they stay on the cluster subnet.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { STORAGE_IDS, storageCibFragment } from "../../../components/storage/cib";
import { drbdModel } from "../../../components/storage/drbd";
import { primitives } from "../../../components/pacemaker/cib/model";
import { CIB_IDS } from "../../../components/pacemaker/cib/ids";
import { storageNetwork } from "../../../components/storage/network";
import { mutatedConfig, prodConfig } from "../../helpers/config";

const storageNet = (raw: Record<string, any>, storage = true) => {
  raw.network.secondary = { subnet: "10.0.182.0/24", bridge: "vmbr1", storage };
  raw.nodes.forEach((n: any, i: number) => (n.guest.secondaryAddress = `10.0.182.${21 + i}`));
  if (storage) raw.network.storageVip = "10.0.182.51";
};

describe("the storage network", () => {
  it("is the cluster subnet when no second network carries storage", () => {
    for (const c of [prodConfig(), mutatedConfig((raw) => storageNet(raw, false))]) {
      assert.deepEqual(storageNetwork(c), { subnet: "10.0.181.0/24", nic: c.network.guestNic, dedicated: false });
      assert.deepEqual(drbdModel(c, "s").hosts.map((h) => h.address), ["10.0.181.21", "10.0.181.22", "10.0.181.23"]);
    }
  });

  it("with secondary.storage: replication, the export and its VIP on the second network", () => {
    const c = mutatedConfig((raw) => storageNet(raw));
    assert.deepEqual(storageNetwork(c), { subnet: "10.0.182.0/24", nic: "ens19", dedicated: true });
    assert.deepEqual(drbdModel(c, "s").hosts.map((h) => h.address), ["10.0.182.21", "10.0.182.22", "10.0.182.23"]);
    const prims = new Map(storageCibFragment(c).resources.flatMap(primitives).map((p) => [p.id, p]));
    assert.deepEqual(["nllei01ha01", "nllei01ha02", "nllei01ha03"].map((m) => prims.get(STORAGE_IDS.nfsExport(m))!.params.clientspec), ["10.0.182.21", "10.0.182.22", "10.0.182.23"]);
    assert.deepEqual(prims.get(CIB_IDS.storageVip)!.params, { ip: "10.0.182.51", cidr_netmask: "24", nic: "ens19" });
    assert.match(prims.get(STORAGE_IDS.sharedMount)!.params.device!, /^10\.0\.182\.51:/);
  });

  it("refuses a storage VIP outside the storage network, naming the key", () => {
    assert.throws(
      () => mutatedConfig((raw) => (storageNet(raw), (raw.network.storageVip = "10.0.181.51"))),
      (e: Error) => /network\.storageVip.*10\.0\.181\.51.*inside 10\.0\.182\.0\/24, because haha:network\.secondary\.storage/s.test(e.message),
    );
  });
});
