// The one CIB: the pacemaker layer's own fragment (properties, defaults, nodes, fencing, VIP), the
// placement rules built from whatever storage and services contribute, crm_verify on the whole
// document (and on deliberately broken ones), and every primitive checked against its agent.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildCibModel, CIB_DIGEST_PROPERTY, placementFragment, servicesVip } from "../../../components/pacemaker/cib/build";
import { clusterIntent, fenceApiHost, fencingPlan, PVE_PASSWORD_FILE, WATCHDOG_DEVICE_ID } from "../../../components/pacemaker/cib/fencing";
import { CIB_IDS } from "../../../components/pacemaker/cib/ids";
import { type CibFragment, type CibModel, type Colocation, type Order, type Primitive, primitives } from "../../../components/pacemaker/cib/model";
import { CibModelError, renderCib } from "../../../components/pacemaker/cib/serialize";
import { renderStackCib, stackCibModel } from "../../../components/pacemaker/cib/stack";
import { verifyCib } from "../../../plan/simulate";
import { parseCib } from "../../../plan/simulate-cib";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";
import { checkPrimitiveParams } from "../../helpers/agent-metadata";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { servicesFixture, storageFixture } from "./fixtures";

const names = (c: HahaConfig) => clusterMembers(c).map((m) => m.name);
const allPrimitives = (m: CibModel): Primitive[] => m.fragments.flatMap((f) => f.resources.flatMap(primitives));
const own = (m: CibModel) => m.fragments.find((f) => f.source === "pacemaker")!;
const withBmc = () =>
  mutatedConfig((raw) => {
    raw.nodes[0].bmc = { address: "10.0.181.61", username: "fence", lanplus: true };
  });

describe("cluster properties and defaults", () => {
  const m = buildCibModel(prodConfig(), []);
  const value = (rec: Record<string, { value: unknown }>, k: string) => rec[k]?.value;

  it("enables fencing, stops a minority, waits 2 x the SBD watchdog, and rechecks failure timeouts", () => {
    assert.equal(value(m.properties, "stonith-enabled"), true);
    assert.equal(value(m.properties, "no-quorum-policy"), "stop");
    assert.equal(value(m.properties, "stonith-watchdog-timeout"), "10s");
    assert.equal(value(m.properties, "cluster-recheck-interval"), "300s");
    assert.equal(m.properties["crm_feature_set"], undefined);
  });

  it("keeps services where they are (stickiness), moves after 3 failures, forgives after 10 min", () => {
    assert.equal(value(m.rscDefaults, "resource-stickiness"), 100);
    assert.equal(value(m.rscDefaults, "migration-threshold"), 3);
    assert.equal(value(m.rscDefaults, "failure-timeout"), "600s");
  });

  it("gives every tunable its reason", () => {
    for (const rec of [m.properties, m.rscDefaults, m.opDefaults]) for (const [k, t] of Object.entries(rec)) assert.ok(t.reason.length > 10, k);
    for (const p of allPrimitives(m)) for (const o of p.ops) assert.ok(o.reason.length > 10, `${p.id} ${o.name}`);
  });

  it("follows haha:cluster.defaults", () => {
    const c = mutatedConfig((raw) => (raw.cluster.defaults = { noQuorumPolicy: "freeze", resourceStickiness: 500, migrationThreshold: 2, failureTimeoutS: 60, clusterRecheckIntervalS: 60 }));
    const x = buildCibModel(c, []);
    assert.equal(value(x.properties, "no-quorum-policy"), "freeze");
    assert.equal(value(x.rscDefaults, "resource-stickiness"), 500);
    assert.equal(value(x.rscDefaults, "migration-threshold"), 2);
    assert.equal(value(x.rscDefaults, "failure-timeout"), "60s");
  });

  it("names the nodes by guest hostname with the corosync node id", () => {
    assert.deepEqual(m.nodes, clusterMembers(prodConfig()).map((x) => ({ id: x.nodeId, uname: x.name })));
  });
});

