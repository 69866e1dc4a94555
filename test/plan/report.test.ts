// The report's renderer alone (model in, HTML out) and the lab reports it reads: well-formed
// markup with everything escaped, no script and no external reference, and a lab report read
// with its schema (absent: skipped; malformed: named by file and key path).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { breakText, pack } from "../../plan/report/draw";
import { labMeasurements } from "../../plan/report/load";
import type { ReportModel } from "../../plan/report/model";
import { renderReport } from "../../plan/report/render";
import { topologySvg } from "../../plan/report/topology";
import type { XNode } from "../../plan/report/xml";
import { tempDir } from "../helpers/plan";

const EVIL = `<script>alert("x")</script> & 'quotes'`;

function model(): ReportModel {
  const host = (i: number) => ({
    name: `pve0${i}`,
    address: `10.0.0.1${i}`,
    bond: { name: "bond0", mode: "802.3ad", slaves: [{ name: "eno1", switch: "sw1", port: `Te1/0/${i}` }, { name: "eno2", switch: "sw1", port: `Te1/0/${i + 10}` }] },
    member: { name: `ha0${i}`, address: `10.0.0.2${i}`, vmid: 100 + i, cores: 2, memoryMiB: 4096, replica: i < 3 ? `nvme-${i}` : undefined, drbd: i < 3 ? "DRBD replica, Promoted" : "diskless", runs: i === 1 ? [{ label: "services VIP 10.0.0.50", kind: "vip" as const }, { label: EVIL, kind: "service" as const }] : [] },
  });
  return {
    stack: "t<1>",
    ok: true,
    network: { subnet: "10.0.0.0/24", vip: "10.0.0.50", storageVip: "10.0.0.51", bridge: "vmbr0" },
    switches: [{ name: "sw1", model: "M & N" }],
    hosts: [host(1), host(2), host(3)],
    peripherals: { zigbee: { model: "TubesZB", host: "10.0.0.40", port: 6638, adapter: "zstack" }, bluetooth: [] },
    domains: [{ name: "sw1", kind: "switch", hosts: [], switches: ["sw1"], survivors: [], summary: "switch sw1: losing it breaks", breaks: [{ kind: "quorum", text: "cluster quorum lost" }], waiver: { index: 0, reason: EVIL } }],
    scenarios: [{ id: "fail-ha01", title: "ha01 fails", kind: "member-fail", ok: true, problems: [], detectionS: 8, detectionNote: "token", fencingS: 16, chain: [{ action: "stonith ha01", seconds: 16, note: "" }, { action: "start homeassistant on ha02", seconds: 45, note: "" }], totalS: 69, targetS: 90 }],
    lab: [{ lab: "lab-ns", scenario: "fail-ha01", rounds: 3, ok: true, what: "recoveryS", minS: 30, medianS: 35, maxS: 40 }],
    labProblems: [],
    policy: { pack: "haha 0.1.0", ok: true, rules: [{ name: "failure-domains", level: "mandatory", status: "waived", description: "d", violations: [], waived: [{ subject: "failure domain switch sw1", waiver: 0 }] }], waivers: [{ index: 0, policy: "failure-domains", target: "sw1", reason: EVIL }] },
  };
}

