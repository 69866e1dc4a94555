// critical-services-under-pacemaker and critical-service-images: a critical service must be
// movable by Pacemaker to any surviving member, and start there without a registry: its image
// pinned by digest (a moving tag can change under a failover) and already pulled on every member.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

const DIGEST = /@sha256:[a-f0-9]{64}$/;

/** `ghcr.io/x/y:1.2@sha256:...` -> `ghcr.io/x/y`; a registry port (`host:5000/x`) is kept. */
export function imageRepository(ref: string): string {
  const noDigest = ref.split("@")[0] ?? ref;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Cluster members by name: the cluster intent's, else the guests'. */
function memberNames(view: StackView): string[] {
  const fromCluster = view.clusters().found.flatMap((c) => c.value.members.map((m) => m.name));
  return [...new Set(fromCluster.length > 0 ? fromCluster : view.guests().found.map((g) => g.value.member))];
}

function critical(view: StackView) {
  return view.services().found.flatMap(({ resource, value }) => value.services.filter((s) => s.critical).map((s) => ({ resource, s })));
}

function underPacemaker(view: StackView): Finding[] {
  const out = intentProblems(view.services(), T.services, "ServicesIntent", "service placement");
  const services = critical(view);
  for (const { resource, s } of services) {
    if (s.placement === "pacemaker") continue;
    out.push({
      urn: resource.urn,
      subject: `${label(resource)} service ${s.name}`,
      problem: `critical service ${s.name} is pinned to ${s.pinnedHost ?? "one host"}: when that host fails, nothing starts it elsewhere`,
      fix: "declare it as a Pacemaker resource (ocf:heartbeat:docker primitive in the services CIB fragment) placed on any member",
      targets: [s.name, ...(s.pinnedHost ? [s.pinnedHost] : [])],
    });
  }
  const byRepo = new Map(services.map(({ s }) => [imageRepository(s.image), s.name]));
  const byName = new Set(services.map(({ s }) => s.name));
  for (const c of view.ofType(T.dockerContainer)) {
    const image = typeof c.props.image === "string" ? c.props.image : "";
    const name = typeof c.props.name === "string" ? c.props.name : "";
    const service = byRepo.get(imageRepository(image)) ?? (byName.has(name) ? name : undefined);
    if (service === undefined) continue;
    out.push({
      urn: c.urn,
      subject: label(c),
      problem: `runs critical service ${service} (${image || name}) as a docker container pinned to the docker host it is created on, outside Pacemaker`,
      fix: `remove the docker.Container; Pacemaker runs ${service} through its ocf:heartbeat:docker primitive`,
      targets: [c.name, service],
    });
  }
  return out;
}

function images(view: StackView): Finding[] {
  const out = intentProblems(view.services(), T.services, "ServicesIntent", "image readiness");
  const members = memberNames(view);
  if (members.length === 0) {
    out.push({ subject: "stack", problem: "no cluster member is declared (no ClusterIntent or GuestIntent), so pre-pulled images cannot be checked", fix: "declare the cluster and guest intents", targets: [T.cib] });
  }
  const services = critical(view);
  for (const { resource, s } of services) {
    const subject = `${label(resource)} service ${s.name}`;
    if (!DIGEST.test(s.image)) {
      out.push({
        urn: resource.urn,
        subject,
        problem: `image ${s.image} is not pinned by digest: the tag can move, so a failover may start a different version than the one running`,
        fix: `pin it as ${imageRepository(s.image)}:<tag>@sha256:<64 hex> in haha:services`,
        targets: [s.name],
      });
    }
    const missing = members.filter((m) => !s.prePulledOn.includes(m));
    if (missing.length > 0) {
      out.push({
        urn: resource.urn,
        subject,
        problem: `image ${s.image} is not pre-pulled on ${listOf(missing)}: a failover there waits for a registry pull, or fails without one`,
        fix: "pull the image on every cluster member ahead of time (a docker RemoteImage per member)",
        targets: [s.name, ...missing],
      });
    }
  }
  // The pulls themselves: every RemoteImage of a critical service's repository pulls the pinned image.
  const pinned = new Map(services.map(({ s }) => [imageRepository(s.image), s]));
  for (const r of view.ofType(T.dockerRemoteImage)) {
    const name = typeof r.props.name === "string" ? r.props.name : "";
    const s = pinned.get(imageRepository(name));
    if (!s || name === s.image) continue;
    out.push({
      urn: r.urn,
      subject: label(r),
      problem: `pulls ${name} for critical service ${s.name}, not its pinned image ${s.image}`,
      fix: "pull exactly the image the service runs, digest included",
      targets: [r.name, s.name],
    });
  }
  return out;
}

export const criticalServicesUnderPacemakerRule: StackRule = {
  kind: "stack",
  name: "critical-services-under-pacemaker",
  description: "Critical services run only under Pacemaker: none pinned to a host, no raw docker.Container for them.",
  defaultLevel: "mandatory",
  waivable: true,
  check: underPacemaker,
};

export const criticalServiceImagesRule: StackRule = {
  kind: "stack",
  name: "critical-service-images",
  description: "Images of critical services are pinned by digest and pre-pulled on every cluster member.",
  defaultLevel: "mandatory",
  waivable: true,
  check: images,
};

export const criticalServicesUnderPacemaker = (level?: EnforcementLevel) => stackPolicy(criticalServicesUnderPacemakerRule, level);
export const criticalServiceImages = (level?: EnforcementLevel) => stackPolicy(criticalServiceImagesRule, level);
