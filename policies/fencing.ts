// cluster-fencing: Pacemaker only recovers a failed member's resources once it is sure the
// member is down. Without STONITH, or with a fence path that needs the failed host itself
// (fence_pve through that host's own API), recovery waits forever or, worse, runs twice.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

function check(view: StackView): Finding[] {
  const clusters = view.clusters();
  const out = intentProblems(clusters, T.cib, "ClusterIntent", "fencing");
  for (const { resource, value: c } of clusters.found) {
    const subject = label(resource);
    if (!c.stonithEnabled) {
      out.push({
        urn: resource.urn,
        subject,
        problem: "stonith-enabled is false: a member that stops answering is never fenced, so its resources are either never recovered or run twice",
        fix: "set haha:cluster.fencing.enabled to true",
        targets: [resource.name],
      });
    }
    for (const m of c.members) {
      const entry = c.fencing.find((f) => f.member === m.name);
      const paths = entry?.paths ?? [];
      const independent = paths.filter((p) => p.needsHost !== m.host);
      if (independent.length > 0) continue;
      out.push({
        urn: resource.urn,
        subject: `${subject} member ${m.name}`,
        problem:
          paths.length === 0
            ? `member ${m.name} (on ${m.host}) has no fencing path`
            : `every fencing path of member ${m.name} (${listOf(paths.map((p) => `level ${p.level} ${p.agent}`))}) needs its own host ${m.host}: when that host fails, nothing can confirm the member is down`,
        fix: "add a path that works with the host gone: the SBD watchdog (haha:cluster.fencing.watchdog.enabled), or a BMC (haha:nodes[].bmc, fence_ipmilan), or fence_pve through another host's API",
        targets: [m.name, m.host, resource.name],
      });
    }
  }
  return out;
}

export const clusterFencingRule: StackRule = {
  kind: "stack",
  name: "cluster-fencing",
  description: "STONITH enabled, and every member has a fencing path that does not depend on its own host.",
  defaultLevel: "mandatory",
  waivable: true,
  check,
};

export const clusterFencing = (level?: EnforcementLevel) => stackPolicy(clusterFencingRule, level);
