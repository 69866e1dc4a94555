// Key material for a lab, made by the real tools: what @pulumi/tls's PrivateKey yields for
// ED25519 (OpenSSH and PKCS#8 private halves, the public half and its fingerprint), from
// ssh-keygen, in a temporary folder of the lab's own that is removed at once.
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export function tlsPrivateKey(inputs: Record<string, unknown>, prefix: string): Record<string, string> {
  if (inputs.algorithm !== "ED25519") throw new Error(`lab keys: tls PrivateKey algorithm ${JSON.stringify(inputs.algorithm)}: the lab makes ED25519 keys only`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-key-`));
  try {
    const f = path.join(dir, "k");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", f], { stdio: "pipe" });
    const privateKeyOpenssh = fs.readFileSync(f, "utf8");
    const publicKeyOpenssh = `${fs.readFileSync(`${f}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ")}\n`;
    const fpSha256 = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${f}.pub`], { stdio: "pipe" }).toString().split(" ")[1] ?? "";
    const fpMd5 = execFileSync("ssh-keygen", ["-l", "-E", "md5", "-f", `${f}.pub`], { stdio: "pipe" }).toString().split(" ")[1] ?? "";
    // ssh-keygen rewrites the same key as PKCS#8 PEM.
    execFileSync("ssh-keygen", ["-q", "-p", "-N", "", "-m", "PKCS8", "-f", f], { stdio: "pipe" });
    const privateKeyPemPkcs8 = fs.readFileSync(f, "utf8");
    const publicKeyPem = crypto.createPublicKey(privateKeyPemPkcs8).export({ type: "spki", format: "pem" }).toString();
    return { privateKeyOpenssh, privateKeyPem: privateKeyPemPkcs8, privateKeyPemPkcs8, publicKeyOpenssh, publicKeyPem, publicKeyFingerprintSha256: fpSha256.replace(/^SHA256:/, ""), publicKeyFingerprintMd5: fpMd5.replace(/^MD5:/, "") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
