// The services' CIB fragment: parameters checked against the docker agent's own metadata,
// timeouts above the declared starts, and Pacemaker's scheduler (crm_simulate) on the whole CIB
// as the pacemaker layer builds it (nodes, fencing, the VIP, the placement rules), with the
// shared mount standing in as a Dummy clone under its contract id: a monitor failure restarts
// only that service in place, a member failure moves the set, the real dependencies order the
// starts and everything else starts in parallel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { XMLParser } from "fast-xml-parser";
import { buildCibModel } from "../../../components/pacemaker/cib/build";
import { CIB_IDS } from "../../../components/pacemaker/cib/ids";
import { primitives, type CibFragment, type Order } from "../../../components/pacemaker/cib/model";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { serviceCatalog, servicesCibFragment } from "../../../components/services";
import { AGENT_DEFAULT_TIMEOUT_S, AGENT_MIN_GRACE_S, AGENT_STOP_RESERVE_S } from "../../../components/services/cib";
import { clusterMembers } from "../../../stacks/config/members";
import { checkPrimitiveParams } from "../../helpers/agent-metadata";
import { prodConfig } from "../../helpers/config";

const c = prodConfig();
const fragment = servicesCibFragment(c);
const prims = fragment.resources.flatMap(primitives);
const specs = serviceCatalog(c);
const members = clusterMembers(c).map((m) => m.name);

/** The storage layer's contract, as a stand-in: a clone named CIB_IDS.sharedMountClone on every member. */
const sharedMount: CibFragment = {
  source: "storage",
  resources: [
    {
      kind: "clone",
      id: CIB_IDS.sharedMountClone,
      child: { kind: "primitive", id: "shared-mount", class: "ocf", provider: "heartbeat", type: "Dummy", params: {}, ops: [{ name: "monitor", intervalS: 10, timeoutS: 20, reason: "stand-in" }] },
    },
  ],
  constraints: [],
};

/**
 * The grace the installed ocf:heartbeat:docker really gives `docker stop -t` for a stop timeout:
 * its stop action run for real, with a `docker` on PATH that reports the container running and
 * records the arguments it is called with.
 */
