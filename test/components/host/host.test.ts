// The host layer under mocks: a HostFile keeps its content in the write command's inputs (so a
// preview diffs the real file), marks it secret when asked, and re-applies only on change.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { HostFile } from "../../../components/host/file";
import { GuestPackages } from "../../../components/host/packages";
import { HostStep } from "../../../components/host/step";
import { recordUnderMocks } from "../../../plan/mocks";
import { TEST_HOST_KEY } from "../../helpers/config";
import type { RecordedResource } from "../../../plan/types";

const connection = { host: "ha01", address: "10.0.181.21", user: "root", port: 22, privateKey: pulumi.secret("<secret:sshPrivateKey>"), hostKey: TEST_HOST_KEY };
let resources: RecordedResource[] = [];
const named = (n: string) => resources.find((r) => r.name === n)!;

before(async () => {
  ({ resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const step = new HostStep("prep", { connection, create: "true" });
    new HostFile("motd", { connection, path: "/etc/motd", content: "hello\n", onChange: "true" }, { dependsOn: [step] });
    new HostFile("key", { connection, path: "/etc/haha/key", content: pulumi.secret("<secret:key>"), mode: "0600", secret: true, onChange: "systemctl reload x" });
    new GuestPackages("ha01-packages", { connection, packages: { corosync: "membership" } });
    return {};
  }));
});

describe("HostFile", () => {
  it("ships the rendered text as the write command's stdin and writes it atomically", () => {
    const w = named("motd-write");
    assert.equal(w.type, "command:remote:Command");
    assert.equal(w.inputs.stdin, "hello\n");
    assert.match(w.inputs.create as string, /mktemp '\/etc'\/\.haha\.XXXXXX\)[\s\S]*mv -f "\$tmp" '\/etc\/motd'/);
    assert.equal(w.inputs.logging, "stdoutAndStderr");
    assert.deepEqual(w.secretInputs.filter((k) => k !== "connection"), []);
  });

  it("triggers its apply step on the content hash, after the write", () => {
    const a = named("motd-apply");
    assert.deepEqual(a.inputs.triggers, ["5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"]);
    assert.ok(a.dependencies.includes(named("motd-write").urn));
  });

  it("inherits its component's ordering: Pulumi does not pass dependsOn to children", () => {
    const prep = named("prep-run").urn;
    assert.ok(named("motd-write").dependencies.includes(prep));
    assert.ok(named("motd-apply").dependencies.includes(prep));
  });

  it("marks secret content secret and logs nothing for it", () => {
    const w = named("key-write");
    assert.ok(w.secretInputs.includes("stdin"));
    assert.equal(w.inputs.logging, "none");
    assert.match(w.inputs.create as string, /chmod 0600/);
    const a = named("key-apply");
    assert.ok(a.secretInputs.includes("triggers"), "the hash of a secret is secret too");
    assert.equal(a.inputs.logging, "none");
    assert.ok(named("key").secretInputs.includes("content"));
  });

  it("always sends the SSH key as a secret", () => {
    for (const r of resources.filter((x) => x.type === "command:remote:Command")) assert.ok(r.secretInputs.includes("connection"), r.name);
  });

  it("refuses a relative path or a bad mode before declaring anything", () => {
    assert.throws(() => new HostFile("bad", { connection, path: "etc/x", content: "" }), /not absolute/);
    assert.throws(() => new HostFile("bad2", { connection, path: "/etc/x", content: "", mode: "644" }), /octal mode/);
  });
});

describe("GuestPackages", () => {
  it("installs the list idempotently and re-runs only when the list changes", () => {
    const run = named("ha01-packages-install-run");
    assert.match(run.inputs.create as string, /apt-get install -y -q --no-install-recommends 'corosync'/);
    assert.deepEqual(run.inputs.triggers, ["corosync"]);
  });
});
