// The shell steps the pacemaker layer runs on members, rendered by pure functions from typed
// options (values quoted with shq), so tests can run them against the real Pacemaker tools.
import { shq } from "../host/connection";
import { drbdInSync } from "../storage/init";
import type { DrbdVersion } from "../../stacks/config/storage";
import { CIB_DIGEST_PROPERTY } from "./cib/build";
import { COROSYNC_AUTHKEY_BYTES, COROSYNC_AUTHKEY_PATH } from "./corosync";

export const CIB_PATH = "/etc/haha/cib.xml";
export const CIB_PUSH_PATH = "/usr/local/sbin/haha-cib-push";
export const MEMBER_MARKER_DIR = "/var/lib/haha";

/** Properties the cluster maintains itself in cib-bootstrap-options; a push keeps their live values. */
/** What the push script calls from pacemaker-cli-utils; it checks each is there before anything else. */
/**
 * Constraints the cluster or an operator adds to the live CIB, which a push keeps: the DRBD
 * fence-peer handler's (a peer that must not be promoted until resynced) and crm_resource's
 * --ban/--move (cli-ban-*, cli-prefer-*).
 */
export const KEPT_CONSTRAINT_PREFIXES = ["drbd-fence-by-handler-", "cli-ban-", "cli-prefer-"];
const KEPT_XPATH = `/cib/configuration/constraints/*[${KEPT_CONSTRAINT_PREFIXES.map((p) => `starts-with(@id,'${p}')`).join(" or ")}]`;

export const CIB_PUSH_TOOLS = ["cibadmin", "crm_attribute", "crm_node", "crm_resource", "crm_verify"];

export const CLUSTER_MAINTAINED_PROPERTIES = ["dc-version", "cluster-infrastructure", "cluster-name", "have-watchdog", "last-lrm-refresh"];

const script = (lines: string[]) => lines.join("\n") + "\n";

export interface CibPushOptions {
  /** The rendered CIB on this member. */
  cibPath: string;
  /** Corosync node id of this member: members try in node-id order, `staggerS` apart. */
  nodeId: number;
  /**
   * Every member's node name (uname): the push waits until each has joined this cluster once,
   * since the pushed configuration enables fencing and Pacemaker fences a member it never saw.
   */
  members: string[];
  staggerS: number;
  /** How long to wait for this member's Pacemaker to answer with quorum after a (re)start. */
  waitS: number;
  /**
   * Primitives whose files are written after the push (onto the shared mount, which exists only
   * once Pacemaker runs the CIB): one that is new to the cluster enters it stopped and marked
   * awaiting its files; its apply step starts it once they are written.
   */
  awaitingFiles?: string[];
}

/** The meta attribute that marks a primitive held stopped until its files are written. */
export const AWAITING_FILES_META = "haha-awaiting-files";

/**
 * Pushes the rendered CIB into the running cluster in one atomic change: the configuration
 * section is taken from the rendered file by cibadmin, merged into a copy of the live CIB (so
 * crm_verify judges it against the cluster's real state), verified, and only then replaces the
 * live configuration with one `cibadmin --replace --scope configuration` (a section replace: the
 * cluster bumps the epoch itself, so no epoch arithmetic and no refusal of an "older" CIB).
 *
 * Every member runs it when the file changes. The digest of the applied file is stored in the
 * cluster property haha-cib-sha256 by that same replace; members start in node-id order a few
 * seconds apart, so the first member applies and the others find the digest live and do
 * nothing. The cluster start step runs before it on every member, so a member whose Pacemaker
 * does not answer within the wait fails the step (naming what is missing) instead of reporting
 * success for a CIB nobody applied; a member that runs Pacemaker without quorum refuses (a
 * minority must not change the config).
 */
