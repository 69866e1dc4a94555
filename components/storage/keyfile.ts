// A small typed serializer for the `[section]` / `key=value` files this layer ships: nfs.conf(5)
// snippets and systemd units. Both read one key per line with `#` comments; neither has an
// escape for a newline, so values holding one are refused rather than written.

export interface KeyfileEntry {
  key: string;
  value: string | number | boolean;
  reason?: string;
}

export interface KeyfileSection {
  name: string;
  entries: KeyfileEntry[];
  reason?: string;
}

export class KeyfileSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyfileSyntaxError";
  }
}

const SECTION = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const KEY = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** `yes`/`no` for booleans (what both nfs.conf and systemd read). */
const show = (v: string | number | boolean) => (typeof v === "boolean" ? (v ? "yes" : "no") : String(v));

export function renderKeyfile(sections: KeyfileSection[], header: string[] = []): string {
  const lines: string[] = header.map((h) => `# ${h}`.trimEnd());
  for (const s of sections) {
    if (!SECTION.test(s.name)) throw new KeyfileSyntaxError(`section "${s.name}" is not a valid section name`);
    if (lines.length > 0) lines.push("");
    if (s.reason) lines.push(...s.reason.split("\n").map((l) => `# ${l}`));
    lines.push(`[${s.name}]`);
    for (const e of s.entries) {
      if (!KEY.test(e.key)) throw new KeyfileSyntaxError(`[${s.name}] "${e.key}" is not a valid key`);
      const v = show(e.value);
      if (/[\r\n\0]/.test(v)) throw new KeyfileSyntaxError(`[${s.name}] ${e.key}: the value holds a newline, which this format cannot carry`);
      if (v !== v.trim()) throw new KeyfileSyntaxError(`[${s.name}] ${e.key}: leading or trailing blanks would be dropped by the reader`);
      if (e.reason) lines.push(...e.reason.split("\n").map((l) => `# ${l}`));
      lines.push(`${e.key}=${v}`);
    }
  }
  return lines.join("\n") + "\n";
}
