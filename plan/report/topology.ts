// The topology picture: switches on top, each Proxmox host below with its bond slaves cabled to
// their switch ports, the cluster member (and the voice guest) inside it, what runs where with all
// members up, and the network peripherals. `cols` hosts per row: all in one row for a wide
// screen (cables drawn), one per row for a phone (each slave names its switch port in words).
import { box, charsFitting, type Line, linesHeight, pack, svg, text, textLines, textWidth } from "./draw";
import type { ReportHost, ReportModel } from "./model";
import { el, type XNode } from "./xml";

const M = 16;
const COL = 316;
const GAP = 24;
const PAD = 8;
const NAME = 13;
const DETAIL = 11;
const PORT = 10;
const SW_H = 46;
const SLAVE_H = 38;
const CABLES = 72;

interface Placed {
  x: number;
  y: number;
  w: number;
  h: number;
}

function guestLines(h: ReportHost, width: number): Line[] {
  const max = charsFitting(width - 2 * PAD, DETAIL);
  const m = h.member;
  const lines: Line[] = [
    { text: `${m.name}: cluster member`, size: NAME - 1, cls: "t-strong", bold: true },
    ...pack([`VM ${m.vmid}`, m.address, `${m.cores} cores`, `${Math.round(m.memoryMiB / 1024)} GiB`], max).map((t) => ({ text: t, size: DETAIL, cls: "t-muted" })),
    ...pack([m.drbd], max).map((t) => ({ text: t, size: DETAIL, cls: m.replica ? "t-replica" : "t-muted", bold: !!m.replica })),
    { text: "with all members up, runs:", size: DETAIL, cls: "t-muted" },
  ];
  const of = (kind: string) => m.runs.filter((r) => r.kind === kind).map((r) => r.label);
  for (const v of of("vip")) lines.push({ text: v, size: DETAIL, cls: "t-vip", bold: true });
  for (const t of pack(of("service"), max)) lines.push({ text: t, size: DETAIL, cls: "t-service" });
  for (const t of pack(of("storage"), max, "storage: ")) lines.push({ text: t, size: DETAIL, cls: "t-muted" });
  for (const t of pack(of("fencing"), max, "fencing: ")) lines.push({ text: t, size: DETAIL, cls: "t-muted" });
  if (m.runs.length === 0) lines.push({ text: "nothing", size: DETAIL, cls: "t-muted" });
  return lines;
}

function voiceLines(h: ReportHost, width: number): Line[] {
  const v = h.voice!;
  const max = charsFitting(width - 2 * PAD, DETAIL);
  return [
    { text: v.name, size: NAME - 1, cls: "t-strong", bold: true },
    ...pack([`voice guest, ${v.critical ? "critical" : "not critical"}`], max).map((t) => ({ text: t, size: DETAIL, cls: "t-muted" })),
    ...pack([`VM ${v.vmid}`, v.address, `GPU ${v.gpu}`, `Ollama ${v.model}`], max).map((t) => ({ text: t, size: DETAIL, cls: "t-muted" })),
  ];
}

const slaveCols = 2;
const slaveRows = (h: ReportHost) => Math.ceil(Math.max(1, h.bond.slaves.length) / slaveCols);

function hostHeight(h: ReportHost): number {
  const inner = COL - 2 * PAD;
  let y = PAD + slaveRows(h) * (SLAVE_H + PAD) + linesHeight(hostHead(h), 0) + PAD;
  y += linesHeight(guestLines(h, inner), PAD) + PAD;
  if (h.voice) y += linesHeight(voiceLines(h, inner), PAD) + PAD;
  return y;
}

function hostHead(h: ReportHost): Line[] {
  const max = charsFitting(COL - 2 * PAD, DETAIL);
  return [
    { text: h.name, size: NAME, cls: "t-strong", bold: true },
    ...pack([`Proxmox host ${h.address}`, `${h.bond.name} ${h.bond.mode}`], max).map((t) => ({ text: t, size: DETAIL, cls: "t-muted" })),
  ];
}

