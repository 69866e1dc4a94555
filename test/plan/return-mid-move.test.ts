// The failover budget's term for a fenced member that returns mid-move (plan/simulate-budget.ts):
// fence_pve's reboot powers the guest on again at once, and a start on a survivor that is ordered
// after a clone waits for that clone's instance on the returned member: its probes, then its own
// chain of clone starts. Read from the CIB's orders and the transition graph, timed from the
// declared starts; no timing of this machine is asserted.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROBE_ESTIMATE, rejoinProbes, returnMidMove, type Durations } from "../../plan/simulate-budget";
import { parseCib } from "../../plan/simulate-cib";
import type { GraphAction } from "../../plan/simulate";

const prim = (id: string) => `<primitive id="${id}" class="ocf" provider="heartbeat" type="Dummy"/>`;
const clone = (id: string, p: string, meta = "") => `<clone id="${id}">${meta}${prim(p)}</clone>`;
const interleaved = (id: string) => `<meta_attributes id="${id}-meta"><nvpair id="${id}-il" name="interleave" value="true"/></meta_attributes>`;
/** DRBD promote before OCFS2, dlm before OCFS2, OCFS2 before the export's group, the group before each member's mount. */
const CIB = `<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0"><configuration><crm_config/><nodes>
<node id="1" uname="a"/><node id="2" uname="b"/><node id="3" uname="c"/></nodes><resources>
${clone("drbd-clone", "drbd", interleaved("drbd-clone"))}${clone("dlm-clone", "dlm", interleaved("dlm-clone"))}${clone("ocfs2-clone", "ocfs2", interleaved("ocfs2-clone"))}
<group id="nfs-group">${prim("nfs-server")}${prim("storage-vip")}</group>
${clone("mount-clone", "mount", interleaved("mount-clone"))}${prim("app")}${prim("loner")}
</resources><constraints>
<rsc_order id="o1" first="drbd-clone" first-action="promote" then="ocfs2-clone" then-action="start"/>
<rsc_order id="o2" first="dlm-clone" then="ocfs2-clone"/>
<rsc_order id="o3" first="ocfs2-clone" then="nfs-group"/>
<rsc_order id="o4" first="nfs-group" then="mount-clone" kind="Mandatory" symmetrical="false"/>
<rsc_order id="o5" first="mount-clone" then="app"/>
<rsc_order id="o6" first="ocfs2-clone" then="loner" kind="Optional"/>
</constraints></configuration><status/></cib>`;

const STARTS: Record<string, number> = { drbd: 5, dlm: 3, ocfs2: 7, "nfs-server": 20, "storage-vip": 1, mount: 2, app: 10, loner: 4 };
const d: Durations = { start: (r) => ({ seconds: STARTS[r] ?? 0, note: `declared ${r}` }), fence: () => ({ seconds: 6, note: "fence" }) };
const start = (id: string, resource: string, node = "a"): GraphAction => ({ id, kind: "rsc_op", operation: "start", key: `${resource}_start_0`, resource, node, intervalMs: 0, inputs: [] });
const probes = { seconds: 3, note: "probes" };

describe("rejoinProbes: a returning member's probes, node-action-limit at a time", () => {
  it("waves of the per-probe estimate, twice the cores at once by default", () => {
    assert.equal(rejoinProbes(24, 4).seconds, 3 * PROBE_ESTIMATE.seconds);
    assert.equal(rejoinProbes(25, 4).seconds, 4 * PROBE_ESTIMATE.seconds);
    assert.equal(rejoinProbes(24, 1).seconds, 12 * PROBE_ESTIMATE.seconds);
    assert.match(rejoinProbes(24, 4).note, /24 probes, 8 at once/);
  });
  it("a configured node-action-limit wins over the cores", () => {
    assert.equal(rejoinProbes(24, 4, 5).seconds, 5 * PROBE_ESTIMATE.seconds);
    assert.match(rejoinProbes(24, 4, 5).note, /node-action-limit 5/);
  });
  it("refuses nonsense counts, naming them", () => {
    assert.throws(() => rejoinProbes(24, 0), /0 cores/);
    assert.throws(() => rejoinProbes(-1, 4), /-1 primitives/);
  });
});

describe("returnMidMove: what a survivor's start waits for when the fenced member rejoins", () => {
  const cib = parseCib(CIB);
  const storage = new Set(["drbd-clone", "dlm-clone", "ocfs2-clone", "mount-clone"]);

  it("the export's group waits for the returned member's probes, then its DRBD and OCFS2 (the slower of DRBD and dlm)", () => {
    const r = returnMidMove(cib, [start("1", "nfs-server"), start("2", "storage-vip")], d, storage, probes);
    assert.ok(r);
    assert.deepEqual(r.chain.map((c) => [c.action, c.seconds]), [
      ["probes on the returned member", 3],
      ["start drbd on the returned member", 5],
      ["start ocfs2 on the returned member", 7],
    ]);
    assert.equal(r.seconds, 15);
    assert.match(r.gate, /after ocfs2-clone/);
  });

  it("a slower dlm becomes the chain", () => {
    const slow: Durations = { ...d, start: (x) => (x === "dlm" ? { seconds: 9, note: "slow dlm" } : d.start(x)) };
    const r = returnMidMove(cib, [start("1", "nfs-server")], slow, storage, probes);
    assert.deepEqual(r?.chain.map((c) => c.action), ["probes on the returned member", "start dlm on the returned member", "start ocfs2 on the returned member"]);
    assert.equal(r?.seconds, 19);
  });

  it("a service after the members' mount waits only for the returned member's mount (the group it needs runs already)", () => {
    const r = returnMidMove(cib, [start("1", "app")], d, storage, probes);
    assert.deepEqual(r?.chain.map((c) => c.action), ["probes on the returned member", "start mount on the returned member"]);
    assert.equal(r?.seconds, 5);
  });

  it("the worst of the transition's gated starts is the term", () => {
    const r = returnMidMove(cib, [start("1", "app"), start("2", "storage-vip")], d, storage, probes);
    assert.equal(r?.seconds, 15);
  });

  it("no term when the returned member holds none of those clones, when nothing starts after a clone, or for an Optional order", () => {
    assert.equal(returnMidMove(cib, [start("1", "nfs-server")], d, new Set(), probes), undefined);
    assert.equal(returnMidMove(cib, [start("1", "loner")], d, storage, probes), undefined, "Optional orders do not hold a start");
    assert.equal(returnMidMove(cib, [start("1", "ocfs2")], d, storage, probes), undefined, "a clone's own instances are not held by another member's");
  });

  it("only the clones with an instance on the returned member count (a member without a replica has no DRBD to start)", () => {
    const r = returnMidMove(cib, [start("1", "nfs-server")], d, new Set(["dlm-clone", "ocfs2-clone"]), probes);
    assert.deepEqual(r?.chain.map((c) => c.action), ["probes on the returned member", "start dlm on the returned member", "start ocfs2 on the returned member"]);
  });
});
