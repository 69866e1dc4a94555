// The labs' one reader of crm_mon's XML: instances keep their top-level id and group (a cloned
// group lists one group per instance), members' states and failed actions come through.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseCrmMon } from "../../labs/common/crm-mon";
import { actualPlacement } from "../../labs/vm/placement";

const rsc = (id: string, role: string, node?: string, failed = false) =>
  `<resource id="${id}" resource_agent="ocf:heartbeat:Dummy" role="${role}" active="${role !== "Stopped"}" failed="${failed}">${node ? `<node name="${node}" id="1" cached="true"/>` : ""}</resource>`;

const OUT = `crm_mon: a line before the document is skipped
<pacemaker-result api-version="2.25" request="crm_mon -1 -r --output-as=xml">
  <summary><current_dc present="true" name="b" with_quorum="false"/></summary>
  <nodes>
    <node name="a" online="true" standby="true" unclean="false"/>
    <node name="b" online="true" standby="false" unclean="false"/>
    <node name="c" online="false" standby="false" unclean="true"/>
  </nodes>
  <resources>
    ${rsc("services-vip", "Started", "b")}
    <clone id="base-clone">
      <group id="base:0">${rsc("dlm", "Started", "a")}${rsc("fs", "Started", "a")}</group>
      <group id="base:1">${rsc("dlm", "Started", "b")}${rsc("fs", "Stopped", undefined, true)}</group>
    </clone>
    <group id="nfs-group">${rsc("nfs-server", "Started", "b")}</group>
  </resources>
  <failures><failure op_key="fs_start_0" task="start" interval="0" node="b" exitstatus="error" exitreason="mount failed" status="complete"/><failure op_key="fence-pve_a_monitor_60000" task="monitor" interval="60000" node="a" exitstatus="error" exitreason="" status="complete"/></failures>
</pacemaker-result>`;

test("crm_mon XML: members, quorum, instances with their clone and group, failed actions", () => {
  const m = parseCrmMon(OUT)!;
  assert.deepEqual(m.online, ["a", "b"]);
  assert.deepEqual(m.standby, ["a"]);
  assert.deepEqual(m.unclean, ["c"]);
  assert.equal(m.dc, "b");
  assert.equal(m.quorate, false);
  assert.deepEqual(
    m.instances.map((i) => [i.id, i.top, i.group ?? "-", i.role, i.nodes.join(",")]),
    [
      ["services-vip", "services-vip", "-", "Started", "b"],
      ["nfs-server", "nfs-group", "nfs-group", "Started", "b"],
      ["dlm", "base-clone", "base:0", "Started", "a"],
      ["fs", "base-clone", "base:0", "Started", "a"],
      ["dlm", "base-clone", "base:1", "Started", "b"],
      ["fs", "base-clone", "base:1", "Stopped", ""],
    ],
  );
  assert.deepEqual(m.instances.filter((i) => i.failed).map((i) => i.id), ["fs"]);
  assert.deepEqual(m.failedOps, ["fs_start_0 on b: mount failed", "fence-pve_a_monitor_60000 on a: error"]);
  assert.deepEqual(m.failedResources, ["fs", "fence-pve_a"], "the resource id is the op_key without its task and interval, underscores and all");
});

test("crm_mon without a document (no cluster to ask) reads as nothing", () => {
  assert.equal(parseCrmMon("crm_mon: error: Could not connect to the CIB: Transport endpoint is not connected"), undefined);
});

test("VM lab placement: a cloned group runs only where every member of its instance runs", () => {
  const a = actualPlacement(OUT);
  assert.deepEqual(a.placed.get("base-clone"), { started: ["a"], promoted: [] });
  assert.deepEqual(a.placed.get("nfs-group"), { started: ["b"], promoted: [] });
  assert.deepEqual(a.failed, ["fs"]);
  assert.deepEqual(a.failedActions, ["fs_start_0 on b: mount failed", "fence-pve_a_monitor_60000 on a: error"]);
});
