// The stack declaration: waivers, switches and failure domains of a config, registered as a
// component whose inputs (what a preview's policies see) carry them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stackDeclarationArgs, StackDeclaration } from "../../stacks/declaration";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { recordRaw } from "../policies/raw";

describe("stackDeclarationArgs", () => {
  it("declares each Proxmox host and the prod switch as failure domains, and the prod waiver", () => {
    const d = stackDeclarationArgs(prodConfig());
    assert.deepEqual(
      d.failureDomains.map((f) => [f.kind, f.name, f.hosts, f.switches]),
      [
        ["host", "nllei01pve01", ["nllei01pve01"], []],
        ["host", "nllei01pve02", ["nllei01pve02"], []],
        ["host", "nllei01pve03", ["nllei01pve03"], []],
        ["switch", "nllei01sw01", [], ["nllei01sw01"]],
      ],
    );
    assert.deepEqual(d.waivers.map((w) => [w.policy, w.target]), [["network-bond-switch-diversity", "nllei01sw01"]]);
  });

  it("makes one domain of the switches of a stack group", () => {
    const c = mutatedConfig((raw) => {
      raw.switches = [
        { name: "sw-a", model: "C9300", stackGroup: "core" },
        { name: "sw-b", model: "C9300", stackGroup: "core" },
        { name: "sw-c", model: "C9200" },
      ];
      raw.nodes.forEach((n: any, i: number) => (n.bond.switchPorts = [`sw-a:Gi1/0/${i + 1}`, `sw-c:Gi1/0/${i + 1}`]));
      raw.waivers = [];
    });
    const switches = stackDeclarationArgs(c).failureDomains.filter((f) => f.kind === "switch");
    assert.deepEqual(switches.map((f) => [f.name, f.switches]), [
      ["core", ["sw-a", "sw-b"]],
      ["sw-c", ["sw-c"]],
    ]);
  });
});

describe("StackDeclaration under Pulumi mocks", () => {
  it("registers haha:stack:Declaration with the declaration as its inputs", async () => {
    const args = stackDeclarationArgs(prodConfig());
    const recorded = await recordRaw(() => new StackDeclaration("haha", args));
    const d = recorded.find((r) => r.type === "haha:stack:Declaration");
    assert.ok(d, recorded.map((r) => r.type).join(", "));
    assert.equal(d.name, "haha");
    assert.deepEqual(d.props, JSON.parse(JSON.stringify(args)));
  });
});
