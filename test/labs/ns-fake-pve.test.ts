// The fake Proxmox API against the real fence_pve (fence-agents), with TLS verified against the
// per-run throwaway CA (trusted only inside a private mount namespace, as the lab members do).
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { FakePveApi, makeThrowawayCa, type PowerBackend } from "../../labs/common/fake-pve";

const run = promisify(execFile);

describe("fake Proxmox API with the real fence_pve", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lab-ns-test-"));
  const power = new Map<number, "running" | "stopped">([[181, "running"], [182, "running"]]);
  const actions: string[] = [];
  const backend: PowerBackend = {
    status: async (vmid) => power.get(vmid) ?? "stopped",
    on: async (vmid) => void (actions.push(`on ${vmid}`), power.set(vmid, "running")),
    off: async (vmid) => void (actions.push(`off ${vmid}`), power.set(vmid, "stopped")),
  };
  let api: FakePveApi;
  let port = 0;
  let bundle = "";

  before(async () => {
    const ca = await makeThrowawayCa(path.join(dir, "ca"), ["127.0.0.1"]);
    // The system bundle plus the lab CA, as update-ca-certificates would make it.
    bundle = path.join(dir, "ca-certificates.crt");
    fs.writeFileSync(bundle, fs.readFileSync("/etc/ssl/certs/ca-certificates.crt", "utf8") + ca.caCertPem);
    api = new FakePveApi({ user: "haha-fence@pve", password: "s3cret-Pa55(word)", nodes: [{ node: "pve01", vms: [{ vmid: 181, name: "ha01" }] }, { node: "pve02", vms: [{ vmid: 182, name: "ha02" }] }], backend, tls: ca });
    port = 20000 + Math.floor(Math.random() * 20000);
    await api.listen([{ host: "127.0.0.1", port }]);
  });
  after(async () => {
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const fence = async (action: string, plug: number, password: string, extra: string[] = [], trust = true): Promise<{ code: number; out: string }> => {
    const args = ["--ip=127.0.0.1", `--ipport=${port}`, "--username=haha-fence@pve", `--password=${password}`, `--plug=${plug}`, "--ssl-secure", "--shell-timeout=3", "--power-timeout=5", "--power-wait=0", `--action=${action}`, ...extra];
    const script = `${trust ? `mount --bind '${bundle}' /etc/ssl/certs/ca-certificates.crt && ` : ""}exec /usr/sbin/fence_pve "$@"`;
    try {
      const { stdout, stderr } = await run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", ...args], { timeout: 30000 });
      return { code: 0, out: stdout + stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? -1, out: (err.stdout ?? "") + (err.stderr ?? "") };
    }
  };

  it("answers status with the right password, finding the VM's node by itself", async () => {
    const r = await fence("status", 181, "s3cret-Pa55(word)", ["--pve-node-auto"]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Status: ON/);
  });

  it("refuses a wrong password (fence_pve fails to log in)", async () => {
    const seen = api.calls.length;
    const r = await fence("status", 181, "wrong", ["--pve-node=pve01"]);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /login/i);
    assert.ok(!api.calls.slice(seen).some((c) => c.path.includes("/status/")), "no status call without a ticket");
    assert.deepEqual(actions, []);
  });

  it("refuses a certificate the client does not trust (ssl_secure=1 verifies)", async () => {
    const before = api.calls.length;
    const r = await fence("status", 181, "s3cret-Pa55(word)", ["--pve-node=pve01"], false);
    assert.notEqual(r.code, 0, r.out);
    assert.equal(api.calls.length, before, "no request got through an untrusted TLS handshake");
  });

  it("powers off then on through the backend (method onoff, pve_node given)", async () => {
    const r = await fence("reboot", 182, "s3cret-Pa55(word)", ["--pve-node=pve02", "--method=onoff"]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(actions, ["off 182", "on 182"]);
    assert.equal(power.get(182), "running");
    const posts = api.calls.filter((c) => c.method === "POST" && c.path.includes("/status/"));
    assert.deepEqual(posts.map((c) => c.path), ["/api2/json/nodes/pve02/qemu/182/status/stop", "/api2/json/nodes/pve02/qemu/182/status/start"]);
  });

  it("needs the ticket and, for writes, the CSRF token", async () => {
    assert.equal((await api.route({ method: "GET", url: "/api2/json/nodes", headers: {} }, "")).status, 401);
    const t = await api.route({ method: "POST", url: "/api2/json/access/ticket", headers: {} }, new URLSearchParams({ username: "haha-fence@pve", password: "s3cret-Pa55(word)" }).toString());
    const { ticket, CSRFPreventionToken } = t.data as { ticket: string; CSRFPreventionToken: string };
    const cookie = `PVEAuthCookie=${ticket}`;
    assert.equal((await api.route({ method: "POST", url: "/api2/json/nodes/pve01/qemu/181/status/stop", headers: { cookie } }, "")).status, 401);
    assert.equal(power.get(181), "running");
    const ok = await api.route({ method: "POST", url: "/api2/json/nodes/pve01/qemu/181/status/stop", headers: { cookie, csrfpreventiontoken: CSRFPreventionToken } }, "");
    assert.equal(ok.status, 200);
    assert.equal(power.get(181), "stopped");
    // A VM asked for on the wrong node is not found there.
    assert.equal((await api.route({ method: "GET", url: "/api2/json/nodes/pve02/qemu/181/status/current", headers: { cookie } }, "")).status, 500);
    api.hostsDown.add("pve01");
    assert.equal((await api.route({ method: "GET", url: "/api2/json/nodes/pve01/qemu/181/status/current", headers: { cookie } }, "")).status, 595);
    api.hostsDown.delete("pve01");
  });
});
