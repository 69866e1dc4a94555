// The whole program under mocks, as the plan runs it: each guest's readiness check runs before
// its packages, and every SSH connection (remote commands, the docker providers) pins the host
// key that guest's cloud-init snippet installs.
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { parse } from "yaml";
import { runProgram } from "../../plan/mocks";
import type { RecordedResource } from "../../plan/types";
import { readStackFile } from "../../stacks/config/load";
import { ROOT } from "../helpers/config";

let resources: RecordedResource[] = [];
const named = (n: string) => resources.find((r) => r.name === n)!;

before(async () => {
  ({ resources } = await runProgram("prod", readStackFile(path.join(ROOT, "Pulumi.prod.yaml")), false));
});

describe("guest readiness in the prod program", () => {
  it("checks cloud-init, the kernel modules and the NIC name on every member before its packages", () => {
    for (const m of ["nllei01ha01", "nllei01ha02", "nllei01ha03"]) {
      const check = named(`${m}-ready-check-run`);
      assert.match(check.inputs.create as string, /cloud-init status --wait/);
      assert.match(check.inputs.create as string, /'ocfs2' 'ocfs2_stack_user' 'dlm' 'i6300esb'/);
      assert.match(check.inputs.create as string, /is on \$dev, not on ens18/);
      assert.ok(named(`${m}-packages-install-run`).dependencies.includes(check.urn), `${m}: packages do not wait for the readiness check`);
      assert.ok(check.dependencies.some((d) => d.endsWith(`::${m}-vm`)), `${m}: the readiness check does not wait for the VM`);
    }
  });

  it("waits for cloud-init on the voice guest before its apt runs", () => {
    const check = named("voice-ready-check-run");
    assert.match(check.inputs.create as string, /cloud-init status --wait/);
    assert.ok(named("voice-packages-run").dependencies.includes(check.urn));
  });
});

describe("host keys in the prod program", () => {
  const hostKeyOf = (guest: string) => {
    const snippet = resources.find((r) => r.type === "proxmoxve:index/fileLegacy:FileLegacy" && (r.inputs.sourceRaw as { fileName: string }).fileName.endsWith(`-${guest}-user.yaml`))!;
    return parse((snippet.inputs.sourceRaw as { data: string }).data).ssh_keys.ed25519_public as string;
  };

  it("pins, on every remote command, the key its guest's user data installs", () => {
    const commands = resources.filter((r) => r.type === "command:remote:Command");
    assert.ok(commands.length > 50);
    const byAddress = new Map([
      ["10.0.181.21", hostKeyOf("nllei01ha01")],
      ["10.0.181.22", hostKeyOf("nllei01ha02")],
      ["10.0.181.23", hostKeyOf("nllei01ha03")],
      ["10.0.181.31", hostKeyOf("nllei01llm01")],
    ]);
    assert.equal(new Set(byAddress.values()).size, 4, "every guest has its own host key");
    for (const c of commands) {
      const conn = c.inputs.connection as { host: string; hostKey?: string };
      assert.match(conn.hostKey ?? "", /^ssh-ed25519 /, `${c.name} pins no host key`);
      assert.equal(conn.hostKey, byAddress.get(conn.host), `${c.name} pins another guest's key`);
    }
  });

  it("keeps every host's private key secret", () => {
    const keys = resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey");
    assert.equal(keys.length, 4);
    for (const k of keys) assert.deepEqual(k.inputs, { algorithm: "ED25519" });
    for (const s of resources.filter((r) => r.type === "proxmoxve:index/fileLegacy:FileLegacy" && /-user\.yaml$/.test((r.inputs.sourceRaw as { fileName: string }).fileName))) {
      assert.deepEqual(s.secretInputs, ["sourceRaw"], s.name);
    }
  });

  it("re-runs no script for a changed connection alone: every command's update is guarded by its run marker", () => {
    for (const c of resources.filter((r) => r.type === "command:remote:Command")) {
      const create = c.inputs.create as string;
      const update = c.inputs.update as string;
      const marker = /: > '\/var\/lib\/haha\/applied\/([a-f0-9]{64})'$/.exec(create);
      assert.ok(marker, `${c.name}: create leaves no run marker`);
      assert.ok(update.startsWith(`if [ -e '/var/lib/haha/applied/${marker[1]}' ]; then`), `${c.name}: update is not guarded by the marker`);
      assert.equal(update.slice(update.indexOf("\n") + 1), create, `${c.name}: update runs something else than create`);
    }
  });
});

describe("voice in the prod program", () => {
  it("runs Ollama from the pulled image's id, so the container is not replaced on every up", () => {
    const ollama = named("voice-ollama");
    assert.match(ollama.inputs.image as string, /^sha256:[a-f0-9]{64}$/);
    assert.ok(ollama.dependencies.includes(named("voice-ollama-image").urn));
  });

  it("gives every docker provider strict host key checking against a known_hosts file written from the pinned key", () => {
    const providers = resources.filter((r) => r.type === "pulumi:providers:docker");
    assert.equal(providers.length, 4);
    for (const p of providers) {
      // Provider config reaches the engine JSON-encoded.
      const raw = p.inputs.sshOpts;
      const opts = (typeof raw === "string" ? JSON.parse(raw) : raw) as string[];
      assert.ok(opts.includes("StrictHostKeyChecking=yes"), p.name);
      const file = opts.find((o) => o.startsWith("UserKnownHostsFile="))!.slice("UserKnownHostsFile=~/".length);
      const writer = named(`${p.name}-known-hosts`);
      assert.ok(p.dependencies.includes(writer.urn), `${p.name} does not wait for its known_hosts file`);
      assert.match(writer.inputs.create as string, new RegExp(`cat > "\\$home/${file.replace(/[.]/g, "\\.")}"`));
      const guest = file.split("/").pop()!;
      assert.match(writer.inputs.stdin as string, /^10\.0\.181\.\d+ ssh-ed25519 \S+\n$/);
      assert.ok((writer.inputs.stdin as string).includes(hostKeyOfGuest(guest).split(" ")[1]!), `${p.name}: known_hosts does not hold ${guest}'s key`);
    }
  });
});

function hostKeyOfGuest(guest: string): string {
  const snippet = resources.find((r) => r.type === "proxmoxve:index/fileLegacy:FileLegacy" && (r.inputs.sourceRaw as { fileName: string }).fileName.endsWith(`-${guest}-user.yaml`))!;
  return parse((snippet.inputs.sourceRaw as { data: string }).data).ssh_keys.ed25519_public as string;
}