describe("the services VIP", () => {
  it("is an IPaddr2 on the configured NIC with the subnet's prefix", () => {
    const vip = servicesVip(mutatedConfig((raw) => ((raw.network.subnet = "10.0.176.0/20"), (raw.network.guestNic = "ens18"))));
    assert.equal(vip.id, CIB_IDS.servicesVip);
    assert.equal(`${vip.class}:${vip.provider}:${vip.type}`, "ocf:heartbeat:IPaddr2");
    assert.deepEqual(vip.params, { ip: "10.0.181.50", cidr_netmask: "20", nic: "ens18" });
    assert.ok(vip.ops.some((o) => o.name === "monitor" && o.intervalS > 0));
  });
});

describe("fencing", () => {
  it("puts fence_pve first for every guest, through a host that is not the guest's own", () => {
    const c = prodConfig();
    for (const { member, levels } of fencingPlan(c, clusterMembers(c))) {
      assert.equal(levels[0]!.agent, "fence_pve");
      assert.equal(levels[0]!.needsHost, member.host, "a proxied VM stop still needs the guest's host");
      assert.notEqual(fenceApiHost(c, member).name, member.host);
      const dev = own(buildCibModel(c, [])).resources.find((r) => r.id === levels[0]!.device) as Primitive;
      assert.equal(dev.params.ip, fenceApiHost(c, member).address);
      assert.equal(dev.params.pve_node, member.host);
      assert.equal(dev.params.pcmk_host_map, `${member.name}:${member.vmid}`);
      assert.equal(dev.params.username, "haha-fence@pve");
    }
  });

  it("never puts a password in the CIB: fence_pve reads it from a root-only file", () => {
    const c = prodConfig();
    const xml = renderCib(buildCibModel(c, []));
    assert.doesNotMatch(xml, /name="(passwd|password)"/);
    for (const p of allPrimitives(buildCibModel(c, []))) {
      if (p.type !== "fence_pve") continue;
      assert.equal(p.params.password_script, `/bin/cat ${PVE_PASSWORD_FILE}`);
    }
  });

  it("keeps a path that does not need the guest's own host for every member (watchdog), ordered after fence_pve", () => {
    const c = prodConfig();
    const m = buildCibModel(c, []);
    const levels = own(m).fencingLevels!;
    for (const name of names(c)) {
      assert.deepEqual(
        levels.filter((l) => l.target === name).map((l) => [l.index, l.devices]),
        [
          [1, [`fence-pve-${name}`]],
          [2, [WATCHDOG_DEVICE_ID]],
        ],
      );
    }
    const wd = own(m).resources.find((r) => r.id === WATCHDOG_DEVICE_ID) as Primitive;
    assert.equal(wd.type, "fence_watchdog");
    assert.equal(wd.params.pcmk_host_list, names(c).join(","));
  });

  it("adds fence_ipmilan on the host's BMC where one is declared, before the watchdog", () => {
    const c = withBmc();
    const plan = fencingPlan(c, clusterMembers(c));
    assert.deepEqual(plan[0]!.levels.map((l) => [l.level, l.agent, l.needsHost]), [
      [1, "fence_pve", "nllei01pve01"],
      [2, "fence_ipmilan", null],
      [3, "watchdog", null],
    ]);
    assert.deepEqual(plan[1]!.levels.map((l) => l.agent), ["fence_pve", "watchdog"]);
    const ipmi = allPrimitives(buildCibModel(c, [])).find((p) => p.type === "fence_ipmilan")!;
    assert.equal(ipmi.params.ip, "10.0.181.61");
    assert.equal(ipmi.params.lanplus, "1");
    assert.match(ipmi.params.password_script!, /^\/bin\/cat \/etc\/haha\/fence\/bmc\.password$/);
  });

  it("never runs a fence device on the member it fences", () => {
    const m = buildCibModel(withBmc(), []);
    for (const p of allPrimitives(m).filter((x) => x.class === "stonith" && x.id !== WATCHDOG_DEVICE_ID)) {
      const target = p.id.replace(/^fence-(pve|ipmi)-/, "");
      assert.ok(own(m).constraints.some((x) => x.kind === "location" && x.rsc === p.id && x.node === target && x.score === "-INFINITY"), p.id);
    }
  });

  it("declares nothing to fence with when fencing is disabled, and says so in the intent", () => {
    const c = mutatedConfig((raw) => (raw.cluster.fencing.enabled = false));
    const m = buildCibModel(c, []);
    assert.equal(m.properties["stonith-enabled"]!.value, false);
    assert.equal(m.properties["stonith-watchdog-timeout"]!.value, "0");
    assert.deepEqual(allPrimitives(m).filter((p) => p.class === "stonith"), []);
    const intent = clusterIntent(c, clusterMembers(c));
    assert.equal(intent.stonithEnabled, false);
    assert.ok(intent.fencing.every((f) => f.paths.length === 0));
  });

  it("states the intent the policy pack reads: votes, quorum policy, and which host each path needs", () => {
    const c = prodConfig();
    const intent = clusterIntent(c, clusterMembers(c));
    assert.deepEqual(intent.members.map((x) => x.votes), [1, 1, 1]);
    assert.equal(intent.noQuorumPolicy, "stop");
    for (const f of intent.fencing) {
      assert.deepEqual(f.paths, [
        { level: 1, agent: "fence_pve", needsHost: f.host },
        { level: 2, agent: "watchdog", needsHost: null },
      ]);
    }
    const noWatchdog = mutatedConfig((raw) => (raw.cluster.fencing.watchdog = { enabled: false, timeoutS: 5 }));
    const bare = clusterIntent(noWatchdog, clusterMembers(noWatchdog));
    assert.ok(bare.fencing.every((f) => f.paths.every((p) => p.needsHost === f.host)), "only fence_pve left: every path needs the member's own host");
  });
});

