// no-proxmox-ha-manager: Pacemaker places the services and fences the cluster guests. Proxmox's
// ha-manager restarting or migrating the same guests would be a second HA manager fighting the
// first (a guest fenced by one and restarted by the other), a classic failure.
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, intentProblems, listOf, StackRule, stackPolicy } from "./rule";
import { T } from "./types";
import { label, StackView } from "./view";

/** `vm:181`, `ct:181` or `181` -> 181. */
export function haVmid(id: unknown): number | undefined {
  const m = typeof id === "string" ? /^(?:(?:vm|ct):)?(\d+)$/.exec(id.trim()) : undefined;
  return m ? Number(m[1]) : undefined;
}

function check(view: StackView): Finding[] {
  const guests = view.guests();
  const out = intentProblems(guests, T.guest, "GuestIntent", "ha-manager use", false);
  const byVmid = new Map(guests.found.map((g) => [g.value.vmid, g.value.member]));
  const fix = "remove the Proxmox HA resource: Pacemaker owns placement and recovery of the cluster guests";
  for (const { resource, value: g } of guests.found) {
    if (!g.haManaged) continue;
    out.push({ urn: resource.urn, subject: label(resource), problem: `cluster guest ${g.member} (VM ${g.vmid}) is registered with Proxmox ha-manager`, fix, targets: [g.member, resource.name] });
  }
  for (const r of view.ofType(T.haResource, T.haResourceLegacy)) {
    const vmid = haVmid(r.props.resourceId);
    const member = vmid === undefined ? undefined : byVmid.get(vmid);
    if (member === undefined) continue;
    out.push({ urn: r.urn, subject: label(r), problem: `puts cluster guest ${member} (VM ${vmid}) under Proxmox ha-manager, beside Pacemaker`, fix, targets: [member, r.name] });
  }
  for (const r of view.ofType(T.haRule, T.haRuleLegacy)) {
    const ids = Array.isArray(r.props.resources) ? (r.props.resources as unknown[]) : [];
    const members = ids.map(haVmid).flatMap((v) => (v !== undefined && byVmid.has(v) ? [byVmid.get(v)!] : []));
    if (members.length === 0) continue;
    out.push({ urn: r.urn, subject: label(r), problem: `an ha-manager rule places cluster guest${members.length > 1 ? "s" : ""} ${listOf(members)}`, fix: "remove the Proxmox HA rule and the HA resources it names", targets: [...members, r.name] });
  }
  return out;
}

export const noProxmoxHaManagerRule: StackRule = {
  kind: "stack",
  name: "no-proxmox-ha-manager",
  description: "No Proxmox ha-manager resource or rule on a cluster guest: Pacemaker is the only HA manager.",
  defaultLevel: "mandatory",
  waivable: true,
  check,
};

export const noProxmoxHaManager = (level?: EnforcementLevel) => stackPolicy(noProxmoxHaManagerRule, level);
