// The fencing topology of every member, as one plan that the CIB, the policy intent and the
// failover budget all read: level 1 fence_pve through the least-privilege Proxmox user, then
// fence_ipmilan on the host's BMC where one is declared, then watchdog self-fencing (diskless SBD).
import type { ClusterIntent } from "../../intent";
import type { Member } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";
import type { FencingLevel, Location, Primitive, Tunable } from "./model";

/** Root-only files the fence agents read their passwords from (never the CIB). */
export const FENCE_SECRET_DIR = "/etc/haha/fence";
export const PVE_PASSWORD_FILE = `${FENCE_SECRET_DIR}/pve.password`;
export const BMC_PASSWORD_FILE = `${FENCE_SECRET_DIR}/bmc.password`;
/** Pacemaker recognizes watchdog fencing in a topology only under this exact device id. */
export const WATCHDOG_DEVICE_ID = "watchdog";

/** fence_ipmilan: a BMC confirms power off within seconds; 20 s bounds a slow one. */
export const IPMI_REBOOT_TIMEOUT_S = 20;

export type FenceAgent = "fence_pve" | "fence_ipmilan" | "watchdog";

export interface FencingLevelPlan {
  level: number;
  agent: FenceAgent;
  /** The stonith resource id. */
  device: string;
  /** The Proxmox host this path needs alive, or null when it works with the member's own host gone. */
  needsHost: string | null;
  /** Seconds the level takes when it works. */
  successS: Tunable<number>;
  /** Seconds it costs before the fencer moves on when it cannot work (the member's host is gone). */
  failS: Tunable<number>;
  reason: string;
}

export interface MemberFencing {
  member: Member;
  levels: FencingLevelPlan[];
}

/** The Proxmox API port of haha:proxmox.endpoint (8006 unless the URL says otherwise). */
export function proxmoxApiPort(c: HahaConfig): number {
  const port = new URL(c.proxmox.endpoint).port;
  return port === "" ? 8006 : Number(port);
}

/**
 * The Proxmox host whose API fence_pve calls to fence `member`: the next host in config order,
 * never the guest's own host. The call is proxied to the guest's host either way (that is where
 * the VM runs), but asking a surviving host means that when the guest's host is gone the answer
 * is a prompt error from a live API, and fencing escalates to the next level, instead of a
 * connection to a dead address that hangs until the timeout. It also keeps fence_pve working when
 * only the guest's host's API service is wedged while its VMs still run.
 */
export function fenceApiHost(c: HahaConfig, member: Member): { name: string; address: string } {
  const others = c.nodes.filter((n) => n.name !== member.host);
  if (others.length === 0) return { name: member.host, address: c.nodes[member.index]!.address };
  const after = c.nodes.slice(member.index + 1).find((n) => n.name !== member.host) ?? others[0]!;
  return { name: after.name, address: after.address };
}

const pveDevice = (m: Member) => `fence-pve-${m.name}`;
const ipmiDevice = (m: Member) => `fence-ipmi-${m.name}`;

/** The ordered fencing paths of every member; empty when fencing is disabled. */
export function fencingPlan(c: HahaConfig, members: Member[]): MemberFencing[] {
  const f = c.cluster.fencing;
  if (!f.enabled) return members.map((member) => ({ member, levels: [] }));
  const pveRequestsS = f.pve.requestTimeoutS;
  return members.map((member) => {
    const levels: FencingLevelPlan[] = [];
    const api = fenceApiHost(c, member);
    levels.push({
      level: levels.length + 1,
      agent: "fence_pve",
      device: pveDevice(member),
      needsHost: member.host,
      successS: { value: 6, reason: "ticket and status (< 1 s), hard stop of the guest (1-2 s), status polls at 1 s, start again (1-2 s)" },
      failS: {
        value: 2 * pveRequestsS,
        reason: `with ${member.host} gone: one attempt, the ticket from ${api.name} and the status call proxied to ${member.host} each bounded by requestTimeoutS (${pveRequestsS} s)`,
      },
      reason: `power off and on VM ${member.vmid} through the Proxmox API of ${api.name} as ${f.pveUser}; positive confirmation, scoped to the guest, but it needs ${member.host} alive`,
    });
    if (member.bmc) {
      levels.push({
        level: levels.length + 1,
        agent: "fence_ipmilan",
        device: ipmiDevice(member),
        needsHost: null,
        successS: { value: 15, reason: "BMC chassis power off and the status that confirms it" },
        failS: { value: Math.ceil(1.2 * IPMI_REBOOT_TIMEOUT_S), reason: `a BMC without power answers nothing: pcmk_reboot_timeout (${IPMI_REBOOT_TIMEOUT_S} s) x 1.2` },
        reason: `power-cycle ${member.host} through its BMC ${member.bmc.address}: works when the host's OS or Proxmox is dead, kills the whole host`,
      });
    }
    if (f.watchdog.enabled) {
      const wait = 2 * f.watchdog.timeoutS;
      levels.push({
        level: levels.length + 1,
        agent: "watchdog",
        device: WATCHDOG_DEVICE_ID,
        needsHost: null,
        successS: { value: wait, reason: `stonith-watchdog-timeout: by then the guest's own watchdog (SBD, ${f.watchdog.timeoutS} s) has reset it, or its host is gone` },
        failS: { value: wait, reason: "watchdog fencing always ends after stonith-watchdog-timeout" },
        reason: "self-fencing: a member that lost quorum or whose Pacemaker hangs is reset by its i6300esb; needs no other host",
      });
    }
    return { member, levels };
  });
}

