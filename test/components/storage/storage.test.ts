// The storage components under Pulumi's mocks: what they ship to which member, in which order,
// what they declare as intent, and that a refused config ships nothing but a failing step.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import type { GuestConnection } from "../../../components/host/connection";
import { proxmoxProvider } from "../../../components/proxmox";
import { DRBD_SECRET_SIZE, ProxmoxNfsStorage, ReplicatedStorage, storageCibFragment, storageIntent } from "../../../components/storage";
import { drbdModel, renderDrbdResource } from "../../../components/storage/drbd";
import { renderDirsUnit, renderNfsdConf } from "../../../components/storage/nfs";
import { recordUnderMocks } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";
import { mutatedConfig, prodConfig, TEST_HOST_KEY } from "../../helpers/config";

let resources: RecordedResource[] = [];
let prod: HahaConfig;
let unsafe: HahaConfig;
let components: { storage: ReplicatedStorage; unsafe: ReplicatedStorage };

const layer = (c: HahaConfig) => {
  const members = clusterMembers(c);
  const connections: GuestConnection[] = members.map((m) => ({ host: m.name, address: m.address, user: "root", port: 22, privateKey: "<secret:sshPrivateKey>", hostKey: TEST_HOST_KEY }));
  return { config: c, members, connections };
};
const urnOf = (type: string, name: string) => resources.find((r) => r.type === type && r.name === name)?.urn;
const childrenOf = (urn: string | undefined) => resources.filter((r) => r.parent === urn);
const files = (component: string) => childrenOf(urnOf("haha:storage:ReplicatedStorage", component)).filter((r) => r.type === "haha:host:File");
const steps = (component: string) => childrenOf(urnOf("haha:storage:ReplicatedStorage", component)).filter((r) => r.type === "haha:host:Step");
const inputs = (r: RecordedResource) => r.inputs as Record<string, any>;

before(async () => {
  prod = prodConfig();
  unsafe = mutatedConfig((raw) => (raw.storage.drbd.protocol = "A"));
  const noBackup = mutatedConfig((raw) => delete raw.storage.nfs.proxmoxStorage);
  ({ resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const provider = proxmoxProvider("proxmox", prod, { proxmoxApiToken: "<secret:proxmoxApiToken>" as never, sshPrivateKey: "<secret:sshPrivateKey>" as never, bmcPassword: undefined });
    components = {
      storage: new ReplicatedStorage("storage", layer(prod)),
      unsafe: new ReplicatedStorage("unsafe", layer(unsafe)),
    };
    new ProxmoxNfsStorage("backup-storage", { config: prod }, { provider });
    new ProxmoxNfsStorage("no-backup", { config: noBackup }, { provider });
    return {};
  }));
});

