// The Proxmox layer under Pulumi's mocks: what each component declares, how children are named,
// parented and ordered, and that no USB or ha-manager resource ever appears.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ClusterGuest, FencingIdentity, ProxmoxHost, proxmoxProvider } from "../../../components/proxmox";
import { recordUnderMocks } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { clusterMembers } from "../../../stacks/config/members";
import { prodConfig } from "../../helpers/config";

let resources: RecordedResource[] = [];
const ofType = (t: string) => resources.filter((r) => r.type === t);
const byUrn = () => new Map(resources.map((r) => [r.urn, r]));

before(async () => {
  const c = prodConfig();
  const members = clusterMembers(c);
  ({ resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const provider = proxmoxProvider("proxmox", c, { proxmoxApiToken: "<secret:proxmoxApiToken>" as never, sshPrivateKey: "<secret:sshPrivateKey>" as never, bmcPassword: undefined, proxmoxSshPrivateKey: undefined });
    const hosts: ProxmoxHost[] = [];
    for (const node of c.nodes) hosts.push(new ProxmoxHost(node.name, { config: c, node, networkAfter: hosts.at(-1)?.networkDone }, { provider }));
    c.nodes.forEach((node, i) => new ClusterGuest(node.guest.name, { config: c, node, member: members[i]! }, { provider, dependsOn: [hosts[i]!] }));
    new FencingIdentity("fencing", { config: c, members }, { provider });
    return {};
  }));
});

describe("ProxmoxHost", () => {
  it("adopts each host's existing networking by default: no bond or bridge declared, nothing that reloads a host's network", () => {
    assert.deepEqual(ofType("proxmoxve:network/linux/bond:Bond"), []);
    assert.deepEqual(ofType("proxmoxve:network/linux/bridge:Bridge"), []);
    assert.deepEqual(resources.filter((r) => r.type.startsWith("proxmoxve:network/")), []);
  });

  it("states its uplink intent in its args, known at preview", () => {
    const host = ofType("haha:proxmox:Host").find((r) => r.name === "nllei01pve02")!;
    assert.deepEqual(host.inputs.intent, {
      host: "nllei01pve02",
      network: "adopt",
      bond: { name: "bond0", mode: "802.3ad", hashPolicy: "layer3+4", miimon: 100, mtu: 9000, slaves: ["enp1s0f0", "enp1s0f1"] },
      switchPorts: ["nllei01sw01:Te1/0/3", "nllei01sw01:Te1/0/4"],
      switches: ["nllei01sw01"],
    });
  });

  it("maps the NVMe disk by PCI only on the hosts of DRBD members", () => {
    const maps = ofType("proxmoxve:hardware/mapping/pci:Pci");
    assert.deepEqual(maps.map((m) => m.inputs.name).sort(), ["nvme-pve01", "nvme-pve02"]);
    assert.deepEqual((maps[0]!.inputs.maps as { node: string }[]).map((m) => m.node).length, 1);
    for (const m of maps) assert.deepEqual(m.options, { protect: true, deleteBeforeReplace: true }, m.urn);
  });

  it("replaces the cloud image file delete-first (fixed file name), unprotected: it holds no data", () => {
    for (const f of ofType("proxmoxve:download/file:File")) assert.deepEqual(f.options, { deleteBeforeReplace: true }, f.urn);
  });
});

