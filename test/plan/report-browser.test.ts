// report.html as a person sees it: the prod plan's report and a generated 5-host stack's opened
// from disk in headless Chromium at a laptop's and a phone's size, light and dark. Every host,
// switch and member is labelled in the drawing, the failover timelines have their bars, nothing
// overflows the window, no label leaves its box or overlaps another, text keeps its contrast in
// both color schemes, and nothing is fetched from the network. Writes docs/report-prod.png.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { type Browser, launch } from "../helpers/browser";
import { PROD_STACK_FILE, prodConfig, ROOT } from "../helpers/config";
import { type PlanRun, tempDir, writeStackFile } from "../helpers/plan";
import { generatedRaw } from "../helpers/stacks";

/** The plan as a user runs it, without blocking: both stacks plan side by side. */
function runPlanCliAsync(args: string[]): Promise<PlanRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), ...args], { cwd: ROOT, env: { ...process.env, HAHA_DEBUG: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const CHECKS = path.join(__dirname, "../helpers/report-checks.js");
const SCREENSHOT = path.join(ROOT, "docs/report-prod.png");
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

let prodReport: string;
let bigReport: string;
let bigStack: string;

async function open(b: Browser, file: string): Promise<Page> {
  const page = await b.context.newPage();
  await page.goto(`file://${file}`);
  await page.addScriptTag({ path: CHECKS });
  return page;
}

const check = <T>(page: Page, expr: string) => page.evaluate(expr) as Promise<T>;

async function assertLaidOut(page: Page, what: string) {
  assert.deepEqual(await check<string[]>(page, "hahaChecks.overflow()"), [], `${what}: overflow`);
  assert.deepEqual(await check<string[]>(page, "hahaChecks.overlaps()"), [], `${what}: overlaps`);
  await check(page, "hahaChecks.openAll()");
  assert.deepEqual(await check<string[]>(page, "hahaChecks.overflow()"), [], `${what}, every scenario open: overflow`);
  assert.deepEqual(await check<string[]>(page, "hahaChecks.overlaps()"), [], `${what}, every scenario open: overlaps`);
}

describe("the in-page checks", () => {
  it("catch an overlap, a label out of its box, an overflow and poor contrast", async () => {
    // A page built to fail each check once (test input, not the report).
    const file = path.join(tempDir("report-test-"), "bad.html");
    fs.writeFileSync(
      file,
      `<!DOCTYPE html><html><body style="margin:0"><div style="width:2000px">wide</div><p style="color:#eee;background:#fff">faint</p>
<svg viewBox="0 0 200 100" width="200"><g data-box="1"><rect x="0" y="0" width="50" height="30"/><text x="5" y="20" font-size="12" style="fill:#fff">far too long for its box</text></g>
<text x="5" y="80" font-size="12">one</text><text x="8" y="82" font-size="12">two</text></svg></body></html>`,
    );
    const b = await launch({ width: 390, height: 844 });
    try {
      const page = await open(b, file);
      const overflow = await check<string[]>(page, "hahaChecks.overflow()");
      assert.ok(overflow.some((p) => p.startsWith("document.scrollWidth 2000")), overflow.join("\n"));
      const overlaps = await check<string[]>(page, "hahaChecks.overlaps()");
      assert.ok(overlaps.some((p) => /"far too long for its box" leaves its box/.test(p)), overlaps.join("\n"));
      assert.ok(overlaps.some((p) => /"one" overlaps <text> "two"/.test(p)), overlaps.join("\n"));
      const contrast = await check<{ problems: string[] }>(page, "hahaChecks.contrast(3)");
      assert.ok(contrast.problems.some((p) => p.includes('"faint"')), contrast.problems.join("\n"));
    } finally {
      await b.close();
    }
  });
});

describe("report.html opened in Chromium", () => {
  before(async () => {
    const prodOut = tempDir("report-test-");
    const bigOut = tempDir("report-test-");
    const bigFile = writeStackFile(generatedRaw(5), "five");
    bigStack = "five";
    // A lab's measurements beside the 5-host plan, as the namespace lab writes them.
    fs.mkdirSync(path.join(bigOut, "lab-ns"), { recursive: true });
    fs.writeFileSync(path.join(bigOut, "lab-ns", "report.json"), JSON.stringify({ scenarios: [{ name: "fail-nllei01ha05", rounds: 5, ok: true, measured: { recoveryS: { min: 31.5, median: 38, max: 52.25 }, fencingMs: { min: 6100, median: 7400, max: 9900 } } }] }));
    const [prod, big] = await Promise.all([runPlanCliAsync(["--config", PROD_STACK_FILE, "--out", prodOut]), runPlanCliAsync(["--config", bigFile, "--out", bigOut])]);
    assert.equal(prod.status, 0, prod.stdout + prod.stderr);
    assert.equal(big.status, 0, big.stdout + big.stderr);
    prodReport = path.join(prodOut, "prod", "report.html");
    bigReport = path.join(bigOut, bigStack, "report.html");
    assert.match(prod.stdout.trimEnd().split("\n").at(-1)!, /^report: .*prod\/report\.html$/, "the summary ends with the report's path");
  });

  describe("report.html of prod in Chromium", () => {
    const c = prodConfig();
    for (const size of SIZES) {
      describe(`${size.width}x${size.height}`, () => {
        let b: Browser;
        let page: Page;
        before(async () => {
          b = await launch(size);
          page = await open(b, prodReport);
        });
        after(() => b.close());

        it("labels every switch, host, member, the voice guest and the peripherals in the drawing (SVG text)", async () => {
          const labels = (await check<string[]>(page, "hahaChecks.topologyLabels()")).join("\n");
          for (const s of c.switches) assert.ok(labels.includes(s.name), `switch ${s.name}`);
          for (const n of c.nodes) {
            assert.ok(labels.includes(n.name), `host ${n.name}`);
            assert.ok(labels.includes(n.guest.name), `member ${n.guest.name}`);
            for (const [i, slave] of n.bond.slaves.entries()) {
              assert.ok(labels.includes(slave), `slave ${slave}`);
              assert.ok(labels.includes(n.bond.switchPorts[i]!), `switch port ${n.bond.switchPorts[i]}`);
            }
          }
          assert.ok(labels.includes(c.voice!.ollama.guest.name), "voice guest");
          assert.ok(labels.includes(`services VIP ${c.network.vip}`), "services VIP");
          assert.ok(labels.includes(`storage VIP ${c.network.storageVip}`), "storage VIP");
          assert.ok(labels.includes("homeassistant"), "a service");
          assert.match(labels, /DRBD replica \(nvme-pve01\)/);
          assert.ok(labels.includes("Zigbee coordinator") && labels.includes(c.peripherals.bluetoothProxies[0]!.name), "peripherals");
        });

        it("draws each member failure as a timeline with its bars", async () => {
          for (const n of c.nodes) {
            const bars = await check<{ label: string; width: number }[]>(page, `hahaChecks.bars("fail-${n.guest.name}")`);
            assert.ok(bars.some((x) => x.label === "detection" && x.width > 0), `fail-${n.guest.name}: detection bar`);
            assert.ok(bars.some((x) => x.label.startsWith("fencing: stonith") && x.width > 0), `fail-${n.guest.name}: fencing bar`);
          }
          const allUp = await check<{ label: string }[]>(page, `hahaChecks.bars("all-up")`);
          assert.ok(allUp.some((x) => x.label.startsWith("start homeassistant")), "all-up: homeassistant start on the critical path");
        });

        it("shows survives / lost in words for each failure domain", async () => {
          const text = await page.locator("#failure-domains").innerText();
          for (const n of c.nodes) assert.match(text, new RegExp(`host ${n.name}: survivable`));
          assert.match(text, /switch nllei01sw01: breaks the home \(waived\)/);
          assert.match(text, /cluster quorum lost/);
          assert.match(text, /Accepted by haha:waivers\[0\]/);
        });

        it("overflows nothing and overlaps no label", async () => {
          if (size.width === 1280) {
            // README's picture: the page from its top to the end of the topology drawing.
            const box = (await page.locator("#topology").boundingBox())!;
            await page.screenshot({ path: SCREENSHOT, fullPage: true, clip: { x: 0, y: 0, width: size.width, height: Math.ceil(box.y + box.height + 16) } });
          }
          await assertLaidOut(page, `prod ${size.width}x${size.height}`);
          assert.deepEqual(b.network, [], "no network request");
        });
      });
    }
  });

  describe("report.html in dark mode", () => {
    for (const size of SIZES) {
      it(`keeps text readable at ${size.width}x${size.height}, light and dark`, async () => {
        const seen: number[] = [];
        for (const scheme of ["light", "dark"] as const) {
          const b = await launch(size, scheme);
          try {
            const page = await open(b, prodReport);
            const r = await check<{ problems: string[]; worst: number; background: number }>(page, "hahaChecks.contrast(3)");
            assert.deepEqual(r.problems, [], `${scheme}: contrast`);
            seen.push(r.background);
          } finally {
            await b.close();
          }
        }
        assert.ok(seen[0]! > 0.8 && seen[1]! < 0.1, `the page follows the color scheme (background luminance light ${seen[0]}, dark ${seen[1]})`);
      });
    }
  });

  describe("report.html of a generated 5-host stack", () => {
    const raw = generatedRaw(5);
    for (const size of SIZES) {
      it(`draws every host without overlaps at ${size.width}x${size.height}, with the lab's measurements`, async () => {
        const b = await launch(size);
        try {
          const page = await open(b, bigReport);
          const labels = (await check<string[]>(page, "hahaChecks.topologyLabels()")).join("\n");
          for (const n of raw.nodes) assert.ok(labels.includes(n.name) && labels.includes(n.guest.name), `host ${n.name} and member ${n.guest.name}`);
          const bars = await check<{ label: string; width: number }[]>(page, `hahaChecks.bars("fail-nllei01ha05")`);
          const lab = bars.filter((x) => x.label.startsWith("lab-ns measured"));
          assert.equal(lab.length, 2, "one range bar per measured quantity");
          assert.ok(lab.some((x) => /fencingMs over 5 rounds: min 6\.1 s, median 7\.4 s, max 9\.9 s/.test(x.label)), lab.map((x) => x.label).join("; "));
          await assertLaidOut(page, `5 hosts ${size.width}x${size.height}`);
        } finally {
          await b.close();
        }
      });
    }
  });
});
