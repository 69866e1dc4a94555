// Host networking in mode manage (asked for per node): bond before bridge, one host after the
// other, each protected and replaced delete-first; a node left in adopt declares nothing.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { ProxmoxHost, proxmoxProvider } from "../../../components/proxmox";
import { recordUnderMocks } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { mutatedConfig } from "../../helpers/config";

let resources: RecordedResource[] = [];
const ofType = (t: string) => resources.filter((r) => r.type === t);
const named = (n: string) => resources.find((r) => r.name === n)!;
const BOND = "proxmoxve:network/linux/bond:Bond";
const BRIDGE = "proxmoxve:network/linux/bridge:Bridge";

before(async () => {
  // pve01 and pve03 managed, pve02 adopted: the chain passes through the adopted host.
  const c = mutatedConfig((raw) => {
    raw.nodes[0].network = { mode: "manage" };
    raw.nodes[2].network = { mode: "manage" };
  });
  ({ resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const provider = proxmoxProvider("proxmox", c, { proxmoxApiToken: "<secret:proxmoxApiToken>" as never, sshPrivateKey: "<secret:sshPrivateKey>" as never, bmcPassword: undefined, proxmoxSshPrivateKey: "<secret:proxmoxSshPrivateKey>" as never });
    const hosts: ProxmoxHost[] = [];
    for (const node of c.nodes) hosts.push(new ProxmoxHost(node.name, { config: c, node, networkAfter: hosts.at(-1)?.networkDone }, { provider }));
    return {};
  }));
});

describe("ProxmoxHost, network mode manage", () => {
  it("declares the bond and bridge only on the hosts that ask for it", () => {
    assert.deepEqual(ofType(BOND).map((b) => b.inputs.nodeName), ["nllei01pve01", "nllei01pve03"]);
    assert.deepEqual(ofType(BRIDGE).map((b) => b.inputs.nodeName), ["nllei01pve01", "nllei01pve03"]);
    const bond = named("nllei01pve01-bond0");
    assert.equal(bond.inputs.bondMode, "802.3ad");
    assert.deepEqual(bond.inputs.slaves, ["enp1s0f0", "enp1s0f1"]);
    assert.deepEqual(named("nllei01pve01-vmbr0").inputs.ports, ["bond0"]);
    assert.equal(named("nllei01pve01-vmbr0").inputs.address, "10.0.181.11/24");
  });

  it("changes bond before bridge, and host 3 only after host 1's bridge (never two hosts reloading at once)", () => {
    assert.ok(named("nllei01pve01-vmbr0").dependencies.includes(named("nllei01pve01-bond0").urn));
    assert.deepEqual(named("nllei01pve01-bond0").dependencies, []);
    assert.ok(named("nllei01pve03-bond0").dependencies.includes(named("nllei01pve01-vmbr0").urn), "pve03's bond does not wait for pve01's bridge");
  });

  it("protects the management path and replaces it delete-first (fixed node:interface ids), saying why", () => {
    for (const r of [...ofType(BOND), ...ofType(BRIDGE)]) assert.deepEqual(r.options, { protect: true, deleteBeforeReplace: true }, r.urn);
    const host = resources.find((r) => r.type === "haha:proxmox:Host" && r.name === "nllei01pve01")!;
    assert.match(String((host.inputs.lifecycle as Record<string, string>).bridge), /fixed id nllei01pve01:vmbr0: a replacement deletes the old one first; protected, it holds the management address of nllei01pve01/);
    assert.equal((host.inputs.intent as { network: string }).network, "manage");
    const adopted = resources.find((r) => r.type === "haha:proxmox:Host" && r.name === "nllei01pve02")!;
    assert.equal((adopted.inputs.intent as { network: string }).network, "adopt");
  });

  it("gives the provider's SSH its own key, never the guests'", () => {
    const provider = resources.find((r) => r.type === "pulumi:providers:proxmoxve")!;
    const ssh = JSON.parse(String(provider.inputs.ssh)) as Record<string, unknown>;
    assert.equal(ssh.privateKey, "<secret:proxmoxSshPrivateKey>");
    assert.equal(ssh.agent, undefined);
    assert.ok(provider.secretInputs.includes("ssh"));
  });
});