describe("placement rules", () => {
  const c = prodConfig();
  const fragments = [storageFixture(c), servicesFixture()];
  const placement = placementFragment([buildCibModel(c, []).fragments[0]!, ...fragments]);
  const byId = (id: string) => placement.constraints.find((x) => x.id === id);

  it("puts every service with the VIP in one unordered set: they start in parallel", () => {
    const col = byId("services-with-vip") as Colocation;
    const services = servicesFixture().resources.map((r) => r.id);
    assert.deepEqual(col.sets![0], { id: "services-with-vip-services", resources: services, sequential: false });
    assert.deepEqual(col.sets![1]!.resources, [CIB_IDS.servicesVip]);
    assert.equal(col.score, "INFINITY");
  });

  it("starts the services after the shared mount (Mandatory) and after the VIP only when both start (Optional)", () => {
    const mount = byId("services-after-shared-mount") as Order;
    assert.equal(mount.orderKind, "Mandatory");
    assert.deepEqual(mount.sets![0]!.resources, [CIB_IDS.sharedMountClone]);
    assert.equal(mount.sets![1]!.sequential, false);
    assert.equal((byId("services-after-vip") as Order).orderKind, "Optional");
    assert.deepEqual((byId("services-vip-with-shared-mount") as Colocation).withRsc, CIB_IDS.sharedMountClone);
  });

  it("prefers the services away from the NFS export, weaker than stickiness", () => {
    const apart = byId("services-vip-apart-from-storage-vip") as Colocation;
    assert.equal(apart.withRsc, CIB_IDS.storageVip);
    assert.ok(Number(apart.score) < 0 && -Number(apart.score) < c.cluster.defaults.resourceStickiness);
  });

  it("adds nothing to place when the services layer contributes nothing", () => {
    assert.deepEqual(placementFragment([buildCibModel(c, []).fragments[0]!]).constraints, []);
  });

  it("is built from whatever the services fragment holds, not from a list of names", () => {
    const odd: CibFragment = { source: "services", resources: [{ ...(servicesFixture().resources[0] as Primitive), id: "anything-else" }], constraints: [] };
    const col = placementFragment([odd]).constraints.find((x) => x.id === "services-with-vip") as Colocation;
    assert.deepEqual(col.sets![0]!.resources, ["anything-else"]);
  });
});

