// Malformed stack configs: each refused before any resource is declared (exit 2), with one
// message naming the key path, the value and what was expected, and never a stack trace.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { main } from "../../plan/cli";
import { readStackFile } from "../../stacks/config/load";
import { ConfigError, parseConfig } from "../../stacks/config/validate";
import { prodConfig, prodRaw, PROD_STACK_FILE } from "../helpers/config";
import { runPlanCli, tempDir, writeStackFile } from "../helpers/plan";

type Raw = Record<string, any>;

interface Case {
  name: string;
  mutate: (raw: Raw) => void;
  /** The key path the message must name. */
  path: string;
  /** A fragment of the explanation. */
  expect: RegExp;
  extra?: Record<string, unknown>;
}

const cases: Case[] = [
  { name: "endpoint is not a URL", mutate: (r) => (r.proxmox.endpoint = "pve01:8006"), path: "haha:proxmox.endpoint", expect: /Proxmox API URL/ },
  { name: "unknown nested key", mutate: (r) => (r.nodes[0].guest.colour = "blue"), path: "haha:nodes[0].guest.colour", expect: /unknown key/ },
  { name: "guest outside the subnet", mutate: (r) => (r.nodes[1].guest.address = "10.0.182.22"), path: "haha:nodes[1].guest.address", expect: /inside 10\.0\.181\.0\/24/ },
  { name: "not an IP address", mutate: (r) => (r.nodes[2].address = "10.0.181.300"), path: "haha:nodes[2].address", expect: /IPv4 address/ },
  { name: "duplicate guest name", mutate: (r) => (r.nodes[2].guest.name = r.nodes[0].guest.name), path: "haha:nodes[2].guest.name", expect: /unique name/ },
  { name: "guest named like a host", mutate: (r) => (r.nodes[1].guest.name = r.nodes[0].name), path: "haha:nodes[1].guest.name", expect: /unique name/ },
  { name: "duplicate VMID", mutate: (r) => (r.nodes[1].guest.vmid = r.nodes[0].guest.vmid), path: "haha:nodes[1].guest.vmid", expect: /unique VMID/ },
  { name: "duplicate host address", mutate: (r) => (r.nodes[1].address = r.nodes[0].address), path: "haha:nodes[1].address", expect: /unique address/ },
  { name: "guest takes the services VIP", mutate: (r) => (r.nodes[0].guest.address = r.network.vip), path: "haha:nodes[0].guest.address", expect: /already used by haha:network\.vip/ },
  { name: "storage VIP equals services VIP", mutate: (r) => (r.network.storageVip = r.network.vip), path: "haha:network.storageVip", expect: /unique address/ },
  { name: "VIP is the broadcast address", mutate: (r) => (r.network.vip = "10.0.181.255"), path: "haha:network.vip", expect: /not the network or broadcast/ },
  { name: "gateway outside the subnet", mutate: (r) => (r.network.gateway = "192.168.1.1"), path: "haha:network.gateway", expect: /inside/ },
  { name: "subnet prefix out of range", mutate: (r) => (r.network.subnet = "10.0.181.0/33"), path: "haha:network.subnet", expect: /CIDR/ },
  { name: "no DNS server", mutate: (r) => (r.network.dns = []), path: "haha:network.dns", expect: /at least one DNS/ },
  { name: "bond slave listed twice", mutate: (r) => (r.nodes[0].bond.slaves = ["enp1s0f0", "enp1s0f0"]), path: "haha:nodes[0].bond.slaves[1]", expect: /each bond slave once/ },
  { name: "unknown bond mode", mutate: (r) => (r.nodes[1].bond.mode = "lacp"), path: "haha:nodes[1].bond.mode", expect: /802\.3ad/ },
  { name: "switch ports do not match slaves", mutate: (r) => (r.nodes[0].bond.switchPorts = ["nllei01sw01:Te1/0/1"]), path: "haha:nodes[0].bond.switchPorts", expect: /one <switch>:<port> per bond slave/ },
  { name: "switch port on an undeclared switch", mutate: (r) => (r.nodes[0].bond.switchPorts[1] = "nllei01sw09:Te1/0/2"), path: "haha:nodes[0].bond.switchPorts[1]", expect: /declared in haha:switches/ },
  { name: "one switch port cabled twice", mutate: (r) => (r.nodes[1].bond.switchPorts[0] = r.nodes[0].bond.switchPorts[0]), path: "haha:nodes[1].bond.switchPorts[0]", expect: /used once/ },
  { name: "memory as a string", mutate: (r) => (r.nodes[0].guest.memoryMiB = "8G"), path: "haha:nodes[0].guest.memoryMiB", expect: /number/ },
  { name: "VMID below Proxmox's range", mutate: (r) => (r.nodes[0].guest.vmid = 42), path: "haha:nodes[0].guest.vmid", expect: /VMID from 100/ },
  { name: "malformed PCI address", mutate: (r) => (r.nodes[0].drbdDisk.pci.path = "01:00.0"), path: "haha:nodes[0].drbdDisk.pci.path", expect: /PCI address/ },
  { name: "missing cluster key", mutate: (r) => delete r.cluster, path: "haha:cluster", expect: /required key is missing/ },
  { name: "consensus not above token", mutate: (r) => (r.cluster.corosync = { tokenMs: 3000, consensusMs: 3000 }), path: "haha:cluster.corosync.consensusMs", expect: /more than token/ },
  { name: "zigbee port out of range", mutate: (r) => (r.peripherals.zigbee.port = 70000), path: "haha:peripherals.zigbee.port", expect: /port from 1 to 65535/ },
  { name: "image reference malformed", mutate: (r) => (r.services.homeassistant.image = "Home Assistant:latest"), path: "haha:services.homeassistant.image", expect: /image reference/ },
  { name: "voice guest on an unknown node", mutate: (r) => (r.voice.ollama.guest.node = "nllei01pve09"), path: "haha:voice.ollama.guest.node", expect: /one of haha:nodes/ },
  { name: "waiver without a real reason", mutate: (r) => (r.waivers[0].reason = "because"), path: "haha:waivers[0].reason", expect: /reason of at least 20/ },
  { name: "NFS export outside the OCFS2 filesystem", mutate: (r) => (r.storage.nfs.exportPath = "/srv/elsewhere"), path: "haha:storage.nfs.exportPath", expect: /OCFS2 filesystem/ },
  { name: "unknown top-level key", mutate: (r) => (r.colour = "blue"), path: "haha:colour", expect: /unknown key/ },
  { name: "a BMC without its password secret", mutate: (r) => (r.nodes[0].bmc = { address: "10.0.180.11", username: "fence" }), path: "haha:bmcPassword", expect: /declare a BMC for fence_ipmilan/ },
  { name: "secret set in clear", mutate: () => undefined, extra: { "haha:sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----" }, path: "haha:sshPrivateKey", expect: /set it with `pulumi config set --secret haha:sshPrivateKey`/ },
];

