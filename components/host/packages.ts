// The Debian packages every cluster guest needs, installed once and again only when the list changes.
import * as pulumi from "@pulumi/pulumi";
import type { HahaConfig } from "../../stacks/config/schema";
import { HahaComponent } from "../component";
import { GuestConnection, shq } from "./connection";
import { HostStep } from "./step";

/** Why each package is on every member. */
export const CLUSTER_PACKAGES: Record<string, string> = {
  pacemaker: "the cluster resource manager that places every service",
  corosync: "membership and quorum",
  // Only a Recommends of pacemaker: --no-install-recommends drops it, and with it every tool
  // the CIB push, the storage steps and the linbit, controld and fence-peer agents call.
  "pacemaker-cli-utils": "cibadmin, crm_verify, crm_attribute, crm_node, crm_resource, crm_mon: the CIB push and the agents' own calls",
  "resource-agents": "ocf:heartbeat agents: IPaddr2, Filesystem, docker, nfsserver, exportfs",
  "fence-agents": "fence_pve and fence_ipmilan",
  sbd: "watchdog self-fencing on the guest's i6300esb",
  "drbd-utils": "drbdadm, drbdsetup, the ocf:linbit:drbd agent and the crm-fence-peer handlers",
  "ocfs2-tools": "mkfs.ocfs2 and the o2cb/dlm user space",
  "dlm-controld": "the distributed lock manager OCFS2 needs under Pacemaker",
  "nfs-kernel-server": "the HA NFS export",
  "nfs-common": "the NFS client mount on every member",
  "docker.io": "the container engine ocf:heartbeat:docker drives",
  // Only a Recommends of docker.io (and of the kernel): Debian's kernel enables AppArmor, and
  // without apparmor_parser dockerd cannot load its default profile and starts no container
  // ("docker failed to launch container": found by the rehearsal lab on a stock Debian 12 guest).
  apparmor: "apparmor_parser, which Docker needs to start any container under Debian's AppArmor-enabled kernel",
  // Only with haha:services.homeassistant, whose recorder it serves (SERVICE_PACKAGES).
  "postgresql-client": "pg_isready for the recorder's application-level monitor",
  "mosquitto-clients": "mosquitto_sub for the broker's authenticated monitor",
  curl: "HTTP probes of Home Assistant, Node-RED and the ESPHome dashboard",
};

/** DRBD 9 (haha:storage.drbd.version "9"): LINBIT's module and tools, from LINBIT's repository. */
export const DRBD9_PACKAGES: Record<string, string> = {
  "drbd-dkms": "the DRBD 9 kernel module (Debian's kernel has 8.4); from LINBIT's apt repository, which the user adds (docs/storage.md); not tested here",
};

/** Packages that serve one service only: left out when the stack does not declare it. */
const SERVICE_PACKAGES: Record<string, "homeassistant"> = { "postgresql-client": "homeassistant" };

/** The packages of a cluster member for this config. */
export function clusterPackages(c: Pick<HahaConfig, "storage" | "services">): Record<string, string> {
  const base = Object.fromEntries(Object.entries(CLUSTER_PACKAGES).filter(([p]) => !(p in SERVICE_PACKAGES) || c.services[SERVICE_PACKAGES[p]!] !== undefined));
  return c.storage.drbd.version === "9" ? { ...base, ...DRBD9_PACKAGES } : base;
}

export interface GuestPackagesArgs {
  connection: GuestConnection;
  packages?: Record<string, string>;
}

export class GuestPackages extends HahaComponent {
  readonly step: HostStep;
  constructor(name: string, args: GuestPackagesArgs, opts?: pulumi.ComponentResourceOptions) {
    const packages = Object.keys(args.packages ?? CLUSTER_PACKAGES).sort();
    super("haha:host:Packages", name, { host: args.connection.host, packages }, opts);
    const list = packages.map(shq).join(" ");
    this.step = new HostStep(
      `${name}-install`,
      {
        connection: args.connection,
        // Idempotent: apt-get install of installed packages is a no-op. Services stay disabled:
        // Pacemaker, not systemd, decides where they run.
        create: [
          "set -euo pipefail",
          "export DEBIAN_FRONTEND=noninteractive",
          "apt-get update -q",
          `apt-get install -y -q --no-install-recommends ${list}`,
          // The NFS server is a Pacemaker resource; docker itself runs everywhere (the
          // containers do not: Pacemaker starts them without a restart policy).
          "systemctl disable --now nfs-server.service 2>/dev/null || true",
          // Debian starts dlm.service on install and at every boot, and it pulls corosync, sbd and
          // sbd_remote in outside Pacemaker: dlm_controld is Pacemaker's (ocf:pacemaker:controld),
          // and sbd_remote (for pacemaker_remote nodes only) races sbd for its pid file and the
          // watchdog. Seen in the lab: sbd failed, then the guest reset during the cluster start.
          // sbd_remote refuses a stop; TERM is its own ExecStop (sbd disarms the watchdog on it).
          // (Only a loaded unit can be killed; once masked it is not loaded, and not running.)
          "systemctl disable --now dlm.service",
          'sbd_remote=$(systemctl show -p ActiveState --value sbd_remote.service 2>/dev/null || true)',
          'case "$sbd_remote" in active|activating|reloading) systemctl kill --signal=TERM sbd_remote.service; sleep 2 ;; esac',
          "systemctl disable sbd_remote.service",
          "systemctl mask sbd_remote.service",
          'if systemctl is-active --quiet sbd_remote.service; then echo "sbd_remote.service still runs after TERM: it holds the watchdog beside sbd" >&2; exit 1; fi',
          "systemctl enable --now docker.service",
        ].join("\n"),
        triggers: [packages.join(",")],
      },
      this.child(),
    );
    this.registerOutputs({ packages });
  }
}