export function renderCibPushScript(o: CibPushOptions): string {
  const tries = Math.max(1, Math.ceil(o.waitS / 2));
  const stagger = Math.max(0, (o.nodeId - 1) * o.staggerS);
  return script([
    "#!/bin/bash",
    "# Rendered by HAHA: pushes the rendered CIB into the cluster atomically (see docs/pacemaker.md).",
    "set -euo pipefail",
    `cib=${shq(o.cibPath)}`,
    `prop=${shq(CIB_DIGEST_PROPERTY)}`,
    'me=$(uname -n)',
    'say() { echo "haha-cib-push on $me: $*"; }',
    "",
    "# 0. The tools this script calls: without them nothing below can do its work.",
    `for tool in ${CIB_PUSH_TOOLS.join(" ")}; do`,
    '  if ! command -v "$tool" >/dev/null 2>&1; then',
    '    say "$tool is not installed (Debian package pacemaker-cli-utils): the CIB is NOT applied" >&2',
    "    exit 1",
    "  fi",
    "done",
    'if [ ! -r "$cib" ]; then say "$cib is missing: the CIB is NOT applied" >&2; exit 1; fi',
    'sum=$(sha256sum "$cib" | cut -d " " -f 1)',
    "",
    "# 1. This member's Pacemaker must answer, with quorum; wait for it after a fresh start.",
    "i=0",
    'until cibadmin --query --scope nodes >/dev/null 2>&1 && [ "$(crm_node --quorum 2>/dev/null)" = 1 ]; do',
    "  i=$((i + 1))",
    `  if [ "$i" -ge ${tries} ]; then`,
    "    if ! err=$(cibadmin --query --scope nodes 2>&1 >/dev/null); then",
    "      err=$(printf '%s' \"$err\" | tr '\\n' ' ')",
    `      say "Pacemaker does not answer after ${o.waitS} s (cibadmin --query: $err); is pacemaker.service running? The CIB $sum is NOT applied" >&2`,
    "      exit 1",
    "    fi",
    '    say "no quorum: refusing to change the configuration of a minority partition" >&2',
    "    exit 1",
    "  fi",
    "  sleep 2",
    "done",
    "",
    "# 2. Members try in node-id order; a later one finds the digest live and stops here.",
    ...(stagger > 0 ? [`sleep ${stagger}`] : []),
    'if [ "$(crm_attribute --type crm_config --name "$prop" --query --quiet 2>/dev/null || true)" = "$sum" ]; then',
    '  say "CIB $sum is live already"',
    "  exit 0",
    "fi",
    "",
    "# 2b. Every member must have joined this cluster once (it has a node state): the new",
    "# configuration enables fencing, and Pacemaker fences at once a member it never saw",
    "# (startup-fencing; crm_verify below refuses such a CIB). The first deployment starts every",
    "# member's stack and then pushes, so a member still starting is waited for, not fenced.",
    `members=(${o.members.map(shq).join(" ")})`,
    "i=0",
    "while :; do",
    "  missing=()",
    '  for n in "${members[@]}"; do',
    `    cibadmin --query --xpath "/cib/status/node_state[@uname='$n']" >/dev/null 2>&1 || missing+=("$n")`,
    "  done",
    '  [ "${#missing[@]}" -eq 0 ] && break',
    "  i=$((i + 1))",
    `  if [ "$i" -ge ${tries} ]; then`,
    `    say "\${missing[*]} never joined this cluster (no node state after ${o.waitS} s): under the new configuration Pacemaker would fence them at once (startup-fencing); start their cluster stack and push again. The CIB $sum is NOT applied" >&2`,
    "    exit 1",
    "  fi",
    "  sleep 2",
    "done",
    "",
    "# 3. The candidate: the live CIB (its status included) with the new configuration section.",
    'work=$(mktemp -d "${TMPDIR:-/run}/haha-cib.XXXXXX")',
    "trap 'rm -rf \"$work\"' EXIT",
    'if ! CIB_file="$cib" cibadmin --query --scope configuration > "$work/configuration.xml"; then',
    '  say "$cib does not validate against its schema; the cluster keeps its current configuration" >&2',
    "  exit 1",
    "fi",
    'cibadmin --query > "$work/candidate.xml"',
    'CIB_file="$work/candidate.xml" cibadmin --replace --scope configuration --xml-file "$work/configuration.xml"',
    "# What the cluster and the operators added live is kept: the node entries with their",
    "# attributes (standby, maintenance), and the constraints of the DRBD fence-peer handler and",
    "# of crm_resource --ban/--move. One that the new configuration cannot carry (its resource is",
    "# gone) makes crm_verify refuse the push below, naming it: clear it first, then push.",
    'cibadmin --query --xpath "/cib/configuration/nodes/node" --node-path 2>/dev/null > "$work/nodes.txt" || true',
    'while IFS= read -r path; do',
    '  xml=$(cibadmin --query --xpath "$path")',
    '  if CIB_file="$work/candidate.xml" cibadmin --query --xpath "$path" >/dev/null 2>&1; then',
    '    CIB_file="$work/candidate.xml" cibadmin --replace --xpath "$path" --xml-text "$xml"',
    "  else",
    '    CIB_file="$work/candidate.xml" cibadmin --create --scope nodes --xml-text "$xml"',
    "  fi",
    'done < "$work/nodes.txt"',
    `kept="${KEPT_XPATH}"`,
    'cibadmin --query --xpath "$kept" --node-path 2>/dev/null > "$work/kept.txt" || true',
    'while IFS= read -r path; do',
    '  xml=$(cibadmin --query --xpath "$path")',
    '  if ! CIB_file="$work/candidate.xml" cibadmin --query --xpath "$path" >/dev/null 2>&1; then',
    '    id=${path##*@id=}; id=${id%]}',
    '    if ! out=$(CIB_file="$work/candidate.xml" cibadmin --create --scope constraints --xml-text "$xml" 2>&1); then',
    "      # cibadmin prints the whole rejected CIB with line numbers; keep its verdict only.",
    "      err=$(printf '%s\n' \"$out\" | grep -v '^ *[0-9][0-9]* ' | tr -s '\n' ' ' || true)",
    '      say "refusing to push: live constraint $id ($xml) cannot be kept in the new configuration ($err); remove it (crm_resource --clear, or cibadmin --delete) and run the push again" >&2',
    "      exit 1",
    "    fi",
    '    say "keeping live constraint $id"',
    "  fi",
    'done < "$work/kept.txt"',
    "# The properties the cluster maintains keep their live values.",
    `for p in ${CLUSTER_MAINTAINED_PROPERTIES.join(" ")}; do`,
    '  if v=$(crm_attribute --type crm_config --name "$p" --query --quiet 2>/dev/null); then',
    '    CIB_file="$work/candidate.xml" crm_attribute --type crm_config --name "$p" --update "$v" >/dev/null',
    "  fi",
    "done",
    'CIB_file="$work/candidate.xml" crm_attribute --type crm_config --name "$prop" --update "$sum" >/dev/null',
    ...(o.awaitingFiles && o.awaitingFiles.length > 0
      ? [
          "# A new primitive whose files are written after this push enters the cluster stopped (its",
          "# apply step starts it); one that exists keeps its live target-role (an operator's stop too).",
          `for r in ${o.awaitingFiles.map(shq).join(" ")}; do`,
          `  if cibadmin --query --xpath "//primitive[@id='$r']" >/dev/null 2>&1; then`,
          `    for a in target-role ${AWAITING_FILES_META}; do`,
          '      v=$(crm_resource --resource "$r" --meta --get-parameter "$a" --quiet 2>/dev/null || true)',
          '      if [ -n "$v" ]; then CIB_file="$work/candidate.xml" crm_resource --resource "$r" --meta --set-parameter "$a" --parameter-value "$v" >/dev/null; fi',
          "    done",
          "  else",
          '    CIB_file="$work/candidate.xml" crm_resource --resource "$r" --meta --set-parameter target-role --parameter-value Stopped >/dev/null',
          `    CIB_file="$work/candidate.xml" crm_resource --resource "$r" --meta --set-parameter ${AWAITING_FILES_META} --parameter-value true >/dev/null`,
          '    say "$r is new: held stopped until its files are written"',
          "  fi",
          "done",
        ]
      : []),
    "",
    "# 4. crm_verify against the live state; nothing is applied unless it passes.",
    'if ! CIB_file="$work/candidate.xml" crm_verify --live-check -V; then',
    "  # -V prints errors only; the warnings that also refuse a CIB need -VV.",
    `  CIB_file="$work/candidate.xml" crm_verify --live-check -VV 2>&1 | grep -E 'warning:' | grep -v 'is unrunnable' >&2 || true`,
    '  say "crm_verify refuses the new CIB (with the live constraints and node attributes kept, listed above); the cluster keeps its current configuration" >&2',
    "  exit 1",
    "fi",
    "",
    "# 5. One atomic replace of the configuration section.",
    'CIB_file="$work/candidate.xml" cibadmin --query --scope configuration > "$work/verified.xml"',
    'cibadmin --replace --scope configuration --xml-file "$work/verified.xml"',
    'say "applied CIB $sum"',
  ]);
}

