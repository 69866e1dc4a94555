import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import bcrypt from "bcryptjs";
import { tlsPrivateKey } from "../../labs/common/keys";
import { LabSecrets } from "../../labs/common/secrets";
import { runProgram } from "../../plan/mocks";
import { readStackFile } from "../../stacks/config/load";
import { ROOT } from "../helpers/config";
import { tempDir } from "../helpers/plan";

test("lab secrets: real values of the shapes @pulumi/random yields, kept across runs, file 0600", () => {
  const file = path.join(tempDir(), "lab", "secrets.json");
  const s = new LabSecrets(file, { sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAtestkeymaterialthatislong\n-----END OPENSSH PRIVATE KEY-----\n" });
  const pw = s.generate("random:index/randomPassword:RandomPassword", "mqtt", { length: 32, special: false })!;
  assert.match(pw.result!, /^[A-Za-z0-9]{32}$/);
  assert.ok(bcrypt.compareSync(pw.result!, pw.bcryptHash!));
  const bytes = s.generate("random:index/randomBytes:RandomBytes", "authkey", { length: 256 })!;
  assert.equal(Buffer.from(bytes.base64!, "base64").length, 256);
  const id = s.generate("random:index/randomId:RandomId", "pan", { byteLength: 8 })!;
  assert.equal(id.hex!.length, 16);
  assert.equal(BigInt(id.dec!).toString(16).padStart(16, "0"), id.hex);
  assert.equal(s.generate("docker:index/tag:Tag", "x", {}), undefined);
  assert.equal((fs.statSync(file).mode & 0o777).toString(8), "600");
  // A second lab run (a re-plan) sees the same values.
  const again = new LabSecrets(file, {});
  assert.deepEqual(again.generate("random:index/randomPassword:RandomPassword", "mqtt", { length: 32, special: false }), pw);
  assert.equal(again.config("sshPrivateKey"), s.config("sshPrivateKey"));
  // Nothing of a secret survives redaction, not even one line of a key.
  const text = `password=${pw.result} key line: AAAAtestkeymaterialthatislong authkey ${bytes.base64}`;
  const red = again.redact(text);
  for (const v of [pw.result!, bytes.base64!, "AAAAtestkeymaterialthatislong"]) assert.ok(!red.includes(v), "a secret value survived redaction");
  assert.match(red, /^password=<secret> key line: <secret> authkey <secret>$/);
});

test("lab secrets: the program planned with them carries real values where the plan has placeholders", async () => {
  const s = new LabSecrets(
    path.join(tempDir(), "secrets.json"),
    { sshPrivateKey: "lab-private-key-material-0123456789", proxmoxApiToken: "lab-token-0123456789" },
    // The guests' pinned SSH host keys: real keys, as the labs make them.
    { "tls:index/privateKey:PrivateKey": (inputs) => tlsPrivateKey(inputs, "test") },
  );
  const run = await runProgram("prod", readStackFile(path.join(ROOT, "Pulumi.prod.yaml")), false, s);
  const text = JSON.stringify(run.resources);
  assert.ok(!text.includes("<secret:"), "a placeholder is left where the lab gave a real value");
  const authkey = run.resources.find((r) => r.type === "command:remote:Command" && r.name.endsWith("-authkey-write"));
  assert.ok(authkey, "no authkey write command recorded");
  assert.equal(Buffer.from(String(authkey.inputs.stdin), "base64").length, 256);
  assert.ok(authkey.secretInputs.includes("stdin"));
});
