// The fourth machine's port scan (issue 14): the ports it knocks on follow the stack, the ones
// that must stay shut are named with their reason, and the scan script, run by bash against a
// real listener on loopback, reports exactly the ports that accept a connection.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as net from "node:net";
import { test } from "node:test";
import { portScanPlan, portScanResult, portScanScript } from "../../labs/vm/lan";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";
import { prodConfig } from "../helpers/config";

test("the scan covers every member and both VIPs, the services' ports, and keeps pcsd and the Docker API shut", () => {
  const c = prodConfig();
  const p = portScanPlan(c);
  assert.deepEqual(p.targets, [...c.nodes.map((n) => n.guest.address), c.network.vip, c.network.storageVip]);
  for (const port of [22, 2049, c.services.mosquitto.port, c.storage.drbd.port]) assert.ok(p.ports[port], `port ${port} scanned`);
  for (const port of [2224, 2375, 2376]) assert.match(p.shut[port] ?? "", /./, `port ${port} must be shut`);
  assert.ok(p.shut[11434], "prod declares voice: Ollama's port must be shut to the LAN");
  const lab = parseConfig(readStackFile("Pulumi.lab-vm.yaml").raw, "Pulumi.lab-vm.yaml");
  assert.equal(portScanPlan(lab).shut[11434], undefined, "no voice in the lab stack: nothing to find on 11434");
});

test("a shut port that answers is a breach; other open ports are evidence only", () => {
  const p = portScanPlan(prodConfig());
  const r = portScanResult(p, "10.0.181.21:22\n10.0.181.21:2224\nnoise\n");
  assert.deepEqual(r.open, ["10.0.181.21:22", "10.0.181.21:2224"]);
  assert.equal(r.breaches.length, 1);
  assert.match(r.breaches[0]!, /^10\.0\.181\.21:2224: pcsd/);
});

test("the scan script reports the port that listens and not the one that does not (bash, loopback)", async () => {
  const srv = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const open = (srv.address() as net.AddressInfo).port;
  const closed = await new Promise<number>((r) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  try {
    const script = portScanScript({ targets: ["127.0.0.1"], ports: { [open]: "a listener", [closed]: "nothing" }, shut: {} });
    // The kernel completes the handshake from the listen backlog: a blocking spawn is fine.
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.deepEqual(r.stdout.trim().split("\n"), [`127.0.0.1:${open}`]);
  } finally {
    srv.close();
  }
});
