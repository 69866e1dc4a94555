// haha:proxmox and haha:nodes[].network as the host-side fixes define them: the cluster CA
// (checked as a real X.509 CA), refused when TLS cannot be verified without it; the network
// mode (adopt by default); protect; the provider's own SSH secret.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fixedId } from "../../../components/proxmox/lifecycle";
import { SECRET_KEYS } from "../../../stacks/config/schema";
import { ConfigError, parseConfig } from "../../../stacks/config/validate";
import { prodConfig, prodRaw, ROOT } from "../../helpers/config";
import { tempDir } from "../../helpers/plan";

function problems(mutate: (raw: Record<string, any>) => void): string[] {
  const raw = prodRaw();
  mutate(raw);
  try {
    parseConfig(raw, "test");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.expected}`);
    throw e;
  }
  return [];
}

/** A certificate made by the real openssl: a CA, or a leaf (CA:FALSE). */
function opensslCert(ca: boolean): string {
  const dir = tempDir("host-fixes-cert-");
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "2", "-subj", `/CN=${ca ? "test CA" : "leaf"}`, "-addext", `basicConstraints=critical,CA:${ca ? "TRUE" : "FALSE"}`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return fs.readFileSync(path.join(dir, "cert.pem"), "utf8");
}

describe("haha:proxmox.caCert", () => {
  it("accepts the prod CA, a real X.509 CA certificate", () => {
    assert.match(prodConfig().proxmox.caCert ?? "", /^-----BEGIN CERTIFICATE-----/);
    assert.deepEqual(problems((raw) => (raw.proxmox.caCert = opensslCert(true))), []);
  });

  it("refuses a leaf certificate (pve-ssl.pem instead of pve-root-ca.pem), naming the key", () => {
    const p = problems((raw) => (raw.proxmox.caCert = opensslCert(false)));
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^haha:proxmox\.caCert: expected a CA certificate \(basicConstraints CA:TRUE\); CN=leaf is a leaf: give \/etc\/pve\/pve-root-ca\.pem/);
  });

  it("refuses text that is not one PEM certificate, and a broken one", () => {
    assert.match(problems((raw) => (raw.proxmox.caCert = "not a certificate"))[0]!, /^haha:proxmox\.caCert: expected one PEM certificate/);
    const broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert.match(problems((raw) => (raw.proxmox.caCert = broken))[0]!, /^haha:proxmox\.caCert: expected a readable X\.509 certificate/);
  });

  it("is required with insecure: false and an IP endpoint, and says why", () => {
    const p = problems((raw) => delete raw.proxmox.caCert);
    assert.deepEqual(p, [
      "haha:proxmox.caCert: expected the cluster CA (the PEM text of /etc/pve/pve-root-ca.pem), because haha:proxmox.endpoint is the IP address 10.0.181.11 and insecure is false: the provider and fence_pve cannot verify Proxmox's self-signed certificate without it",
    ]);
  });

  it("is not required with a DNS name (an ACME certificate) or with insecure: true", () => {
    assert.deepEqual(problems((raw) => { delete raw.proxmox.caCert; raw.proxmox.endpoint = "https://pve.example.net:8006/"; }), []);
    assert.deepEqual(problems((raw) => { delete raw.proxmox.caCert; raw.proxmox.insecure = true; }), []);
  });
});

describe("haha:nodes[].network", () => {
  it("adopts the host's networking unless asked", () => {
    for (const n of prodConfig().nodes) assert.deepEqual(n.network, { mode: "adopt" });
  });

  it("refuses an unknown mode and unknown keys, naming the key path", () => {
    assert.match(problems((raw) => (raw.nodes[1].network = { mode: "create" }))[0]!, /^haha:nodes\[1\]\.network\.mode: /);
    assert.match(problems((raw) => (raw.nodes[0].network = { mode: "manage", force: true }))[0]!, /^haha:nodes\[0\]\.network\.force: unknown key/);
  });
});

describe("haha:proxmox.protect", () => {
  it("protects what holds data by default; false lifts protection but keeps delete-first replacement", () => {
    assert.deepEqual(fixedId(prodConfig(), "VMID 181", "data").opts, { protect: true, deleteBeforeReplace: true });
    const lab = parseConfig({ ...prodRaw(), proxmox: { ...prodRaw().proxmox, protect: false } }, "lab");
    assert.deepEqual(fixedId(lab, "VMID 181", "data").opts, { deleteBeforeReplace: true });
    assert.match(fixedId(lab, "VMID 181", "data").why, /unprotected by haha:proxmox\.protect: false/);
  });
});

describe("haha:proxmoxSshPrivateKey", () => {
  it("is an optional secret, documented in README's secrets table", () => {
    assert.equal(SECRET_KEYS.proxmoxSshPrivateKey.required, false);
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    assert.match(readme, /\| `haha:proxmoxSshPrivateKey` \|/);
  });
});
