// report.html: one self-contained page (no script, no network, no external file) rendered from
// the report's model. Pure: model in, HTML out.
import { WAIVED_VIOLATIONS } from "../../policies/waivers";
import { domainSvg, hostStates } from "./domains";
import type { LabMeasurement, ReportModel, ReportScenario } from "./model";
import { secs, timelineHtml } from "./timeline";
import { topologySvg } from "./topology";
import { el, serialize, type XNode } from "./xml";

// Colors live in variables so dark mode swaps them all; meaning is always also in words.
const CSS = `
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --line: #8c959f; --panel: #f6f8fa;
  --host: #eef2f7; --member: #ffffff; --voice: #fbf7ee; --switch: #e8eef9; --slave: #ffffff; --peri: #f3f0fa;
  --ok: #116329; --bad: #b3261e; --lostbg: #fdecea; --vip: #0b4f9c; --replica: #6a3d00; --service: #1b1f24;
  --detect: #8250df; --fence: #cf222e; --start: #0969da; --lab: #1a7f37; --target: #bf8700; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9da7b3; --line: #6e7681; --panel: #161b22;
    --host: #161b22; --member: #0d1117; --voice: #1f1a10; --switch: #12213a; --slave: #0d1117; --peri: #1c1630;
    --ok: #56d364; --bad: #ff7b72; --lostbg: #3d1214; --vip: #79c0ff; --replica: #e3b341; --service: #e6edf3;
    --detect: #a371f7; --fence: #f85149; --start: #388bfd; --lab: #3fb950; --target: #d29922; }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; padding: 16px; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, Segoe UI, Roboto, sans-serif; overflow-wrap: anywhere; }
main { max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 1em; margin: 0 0 6px; }
p, li, dd { max-width: 75ch; }
code { font-family: ui-monospace, DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 0.92em; }
nav a { margin-right: 12px; color: var(--vip); }
a { color: var(--vip); }
svg { display: block; max-width: 100%; height: auto; }
svg.topology { margin: 0 auto; }
.card svg.domain { width: min(100%, 420px); }
svg text { font-family: DejaVu Sans Mono, Menlo, Consolas, ui-monospace, monospace; fill: var(--fg); }
.verdict { font-weight: bold; }
.ok, .t-ok { color: var(--ok); fill: var(--ok); }
.bad, .t-bad { color: var(--bad); fill: var(--bad); }
svg .t-muted { fill: var(--muted); }
svg .t-strong, svg .t-label { fill: var(--fg); }
svg .t-value { fill: var(--fg); }
svg .t-vip { fill: var(--vip); }
svg .t-replica { fill: var(--replica); }
svg .t-service { fill: var(--service); }
svg .t-ok { fill: var(--ok); }
svg .t-bad { fill: var(--bad); }
rect.host { fill: var(--host); stroke: var(--line); }
rect.member { fill: var(--member); stroke: var(--vip); stroke-width: 1.5; }
rect.voice { fill: var(--voice); stroke: var(--line); stroke-dasharray: 4 3; }
rect.switch { fill: var(--switch); stroke: var(--line); }
rect.slave { fill: var(--slave); stroke: var(--line); }
rect.peripheral { fill: var(--peri); stroke: var(--line); }
rect.lost { fill: var(--lostbg); stroke: var(--bad); stroke-width: 2; stroke-dasharray: 6 4; }
path.cable { fill: none; stroke: var(--line); stroke-width: 1.5; }
line.tick { stroke: var(--line); }
line.fault { stroke: var(--fg); stroke-width: 1.5; }
line.target { stroke: var(--target); stroke-width: 2; stroke-dasharray: 5 3; }
line.median { stroke: var(--fg); stroke-width: 2; }
.tl { font-size: 13px; margin: 8px 0; }
.tl-row { display: grid; grid-template-columns: minmax(0, 22em) minmax(0, 1fr); column-gap: 10px; align-items: center; min-height: 22px; }
.tl-label { font-family: ui-monospace, DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 12px; }
.tl-track { position: relative; height: 22px; margin-right: 4.5em; }
.tl-axis .tl-track { border-bottom: 1px solid var(--line); }
.tl-tick { position: absolute; bottom: 2px; font-size: 11px; color: var(--muted); white-space: nowrap; transform: translateX(-50%); }
.tl-tick.tick-first { transform: none; padding-left: 5px; }
.tl-tick.tick-last { transform: none; }
.tl-fault { position: absolute; left: 0; top: 0; bottom: 0; border-left: 2px solid var(--fg); }
.tl-target { position: absolute; top: 0; bottom: 0; border-left: 2px dashed var(--target); }
.tl-total .tl-fault, .tl-total .tl-target { bottom: 50%; }
.bar { position: absolute; top: 4px; height: 14px; border-radius: 2px; }
.bar-detect { background: var(--detect); }
.bar-fence { background: var(--fence); }
.bar-start { background: var(--start); }
.bar-lab { background: var(--lab); opacity: 0.85; }
.tl-median { position: absolute; top: -3px; bottom: -3px; border-left: 3px solid var(--fg); margin-left: -1px; }
.tl-value { position: absolute; top: 2px; margin-left: 5px; font-size: 12px; white-space: nowrap; }
.tl-target-label { position: absolute; top: 2px; font-size: 12px; white-space: nowrap; font-weight: bold; }
.narrow { display: none; }
@media (max-width: 700px) { .wide { display: none; } .narrow { display: block; } body { padding: 10px; }
  .tl-row { grid-template-columns: minmax(0, 1fr); } .tl-label { padding-top: 4px; } .tl-axis .tl-label { display: none; } }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 340px), 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; }
.card.lost { border: 2px dashed var(--bad); }
.scenario { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; margin: 12px 0; }
details { margin: 8px 0; }
summary { cursor: pointer; font-weight: bold; }
ul { padding-left: 20px; margin: 6px 0; }
.status { font-weight: bold; font-family: ui-monospace, DejaVu Sans Mono, Menlo, Consolas, monospace; }
.rule { border-top: 1px solid var(--line); padding: 8px 0; }
.note { color: var(--muted); }
.legend span { margin-right: 14px; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 4px; border-radius: 2px; }
.s-detect { background: var(--detect); } .s-fence { background: var(--fence); } .s-start { background: var(--start); } .s-lab { background: var(--lab); } .s-target { background: var(--target); }
`;

