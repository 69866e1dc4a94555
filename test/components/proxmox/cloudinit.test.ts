// The guests' cloud-init as rendered, checked by Debian 12's real cloud-init: the user data by
// `cloud-init schema`, the network config by cloud-init's own parser and ifupdown renderer (what
// the guest runs at first boot), with a real ed25519 host key from ssh-keygen.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { guestMac, renderNetworkConfig, renderUserData } from "../../../components/proxmox/cloudinit";
import { guestNics } from "../../../components/proxmox/snippets";
import { mutatedConfig, prodConfig } from "../../helpers/config";

// Debian's cloud-init lives in the system python (not a pyenv shim on PATH).
const PY = "/usr/bin/python3";
let dir = "";
let hostKey = { privateOpenssh: "", publicOpenssh: "" };

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-init-cloudinit-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path.join(dir, "host")]);
  hostKey = { privateOpenssh: fs.readFileSync(path.join(dir, "host"), "utf8"), publicOpenssh: fs.readFileSync(path.join(dir, "host.pub"), "utf8") };
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function schema(text: string): { status: number | null; out: string } {
  const f = path.join(dir, `user-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(f, text);
  const r = spawnSync("cloud-init", ["schema", "--config-file", f], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const user = (over: Partial<Parameters<typeof renderUserData>[0]> = {}) =>
  renderUserData({ hostname: "nllei01ha01", user: "root", authorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFx8mG3oN3kq5h0bq2V0d2Q7mQyVQm8mB0hY1hUo6rZk haha-deploy"], hostKey, ...over });

describe("user data", () => {
  it("is valid cloud-config for Debian 12's cloud-init (and the tool does reject a bad one)", () => {
    const text = user();
    assert.ok(text.startsWith("#cloud-config\n"));
    const ok = schema(text);
    assert.equal(ok.status, 0, ok.out);
    const bad = schema(text.replace('ssh_genkeytypes:\n  - ed25519', "ssh_genkeytypes: ed25519"));
    assert.notEqual(bad.status, 0, "cloud-init schema accepted ssh_genkeytypes as a string");
    assert.equal(schema(user({ user: "haha" })).status, 0);
  });

  it("installs and starts qemu-guest-agent, names the host and logs the deploy key in (root, no default debian user)", () => {
    const doc = parse(user());
    assert.deepEqual(doc.packages, ["qemu-guest-agent"]);
    assert.equal(doc.package_update, true);
    assert.deepEqual(doc.runcmd, [["systemctl", "start", "qemu-guest-agent.service"]]);
    assert.equal(doc.hostname, "nllei01ha01");
    assert.equal(doc.user, "root");
    assert.equal(doc.disable_root, false);
    assert.deepEqual(doc.ssh_authorized_keys, [user().match(/ssh-ed25519 \S+ haha-deploy/)![0]]);
    assert.equal(doc.ssh_pwauth, false);
  });

  it("carries the pinned host key pair and only that type, so clients negotiate the pinned key", () => {
    const doc = parse(user());
    assert.equal(doc.ssh_keys.ed25519_private, hostKey.privateOpenssh);
    assert.equal(doc.ssh_keys.ed25519_public, hostKey.publicOpenssh.trim());
    assert.equal(doc.ssh_deletekeys, true);
    assert.deepEqual(doc.ssh_genkeytypes, ["ed25519"]);
    // The private half written out is a key ssh-keygen reads, and it matches the public half.
    const f = path.join(dir, "roundtrip");
    fs.writeFileSync(f, doc.ssh_keys.ed25519_private, { mode: 0o600 });
    assert.equal(execFileSync("ssh-keygen", ["-y", "-f", f], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" "), hostKey.publicOpenssh.trim().split(" ").slice(0, 2).join(" "));
  });

  it("refuses a host key that is not ed25519, and a guest nobody could log in to", () => {
    assert.throws(() => user({ hostKey: { ...hostKey, publicOpenssh: "ssh-rsa AAAAB3Nza x" } }), /ed25519 public key/);
    assert.throws(() => user({ authorizedKeys: [] }), /no authorized key/);
  });
});

describe("network config", () => {
  /** What cloud-init 22.4 (Debian 12) writes for ifupdown from `text`: {interfaces, rules}. */
  function render(text: string): { interfaces: string; rules: string } {
    const f = path.join(dir, `net-${Math.random().toString(36).slice(2)}.yaml`);
    const target = fs.mkdtempSync(path.join(dir, "target-"));
    fs.writeFileSync(f, text);
    const script = [
      "import sys, yaml",
      "from cloudinit.net import network_state, eni",
      "ns = network_state.parse_net_config_data(yaml.safe_load(open(sys.argv[1])))",
      "eni.Renderer({'eni_path': 'interfaces', 'netrules_path': 'rules'}).render_network_state(ns, target=sys.argv[2])",
    ].join("\n");
    execFileSync(PY, ["-c", script, f, target]);
    return { interfaces: fs.readFileSync(path.join(target, "interfaces"), "utf8"), rules: fs.readFileSync(path.join(target, "rules"), "utf8") };
  }

  it("names the NIC with the VM's fixed MAC haha:network.guestNic, with the member's address, gateway, DNS and MTU", () => {
    const c = prodConfig();
    const nics = guestNics(c, { vmid: 181, address: "10.0.181.21", mtu: 9000 });
    const out = render(renderNetworkConfig({ nics, dns: c.network.dns }));
    assert.equal(c.network.guestNic, "ens18");
    assert.match(out.rules, /ATTR\{address\}=="02:48:00:00:00:b5", NAME="ens18"/);
    assert.match(out.interfaces, /iface ens18 inet static\n\s+address 10\.0\.181\.21\/24\n\s+gateway 10\.0\.181\.1\n\s+mtu 9000/);
    assert.match(out.interfaces, /dns-nameservers 10\.0\.181\.1/);
    // No route command from a package the image does not have.
    assert.doesNotMatch(out.interfaces, /route add/);
  });

  it("names a second NIC on haha:network.secondary by its own MAC, and follows a configured guestNic", () => {
    const c = mutatedConfig((raw) => {
      raw.network.guestNic = "lan0";
      raw.network.secondary = { subnet: "10.0.182.0/24", bridge: "vmbr1" };
      raw.nodes.forEach((n: { guest: { secondaryAddress?: string } }, i: number) => (n.guest.secondaryAddress = `10.0.182.${21 + i}`));
    });
    const nics = guestNics(c, { vmid: 182, address: "10.0.181.22", secondaryAddress: "10.0.182.22" });
    const out = render(renderNetworkConfig({ nics, dns: c.network.dns }));
    assert.match(out.rules, /ATTR\{address\}=="02:48:00:00:00:b6", NAME="lan0"/);
    assert.match(out.rules, /ATTR\{address\}=="06:48:00:00:00:b6", NAME="ens19"/);
    assert.match(out.interfaces, /iface ens19 inet static\n\s+address 10\.0\.182\.22\/24\n(?!\s+gateway)/);
  });

  it("refuses two NICs of one name and a name Linux would not take", () => {
    const nic = { name: "ens18", mac: guestMac(181, 0), address: "10.0.181.21/24" };
    assert.throws(() => renderNetworkConfig({ nics: [nic, { ...nic, mac: guestMac(181, 1) }], dns: [] }), /two NICs are named "ens18"/);
    assert.throws(() => renderNetworkConfig({ nics: [{ ...nic, name: "eth 0" }], dns: [] }), /not a Linux interface name/);
  });
});

describe("guestMac", () => {
  it("is a stable, locally administered unicast MAC, distinct per VMID and NIC", () => {
    assert.equal(guestMac(181, 0), "02:48:00:00:00:B5");
    assert.equal(guestMac(181, 0), guestMac(181, 0));
    const macs = new Set<string>();
    for (const vmid of [100, 181, 182, 191, 65535, 999999999]) {
      for (const nic of [0, 1, 2]) {
        const m = guestMac(vmid, nic);
        const first = parseInt(m.slice(0, 2), 16);
        assert.equal(first & 0b10, 0b10, `${m} is not locally administered`);
        assert.equal(first & 0b01, 0, `${m} is multicast`);
        macs.add(m);
      }
    }
    assert.equal(macs.size, 18);
    assert.throws(() => guestMac(99, 0), /not a Proxmox VMID/);
    assert.throws(() => guestMac(181, 64), /out of 0\.\.63/);
  });
});
