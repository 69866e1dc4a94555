// The offline plan end to end, as a user runs it: the prod stack in update and preview mode,
// byte-identical re-runs, no secret in any output, and a 5-host stack (nothing wired to three).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { runPlanCli, tempDir, writeStackFile, PlanRun } from "../helpers/plan";
import { PROD_STACK_FILE } from "../helpers/config";
import { generatedRaw } from "../helpers/stacks";
import { clearPlanOutputs, PLAN_OUTPUTS } from "../../plan/stack-plan";

interface Resources {
  mode: string;
  resources: { urn: string; type: string; name: string; inputs: Record<string, unknown>; secretInputs: string[]; dependencies: string[] }[];
}

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

const readResources = (dir: string): Resources => JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8"));

let outA: string, outB: string, outPreview: string;
let runA: PlanRun, runB: PlanRun, runPreview: PlanRun;

before(() => {
  outA = tempDir();
  outB = tempDir();
  outPreview = tempDir();
  runA = runPlanCli(["--config", PROD_STACK_FILE, "--out", outA]);
  runB = runPlanCli(["--config", PROD_STACK_FILE, "--out", outB]);
  runPreview = runPlanCli(["--config", PROD_STACK_FILE, "--out", outPreview, "--preview"]);
});

describe("plan of the prod stack", () => {
  it("exits 0: every policy passes (the switch waived) and every failover scenario ends right", () => {
    assert.equal(runA.status, 0, runA.stdout + runA.stderr);
  });

  it("writes the tree DESIGN.md promises", () => {
    const dir = path.join(outA, "prod");
    for (const f of ["resources.json", "cib.xml", "policy-report.json"]) assert.ok(fs.existsSync(path.join(dir, f)), f);
    assert.ok(fs.existsSync(path.join(dir, "failover")), "failover/");
    for (const host of ["nllei01ha01", "nllei01ha02", "nllei01ha03"]) assert.ok(fs.existsSync(path.join(dir, "hosts", host, "etc/haha/cib.xml")), host);
  });

  it("replaces only what it writes: every entry of its tree is a known output, and anything else in --out stays", () => {
    const dir = path.join(outA, "prod");
    for (const e of fs.readdirSync(dir)) assert.ok((PLAN_OUTPUTS as readonly string[]).includes(e), `${e} is written by the plan but not in PLAN_OUTPUTS: the next plan would leave it stale`);
    const other = tempDir();
    fs.mkdirSync(path.join(other, "hosts", "gone-host"), { recursive: true });
    fs.writeFileSync(path.join(other, "hosts", "gone-host", "f"), "stale");
    fs.writeFileSync(path.join(other, "cib.xml"), "stale");
    fs.mkdirSync(path.join(other, "run"));
    fs.writeFileSync(path.join(other, "run", "state.json"), "{}");
    fs.writeFileSync(path.join(other, "secrets.json"), "{}");
    clearPlanOutputs(other);
    assert.deepEqual(fs.readdirSync(other).sort(), ["run", "secrets.json"]);
  });

  it("prints a summary by layer", () => {
    assert.match(runA.stdout, /resources: \d+ \(.*proxmox \d+.*\)/);
    // The three members and the voice guest.
    assert.match(runA.stdout, /files: \d+ on 4 hosts/);
  });

  it("is byte-identical when run twice (no timestamp or randomness leaks into inputs)", () => {
    assert.equal(runB.status, runA.status);
    const a = tree(path.join(outA, "prod"));
    const b = tree(path.join(outB, "prod"));
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) assert.equal(b.get(k), v, `${k} differs between two plans`);
  });

  it("declares the same resources with the same inputs in preview and update mode (nothing inside apply)", () => {
    assert.equal(runPreview.status, runA.status, runPreview.stdout);
    const u = readResources(path.join(outA, "prod"));
    const p = readResources(path.join(outPreview, "prod"));
    assert.equal(p.mode, "preview");
    assert.deepEqual(p.resources.map((r) => r.urn), u.resources.map((r) => r.urn));
    assert.deepEqual(p.resources.map((r) => r.inputs), u.resources.map((r) => r.inputs));
  });

  it("has unique URNs and every dependency names a declared resource", () => {
    const { resources } = readResources(path.join(outA, "prod"));
    const urns = new Set(resources.map((r) => r.urn));
    assert.equal(urns.size, resources.length);
    for (const r of resources) for (const d of r.dependencies) assert.ok(urns.has(d), `${r.urn} depends on unknown ${d}`);
  });

  it("shows secrets only as <secret:NAME> placeholders", () => {
    const all = [...tree(path.join(outA, "prod")).values()].join("\n") + runA.stdout;
    // The Proxmox CA (haha:proxmox.caCert) is public and shipped as such; no other PEM may appear.
    assert.doesNotMatch(all, /-----BEGIN (?!CERTIFICATE-----)|PRIVATE KEY-----/);
    const { resources } = readResources(path.join(outA, "prod"));
    const provider = resources.find((r) => r.type === "pulumi:providers:proxmoxve")!;
    assert.match(String(provider.inputs.apiToken), /<secret:proxmoxApiToken>/);
    // Every generated secret is a placeholder and is marked secret wherever it is an input.
    for (const r of resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (JSON.stringify(v).includes("<secret:")) assert.ok(r.secretInputs.includes(k), `${r.urn}: input ${k} holds a secret but is not marked secret`);
      }
    }
  });
});

describe("plan of a 5-host stack", () => {
  it("declares five hosts, five guests and five sets of packages", () => {
    const out = tempDir();
    const r = runPlanCli(["--config", writeStackFile(generatedRaw(5), "five"), "--out", out]);
    assert.ok(r.status === 0 || r.status === 1, r.stdout + r.stderr);
    const { resources } = readResources(path.join(out, "five"));
    const count = (t: string) => resources.filter((x) => x.type === t).length;
    // Five hosts, their networking adopted: five uplink intents, no network resource.
    assert.equal(count("haha:proxmox:Host"), 5);
    assert.equal(resources.filter((x) => x.type.startsWith("proxmoxve:network/")).length, 0);
    assert.equal(count("proxmoxve:index/vmLegacy:VmLegacy"), 5 + 1 /* the voice guest */);
    assert.equal(count("haha:host:Packages"), 5);
    assert.equal(count("proxmoxve:index/acl:Acl"), 5);
    assert.match(r.stdout, /on 6 hosts/, "five members and the voice guest");
  });
});
