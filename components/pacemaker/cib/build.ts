// The one CIB model: the pacemaker layer's own fragment (cluster properties, defaults, nodes,
// fencing, the services VIP) plus what storage and services contribute, plus the placement rules
// that tie the services to the VIP and the shared storage. Pure: config and fragments in, model out.
import { clusterMembers, type Member } from "../../../stacks/config/members";
import { subnetInfo } from "../../../stacks/config/net";
import type { HahaConfig } from "../../../stacks/config/schema";
import { fencingResources } from "./fencing";
import { CIB_IDS } from "./ids";
import type { CibFragment, CibModel, CibNode, CibResource, Colocation, Constraint, Op, Order, Primitive, Tunable } from "./model";
import { resourceIds } from "./model";

/** Fragment sources this layer adds; other layers use their own names. */
export const PACEMAKER_SOURCE = "pacemaker";
export const PLACEMENT_SOURCE = "placement";
/** The fragment whose top-level resources are the services placed with the services VIP. */
export const SERVICES_SOURCE = "services";
/** Cluster property the CIB push sets to the sha256 of /etc/haha/cib.xml it applied. */
export const CIB_DIGEST_PROPERTY = "haha-cib-sha256";

const s = (n: number) => `${n}s`;

/** cib-bootstrap-options: every value with why. */
export function clusterProperties(c: HahaConfig): Record<string, Tunable> {
  const f = c.cluster.fencing;
  const d = c.cluster.defaults;
  const watchdog = f.enabled && f.watchdog.enabled;
  return {
    "stonith-enabled": {
      value: f.enabled,
      reason: f.enabled ? "no member's services are started elsewhere until that member is known to be off" : "fencing disabled by haha:cluster.fencing.enabled (the policy pack refuses this)",
    },
    "stonith-action": { value: "reboot", reason: "a fenced guest boots again and rejoins as a spare; stickiness keeps the services where they went" },
    "stonith-watchdog-timeout": watchdog
      ? { value: s(2 * f.watchdog.timeoutS), reason: `2 x SBD_WATCHDOG_TIMEOUT (${f.watchdog.timeoutS} s): after this a member that lost quorum has certainly reset itself` }
      : { value: "0", reason: "watchdog self-fencing is off (haha:cluster.fencing.watchdog.enabled)" },
    "concurrent-fencing": { value: true, reason: "two members needing fencing at once are fenced in parallel, not one after the other" },
    "no-quorum-policy": {
      value: d.noQuorumPolicy,
      reason:
        d.noQuorumPolicy === "stop"
          ? "a partition without the majority stops its services, so the majority may safely run them"
          : `haha:cluster.defaults.noQuorumPolicy = ${d.noQuorumPolicy}`,
    },
    "symmetric-cluster": { value: true, reason: "any member may run any service unless a constraint says otherwise: no member is special" },
    "start-failure-is-fatal": { value: true, reason: "a failed start moves the service to another member at once instead of retrying on a broken one" },
    "cluster-recheck-interval": { value: s(d.clusterRecheckIntervalS), reason: "failure-timeout expiry is noticed at this granularity (haha:cluster.defaults.clusterRecheckIntervalS)" },
  };
}

export function rscDefaults(c: HahaConfig): Record<string, Tunable> {
  const d = c.cluster.defaults;
  return {
    "resource-stickiness": { value: d.resourceStickiness, reason: "nothing fails back when a member returns: a move costs an outage, staying costs nothing" },
    "migration-threshold": { value: d.migrationThreshold, reason: "restart in place first; after this many monitor failures on one member, move" },
    "failure-timeout": { value: s(d.failureTimeoutS), reason: "a member is trusted again for a service once it ran that long without failing" },
  };
}

export function opDefaults(timeoutScale = 1): Record<string, Tunable> {
  return {
    timeout: {
      value: `${Math.ceil(60 * timeoutScale)}s`,
      reason: `for operations that set no timeout of their own (an agent's probes, the watchdog device's start and stop)${timeoutScale === 1 ? "" : `; x${timeoutScale}: haha:cluster.defaults.opTimeoutScale`}`,
    },
    "record-pending": { value: true, reason: "crm_mon shows starts in progress during a failover, not just their results" },
  };
}

/** The services VIP: where users, the Zigbee coordinator and ESPHome devices reach the cluster. */
export function servicesVip(c: HahaConfig): Primitive {
  return {
    kind: "primitive",
    id: CIB_IDS.servicesVip,
    class: "ocf",
    provider: "heartbeat",
    type: "IPaddr2",
    description: `services VIP ${c.network.vip}`,
    params: { ip: c.network.vip, cidr_netmask: String(subnetInfo(c.network.subnet).prefix), nic: c.network.guestNic },
    ops: [
      { name: "start", intervalS: 0, timeoutS: 20, reason: "adding an address takes milliseconds; 20 s covers a slow arping" },
      { name: "stop", intervalS: 0, timeoutS: 20, reason: "removing an address takes milliseconds" },
      { name: "monitor", intervalS: 10, timeoutS: 20, reason: "a vanished address is noticed within 10 s" },
    ],
    expectedStartS: { value: 1, reason: "the address is up at once; gratuitous ARPs go out in the background (arp_bg)" },
  };
}

export function cibNodes(members: Member[]): CibNode[] {
  return members.map((m) => ({ id: m.nodeId, uname: m.name }));
}

/** The pacemaker layer's own resources and constraints: fencing and the services VIP. */
export function pacemakerFragment(c: HahaConfig, members: Member[]): CibFragment {
  const fencing = fencingResources(c, members);
  return { source: PACEMAKER_SOURCE, resources: [...fencing.primitives, servicesVip(c)], constraints: fencing.constraints, fencingLevels: fencing.levels };
}

