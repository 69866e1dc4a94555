// A tiny element tree for the report, serialised by fast-xml-parser's XMLBuilder (which escapes
// every text and attribute value): no markup is ever assembled from strings.
import { XMLBuilder } from "fast-xml-parser";

/** A node in XMLBuilder's ordered form: `{ tag: children, ":@": attributes }` or `{ "#text": s }`. */
export type XNode = Record<string, unknown>;
export type Attrs = Record<string, string | number | boolean | undefined>;
export type Child = XNode | string | number | undefined | null | false;

const PREFIX = "@_";

/** An element; `undefined`/`false` attributes and children are left out, strings become text. */
export function el(tag: string, attrs: Attrs = {}, ...children: (Child | Child[])[]): XNode {
  const kids: XNode[] = [];
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    kids.push(typeof c === "object" ? c : { "#text": String(c) });
  }
  const node: XNode = { [tag]: kids };
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    a[PREFIX + k] = v === true ? k : typeof v === "number" ? String(round(v)) : v;
  }
  if (Object.keys(a).length > 0) node[":@"] = a;
  return node;
}

/** Coordinates with at most two decimals keep the file small and stable. */
export const round = (n: number) => Math.round(n * 100) / 100;

// `meta` and `br` are HTML void elements: written as <meta .../>, never with an end tag.
const builder = new XMLBuilder({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: PREFIX, unpairedTags: ["meta", "br"], suppressUnpairedNode: false, processEntities: true, format: false });

export function serialize(nodes: XNode[]): string {
  return builder.build(nodes) as string;
}
