// A home that declares only Mosquitto and Node-RED (the rehearsal lab's set), planned as a user
// plans it (the real program under the mock runtime, a child process): nothing is declared,
// generated, pulled, rendered or placed for an absent service, the CIB has no dangling reference
// and passes the real crm_verify, every crm_simulate scenario the plan ran ends as expected, and
// the policies neither crash nor pass rules they could not check; against the full prod stack,
// the compare sees removals only.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { XMLParser } from "fast-xml-parser";
import { verifyCib } from "../../plan/simulate";
import { parseConfig } from "../../stacks/config/validate";
import { comparePlans } from "../../plan/compare/diff";
import { loadPlan } from "../../plan/compare/load";
import { PROD_STACK_FILE } from "../helpers/config";
import { runPlanCli, tempDir, writeStackFile, fileText, PlanRun } from "../helpers/plan";
import { mosquittoNoderedRaw } from "../helpers/stacks";
import type { RecordedResource } from "../../plan/types";

/** Every trace an absent service (or its peripherals and voice) could leave. */
const ABSENT = /zigbee|homeassistant|home assistant|home-assistant|recorder|postgres|esphome|btproxy|bluetooth|whisper|piper|ollama/i;
const PRESENT = ["mosquitto", "nodered"];

let run: PlanRun;
let dir: string;
let resources: RecordedResource[];
let prodRun: PlanRun;
let prodDir: string;
const c = parseConfig(mosquittoNoderedRaw(), "mini");
const members = c.nodes.map((n) => n.guest.name);

