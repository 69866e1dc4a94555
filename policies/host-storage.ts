// host-storage-cycle: a Proxmox storage the hosts mount from an export their own cluster guests
// serve (the HA NFS export as backup storage) is a cycle: when the cluster is down, or while the
// guests boot, the hosts' mount cannot answer. A hard mount then hangs pvestatd and every storage
// call on the host; a soft one fails I/O after its timeout. Advisory: backups on the cluster's own
// replicas are a choice (docs/storage.md), as long as nothing the hosts need lives there.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, listOf, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

const optionList = (v: unknown): string[] => (typeof v === "string" ? v.split(",").map((o) => o.trim().split("=")[0]!) : []);

function check(view: StackView): Finding[] {
  const memberOf = new Map<string, string[]>();
  for (const { value: g } of view.guests().found) memberOf.set(g.host, [...(memberOf.get(g.host) ?? []), g.member]);
  const out: Finding[] = [];
  for (const r of view.ofType(T.nfsStorage)) {
    const owner = view.ancestors(r).find((a) => a.type === T.proxmoxNfsStorage);
    const declared = (owner?.props.storage ?? undefined) as { servedByCluster?: unknown } | undefined;
    if (declared?.servedByCluster !== true) continue;
    const nodes = Array.isArray(r.props.nodes) ? (r.props.nodes as unknown[]).map(String) : [...memberOf.keys()];
    const cyclic = nodes.filter((n) => memberOf.has(n));
    if (cyclic.length === 0) continue;
    const options = optionList(r.props.options);
    const hard = !options.includes("soft");
    const members = cyclic.flatMap((n) => memberOf.get(n) ?? []);
    out.push({
      urn: r.urn,
      subject: label(r),
      problem: `hosts ${listOf(cyclic)} mount ${String(r.props.server)}:${String(r.props.export)}, served by their own guests (${listOf(members)}): when the cluster is down the mount cannot answer${hard ? ", and mounted hard it hangs pvestatd and every storage operation on those hosts" : "; mounted soft, I/O on it fails after its timeout"}`,
      fix: `${hard ? "mount it soft (HAHA's default options); " : ""}keep nothing the hosts need to boot or run guests on it, keep an off-site copy of the backups, or back up to storage outside the cluster (remove haha:storage.nfs.proxmoxStorage)`,
      targets: [r.name, ...(owner ? [owner.name] : []), ...cyclic],
    });
  }
  return out;
}

export const hostStorageCycleRule: StackRule = {
  kind: "stack",
  name: "host-storage-cycle",
  description: "Proxmox hosts do not depend on storage served by their own cluster guests (warned: a cluster outage leaves the mount unanswered).",
  defaultLevel: "advisory",
  waivable: true,
  check,
};

export const hostStorageCycle = (level?: EnforcementLevel) => stackPolicy(hostStorageCycleRule, level);
