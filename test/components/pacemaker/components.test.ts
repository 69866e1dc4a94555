// The pacemaker layer's components under Pulumi's mocks: what each ships to every member, how the
// secrets travel (secret inputs only, root-only files), the ordering, and the intent the policy
// pack reads from the Cib component's args.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import type { GuestConnection } from "../../../components/host/connection";
import { ClusterCib, ClusterMembership } from "../../../components/pacemaker";
import { buildCibModel } from "../../../components/pacemaker/cib/build";
import { clusterIntent, PVE_PASSWORD_FILE } from "../../../components/pacemaker/cib/fencing";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { renderCorosync } from "../../../components/pacemaker/corosync";
import { renderSbdDefaults } from "../../../components/pacemaker/sbd";
import { CIB_PATH, CIB_PUSH_PATH } from "../../../components/pacemaker/scripts";
import { AGENT_DEPS_PATH, agentDepsAfter, COROSYNC_ORDER_PATH, renderAgentDeps, renderCorosyncOrder } from "../../../components/pacemaker/units";
import { recordUnderMocks } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { clusterMembers } from "../../../stacks/config/members";
import { mutatedConfig, prodConfig, TEST_HOST_KEY } from "../../helpers/config";
import { servicesFixture, storageFixture } from "./fixtures";
import { fileSecret, fileText } from "../../helpers/plan";

const c = prodConfig();
const members = clusterMembers(c);
const connections: GuestConnection[] = members.map((m) => ({ host: m.name, address: m.address, user: "root", port: 22, privateKey: pulumi.secret("<secret:sshPrivateKey>"), hostKey: TEST_HOST_KEY }));
const layer = { config: c, members, connections };
const fragments = [storageFixture(c), servicesFixture()];

let resources: RecordedResource[] = [];
const named = (n: string) => {
  const r = resources.find((x) => x.name === n);
  assert.ok(r, `no resource named ${n}`);
  return r;
};
const byUrn = () => new Map(resources.map((r) => [r.urn, r]));

before(async () => {
  ({ resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const membership = new ClusterMembership("cluster", layer);
    new ClusterCib("cib", { ...layer, fencePassword: pulumi.secret("<secret:fencing-password>"), fragments }, { dependsOn: [membership] });
    return {};
  }));
});

