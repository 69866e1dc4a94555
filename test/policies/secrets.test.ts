// no-secret-in-plain-input: a `<secret:NAME>` placeholder outside the inputs marked secret is a
// leak; resources recorded for real under mocks show both a leak and the right way.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { OfflineResource } from "../../policies/evaluate";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";
import { recordRaw } from "./raw";

const RULE = "no-secret-in-plain-input";
const prod = stackOf(prodConfig());

describe(`${RULE} on the prod stack`, () => {
  it("passes: placeholders only sit in inputs marked secret", () => {
    // The fixture holds placeholders in secret inputs (provider token, file content, stdin, connection).
    assert.ok(prod.some((r) => JSON.stringify(r.props).includes("<secret:")));
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a secret in an input that is not marked secret, naming the input and the secret", () => {
    const leaked = mutated(prod, "haha:host:Step", "storage-drbd-adjust", (p) => (p.create = "curl -u admin:<secret:bmcPassword> https://10.0.181.61/"));
    const r = rule(evaluate(leaked), RULE);
    assert.equal(r.status, "fail");
    assert.equal(r.violations.length, 1);
    const v = r.violations[0]!;
    assert.equal(v.resource?.name, "storage-drbd-adjust");
    assert.match(v.message, /secret bmcPassword appears in input create, which is not marked secret/);
    assert.match(v.fix ?? "", /pulumi\.secret\(\)/);
  });

  it("finds placeholders nested deep in a plain input", () => {
    const leaked = mutated(prod, "haha:proxmox:Host", "nllei01pve02", (p) => (p.extra = { env: [{ name: "TOKEN", value: "x<secret:proxmoxApiToken>y" }] }));
    assert.match(messages(evaluate(leaked), RULE), /input extra\.env\[0\]\.value/);
  });

  it("refuses when an input that carried a secret loses its secret mark", () => {
    const unmarked = structuredClone(prod);
    const file = unmarked.find((r) => r.type === "haha:host:File")!;
    file.secretInputs = [];
    assert.match(messages(evaluate(unmarked), RULE), /haha:host:File .*secret mosquitto-homeassistant\.bcrypt appears in input content/);
  });

  it("is not applicable when secret marks are unknown (a real preview), rather than guessing", () => {
    const noMarks = prod.map((r) => ({ ...r, secretInputs: undefined }));
    const r = rule(evaluate(noMarks), RULE);
    assert.equal(r.status, "not-applicable");
    assert.match(r.notApplicable[0]!, /secrets unwrapped and unmarked/);
  });
});

describe(`${RULE} on resources declared under Pulumi mocks`, () => {
  let raw: OfflineResource[];
  before(async () => {
    raw = await recordRaw(() => {
      const password = pulumi.secret("<secret:bmcPassword>");
      const connection = { host: "10.0.181.21", user: "root", privateKey: pulumi.secret("<secret:sshPrivateKey>") };
      // Unwrapping the secret into a script: the classic leak.
      new command.remote.Command("leaky", { connection, create: pulumi.interpolate`ipmitool -P ${pulumi.unsecret(password)} power status` });
      // Interpolating the secret keeps the script secret.
      new command.remote.Command("careful", { connection, create: pulumi.interpolate`ipmitool -P ${password} power status`, logging: "none" });
    });
  });

  it("records which inputs were secret, as the plan does", () => {
    const careful = raw.find((r) => r.name === "careful")!;
    assert.deepEqual(careful.secretInputs, ["connection", "create"]);
  });

  it("refuses the command whose script holds the unwrapped secret, and only that one", () => {
    const r = rule(evaluate(raw), RULE);
    assert.equal(r.status, "fail");
    assert.deepEqual(r.violations.map((v) => v.resource?.name), ["leaky"]);
    assert.match(r.violations[0]!.message, /secret bmcPassword appears in input create/);
  });
});
