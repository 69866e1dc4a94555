// Initialization of the replicated storage as guarded, re-runnable shell steps (HostStep
// scripts, rendered here as pure functions). Every destructive action is guarded on the
// guest's real state: metadata only where a disk has none, the initial sync only while no
// replica anywhere holds data, mkfs only on a blank device and never once Pacemaker runs it.
import { shq } from "../host/connection";
import type { DrbdHost, DrbdResourceModel } from "./drbd";
import { drbdDevice } from "./drbd";

const lines = (...l: (string | false | undefined)[]) => l.filter((x): x is string => typeof x === "string").join("\n") + "\n";

/** drbdsetup events2 --now: DRBD's machine-readable state, one `exists <object> key:value...` line per object. */
const EVENTS = `drbdsetup events2 --now "$res" 2>/dev/null`;

/** The kernel module's major version each config version needs, and where it comes from. */
const MODULE: Record<DrbdResourceModel["version"], { major: string; source: string }> = {
  "8.4": { major: "8", source: "Debian's own kernel" },
  "9": { major: "9", source: "drbd-dkms from LINBIT's repository (haha:storage.drbd.version 9)" },
};

/**
 * On every DRBD host (both diskful members under 8.4; every member under 9): check the kernel
 * modules, create metadata on a diskful member's disk only when it has none and holds no other
 * signature, then bring the resource up unless it already is (Pacemaker runs it after the first
 * deploy). `create-md --force` never prompts; the blkid guard before it is what keeps a disk with
 * data from being initialized.
 */
export function drbdUpScript(m: DrbdResourceModel, host: DrbdHost): string {
  const disk = host.disk ?? "none";
  const mod = MODULE[m.version];
  return lines(
    "set -euo pipefail",
    `res=${shq(m.resource)}`,
    `disk=${shq(disk)}`,
    `modprobe drbd || { echo "kernel module drbd is missing: DRBD ${m.version} needs it from ${mod.source}" >&2; exit 1; }`,
    // drbdadm reports the loaded module's version (and picks its 8.4 or 9 mode from it) as a code,
    // 0xMMmmpp: drbd-utils 9 with Debian's 8.4 module prints no DRBD_KERNEL_VERSION line (seen in the lab).
    `code=$(drbdadm --version 2>/dev/null | sed -n 's/^DRBD_KERNEL_VERSION_CODE=0x\\([0-9a-fA-F]\\{1,6\\}\\)$/\\1/p')`,
    `ver=""; if [ -n "$code" ]; then ver=$(printf '%d.%d.%d' $((0x$code >> 16)) $(((0x$code >> 8) & 0xff)) $((0x$code & 0xff))); fi`,
    `case "\${ver:-unknown}" in`,
    `  ${m.version === "8.4" ? "8.4.*" : "9.*"}) ;;`,
    `  *) echo "DRBD kernel module \${ver:-unknown} is loaded; haha:storage.drbd.version ${m.version} needs a ${m.version === "8.4" ? "8.4" : "9"}.x module (from ${mod.source})" >&2; exit 1 ;;`,
    "esac",
    host.diskful && `modprobe ocfs2_stack_user || { echo "kernel module ocfs2_stack_user is missing: OCFS2 under Pacemaker's dlm needs it" >&2; exit 1; }`,
    host.diskful && "modprobe ocfs2",
    // The rendered file must name this host (uname -n) before anything acts on it.
    `if ! drbdadm sh-resources 2>/dev/null | tr ' ' '\\n' | grep -qx "$res"; then echo "$(uname -n) is not a host of DRBD resource $res: the rendered /etc/drbd.d file and this guest's hostname disagree" >&2; exit 1; fi`,
    `if drbdsetup status "$res" >/dev/null 2>&1; then echo "DRBD resource $res is already up: nothing to do"; exit 0; fi`,
    host.diskful &&
      [
        `if [ ! -b "$disk" ]; then echo "$disk is not a block device on $(uname -n): check haha:nodes[].drbdDisk (device, PCI mapping)" >&2; exit 1; fi`,
        "rc=0",
        `err=$(drbdadm dump-md "$res" 2>&1 >/dev/null) || rc=$?`,
        `if [ "$rc" -eq 0 ]; then`,
        `  echo "DRBD metadata present on $disk: keeping it"`,
        `else`,
        `  case "$err" in`,
        `    *"No valid meta data found"*)`,
        // --force skips drbdmeta's questions: the disk must be blank, which blkid proves first.
        `      brc=0; sig=$(blkid -p -o value -s TYPE "$disk") || brc=$?`,
        `      if [ "$brc" -ne 2 ]; then echo "$disk has no DRBD metadata but is not blank (blkid: \${sig:-exit $brc}): refusing to create metadata over it; wipe it by hand if it is really unwanted" >&2; exit 1; fi`,
        `      echo "no DRBD metadata on $disk, which is blank: creating it"`,
        `      drbdadm create-md --force "$res" </dev/null ;;`,
        `    *)`,
        `      printf '%s\\n' "$err" >&2`,
        `      echo "cannot read DRBD metadata on $disk (drbdadm dump-md exit $rc): refusing to create it" >&2`,
        `      exit 1 ;;`,
        `  esac`,
        `fi`,
      ].join("\n"),
    `drbdadm up "$res"`,
  );
}

