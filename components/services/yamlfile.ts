// YAML for the application configs, through the yaml library only. Home Assistant and ESPHome
// read `!secret name` and `!include file` tags; they are modelled as values of their own so the
// library writes (and reads back) real tags, never strings that merely look like them.
import { Document, parse, ScalarTag, stringify } from "yaml";

/** `!secret <name>`: the value lives in the application's secrets.yaml. */
export class SecretRef {
  constructor(readonly name: string) {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`!secret name "${name}" must be letters, digits and '_'`);
  }
}

/** `!include <file>`: another YAML file of the same directory. */
export class IncludeRef {
  constructor(readonly file: string) {
    if (!/^[A-Za-z0-9_.-]+\.ya?ml$/.test(file)) throw new Error(`!include file "${file}" must be a plain .yaml file name`);
  }
}

const secretTag: ScalarTag = {
  tag: "!secret",
  identify: (v) => v instanceof SecretRef,
  resolve: (s) => new SecretRef(s),
  stringify: (item) => (item.value as SecretRef).name,
};

const includeTag: ScalarTag = {
  tag: "!include",
  identify: (v) => v instanceof IncludeRef,
  resolve: (s) => new IncludeRef(s),
  stringify: (item) => (item.value as IncludeRef).file,
};

export const CUSTOM_TAGS = [secretTag, includeTag];

/** A YAML document with a header comment; `null` values are written as an empty value (`key:`). */
export function renderYaml(value: unknown, header: string): string {
  const doc = new Document(value, { customTags: CUSTOM_TAGS });
  doc.commentBefore = ` ${header}`;
  return doc.toString({ nullStr: "", lineWidth: 0 });
}

/** Plain YAML without tags (secrets files, Zigbee2MQTT). */
export function renderPlainYaml(value: unknown, header?: string): string {
  if (!header) return stringify(value, { lineWidth: 0 });
  return renderYaml(value, header);
}

/** Reads back what renderYaml wrote, tags included (for tests and for checks). */
export function parseYamlFile(text: string): unknown {
  return parse(text, { customTags: CUSTOM_TAGS, uniqueKeys: true });
}