/**
 * Where the services run: with the services VIP, after the shared storage is mounted. The
 * services are one unordered set (they start in parallel); dependencies between services are
 * the services layer's own constraints. Built from whatever the services fragment contributes.
 */
export function placementFragment(fragments: CibFragment[]): CibFragment {
  const all = new Set(fragments.flatMap((f) => f.resources.flatMap(resourceIds)));
  const services = fragments
    .filter((f) => f.source === SERVICES_SOURCE)
    .flatMap((f) => f.resources)
    .filter((r: CibResource) => r.kind !== "clone")
    .map((r) => r.id);
  const constraints: Constraint[] = [];
  const mount = all.has(CIB_IDS.sharedMountClone) ? CIB_IDS.sharedMountClone : undefined;
  if (mount) {
    constraints.push({
      kind: "colocation",
      id: "services-vip-with-shared-mount",
      score: "INFINITY",
      rsc: CIB_IDS.servicesVip,
      withRsc: mount,
      reason: "the VIP goes only where the shared storage is mounted, so the services that follow it find their data",
    } satisfies Colocation);
  }
  if (services.length > 0 && all.has(CIB_IDS.storageVip)) {
    constraints.push({
      kind: "colocation",
      id: "services-vip-apart-from-storage-vip",
      score: "-50",
      rsc: CIB_IDS.servicesVip,
      withRsc: CIB_IDS.storageVip,
      reason:
        "prefer the services and the NFS export on different members: losing one member then restarts the services or moves the export, not both; -50 is below the services' stickiness, so running services never move just for this",
    } satisfies Colocation);
  }
  if (services.length > 0) {
    constraints.push({
      kind: "colocation",
      id: "services-with-vip",
      score: "INFINITY",
      sets: [
        { id: "services-with-vip-services", resources: services, sequential: false },
        { id: "services-with-vip-vip", resources: [CIB_IDS.servicesVip] },
      ],
      reason: "every service runs where the services VIP is; they are not colocated with each other, so one failing does not stop the rest",
    } satisfies Colocation);
    if (mount) {
      constraints.push({
        kind: "order",
        id: "services-after-shared-mount",
        orderKind: "Mandatory",
        sets: [
          { id: "services-after-shared-mount-mount", resources: [mount] },
          { id: "services-after-shared-mount-services", resources: services, sequential: false },
        ],
        reason: "a service starts once its member has the shared data mounted; the services start at the same time unless the services layer orders them",
      } satisfies Order);
    }
    constraints.push({
      kind: "order",
      id: "services-after-vip",
      orderKind: "Optional",
      sets: [
        { id: "services-after-vip-vip", resources: [CIB_IDS.servicesVip] },
        { id: "services-after-vip-services", resources: services, sequential: false },
      ],
      reason:
        "when they start together the address comes first; Optional, because the services listen on every address: a VIP restarted in place must not restart them all",
    } satisfies Order);
  }
  return { source: PLACEMENT_SOURCE, resources: [], constraints };
}

/**
 * The whole CIB model: the pacemaker layer's fragment first, then the other layers' fragments in
 * the order given, then the placement rules. The model is checked (ids, references) when rendered.
 */
/** An op timeout as the CIB carries it under haha:cluster.defaults.opTimeoutScale: rounded up. */
export function scaledTimeoutS(seconds: number, scale: number): number {
  return Math.ceil(seconds * scale);
}

/**
 * Every op timeout times haha:cluster.defaults.opTimeoutScale, rounded up, and every recurring
 * monitor's interval times monitorIntervalScale; unchanged at 1 and 1.
 */
function scaleOps(fragments: CibFragment[], timeoutScale: number, intervalScale: number): CibFragment[] {
  if (timeoutScale === 1 && intervalScale === 1) return fragments;
  const op = (o: Op): Op => {
    const why: string[] = [];
    let next = o;
    if (timeoutScale !== 1) {
      next = { ...next, timeoutS: scaledTimeoutS(o.timeoutS, timeoutScale) };
      why.push(`timeout x${timeoutScale}: haha:cluster.defaults.opTimeoutScale`);
    }
    if (intervalScale !== 1 && o.intervalS > 0) {
      next = { ...next, intervalS: o.intervalS * intervalScale };
      why.push(`interval x${intervalScale}: haha:cluster.defaults.monitorIntervalScale`);
    }
    return why.length ? { ...next, reason: `${o.reason}; ${why.join("; ")}` } : o;
  };
  const prim = (p: Primitive): Primitive => ({ ...p, ops: p.ops.map(op) });
  const res = (r: CibResource): CibResource => {
    switch (r.kind) {
      case "primitive":
        return prim(r);
      case "group":
        return { ...r, members: r.members.map(prim) };
      case "clone":
        return { ...r, child: r.child.kind === "group" ? { ...r.child, members: r.child.members.map(prim) } : prim(r.child) };
    }
  };
  return fragments.map((f) => ({ ...f, resources: f.resources.map(res) }));
}

export function buildCibModel(c: HahaConfig, fragments: CibFragment[]): CibModel {
  const members = clusterMembers(c);
  const own = pacemakerFragment(c, members);
  const withOwn = scaleOps([own, ...fragments], c.cluster.defaults.opTimeoutScale, c.cluster.defaults.monitorIntervalScale);
  return {
    nodes: cibNodes(members),
    properties: clusterProperties(c),
    rscDefaults: rscDefaults(c),
    opDefaults: opDefaults(c.cluster.defaults.opTimeoutScale),
    fragments: [...withOwn, placementFragment(withOwn)],
  };
}
