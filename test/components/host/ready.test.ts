// The readiness step as a guest runs it (sh): cloud-init's real status on this machine and
// stand-ins for a finished or failed one, a module tree of the running kernel, and the real `ip`
// in a network namespace of its own with the NIC named right and wrong.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderReadiness } from "../../../components/host/ready";

const NS = `guest-init-ready-${process.pid}`;
let dir = "";
let bin = "";
const kver = os.release();

/** A `cloud-init` stand-in that reports `status` with exit code `rc` (or never finishes). */
function standIn(status: string, rc: number, hang = false): string {
  const d = fs.mkdtempSync(path.join(dir, "bin-"));
  fs.writeFileSync(path.join(d, "cloud-init"), hang ? "#!/bin/sh\nsleep 30\n" : `#!/bin/sh\n[ "$2" = --long ] && { echo "status: ${status}"; echo "detail: stand-in"; exit ${rc}; }\necho ...; echo "status: ${status}"; exit ${rc}\n`, { mode: 0o755 });
  return d;
}

function run(script: string, pathDir?: string, netns?: string): { status: number | null; out: string } {
  const env = { ...process.env, PATH: pathDir ? `${pathDir}:${process.env.PATH}` : process.env.PATH };
  const r = netns ? spawnSync("ip", ["netns", "exec", netns, "bash", "-c", script], { env, encoding: "utf8" }) : spawnSync("bash", ["-c", script], { env, encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function moduleTree(modules: string[], builtin: string[] = []): string {
  const root = fs.mkdtempSync(path.join(dir, "modules-"));
  for (const m of modules) {
    const d = path.join(root, kver, "kernel", "misc");
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `${m}.ko.xz`), "");
  }
  fs.mkdirSync(path.join(root, kver), { recursive: true });
  fs.writeFileSync(path.join(root, kver, "modules.builtin"), builtin.map((m) => `kernel/misc/${m}.ko\n`).join(""));
  return root;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-init-ready-"));
  bin = standIn("done", 0);
  execFileSync("ip", ["netns", "add", NS]);
  // veth: this kernel has no dummy driver; both ends stay inside the namespace.
  execFileSync("ip", ["-n", NS, "link", "add", "ens18", "type", "veth", "peer", "name", "guest-init-p0"]);
  execFileSync("ip", ["-n", NS, "addr", "add", "10.0.181.21/24", "dev", "ens18"]);
  execFileSync("ip", ["-n", NS, "link", "set", "ens18", "up"]);
});
after(() => {
  spawnSync("ip", ["netns", "del", NS]);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("readiness: cloud-init", () => {
  it("goes on once cloud-init reports done", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules: [] }), bin);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /cloud-init: done/);
  });

  it("fails loudly when cloud-init reports an error, showing its long status", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules: [] }), standIn("error", 1));
    assert.equal(r.status, 1);
    assert.match(r.out, /cloud-init did not complete cleanly: status error \(exit 1\)/);
    assert.match(r.out, /detail: stand-in/);
  });

  it("fails when cloud-init never finishes, within its bound", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 1, modules: [] }), standIn("running", 0, true));
    assert.equal(r.status, 1);
    assert.match(r.out, /cloud-init did not finish within 1 s/);
  });

  it("fails on this machine's real cloud-init, which never ran here", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 2, modules: [] }));
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /cloud-init did not finish within 2 s|did not complete cleanly: status (not|disabled)/);
  });
});

describe("readiness: the running kernel's modules", () => {
  const modules = ["ocfs2", "ocfs2_stack_user", "dlm", "i6300esb"];
  it("passes when the running kernel has every module (as a file or built in)", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules, modulesDir: moduleTree(["ocfs2", "ocfs2_stack_user", "dlm"], ["i6300esb"]) }), bin);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /ocfs2, ocfs2_stack_user, dlm, i6300esb present/);
  });

  it("fails naming each missing module and the image to boot (the cloud kernel has none of them)", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules, modulesDir: moduleTree(["ocfs2_stack_user"]) }), bin);
    assert.equal(r.status, 1);
    assert.match(r.out, new RegExp(`kernel ${kver.replace(/[.+]/g, "\\$&")} has no module for: ocfs2 dlm i6300esb`));
    assert.match(r.out, /debian-12-generic-amd64/);
  });

  it("fails on this machine's own kernel, which has no loadable modules at all", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules }), bin);
    if (fs.existsSync(`/lib/modules/${kver}/kernel/fs/ocfs2`)) return assert.equal(r.status, 0, r.out);
    assert.equal(r.status, 1);
    assert.match(r.out, /has no module for: ocfs2 ocfs2_stack_user dlm i6300esb/);
  });
});

describe("readiness: the NIC name", () => {
  const nic = (name: string) => renderReadiness({ cloudInitWaitS: 5, modules: [], nic: { name, address: "10.0.181.21" } });
  it("passes when the member's address is on the configured NIC", () => {
    const r = run(nic("ens18"), bin, NS);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /NIC ens18 carries 10\.0\.181\.21/);
  });

  it("fails when the address sits on another NIC, naming both", () => {
    const r = run(nic("eth0"), bin, NS);
    assert.equal(r.status, 1);
    assert.match(r.out, /the member's address 10\.0\.181\.21 is on ens18, not on eth0 \(haha:network\.guestNic\)/);
  });

  it("fails when no NIC carries the address", () => {
    const r = run(renderReadiness({ cloudInitWaitS: 5, modules: [], nic: { name: "ens18", address: "10.0.181.99" } }), bin, NS);
    assert.equal(r.status, 1);
    assert.match(r.out, /no interface carries the member's address 10\.0\.181\.99/);
  });
});
