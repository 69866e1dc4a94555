// What the services layer states to the policy pack, derived from config alone (known at preview).
import type { ServicesIntent } from "../intent";
import type { Member } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import { serviceCatalog } from "./catalog";

/** The pinned Ollama container on the GPU guest, when voice is enabled. */
export function ollamaIntent(c: HahaConfig): ServicesIntent["services"][number] | undefined {
  const v = c.voice;
  if (!v?.enabled) return undefined;
  return {
    name: "ollama",
    critical: v.critical,
    image: v.ollama.image,
    placement: "pinned",
    pinnedHost: v.ollama.guest.node,
    prePulledOn: [v.ollama.guest.name],
  };
}

/**
 * Every container: the Pacemaker-placed ones, pre-pulled on every member (the docker agent
 * cannot start a missing image, see images.ts), and the pinned Ollama container.
 */
export function servicesIntent(c: HahaConfig, members: Member[]): ServicesIntent {
  const everywhere = members.map((m) => m.name);
  const services: ServicesIntent["services"] = serviceCatalog(c).map((s) => ({
    name: s.id,
    critical: s.critical,
    image: s.image.pinned,
    placement: "pacemaker" as const,
    prePulledOn: [...everywhere],
  }));
  const ollama = ollamaIntent(c);
  if (ollama) services.push(ollama);
  return { services };
}
