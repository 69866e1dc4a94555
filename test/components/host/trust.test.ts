// The Proxmox CA in every cluster guest's trust store, before the CIB (fence_pve, ssl_secure=1).
// The plan shows the order; the shipped write and apply scripts then run for real, with the real
// update-ca-certificates and openssl, in a private mount namespace over copies of the trust store.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { PROXMOX_CA_PATH } from "../../../components/host/trust";
import { prodConfig, PROD_STACK_FILE } from "../../helpers/config";
import { runPlanCli, tempDir } from "../../helpers/plan";

interface R { urn: string; type: string; name: string; parent?: string; inputs: Record<string, any>; dependencies: string[] }
let resources: R[] = [];
let out = "";
const named = (n: string) => resources.find((r) => r.name === n)!;

before(() => {
  const base = tempDir("host-fixes-plan-");
  const run = runPlanCli(["--config", PROD_STACK_FILE, "--out", base]);
  out = path.join(base, "prod");
  assert.equal(run.status, 0, run.stdout + run.stderr);
  resources = (JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8")) as { resources: R[] }).resources;
});

/** Run the guest's write (stdin: the file) and apply scripts in a mount namespace whose trust store is a throwaway copy. */
function runOnCopyOfTrustStore(write: string, content: string, apply: string, pathEnv = process.env.PATH ?? "") {
  const dir = tempDir("host-fixes-trust-");
  fs.writeFileSync(path.join(dir, "write.sh"), write);
  fs.writeFileSync(path.join(dir, "apply.sh"), apply);
  fs.writeFileSync(path.join(dir, "content"), content);
  const ns = [
    "set -eu",
    `d=${dir}`,
    'mkdir -p "$d/certs" "$d/local"',
    'cp -a /etc/ssl/certs/. "$d/certs/"',
    'cp -a /usr/local/share/ca-certificates/. "$d/local/" 2>/dev/null || true',
    'cp -a /etc/ca-certificates.conf "$d/ca-certificates.conf"',
    'mount --bind "$d/certs" /etc/ssl/certs',
    'mount --bind "$d/local" /usr/local/share/ca-certificates',
    'mount --bind "$d/ca-certificates.conf" /etc/ca-certificates.conf',
    'bash "$d/write.sh" < "$d/content"',
    `PATH=${pathEnv} bash "$d/apply.sh"`,
    `openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt ${PROXMOX_CA_PATH}`,
    "ls /etc/ssl/certs/haha-proxmox-ca.pem",
  ].join("\n");
  return spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", ns], { encoding: "utf8" });
}

describe("the Proxmox CA in the guests", () => {
  it("is shipped to every cluster member at the fixed path, 0644, exactly haha:proxmox.caCert", () => {
    const files = resources.filter((r) => r.type === "haha:host:File" && r.inputs.path === PROXMOX_CA_PATH);
    assert.deepEqual(files.map((f) => f.inputs.connection.host).sort(), ["nllei01ha01", "nllei01ha02", "nllei01ha03"]);
    for (const f of files) assert.equal(f.inputs.mode, "0644");
    const mirrored = fs.readFileSync(path.join(out, "hosts/nllei01ha02", PROXMOX_CA_PATH), "utf8");
    assert.equal(mirrored, prodConfig().proxmox.caCert!.trim() + "\n");
  });

  it("is trusted (update-ca-certificates ran) before any CIB step of that member, and after its packages", () => {
    for (const m of ["nllei01ha01", "nllei01ha02", "nllei01ha03"]) {
      const apply = named(`proxmox-ca-${m}-apply`);
      for (const step of ["cib-write", "cib-apply", "fence-pve-password-write", "push-script-write"]) {
        assert.ok(named(`cib-${m}-${step}`).dependencies.includes(apply.urn), `cib-${m}-${step} does not wait for ${apply.name}`);
      }
      assert.ok(named(`proxmox-ca-${m}-write`).dependencies.includes(named(`${m}-packages-install-run`).urn), "the CA is written before apt ran");
    }
  });

  it("lands in the system trust store when the shipped scripts run (real update-ca-certificates, openssl verify)", () => {
    const write = named("proxmox-ca-nllei01ha01-write");
    const apply = named("proxmox-ca-nllei01ha01-apply");
    const r = runOnCopyOfTrustStore(write.inputs.create, write.inputs.stdin, apply.inputs.create);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /[1-9]\d* added/);
    assert.match(r.stdout, /\/etc\/ssl\/certs\/haha-proxmox-ca\.pem/);
    assert.match(r.stdout, new RegExp(`${PROXMOX_CA_PATH}: OK`));
  });

  it("fails its step, loudly, where update-ca-certificates is missing", () => {
    const write = named("proxmox-ca-nllei01ha01-write");
    const apply = named("proxmox-ca-nllei01ha01-apply");
    const r = runOnCopyOfTrustStore(write.inputs.create, write.inputs.stdin, apply.inputs.create, "/usr/bin:/bin");
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /update-ca-certificates is missing: install ca-certificates/);
  });
});