/** Decodes the base64 authkey shipped as text into corosync's binary key, atomically, root-only. */
export function renderAuthkeyInstall(b64Path: string, keyPath = COROSYNC_AUTHKEY_PATH): string {
  const dir = keyPath.replace(/\/[^/]+$/, "");
  return script([
    "set -euo pipefail",
    "umask 077",
    `tmp=$(mktemp ${shq(`${dir}/.authkey.XXXXXX`)})`,
    `base64 -d ${shq(b64Path)} > "$tmp"`,
    `if [ "$(stat -c %s "$tmp")" != ${COROSYNC_AUTHKEY_BYTES} ]; then rm -f "$tmp"; echo "authkey is not ${COROSYNC_AUTHKEY_BYTES} bytes" >&2; exit 1; fi`,
    'chown root:root "$tmp"',
    'chmod 0400 "$tmp"',
    `mv -f "$tmp" ${shq(keyPath)}`,
    // A running cluster keeps its key until all members restart together: changing it one member
    // at a time would split the cluster. The key only changes when its resource is replaced.
  ]);
}

const memberMarker = (clusterName: string) => `${MEMBER_MARKER_DIR}/member-of-${clusterName}`;

/**
 * Validates the installed corosync.conf as this member and, on a member of this cluster whose
 * corosync runs, reloads it cluster-wide. Not before the first start: the corosync the Debian
 * package started runs a different cluster, and the start step replaces it.
 */