/**
 * On the first diskful member only: start the initial full sync when, and only when, every
 * diskful replica is connected and none holds up-to-date data (a brand-new resource). A peer
 * that cannot be reached might hold the only good data, so the step waits for it and gives up
 * rather than guess. Any later run finds an UpToDate replica and does nothing. 8.4 reports its
 * one connection with `drbdadm cstate`/`dstate` ("Inconsistent/Inconsistent": local/peer); 9
 * reports every connection through `drbdsetup events2`.
 */
export function initialSyncScript(m: DrbdResourceModel, waitS = 300): string {
  const self = m.hosts.find((h) => h.diskful);
  const peers = m.hosts.filter((h) => h.diskful && h !== self).map((h) => h.name);
  const head = ["set -euo pipefail", `res=${shq(m.resource)}`, `peers=${shq(peers.join(" "))}`, `deadline=$(( $(date +%s) + ${waitS} ))`];
  const tail = [`echo "no replica of $res holds data yet: starting the initial full sync from this member"`, `drbdadm primary --force "$res"`, `drbdadm secondary "$res"`];
  if (m.version === "8.4") {
    return lines(
      ...head,
      `if [ -n "$peers" ]; then`,
      `  until [ "$(drbdadm cstate "$res" 2>/dev/null)" = Connected ]; do`,
      `    if [ "$(date +%s)" -ge "$deadline" ]; then echo "replica $peers is not connected after ${waitS} s (cstate $(drbdadm cstate "$res" 2>&1)): refusing to decide which data is good without it" >&2; exit 1; fi`,
      "    sleep 2",
      "  done",
      "fi",
      `state=$(drbdadm dstate "$res")`,
      `case "$state" in`,
      `  *UpToDate*) echo "a replica of $res is already UpToDate ($state): no initial sync (DRBD resyncs by itself)"; exit 0 ;;`,
      `  Inconsistent/Inconsistent|Inconsistent/DUnknown) ;;`,
      `  *) echo "disks of $res are $state (local/peer), not Inconsistent: not a new resource, refusing to force it" >&2; exit 1 ;;`,
      "esac",
      ...tail,
    );
  }
  return lines(
    ...head,
    "for p in $peers; do",
    `  until ${EVENTS} | grep -Eq "^exists connection name:$res .*conn-name:$p .*connection:Connected( |$)"; do`,
    `    if [ "$(date +%s)" -ge "$deadline" ]; then echo "replica $p is not connected after ${waitS} s: refusing to decide which data is good without it" >&2; exit 1; fi`,
    "    sleep 2",
    "  done",
    "done",
    `state=$(${EVENTS})`,
    `if printf '%s\\n' "$state" | grep -Eq ' (peer-)?disk:UpToDate( |$)'; then echo "a replica of $res is already UpToDate: no initial sync (DRBD resyncs by itself)"; exit 0; fi`,
    `if ! printf '%s\\n' "$state" | grep -Eq "^exists device name:$res .* disk:Inconsistent( |$)"; then`,
    `  printf '%s\\n' "$state" >&2; echo "local disk of $res is not Inconsistent: not a new resource, refusing to force it" >&2; exit 1`,
    "fi",
    ...tail,
  );
}

/**
 * On the first diskful member only: make OCFS2 on the DRBD device when it is blank. Skipped
 * once the CIB holds the DRBD clone (the CIB is pushed only after this step succeeded) or the
 * device is mounted; refuses any device holding another signature or that cannot be read.
 */
