// The lab's CIB: the rendered one, with only what cannot exist in network namespaces replaced,
// every change returned as a named substitution for the report. Ids, ordering, colocation,
// operations and their timeouts stay as rendered.
import { XMLBuilder, XMLParser } from "fast-xml-parser";

export interface Substitution {
  what: string;
  why: string;
}

type Node = Record<string, unknown> & { ":@"?: Record<string, string> };

const OPTS = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: "", commentPropName: "#comment", parseAttributeValue: false, trimValues: true } as const;

/** Storage resources whose kernel parts (DRBD, OCFS2/DLM, nfsd, NFS client) the namespaces lack, or that need systemd. */
export const STAND_INS = ["drbd-haha", "dlm", "ocfs2-fs", "nfs-dirs", "nfs-server", "nfs-export", "shared-mount"] as const;

/** The stand-in a primitive is: by id, the NFS exports by prefix (one exportfs per client: nfs-export-<member>, nfs-export-backup-<host>). */
function standInOf(id: string): string | undefined {
  return STAND_INS.find((s) => s === id || (s === "nfs-export" && id.startsWith("nfs-export-")));
}

const tag = (n: Node): string => Object.keys(n).find((k) => k !== ":@") ?? "";
const kids = (n: Node): Node[] => (n[tag(n)] as Node[]) ?? [];
const attrs = (n: Node): Record<string, string> => n[":@"] ?? {};

function walk(nodes: Node[], fn: (n: Node, siblings: Node[], i: number) => void): void {
  nodes.forEach((n, i) => {
    fn(n, nodes, i);
    if (Array.isArray(n[tag(n)])) walk(kids(n), fn);
  });
}

function commentText(n: Node | undefined): string {
  const c = n?.["#comment"] as { "#text"?: string }[] | undefined;
  return c?.map((x) => x["#text"] ?? "").join("") ?? "";
}

function nvpair(id: string, name: string, value: string): Node {
  return { nvpair: [], ":@": { id, name, value } };
}

export interface LabCib {
  xml: string;
  substitutions: Substitution[];
  /** Start seconds the plan declares for each stand-in (from the CIB's "expected start" comments). */
  standInStartS: Record<string, number>;
}

/**
 * @param withoutImage services whose upstream image the lab cannot build: kept, but target-role Stopped
 */
export function labCib(rendered: string, withoutImage: string[]): LabCib {
  const doc = new XMLParser(OPTS).parse(rendered) as Node[];
  const substitutions: Substitution[] = [];
  const standInStartS: Record<string, number> = {};
  const seen = new Set<string>();
  let watchdogTimeout = false;
  walk(doc, (n, siblings, i) => {
    const t = tag(n);
    const a = attrs(n);
    if (t === "primitive" && standInOf(a.id ?? "")) {
      const id = a.id as string;
      const before = `${a.class}:${a.provider ? `${a.provider}:` : ""}${a.type}`;
      const m = /expected start (\d+)s/.exec(commentText(siblings[i - 1]));
      const startS = m ? Number(m[1]) : 1;
      standInStartS[id] = startS;
      n[":@"] = { ...a, class: "ocf", provider: "haha-lab", type: "standin" };
      // Same operations (ids, intervals, timeouts, roles); the parameters become the stand-in's.
      const body = kids(n).filter((k) => tag(k) !== "instance_attributes");
      const params = [nvpair(`${id}-instance_attributes-start_s`, "start_s", String(startS)), nvpair(`${id}-instance_attributes-stop_s`, "stop_s", "1")];
      if (before.includes("drbd")) params.push(nvpair(`${id}-instance_attributes-promotable`, "promotable", "true"));
      body.unshift({ instance_attributes: params, ":@": { id: `${id}-instance_attributes` } });
      n.primitive = body;
      seen.add(standInOf(id)!);
      substitutions.push({ what: `${id} (${before}) -> ocf:haha-lab:standin taking the plan's ${startS} s to start, 1 s to stop; same id, same place in its clone or group, same constraints and operations`, why: before.includes("drbd") ? "no DRBD in the namespaces' kernel (no modules); the shared directory stands in for the replicated data" : before.includes("controld") ? "no DLM in the kernel" : before.includes("systemd") ? "no systemd in a namespace member" : "no OCFS2 or NFS (server or client) in the kernel; /srv is one directory shared by the members" });
    }
    if (t === "nvpair" && a.name === "stonith-watchdog-timeout") {
      watchdogTimeout = true;
      const from = i > 0 && tag(siblings[i - 1] as Node) === "#comment" ? i - 1 : i;
      siblings.splice(from, i - from + 1);
    }
    if (t === "primitive" && withoutImage.includes(a.id ?? "") && a.type === "docker") {
      const meta: Node = { meta_attributes: [nvpair(`${a.id}-lab-meta-target-role`, "target-role", "Stopped")], ":@": { id: `${a.id}-lab-meta` } };
      (n.primitive as Node[]).push(meta);
      substitutions.push({ what: `${a.id}: target-role=Stopped (kept in the CIB with its constraints)`, why: "its upstream image cannot be built from what Debian or npm ships in the lab; the services it would order or colocate with are not colocated with it" });
    }
  });
  // The members share this machine's load average (/proc/loadavg is not namespaced): at the lab's
  // load every controller throttled itself ("High CPU load detected", one action at a time per
  // member), which a guest reading its own load does not. The threshold is raised out of reach.
  let props = false;
  walk(doc, (n) => {
    if (tag(n) === "cluster_property_set" && attrs(n).id === "cib-bootstrap-options") {
      if (kids(n).some((k) => tag(k) === "nvpair" && attrs(k).name === "load-threshold")) throw new Error("the rendered CIB sets load-threshold: the lab's override (labs/ns/cib.ts) would hide it");
      kids(n).push(nvpair("cib-bootstrap-options-lab-load-threshold", "load-threshold", LAB_LOAD_THRESHOLD));
      props = true;
    }
  });
  if (!props) throw new Error("the rendered CIB has no cluster_property_set cib-bootstrap-options");
  substitutions.push({ what: `load-threshold=${LAB_LOAD_THRESHOLD} added to cib-bootstrap-options (rendered: unset, Pacemaker's 80%)`, why: "the members read this machine's load average (not namespaced), the sum of all lab clusters: with the default every controller throttled to one action at a time (seen in the DC's log as 'High CPU load detected'), delaying probes and starts by the machine's load, which a guest with its own load does not see" });
  // Comments and whitespace from the splices are harmless; remove the watchdog level-2 pieces.
  let watchdogRemoved = false;
  walk(doc, (n) => {
    const t = tag(n);
    if (t === "resources" || t === "fencing-topology") {
      const list = kids(n);
      for (let j = list.length - 1; j >= 0; j--) {
        const k = list[j] as Node;
        const ka = attrs(k);
        if ((tag(k) === "primitive" && ka.type === "fence_watchdog") || (tag(k) === "fencing-level" && ka.devices === "watchdog")) {
          list.splice(j, 1);
          if (j > 0 && tag(list[j - 1] as Node) === "#comment") list.splice(--j, 1);
          watchdogRemoved = true;
        }
      }
    }
  });
  if (watchdogTimeout || watchdogRemoved)
    substitutions.push({ what: "the watchdog self-fencing level (fence_watchdog device, its fencing levels, stonith-watchdog-timeout) removed; level 1 (fence_pve) is the only level", why: "no watchdog device (no softdog, no i6300esb) and so no sbd in the namespaces; Pacemaker's controller exits when stonith-watchdog-timeout is set without sbd" });
  const missing = STAND_INS.filter((id) => !seen.has(id));
  if (missing.length > 0) throw new Error(`the rendered CIB has no primitive ${missing.join(", ")}: the lab's storage stand-ins are out of date`);
  const xml = `${(new XMLBuilder({ ...OPTS, format: true, suppressEmptyNode: true }).build(doc) as string).trim()}\n`;
  return { xml, substitutions, standInStartS };
}

