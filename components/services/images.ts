// Container image references: the pinned reference every member pre-pulls, and the local alias
// the cluster's docker agent is given.
//
// Why an alias: ocf:heartbeat:docker decides whether an image is present by matching
// `<name>:<tag>` against `docker images`, parsed from its `image` parameter. A reference with a
// digest (`repo:tag@sha256:...`) never matches that listing, so the agent would report
// OCF_ERR_CONFIGURED (fatal: the service stops cluster-wide) or, with allow_pull, pull on every
// start. Each member therefore tags the pinned digest under a local-only name that carries the
// digest's prefix; `localhost/` is a registry nothing answers, so the alias can never be pulled
// or moved by a registry, only re-pointed by this program.

export interface ImageRef {
  /** As written in config: `repo[:tag]@sha256:<hex>`. */
  pinned: string;
  /** Repository, with registry when given: `ghcr.io/home-assistant/home-assistant`. */
  repository: string;
  tag?: string;
  /** 64 hex digits. */
  digest: string;
}

const REF = /^(?<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@sha256:(?<digest>[a-f0-9]{64})$/;

/** Parse a pinned reference; `where` names the config key in the error. */
export function parseImageRef(pinned: string, where: string): ImageRef {
  const m = REF.exec(pinned);
  if (!m?.groups) throw new Error(`${where}: "${pinned}" is not an image reference pinned by digest (repo[:tag]@sha256:<64 hex>)`);
  return { pinned, repository: m.groups.repo!, tag: m.groups.tag, digest: m.groups.digest! };
}

/** `repo@sha256:<hex>`: what `docker tag` takes as the source once the digest is pulled. */
export function byDigest(ref: ImageRef): string {
  return `${ref.repository}@sha256:${ref.digest}`;
}

/**
 * The local-only name the docker agent starts: `localhost/haha/<service>:<tag>-<12 hex>`.
 * One name per service and digest, so a new pin is a new alias and the old one stays valid
 * until the CIB that names it is replaced.
 */
export function localAlias(service: string, ref: ImageRef): string {
  // Docker tags stop at 128 characters; 12 hex digits of the digest are plenty to tell pins apart.
  const tag = `${(ref.tag ?? "sha256").slice(0, 100)}-${ref.digest.slice(0, 12)}`;
  return `localhost/haha/${service}:${tag}`;
}
