// Converged means really running (issue 9 item 3): each fact checked on the guests themselves,
// with the command and its output kept as evidence.
import { shq } from "../../components/host/connection";
import { serviceCatalog } from "../../components/services/catalog";
import type { HahaConfig } from "../../stacks/config/schema";
import type { Guest, Lab } from "./lab";

export interface Check {
  name: string;
  /** Guest addresses it runs on (every one must pass). */
  hosts: string[];
  script: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  evidence: string;
}

export function convergedChecks(c: HahaConfig): Check[] {
  const all = c.nodes.map((n) => n.guest.address);
  const diskful = c.nodes.filter((n) => n.drbdDisk).map((n) => n.guest.address);
  const nic = c.network.guestNic;
  const r = c.storage.drbd.resource;
  const one = all.slice(0, 1);
  return [
    // What the rest stands on: the kernel's modules and the watchdog device.
    { name: "kernel has drbd, ocfs2, dlm, nfsd", hosts: all, script: "set -e; uname -r; for m in drbd ocfs2 dlm nfsd; do modinfo -F filename $m; done" },
    { name: "watchdog device /dev/watchdog (i6300esb)", hosts: all, script: "set -e; ls -l /dev/watchdog; ls /sys/class/watchdog/*/identity >/dev/null && cat /sys/class/watchdog/*/identity" },
    { name: `the cluster NIC is named ${nic} (the VIPs' nic=)`, hosts: all, script: `ip -o link show dev ${nic}` },
    { name: "corosync quorate with 3 votes", hosts: all, script: "set -e; corosync-quorumtool -s | tee /dev/stderr | grep -Eq '^Quorate: +Yes' && corosync-quorumtool -s | grep -Eq '^Total votes: +3'" },
    { name: "sbd running on the watchdog", hosts: all, script: "set -e; systemctl is-active sbd; sbd query-watchdog 2>/dev/null | head -5 || true" },
    { name: `DRBD ${r} Primary and UpToDate on both diskful members`, hosts: diskful, script: `set -e; cat /proc/drbd; grep -Eq 'ro:Primary/Primary ds:UpToDate/UpToDate' /proc/drbd` },
    { name: `OCFS2 mounted at ${c.storage.ocfs2.mountPoint}`, hosts: diskful, script: `findmnt -t ocfs2 ${c.storage.ocfs2.mountPoint}` },
    { name: `NFS export served behind the storage VIP ${c.network.storageVip}`, hosts: one, script: `set -e; showmount -e ${c.network.storageVip} | grep -F ${c.storage.nfs.exportPath}` },
    { name: `shared mount ${c.storage.nfs.mountPoint} on every member`, hosts: all, script: `findmnt -t nfs,nfs4 ${c.storage.nfs.mountPoint}` },
    { name: `services VIP ${c.network.vip} answers`, hosts: all, script: `ping -c 2 -W 2 ${c.network.vip}` },
    ...serviceProbeChecks(c),
  ];
}

/**
 * Each service's own probe, run on the guest where Pacemaker says the service runs, the way the
 * docker agent's monitor runs it (`docker exec <container> <monitor_cmd>`): a pass here is the
 * application answering, not Pacemaker's last recorded result. Every member runs the script; only
 * the one running the service probes it, and a service running nowhere fails everywhere.
 */
export function serviceProbeChecks(c: HahaConfig): Check[] {
  const all = c.nodes.map((n) => n.guest.address);
  return serviceCatalog(c).map((s) => ({
    name: `${s.id}: its own probe passes where Pacemaker runs it (${s.probe.command.join(" ")})`,
    hosts: all,
    script: [
      "set -euo pipefail",
      `at=$(crm_resource --resource ${shq(s.id)} --locate 2>/dev/null | sed -n 's/^resource .* is running on: \\([^ ]*\\).*/\\1/p' | head -1)`,
      `[ -n "$at" ] || { echo ${shq(`${s.id} runs on no member`)}; exit 1; }`,
      "me=$(crm_node -n)",
      `if [ "$at" != "$me" ]; then echo "${s.id} runs on $at, not here"; exit 0; fi`,
      `docker exec ${shq(s.id)} ${s.probe.command.map(shq).join(" ")}`,
      `echo "${s.id}: probe passed on $me"`,
    ].join("\n"),
  }));
}

/**
 * Issue 10 item 2: the agent the VM enables answers, and reports the guest's address (what the
 * Proxmox provider waits for, up to its agent timeout, on every create, refresh and update).
 */
export async function agentCheck(lab: Pick<Lab, "qga">, g: Guest): Promise<CheckResult> {
  const name = `${g.shape.name}: qemu-guest-agent answers on its virtio-serial port and reports the guest's address`;
  try {
    const ifs = (await lab.qga(g, "guest-network-get-interfaces")) as { name: string; "ip-addresses"?: { "ip-address": string; prefix: number }[] }[];
    const seen = ifs.map((i) => `${i.name} ${(i["ip-addresses"] ?? []).map((a) => `${a["ip-address"]}/${a.prefix}`).join(" ")}`);
    const ok = ifs.some((i) => (i["ip-addresses"] ?? []).some((a) => a["ip-address"] === g.address));
    return { name, ok, evidence: `guest-network-get-interfaces:\n${seen.join("\n")}${ok ? "" : `\n(no interface has ${g.address})`}` };
  } catch (e) {
    return { name, ok: false, evidence: (e as Error).message };
  }
}
