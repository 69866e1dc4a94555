// The voice guest's Ollama firewall: the rendered ruleset is accepted by the real nft (-c), and,
// loaded into a network namespace standing in for the voice guest, lets a cluster member's
// address through to the port while another LAN address is refused; Ollama listens on the
// guest's own address only.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ollamaFirewall, ollamaListen, renderOllamaFirewallUnit, renderOllamaNft } from "../../../components/services/ollama-firewall";
import { prodConfig } from "../../helpers/config";

const c = prodConfig();
const fw = ollamaFirewall(c);
const text = renderOllamaNft(fw);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "security-ollama-"));
const file = path.join(dir, "ollama.nft");
fs.writeFileSync(file, text);
const GUEST_NS = "security-ollama-guest";
const LAN_NS = "security-ollama-lan";
const guest = c.voice!.ollama.guest.address;
const member = c.nodes[0]!.guest.address;
const stranger = "10.0.181.99";
const port = c.voice!.ollama.port;
let listener: ChildProcess | undefined;

const sh = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: "utf8", timeout: 20000 });
function must(args: string[]) {
  const r = sh(args);
  if (r.status !== 0) throw new Error(`${args.join(" ")}: ${r.stderr}`);
}
function cleanup() {
  listener?.kill("SIGKILL");
  sh(["ip", "netns", "del", GUEST_NS]);
  sh(["ip", "netns", "del", LAN_NS]);
}

describe("the Ollama ruleset", () => {
  it("is valid nftables input (nft -c -f, the real parser and kernel check)", () => {
    const r = sh(["nft", "-c", "-f", file]);
    assert.equal(r.status, 0, r.stderr || "nft missing: Debian package nftables (scripts/install-debian-tools.sh)");
  });

  it("a broken ruleset is refused by the same check (it can fail)", () => {
    const bad = path.join(dir, "bad.nft");
    fs.writeFileSync(bad, text.replace("ip saddr @ollama_clients", "ip saddr @no_such_set"));
    assert.notEqual(sh(["nft", "-c", "-f", bad]).status, 0);
  });

  it("allows exactly the members, the services VIP and the guest itself", () => {
    assert.deepEqual(fw.allowed.map((a) => a.address).sort(), [...c.nodes.map((n) => n.guest.address), c.network.vip, guest].sort());
    assert.doesNotMatch(text, new RegExp(c.peripherals.bluetoothProxies[0]!.address.replace(/\./g, "\\.")));
  });

  it("has Ollama listen on the guest's own address, never on every address", () => {
    assert.equal(ollamaListen(c), `${guest}:${port}`);
  });

  it("is loaded at boot before Docker", () => {
    assert.match(renderOllamaFirewallUnit(), /^Before=docker\.service$/m);
    assert.match(renderOllamaFirewallUnit(), /^ExecStart=\/usr\/sbin\/nft -f \/etc\/haha\/ollama\.nft$/m);
  });
});

describe("the Ollama ruleset in a network namespace (the voice guest) with a LAN namespace", () => {
  before(async () => {
    cleanup();
    try {
      must(["ip", "netns", "add", GUEST_NS]);
      must(["ip", "netns", "add", LAN_NS]);
      must(["ip", "link", "add", "security-og", "type", "veth", "peer", "name", "security-ol"]);
      must(["ip", "link", "set", "security-og", "netns", GUEST_NS]);
      must(["ip", "link", "set", "security-ol", "netns", LAN_NS]);
      for (const [ns, dev, addrs] of [
        [GUEST_NS, "security-og", [guest]],
        [LAN_NS, "security-ol", [member, stranger]],
      ] as const) {
        for (const a of addrs) must(["ip", "-n", ns, "addr", "add", `${a}/24`, "dev", dev]);
        must(["ip", "-n", ns, "link", "set", dev, "up"]);
        must(["ip", "-n", ns, "link", "set", "lo", "up"]);
      }
      must(["ip", "netns", "exec", GUEST_NS, "nft", "-f", file]);
      listener = spawn("ip", ["netns", "exec", GUEST_NS, "python3", "-m", "http.server", String(port), "--bind", guest, "--directory", dir], { stdio: "ignore" });
      for (let i = 0; i < 50; i++) {
        if (sh(["ip", "netns", "exec", GUEST_NS, "curl", "-s", "-o", "/dev/null", "--max-time", "1", `http://${guest}:${port}/`]).status === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("the stand-in listener did not come up");
    } catch (e) {
      cleanup();
      throw e;
    }
  });
  after(() => {
    cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const curlFrom = (source: string) => sh(["ip", "netns", "exec", LAN_NS, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", "--interface", source, `http://${guest}:${port}/`]);

  it("lets a cluster member through", () => {
    const r = curlFrom(member);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "200");
  });

  it("refuses any other address on the LAN at once (TCP reset)", () => {
    const r = curlFrom(stranger);
    assert.equal(r.status, 7, `curl exit ${r.status}: ${r.stdout} ${r.stderr}`);
  });

  it("leaves the guest's other ports alone (SSH stays reachable)", () => {
    const ssh = spawn("ip", ["netns", "exec", GUEST_NS, "python3", "-m", "http.server", "22", "--bind", guest, "--directory", dir], { stdio: "ignore" });
    try {
      let ok = false;
      for (let i = 0; i < 30 && !ok; i++) {
        ok = sh(["ip", "netns", "exec", LAN_NS, "curl", "-s", "-o", "/dev/null", "--max-time", "1", "--interface", stranger, `http://${guest}:22/`]).status === 0;
        if (!ok) spawnSync("sleep", ["0.1"]);
      }
      assert.ok(ok, "port 22 not reachable from the LAN");
    } finally {
      ssh.kill("SIGKILL");
    }
  });
});
