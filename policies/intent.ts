// Readers of the intent components declare (components/intent.ts) and of the stack declaration
// (stacks/declaration.ts). Each schema is checked against its TypeScript contract at compile
// time, so a shape change there fails the build here. Unknown extra fields are ignored.
import { z } from "zod";
import type { ClusterIntent, GuestIntent, HostNetworkIntent, ServicesIntent, StorageIntent } from "../components/intent";
import type { StackDeclarationArgs } from "../stacks/declaration";

const name = z.string().min(1);

export const hostNetworkIntent = z.object({
  host: name,
  bond: z.object({
    name: name,
    mode: z.string(),
    hashPolicy: z.string(),
    miimon: z.number(),
    mtu: z.number(),
    slaves: z.array(z.string()),
  }),
  switchPorts: z.array(z.string()),
  switches: z.array(z.string()),
}) satisfies z.ZodType<HostNetworkIntent>;

export const guestIntent = z.object({
  member: name,
  host: name,
  vmid: z.number().int(),
  pciPurpose: z.enum(["drbd-replica", "non-critical"]).optional(),
  haManaged: z.boolean(),
  watchdog: z.string().nullable(),
}) satisfies z.ZodType<GuestIntent>;

export const clusterIntent = z.object({
  members: z.array(z.object({ name: name, host: name, votes: z.number().int().min(0) })),
  stonithEnabled: z.boolean(),
  noQuorumPolicy: z.string(),
  fencing: z.array(
    z.object({
      member: name,
      host: name,
      paths: z.array(z.object({ level: z.number().int(), agent: z.string(), needsHost: z.string().nullable() })),
    }),
  ),
}) satisfies z.ZodType<ClusterIntent>;

const placedMember = z.object({ member: name, host: name });
export const storageIntent = z.object({
  version: z.string(),
  replicas: z.array(placedMember),
  diskless: z.array(placedMember),
  protocol: z.string(),
  quorum: z.string(),
  onNoQuorum: z.string(),
  fencing: z.string(),
  allowTwoPrimaries: z.boolean(),
}) satisfies z.ZodType<StorageIntent>;

export const servicesIntent = z.object({
  services: z.array(
    z.object({
      name: name,
      critical: z.boolean(),
      image: z.string(),
      placement: z.enum(["pacemaker", "pinned"]),
      pinnedHost: z.string().optional(),
      prePulledOn: z.array(z.string()),
    }),
  ),
}) satisfies z.ZodType<ServicesIntent>;

export const stackDeclaration = z.object({
  waivers: z.array(z.object({ policy: z.string(), target: z.string(), reason: z.string() })),
  switches: z.array(z.object({ name: name, model: z.string(), stackGroup: z.string().optional() })),
  failureDomains: z.array(z.object({ name: name, kind: z.enum(["host", "switch"]), hosts: z.array(z.string()), switches: z.array(z.string()) })),
}) satisfies z.ZodType<StackDeclarationArgs>;

/** zod issues as one line: `intent.members[0].votes: expected number, received string`. */
export function describeIssues(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => {
      const path = i.path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : `${acc}.${String(seg)}`), root);
      return `${path}: ${i.message.replace(/^Invalid input: /, "")}`;
    })
    .join("; ");
}
