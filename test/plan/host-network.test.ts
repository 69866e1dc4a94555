// The bond policies read the bond intent from config whatever the network mode: an adopted host
// (nothing declared on it) with one bond slave is still refused, by the real program and pack.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { prodRaw } from "../helpers/config";
import { runPlanCli, tempDir, writeStackFile } from "../helpers/plan";

describe("host networking in the plan", () => {
  it("refuses a single-slave bond on an adopted host (exit 1), with no network resource declared", () => {
    const raw = prodRaw();
    raw.nodes[1].bond.slaves = ["enp1s0f0"];
    raw.nodes[1].bond.switchPorts = ["nllei01sw01:Te1/0/3"];
    const out = tempDir("host-fixes-plan-");
    const run = runPlanCli(["--config", writeStackFile(raw, "adopt"), "--out", out]);
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /FAIL\s+network-bond-redundancy[\s\S]*1 bond slave \(enp1s0f0\): one cable, NIC or switch port takes host nllei01pve02 off the network/);
    const { resources } = JSON.parse(fs.readFileSync(path.join(out, "adopt", "resources.json"), "utf8")) as { resources: { type: string }[] };
    assert.deepEqual(resources.filter((r) => r.type.startsWith("proxmoxve:network/")), []);
  });
});