export function mkfsScript(m: DrbdResourceModel, o: { clusterName: string; label: string; slots: number; drbdCloneId: string }): string {
  return lines(
    "set -euo pipefail",
    `res=${shq(m.resource)}`,
    `dev=${shq(drbdDevice(m.minor))}`,
    `if cibadmin --query --xpath ${shq(`//clone[@id="${o.drbdCloneId}"]`)} >/dev/null 2>&1; then echo "the CIB holds $res: its filesystem was made before the CIB was pushed; not touching it"; exit 0; fi`,
    `if grep -q "^$dev " /proc/mounts; then echo "$dev is mounted: it has its filesystem"; exit 0; fi`,
    "promoted=no",
    `trap 'if [ "$promoted" = yes ]; then drbdadm secondary "$res" || true; fi' EXIT`,
    // `drbdadm role`: "Primary" under 9, "Primary/Secondary" (local/peer) under 8.4.
    `case "$(drbdadm role "$res")" in Primary*) ;; *) drbdadm primary "$res"; promoted=yes ;; esac`,
    // The device must answer a read before its content is judged: a failed probe is not "blank".
    `dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct status=none`,
    "rc=0",
    `fstype=$(blkid -p -s TYPE -o value "$dev") || rc=$?`,
    `case "$rc" in`,
    "  0)",
    `    if [ "$fstype" = ocfs2 ]; then echo "$dev already holds OCFS2: not formatting"; exit 0; fi`,
    `    echo "$dev holds another signature (\${fstype:-no filesystem type, e.g. a partition table}): refusing to format it; wipe it by hand if it is really unwanted" >&2; exit 1 ;;`,
    "  2)",
    `    echo "$dev is blank: making OCFS2"`,
    `    mkfs.ocfs2 --cluster-stack=pcmk --cluster-name=${shq(o.clusterName)} -N ${o.slots} -L ${shq(o.label)} "$dev" </dev/null ;;`,
    "  *)",
    `    echo "blkid could not probe $dev (exit $rc): refusing to format it" >&2; exit 1 ;;`,
    "esac",
  );
}

/**
 * A shell condition, true when the DRBD resource named by $res is connected to its peer(s) with
 * every disk UpToDate on this member. Whatever takes a member's replica away next (an adjust, a
 * cluster stack restart) waits for it: the peer is the only good copy until then.
 */
export function drbdInSync(version: DrbdResourceModel["version"]): string {
  return version === "8.4"
    ? `[ "$(drbdadm cstate "$res" 2>/dev/null)" = Connected ] && [ "$(drbdadm dstate "$res" 2>/dev/null)" = UpToDate/UpToDate ]`
    : `s=$(${EVENTS}) && ! printf '%s\\n' "$s" | grep -E ' connection:[A-Za-z]+' | grep -vq ' connection:Connected' && ! printf '%s\\n' "$s" | grep -Eq ' (peer-)?disk:(Inconsistent|Outdated|DUnknown|Negotiating|Attaching|Failed|Consistent)'`;
}

/**
 * HostFile onChange of the resource file: adjust a running resource, then wait until this
 * member is connected to its peer(s) again with every disk UpToDate, so the next member (whose
 * adjust is ordered after this one) never adjusts while this one is still reconnecting: a changed
 * net option applied on both primaries at once would disconnect them and the fence-peer handler
 * would reboot one. A resource that is not up is left to the up step.
 */
export function adjustCommand(m: Pick<DrbdResourceModel, "resource" | "version">, waitS = 300): string {
  const healthy = drbdInSync(m.version);
  return lines(
    "set -euo pipefail",
    `res=${shq(m.resource)}`,
    `if ! drbdsetup status "$res" >/dev/null 2>&1; then echo "DRBD resource $res is not up yet: the up step brings it up"; exit 0; fi`,
    `drbdadm adjust "$res"`,
    `deadline=$(( $(date +%s) + ${waitS} ))`,
    `until ${healthy}; do`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "DRBD resource $res on $(uname -n) is not connected and UpToDate ${waitS} s after drbdadm adjust: the next member does not adjust; see drbdadm status $res" >&2; exit 1; fi`,
    "  sleep 2",
    "done",
    `echo "DRBD resource $res adjusted on $(uname -n) and back in sync"`,
  );
}
