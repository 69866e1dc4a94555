// The stack as stack policies see it: every resource with its props, its parent chain, and the
// intents the HAHA components declare, parsed once. Props are the engine's (inputs for resource
// policies, outputs for stack policies; components repeat `intent` in both), so readers only
// look at `props.intent` and the declaration's own props.
import type { PolicyResource } from "@pulumi/policy";
import type { z } from "zod";
import type { ClusterIntent, GuestIntent, HostNetworkIntent, ServicesIntent, StackDeclarationArgs, StorageIntent } from "./contract";
import { clusterIntent, describeIssues, guestIntent, hostNetworkIntent, servicesIntent, stackDeclaration, storageIntent } from "./intent";
import { T } from "./types";

export interface ViewResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent, if any. */
  parent?: string;
  props: Record<string, unknown>;
}

export interface Declared<V> {
  resource: ViewResource;
  value: V;
}

/** The intents of one component type: those that parse, and those that are missing or malformed. */
export interface Intents<V> {
  found: Declared<V>[];
  broken: { resource: ViewResource; problem: string }[];
}

/** A waiver as the stack declares it, with its position in haha:waivers. */
export interface DeclaredWaiver {
  index: number;
  policy: string;
  target: string;
  reason: string;
}

const INTENT_SCHEMAS = {
  [T.host]: hostNetworkIntent,
  [T.guest]: guestIntent,
  [T.cib]: clusterIntent,
  [T.storage]: storageIntent,
  [T.services]: servicesIntent,
} as const;

export const label = (r: ViewResource) => `${r.type} "${r.name}"`;

export class StackView {
  readonly byUrn: Map<string, ViewResource>;
  private readonly memo = new Map<string, unknown>();

  constructor(readonly resources: ViewResource[]) {
    this.byUrn = new Map(resources.map((r) => [r.urn, r]));
  }

  ofType(...types: string[]): ViewResource[] {
    return this.resources.filter((r) => types.includes(r.type));
  }

  /** Parents, nearest first. */
  ancestors(r: ViewResource): ViewResource[] {
    const out: ViewResource[] = [];
    const seen = new Set<string>();
    let cur = r.parent ? this.byUrn.get(r.parent) : undefined;
    while (cur && !seen.has(cur.urn)) {
      out.push(cur);
      seen.add(cur.urn);
      cur = cur.parent ? this.byUrn.get(cur.parent) : undefined;
    }
    return out;
  }

  hosts(): Intents<HostNetworkIntent> {
    return this.intents(T.host);
  }
  guests(): Intents<GuestIntent> {
    return this.intents(T.guest);
  }
  clusters(): Intents<ClusterIntent> {
    return this.intents(T.cib);
  }
  storage(): Intents<StorageIntent> {
    return this.intents(T.storage);
  }
  services(): Intents<ServicesIntent> {
    return this.intents(T.services);
  }

  /** The stack declaration (waivers, switches, failure domains) from its own props. */
  declarations(): Intents<StackDeclarationArgs> {
    return this.cached(T.declaration, () => parseAll(this.ofType(T.declaration), (r) => r.props, stackDeclaration, "props", "has no readable args"));
  }

  /** Waivers of the first readable declaration; none when there is none. */
  waivers(): DeclaredWaiver[] {
    const d = this.declarations().found[0];
    return d ? d.value.waivers.map((w, index) => ({ index, ...w })) : [];
  }

  private intents<V>(type: keyof typeof INTENT_SCHEMAS): Intents<V> {
    return this.cached(type, () => parseAll(this.ofType(type), (r) => r.props.intent, INTENT_SCHEMAS[type] as unknown as z.ZodType<V>, "intent", "declares no `intent` in its args or outputs"));
  }

  private cached<V>(key: string, make: () => V): V {
    if (!this.memo.has(key)) this.memo.set(key, make());
    return this.memo.get(key) as V;
  }
}

function parseAll<V>(resources: ViewResource[], pick: (r: ViewResource) => unknown, schema: z.ZodType<V>, root: string, missing: string): Intents<V> {
  const out: Intents<V> = { found: [], broken: [] };
  for (const resource of resources) {
    const raw = pick(resource);
    if (raw === undefined || raw === null) {
      out.broken.push({ resource, problem: missing });
      continue;
    }
    const parsed = schema.safeParse(raw);
    if (parsed.success) out.found.push({ resource, value: parsed.data });
    else out.broken.push({ resource, problem: `has a malformed ${root}: ${describeIssues(parsed.error, root)}` });
  }
  return out;
}

/** The view of what the engine hands a stack policy. */
export function viewOfStack(resources: PolicyResource[]): StackView {
  return new StackView(resources.map((r) => ({ urn: r.urn, type: r.type, name: r.name, parent: r.parent?.urn, props: r.props })));
}