describe("ClusterGuest", () => {
  it("pins each guest to its host with a watchdog and no USB", () => {
    const vms = ofType("proxmoxve:index/vmLegacy:VmLegacy");
    assert.equal(vms.length, 3);
    for (const vm of vms) {
      assert.deepEqual(vm.inputs.watchdog, { enabled: true, model: "i6300esb", action: "reset" });
      assert.deepEqual(vm.inputs.usbs, []);
      assert.equal(vm.inputs.migrate, false);
    }
    assert.deepEqual(vms.map((v) => [v.inputs.name, v.inputs.nodeName]).sort(), [
      ["nllei01ha01", "nllei01pve01"],
      ["nllei01ha02", "nllei01pve02"],
      ["nllei01ha03", "nllei01pve03"],
    ]);
  });

  it("passes the NVMe disk through by mapping on DRBD members only; the tiebreaker has none", () => {
    const vms = new Map(ofType("proxmoxve:index/vmLegacy:VmLegacy").map((v) => [v.inputs.name as string, v]));
    assert.deepEqual(vms.get("nllei01ha01")!.inputs.hostpcis, [{ device: "hostpci0", mapping: "nvme-pve01", pcie: true, rombar: false }]);
    assert.deepEqual(vms.get("nllei01ha03")!.inputs.hostpcis, []);
  });

  it("boots cloud-init from its own snippets: address on the NIC named by its fixed MAC, deploy key, pinned host key", () => {
    const vm = ofType("proxmoxve:index/vmLegacy:VmLegacy").find((v) => v.inputs.name === "nllei01ha02")!;
    const init = vm.inputs.initialization as Record<string, unknown>;
    // Proxmox generates no user or network part once snippets are given; nothing conflicting is set.
    assert.deepEqual(Object.keys(init).sort(), ["datastoreId", "networkDataFileId", "userDataFileId"]);
    assert.equal(init.userDataFileId, "local:snippets/haha-182-nllei01ha02-user.yaml");
    assert.equal(init.networkDataFileId, "local:snippets/haha-182-nllei01ha02-network.yaml");
    const nic = (vm.inputs.networkDevices as { macAddress: string }[])[0]!;
    assert.equal(nic.macAddress, "02:48:00:00:00:B6");
    const files = new Map(ofType("proxmoxve:index/fileLegacy:FileLegacy").map((f) => [(f.inputs.sourceRaw as { fileName: string }).fileName, f]));
    const user = files.get("haha-182-nllei01ha02-user.yaml")!;
    const net = files.get("haha-182-nllei01ha02-network.yaml")!;
    for (const f of [user, net]) {
      assert.equal(f.inputs.contentType, "snippets");
      assert.equal(f.inputs.nodeName, "nllei01pve02");
      // Uploaded before the VM boots from it.
      assert.ok(vm.dependencies.includes(f.urn), `${f.name} not a dependency of the VM`);
    }
    const userData = (user.inputs.sourceRaw as { data: string }).data;
    assert.ok(userData.startsWith("#cloud-config\n"));
    assert.match(userData, /ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx8mG3oN3kq5h0bq2V0d2Q7mQyVQm8mB0hY1hUo6rZk haha-deploy/);
    assert.match(userData, /ed25519_private: \|\n\s+<secret:nllei01ha02-cloud-init-host-key>/);
    assert.match(userData, /- qemu-guest-agent/);
    // The host's private key is in the user data: secret, and the network part is not.
    assert.deepEqual(user.secretInputs, ["sourceRaw"]);
    assert.deepEqual(net.secretInputs, []);
    const netData = (net.inputs.sourceRaw as { data: string }).data;
    assert.match(netData, /name: ens18\n\s+mac_address: 02:48:00:00:00:b6\n[\s\S]*address: 10\.0\.181\.22\/24\n\s+gateway: 10\.0\.181\.1/);
  });

  it("replaces its cloud-init snippets delete-first: the new file has the old one's volume id, which the old resource's delete would remove", () => {
    const snippets = ofType("proxmoxve:index/fileLegacy:FileLegacy").filter((f) => f.inputs.contentType === "snippets");
    assert.ok(snippets.length >= 6, `${snippets.length} snippets`);
    for (const f of snippets) assert.deepEqual(f.options, { deleteBeforeReplace: true }, f.urn);
  });

  it("orders the VM after its host's network, image and PCI mapping", () => {
    const vm = ofType("proxmoxve:index/vmLegacy:VmLegacy").find((v) => v.inputs.name === "nllei01ha01")!;
    const deps = vm.dependencies.map((u) => u.split("::").pop());
    for (const d of ["nllei01pve01-cloud-image", "nllei01pve01-nvme-pve01"]) assert.ok(deps.includes(d), `${d} not in ${deps}`);
  });

  it("protects every cluster guest and replaces it delete-first (fixed VMID), saying why in its description and args", () => {
    for (const vm of ofType("proxmoxve:index/vmLegacy:VmLegacy")) {
      assert.deepEqual(vm.options, { protect: true, deleteBeforeReplace: true }, vm.urn);
      assert.match(String(vm.inputs.description), /fixed id VMID \d+: a replacement deletes the old one first; protected, it holds/);
    }
    const g = ofType("haha:proxmox:ClusterGuest").find((r) => r.name === "nllei01ha01")!;
    assert.equal(g.inputs.lifecycle, "fixed id VMID 181: a replacement deletes the old one first; protected, it holds a DRBD replica of the home's data (haha:proxmox.protect: false to remove it)");
  });

  it("is never registered with Proxmox's ha-manager", () => {
    assert.equal(resources.filter((r) => /haresource|hagroup|harule/i.test(r.type)).length, 0);
    for (const g of ofType("haha:proxmox:ClusterGuest")) assert.equal((g.inputs.intent as { haManaged: boolean }).haManaged, false);
  });
});

