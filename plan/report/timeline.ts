// A failover scenario as a horizontal bar chart: the fault at 0 s, detection, fencing and each
// start on the critical path one after the other (the plan's budget), the target as a line, and
// a lab's measured min/median/max as a range bar beside them when a lab measured this scenario.
import { charsFitting, lineHeight, pack, svg, text, textWidth } from "./draw";
import type { LabMeasurement, ReportScenario } from "./model";
import { el, type XNode } from "./xml";

const M = 12;
const SIZE = 11;
const BAR = 14;
const ROW = 22;
const VALUE_W = 52;

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
    rows.push({ label: `${m.lab} measured ${m.what} (${m.rounds} rounds)`, start: m.minS, seconds: m.maxS - m.minS, median: m.medianS, cls: "bar-lab", value: `${secs(m.minS)}/${secs(m.medianS)}/${secs(m.maxS)}` });
  }
  return rows;
}

function niceStep(max: number): number {
  for (const s of [1, 2, 5, 10, 15, 20, 30, 60, 120, 300]) if (max / s <= 6) return s;
  return 600;
}

/** `narrow`: each label on its own line above its bar (a phone's width). */
export function timelineSvg(s: ReportScenario, lab: LabMeasurement[], narrow: boolean, cls: string): XNode {
  const rows = rowsOf(s, lab);
  const maxS = Math.max(s.totalS, s.targetS ?? 0, ...lab.map((m) => m.maxS), 1);
  const step = niceStep(maxS);
  const axisMax = Math.ceil(maxS / step) * step;
  const W = narrow ? 360 : 760;
  const maxLabel = narrow ? charsFitting(W - 2 * M, SIZE) : 40;
  const labels = rows.map((r) => pack([r.label], maxLabel));
  const labelW = narrow ? 0 : Math.min(Math.max(...labels.flat().map((l) => textWidth(l, SIZE)), 60), textWidth("x".repeat(maxLabel), SIZE)) + 12;
  const valueW = Math.max(VALUE_W, ...rows.map((r) => textWidth(r.value, SIZE) + 8));
  const x0 = M + labelW;
  const bw = W - x0 - M - valueW;
  const X = (sec: number) => x0 + (sec / axisMax) * bw;
  const kids: XNode[] = [];

  // Axis with ticks on top.
  let y = M + lineHeight(SIZE);
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    kids.push(el("line", { x1: X(v), y1: y + 4, x2: X(v), y2: y + 8, class: "tick" }));
    kids.push(text(X(v), y, `${v} s`, SIZE - 1, "t-muted", { anchor: v === 0 ? "start" : v >= axisMax ? "end" : "middle" }));
  }
  y += 10;
  const top = y;
  kids.push(text(x0 + 4, y + 12, "fault", SIZE, "t-strong", { bold: true }));
  y += ROW;

  rows.forEach((r, i) => {
    const lines = labels[i]!;
    if (narrow) {
      for (const l of lines) {
        y += lineHeight(SIZE);
        kids.push(text(M, y - 3, l, SIZE, "t-label"));
      }
    }
    const by = y + (narrow ? 2 : (ROW - BAR) / 2);
    if (!narrow) lines.forEach((l, k) => kids.push(text(M, y + 15 + k * lineHeight(SIZE), l, SIZE, "t-label")));
    const w = Math.max(r.seconds > 0 ? (r.seconds / axisMax) * bw : 0, 2);
    kids.push(el("rect", { x: X(r.start), y: by, width: w, height: BAR, class: `bar ${r.cls}`, "data-bar": r.label }, el("title", {}, `${r.label}: ${r.value}`)));
    if (r.median !== undefined) kids.push(el("line", { x1: X(r.median), y1: by - 2, x2: X(r.median), y2: by + BAR + 2, class: "median" }));
    kids.push(text(X(r.start) + w + 4, by + BAR - 3, r.value, SIZE, "t-value"));
    y += narrow ? BAR + 6 : Math.max(ROW, lines.length * lineHeight(SIZE) + 6);
  });

  // The fault line and the target line run through every row.
  kids.push(el("line", { x1: X(0), y1: top, x2: X(0), y2: y, class: "fault" }));
  y += 4;
  const total = `total ${secs(s.totalS)}`;
  kids.push(text(M, y + 12, total, SIZE, "t-strong", { bold: true }));
  if (s.targetS !== undefined) {
    kids.push(el("line", { x1: X(s.targetS), y1: top, x2: X(s.targetS), y2: y, class: "target" }));
    const label = `target ${secs(s.targetS)}: ${s.totalS <= s.targetS ? "met" : "MISSED"}`;
    // Right-aligned on the target line, clear of the total on the left.
    const lx = Math.max(X(s.targetS), M + textWidth(total, SIZE) + 12 + textWidth(label, SIZE));
    kids.push(text(Math.min(lx, W - M), y + 12, label, SIZE, s.totalS <= s.targetS ? "t-ok" : "t-bad", { anchor: "end" }));
  }
  y += lineHeight(SIZE) + M;
  return svg(W, y, `Timeline of scenario ${s.title}: total ${secs(s.totalS)}`, `timeline ${cls}`, kids);
}
