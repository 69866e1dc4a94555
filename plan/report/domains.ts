// One small picture per failure domain: the switches and hosts, the lost ones dashed and marked
// "lost" in words, members cut off from every switch marked "cut off", the others "survives".
import { box, svg, text, textWidth } from "./draw";
import type { ReportDomain, ReportModel } from "./model";
import type { XNode } from "./xml";

const M = 10;
const GAP = 10;
const SIZE = 11;

export type HostState = "lost" | "cut off" | "survives";

export function hostStates(model: ReportModel, d: ReportDomain): Map<string, HostState> {
  const out = new Map<string, HostState>();
  for (const h of model.hosts) {
    if (d.hosts.includes(h.name)) out.set(h.name, "lost");
    else out.set(h.name, d.survivors.includes(h.member.name) ? "survives" : "cut off");
  }
  return out;
}

export function domainSvg(model: ReportModel, d: ReportDomain): XNode {
  const states = hostStates(model, d);
  const hostW = Math.max(...model.hosts.flatMap((h) => [textWidth(h.name, SIZE), textWidth(h.member.name, SIZE)]), textWidth("survives", SIZE)) + 16;
  const cols = Math.min(model.hosts.length, 3);
  const W = 2 * M + cols * hostW + (cols - 1) * GAP;
  const kids: XNode[] = [];
  let y = M;
  // Switches, one row each when they do not fit side by side.
  const swW = (s: string) => Math.max(textWidth(s, SIZE), textWidth("lost", SIZE)) + 16;
  let x = M;
  for (const s of model.switches) {
    if (x > M && x + swW(s.name) > W - M) {
      x = M;
      y += 44 + GAP;
    }
    const lost = d.switches.includes(s.name);
    kids.push(
      box(x, y, swW(s.name), 44, lost ? "switch lost" : "switch", [
        text(x + 8, y + 17, s.name, SIZE, "t-strong", { bold: true }),
        text(x + 8, y + 34, lost ? "lost" : "up", SIZE, lost ? "t-bad" : "t-ok", { bold: true }),
      ]),
    );
    x += swW(s.name) + GAP;
  }
  y += 44 + GAP + 6;
  model.hosts.forEach((h, i) => {
    const hx = M + (i % cols) * (hostW + GAP);
    const hy = y + Math.floor(i / cols) * (60 + GAP);
    const st = states.get(h.name)!;
    kids.push(
      box(hx, hy, hostW, 60, st === "survives" ? "host" : "host lost", [
        text(hx + 8, hy + 16, h.name, SIZE, "t-strong", { bold: true }),
        text(hx + 8, hy + 32, h.member.name, SIZE, "t-muted"),
        text(hx + 8, hy + 50, st, SIZE, st === "survives" ? "t-ok" : "t-bad", { bold: true }),
      ]),
    );
  });
  y += Math.ceil(model.hosts.length / cols) * (60 + GAP) - GAP + M;
  return svg(W, y, `Failure domain ${d.kind} ${d.name}: ${d.breaks.length === 0 ? "survivable" : "losing it breaks the home"}`, "domain", kids);
}