before(() => {
  // Planned as stack "prod", so that its URNs compare with the prod stack's (the compare's view
  // of a change that drops services from a home).
  const out = tempDir();
  run = runPlanCli(["--config", writeStackFile(mosquittoNoderedRaw(), "prod"), "--out", out]);
  dir = path.join(out, "prod");
  if (run.status === 0) resources = (JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")) as { resources: RecordedResource[] }).resources;
  const prodOut = tempDir();
  prodRun = runPlanCli(["--config", PROD_STACK_FILE, "--out", prodOut]);
  prodDir = path.join(prodOut, "prod");
});

describe("plan of a Mosquitto + Node-RED home", () => {
  it("exits 0 (safe to apply)", () => {
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /result: safe to apply \(exit 0\)/);
  });

  it("declares, generates and renders nothing for an absent service: no resource names one, no input mentions one", () => {
    const hits = resources.filter((r) => ABSENT.test(r.name) || ABSENT.test(r.urn) || ABSENT.test(JSON.stringify(r.inputs)));
    assert.deepEqual(
      hits.map((r) => `${r.type} ${r.name}: ${JSON.stringify(r.inputs).match(ABSENT)?.[0]}`),
      [],
    );
  });

  it("pre-pulls and tags exactly the two images on every member", () => {
    const names = (type: string) => resources.filter((r) => r.type === type).map((r) => r.name).sort();
    assert.deepEqual(names("docker:index/remoteImage:RemoteImage"), members.flatMap((m) => PRESENT.map((s) => `services-${m}-${s}`)).sort());
    assert.deepEqual(names("docker:index/tag:Tag"), members.flatMap((m) => PRESENT.map((s) => `services-${m}-${s}-alias`)).sort());
  });

  it("generates only the two services' secrets: one MQTT login per declared client", () => {
    const generated = resources.filter((r) => r.type.startsWith("random:") && r.name.startsWith("services-")).map((r) => r.name).sort();
    assert.deepEqual(generated, ["services-mqtt-monitor", "services-mqtt-nodered", "services-nodered-admin", "services-nodered-credential-secret"]);
  });

  it("ships files for Mosquitto and Node-RED only; the ACL and password file know only their users", () => {
    const mount = c.storage.nfs.mountPoint;
    const files = resources.filter((r) => r.type === "haha:host:File" && String(r.inputs.path).startsWith(`${mount}/`));
    const dirs = new Set(files.map((f) => String(f.inputs.path).slice(mount.length + 1).split("/")[0]));
    assert.deepEqual([...dirs].sort(), PRESENT);
    const acl = String(fileText(resources, files.find((f) => f.inputs.path === `${mount}/mosquitto/config/acl`)!));
    assert.deepEqual(
      acl.split("\n").filter((l) => l.startsWith("user ")),
      ["user nodered", "user monitor"],
    );
    assert.deepEqual(
      acl.split("\n").filter((l) => l.startsWith("topic ")),
      ["topic readwrite nodered/#", "topic read $SYS/#"],
    );
    // The mirror of what the hosts receive holds the same: no directory of an absent service.
    const mirrored = fs.readdirSync(path.join(dir, "hosts", members[0]!, mount.replace(/^\//, "")));
    assert.deepEqual(mirrored.sort(), PRESENT);
  });

  it("renders a CIB with the two primitives, no dangling reference, that passes the real crm_verify", async () => {
    const xml = fs.readFileSync(path.join(dir, "cib.xml"), "utf8");
    assert.doesNotMatch(xml, ABSENT);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (_name, _path, _leaf, isAttribute) => !isAttribute }).parse(xml);
    const ids = new Set<string>();
    const refs: string[] = [];
    const walk = (node: unknown, tag: string) => {
      if (Array.isArray(node)) return node.forEach((n) => walk(n, tag));
      if (!node || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      if (["primitive", "group", "clone", "master", "bundle"].includes(tag) && typeof o.id === "string") ids.add(o.id);
      for (const k of ["rsc", "with-rsc", "first", "then"]) if (typeof o[k] === "string") refs.push(o[k] as string);
      if (tag === "resource_ref" && typeof o.id === "string") refs.push(o.id);
      for (const [k, v] of Object.entries(o)) if (typeof v === "object") walk(v, k);
    };
    walk(doc, "");
    const docker = [...xml.matchAll(/<primitive id="([^"]+)" class="ocf" provider="heartbeat" type="docker"/g)].map((m) => m[1]);
    assert.deepEqual(docker.sort(), PRESENT);
    assert.ok(refs.length > 0, "the CIB has constraints");
    assert.deepEqual(
      refs.filter((r) => !ids.has(r)),
      [],
      "every constraint names a resource of the CIB",
    );
    const r = await verifyCib(xml, members);
    assert.ok(r.ok, r.messages.join("\n"));
  });

  it("ran every crm_simulate scenario to the expected end, placing both services with the VIP", () => {
    const summary = fs.readFileSync(path.join(dir, "failover", "summary.txt"), "utf8");
    const m = /failover: (\d+) crm_simulate scenarios, (\d+) as expected, 0 not/.exec(summary);
    assert.ok(m && m[1] === m[2] && Number(m[1]) > 10, summary.split("\n")[0]);
    const scenarios = fs.readdirSync(path.join(dir, "failover")).filter((f) => /^\d+-.*\.json$/.test(f));
    assert.equal(scenarios.length, Number(m![1]));
    for (const f of scenarios) {
      const s = JSON.parse(fs.readFileSync(path.join(dir, "failover", f), "utf8")) as { ok: boolean; simulated: Record<string, string> };
      assert.equal(s.ok, true, f);
      assert.deepEqual(
        Object.keys(s.simulated).filter((k) => ABSENT.test(k)),
        [],
        f,
      );
    }
    const up = JSON.parse(fs.readFileSync(path.join(dir, "failover", "01-all-up.json"), "utf8")) as { simulated: Record<string, string> };
    const vip = up.simulated["services-vip"];
    assert.match(vip ?? "", /^Started /);
    for (const s of PRESENT) assert.equal(up.simulated[s], vip, s);
  });

  it("evaluates every policy without a crash: none fails, and the Zigbee and peripheral rules say not applicable instead of passing", () => {
    const report = JSON.parse(fs.readFileSync(path.join(dir, "policy-report.json"), "utf8")) as { ok: boolean; rules: { name: string; status: string; notApplicable: string[] }[] };
    assert.equal(report.ok, true);
    const status = Object.fromEntries(report.rules.map((r) => [r.name, r.status]));
    assert.equal(status["zigbee-coordinator-isolation"], "not-applicable");
    assert.equal(status["storage-network-isolation"], "not-applicable");
    assert.equal(status["critical-services-under-pacemaker"], "pass");
    assert.equal(status["critical-service-images"], "pass");
    assert.deepEqual(
      report.rules.filter((r) => r.status === "fail" || r.status === "unknown").map((r) => r.name),
      [],
    );
    assert.match(run.stdout, /18 rules evaluated: .* 2 not applicable ->/);
    assert.match(run.stdout, /no critical service can be placed \(mosquitto and nodered\)/);
  });

  it("draws the report without the absent services' peripherals", () => {
    const html = fs.readFileSync(path.join(dir, "report.html"), "utf8");
    assert.doesNotMatch(html, /Zigbee coordinator \(|btproxy|TubesZB/);
    assert.match(html, /nodered/);
  });

  it("compares with the full prod stack as removals only: every resource of an absent service deleted, nothing of Node-RED touched", () => {
    assert.equal(prodRun.status, 0, prodRun.stdout + prodRun.stderr);
    const before = loadPlan(prodDir);
    const result = comparePlans(before, loadPlan(dir), false, false);
    const by = (kind: string) => result.resources.filter((r) => r.kind === kind);
    assert.deepEqual(by("added").map((r) => r.name), []);
    const deleted = new Set(by("deleted").map((r) => r.urn));
    const absentBefore = before.resources.filter((r) => ABSENT.test(r.name));
    assert.ok(absentBefore.length > 50, `${absentBefore.length} resources of the absent services in prod`);
    assert.deepEqual(absentBefore.filter((r) => !deleted.has(r.urn)).map((r) => r.name), []);
    // Node-RED's own images, secrets, files and apply step are exactly as in prod.
    assert.deepEqual(result.resources.filter((r) => /nodered/.test(r.name) && !/mqtt-homeassistant|mqtt-zigbee2mqtt/.test(r.name)).map((r) => `${r.kind} ${r.name}`), []);
    // The CIB loses the absent primitives, and the policies their findings.
    const cib = result.files.find((f) => f.path === "/etc/haha/cib.xml");
    assert.ok(cib && cib.kind === "changed" && cib.patch, "the CIB changes");
    const lines = cib.patch.split("\n");
    for (const id of ["recorder", "zigbee2mqtt", "homeassistant", "esphome", "whisper", "piper"]) assert.ok(lines.some((l) => l.startsWith(`-      <primitive id="${id}" `)), id);
    assert.deepEqual(
      lines.filter((l) => l.startsWith("+") && ABSENT.test(l)),
      [],
    );
    assert.ok(result.policy.resolvedViolations.some((v) => /Zigbee coordinator/.test(JSON.stringify(v))));
  });
});
