// Checks CIB primitives' parameters against their agents' own metadata, as Pacemaker would
// only discover at start time: `crm_resource --show-metadata class:provider:type` lists what an
// agent accepts; stonith devices also take the fencer's pcmk_* parameters. crm_verify does not
// look at agent parameters at all, so every layer's primitives go through this.
//
//   import { checkPrimitiveParams } from "../../helpers/agent-metadata";
//   assert.deepEqual(checkPrimitiveParams(fragment.resources.flatMap(primitives)), []);
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { XMLParser } from "fast-xml-parser";
import type { Primitive } from "../../components/pacemaker/cib/model";

export interface AgentParameter {
  name: string;
  required: boolean;
  deprecated: boolean;
  /** The deprecated name this parameter replaces (fence agents: `ip` obsoletes `ipaddr`). */
  obsoletes?: string;
  type: string;
  /** Allowed values of a `select` parameter. */
  options?: string[];
  /**
   * Values the parameter's own description names as choices in quotes (`"safe"  : ...`): a
   * boolean that documents one more choice (Filesystem's force_unmount) accepts it.
   */
  documented?: string[];
}

export interface AgentMetadata {
  agent: string;
  parameters: Map<string, AgentParameter>;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  isArray: (name, _jpath, _leaf, isAttribute) => !isAttribute && ["parameter", "option", "action"].includes(name),
});

type RawParam = { name: string; required?: string; deprecated?: string; obsoletes?: string; longdesc?: string | { "#text"?: string }; content?: { type?: string; option?: { value: string }[] } };

/** `"value"  :` at the start of a line of a longdesc: a choice the agent documents. */
function documentedChoices(longdesc: RawParam["longdesc"]): string[] {
  const text = typeof longdesc === "string" ? longdesc : (longdesc?.["#text"] ?? "");
  return [...text.matchAll(/^\s*"([^"\s]+)"\s*:/gm)].map((m) => m[1]!);
}

function parseParameters(xml: string, agent: string): Map<string, AgentParameter> {
  const doc = parser.parse(xml) as { "resource-agent"?: { parameters?: { parameter?: RawParam[] } } };
  const ra = doc["resource-agent"];
  if (!ra) throw new Error(`metadata of ${agent} is not a <resource-agent> document`);
  const out = new Map<string, AgentParameter>();
  for (const p of ra.parameters?.parameter ?? []) {
    out.set(p.name, {
      name: p.name,
      required: p.required === "1" || p.required === "true",
      deprecated: p.deprecated === "1" || p.deprecated === "true",
      obsoletes: p.obsoletes,
      type: p.content?.type ?? "string",
      options: p.content?.option?.map((o) => o.value),
      documented: documentedChoices(p.longdesc),
    });
  }
  return out;
}

// Debian and RPM put the daemons in different places; the first that exists is the one installed.
const FENCED = ["/usr/lib/pacemaker/pacemaker-fenced", "/usr/libexec/pacemaker/pacemaker-fenced"];

function run(file: string, args: string[], what: string): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") throw new Error(`${file} is not installed (needed for ${what}); install the Debian packages .ci/run installs`, { cause: e });
    throw new Error(`${what}: ${file} ${args.join(" ")} failed: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

let fencerParams: Map<string, AgentParameter> | undefined;
/** The parameters every stonith device takes from the fencer itself (pcmk_host_list, ...). */
export function fencerParameters(): Map<string, AgentParameter> {
  if (!fencerParams) {
    const bin = FENCED.find((f) => fs.existsSync(f));
    if (!bin) throw new Error(`pacemaker-fenced not found in ${FENCED.join(" or ")}: install the pacemaker package`);
    fencerParams = parseParameters(run(bin, ["metadata"], "the fencer's own parameters"), "pacemaker-fenced");
  }
  return fencerParams;
}

const cache = new Map<string, AgentMetadata>();

/** `class:provider:type` (or `class:type`) of a primitive, as crm_resource names agents. */
export function agentName(p: Pick<Primitive, "class" | "provider" | "type">): string {
  return p.provider ? `${p.class}:${p.provider}:${p.type}` : `${p.class}:${p.type}`;
}

/** The agent's metadata, from the installed agent. Throws when the agent is not installed. */
export function agentMetadata(agent: string): AgentMetadata {
  let md = cache.get(agent);
  if (!md) {
    const xml = run("crm_resource", ["--show-metadata", agent], `metadata of ${agent}`);
    md = { agent, parameters: parseParameters(xml, agent) };
    cache.set(agent, md);
  }
  return md;
}

const BOOLEAN = /^(true|false|yes|no|on|off|1|0|y|n)$/i;
const INTEGER = /^-?\d+$/;

function checkValue(id: string, agent: string, p: AgentParameter, value: string): string[] {
  const bad = (expected: string) => [`${id}: parameter ${p.name}="${value}" of ${agent} expects ${expected}`];
  switch (p.type) {
    case "boolean":
      return BOOLEAN.test(value) || (p.documented ?? []).includes(value) ? [] : bad(`a boolean${p.documented?.length ? ` or one of ${p.documented.join(", ")}` : ""}`);
    case "integer":
    case "second":
      return INTEGER.test(value) ? [] : bad(p.type === "second" ? "whole seconds" : "an integer");
    case "select":
      return p.options && p.options.length > 0 && !p.options.includes(value) ? bad(`one of ${p.options.join(", ")}`) : [];
    default:
      return [];
  }
}

/**
 * Problems with the primitives' parameters, one line each (empty when all are fine): a parameter
 * the agent does not know, a required one missing (a deprecated required parameter is satisfied by
 * the one that obsoletes it, and the other way round), a value of the wrong type.
 */
export function checkPrimitiveParams(primitives: Primitive[]): string[] {
  const problems: string[] = [];
  for (const p of primitives) {
    const agent = agentName(p);
    const given = Object.keys(p.params);
    if (p.class === "systemd" || p.class === "lsb" || p.class === "service") {
      // These classes take no instance attributes at all.
      for (const name of given) problems.push(`${p.id}: ${agent} takes no parameters, but "${name}" is set`);
      continue;
    }
    if (p.class === "ocf" && !p.provider) {
      problems.push(`${p.id}: ocf agent ${p.type} needs a provider (heartbeat, pacemaker, linbit, ...)`);
      continue;
    }
    const own = agentMetadata(agent).parameters;
    const known = new Map(own);
    if (p.class === "stonith") for (const [k, v] of fencerParameters()) if (!known.has(k)) known.set(k, v);
    for (const name of given) {
      const param = known.get(name);
      if (!param) {
        problems.push(`${p.id}: unknown parameter "${name}" for ${agent}`);
        continue;
      }
      problems.push(...checkValue(p.id, agent, param, p.params[name]!));
    }
    const set = new Set(given);
    for (const param of own.values()) {
      if (!param.required || set.has(param.name)) continue;
      // `ipaddr` (deprecated, required) is satisfied by `ip`, which obsoletes it, and vice versa.
      const successor = [...own.values()].find((o) => o.obsoletes === param.name);
      const replaced = param.obsoletes !== undefined && set.has(param.obsoletes);
      if (replaced || (successor && set.has(successor.name))) continue;
      // A deprecated required parameter is reported under its successor's name, once.
      if (param.deprecated && successor) {
        if (!successor.required) problems.push(`${p.id}: required parameter "${successor.name}" (formerly "${param.name}") of ${agent} is missing`);
        continue;
      }
      problems.push(`${p.id}: required parameter "${param.name}" of ${agent} is missing`);
    }
  }
  return problems;
}