describe("the rendered CIB", () => {
  it("passes crm_verify for the stack as composed today (whatever storage and services contribute)", async () => {
    const c = prodConfig();
    const r = await verifyCib(renderStackCib(c), names(c));
    assert.ok(r.ok, r.messages.join("\n"));
  });

  it("passes crm_verify with the stand-in storage and services fragments", async () => {
    const c = prodConfig();
    const r = await verifyCib(renderCib(buildCibModel(c, [storageFixture(c), servicesFixture()])), names(c));
    assert.ok(r.ok, r.messages.join("\n"));
  });

  it("passes crm_verify with BMC fencing and with fencing off", async () => {
    for (const c of [withBmc(), mutatedConfig((raw) => (raw.cluster.fencing.enabled = false))]) {
      const r = await verifyCib(renderCib(buildCibModel(c, [])), names(c));
      assert.ok(r.ok, r.messages.join("\n"));
    }
  });

  it("scales every operation timeout by opTimeoutScale, rounded up, and still passes crm_verify", async () => {
    const base = stackCibModel(prodConfig());
    const slow = mutatedConfig((raw) => (raw.cluster.defaults = { ...(raw.cluster.defaults ?? {}), opTimeoutScale: 2.5 }));
    const scaled = stackCibModel(slow);
    const ops = (m: CibModel) => m.fragments.flatMap((f) => f.resources.flatMap(primitives)).flatMap((p) => p.ops.map((o) => ({ key: `${p.id}/${o.name}/${o.intervalS}`, t: o.timeoutS })));
    const before = new Map(ops(base).map((o) => [o.key, o.t]));
    const after = ops(scaled);
    assert.ok(after.length > 20 && after.length === before.size, "the same operations");
    for (const o of after) assert.equal(o.t, Math.ceil(before.get(o.key)! * 2.5), o.key);
    // and the default of operations that set none (an agent's probes, the watchdog device's stop)
    assert.equal(base.opDefaults.timeout!.value, "60s");
    assert.equal(scaled.opDefaults.timeout!.value, "150s");
    const r = await verifyCib(renderCib(scaled), names(slow));
    assert.ok(r.ok, r.messages.join("\n"));
  });

  it("scales every recurring monitor's interval by monitorIntervalScale (never a start or stop), and still passes crm_verify", async () => {
    const base = stackCibModel(prodConfig());
    const slow = mutatedConfig((raw) => (raw.cluster.defaults = { ...(raw.cluster.defaults ?? {}), monitorIntervalScale: 3 }));
    const scaled = stackCibModel(slow);
    const ops = (m: CibModel) => m.fragments.flatMap((f) => f.resources.flatMap(primitives)).flatMap((p) => p.ops.map((o, i) => ({ key: `${p.id}/${i}`, o })));
    const before = new Map(ops(base).map((x) => [x.key, x.o]));
    const after = ops(scaled);
    assert.ok(after.filter((x) => x.o.intervalS > 0).length > 10 && after.length === before.size, "the same operations, monitors among them");
    for (const { key, o } of after) {
      const was = before.get(key)!;
      assert.equal(o.intervalS, was.intervalS * 3, key);
      assert.equal(o.timeoutS, was.timeoutS, `${key}: the timeout stays`);
    }
    const r = await verifyCib(renderCib(scaled), names(slow));
    assert.ok(r.ok, r.messages.join("\n"));
  });

  it("refuses a monitorIntervalScale that is not a whole number from 1 to 10", () => {
    for (const bad of [0, 2.5, 11]) assert.throws(() => mutatedConfig((raw) => (raw.cluster.defaults = { monitorIntervalScale: bad })), /monitorIntervalScale/, String(bad));
  });

  it("is refused by crm_verify when deliberately broken", async () => {
    const c = prodConfig();
    const broken: [string, CibFragment][] = [
      ["a score that is not a score", { source: "broken", resources: [], constraints: [{ kind: "colocation", id: "bad", score: "sometimes", rsc: "fence-pve-nllei01ha01", withRsc: CIB_IDS.servicesVip, reason: "broken" }] }],
      ["an ocf agent without provider", { source: "broken", resources: [{ kind: "primitive", id: "noprov", class: "ocf", type: "Dummy", params: {}, ops: [] }], constraints: [] }],
      [
        "two monitors with one interval (schema-valid; crm_verify itself refuses it)",
        {
          source: "broken",
          resources: [
            {
              kind: "primitive",
              id: "dupmon",
              class: "ocf",
              provider: "heartbeat",
              type: "Dummy",
              params: {},
              ops: [
                { name: "monitor", intervalS: 10, timeoutS: 20, reason: "x" },
                { name: "monitor", intervalS: 10, timeoutS: 20, role: "Started", reason: "same interval" },
              ],
            },
          ],
          constraints: [],
        },
      ],
      [
        "an on-fail Pacemaker does not know",
        { source: "broken", resources: [{ kind: "primitive", id: "onfail", class: "ocf", provider: "heartbeat", type: "Dummy", params: {}, ops: [{ name: "monitor", intervalS: 10, timeoutS: 20, onFail: "explode" as never, reason: "broken" }] }], constraints: [] },
      ],
    ];
    for (const [what, frag] of broken) {
      const r = await verifyCib(renderCib(buildCibModel(c, [frag])), names(c));
      assert.equal(r.ok, false, what);
    }
  });

  it("refuses an inconsistent model before any tool sees it, naming the layer and the id", () => {
    const c = prodConfig();
    const dup: CibFragment = { source: "services", resources: [{ ...servicesVip(c) }], constraints: [] };
    assert.throws(() => renderCib(buildCibModel(c, [dup])), (e: Error) => e instanceof CibModelError && /services resource services-vip: id "services-vip" is already used by pacemaker/.test(e.message));
    const dangling: CibFragment = { source: "storage", resources: [], constraints: [{ kind: "order", id: "o", first: "nope", then: CIB_IDS.servicesVip, reason: "x" }] };
    assert.throws(() => renderCib(buildCibModel(c, [dangling])), /storage constraint o: names unknown resource "nope"/);
  });

  it("never carries crm_feature_set, and its digest property is left to the push", () => {
    const xml = renderStackCib(prodConfig());
    assert.doesNotMatch(xml, /crm_feature_set/);
    assert.doesNotMatch(xml, new RegExp(CIB_DIGEST_PROPERTY));
    assert.equal(parseCib(xml).properties["stonith-enabled"], "true");
  });
});

