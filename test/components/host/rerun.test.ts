// What decides a re-run. The provider side, from the installed @pulumi/command SDK (generated from
// the provider's schema): `triggers` is the only input that replaces, so a changed connection is an
// update, which runs `update`. The guest side, executed for real in sh: the update command runs
// the script only when this exact script and stdin have not succeeded on this guest before.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { guardedCommands, runKey } from "../../../components/host/rerun";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-init-rerun-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("@pulumi/command 1.x: what replaces and what updates", () => {
  it("replaces only on triggers; the connection is a plain (secret) input, so changing it is an update", () => {
    const pkg = JSON.parse(fs.readFileSync(require.resolve("@pulumi/command/package.json"), "utf8"));
    assert.match(pkg.version, /^1\./);
    const src = fs.readFileSync(require.resolve("@pulumi/command/remote/command.js"), "utf8");
    const replace = [...src.matchAll(/replaceOnChanges: (\[.*?\]) \}/g)].map((m) => JSON.parse(m[1]!));
    assert.deepEqual(replace, [["triggers[*]"]]);
    assert.match(src, /additionalSecretOutputs: \["connection"\]/);
    assert.match(src, /resourceInputs\["update"\] = args\?\.update/);
  });
});

describe("the guarded commands, run in sh", () => {
  const marks = () => fs.mkdtempSync(path.join(dir, "applied-"));
  const counter = path.join(dir, "counter");
  // A script that counts its runs, reads its stdin and exits early on purpose (like many steps).
  const script = [`echo run >> ${counter}`, `cat > ${dir}/stdin-copy`, "exit 0", "echo unreachable"].join("\n");
  const sh = (cmd: string, stdin = "") => spawnSync("sh", ["-c", cmd], { input: stdin, encoding: "utf8" });
  const runs = () => (fs.existsSync(counter) ? fs.readFileSync(counter, "utf8").split("\n").filter(Boolean).length : 0);

  it("create runs the script with its stdin and leaves the marker; an update of the same text does not run it again", () => {
    fs.rmSync(counter, { force: true });
    const m = marks();
    const g = guardedCommands(runKey("step", script, "v1"), script, m);
    assert.equal(sh(g.create, "v1").status, 0);
    assert.equal(runs(), 1);
    assert.equal(fs.readFileSync(`${dir}/stdin-copy`, "utf8"), "v1");
    assert.deepEqual(fs.readdirSync(m), [runKey("step", script, "v1")]);
    // The connection changed (new key, pinned host key): the provider runs `update`.
    const r = sh(g.update, "v1");
    assert.equal(r.status, 0);
    assert.match(r.stdout, /already ran with this exact script and input on this guest; not run again/);
    assert.equal(runs(), 1);
  });

  it("an update with changed content runs it (a new marker), and a fresh guest without markers runs everything", () => {
    fs.rmSync(counter, { force: true });
    const m = marks();
    assert.equal(sh(guardedCommands(runKey("step", script, "v1"), script, m).create, "v1").status, 0);
    assert.equal(sh(guardedCommands(runKey("step", script, "v2"), script, m).update, "v2").status, 0);
    assert.equal(runs(), 2);
    assert.equal(fs.readFileSync(`${dir}/stdin-copy`, "utf8"), "v2");
    assert.equal(sh(guardedCommands(runKey("step", script, "v1"), script, marks()).update, "v1").status, 0);
    assert.equal(runs(), 3);
  });

  it("a failed run leaves no marker and keeps its exit code, so the next update runs it again", () => {
    const m = marks();
    const failing = "set -eu\necho trying\nfalse\necho after";
    const g = guardedCommands(runKey("bad", failing), failing, m);
    const r = sh(g.create);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stdout, /after/);
    assert.deepEqual(fs.readdirSync(m), []);
    assert.match(sh(g.update).stdout, /trying/);
  });

  it("keeps the script's own EXIT trap and set -e to itself", () => {
    const m = marks();
    const trapped = `set -eu\ntrap 'echo cleaned' EXIT\necho body`;
    const r = sh(guardedCommands(runKey("trap", trapped), trapped, m).create);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /body\ncleaned\n/);
    assert.equal(fs.readdirSync(m).length, 1);
  });

  it("keys markers by step name, script and stdin", () => {
    assert.notEqual(runKey("a", "x"), runKey("b", "x"));
    assert.notEqual(runKey("a", "x", "1"), runKey("a", "x", "2"));
    assert.notEqual(runKey("a", "x\0"), runKey("a", "x", ""));
    assert.throws(() => guardedCommands("nope", "true"), /not a sha256/);
  });
});
