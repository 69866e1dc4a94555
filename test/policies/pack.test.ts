// The pack as the Pulumi CLI loads it: PulumiPolicy.yaml and package.json as the CLI reads them,
// then policies/index.ts started in a child process (constructing the PolicyPack serves the
// analyzer over gRPC and prints its port, as `pulumi preview --policy-pack policies` expects),
// asked for its info and made to analyze resources through the engine's own RPCs. The child is
// killed by its pid when the tests end.
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { parse as parseYaml } from "yaml";
import type { OfflineResource } from "../../policies/evaluate";
import { POLICIES } from "../../policies/registry";
import { prodConfig, ROOT } from "../helpers/config";
import { hostsConfig, stackOf } from "./fixtures";

/* eslint-disable @typescript-eslint/no-require-imports -- the engine's generated gRPC stubs are CommonJS without typings for these paths */
const analyzerRpc = require("@pulumi/pulumi/proto/analyzer_grpc_pb");
const analyzerPb = require("@pulumi/pulumi/proto/analyzer_pb");
const structPb = require("google-protobuf/google/protobuf/struct_pb");
const emptyPb = require("google-protobuf/google/protobuf/empty_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

const PACK = path.join(ROOT, "policies");
const LEVEL = ["advisory", "mandatory", "disabled", "remediate"] as const;

interface Diagnostic {
  policy: string;
  level: string;
  message: string;
  urn: string;
}

function call<T>(client: any, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

function options(parent?: string) {
  const o = new analyzerPb.AnalyzerResourceOptions();
  if (parent) o.setParent(parent);
  return o;
}

function diagnostics(res: any): Diagnostic[] {
  return res.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), level: LEVEL[d.getEnforcementlevel()], message: d.getMessage(), urn: d.getUrn() }));
}

describe("the policy pack's project files", () => {
  it("PulumiPolicy.yaml declares the nodejs runtime", () => {
    const doc = parseYaml(fs.readFileSync(path.join(PACK, "PulumiPolicy.yaml"), "utf8"));
    assert.equal(doc.runtime.name, "nodejs");
    assert.ok(doc.description.length > 10);
  });

  it("package.json has a version, index.ts as main, and the root's @pulumi/policy and @pulumi/pulumi versions", () => {
    const pack = JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8"));
    const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    assert.match(pack.version, /^\d+\.\d+\.\d+$/);
    assert.equal(pack.main, "index.ts");
    const rootDeps = { ...root.dependencies, ...root.devDependencies };
    for (const dep of ["@pulumi/policy", "@pulumi/pulumi", "zod"]) assert.equal(pack.dependencies[dep], rootDeps[dep], dep);
  });

  it("index.ts only constructs the pack, and nothing outside the pack imports it", () => {
    const index = fs.readFileSync(path.join(PACK, "index.ts"), "utf8");
    assert.equal(index.match(/new PolicyPack\(/g)?.length, 1);
    assert.deepEqual([...index.matchAll(/from "([^"]+)"/g)].map((m) => m[1]).sort(), ["./registry", "@pulumi/policy"]);
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith(".ts") && /from "[./]*\/?policies(\/index)?"/.test(fs.readFileSync(p, "utf8"))) offenders.push(path.relative(ROOT, p));
      }
    };
    for (const dir of ["plan", "stacks", "components", "test", "bench"]) if (fs.existsSync(path.join(ROOT, dir))) walk(path.join(ROOT, dir));
    assert.deepEqual(offenders, []);
  });
});

