// A failover scenario as a horizontal bar chart in HTML and CSS (one layout for every width: on a
// phone each label sits above its bar): the fault at 0 s, detection, fencing and each start on the
// critical path one after the other (the plan's budget), the target as a line through every row,
// and a lab's measured min/median/max as a range bar with a median mark when a lab measured it.
import type { LabMeasurement, ReportScenario } from "./model";
import { el, type XNode } from "./xml";

interface Row {
  label: string;
  start: number;
  seconds: number;
  cls: string;
  /** Lab rows: median inside the range. */
  median?: number;
  value: string;
}

export const secs = (s: number) => `${Math.round(s * 10) / 10} s`;

function rowsOf(s: ReportScenario, lab: LabMeasurement[]): Row[] {
  const rows: Row[] = [];
  if (s.detectionS > 0) rows.push({ label: "detection", start: 0, seconds: s.detectionS, cls: "bar-detect", value: secs(s.detectionS) });
  let t = s.detectionS;
  for (const c of s.chain) {
    const fencing = c.action.startsWith("stonith");
    rows.push({ label: fencing ? `fencing: ${c.action}` : c.action, start: t, seconds: c.seconds, cls: fencing ? "bar-fence" : "bar-start", value: secs(c.seconds) });
    t += c.seconds;
  }
  for (const m of lab) {
    rows.push({
      label: `${m.lab} measured ${m.what} over ${m.rounds} rounds${m.ok ? "" : " (FAILED)"}: min ${secs(m.minS)}, median ${secs(m.medianS)}, max ${secs(m.maxS)}`,
      start: m.minS,
      seconds: m.maxS - m.minS,
      median: m.medianS,
      cls: "bar-lab",
      value: secs(m.medianS),
    });
  }
  return rows;
}

function niceStep(max: number): number {
  for (const s of [1, 2, 5, 10, 15, 20, 30, 60, 120, 300]) if (max / s <= 6) return s;
  return 600;
}

const pct = (n: number) => `${Math.round(n * 100) / 100}%`;

export function timelineHtml(s: ReportScenario, lab: LabMeasurement[]): XNode {
  const rows = rowsOf(s, lab);
  const maxS = Math.max(s.totalS, s.targetS ?? 0, ...lab.map((m) => m.maxS), 1);
  const step = niceStep(maxS);
  const axisMax = Math.ceil(maxS / step) * step;
  const at = (sec: number) => (sec / axisMax) * 100;
  const target = s.targetS !== undefined ? el("span", { class: "tl-target", style: `left: ${pct(at(s.targetS))}`, "aria-hidden": "true" }) : undefined;
  const fault = el("span", { class: "tl-fault", "aria-hidden": "true" });

  const ticks: XNode[] = [];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const edge = v === 0 ? "tick-first" : v >= axisMax ? "tick-last" : "";
    ticks.push(el("span", { class: `tl-tick ${edge}`.trim(), style: v >= axisMax ? "right: 0" : `left: ${pct(at(v))}`, "data-label": "tick" }, `${v} s`));
  }
  const row = (label: XNode | string, track: XNode[], cls = "") => el("div", { class: `tl-row ${cls}`.trim() }, el("span", { class: "tl-label" }, label), el("span", { class: "tl-track" }, fault, target, ...track));

  const body: XNode[] = [row("", ticks, "tl-axis"), row(el("strong", {}, "fault"), [])];
  for (const r of rows) {
    const end = at(r.start + r.seconds);
    const bar = el(
      "span",
      { class: `bar ${r.cls}`, style: `left: ${pct(at(r.start))}; width: max(2px, ${pct(at(r.seconds))})`, "data-bar": r.label, title: `${r.label}: ${r.value}` },
      r.median !== undefined ? el("span", { class: "tl-median", style: `left: ${pct(((r.median - r.start) / Math.max(r.seconds, 1e-9)) * 100)}` }) : undefined,
    );
    body.push(row(r.label, [bar, el("span", { class: "tl-value", style: `left: ${pct(end)}`, "data-label": "value" }, r.value)]));
  }
  const verdict = s.targetS === undefined ? undefined : s.totalS <= s.targetS ? "met" : "MISSED";
  body.push(
    row(el("strong", {}, `total ${secs(s.totalS)}`), [
      s.targetS !== undefined ? el("span", { class: `tl-target-label ${verdict === "met" ? "ok" : "bad"}`, style: `right: ${pct(100 - at(s.targetS))}`, "data-label": "target" }, `target ${secs(s.targetS)}: ${verdict}`) : undefined,
    ].filter((x): x is XNode => x !== undefined), "tl-total"),
  );
  return el("div", { class: "tl", role: "img", "aria-label": `Timeline of ${s.title}: total ${secs(s.totalS)}${verdict ? `, target ${secs(s.targetS!)} ${verdict}` : ""}`, "data-timeline": s.id }, ...body);
}