/** One host; returns its drawing and where each slave's cable attaches (top centre). */
function hostDrawing(h: ReportHost, x: number, y: number, height: number): { node: XNode; slaves: { x: number; y: number; switch?: string }[] } {
  const inner = COL - 2 * PAD;
  const sw = (inner - (slaveCols - 1) * PAD) / slaveCols;
  const slaves: { x: number; y: number; switch?: string }[] = [];
  const kids: XNode[] = [];
  h.bond.slaves.forEach((s, i) => {
    const sx = x + PAD + (i % slaveCols) * (sw + PAD);
    const sy = y + PAD + Math.floor(i / slaveCols) * (SLAVE_H + PAD);
    const port = s.switch ? `${s.switch}:${s.port}` : "no switch port declared";
    const maxPort = charsFitting(sw - 2 * 6, PORT);
    kids.push(
      box(sx, sy, sw, SLAVE_H, "slave", [
        text(sx + 6, sy + 15, s.name, DETAIL, "t-strong", { bold: true }),
        text(sx + 6, sy + 30, port.length > maxPort ? port.slice(port.length - maxPort) : port, PORT, "t-muted"),
      ]),
    );
    slaves.push({ x: sx + sw / 2, y: sy, switch: s.switch });
  });
  let cy = y + PAD + slaveRows(h) * (SLAVE_H + PAD);
  const head = hostHead(h);
  kids.push(...textLines(x + PAD, cy, head));
  cy += linesHeight(head, 0) + PAD;
  const g = guestLines(h, inner);
  const gh = linesHeight(g, PAD);
  kids.push(box(x + PAD, cy, inner, gh, "member", textLines(x + 2 * PAD, cy + PAD, g), { "data-member": h.member.name }));
  cy += gh + PAD;
  if (h.voice) {
    const v = voiceLines(h, inner);
    const vh = linesHeight(v, PAD);
    kids.push(box(x + PAD, cy, inner, vh, "voice", textLines(x + 2 * PAD, cy + PAD, v), { "data-voice": h.voice.name }));
  }
  return { node: box(x, y, COL, height, "host", kids, { "data-host": h.name }), slaves };
}

