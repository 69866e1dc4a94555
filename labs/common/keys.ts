// Key material for a lab, made by the real tools: what @pulumi/tls's PrivateKey yields for
// ED25519 (the OpenSSH private and public halves and the fingerprints), from
// ssh-keygen, in a temporary folder of the lab's own that is removed at once.
import { execFileSync } from "node:child_process";
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
    // No PEM halves: OpenSSH cannot write an ed25519 key as PKCS#8, and the program reads only
    // the OpenSSH ones (a program reading privateKeyPem would get undefined and fail loudly).
    return { privateKeyOpenssh, publicKeyOpenssh, publicKeyFingerprintSha256: fpSha256.replace(/^SHA256:/, ""), publicKeyFingerprintMd5: fpMd5.replace(/^MD5:/, "") };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
