// The policy pack installs and loads on its own, as `pulumi policy publish` and
// `pulumi preview --policy-pack policies` use it: a copy of policies/ alone (no repo around it),
// `npm ci` from its own lockfile, its own TypeScript type-checks it, node loads the registry, and
// `index.ts` runs as the engine runs a pack: it serves the analyzer over gRPC and prints its port,
// and the engine's first call (GetAnalyzerInfo, what `pulumi policy publish` asks) names every policy.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { POLICY_NAMES } from "../../policies/registry";
import { ROOT } from "../helpers/config";
import { tempDir } from "../helpers/plan";

const POLICIES = path.join(ROOT, "policies");
/** The copy the install test made, which the serve test runs. */
let copyDir: string | undefined;

const run = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
};

describe("the policy pack on its own", () => {
  it("imports nothing from outside policies/", () => {
    for (const f of fs.readdirSync(POLICIES).filter((x) => x.endsWith(".ts"))) {
      const text = fs.readFileSync(path.join(POLICIES, f), "utf8");
      const outside = [...text.matchAll(/from\s+"(\.\.\/[^"]*)"/g)].map((m) => m[1]);
      assert.deepEqual(outside, [], `policies/${f} imports from outside the pack: ${outside.join(", ")}`);
    }
  });

  it("has a lockfile in step with its package.json", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(POLICIES, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const lock = JSON.parse(fs.readFileSync(path.join(POLICIES, "package-lock.json"), "utf8")) as { packages: Record<string, { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }> };
    assert.deepEqual(lock.packages[""]?.dependencies, pkg.dependencies);
    assert.deepEqual(lock.packages[""]?.devDependencies, pkg.devDependencies);
  });

  it("installs from its lockfile, type-checks and loads its policies in a copy of the folder alone", { timeout: 600_000 }, () => {
    const dir = tempDir("host-fixes-policies-");
    copyDir = dir;
    for (const f of fs.readdirSync(POLICIES)) {
      if (f === "node_modules") continue;
      fs.cpSync(path.join(POLICIES, f), path.join(dir, f), { recursive: true });
    }
    process.stdout.write(`# npm ci in ${dir} (the pack's own lockfile)\n`);
    // --prefer-offline: the npm cache serves what it has, the registry the rest; scripts are not needed to load.
    const ci = run("npm", ["ci", "--ignore-scripts", "--prefer-offline", "--no-audit", "--no-fund"], dir);
    assert.equal(ci.status, 0, `npm ci failed in the copy:\n${ci.out}`);

    process.stdout.write("# tsc -p tsconfig.json with the pack's own typescript\n");
    const tsc = run(process.execPath, [path.join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], dir);
    assert.equal(tsc.status, 0, `the pack does not type-check on its own:\n${tsc.out}`);

    // tsx only transpiles; every module the pack needs resolves from the copy's node_modules.
    const loader = require.resolve("tsx", { paths: [ROOT] });
    const script = 'const r = require("./registry.ts"); r.packPolicies(); process.stdout.write(JSON.stringify(r.POLICY_NAMES));';
    const load = run(process.execPath, ["--import", loader, "-e", script], dir);
    assert.equal(load.status, 0, `the pack's modules do not load from the copy:\n${load.out}`);
    assert.deepEqual(JSON.parse(load.out.trim().split("\n")[0]!), [...POLICY_NAMES]);
  });

  it("runs index.ts from the copy as the engine does: it serves the analyzer and answers GetAnalyzerInfo with every policy", { timeout: 600_000 }, async () => {
    const dir = copyDir ?? assert.fail("the install test above did not leave its copy");
    const pack = spawn(process.execPath, ["--import", require.resolve("tsx", { paths: [ROOT] }), "index.ts"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      let err = "";
      pack.stderr.on("data", (d) => (err += String(d)));
      // The engine reads the gRPC port from the pack's first line of stdout.
      const port = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no port on stdout in 60 s:\n${out}\n${err}`)), 60_000);
        pack.stdout.on("data", (d) => {
          out += String(d);
          const m = /^(\d+)\n/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[1]!);
          }
        });
        pack.on("exit", (code) => {
          clearTimeout(t);
          reject(new Error(`the pack exited ${code} before serving:\n${out}\n${err}`));
        });
      });
      // The client side from the copy's own dependencies, as the engine's protocol defines it.
      const req = createRequire(path.join(dir, "index.ts"));
      const grpc = req("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
      const rpc = req("@pulumi/pulumi/proto/analyzer_grpc_pb.js") as { AnalyzerClient: new (addr: string, cred: unknown) => { getAnalyzerInfo(e: unknown, cb: (e: Error | null, i: { getName(): string; getPoliciesList(): { getName(): string }[] }) => void): void; close(): void } };
      const { Empty } = req("google-protobuf/google/protobuf/empty_pb.js") as { Empty: new () => unknown };
      const client = new rpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      const info = await new Promise<{ getName(): string; getPoliciesList(): { getName(): string }[] }>((resolve, reject) => client.getAnalyzerInfo(new Empty(), (e, i) => (e ? reject(e) : resolve(i))));
      client.close();
      assert.equal(info.getName(), "haha");
      assert.deepEqual(info.getPoliciesList().map((p) => p.getName()), [...POLICY_NAMES]);
    } finally {
      pack.kill("SIGKILL");
    }
  });
});