export function topologySvg(model: ReportModel, cols: number, cls: string): XNode {
  const n = model.hosts.length;
  cols = Math.max(1, Math.min(cols, n));
  const rows = Math.ceil(n / cols);
  const W = 2 * M + cols * COL + (cols - 1) * GAP;
  const kids: XNode[] = [];
  const cablesDrawn = rows === 1;

  // Switches: side by side when they fit, else one per row.
  // Wide enough to take its cables apart (when drawn): 16 units per cable.
  const cablesOf = (sw: string) => (cablesDrawn ? model.hosts.flatMap((h) => h.bond.slaves).filter((x) => x.switch === sw).length : 0);
  const swBoxes = model.switches.map((s) => ({ s, w: Math.max(textWidth(s.name, NAME) + 24, textWidth(`${s.model}${s.stackGroup ? `, stack ${s.stackGroup}` : ""}`, DETAIL) + 24, cablesOf(s.name) * 16) }));
  const side = swBoxes.reduce((a, b) => a + b.w, 0) + (swBoxes.length - 1) * GAP <= W - 2 * M;
  const swPlaced = new Map<string, Placed>();
  let y = M;
  swBoxes.forEach((b, i) => {
    const slot = (W - 2 * M) / swBoxes.length;
    const x = side ? M + slot * i + (slot - b.w) / 2 : (W - b.w) / 2;
    const sy = side ? y : y + i * (SW_H + PAD);
    swPlaced.set(b.s.name, { x, y: sy, w: b.w, h: SW_H });
    kids.push(
      box(x, sy, b.w, SW_H, "switch", [
        text(x + 12, sy + 18, b.s.name, NAME, "t-strong", { bold: true }),
        text(x + 12, sy + 36, `${b.s.model}${b.s.stackGroup ? `, stack ${b.s.stackGroup}` : ""}`, DETAIL, "t-muted"),
      ], { "data-switch": b.s.name }),
    );
  });
  y += side ? SW_H : swBoxes.length * (SW_H + PAD) - PAD;
  y += cablesDrawn ? CABLES : GAP;

  // Hosts of one row share its height; rows stack.
  const heights = model.hosts.map(hostHeight);
  const rowH = Array.from({ length: rows }, (_, r) => Math.max(...heights.slice(r * cols, (r + 1) * cols)));
  const attach: { x: number; y: number; switch?: string }[] = [];
  const hostNodes: XNode[] = [];
  let rowY = y;
  model.hosts.forEach((h, i) => {
    const r = Math.floor(i / cols);
    if (i > 0 && i % cols === 0) rowY += rowH[r - 1]! + GAP;
    const d = hostDrawing(h, M + (i % cols) * (COL + GAP), rowY, rowH[r]!);
    hostNodes.push(d.node);
    attach.push(...d.slaves);
  });
  if (cablesDrawn) {
    // Cables spread along each switch's bottom edge in the order of their slaves, so none cross.
    const cables: XNode[] = [];
    for (const [name, p] of swPlaced) {
      const mine = attach.filter((a) => a.switch === name).sort((a, b) => a.x - b.x);
      mine.forEach((a, k) => {
        const sx = p.x + ((k + 1) * p.w) / (mine.length + 1);
        const sy = p.y + p.h;
        const mid = (sy + a.y) / 2;
        cables.push(el("path", { d: `M ${sx.toFixed(1)} ${sy.toFixed(1)} C ${sx.toFixed(1)} ${mid.toFixed(1)}, ${a.x.toFixed(1)} ${mid.toFixed(1)}, ${a.x.toFixed(1)} ${a.y.toFixed(1)}`, class: "cable" }));
      });
    }
    kids.unshift(el("g", { class: "cables" }, ...cables));
  }
  kids.push(...hostNodes);
  y += rowH.reduce((a, b) => a + b, 0) + (rows - 1) * GAP + GAP;

  // Peripherals: on the network, never on a host; boxes flow left to right.
  const per: Line[][] = [];
  const z = model.peripherals.zigbee;
  if (z) per.push([{ text: "Zigbee coordinator", size: NAME - 1, cls: "t-strong", bold: true }, { text: z.model, size: DETAIL, cls: "t-muted" }, { text: `${z.host}:${z.port} (${z.adapter})`, size: DETAIL, cls: "t-muted" }]);
  for (const b of model.peripherals.bluetooth) per.push([{ text: "Bluetooth proxy", size: NAME - 1, cls: "t-strong", bold: true }, { text: b.name, size: DETAIL, cls: "t-muted" }, { text: `${b.address}, ${b.board}`, size: DETAIL, cls: "t-muted" }]);
  if (per.length) {
    const head = `On the network (${model.network.subnet}), never on a host:`;
    const headLines = pack([head], charsFitting(W - 2 * M, DETAIL));
    kids.push(...textLines(M, y, headLines.map((t) => ({ text: t, size: DETAIL, cls: "t-muted" }))));
    y += headLines.length * 16 + 4;
    let x = M;
    let rowH = 0;
    for (const lines of per) {
      const maxChars = charsFitting(W - 2 * M - 2 * PAD, DETAIL);
      const fitted = lines.flatMap((l) => pack([l.text], maxChars).map((t) => ({ ...l, text: t })));
      const w = Math.max(...fitted.map((l) => textWidth(l.text, l.size))) + 2 * PAD + 4;
      const h = linesHeight(fitted, PAD);
      if (x > M && x + w > W - M) {
        x = M;
        y += rowH + PAD;
        rowH = 0;
      }
      kids.push(box(x, y, w, h, "peripheral", textLines(x + PAD, y + PAD, fitted), { "data-peripheral": fitted[1]?.text ?? "" }));
      x += w + PAD;
      rowH = Math.max(rowH, h);
    }
    y += rowH;
  }
  return svg(W, y + M, `Topology of stack ${model.stack}: ${model.switches.length} switch(es), ${n} Proxmox hosts, one cluster member each`, `topology ${cls}`, kids);
}
