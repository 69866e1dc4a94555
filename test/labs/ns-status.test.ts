// The namespace lab's reading of crm_mon (labs/ns/main.ts): what a settled cluster is, and the
// reason it gives when a cluster is not (the report names it for a cluster it cannot bring back).
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { parseCrmMon, unsettled } from "../../labs/ns/main";

// Shaped as Pacemaker 2.1.5's crm_mon -1 --output-as=xml prints it (trimmed to what the lab reads).
const node = (name: string, id: number, a: Record<string, string> = {}) =>
  `<node name="${name}" id="${id}" online="${a.online ?? "true"}" standby="${a.standby ?? "false"}" pending="false" unclean="${a.unclean ?? "false"}" type="member"/>`;
const rsc = (id: string, on: string | undefined, role = "Started") =>
  `<resource id="${id}" resource_agent="ocf:heartbeat:docker" role="${role}" active="${on ? "true" : "false"}" failed="false" nodes_running_on="${on ? 1 : 0}">${on ? `<node name="${on}" id="1" cached="true"/>` : ""}</resource>`;
const xml = (o: { nodes: string[]; resources: string[]; failures?: string[]; quorum?: boolean }) => `noise before
<pacemaker-result api-version="2.25" request="crm_mon -1 --output-as=xml">
  <summary><current_dc present="true" name="a" id="1" with_quorum="${o.quorum ?? true}"/></summary>
  <nodes>${o.nodes.join("")}</nodes>
  <resources>${o.resources.join("")}<group id="nfs-group" number_resources="1">${rsc("storage-vip", "b")}</group></resources>
  ${o.failures ? `<failures>${o.failures.join("")}</failures>` : ""}
  <status code="0" message="OK"/>
</pacemaker-result>`;
const WANT = ["services-vip", "storage-vip", "mosquitto"];

describe("lab ns: crm_mon status", () => {
  it("a settled cluster: every member online, quorum, every wanted resource started", () => {
    const s = parseCrmMon(xml({ nodes: [node("a", 1), node("b", 2), node("c", 3)], resources: [rsc("services-vip", "a"), rsc("mosquitto", "a")] }));
    assert.ok(s);
    assert.equal(s.resources.find((r) => r.id === "storage-vip")?.node, "b");
    assert.deepEqual(unsettled(s, WANT, 3), []);
  });

  it("names why a cluster is not settled: members, quorum, standby, unclean, what is stopped, failed actions", () => {
    const s = parseCrmMon(
      xml({
        nodes: [node("a", 1), node("b", 2, { standby: "true" }), node("c", 3, { online: "false", unclean: "true" })],
        resources: [rsc("services-vip", "a"), rsc("mosquitto", undefined, "Stopped")],
        failures: ['<failure op_key="fence-pve-c_start_0" node="a" exitstatus="error" exitreason="" exitcode="1" status="complete"/>', '<failure op_key="mosquitto_monitor_10000" node="a" exitstatus="not running" exitreason="container gone" exitcode="7"/>'],
        quorum: false,
      }),
    );
    assert.ok(s);
    assert.equal(s.failures, 2);
    assert.deepEqual(unsettled(s, WANT, 3), [
      "2 of 3 members online (a, b)",
      "no quorum",
      "unclean (awaiting fencing): c",
      "in standby: b",
      "not started: mosquitto",
      "failed actions: fence-pve-c_start_0 on a: error; mosquitto_monitor_10000 on a: container gone",
    ]);
    assert.deepEqual(unsettled(undefined, WANT, 3), ["crm_mon answered on no running member"]);
  });
});