/** The stonith primitives, their anti-location constraints and the fencing levels. */
export function fencingResources(c: HahaConfig, members: Member[]): { primitives: Primitive[]; constraints: Location[]; levels: FencingLevel[] } {
  const f = c.cluster.fencing;
  const plan = fencingPlan(c, members);
  const primitives: Primitive[] = [];
  const constraints: Location[] = [];
  const levels: FencingLevel[] = [];
  if (!f.enabled) return { primitives, constraints, levels };
  const port = String(proxmoxApiPort(c));
  // off + on each wait up to powerTimeoutS; four API calls around them.
  const pveRebootTimeoutS = 2 * f.pve.powerTimeoutS + 4 * f.pve.requestTimeoutS;
  // The status call is a ticket and a status request, each bounded by requestTimeoutS, after
  // the agent's own start (python and its imports, seconds on a small guest): 20 s at the default 3 s.
  const monitor = {
    name: "monitor" as const,
    intervalS: 60,
    timeoutS: 2 * f.pve.requestTimeoutS + 14,
    reason: "proves the API and the credentials work before they are needed, at one light call a minute",
  };
  // Declared, not left to op_defaults: a failed stop of a fence device fences the member it runs on.
  const startStop = [
    { name: "start" as const, intervalS: 0, timeoutS: monitor.timeoutS, reason: "the fencer's start of a device runs its status once, as the monitor does" },
    { name: "stop" as const, intervalS: 0, timeoutS: 20, reason: "unregisters the device from the fencer; no agent runs" },
  ];
  for (const { member, levels: memberLevels } of plan) {
    for (const l of memberLevels) {
      levels.push({ index: l.level, target: member.name, devices: [l.device], reason: l.reason });
      if (l.agent === "fence_pve") {
        const api = fenceApiHost(c, member);
        primitives.push({
          kind: "primitive",
          id: l.device,
          class: "stonith",
          type: "fence_pve",
          description: `fence_pve for ${member.name} (VM ${member.vmid} on ${member.host}) via ${api.name}`,
          params: {
            ip: api.address,
            ipport: port,
            username: f.pveUser,
            // The agent runs this through a shell and reads the password from its output.
            password_script: `/bin/cat ${PVE_PASSWORD_FILE}`,
            pve_node: member.host,
            vmtype: "qemu",
            // onoff confirms the guest reports off; cycle (reset) trusts the API's answer alone.
            method: "onoff",
            ...(c.proxmox.insecure ? { ssl_insecure: "1" } : { ssl_secure: "1" }),
            shell_timeout: String(f.pve.requestTimeoutS),
            power_timeout: String(f.pve.powerTimeoutS),
            // The fencer hands the agent the target as its plug (VM id): node name -> VMID.
            pcmk_host_map: `${member.name}:${member.vmid}`,
            // This device fences one VM: its plug is fixed, which also gives the monitor a VM to
            // ask about (a fencer-set plug would be the same VMID).
            plug: String(member.vmid),
            // The agent's own monitor lists every VM on every Proxmox node (fencing.py's list
            // path): one node down fails every device's monitor. `status` of this one VM needs only
            // the API host and the guest's own host, which this device needs anyway.
            pcmk_monitor_action: "status",
            // Under Pacemaker, fencing.py forces --disable-timeout unless told otherwise: without
            // this, shell_timeout and power_timeout above are ignored and a hung API call hangs
            // the fence until Pacemaker's own timeout.
            disable_timeout: "false",
            pcmk_host_check: "static-list",
            pcmk_reboot_timeout: `${pveRebootTimeoutS}s`,
            // One attempt: when the guest's host is gone another try only repeats the error.
            pcmk_reboot_retries: "1",
          },
          ops: [...startStop, monitor],
        });
      } else if (l.agent === "fence_ipmilan" && member.bmc) {
        primitives.push({
          kind: "primitive",
          id: l.device,
          class: "stonith",
          type: "fence_ipmilan",
          description: `fence_ipmilan for ${member.name}: the BMC of ${member.host}`,
          params: {
            ip: member.bmc.address,
            username: member.bmc.username,
            password_script: `/bin/cat ${BMC_PASSWORD_FILE}`,
            ...(member.bmc.lanplus ? { lanplus: "1" } : {}),
            method: "onoff",
            pcmk_host_list: member.name,
            pcmk_host_check: "static-list",
            pcmk_reboot_timeout: `${IPMI_REBOOT_TIMEOUT_S}s`,
            pcmk_reboot_retries: "1",
          },
          ops: [...startStop, monitor],
        });
      }
      if (l.agent !== "watchdog") {
        constraints.push({
          kind: "location",
          id: `${l.device}-not-on-target`,
          rsc: l.device,
          node: member.name,
          score: "-INFINITY",
          reason: `a member never runs the device that fences it: ${member.name} cannot be trusted to fence itself`,
        });
      }
    }
  }
  if (f.watchdog.enabled) {
    primitives.push({
      kind: "primitive",
      id: WATCHDOG_DEVICE_ID,
      class: "stonith",
      type: "fence_watchdog",
      description: "watchdog self-fencing (diskless SBD) as a fencing level",
      params: { pcmk_host_list: members.map((m) => m.name).join(",") },
      ops: [],
    });
  }
  return { primitives, constraints, levels };
}

/** What the policy pack reads from haha:pacemaker:Cib: known at preview, derived from config only. */
export function clusterIntent(c: HahaConfig, members: Member[]): ClusterIntent {
  return {
    members: members.map((m) => ({ name: m.name, host: m.host, votes: 1 })),
    stonithEnabled: c.cluster.fencing.enabled,
    noQuorumPolicy: c.cluster.defaults.noQuorumPolicy,
    fencing: fencingPlan(c, members).map(({ member, levels }) => ({
      member: member.name,
      host: member.host,
      paths: levels.map((l) => ({ level: l.level, agent: l.agent, needsHost: l.needsHost })),
    })),
  };
}
