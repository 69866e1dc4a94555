// fence_pve as the fencer runs it: the real agent (fence-agents' fencing.py) with the rendered
// parameters on stdin and PCMK_service=pacemaker-fenced, against a loopback port that accepts and
// never answers (a hung Proxmox API). Under Pacemaker fencing.py forces --disable-timeout, which
// zeroes every timeout, unless the device says disable_timeout=false.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { fencingResources } from "../../../components/pacemaker/cib/fencing";
import { clusterMembers } from "../../../stacks/config/members";
import { prodConfig } from "../../helpers/config";

const c = prodConfig();
const device = fencingResources(c, clusterMembers(c)).primitives.find((p) => p.type === "fence_pve")!;
let server: net.Server;
let port = 0;
// Connections are accepted by the kernel and never answered: the TLS handshake waits forever.
before(async () => {
  server = net.createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

function fence(params: Record<string, string>, timeoutMs: number) {
  // What the fencer passes: the device's parameters (the fencer's own pcmk_* stay with it).
  const args = { ...Object.fromEntries(Object.entries(params).filter(([k]) => !k.startsWith("pcmk_"))), ip: "127.0.0.1", ipport: String(port), password: "x", action: "status" };
  delete (args as Record<string, string>).password_script;
  const stdin = Object.entries(args).map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
  return spawnSync("/usr/sbin/fence_pve", [], { input: stdin, encoding: "utf8", timeout: timeoutMs, env: { ...process.env, PCMK_service: "pacemaker-fenced" } });
}

describe("fence_pve under the fencer", () => {
  it("sets disable_timeout=false, monitors one VM's status (plug = its VMID) instead of listing every node", () => {
    assert.equal(device.params.disable_timeout, "false");
    assert.equal(device.params.pcmk_monitor_action, "status");
    assert.equal(device.params.plug, String(clusterMembers(c)[0]!.vmid));
  });

  it("gives the monitor two API requests and the agent's start: 20 s at 3 s per request, more for a slower API", () => {
    assert.equal(device.ops.find((o) => o.name === "monitor")!.timeoutS, 20);
    const slow = prodConfig();
    slow.cluster.fencing.pve.requestTimeoutS = 10;
    const d = fencingResources(slow, clusterMembers(slow)).primitives.find((p) => p.type === "fence_pve")!;
    assert.equal(d.ops.find((o) => o.name === "monitor")!.timeoutS, 34);
    assert.equal(d.params.shell_timeout, "10");
  });

  it("declares its start (a status call, as the monitor) and stop, never left to op_defaults: a failed stop fences the member", () => {
    for (const p of fencingResources(c, clusterMembers(c)).primitives.filter((x) => x.type !== "fence_watchdog")) {
      const op = (n: string) => p.ops.find((o) => o.name === n && o.intervalS === 0);
      assert.equal(op("start")?.timeoutS, p.ops.find((o) => o.name === "monitor")!.timeoutS, p.id);
      assert.equal(op("stop")?.timeoutS, 20, p.id);
    }
  });

  it("gives up on a hung API after its own timeouts, as rendered", () => {
    const r = fence(device.params, 60_000);
    assert.equal(r.signal, null, "fence_pve hung although its timeouts are set");
    assert.notEqual(r.status, 0, r.stdout + r.stderr);
  });

  it("without disable_timeout=false hangs on the same API (what the parameter prevents)", () => {
    const { disable_timeout: _d, ...without } = device.params;
    const r = fence(without, 8_000);
    assert.equal(r.signal, "SIGTERM", `fence_pve returned (${r.status}) although fencing.py disables its timeouts under Pacemaker`);
  });
});
