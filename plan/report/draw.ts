// Drawing primitives shared by the report's pictures. Labels are monospace SVG text at a known
// size, so a label's width is its length times the font's advance: layouts size boxes from it
// and the browser test checks the result (no label leaves its box or overlaps another).
import { type Child, el, type XNode } from "./xml";

/** Advance of DejaVu Sans Mono (and most monospace faces) per em, with a little slack. */
const ADVANCE = 0.62;
export const textWidth = (s: string, size: number) => s.length * size * ADVANCE;
export const charsFitting = (width: number, size: number) => Math.max(1, Math.floor(width / (size * ADVANCE)));
export const lineHeight = (size: number) => Math.ceil(size * 1.4);

export interface Line {
  text: string;
  size: number;
  cls: string;
  bold?: boolean;
}

/** Breaks one string into lines of at most `max` characters, at spaces or commas where it can. */
export function breakText(s: string, max: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (rest.length > max) {
    let cut = Math.max(rest.lastIndexOf(" ", max), rest.lastIndexOf(",", max - 1) + 1);
    if (cut <= 0) cut = max;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) out.push(rest);
  return out;
}

/** Packs items into lines of at most `max` characters, joined with ", ". */
export function pack(items: string[], max: number, prefix = ""): string[] {
  const lines: string[] = [];
  let cur = prefix;
  for (const item of items) {
    const next = cur && cur !== prefix ? `${cur}, ${item}` : `${cur}${item}`;
    if (next.length + 1 <= max) cur = next;
    else {
      if (cur && cur !== prefix) {
        lines.push(`${cur},`);
        cur = item;
      } else cur = `${cur}${item}`;
    }
  }
  if (cur && cur !== prefix) lines.push(cur);
  return lines.flatMap((l) => breakText(l, max));
}

export function text(x: number, y: number, s: string, size: number, cls: string, opts: { bold?: boolean; anchor?: "start" | "middle" | "end" } = {}): XNode {
  return el("text", { x, y, "font-size": size, class: cls, "font-weight": opts.bold ? "bold" : undefined, "text-anchor": opts.anchor && opts.anchor !== "start" ? opts.anchor : undefined }, s);
}

/** Height of a stack of lines with `pad` above and below. */
export const linesHeight = (lines: Line[], pad: number) => lines.reduce((h, l) => h + lineHeight(l.size), 0) + 2 * pad;

/** Text lines top-down from (x, y): each line's baseline sits in its line box. */
export function textLines(x: number, y: number, lines: Line[]): XNode[] {
  const out: XNode[] = [];
  let cy = y;
  for (const l of lines) {
    const lh = lineHeight(l.size);
    out.push(text(x, cy + lh * 0.75, l.text, l.size, l.cls, { bold: l.bold }));
    cy += lh;
  }
  return out;
}

/**
 * A labelled box: a rectangle and what sits in it. `data-box` marks it as a container for the
 * browser test (every text inside must stay inside the rectangle).
 */
export function box(x: number, y: number, w: number, h: number, cls: string, children: Child[], attrs: Record<string, string> = {}): XNode {
  return el("g", { "data-box": "1", ...attrs }, el("rect", { x, y, width: w, height: h, rx: 6, class: cls }), ...children);
}

export function svg(width: number, height: number, title: string, cls: string, children: Child[]): XNode {
  return el(
    "svg",
    { xmlns: "http://www.w3.org/2000/svg", viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, width: Math.ceil(width), class: cls, role: "img", "aria-label": title },
    el("title", {}, title),
    ...children,
  );
}
