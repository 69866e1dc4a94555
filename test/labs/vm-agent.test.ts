// The rehearsal lab's guest-agent check (issue 10 item 2) against a stand-in agent on a unix
// socket that speaks the QGA wire protocol (newline-delimited JSON, guest-sync first).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { agentCheck } from "../../labs/vm/checks";
import { Lab, type Guest } from "../../labs/vm/lab";

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-qga-"))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in agent: answers guest-sync with its id (after a stale line, as a real port can hold) and the interfaces given. */
function agent(qmp: string, interfaces: unknown): net.Server {
  const server = net.createServer((s) => {
    let buf = "";
    s.write('{"return": 7}\n');
    s.on("data", (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, i)) as { execute: string; arguments?: { id: number } };
        buf = buf.slice(i + 1);
        if (msg.execute === "guest-sync") s.write(JSON.stringify({ return: msg.arguments!.id }) + "\n");
        else if (msg.execute === "guest-network-get-interfaces") s.write(JSON.stringify({ return: interfaces }) + "\n");
        else s.write(JSON.stringify({ error: { class: "CommandNotFound", desc: msg.execute } }) + "\n");
      }
    });
  });
  server.listen(`${qmp}-qga`);
  return server;
}

const guest = (name: string): Guest => ({ shape: { name } as Guest["shape"], address: "10.181.0.21", files: { qmp: path.join(dir, `${name}.qmp`) } as Guest["files"], dir });
const lab = { qga: (g: Guest, cmd: string, ms?: number) => Lab.prototype.qga.call(undefined, g, cmd, ms) };

describe("VM lab: the guest agent check", () => {
  it("passes when the agent reports the guest's address", async () => {
    const g = guest("a");
    const s = agent(g.files.qmp, [{ name: "lo", "ip-addresses": [{ "ip-address": "127.0.0.1", prefix: 8 }] }, { name: "ens18", "ip-addresses": [{ "ip-address": "10.181.0.21", prefix: 24 }] }]);
    try {
      const r = await agentCheck(lab, g);
      assert.equal(r.ok, true, r.evidence);
      assert.match(r.evidence, /ens18 10\.181\.0\.21\/24/);
    } finally {
      s.close();
    }
  });

  it("fails when no interface has the guest's address", async () => {
    const g = guest("b");
    const s = agent(g.files.qmp, [{ name: "ens18", "ip-addresses": [{ "ip-address": "10.181.0.99", prefix: 24 }] }]);
    try {
      const r = await agentCheck(lab, g);
      assert.equal(r.ok, false);
      assert.match(r.evidence, /no interface has 10\.181\.0\.21/);
    } finally {
      s.close();
    }
  });

  it("fails, naming the agent, when nothing answers on the port (agent not installed)", async () => {
    const g = guest("c");
    // qemu's chardev socket accepts the connection whether or not an agent is behind it.
    const s = net.createServer(() => undefined).listen(`${g.files.qmp}-qga`);
    try {
      const r = await agentCheck({ qga: (x: Guest, cmd: string) => Lab.prototype.qga.call(undefined, x, cmd, 500) }, g);
      assert.equal(r.ok, false);
      assert.match(r.evidence, /qemu-guest-agent of c: no answer to guest-network-get-interfaces/);
    } finally {
      s.close();
    }
  });
});