// A <style> element's text is not unescaped by HTML parsers: keep it free of what the builder escapes.
if (/[<>&"']/.test(CSS)) throw new Error("report CSS must not contain < > & or quotes (they would be escaped inside <style>)");

const STATUS_WORDS: Record<string, string> = { pass: "PASS", fail: "FAIL", advisory: "ADVISORY", waived: "WAIVED", unknown: "UNKNOWN", "not-applicable": "N/A", disabled: "DISABLED" };

function topology(m: ReportModel): XNode {
  return el(
    "section",
    { id: "topology" },
    el("h2", {}, "Topology"),
    el("p", {}, `Switches on top, each Proxmox host with its bond slaves cabled to switch ports, the cluster member on each host and what runs where with all members up (from the failover simulation). Services VIP ${m.network.vip}, storage VIP ${m.network.storageVip} on ${m.network.bridge}.`),
    topologySvg(m, m.hosts.length, "wide"),
    topologySvg(m, 1, "narrow"),
  );
}

function domains(m: ReportModel): XNode {
  const cards = m.domains.map((d) => {
    const states = hostStates(m, d);
    const survivable = d.breaks.length === 0;
    const lostHosts = m.hosts.filter((h) => states.get(h.name) !== "survives").map((h) => `${h.name} (${states.get(h.name)})`);
    return el(
      "article",
      { class: survivable ? "card" : "card lost", id: `domain-${d.kind}-${d.name}`, "data-domain": d.name },
      el("h3", {}, `${d.kind} ${d.name}: `, el("span", { class: survivable ? "ok" : "bad" }, survivable ? "survivable" : d.waiver ? "breaks the home (waived)" : "breaks the home")),
      domainSvg(m, d),
      el("p", {}, el("strong", {}, "Lost: "), [...d.switches.map((s) => `switch ${s}`), ...lostHosts].join(", ") || "nothing else"),
      el("p", {}, el("strong", {}, "Survives: "), d.survivors.length ? `members ${d.survivors.join(", ")}` : "no cluster member"),
      survivable ? el("p", {}, d.summary) : el("ul", {}, ...d.breaks.map((b) => el("li", {}, b.text))),
      d.waiver ? el("p", { class: "note" }, `Accepted by haha:waivers[${d.waiver.index}]: ${d.waiver.reason}`) : undefined,
    );
  });
  return el("section", { id: "failure-domains" }, el("h2", {}, "Failure domains"), el("p", {}, "Each host and each switch (or switch stack) lost in turn, in the words of the failure-domains policy."), el("div", { class: "cards" }, ...cards));
}

function labFor(m: ReportModel, s: ReportScenario): LabMeasurement[] {
  return m.lab.filter((l) => l.scenario === s.id || l.scenario === s.title);
}

function scenario(m: ReportModel, s: ReportScenario): XNode {
  const lab = labFor(m, s);
  return el(
    "article",
    { class: "scenario", id: `scenario-${s.id}`, "data-scenario": s.id },
    el("h3", {}, `${s.title}: `, el("span", { class: s.ok ? "ok" : "bad" }, s.ok ? "ends as expected" : "ENDS WRONG"), `, total ${secs(s.totalS)}`),
    timelineHtml(s, lab),
    s.detectionNote ? el("p", { class: "note" }, `Detection: ${s.detectionNote}.`) : undefined,
    s.guestOnly ? el("p", { class: "note" }, `When only the guest dies and its host answers: fencing ${secs(s.guestOnly.fencingS)}, total ${secs(s.guestOnly.totalS)}.`) : undefined,
    lab.length === 0 ? el("p", { class: "note" }, "No lab has measured this scenario yet.") : undefined,
    s.problems.length ? el("ul", {}, ...s.problems.map((p) => el("li", { class: "bad" }, p))) : undefined,
  );
}

const KIND_TITLES: Record<string, string> = {
  "monitor-failure": "A monitor fails once: restart in place",
  "migration-threshold": "A resource fails migration-threshold times: it moves",
  standby: "Each member in standby (rolling maintenance)",
  "member-return": "A failed member returns: nothing fails back",
  "quorum-loss": "The majority is lost: nothing starts, nothing is fenced",
};

function timelines(m: ReportModel): XNode {
  const shown = m.scenarios.filter((s) => s.kind === "all-up" || s.kind === "member-fail");
  const rest = Object.entries(KIND_TITLES)
    .map(([kind, title]) => ({ title, list: m.scenarios.filter((s) => s.kind === kind) }))
    .filter((g) => g.list.length > 0);
  return el(
    "section",
    { id: "failover" },
    el("h2", {}, "Failover timelines"),
    el("p", {}, `${m.scenarios.length} scenarios simulated with Pacemaker's scheduler (crm_simulate): ${m.scenarios.filter((s) => s.ok).length} end as expected. Bars are the plan's budget along the critical path; a lab's measured min/median/max appear beside them when it has measured the scenario.`),
    el(
      "p",
      { class: "legend" },
      el("span", {}, el("span", { class: "swatch s-detect" }), "detection"),
      el("span", {}, el("span", { class: "swatch s-fence" }), "fencing"),
      el("span", {}, el("span", { class: "swatch s-start" }), "a start"),
      el("span", {}, el("span", { class: "swatch s-lab" }), "lab measured (min to max, line at median)"),
      el("span", {}, el("span", { class: "swatch s-target" }), "target"),
    ),
    ...shown.map((s) => scenario(m, s)),
    ...rest.map((g) => el("details", {}, el("summary", {}, `${g.title}: ${g.list.filter((s) => s.ok).length}/${g.list.length} as expected`), ...g.list.map((s) => scenario(m, s)))),
    m.lab.length === 0 ? el("p", { class: "note" }, "No lab report found (build/lab-ns/report.json, build/lab/report.json): only the plan's budget is shown.") : undefined,
    m.labProblems.length ? el("ul", {}, ...m.labProblems.map((p) => el("li", { class: "bad" }, `unreadable lab report: ${p}`))) : undefined,
  );
}

function labSection(m: ReportModel): XNode | undefined {
  const unmatched = m.lab.filter((l) => !m.scenarios.some((s) => l.scenario === s.id || l.scenario === s.title));
  if (unmatched.length === 0) return undefined;
  return el(
    "section",
    { id: "lab" },
    el("h2", {}, "Other lab measurements"),
    el("ul", {}, ...unmatched.map((l) => el("li", {}, `${l.lab} ${l.scenario} (${l.rounds} rounds, ${l.ok ? "ok" : "FAILED"}): ${l.what} min ${secs(l.minS)}, median ${secs(l.medianS)}, max ${secs(l.maxS)}`))),
  );
}

function policy(m: ReportModel): XNode {
  const p = m.policy;
  const waiverList = p.waivers.map((w) =>
    el("li", {}, el("strong", {}, `haha:waivers[${w.index}]`), ` ${w.policy}, target ${w.target}: ${w.reason}`),
  );
  const waivedCount = p.rules.reduce((n, r) => n + r.waived.length, 0);
  const rules = p.rules.map((r) => {
    const waived = new Map<number, string[]>();
    for (const w of r.waived) waived.set(w.waiver, [...(waived.get(w.waiver) ?? []), w.subject]);
    const bad = r.status === "fail" || r.status === "unknown";
    return el(
      "div",
      { class: "rule", "data-rule": r.name },
      el("span", { class: `status ${bad ? "bad" : r.status === "pass" ? "ok" : ""}` }, STATUS_WORDS[r.status] ?? r.status),
      ` `,
      el("strong", {}, r.name),
      ` (${r.level}): ${r.description}`,
      r.name === WAIVED_VIOLATIONS && waivedCount > 0 ? el("p", { class: "note" }, `${waivedCount} waived finding(s) in all, each listed under its rule above.`) : undefined,
      r.violations.length ? el("ul", {}, ...r.violations.map((v) => el("li", {}, `${v.subject}: ${v.problem}`, v.fix ? el("br", {}) : undefined, v.fix ? `fix: ${v.fix}` : undefined))) : undefined,
      waived.size
        ? el("ul", {}, ...[...waived].map(([i, subjects]) => el("li", {}, `waived by haha:waivers[${i}] (${subjects.length} finding${subjects.length === 1 ? "" : "s"}): ${subjects.join("; ")}. Reason: ${p.waivers.find((w) => w.index === i)?.reason ?? "?"}`)))
        : undefined,
    );
  });
  return el(
    "section",
    { id: "policies" },
    el("h2", {}, "Policy results"),
    el("p", {}, `Pack ${p.pack}: `, el("span", { class: p.ok ? "ok verdict" : "bad verdict" }, p.ok ? "no mandatory violation left" : "mandatory violations: unsafe to apply")),
    p.waivers.length ? el("div", {}, el("h3", {}, "Waivers"), el("ul", {}, ...waiverList)) : el("p", {}, "No waivers."),
    ...rules,
  );
}

export function renderReport(m: ReportModel): string {
  const title = `HAHA plan of stack ${m.stack}`;
  const doc = el(
    "html",
    { lang: "en" },
    el(
      "head",
      {},
      el("meta", { charset: "utf-8" }),
      el("meta", { name: "viewport", content: "width=device-width, initial-scale=1" }),
      el("meta", { name: "color-scheme", content: "light dark" }),
      el("title", {}, title),
      el("style", {}, CSS),
    ),
    el(
      "body",
      {},
      el(
        "main",
        {},
        el("h1", {}, title),
        el("p", { class: "verdict" }, "Verdict: ", el("span", { class: m.ok ? "ok" : "bad" }, m.ok ? "safe to apply" : "UNSAFE: see the policy results and failover scenarios below")),
        el("nav", {}, el("a", { href: "#topology" }, "Topology"), el("a", { href: "#failure-domains" }, "Failure domains"), el("a", { href: "#failover" }, "Failover"), el("a", { href: "#policies" }, "Policies")),
        topology(m),
        domains(m),
        timelines(m),
        labSection(m),
        policy(m),
      ),
    ),
  );
  return `<!DOCTYPE html>\n${serialize([doc])}\n`;
}
