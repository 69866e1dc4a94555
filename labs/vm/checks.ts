// Converged means really running (issue 9 item 3): each fact checked on the guests themselves,
// with the command and its output kept as evidence.
import type { HahaConfig } from "../../stacks/config/schema";

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
  ];
}
