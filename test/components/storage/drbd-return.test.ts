// A fenced DRBD member that returns while the survivor is still bringing the export up (fence_pve
// powers it on again at once) must not restart the survivor's DRBD, OCFS2 and export. The fixture
// is the scheduler input the namespace lab's DC saved at that moment (pe-input, lab stand-ins for
// the storage agents, promotion score 10): Pacemaker 2.1.5 moved DRBD instance 0 from the
// promoted survivor to the returning member. The test puts the DRBD clone's meta attributes as
// the program renders them now into that state and asks the real scheduler (crm_simulate).
// The second fixture is a later lab run's: the DRBD instances stayed, but the returning member's
// promotion renumbered the OCFS2 clone's instances (both members score INFINITY through the
// colocation with the promoted DRBD), restarting the survivor's OCFS2 and its export group.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderStackCib } from "../../../components/pacemaker/cib/stack";
import { readStackFile } from "../../../stacks/config/load";
import { parseConfig } from "../../../stacks/config/validate";

const FIXTURE = path.join(__dirname, "fixtures/drbd-member-returns-mid-failover.xml");
const OCFS2_FIXTURE = path.join(__dirname, "fixtures/ocfs2-member-returns-mid-failover.xml");
const META = /(<clone id="drbd-haha-clone">\s*)<meta_attributes id="drbd-haha-clone-meta_attributes">[\s\S]*?<\/meta_attributes>/;
const OCFS2_META = /<meta_attributes id="ocfs2-fs-clone-meta_attributes">[\s\S]*?<\/meta_attributes>/;

function transition(xml: string): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-drbd-return-"));
  try {
    fs.writeFileSync(path.join(dir, "in.xml"), xml);
    const r = spawnSync("crm_simulate", ["-x", path.join(dir, "in.xml"), "-S"], { encoding: "utf8" });
    const out = `${r.stdout}${r.stderr}`;
    const summary = out.slice(out.indexOf("Transition Summary"), out.indexOf("Executing Cluster Transition"));
    assert.ok(summary.length > 0, `crm_simulate printed no transition summary: ${out.slice(0, 400)}`);
    return summary.split("\n").filter((l) => /^\s+\* /.test(l));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("DRBD clone: a member returning mid-failover", () => {
  const fixture = fs.readFileSync(FIXTURE, "utf8");
  const rendered = renderStackCib(parseConfig(readStackFile(path.join(__dirname, "../../../Pulumi.lab-ns.yaml")).raw, "Pulumi.lab-ns.yaml"));
  /** The scheduler's transition for a fixture with one clone's meta as the program renders it now. */
  const withRendered = (xml: string, re: RegExp, clone: string): string[] => {
    const meta = re.exec(rendered)?.[0];
    assert.ok(meta, `the rendered CIB has no ${clone} meta_attributes`);
    const patched = xml.replace(re, meta);
    assert.notEqual(patched, xml);
    return transition(patched);
  };

  it("the fixture shows the shuffle with the clone's meta as it was (the check can fail)", () => {
    const t = transition(fixture);
    assert.ok(t.some((l) => /Move\s+drbd-haha:\d/.test(l)), t.join("\n"));
    assert.ok(t.some((l) => /Restart\s+ocfs2-fs/.test(l)), t.join("\n"));
  });

  it("with the rendered meta, the survivor keeps its promoted instance, OCFS2 and export; the returning member only starts its own", () => {
    const t = withRendered(fixture, META, "drbd-haha-clone");
    assert.ok(!t.some((l) => /(Move|Stop|Demote|Restart)\s+(drbd-haha|ocfs2-fs|nfs-dirs|nfs-server)\b/.test(l)), t.join("\n"));
    assert.ok(t.some((l) => /Start\s+drbd-haha:\d\s+\(\s*nllei01ha01\s*\)/.test(l)), t.join("\n"));
    assert.ok(t.some((l) => /Start\s+storage-vip\s+\(\s*nllei01ha02\s*\)/.test(l)), t.join("\n"));
  });

  const ocfs2Fixture = fs.readFileSync(OCFS2_FIXTURE, "utf8");

  it("the OCFS2 fixture shows the renumbering with the clone's meta as it was (the check can fail)", () => {
    const t = transition(ocfs2Fixture);
    assert.ok(t.some((l) => /Move\s+ocfs2-fs:0\s+\(\s*nllei01ha02 -> nllei01ha01\s*\)/.test(l)), t.join("\n"));
    assert.ok(t.some((l) => /Restart\s+nfs-server/.test(l)), t.join("\n"));
  });

  it("with the rendered OCFS2 meta, the survivor keeps its mount and export; the returning member only starts its own", () => {
    const t = withRendered(ocfs2Fixture, OCFS2_META, "ocfs2-fs-clone");
    assert.ok(!t.some((l) => /(Move|Stop|Demote|Restart)\s+(drbd-haha|ocfs2-fs|nfs-dirs|nfs-server|nfs-export)/.test(l)), t.join("\n"));
    assert.ok(t.some((l) => /Start\s+ocfs2-fs:\d\s+\(\s*nllei01ha01\s*\)/.test(l)), t.join("\n"));
  });
});