describe("ReplicatedStorage", () => {
  it("states its intent in its args, from config alone", () => {
    const r = resources.find((x) => x.type === "haha:storage:ReplicatedStorage" && x.name === "storage")!;
    assert.deepEqual(inputs(r).intent, {
      version: "8.4",
      replicas: [
        { member: "nllei01ha01", host: "nllei01pve01" },
        { member: "nllei01ha02", host: "nllei01pve02" },
      ],
      // DRBD 8.4: the third member is a Pacemaker vote, no DRBD node.
      diskless: [],
      protocol: "C",
      quorum: "none",
      onNoQuorum: "none",
      fencing: "resource-and-stonith",
      allowTwoPrimaries: true,
    });
    assert.deepEqual(inputs(r).intent, storageIntent(prod));
    assert.deepEqual(inputs(r).refused, []);
    assert.deepEqual(components.storage.cibFragment, storageCibFragment(prod));
  });

  it("ships the DRBD 8.4 resource to the two replicas (the third member is no DRBD host) as a secret, root-only file applied with drbdadm adjust", () => {
    const res = files("storage").filter((f) => inputs(f).path === "/etc/drbd.d/haha.res");
    assert.deepEqual(res.map((f) => inputs(f).connection.host).sort(), ["nllei01ha01", "nllei01ha02"]);
    const expected = renderDrbdResource(drbdModel(prod, "<secret:storage-drbd-secret>"));
    for (const f of res) {
      assert.equal(inputs(f).content, expected);
      assert.ok(f.secretInputs.includes("content"), "the shared secret is inside: the whole content is secret");
      assert.equal(inputs(f).mode, "0600");
      assert.match(inputs(f).onChange, /drbdadm adjust 'haha'/);
    }
    const secret = resources.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name === "storage-drbd-secret")!;
    assert.equal(inputs(secret).length, DRBD_SECRET_SIZE);
    assert.equal(inputs(secret).special, false);
  });

  it("ships the nfsd snippet to the diskful members, the directories unit to every member (Pacemaker probes it everywhere)", () => {
    const by = (p: string) => files("storage").filter((f) => inputs(f).path === p);
    assert.deepEqual(by("/etc/nfs.conf.d/haha-nfsd.conf").map((f) => inputs(f).connection.host).sort(), ["nllei01ha01", "nllei01ha02"]);
    assert.deepEqual(by("/etc/systemd/system/haha-nfs-dirs.service").map((f) => inputs(f).connection.host).sort(), ["nllei01ha01", "nllei01ha02", "nllei01ha03"]);
    for (const f of by("/etc/nfs.conf.d/haha-nfsd.conf")) assert.equal(inputs(f).content, renderNfsdConf(prod));
    for (const f of by("/etc/systemd/system/haha-nfs-dirs.service")) {
      assert.equal(inputs(f).content, renderDirsUnit(prod));
      assert.equal(inputs(f).onChange, "systemctl daemon-reload");
    }
  });

  it("brings DRBD up on each replica after its file, then syncs and formats on one member only, in that order", () => {
    const all = steps("storage");
    const up = all.filter((s) => s.name.endsWith("-drbd-up"));
    assert.deepEqual(up.map((s) => inputs(s).host).sort(), ["nllei01ha01", "nllei01ha02"]);
    // A dependency on a component stands for its commands: those are what must have run.
    const command = (name: string) => resources.find((r) => r.type === "command:remote:Command" && r.name === name)!.urn;
    for (const s of up) {
      const file = files("storage").find((f) => inputs(f).path === "/etc/drbd.d/haha.res" && inputs(f).connection.host === inputs(s).host)!;
      assert.ok(s.dependencies.includes(command(`${file.name}-write`)), `${s.name} waits for its resource file`);
    }
    const sync = all.find((s) => s.name === "storage-initial-sync")!;
    const mkfs = all.find((s) => s.name === "storage-mkfs")!;
    assert.equal(inputs(sync).host, "nllei01ha01");
    assert.equal(inputs(mkfs).host, "nllei01ha01");
    for (const u of up) assert.ok(sync.dependencies.includes(command(`${u.name}-run`)), `the initial sync waits for ${u.name}`);
    assert.ok(mkfs.dependencies.includes(command("storage-initial-sync-run")));
    assert.match(inputs(mkfs).create, /mkfs\.ocfs2 --cluster-stack=pcmk --cluster-name='haha' -N 4 -L 'haha'/);
    assert.equal(all.length, 4);
  });

  it("names and parents every child after the component", () => {
    const storageUrn = urnOf("haha:storage:ReplicatedStorage", "storage");
    for (const r of childrenOf(storageUrn)) assert.ok(r.name.startsWith("storage-"), r.name);
    const commands = resources.filter((r) => r.type === "command:remote:Command" && r.name.startsWith("storage-"));
    assert.ok(commands.length > 0);
    for (const c of commands) assert.ok(resources.find((p) => p.urn === c.parent)?.parent === storageUrn, `${c.name} sits under a storage child`);
  });
});

describe("ReplicatedStorage with a refused config (protocol A)", () => {
  it("still states the intent the policy pack judges", () => {
    const r = resources.find((x) => x.type === "haha:storage:ReplicatedStorage" && x.name === "unsafe")!;
    assert.equal(inputs(r).intent.protocol, "A");
    assert.equal(inputs(r).refused.length, 1);
    assert.match(inputs(r).refused[0], /^protocol A: expected C/);
  });

  it("ships nothing to the members: no file, no secret, no metadata, no filesystem; one step that fails with the reason", () => {
    assert.deepEqual(files("unsafe"), []);
    assert.ok(!resources.some((r) => r.name === "unsafe-drbd-secret"));
    const s = steps("unsafe");
    assert.deepEqual(s.map((x) => x.name), ["unsafe-refused"]);
    const r = spawnSync("sh", ["-c", inputs(s[0]!).create], { encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /HAHA storage refuses haha:storage\.drbd:\n {2}- protocol A: expected C/);
  });

  it("still contributes its CIB fragment, so the plan renders a whole CIB for the policy pack", () => {
    assert.deepEqual(components.unsafe.cibFragment, storageCibFragment(unsafe));
  });
});

describe("ProxmoxNfsStorage", () => {
  it("registers the export through the storage VIP where config asks, with bounded retention", () => {
    const nfs = resources.filter((r) => r.type === "proxmoxve:storage/nfs:Nfs");
    assert.equal(nfs.length, 1);
    assert.equal(nfs[0]!.name, "backup-storage-nfs");
    assert.deepEqual(inputs(nfs[0]!), {
      resourceId: "haha-backup",
      server: "10.0.181.51",
      export: "/srv/ocfs2/export/proxmox",
      contents: ["backup"],
      nodes: ["nllei01pve01", "nllei01pve02", "nllei01pve03"],
      options: "vers=4.2,proto=tcp,hard,timeo=50,retrans=2",
      backups: { keepLast: 3 },
    });
    assert.match(nfs[0]!.provider ?? "", /pulumi:providers:proxmoxve::proxmox$/);
    assert.equal(nfs[0]!.parent, urnOf("haha:storage:ProxmoxNfsStorage", "backup-storage"));
  });

  it("registers nothing where config does not ask", () => {
    assert.deepEqual(childrenOf(urnOf("haha:storage:ProxmoxNfsStorage", "no-backup")), []);
  });
});