function agentStopGraceS(stopTimeoutS: number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-docker-agent-"));
  try {
    const calls = path.join(dir, "calls");
    fs.writeFileSync(path.join(dir, "docker"), `#!/bin/sh\necho "$*" >> '${calls}'\ncase "$1" in inspect) case "$*" in *Running*) echo true ;; esac ;; esac\nexit 0\n`, { mode: 0o755 });
    const r = spawnSync("/usr/lib/ocf/resource.d/heartbeat/docker", ["stop"], {
      encoding: "utf8",
      env: { PATH: `${dir}:/usr/sbin:/usr/bin:/sbin:/bin`, OCF_ROOT: "/usr/lib/ocf", OCF_RESOURCE_INSTANCE: "probe", OCF_RESKEY_name: "probe", OCF_RESKEY_image: "x", OCF_RESKEY_CRM_meta_timeout: String(stopTimeoutS * 1000), HA_LOGFILE: "/dev/null", HA_debug: "0" },
    });
    assert.equal(r.status, 0, `the docker agent's stop: ${r.stdout}${r.stderr}`);
    const stop = /^stop -t=(\d+) probe$/m.exec(fs.readFileSync(calls, "utf8"));
    assert.ok(stop, `the agent ran no docker stop -t: ${fs.readFileSync(calls, "utf8")}`);
    return Number(stop[1]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("the services CIB fragment", () => {
  it("has one ocf:heartbeat:docker primitive per service, named after it", () => {
    assert.deepEqual(prims.map((p) => p.id), specs.map((s) => s.id));
    for (const p of prims) assert.equal(`${p.class}:${p.provider}:${p.type}`, "ocf:heartbeat:docker");
    assert.ok(prims.length >= 6);
  });

  it("uses only parameters the installed docker agent declares, with values of their types", () => {
    assert.deepEqual(checkPrimitiveParams(prims), []);
  });

  it("starts the local alias of the pinned digest, never pulls, and says which pin in its description", () => {
    for (const s of specs) {
      const p = prims.find((x) => x.id === s.id)!;
      assert.equal(p.params.image, s.alias);
      assert.match(p.params.image!, /^localhost\/haha\/[a-z0-9]+:[A-Za-z0-9_.-]+-[a-f0-9]{12}$/);
      assert.ok(s.image.pinned.includes(`@sha256:${s.image.digest}`) && p.params.image!.endsWith(s.image.digest.slice(0, 12)));
      assert.equal(p.params.allow_pull, "false");
      assert.equal(p.params.reuse, "false");
      assert.equal(p.params.force_kill, "false");
      assert.ok(p.description?.includes(s.image.pinned));
    }
  });

  it("sets expectedStartS from config and start timeouts above it (never below the agent's 90 s), stops that always finish", () => {
    const declared: Record<string, number> = {
      mosquitto: c.services.mosquitto.expectedStartS,
      recorder: c.services.homeassistant!.recorder.expectedStartS,
      zigbee2mqtt: c.services.zigbee2mqtt!.expectedStartS,
      homeassistant: c.services.homeassistant!.expectedStartS,
      esphome: c.services.esphome!.expectedStartS,
      nodered: c.services.nodered!.expectedStartS,
      whisper: c.voice!.whisper.expectedStartS,
      piper: c.voice!.piper.expectedStartS,
    };
    for (const p of prims) {
      assert.equal(p.expectedStartS?.value, declared[p.id], p.id);
      assert.ok(p.expectedStartS!.reason.length > 10);
      const op = (n: string) => p.ops.find((o) => o.name === n)!;
      assert.ok(op("start").timeoutS > p.expectedStartS!.value, `${p.id}: start timeout above the declared start`);
      assert.ok(op("start").timeoutS >= AGENT_DEFAULT_TIMEOUT_S);
      // The installed agent gives docker stop exactly the grace the service declares (a hung
      // application costs that grace, no more), and keeps its 10 s for the kill and removal.
      const spec = specs.find((x) => x.id === p.id)!;
      assert.equal(agentStopGraceS(op("stop").timeoutS), Math.max(spec.stopGraceS, AGENT_MIN_GRACE_S), `${p.id}: docker stop grace`);
      assert.equal(op("stop").timeoutS - agentStopGraceS(op("stop").timeoutS), AGENT_STOP_RESERVE_S, `${p.id}: the agent's reserve after the grace`);
      for (const o of p.ops) assert.ok(o.reason.length > 10, `${p.id} ${o.name} has its reason`);
    }
  });

  it("probes the application, not the container: a monitor_cmd on every primitive, every 10 s for critical services", () => {
    for (const s of specs) {
      const p = prims.find((x) => x.id === s.id)!;
      assert.equal(p.params.monitor_cmd, s.probe.command.join(" "));
      assert.equal(p.params.query_docker_health, "false");
      const mon = p.ops.find((o) => o.name === "monitor")!;
      if (s.critical) assert.ok(mon.intervalS <= 10, `${s.id} is noticed within 10 s`);
      assert.ok(mon.timeoutS > 8, "longer than the probes' own 8 s limits");
    }
  });

  it("puts no secret into the CIB: passwords stay in files on the shared mount", () => {
    const xml = renderCib(buildCibModel(c, [sharedMount, fragment]));
    assert.doesNotMatch(xml, /POSTGRES_PASSWORD=|--env=[A-Z_]*(PASSWORD|TOKEN|SECRET)=|-P /);
  });

  it("orders only the real dependencies, Optional so a restart does not cascade", () => {
    const orders = fragment.constraints.filter((x): x is Order => x.kind === "order");
    assert.deepEqual(orders.map((o) => [o.first, o.then, o.orderKind]).sort(), [
      ["mosquitto", "zigbee2mqtt", "Optional"],
      ["recorder", "homeassistant", "Optional"],
    ]);
    assert.equal(fragment.constraints.filter((x) => x.kind !== "order").length, 0, "placement is the pacemaker layer's");
  });
});

// ---- Pacemaker's scheduler on the whole CIB --------------------------------------------------

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["rsc_action", "pseudo_action", "node", "resource", "clone"].includes(n) });
let dir: string;
let settled: string;

interface Sim {
  status: number | null;
  actions: { resource: string; op: string; node?: string; interval?: string }[];
  placement: Map<string, string[]>;
  next: string;
  graph: string;
}

function simulate(input: string, args: string[]): Sim {
  const next = path.join(dir, `next-${Math.random().toString(36).slice(2)}.xml`);
  const graph = path.join(dir, `graph-${Math.random().toString(36).slice(2)}.xml`);
  const r = spawnSync("crm_simulate", ["-x", input, "-S", "--output-as=xml", "--save-output", next, "-G", graph, ...args], { encoding: "utf8" });
  if (r.error) throw new Error(`crm_simulate is not installed (${r.error.message}): install pacemaker-cli-utils (CI installs it)`);
  const doc = parser.parse(r.stdout) as { "pacemaker-result": { transition?: { rsc_action?: Record<string, string>[] } } };
  const actions = (doc["pacemaker-result"].transition?.rsc_action ?? []).map((a) => ({ resource: a.resource!, op: a.op!, node: a.node, interval: a.interval }));
  // Where everything runs afterwards: crm_simulate on the saved state, no transition.
  const after = spawnSync("crm_simulate", ["-x", next, "--output-as=xml"], { encoding: "utf8" });
  const status = parser.parse(after.stdout) as { "pacemaker-result": { cluster_status: { resources: { resource?: { id: string; node?: { name: string }[] | { name: string } }[] } } } };
  const placement = new Map<string, string[]>();
  for (const res of status["pacemaker-result"].cluster_status.resources.resource ?? []) {
    const nodes = res.node ? (Array.isArray(res.node) ? res.node : [res.node]).map((n) => n.name) : [];
    placement.set(res.id, nodes);
  }
  return { status: r.status, actions, placement, next, graph: fs.readFileSync(graph, "utf8") };
}

/** Start operations that must complete before `resource` starts, per the transition graph. */
function startPredecessors(graphXml: string, resource: string): string[] {
  const g = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["synapse", "trigger", "rsc_op", "pseudo_event", "crm_event"].includes(n) }).parse(graphXml) as {
    transition_graph: { synapse?: { action_set: Record<string, { operation_key: string }[]>; inputs?: { trigger?: Record<string, { operation_key: string }[]>[] } }[] };
  };
  for (const s of g.transition_graph.synapse ?? []) {
    const op = Object.values(s.action_set).flat()[0];
    if (op?.operation_key !== `${resource}_start_0`) continue;
    return (s.inputs?.trigger ?? [])
      .flatMap((t) => Object.values(t).flat())
      .map((x) => x.operation_key)
      .filter((k) => k.endsWith("_start_0") && !k.startsWith(resource + "_"))
      .map((k) => k.replace(/_start_0$/, ""))
      .sort();
  }
  throw new Error(`no start of ${resource} in the graph`);
}