describe("renderReport", () => {
  const html = renderReport(model());

  it("is one well-formed document with every value escaped", () => {
    assert.ok(html.startsWith("<!DOCTYPE html>\n<html"));
    assert.equal(XMLValidator.validate(html.replace(/^<!DOCTYPE html>\n/, "")), true);
    assert.ok(!html.includes("<script"), "no script element, not even from a value");
    assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;quotes&apos;"));
    assert.ok(html.includes("<title>HAHA plan of stack t&lt;1&gt;</title>"));
  });

  it("references nothing outside the file", () => {
    assert.doesNotMatch(html, /\b(src|href)="(?!#)/, "only in-page links");
    assert.doesNotMatch(html, /url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it("labels hosts, members, switch and slaves as SVG text, and draws the timeline's bars and the lab's range", () => {
    const doc = new XMLParser({ ignoreAttributes: false, preserveOrder: false, isArray: () => true }).parse(html.replace(/^<!DOCTYPE html>\n/, ""));
    const texts: string[] = [];
    const walk = (n: unknown, inSvg: boolean): void => {
      if (Array.isArray(n)) return n.forEach((x) => walk(x, inSvg));
      if (!n || typeof n !== "object") return;
      for (const [k, v] of Object.entries(n)) {
        if (k === "text" && inSvg) for (const x of [v].flat()) texts.push(typeof x === "object" ? String((x as Record<string, unknown>)["#text"]) : String(x));
        else walk(v, inSvg || k === "svg");
      }
    };
    walk(doc, false);
    for (const label of ["pve01", "pve02", "pve03", "ha01", "ha02", "ha03", "sw1", "eno1", "sw1:Te1/0/1", "services VIP 10.0.0.50", "Zigbee coordinator"]) assert.ok(texts.some((t) => t.includes(label)), `${label} in ${texts.join(" | ")}`);
    assert.equal((html.match(/data-bar="/g) ?? []).length, 4, "detection, fencing, one start, one lab range");
    assert.match(html, /lab-ns measured recoveryS over 3 rounds: min 30 s, median 35 s, max 40 s/);
    assert.match(html, /target 90 s: met/);
  });

  it("says survives / lost in words", () => {
    assert.match(html, /breaks the home \(waived\)/);
    assert.match(html, />lost</);
    assert.match(html, />cut off</);
  });
});

describe("labMeasurements", () => {
  it("skips absent lab reports", () => {
    assert.deepEqual(labMeasurements(tempDir("report-lab-")), { lab: [], problems: [] });
  });

  it("reads one with its schema, milliseconds as seconds", () => {
    const dir = tempDir("report-lab-");
    fs.mkdirSync(path.join(dir, "lab"));
    fs.writeFileSync(path.join(dir, "lab", "report.json"), JSON.stringify({ scenarios: [{ name: "fail-ha01", rounds: 2, ok: false, measured: { fencingMs: { min: 5000, median: 6000, max: 7500 } } }] }));
    assert.deepEqual(labMeasurements(dir), { lab: [{ lab: "lab-vm", scenario: "fail-ha01", rounds: 2, ok: false, what: "fencingMs", minS: 5, medianS: 6, maxS: 7.5 }], problems: [] });
  });

  it("names the file and key path of a malformed one", () => {
    const dir = tempDir("report-lab-");
    fs.mkdirSync(path.join(dir, "lab-ns"));
    fs.writeFileSync(path.join(dir, "lab-ns", "report.json"), JSON.stringify({ scenarios: [{ name: "x", rounds: 1, ok: true, measured: { recoveryS: { min: 1, max: 2 } } }] }));
    const r = labMeasurements(dir);
    assert.deepEqual(r.lab, []);
    assert.equal(r.problems.length, 1);
    assert.match(r.problems[0]!, /lab-ns\/report\.json: scenarios\.0\.measured\.recoveryS\.median: /);
    fs.writeFileSync(path.join(dir, "lab-ns", "report.json"), "{");
    assert.match(labMeasurements(dir).problems[0]!, /lab-ns\/report\.json: not JSON/);
  });
});

describe("layout", () => {
  it("packs and breaks labels within their width", () => {
    assert.deepEqual(pack(["esphome", "homeassistant", "mosquitto"], 24), ["esphome, homeassistant,", "mosquitto"]);
    assert.deepEqual(pack(["a", "b"], 20, "fencing: "), ["fencing: a, b"]);
    assert.deepEqual(pack([], 20, "fencing: "), []);
    for (const line of breakText("a-very-long-resource-name-without-spaces and more", 10)) assert.ok(line.length <= 10, line);
  });

  it("places host boxes apart for any number of hosts, in one row or one column", () => {
    const m = model();
    const base = m.hosts[0]!;
    m.hosts = Array.from({ length: 9 }, (_, i) => ({ ...structuredClone(base), name: `pve${i}`, member: { ...structuredClone(base.member), name: `ha${i}` } }));
    for (const cols of [9, 1]) {
      const hosts: { x: number; y: number; w: number; h: number }[] = [];
      const walk = (n: XNode) => {
        for (const [k, v] of Object.entries(n)) {
          if (k === ":@" || !Array.isArray(v)) continue;
          const attrs = (n[":@"] ?? {}) as Record<string, string>;
          if (k === "g" && attrs["@_data-host"]) {
            const rect = (v as XNode[])[0]!;
            const a = rect[":@"] as Record<string, string>;
            hosts.push({ x: +a["@_x"]!, y: +a["@_y"]!, w: +a["@_width"]!, h: +a["@_height"]! });
          }
          (v as XNode[]).forEach(walk);
        }
      };
      walk(topologySvg(m, cols, "t"));
      assert.equal(hosts.length, 9);
      for (const [i, a] of hosts.entries()) {
        for (const b of hosts.slice(i + 1)) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `cols ${cols}: ${JSON.stringify(a)} overlaps ${JSON.stringify(b)}`);
      }
    }
  });
});