describe("FencingIdentity", () => {
  it("grants only power management and audit, per guest", () => {
    const role = ofType("proxmoxve:index/roleLegacy:RoleLegacy")[0]!;
    assert.deepEqual(role.inputs.privileges, ["VM.Audit", "VM.PowerMgmt"]);
    const acls = ofType("proxmoxve:index/acl:Acl");
    assert.deepEqual(acls.map((a) => a.inputs.path).sort(), ["/vms/181", "/vms/182", "/vms/183"]);
    for (const a of acls) assert.equal(a.inputs.propagate, false);
  });

  it("replaces its fixed-id role, user and ACLs delete-first, unprotected", () => {
    for (const t of ["proxmoxve:index/roleLegacy:RoleLegacy", "proxmoxve:index/userLegacy:UserLegacy", "proxmoxve:index/acl:Acl"]) {
      for (const r of ofType(t)) assert.deepEqual(r.options, { deleteBeforeReplace: true }, r.urn);
    }
  });

  it("keeps the generated password secret", () => {
    const user = ofType("proxmoxve:index/userLegacy:UserLegacy")[0]!;
    assert.ok(user.secretInputs.includes("password"));
    assert.equal(user.inputs.password, "<secret:fencing-password>");
  });
});

describe("component conventions", () => {
  it("parents every child to its component and derives its name from the component's", () => {
    const urns = byUrn();
    for (const r of resources) {
      const parent = r.parent ? urns.get(r.parent) : undefined;
      if (!parent || !parent.type.startsWith("haha:")) continue;
      assert.ok(r.name.startsWith(`${parent.name}-`), `${r.name} is not named after ${parent.name}`);
    }
    const children = resources.filter((r) => r.custom && !r.type.startsWith("pulumi:providers:"));
    for (const c of children) assert.ok(urns.get(c.parent!)?.type.startsWith("haha:proxmox:"), `${c.urn} has no component parent`);
  });

  it("passes the explicit provider to every Proxmox resource", () => {
    for (const r of resources.filter((x) => x.type.startsWith("proxmoxve:"))) assert.match(r.provider ?? "", /pulumi:providers:proxmoxve::proxmox$/, r.urn);
  });

  it("never records the API token in clear", () => {
    const provider = resources.find((r) => r.type === "pulumi:providers:proxmoxve")!;
    assert.ok(provider.secretInputs.includes("apiToken"));
    assert.equal(provider.inputs.apiToken, "pulumi@pve!haha=<secret:proxmoxApiToken>");
  });

  it("never gives the provider's SSH the guests' key: without haha:proxmoxSshPrivateKey it uses the SSH agent", () => {
    const provider = resources.find((r) => r.type === "pulumi:providers:proxmoxve")!;
    const ssh = JSON.parse(String(provider.inputs.ssh)) as Record<string, unknown>;
    assert.equal(ssh.privateKey, undefined);
    assert.equal(ssh.agent, true);
    assert.equal(ssh.username, "root");
    assert.ok(!JSON.stringify(provider.inputs).includes("<secret:sshPrivateKey>"));
  });
});