describe("agent parameters", () => {
  it("every primitive of the stack's CIB uses only parameters its agent declares, and all it requires", () => {
    const m = stackCibModel(prodConfig());
    assert.deepEqual(checkPrimitiveParams(allPrimitives(m)), []);
    assert.deepEqual(checkPrimitiveParams(allPrimitives(buildCibModel(withBmc(), []))), []);
  });

  it("finds an unknown parameter, a missing required one and a value of the wrong kind", () => {
    const vip = servicesVip(prodConfig());
    const pve = allPrimitives(buildCibModel(prodConfig(), [])).find((p) => p.type === "fence_pve")!;
    const problems = checkPrimitiveParams([
      { ...vip, id: "typo", params: { ...vip.params, netmask: "24" } },
      { ...vip, id: "noip", params: { nic: "eth0" } },
      { ...pve, id: "badmethod", params: { ...pve.params, method: "yank" } },
      { ...pve, id: "nouser", params: Object.fromEntries(Object.entries(pve.params).filter(([k]) => k !== "username")) },
      { kind: "primitive", id: "unit", class: "systemd", type: "docker", params: { x: "1" }, ops: [] },
    ]);
    assert.deepEqual(problems, [
      'typo: unknown parameter "netmask" for ocf:heartbeat:IPaddr2',
      'noip: required parameter "ip" of ocf:heartbeat:IPaddr2 is missing',
      "badmethod: parameter method=\"yank\" of stonith:fence_pve expects one of onoff, cycle",
      'nouser: required parameter "username" of stonith:fence_pve is missing',
      'unit: systemd:docker takes no parameters, but "x" is set',
    ]);
  });
});