export function renderCorosyncReload(clusterName: string): string {
  return script([
    "set -euo pipefail",
    "corosync -t",
    `if [ -e ${shq(memberMarker(clusterName))} ] && systemctl is-active --quiet corosync; then corosync-cfgtool -R; fi`,
  ]);
}

export interface ClusterStartOptions {
  clusterName: string;
  sbd: boolean;
}

/**
 * Enables and starts the stack in order: sbd (started by corosync's unit, it refuses a manual
 * start), corosync, pacemaker. The first time a guest becomes a member of this cluster, the
 * throw-away single-node cluster the Debian packages start on install is stopped and its CIB
 * dropped, so it cannot leak into ours; a marker file keeps that from ever happening again.
 */
export function renderClusterStart(o: ClusterStartOptions): string {
  const marker = memberMarker(o.clusterName);
  return script([
    "set -euo pipefail",
    // Enabled already (Debian's packages enable them): skip the enable, which for these sysv-compat
    // units reruns update-rc.d and a daemon-reload (minutes on a slow guest, found by the lab).
    o.sbd ? "systemctl is-enabled --quiet sbd || systemctl enable sbd" : "systemctl disable sbd 2>/dev/null || true",
    'for u in corosync pacemaker; do systemctl is-enabled --quiet "$u" || systemctl enable "$u"; done',
    `if [ ! -e ${shq(marker)} ]; then`,
    "  systemctl stop pacemaker corosync",
    "  rm -f /var/lib/pacemaker/cib/cib*",
    "fi",
    "systemctl start corosync",
    "systemctl start pacemaker",
    // sbd is the watchdog's only user; a member without it would never self-fence.
    ...(o.sbd ? ['systemctl is-active --quiet sbd || { echo "sbd is not running on $(uname -n) after the cluster start: $(systemctl is-active sbd)" >&2; exit 1; }'] : []),
    `mkdir -p ${shq(MEMBER_MARKER_DIR)}`,
    `echo ${shq(o.clusterName)} > ${shq(marker)}`,
  ]);
}

/**
 * HostFile onChange of /etc/default/sbd: sbd reads it only at its start, and sbd is started and
 * stopped with corosync (it refuses a start of its own), so a changed file restarts this member's
 * cluster stack; its resources move away and back under stickiness. The applies of the members
 * are chained in node order, and each waits until its member is back: online with quorum, the
 * cluster settled (no transition in flight: `crm_resource --wait`), and, on a diskful member, its
 * DRBD replica connected and UpToDate again. Online alone is not enough: a returning replica
 * resyncs before it is good, and the next member's restart would take the only good copy away.
 * Before the first start (no member marker) it does nothing: the start step starts sbd with the
 * new file.
 */
export function renderSbdRestart(clusterName: string, opts: { waitS?: number; drbd?: { resource: string; version: DrbdVersion } } = {}): string {
  const waitS = opts.waitS ?? 600;
  const waitFor = (what: string, cond: string) => [
    `until ${cond}; do`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "$(uname -n): ${what} ${waitS} s after restarting its cluster stack for sbd: the next member does not restart" >&2; exit 1; fi`,
    "  sleep 2",
    "done",
  ];
  const settled = waitFor("the cluster has not settled (transitions still in flight)", `crm_resource --wait --timeout="$(( deadline - $(date +%s) > 1 ? deadline - $(date +%s) : 1 ))s" >/dev/null 2>&1`);
  return script([
    "set -euo pipefail",
    `if [ ! -e ${shq(memberMarker(clusterName))} ] || ! systemctl is-active --quiet corosync; then echo "not a running member yet: the cluster start step starts sbd with the new settings"; exit 0; fi`,
    'echo "sbd settings changed: restarting the cluster stack on $(uname -n) (sbd starts with corosync)"',
    "systemctl stop pacemaker",
    "systemctl stop corosync",
    "systemctl start corosync",
    "systemctl start pacemaker",
    `deadline=$(( $(date +%s) + ${waitS} ))`,
    ...waitFor("not back online with quorum", `[ "$(crm_node --quorum 2>/dev/null)" = 1 ] && crm_mon -1 --output-as=text 2>/dev/null | grep -Eq "Online:.*\\b$(uname -n)\\b"`),
    `systemctl is-active --quiet sbd || { echo "sbd is not running on $(uname -n) after the restart" >&2; exit 1; }`,
    ...settled,
    ...(opts.drbd
      ? [
          `res=${shq(opts.drbd.resource)}`,
          ...waitFor("DRBD resource $res is not connected and UpToDate", drbdInSync(opts.drbd.version)),
          'echo "DRBD resource $res connected and UpToDate again"',
          // The promotion an UpToDate replica earns comes in a transition of its own.
          ...settled,
        ]
      : []),
    'echo "$(uname -n) is back: online with quorum, sbd running, the cluster settled"',
  ]);
}