/** Out of reach of any load average: the controllers never throttle (see labCib). */
export const LAB_LOAD_THRESHOLD = "100000%";

/** The stand-in OCF agent: takes start_s to start and stop_s to stop; promotable like DRBD's. */
export const STANDIN_AGENT = `#!/bin/sh
# HAHA lab stand-in for a storage resource the namespaces cannot run: same operations, declared timing.
: \${OCF_FUNCTIONS_DIR=\${OCF_ROOT:-/usr/lib/ocf}/lib/heartbeat}
. \${OCF_FUNCTIONS_DIR}/ocf-shellfuncs
state="\${HA_RSCTMP:-/run/resource-agents}/haha-lab-\${OCF_RESOURCE_INSTANCE}"
promotable() { [ "\${OCF_RESKEY_promotable:-false}" = true ]; }
meta() { cat <<'XML'
<?xml version="1.0"?>
<resource-agent name="standin" version="1.0"><version>1.1</version>
<shortdesc lang="en">HAHA lab stand-in</shortdesc><longdesc lang="en">Takes start_s to start, stop_s to stop.</longdesc>
<parameters>
<parameter name="start_s"><shortdesc lang="en">start seconds</shortdesc><content type="integer" default="1"/></parameter>
<parameter name="stop_s"><shortdesc lang="en">stop seconds</shortdesc><content type="integer" default="1"/></parameter>
<parameter name="promotable"><shortdesc lang="en">a promotable clone's instance (DRBD's)</shortdesc><content type="boolean" default="false"/></parameter>
</parameters>
<actions><action name="start" timeout="240s"/><action name="stop" timeout="100s"/><action name="monitor" timeout="20s" interval="10s"/>
<action name="promote" timeout="90s"/><action name="demote" timeout="90s"/><action name="notify" timeout="90s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
XML
}
case "$1" in
  meta-data) meta; exit 0 ;;
  start) sleep "\${OCF_RESKEY_start_s:-1}"; echo started > "$state"; promotable && crm_master -l reboot -v 10; exit 0 ;;
  stop) [ -f "$state" ] && sleep "\${OCF_RESKEY_stop_s:-1}"; rm -f "$state"; promotable && crm_master -l reboot -D; exit 0 ;;
  promote) echo promoted > "$state"; exit 0 ;;
  demote) echo started > "$state"; exit 0 ;;
  notify|reload|validate-all) exit 0 ;;
  monitor)
    [ -f "$state" ] || exit 7
    if promotable; then crm_master -l reboot -v 10; [ "$(cat "$state")" = promoted ] && exit 8; fi
    exit 0 ;;
  *) exit 3 ;;
esac
`;
