// no-secret-in-plain-input: a secret that reaches an input not marked secret is stored in clear
// in the state and shown in every preview diff. The offline plan stands `<secret:NAME>` in for
// each secret and records which inputs were marked secret, so a placeholder anywhere else is a
// leak. A real preview cannot tell: the engine hands policies secrets already unwrapped and
// unmarked, so there the rule reports itself not applicable (docs/policies.md).
import type { EnforcementLevel, ResourceValidationArgs } from "@pulumi/policy";
import { Finding, listOf, offlineChannel, ResourceRule, resourcePolicy } from "./rule";
import { isUnknownValueError } from "./sdk";

const PLACEHOLDER = /<secret:([^<>\s]+)>/g;

/** Every `<secret:NAME>` under `value`, with its property path. Unknown preview values hold none. */
function placeholders(value: unknown, at: string, out: { path: string; secret: string }[]): void {
  if (typeof value === "string") {
    for (const m of value.matchAll(PLACEHOLDER)) out.push({ path: at, secret: m[1]! });
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) placeholders(read(value, i), `${at}[${i}]`, out);
  } else if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value)) placeholders(read(value as Record<string, unknown>, key), `${at}.${key}`, out);
  }
}

function read(obj: object, key: PropertyKey): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch (e) {
    if (isUnknownValueError(e)) return undefined;
    throw e;
  }
}

function check(args: ResourceValidationArgs): Finding[] {
  const secretInputs = offlineChannel(args)?.secretInputs;
  if (secretInputs === undefined) {
    return args.notApplicable("the engine hands policies secrets unwrapped and unmarked, so secret inputs cannot be told from plain ones here; the offline plan (npm run plan) checks this rule");
  }
  const found: { path: string; secret: string }[] = [];
  for (const key of Object.keys(args.props)) {
    if (secretInputs.includes(key)) continue;
    placeholders(read(args.props, key), key, found);
  }
  if (found.length === 0) return [];
  const names = [...new Set(found.map((f) => f.secret))];
  const paths = [...new Set(found.map((f) => f.path.split(/[.[]/)[0]!))];
  return [
    {
      urn: args.urn,
      subject: `${args.type} "${args.name}"`,
      problem: `secret ${listOf(names)} appears in input${found.length > 1 ? "s" : ""} ${listOf(found.map((f) => f.path))}, which ${found.length > 1 ? "are" : "is"} not marked secret: it would be stored in clear in the state and shown in previews`,
      fix: `pass the value through pulumi.secret() (or keep it an Output of the secret config) so ${listOf(paths)} stays secret; never unwrap it with pulumi.unsecret() or build the string before the secret is read`,
      targets: [args.name],
    },
  ];
}

export const noSecretInPlainInputRule: ResourceRule = {
  kind: "resource",
  name: "no-secret-in-plain-input",
  description: "No secret config value (or generated secret) appears in an input that is not marked secret.",
  defaultLevel: "mandatory",
  check,
};

export const noSecretInPlainInput = (level?: EnforcementLevel) => resourcePolicy(noSecretInPlainInputRule, level);
