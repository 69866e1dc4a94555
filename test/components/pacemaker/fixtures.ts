// Stand-in storage and services fragments for the pacemaker layer's tests: the same shape as the
// real layers (a promotable clone promoted on the diskful members, a cluster filesystem clone, an
// NFS group with the storage VIP, the shared mount clone, services with dependencies and declared
// start times), built on agents that need no hardware (ocf:pacemaker:Stateful, ocf:heartbeat:Dummy),
// so the placement rules and the failover checks are exercised whatever the real layers hold today.
import { CIB_IDS } from "../../../components/pacemaker/cib/ids";
import type { CibFragment, Op, Primitive } from "../../../components/pacemaker/cib/model";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";

const mon = (intervalS: number, role?: Op["role"]): Op => ({ name: "monitor", intervalS, timeoutS: 20, role, reason: "fixture" });

export function dummy(id: string, expectedStartS?: number, extraOps: Op[] = []): Primitive {
  return {
    kind: "primitive",
    id,
    class: "ocf",
    provider: "heartbeat",
    type: "Dummy",
    params: {},
    ops: [{ name: "start", intervalS: 0, timeoutS: 60, reason: "fixture" }, mon(10), ...extraOps],
    expectedStartS: expectedStartS === undefined ? undefined : { value: expectedStartS, reason: "fixture" },
  };
}

export function storageFixture(c: HahaConfig): CibFragment {
  const members = clusterMembers(c);
  const diskful = members.filter((m) => m.diskful);
  return {
    source: "storage",
    resources: [
      {
        kind: "clone",
        id: "fx-drbd-clone",
        promotable: true,
        meta: { "promoted-max": { value: diskful.length, reason: "fixture" }, interleave: { value: true, reason: "fixture" } },
        child: {
          kind: "primitive",
          id: "fx-drbd",
          class: "ocf",
          provider: "pacemaker",
          type: "Stateful",
          params: {},
          ops: [mon(10, "Promoted"), mon(11, "Unpromoted")],
          expectedStartS: { value: 3, reason: "fixture" },
        },
      },
      { kind: "clone", id: "fx-fs-clone", meta: { interleave: { value: true, reason: "fixture" } }, child: dummy("fx-fs", 4) },
      { kind: "group", id: "fx-nfs-group", members: [dummy("fx-nfs-server", 20), dummy(CIB_IDS.storageVip, 1)] },
      { kind: "clone", id: CIB_IDS.sharedMountClone, meta: { interleave: { value: true, reason: "fixture" } }, child: dummy("fx-shared-mount", 2) },
    ],
    constraints: [
      ...members
        .filter((m) => !m.diskful)
        .map((m) => ({ kind: "location" as const, id: `fx-drbd-not-promoted-on-${m.name}`, rsc: "fx-drbd-clone", node: m.name, score: "-INFINITY", role: "Promoted" as const, reason: "fixture" })),
      { kind: "colocation", id: "fx-fs-with-drbd", score: "INFINITY", rsc: "fx-fs-clone", withRsc: "fx-drbd-clone", withRscRole: "Promoted", reason: "fixture" },
      { kind: "order", id: "fx-drbd-then-fs", first: "fx-drbd-clone", then: "fx-fs-clone", firstAction: "promote", thenAction: "start", reason: "fixture" },
      { kind: "colocation", id: "fx-nfs-with-fs", score: "INFINITY", rsc: "fx-nfs-group", withRsc: "fx-fs-clone", reason: "fixture" },
      { kind: "order", id: "fx-fs-then-nfs", first: "fx-fs-clone", then: "fx-nfs-group", reason: "fixture" },
      { kind: "order", id: "fx-nfs-then-mount", first: "fx-nfs-group", then: CIB_IDS.sharedMountClone, orderKind: "Mandatory", symmetrical: false, reason: "fixture" },
    ],
  };
}

/** Start times chosen so the slowest chain (recorder then homeassistant) is not the sum of all starts. */
export const SERVICE_STARTS: Record<string, number> = { "fx-mosquitto": 5, "fx-recorder": 10, "fx-homeassistant": 45, "fx-zigbee2mqtt": 20, "fx-nodered": 15 };

export function servicesFixture(): CibFragment {
  return {
    source: "services",
    resources: Object.entries(SERVICE_STARTS).map(([id, s]) => dummy(id, s)),
    constraints: [
      { kind: "order", id: "fx-z2m-after-mosquitto", first: "fx-mosquitto", then: "fx-zigbee2mqtt", orderKind: "Optional", reason: "fixture" },
      {
        kind: "order",
        id: "fx-ha-after-deps",
        orderKind: "Mandatory",
        sets: [
          { id: "fx-ha-deps", resources: ["fx-mosquitto", "fx-recorder"], sequential: false },
          { id: "fx-ha", resources: ["fx-homeassistant"] },
        ],
        reason: "fixture",
      },
    ],
  };
}