describe("Pacemaker's scheduler on the whole CIB (crm_simulate)", () => {
  let first: Sim;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-services-cib-"));
    const cib = path.join(dir, "cib.xml");
    fs.writeFileSync(cib, renderCib(buildCibModel(c, [sharedMount, fragment])));
    const verify = spawnSync("crm_verify", ["--xml-file", cib], { encoding: "utf8" });
    if (verify.error) throw new Error(`crm_verify is not installed: install pacemaker-cli-utils (CI installs it)`);
    // Warnings about a cluster with no status are expected; errors are not.
    assert.doesNotMatch(verify.stderr, /error/i, verify.stderr);
    first = simulate(cib, ["-q", "true", ...members.flatMap((m) => ["--node-up", m])]);
    settled = first.next;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("starts every service on the member holding the services VIP", () => {
    const vip = first.placement.get(CIB_IDS.servicesVip)!;
    assert.equal(vip.length, 1);
    for (const s of specs) assert.deepEqual(first.placement.get(s.id), vip, s.id);
  });

  it("starts services in parallel except where one needs another", () => {
    const services = new Set(specs.map((s) => s.id));
    for (const s of specs) {
      const before = startPredecessors(first.graph, s.id).filter((p) => services.has(p));
      assert.deepEqual(before, [...s.after].sort(), `${s.id} waits for exactly its dependencies`);
    }
  });

  for (const s of specs) {
    it(`restarts ${s.id} in place when its monitor fails, touching nothing else`, () => {
      const node = first.placement.get(s.id)![0]!;
      const intervalMs = s.probe.intervalS * 1000;
      const sim = simulate(settled, ["-i", `${s.id}_monitor_${intervalMs}@${node}=1`]);
      const changes = sim.actions.filter((a) => a.op === "start" || a.op === "stop");
      assert.deepEqual(
        changes.map((a) => `${a.op} ${a.resource} ${a.node}`),
        [`stop ${s.id} ${node}`, `start ${s.id} ${node}`],
      );
      assert.deepEqual(sim.placement.get(s.id), [node]);
    });
  }

  it("moves the whole set to one survivor when its member fails, dependencies first", () => {
    const node = first.placement.get(CIB_IDS.servicesVip)![0]!;
    const sim = simulate(settled, ["--node-fail", node]);
    const vip = sim.placement.get(CIB_IDS.servicesVip)!;
    assert.equal(vip.length, 1);
    assert.notEqual(vip[0], node);
    for (const s of specs) assert.deepEqual(sim.placement.get(s.id), vip, `${s.id} follows the VIP`);
    for (const s of specs) {
      const before = startPredecessors(sim.graph, s.id).filter((p) => specs.some((x) => x.id === p));
      assert.deepEqual(before, [...s.after].sort(), s.id);
    }
  });
});
