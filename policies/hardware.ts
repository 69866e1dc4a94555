// node-bound-hardware: a PCI device passed through (hostpcis) pins its VM to one host. That is
// only acceptable for what is replicated across hosts (each DRBD replica's own NVMe disk) or
// what the household can lose (the voice GPU). The purpose is declared by the component that
// owns the VM (`intent.pciPurpose`); the replication claim is checked against the storage intent.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, listOf, StackRule, stackPolicy } from "./rule";
import { T, VM_TYPES } from "./types";
import { StackView, ViewResource } from "./view";

const devices = (r: ViewResource): string[] =>
  (Array.isArray(r.props.hostpcis) ? (r.props.hostpcis as Record<string, unknown>[]) : []).map((h) => String(h?.mapping ?? h?.id ?? h?.device ?? "?"));

/**
 * What the nearest owner declares: the first ancestor whose intent carries `pciPurpose`, or a
 * ClusterGuest (which declares none when it holds no disk).
 */
function declaredPurpose(view: StackView, vm: ViewResource): { owner: ViewResource; purpose: unknown; member?: string } | undefined {
  for (const a of view.ancestors(vm)) {
    const intent = a.props.intent as { pciPurpose?: unknown; member?: unknown } | null | undefined;
    const declares = intent !== null && typeof intent === "object" && "pciPurpose" in intent;
    if (!declares && a.type !== T.guest) continue;
    return { owner: a, purpose: declares ? intent.pciPurpose : undefined, member: typeof intent?.member === "string" ? intent.member : undefined };
  }
  return undefined;
}

function check(view: StackView): Finding[] {
  const out: Finding[] = [];
  const storage = view.storage().found[0]?.value;
  for (const vm of view.ofType(...VM_TYPES)) {
    const pcis = devices(vm);
    if (pcis.length === 0) continue;
    const subject = `${vm.type} "${vm.name}"`;
    const what = `passes PCI device${pcis.length > 1 ? "s" : ""} ${listOf(pcis)} through (pinning the VM to its host)`;
    const d = declaredPurpose(view, vm);
    const targets = [vm.name, ...(d ? [d.owner.name] : []), ...(d?.member ? [d.member] : [])];
    if (!d || d.purpose === undefined) {
      out.push({
        urn: vm.urn,
        subject,
        problem: `${what}, and no component declares why (intent.pciPurpose on ${d ? `${d.owner.type} "${d.owner.name}"` : "its parent component"})`,
        fix: 'remove the passthrough, or declare intent.pciPurpose "drbd-replica" (a disk replicated by DRBD to another host) or "non-critical" (a workload the household can lose)',
        targets,
      });
      continue;
    }
    if (d.purpose === "non-critical") {
      if (d.owner.type === T.guest) {
        out.push({
          urn: vm.urn,
          subject,
          problem: `${what}; its owner ${d.owner.type} "${d.owner.name}" declares it non-critical, but every cluster member is critical`,
          fix: "pass node-bound hardware to cluster members only for their DRBD disk (pciPurpose drbd-replica); run non-critical hardware in its own guest",
          targets,
        });
      }
      continue;
    }
    if (d.purpose !== "drbd-replica") {
      out.push({ urn: vm.urn, subject, problem: `${what}; pciPurpose "${String(d.purpose)}" is neither "drbd-replica" nor "non-critical"`, fix: 'declare intent.pciPurpose "drbd-replica" or "non-critical", or remove the passthrough', targets });
      continue;
    }
    if (!storage) {
      out.push({ urn: vm.urn, subject, problem: `${what} for a DRBD replica, but no haha:storage:ReplicatedStorage declares its intent, so the replication cannot be confirmed`, fix: "declare the storage intent (components/intent.ts StorageIntent) on ReplicatedStorage", targets });
      continue;
    }
    const replicaHosts = new Set(storage.replicas.map((r) => r.host));
    if (!d.member || !storage.replicas.some((r) => r.member === d.member)) {
      out.push({
        urn: vm.urn,
        subject,
        problem: `${what} for a DRBD replica, but member ${d.member ?? "(unnamed)"} is not among the storage replicas (${listOf(storage.replicas.map((r) => r.member)) || "none"})`,
        fix: "make the member a diskful DRBD replica (haha:nodes[].drbdDisk) or remove the passthrough",
        targets,
      });
    } else if (replicaHosts.size < 2) {
      out.push({
        urn: vm.urn,
        subject,
        problem: `${what} for a DRBD replica, but the data is replicated on ${replicaHosts.size} host only (${listOf([...replicaHosts])}), so it is not replicated across hosts`,
        fix: "give a second host a diskful DRBD replica (haha:nodes[].drbdDisk)",
        targets,
      });
    }
  }
  return out;
}

export const nodeBoundHardwareRule: StackRule = {
  kind: "stack",
  name: "node-bound-hardware",
  description: "PCI passthrough (hostpcis) only for workloads replicated across hosts (DRBD disks) or declared non-critical (the voice GPU).",
  defaultLevel: "mandatory",
  waivable: true,
  check,
};

export const nodeBoundHardware = (level?: EnforcementLevel) => stackPolicy(nodeBoundHardwareRule, level);
