// `npm run plan -- --compare`, end to end on real git repositories made in temporary directories:
// the project committed on main, then a pull request's change left in the work tree, compared
// against the merge base as the workflow does. One change that a reviewer must see as a diff (a
// new MQTT client: the Mosquitto ACL), and unsafe ones that must be named and fail (a USB dongle
// on a guest, a bond losing a slave, a waiver losing its reason).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { COMMENT_MARKER, MARKDOWN_LIMIT } from "../../plan/compare/render";
import { addMqttClient, commitAll, editStack, projectRepo, SAMPLE_BEGIN, SAMPLE_END } from "../../plan/compare/sample";
import { ROOT } from "../helpers/config";
import { tempDir } from "../helpers/plan";

function repo(): string {
  const dir = tempDir("compare-test-repo-");
  projectRepo(dir);
  return dir;
}

function compare(dir: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, "plan/cli.ts"), "--stack", "prod", "--compare", ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, HAHA_DEBUG: "" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("compare: a new MQTT client (the Mosquitto ACL changes)", () => {
  let text: ReturnType<typeof compare>, md: ReturnType<typeof compare>;
  before(() => {
    const dir = repo();
    editStack(dir, addMqttClient);
    text = compare(dir, []);
    md = compare(dir, ["--format", "markdown"]);
  });

  it("exits 0: the change is safe", () => {
    assert.equal(text.status, 0, text.stdout + text.stderr);
    assert.equal(md.status, 0, md.stdout + md.stderr);
  });

  it("shows the ACL file's line diff once for all the hosts that receive it", () => {
    assert.match(text.stdout, /merge base with main/);
    const acl = /\/srv\/haha\/mosquitto\/config\/acl on ([^:]+): changed \(\+(\d+) -0\)/.exec(text.stdout);
    assert.ok(acl, text.stdout);
    assert.match(text.stdout, /^\s+\+user frigate$/m);
    assert.match(text.stdout, /^\s+\+topic readwrite frigate\/#$/m);
  });

  it("names a secret-bearing file as changed, content secret, and prints no secret", () => {
    assert.match(text.stdout, /mosquitto\/config\/passwd on .*: changed, content secret/);
    assert.doesNotMatch(text.stdout + md.stdout, /\$7\$|<secret:[^>]*frigate[^>]*>/);
  });

  it("reports the resources: the write command changed (stdin), the apply command replaced by its triggers", () => {
    assert.match(text.stdout, /~ command:remote:Command "[^"]*acl-write": (create, )?stdin/);
    assert.match(text.stdout, /\+- command:remote:Command "[^"]*-apply[^"]*" \(replaced: triggers changed/);
    assert.match(text.stdout, /\+ random:index\/randomPassword:RandomPassword "[^"]*frigate[^"]*"/);
  });

  it("writes one Markdown comment with its marker, the diff folded, under GitHub's limit", () => {
    assert.ok(md.stdout.startsWith(COMMENT_MARKER), md.stdout.slice(0, 200));
    assert.ok(md.stdout.length < MARKDOWN_LIMIT);
    assert.match(md.stdout, /<details><summary><code>\/srv\/haha\/mosquitto\/config\/acl<\/code>/);
    assert.match(md.stdout, /```diff\n@@ [^\n]+\n[\s\S]*\n\+user frigate\n/);
    assert.match(md.stdout, /✅ safe to apply/);
  });

  it("README's sample comment is this change's comment (made by npm run sample:compare)", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const sample = readme.slice(readme.indexOf(SAMPLE_BEGIN), readme.indexOf(SAMPLE_END));
    assert.ok(sample.length > 0, "README has the sample block");
    // The same lines but the merge base's commit id, which is new in every repository.
    const norm = (t: string) => t.replace(/\(([0-9a-f]{7})\)/g, "(COMMIT)");
    const body = /````markdown\n([\s\S]*)\n````/.exec(sample)?.[1];
    assert.equal(norm(body ?? ""), norm(md.stdout.replace(/\n$/, "")), "run npm run sample:compare");
  });
});

describe("compare: unsafe changes are named and fail", () => {
  let r: ReturnType<typeof compare>, noReason: ReturnType<typeof compare>;
  before(() => {
    const dir = repo();
    editStack(dir, (c) => {
      const nodes = c["haha:nodes"] as { bond: { slaves: string[]; switchPorts?: string[] } }[];
      nodes[1]!.bond.slaves = ["enp1s0f0"];
      nodes[1]!.bond.switchPorts = nodes[1]!.bond.switchPorts?.slice(0, 1);
    });
    // A USB dongle on the first member's VM: the kind of code change a pull request makes.
    const guest = path.join(dir, "components/proxmox/guest.ts");
    const src = fs.readFileSync(guest, "utf8");
    assert.ok(src.includes("timeoutShutdownVm: 300,"));
    fs.writeFileSync(guest, src.replace("timeoutShutdownVm: 300,", 'timeoutShutdownVm: 300,\n        usbs: g.vmid === 181 ? [{ host: "1a86:55d4" }] : [],'));
    commitAll(dir, "pr");
    r = compare(dir, ["main", "--format", "markdown"]);
    // Then a waiver loses its reason, in the work tree on top of that commit, compared with main.
    editStack(dir, (c) => {
      (c["haha:waivers"] as { reason: string }[])[0]!.reason = "";
    });
    noReason = compare(dir, ["--format", "markdown"]);
  });

  it("exits 1 and says the change makes the home unsafe", () => {
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /❌ UNSAFE: this change makes the home unsafe/);
  });

  it("names the USB dongle", () => {
    assert.match(r.stdout, /NEW VIOLATION \[no-usb-passthrough\] \(mandatory\) [^\n]*nllei01ha01-vm[^\n]*USB/);
  });

  it("names the bond that lost a slave", () => {
    assert.match(r.stdout, /NEW VIOLATION \[network-bond-redundancy\][^\n]*nllei01pve02/);
  });

  it("names the waiver without a reason, and fails (exit 2: the config is refused)", () => {
    assert.equal(noReason.status, 2, noReason.stdout + noReason.stderr);
    assert.ok(noReason.stdout.startsWith(COMMENT_MARKER));
    assert.match(noReason.stdout, /❌ the stack config of the work tree is invalid \(exit 2\)/);
    assert.match(noReason.stdout, /haha:waivers\[0\]\.reason: "" — expected a reason/);
  });
});

describe("compare: usage", () => {
  it("refuses an unknown revision with exit 2, naming it", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--stack", "prod", "--compare", "no-such-rev-xyz"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /--compare no-such-rev-xyz: not a git revision/);
  });

  it("refuses a format it does not know", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--stack", "prod", "--compare", "--format", "html"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.match(r.stdout, /--format "html": expected text or markdown/);
  });
});