describe("the pack served as the Pulumi CLI runs it", () => {
  let child: ChildProcess;
  let client: any;
  let stderr = "";

  before(async () => {
    child = spawn(process.execPath, ["--import", "tsx", "index.ts"], { cwd: PACK, stdio: ["ignore", "pipe", "pipe"] });
    child.stderr!.on("data", (d) => (stderr += d));
    const port = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`the pack printed no port within 60 s: ${stderr}`)), 60_000);
      child.stdout!.on("data", (d) => {
        out += d;
        const m = /^(\d+)\r?\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on("exit", (code) => reject(new Error(`the pack exited (${code}) before serving: ${stderr}`)));
    });
    client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    if (child?.pid !== undefined && child.exitCode === null) child.kill("SIGTERM");
  });

  const analyzeStack = (resources: OfflineResource[]) => {
    const req = new analyzerPb.AnalyzeStackRequest();
    req.setResourcesList(
      resources.map((r) => {
        const a = new analyzerPb.AnalyzerResource();
        a.setType(r.type);
        a.setName(r.name);
        a.setUrn(r.urn);
        a.setProperties(structPb.Struct.fromJavaScript(r.props));
        a.setOptions(options(r.parent));
        if (r.parent) a.setParent(r.parent);
        return a;
      }),
    );
    return call<any>(client, "analyzeStack", req).then(diagnostics);
  };

  const analyze = (r: OfflineResource) => {
    const req = new analyzerPb.AnalyzeRequest();
    req.setType(r.type);
    req.setName(r.name);
    req.setUrn(r.urn);
    req.setProperties(structPb.Struct.fromJavaScript(r.props));
    req.setOptions(options(r.parent));
    return call<any>(client, "analyze", req);
  };

  it("answers with the pack's name, version and every policy at its default level", async () => {
    const info = await call<any>(client, "getAnalyzerInfo", new emptyPb.Empty());
    assert.equal(info.getName(), "haha");
    assert.equal(info.getVersion(), JSON.parse(fs.readFileSync(path.join(PACK, "package.json"), "utf8")).version);
    const served = info.getPoliciesList().map((p: any) => [p.getName(), LEVEL[p.getEnforcementlevel()]]);
    assert.deepEqual(served, POLICIES.map((p) => [p.name, p.defaultLevel]));
  });

  it("finds no mandatory violation on prod; the waived switch comes back as advisories with the reason", async () => {
    const ds = await analyzeStack(stackOf(prodConfig()));
    assert.deepEqual(ds.filter((d) => d.level === "mandatory"), []);
    const waived = ds.filter((d) => d.policy === "waived-violations");
    assert.equal(waived.length, 4, ds.map((d) => d.message).join("\n"));
    assert.ok(waived.every((d) => d.level === "advisory" && /Accepted because: One WS-C3850-12X48U serves the rack today/.test(d.message)));
  });

  it("refuses a two-host stack with mandatory diagnostics naming rule, resource and fix", async () => {
    const ds = await analyzeStack(stackOf(hostsConfig(2)));
    const quorum = ds.filter((d) => d.policy === "cluster-quorum");
    assert.ok(quorum.length >= 2);
    assert.ok(quorum.every((d) => d.level === "mandatory" && d.urn.endsWith("haha:pacemaker:Cib::cib") && / Fix: /.test(d.message)));
    assert.ok(ds.some((d) => d.policy === "failure-domains" && d.level === "mandatory" && /failure domain host nllei01pve01/.test(d.message)));
  });

  it("refuses a VM with a USB device at registration, and cannot judge secrets there", async () => {
    const vm = stackOf(prodConfig()).find((r) => r.name === "nllei01ha01-vm")!;
    const res = await analyze({ ...vm, props: { ...vm.props, usbs: [{ host: "10c4:ea60" }] } });
    const ds = diagnostics(res);
    assert.equal(ds.length, 1);
    assert.equal(ds[0]!.policy, "no-usb-passthrough");
    assert.equal(ds[0]!.level, "mandatory");
    assert.match(ds[0]!.message, /usbs\[0\] passes USB host device "10c4:ea60"/);
    const notApplicable = res.getNotApplicableList().map((n: any) => n.getPolicyName());
    assert.ok(notApplicable.includes("no-secret-in-plain-input"), notApplicable.join(","));
  });
});
