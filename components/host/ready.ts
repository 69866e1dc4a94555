// Before anything else runs on a guest: cloud-init has finished (it installs qemu-guest-agent with
// apt, and holds apt's lock meanwhile), and the guest is what the cluster needs: the running
// kernel has the modules the stack loads, and the member's address sits on the NIC the VIPs name.
// Each check fails the deploy, naming what is missing.
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection, shq } from "./connection";
import { HostStep } from "./step";

/** Kernel modules the cluster guests load, with who needs them. */
export const CLUSTER_MODULES: Record<string, string> = {
  ocfs2: "the shared file system on DRBD",
  ocfs2_stack_user: "OCFS2's cluster stack under Pacemaker (dlm_controld)",
  dlm: "the distributed lock manager OCFS2 needs",
  i6300esb: "the watchdog sbd self-fences with (the VM's i6300esb device)",
};

/**
 * How long cloud-init may take on first boot: package_update plus one package install, on a
 * slow mirror or an emulated lab guest (TCG is 10 to 50 times slower than hardware).
 */
export const CLOUD_INIT_WAIT_S = 1800;

export interface ReadinessChecks {
  /** Seconds to wait for cloud-init before failing. */
  cloudInitWaitS: number;
  /** Modules the running kernel must have; empty: no check. */
  modules: string[];
  /** The member's address must be on this NIC; undefined: no check. */
  nic?: { name: string; address: string };
  /** Where the kernels' module trees are (a parameter for tests). */
  modulesDir?: string;
}

/** The readiness script (bash: pipefail): pure, from the model. */
export function renderReadiness(r: ReadinessChecks): string {
  const lines = [
    "set -euo pipefail",
    // cloud-init first: until it is done, apt is locked and the guest agent may be missing.
    `rc=0; out=$(timeout ${r.cloudInitWaitS} cloud-init status --wait 2>&1) || rc=$?`,
    `status=$(printf '%s\\n' "$out" | grep -o 'status: [a-z]*' | tail -n 1 | cut -d' ' -f2 || true)`,
    `if [ "$rc" -eq 124 ]; then echo "cloud-init did not finish within ${r.cloudInitWaitS} s (status: \${status:-unknown})" >&2; exit 1; fi`,
    'if [ "$rc" -ne 0 ] || [ "$status" != done ]; then',
    '  echo "cloud-init did not complete cleanly: status ${status:-unknown} (exit $rc); its user data (qemu-guest-agent, host key, users) may be half applied" >&2',
    "  cloud-init status --long >&2 || true",
    "  tail -n 40 /var/log/cloud-init-output.log >&2 2>/dev/null || true",
    "  exit 1",
    "fi",
    'echo "cloud-init: done"',
  ];
  if (r.modules.length > 0) {
    const dir = r.modulesDir ?? "/lib/modules";
    lines.push(
      'kver=$(uname -r)',
      `dir=${shq(dir)}/"$kver"`,
      'missing=""',
      `for m in ${r.modules.map(shq).join(" ")}; do`,
      '  if [ -n "$(find "$dir" -name "$m.ko*" -print 2>/dev/null | head -n 1)" ] || grep -qs "/$m\\.ko\\$" "$dir/modules.builtin"; then continue; fi',
      '  missing="$missing $m"',
      "done",
      'if [ -n "$missing" ]; then',
      '  echo "kernel $kver has no module for:$missing (looked in $dir): this image boots a kernel without them (Debian genericcloud boots the cloud kernel); boot Debian\'s full kernel (haha:proxmox.cloudImage: debian-12-generic-amd64)" >&2',
      "  exit 1",
      "fi",
      `echo "kernel $kver: ${r.modules.join(", ")} present"`,
    );
  }
  if (r.nic) {
    const { name, address } = r.nic;
    lines.push(
      `dev=$(ip -o -4 addr show to ${shq(`${address}/32`)} | awk '{print $2}' | head -n 1)`,
      `if [ -z "$dev" ]; then echo "no interface carries the member's address ${address}" >&2; ip -br addr >&2 || true; exit 1; fi`,
      `if [ "$dev" != ${shq(name)} ]; then echo "the member's address ${address} is on $dev, not on ${name} (haha:network.guestNic): the VIPs (IPaddr2 nic=${name}) would fail to start" >&2; exit 1; fi`,
      `echo "NIC ${name} carries ${address}"`,
    );
  }
  return lines.join("\n");
}

export interface GuestReadyArgs {
  connection: GuestConnection;
  modules?: string[];
  /** The NIC the member's address must be on (the cluster guests: haha:network.guestNic). */
  nic?: string;
}

export class GuestReady extends HahaComponent {
  readonly step: HostStep;
  constructor(name: string, args: GuestReadyArgs, opts?: pulumi.ComponentResourceOptions) {
    const modules = [...(args.modules ?? [])];
    super("haha:host:Ready", name, { host: args.connection.host, modules, nic: args.nic }, opts);
    this.step = new HostStep(
      `${name}-check`,
      { connection: args.connection, create: renderReadiness({ cloudInitWaitS: CLOUD_INIT_WAIT_S, modules, nic: args.nic ? { name: args.nic, address: args.connection.address } : undefined }) },
      this.child(),
    );
    this.registerOutputs({ host: args.connection.host });
  }
}