describe("malformed stack configs are refused with exit 2 before any resource", () => {
  it("has at least 25 distinct cases", () => assert.ok(cases.length >= 25));

  for (const c of cases) {
    it(c.name, async () => {
      const raw = prodRaw();
      c.mutate(raw);
      const file = writeStackFile(raw, "bad", c.extra);
      const out = tempDir();
      const lines: string[] = [];
      const code = await main(["--config", file, "--out", out], (l) => lines.push(l));
      const text = lines.join("\n");
      assert.equal(code, 2, text);
      const line = lines.find((l) => l.includes(`${c.path}:`));
      assert.ok(line, `no message names ${c.path}:\n${text}`);
      assert.match(line!, c.expect);
      assert.doesNotMatch(text, /\n\s+at .+\(.+:\d+:\d+\)/, "a stack trace was printed");
      assert.doesNotMatch(text, /BEGIN OPENSSH/, "a secret was echoed");
      // Nothing was planned: no build directory for the stack.
      assert.equal(fs.existsSync(path.join(out, "bad")), false);
    });
  }

  it("reports every problem of a config at once, one line each", () => {
    const raw = prodRaw();
    raw.nodes[0].guest.address = "10.9.9.9";
    raw.nodes[1].guest.vmid = raw.nodes[2].guest.vmid;
    try {
      parseConfig(raw, "two problems");
      assert.fail("accepted");
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.problems.map((p) => p.path).sort(), ["haha:nodes[0].guest.address", "haha:nodes[2].guest.vmid"]);
    }
  });

  it("a broken YAML file and a missing file are usage-level errors, not crashes", async () => {
    const dir = tempDir();
    const file = path.join(dir, "Pulumi.broken.yaml");
    fs.writeFileSync(file, "config:\n  haha:nodes: [unclosed\n");
    const lines: string[] = [];
    assert.equal(await main(["--config", file, "--out", dir], (l) => lines.push(l)), 2);
    assert.match(lines.join("\n"), /valid YAML/);
    assert.equal(await main(["--config", path.join(dir, "nope.yaml")], () => undefined), 2);
    assert.equal(await main(["--stack", "prod", "--config", file], () => undefined), 2);
    assert.equal(await main(["--bogus"], () => undefined), 2);
  });

  it("the CLI process itself exits 2 with no stack trace", () => {
    const raw = prodRaw();
    raw.nodes[1].guest.address = "10.0.182.22";
    const r = runPlanCli(["--config", writeStackFile(raw, "bad"), "--out", tempDir()]);
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /haha:nodes\[1\]\.guest\.address: "10\.0\.182\.22" — expected an address inside 10\.0\.181\.0\/24/);
    assert.doesNotMatch(r.stdout + r.stderr, /\s+at .+:\d+:\d+/);
  });
});

describe("the prod stack file", () => {
  it("is valid, holds no secret, and declares three members with two replicas", () => {
    const c = prodConfig();
    assert.equal(c.nodes.length, 3);
    assert.equal(c.nodes.filter((n) => n.drbdDisk).length, 2);
    assert.deepEqual(readStackFile(PROD_STACK_FILE).secretsSet, []);
    // The only PEM in it is the public cluster CA (haha:proxmox.caCert); never a key.
    assert.doesNotMatch(fs.readFileSync(PROD_STACK_FILE, "utf8"), /-----BEGIN (?!CERTIFICATE-----)|PRIVATE KEY|^\s*secure:/m);
  });
});
