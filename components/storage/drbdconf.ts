// A small typed serializer for drbd.conf(5) syntax: sections `name [args] { ... }` and options
// `name value...;`, with `#` comments carrying the reason of each choice. Pure; it refuses
// what drbdadm would misread (a quote or newline inside a string, a malformed keyword) instead
// of escaping it, so a rendered file is always read back exactly as modelled.

export interface DrbdOption {
  kind: "option";
  name: string;
  values: (string | number)[];
  /** Force double quotes (secrets, paths of handlers) even where a bare word would parse. */
  quote?: boolean;
  reason?: string;
}

export interface DrbdSection {
  kind: "section";
  name: string;
  args?: string[];
  body: DrbdStatement[];
  reason?: string;
}

export type DrbdStatement = DrbdOption | DrbdSection;

export class DrbdConfSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DrbdConfSyntaxError";
  }
}

const KEYWORD = /^[a-z][a-z0-9-]*$/;
/** What drbdadm's scanner reads as one bare token; anything else is quoted. */
const BARE = /^[A-Za-z0-9_./:+-]+$/;
/** Printable ASCII without `"` and `\`: what a quoted drbd.conf string can hold verbatim. */
const QUOTABLE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

function token(v: string | number, quote: boolean, where: string): string {
  const s = String(v);
  if (typeof v === "number" && !Number.isFinite(v)) throw new DrbdConfSyntaxError(`${where}: ${s} is not a number drbd.conf can hold`);
  if (!quote && BARE.test(s)) return s;
  if (!QUOTABLE.test(s)) throw new DrbdConfSyntaxError(`${where}: the value contains a quote, backslash, newline or non-ASCII character, which drbd.conf strings cannot hold verbatim`);
  return `"${s}"`;
}

function comment(text: string | undefined, indent: string): string[] {
  if (!text) return [];
  return text.split("\n").map((line) => `${indent}# ${line}`.trimEnd());
}

function statement(s: DrbdStatement, depth: number, where: string): string[] {
  const indent = "    ".repeat(depth);
  const here = `${where} ${s.name}`.trim();
  if (!KEYWORD.test(s.name)) throw new DrbdConfSyntaxError(`${here}: "${s.name}" is not a drbd.conf keyword`);
  if (s.kind === "option") {
    if (s.values.length === 0) throw new DrbdConfSyntaxError(`${here}: an option needs a value`);
    return [...comment(s.reason, indent), `${indent}${s.name} ${s.values.map((v) => token(v, s.quote ?? false, here)).join(" ")};`];
  }
  const args = (s.args ?? []).map((a) => token(a, false, here));
  const head = [s.name, ...args].join(" ");
  return [...comment(s.reason, indent), `${indent}${head} {`, ...s.body.flatMap((b) => statement(b, depth + 1, head)), `${indent}}`];
}

/** The file text: header comment lines, then each top-level statement. */
export function renderDrbdConf(statements: DrbdStatement[], header: string[] = []): string {
  const lines = [...header.map((h) => `# ${h}`.trimEnd()), ...statements.flatMap((s, i) => [...(i > 0 || header.length > 0 ? [""] : []), ...statement(s, 0, "")])];
  return lines.join("\n") + "\n";
}

export const opt = (name: string, values: (string | number)[] | string | number, reason?: string, quote?: boolean): DrbdOption => ({
  kind: "option",
  name,
  values: Array.isArray(values) ? values : [values],
  reason,
  quote,
});

export const section = (name: string, body: DrbdStatement[], reason?: string, args?: string[]): DrbdSection => ({ kind: "section", name, args, body, reason });