describe("ClusterMembership", () => {
  it("ships the same corosync.conf to every member and validates it there on change", () => {
    for (const m of members) {
      const f = named(`cluster-${m.name}-corosync-conf`);
      assert.equal(f.type, "haha:host:File");
      assert.equal(f.inputs.path, "/etc/corosync/corosync.conf");
      assert.equal(fileText(resources, f), renderCorosync(c, members));
      assert.match(named(`cluster-${m.name}-corosync-conf-apply`).inputs.create as string, /corosync -t/);
    }
  });

  it("restarts sbd (with the member's cluster stack) when its settings change, one member at a time", () => {
    const applies = members.map((m) => named(`cluster-${m.name}-sbd-apply`));
    for (const a of applies) assert.match(a.inputs.create as string, /systemctl stop corosync\nsystemctl start corosync/);
    for (let i = 1; i < applies.length; i++) assert.ok(applies[i]!.dependencies.includes(applies[i - 1]!.urn), `${members[i]!.name} may restart while ${members[i - 1]!.name} does`);
    assert.equal(spawnSync("bash", ["-n"], { input: applies[0]!.inputs.create as string }).status, 0);
  });

  it("validates corosync.conf (corosync -t reads the keyfile) only once the authkey is installed", () => {
    for (const m of members) {
      const check = named(`cluster-${m.name}-corosync-conf-apply`);
      assert.ok(check.dependencies.includes(named(`cluster-${m.name}-authkey-apply`).urn), `${m.name}: corosync -t may run before the authkey exists`);
    }
  });

  it("generates one 256-byte authkey and ships it as secret base64, decoded to a root-only binary key", () => {
    const keys = resources.filter((r) => r.type === "random:index/randomBytes:RandomBytes");
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.inputs.length, 256);
    for (const m of members) {
      const f = named(`cluster-${m.name}-authkey`);
      assert.ok(fileSecret(resources, f));
      assert.equal(f.inputs.mode, "0400");
      assert.ok(named(`cluster-${m.name}-authkey-write`).secretInputs.includes("stdin"));
      assert.match(named(`cluster-${m.name}-authkey-apply`).inputs.create as string, /base64 -d/);
    }
  });

  it("renders /etc/default/sbd and starts sbd, corosync and pacemaker only after the files are in place", () => {
    const urns = byUrn();
    for (const m of members) {
      assert.equal(fileText(resources, named(`cluster-${m.name}-sbd`)), renderSbdDefaults(c));
      const run = named(`cluster-${m.name}-start-run`);
      assert.match(run.inputs.create as string, /systemctl enable sbd[\s\S]*systemctl start corosync[\s\S]*systemctl start pacemaker/);
      const deps = run.dependencies.map((u) => urns.get(u)?.name);
      for (const f of ["corosync-conf", "authkey", "sbd", "agent-deps"]) assert.ok(deps.includes(`cluster-${m.name}-${f}-write`), `${m.name} start waits for ${f}`);
    }
  });

  it("orders docker.service before Pacemaker on every member (resource-agents-deps.target drop-in), reloading systemd on change", () => {
    for (const m of members) {
      const f = named(`cluster-${m.name}-agent-deps`);
      assert.equal(f.inputs.path, AGENT_DEPS_PATH);
      assert.equal(fileText(resources, f), renderAgentDeps());
      assert.match(named(`cluster-${m.name}-agent-deps-apply`).inputs.create as string, /^systemctl daemon-reload$/m);
    }
    assert.deepEqual(agentDepsAfter(renderAgentDeps()), ["docker.service"]);
    assert.throws(() => renderAgentDeps(["docker"]), /not a systemd unit name/);
  });

  it("orders corosync after resource-agents-deps.target on every member, so a booting member joins when Pacemaker can follow", () => {
    for (const m of members) {
      const f = named(`cluster-${m.name}-corosync-order`);
      assert.equal(f.inputs.path, COROSYNC_ORDER_PATH);
      assert.equal(fileText(resources, f), renderCorosyncOrder());
      assert.match(named(`cluster-${m.name}-corosync-order-apply`).inputs.create as string, /^systemctl daemon-reload$/m);
    }
  });

  it("the installed units with both drop-ins: corosync after docker and before Pacemaker, no ordering cycle (systemd-analyze verify)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-order-"));
    try {
      const put = (unit: string, name: string, text: string) => {
        fs.mkdirSync(path.join(dir, `${unit}.d`), { recursive: true });
        fs.writeFileSync(path.join(dir, `${unit}.d`, name), text);
      };
      put("resource-agents-deps.target", path.basename(AGENT_DEPS_PATH), renderAgentDeps());
      put("corosync.service", path.basename(COROSYNC_ORDER_PATH), renderCorosyncOrder());
      const verify = () => {
        const r = spawnSync("systemd-analyze", ["verify", "pacemaker.service", "corosync.service"], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` }, encoding: "utf8" });
        return `${r.stdout}${r.stderr}`;
      };
      assert.doesNotMatch(verify(), /ordering cycle|Unknown|Failed/);
      // The check can fail: docker after corosync closes a cycle through the target.
      put("docker.service", "cycle.conf", "[Unit]\nAfter=corosync.service\n");
      assert.match(verify(), /Found ordering cycle/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("renders a drop-in systemd itself accepts (systemd-analyze verify reports no unknown key)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-units-"));
    try {
      const verify = (text: string) => {
        fs.mkdirSync(path.join(dir, "resource-agents-deps.target.d"), { recursive: true });
        fs.writeFileSync(path.join(dir, "resource-agents-deps.target.d", path.basename(AGENT_DEPS_PATH)), text);
        const r = spawnSync("systemd-analyze", ["verify", "resource-agents-deps.target"], { env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` }, encoding: "utf8" });
        return `${r.stdout}${r.stderr}`;
      };
      // The check can fail: a misspelt key is reported.
      assert.match(verify(renderAgentDeps().replace("After=", "Afterr=")), /Unknown key/);
      assert.doesNotMatch(verify(renderAgentDeps()), /Unknown|Failed|rror/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("ClusterCib", () => {
  const xml = renderCib(buildCibModel(c, fragments));

  it("ships the one rendered CIB to /etc/haha/cib.xml on every member and pushes it on change", () => {
    for (const m of members) {
      const f = named(`cib-${m.name}-cib`);
      assert.equal(f.inputs.path, CIB_PATH);
      assert.equal(fileText(resources, f), xml);
      assert.equal(f.inputs.onChange, CIB_PUSH_PATH);
      assert.match(fileText(resources, named(`cib-${m.name}-push-script`)) as string, /cibadmin --replace --scope configuration/);
    }
  });

  it("keeps the fence password out of the CIB and out of every non-secret input", () => {
    assert.doesNotMatch(xml, /fencing-password/);
    for (const m of members) {
      const f = named(`cib-${m.name}-fence-pve-password`);
      assert.equal(f.inputs.path, PVE_PASSWORD_FILE);
      assert.equal(f.inputs.mode, "0600");
      assert.ok(fileSecret(resources, f));
      assert.equal(named(`cib-${m.name}-fence-pve-password-write`).inputs.logging, "none");
    }
    for (const r of resources) {
      for (const [k, v] of Object.entries(r.inputs)) {
        if (r.secretInputs.includes(k)) continue;
        assert.doesNotMatch(JSON.stringify(v), /<secret:(fencing-password|cluster-authkey)/, `${r.name}.${k}`);
      }
    }
  });

  it("pushes only after the password files and the push script are on the member", () => {
    const urns = byUrn();
    for (const m of members) {
      const deps = named(`cib-${m.name}-cib-apply`).dependencies.map((u) => urns.get(u)?.name);
      assert.ok(deps.includes(`cib-${m.name}-fence-pve-password-write`));
      assert.ok(deps.includes(`cib-${m.name}-push-script-write`));
    }
  });

  it("states its intent in its args, derived from config alone", () => {
    const cib = resources.find((r) => r.type === "haha:pacemaker:Cib")!;
    assert.deepEqual(cib.inputs.intent, clusterIntent(c, members));
  });

  it("names every child after its component and parents it there", () => {
    const urns = byUrn();
    for (const r of resources) {
      if (r.type.startsWith("haha:pacemaker:") || r.type === "pulumi:pulumi:Stack") continue;
      const top = (u: string | undefined): RecordedResource | undefined => {
        const p = u ? urns.get(u) : undefined;
        return p && !p.type.startsWith("haha:pacemaker:") ? top(p.parent) : p;
      };
      const owner = top(r.parent);
      assert.ok(owner, `${r.name} has a pacemaker component above it`);
      assert.ok(r.name.startsWith(`${owner!.name}-`), `${r.name} under ${owner!.name}`);
    }
  });

  it("requires haha:bmcPassword when a node declares a BMC, naming the key", () => {
    const withBmc = mutatedConfig((raw) => (raw.nodes[1].bmc = { address: "10.0.181.62", username: "fence" }));
    assert.throws(
      () => new ClusterCib("cib2", { config: withBmc, members: clusterMembers(withBmc), connections, fencePassword: "x", fragments: [] }),
      /haha:bmcPassword is required: haha:nodes\[1\]\.bmc declare\(s\) a BMC/,
    );
  });
});
