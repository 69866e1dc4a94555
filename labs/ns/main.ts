// `npm run lab -- ns`: the namespace lab (issue 11). The program's rendered cluster on real
// corosync and Pacemaker at native speed, real fence_pve against a fake Proxmox API, real
// containers from a lab registry; members failed for real and the failover measured.
// Exit: 0 every scenario ok, 1 a scenario ended wrong, 2 usage, 3 the lab broke.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { dropTraffic, FakePveApi, makeThrowawayCa, type ThrowawayCa } from "../common/fake-pve";
import { run } from "../common/proc";
import { buildImageTar, importAndPush, LabRegistry, pullPinned, RECIPES } from "../common/images";
import { labCib, STANDIN_AGENT, type Substitution } from "./cib";
import { Cluster, type Member, sweepLeftovers } from "./cluster";
import { fileOf, inProgramOrder, planLab, serviceSteps, writeMemberFiles, type LabPlan } from "./plan";
import { PROBE_HOST_DIR } from "../../components/services/catalog";
import { parseCrmMon as parseCommonCrmMon } from "../common/crm-mon";
import { Probe } from "./probe";
import { budgetTable, scenarioReport, stats, type LabReport, type RoundResult, type ScenarioReport } from "./report";
import { runQueue } from "./schedule";
import { SCENARIOS, type Scenario } from "./scenarios";
import { serviceCatalog } from "../../components/services";
import { parseCib } from "../../plan/simulate-cib";
import { AGENT_DEPS_PATH, agentDepsAfter } from "../../components/pacemaker/units";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";

const ROOT = path.resolve(__dirname, "../..");
const LAB = path.join(ROOT, "build/lab-ns");
const RUN = "/tmp/lab-ns-run";
const IMAGES = path.join(ROOT, "build/lab-images");
const REGISTRY_PORT = 5000;

const USAGE = `usage: npm run lab -- ns [--rounds N] [--clusters N] [--only NAME,...] [--list]
  --rounds N     rounds per scenario (default 5, at least 1)
  --clusters N   independent 3-member clusters run at once (default 5, at most 6: rounds mostly
                 wait on timeouts; on 2 cores 5 clusters ran the 45 rounds in 17 min, with a load
                 of about 13 that stretched the slowest fencings to 20 s)
  light run (debugging, timings are not figures): --clusters 1 --rounds 1 --only a,b
  --only NAMES   run only these scenarios (see --list)
  --list         list the scenarios and exit
  --keep         debugging: leave the clusters running when the lab breaks (exit 3) to inspect
                 them (nsenter -t $(cat /tmp/lab-ns-run/c1/m1/init.pid) -a crm_mon -1); the next run sweeps them`;

const t0 = Date.now();
const log = (l: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${l}`);

interface Ctx {
  plan: LabPlan;
  /** The services the lab stack declares (serviceCatalog of its config), split by what the lab can run. */
  services: LabServices;
  /**
   * How long a cluster may take to settle once its members are back: after two of three were lost
   * everything is stopped, so it is a cold start, the plan's all-up chain (its budget) plus the
   * members' boot; twice that plus a minute on a loaded machine, never below 120 s. Settling is
   * watched, not slept: a cluster that settles sooner goes on at once.
   */
  recoverMs: number;
  ca: ThrowawayCa;
  cib: ReturnType<typeof labCib>;
  tars: Record<string, string>;
  /** Clusters running the program's service steps at once (bring-up). */
  serviceSteps: Limiter;
}

/** At most `n` holders at a time, served in the order they asked. */
export class Limiter {
  private held = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`Limiter: ${n}: expected a whole number >= 1`);
  }
  async acquire(): Promise<() => void> {
    if (this.held >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    else this.held++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.held--;
    };
  }
}

/** Clusters that run the program's service steps (and their first starts) at the same time. */
export const SERVICE_STEPS_AT_ONCE = 2;

/** A running lab cluster with its API, registry and helpers. */
export class LabCluster {
  api!: FakePveApi;
  registry?: LabRegistry;
  probe?: Probe;
  constructor(
    readonly c: Cluster,
    readonly ctx: Ctx,
  ) {}
  get members(): Member[] {
    return this.c.members;
  }
  byName(name: string): Member {
    const m = this.members.find((x) => x.spec.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }
  survivors(): Member[] {
    return this.members.filter((m) => m.running());
  }
  /** crm_mon of the first running member, as parsed XML. */
  async status(from?: Member): Promise<CrmStatus | undefined> {
    for (const m of from ? [from] : this.survivors()) {
      const r = await m.exec(["crm_mon", "-1", "--output-as=xml"], { timeoutMs: 10000 });
      if (r.code === 0 || r.out.includes("<pacemaker-result")) return parseCrmMon(r.out);
    }
    return undefined;
  }
  async locate(rsc: string): Promise<string | undefined> {
    const s = await this.status();
    return s?.resources.find((r) => r.id === rsc && r.active && r.role === "Started")?.node;
  }
}

export interface CrmStatus {
  online: string[];
  dc?: string;
  quorate: boolean;
  resources: { id: string; node?: string; role: string; active: boolean; failed: boolean }[];
  failures: number;
  /** The failed operations crm_mon lists ("op on node: reason"). */
  failedOps: string[];
  standby: string[];
  unclean: string[];
}

/** Why a status is not the settled cluster a round starts from (empty: it is). */
export function unsettled(s: CrmStatus | undefined, want: string[], expectOnline: number): string[] {
  if (!s) return ["crm_mon answered on no running member"];
  const out: string[] = [];
  if (s.online.length !== expectOnline) out.push(`${s.online.length} of ${expectOnline} members online (${s.online.join(", ") || "none"})`);
  if (!s.quorate) out.push("no quorum");
  if (s.unclean.length > 0) out.push(`unclean (awaiting fencing): ${s.unclean.join(", ")}`);
  if (s.standby.length > 0) out.push(`in standby: ${s.standby.join(", ")}`);
  const missing = want.filter((w) => !s.resources.some((r) => r.id === w && r.active && r.role === "Started"));
  if (missing.length > 0) out.push(`not started: ${missing.join(", ")}`);
  const moving = s.resources.filter((r) => ["Starting", "Stopping", "Migrating"].includes(r.role)).map((r) => `${r.id} ${r.role}`);
  if (moving.length > 0) out.push(`in progress: ${moving.join(", ")}`);
  if (s.failedOps.length > 0) out.push(`failed actions: ${s.failedOps.slice(0, 6).join("; ")}${s.failedOps.length > 6 ? ` (+${s.failedOps.length - 6})` : ""}`);
  return out;
}

/** The namespace lab's view of crm_mon, from the labs' one reader (labs/common/crm-mon.ts). */
export function parseCrmMon(xml: string): CrmStatus | undefined {
  const m = parseCommonCrmMon(xml);
  if (!m) return undefined;
  return {
    online: m.online,
    dc: m.dc,
    quorate: m.quorate,
    resources: m.instances.map((i) => ({ id: i.id, node: i.nodes[0], role: i.role, active: i.active, failed: i.failed })),
    failures: m.failedOps.length,
    failedOps: m.failedOps,
    standby: m.standby,
    unclean: m.unclean,
  };
}

function memberFiles(lab: LabPlan, ctx: Ctx, cluster: Cluster, m: Member): void {
  const srv = path.join(cluster.spec.dir, "srv");
  const name = m.spec.name;
  fs.mkdirSync(path.join(m.dir, "log"), { recursive: true });
  // The member's own /etc: a copy of this machine's, with the files the program renders for it.
  if (!fs.existsSync(path.join(m.dir, "etc"))) fs.cpSync("/etc", path.join(m.dir, "etc"), { recursive: true, verbatimSymlinks: true });
  const root = path.join(m.dir, "root");
  fs.rmSync(root, { recursive: true, force: true });
  const files = writeMemberFiles(lab, name, root);
  fs.cpSync(path.join(root, "etc"), path.join(m.dir, "etc"), { recursive: true, force: true });
  fs.writeFileSync(path.join(m.dir, "etc/haha/cib.xml"), ctx.cib.xml);
  fs.writeFileSync(path.join(m.dir, "etc/hostname"), `${name}\n`);
  // The guests' resolver setup: the stack's DNS, and the members by name (a lookup that waits for an
  // unreachable resolver stalls every fence agent call by 10 s).
  fs.writeFileSync(path.join(m.dir, "etc/resolv.conf"), lab.config.network.dns.map((d) => `nameserver ${d}\n`).join(""));
  fs.writeFileSync(path.join(m.dir, "etc/hosts"), ["127.0.0.1 localhost", ...lab.config.nodes.map((x) => `${x.guest.address} ${x.guest.name}`), ""].join("\n"));
  fs.rmSync(path.join(m.dir, "sbin"), { recursive: true, force: true });
  fs.cpSync(path.join(root, "usr/local/sbin"), path.join(m.dir, "sbin"), { recursive: true });
  // The Proxmox CA as host-fixes ships it (haha:proxmox.caCert -> update-ca-certificates).
  fs.mkdirSync(path.join(m.dir, "cacerts"), { recursive: true });
  fs.writeFileSync(path.join(m.dir, "cacerts/haha-proxmox-ca.crt"), ctx.ca.caCertPem);
  if (!fs.existsSync(path.join(m.dir, "ocf"))) {
    fs.cpSync("/usr/lib/ocf/resource.d", path.join(m.dir, "ocf"), { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(m.dir, "ocf/haha-lab"), { recursive: true });
    fs.writeFileSync(path.join(m.dir, "ocf/haha-lab/standin"), STANDIN_AGENT, { mode: 0o755 });
  }
  // The shared data (what the NFS mount gives every member), written once per cluster.
  if (!fs.existsSync(path.join(srv, "haha"))) {
    fs.mkdirSync(srv, { recursive: true });
    // Owners and modes as the program sets them (the services' uids read their own files).
    for (const host of lab.files.keys()) writeMemberFiles(lab, host, cluster.spec.dir, "/srv/");
    for (const d of ["ocfs2/export", "ocfs2/nfs-state"]) fs.mkdirSync(path.join(srv, d), { recursive: true });
  }
  // What the program runs when these files change, as rendered: the authkey install, corosync -t.
  // Run by bash, as over the program's SSH connection (root's login shell; the steps use pipefail).
  const stepDir = path.join(m.dir, "steps");
  fs.rmSync(stepDir, { recursive: true, force: true });
  fs.mkdirSync(stepDir, { recursive: true });
  const steps = files
    .filter((f) => f.onChange && (f.path === "/etc/corosync/authkey.b64" || f.path === "/etc/corosync/corosync.conf"))
    .map((f, i) => {
      const file = path.join(stepDir, `${i + 1}-${path.basename(f.path)}.sh`);
      fs.writeFileSync(file, `${f.onChange}\n`, { mode: 0o700 });
      return `bash '${file}' >> "$M/log/steps.log" 2>&1 || { echo "step for ${f.path} failed (see $M/log/steps.log)" >&2; exit 1; }`;
    });
  const init = `#!/bin/sh
set -eu
M='${m.dir}'
hostname '${name}'
mount --make-rprivate /
mount --bind "$M/etc" /etc
mount --bind '${srv}' /srv
mkdir -p ${PROBE_HOST_DIR} "$M/root${PROBE_HOST_DIR}"
mount --bind "$M/root${PROBE_HOST_DIR}" ${PROBE_HOST_DIR}
mount --bind "$M/sbin" /usr/local/sbin
mount --bind "$M/cacerts" /usr/local/share/ca-certificates
mount --bind "$M/ocf" /usr/lib/ocf/resource.d
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/lock /run/resource-agents /run/crm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=750 tmpfs /var/lib/pacemaker
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
# The scheduler's inputs (pe-input-N.bz2) kept with the logs: a transition is analysed afterwards
# with crm_simulate --xml-file (the evidence of a round outlives the member).
mkdir -p "$M/log/pengine"
mount --bind "$M/log/pengine" /var/lib/pacemaker/pengine
cat > /var/lib/pacemaker/cib/cib.xml <<'XML'
<cib validate-with="pacemaker-3.9" epoch="0" num_updates="0" admin_epoch="0"><configuration><crm_config><cluster_property_set id="lab-boot"><nvpair id="lab-boot-dc-deadtime" name="dc-deadtime" value="2s"/></cluster_property_set></crm_config><nodes/><resources/><constraints/></configuration><status/></cib>
XML
chown -R hacluster:haclient /var/lib/pacemaker /run/crm
mount -t tmpfs tmpfs /var/lib/corosync
ln -s '${m.dockerSocket}' /run/docker.sock
# As the program's guests trust the Proxmox API: the CA in ca-certificates, then the bundle rebuilt.
update-ca-certificates >> "$M/log/steps.log" 2>&1
${steps.join("\n")}
export PCMK_logfile="$M/log/pacemaker.log"
corosync -f > "$M/log/corosync.log" 2>&1 &
i=0; until corosync-cfgtool -s >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 200 ] || { echo "corosync did not start" >&2; exit 1; }; sleep 0.05; done
${agentDepsWait(lab, name)}
pacemakerd >> "$M/log/pacemakerd.log" 2>&1 &
wait
`;
  fs.writeFileSync(path.join(m.dir, "init.sh"), init);
  const dockerInit = `#!/bin/sh
set -eu
mount --make-rprivate /
mount --bind '${srv}' /srv
# The probes' files are on each member's own disk (PROBE_HOST_DIR): this member's copies.
mkdir -p ${PROBE_HOST_DIR} '${path.join(m.dir, "root")}${PROBE_HOST_DIR}'
mount --bind '${path.join(m.dir, "root")}${PROBE_HOST_DIR}' ${PROBE_HOST_DIR}
# The journald log driver the CIB's run_opts name: a socket that keeps the records in the member's log.
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/run/systemd/journal/socket")
f = open(sys.argv[1], "ab", buffering=0)
while True: f.write(s.recv(1 << 20) + b"\\n")
' '${path.join(m.dir, "log/journal.log")}' &
exec dockerd --data-root '${path.join(IMAGES, "docker", `c${cluster.spec.index}m${m.i + 1}`)}' --exec-root '${path.join(m.runDir, "x")}' -H 'unix://${m.dockerSocket}' --pidfile '${path.join(m.runDir, "dockerd.pid")}' \\
  --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none --ip-masq=false --insecure-registry '${cluster.spec.registryAddress}:${REGISTRY_PORT}' \\
  --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent '/${m.cgroup}/docker' --log-level=info > '${path.join(m.dir, "log/dockerd.log")}' 2>&1
`;
  fs.writeFileSync(path.join(m.dir, "docker-init.sh"), dockerInit);
}

/**
 * What systemd does on a guest for the rendered resource-agents-deps.target drop-in: Pacemaker
 * starts once the units it orders first have started (docker.service has TimeoutStartSec=0: systemd
 * waits for it; the lab gives up after 300 s and, as After= does for a failed unit, starts anyway).
 */
function agentDepsWait(lab: LabPlan, member: string): string {
  const units = agentDepsAfter(fileOf(lab, member, AGENT_DEPS_PATH));
  const known: Record<string, string> = { "docker.service": "docker version" };
  const unknown = units.filter((u) => !known[u]);
  if (unknown.length > 0) throw new Error(`${AGENT_DEPS_PATH} orders ${unknown.join(", ")} before Pacemaker: the lab does not know how to wait for it (labs/ns/main.ts agentDepsWait)`);
  return units
    .map((u) => `# ${AGENT_DEPS_PATH}: After=${u}\ni=0; until ${known[u]} >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 3000 ] || { echo "${u} did not start within 300 s; Pacemaker starts anyway" >&2; break; }; sleep 0.1; done`)
    .join("\n");
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface LabServices {
  /** Declared services the lab runs for real (it builds an image for each), in the catalog's order. */
  run: string[];
  /** Declared services without a lab image: kept in the CIB, held Stopped. */
  held: string[];
  /** What each declared service must start after (the catalog's order, as the program's apply steps depend). */
  after: Record<string, string[]>;
}

/**
 * The declared services of the lab stack (the program's own catalog of its config, voice
 * included when declared), split into those the lab builds an image for and those it holds.
 */
export function labServices(config: LabPlan["config"]): LabServices {
  const catalog = serviceCatalog(config);
  const declared = catalog.map((s) => s.id);
  const run = declared.filter((id) => RECIPES[id]);
  if (run.length === 0) throw new Error(`the lab stack declares no service the lab can run (declared: ${declared.join(", ") || "none"}; the lab builds images for ${Object.keys(RECIPES).join(", ")})`);
  return { run, held: declared.filter((id) => !RECIPES[id]), after: Object.fromEntries(catalog.map((s) => [s.id, s.after])) };
}

/** Services the lab runs for real, and the local image name the CIB starts for each. */
function cibImages(cibXml: string, run: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of run) {
    const m = new RegExp(`id="${s}-instance_attributes-image" name="image" value="([^"]+)"`).exec(cibXml);
    if (!m) throw new Error(`the rendered CIB has no image for ${s}`);
    out[s] = m[1] as string;
  }
  return out;
}

async function bringUp(lc: LabCluster): Promise<void> {
  const { c, ctx } = lc;
  const nodes = ctx.plan.config.nodes;
  let last = Date.now();
  const phases: string[] = [];
  const phase = (label: string) => {
    phases.push(`${label} ${((Date.now() - last) / 1000).toFixed(1)}s`);
    last = Date.now();
  };
  await c.create();
  const listeners = c.spec.apiAddresses.map((host) => ({ netns: c.netNs, host, port: 8006 }));
  const fencing = ctx.plan.config.cluster.fencing as { pveUser?: string };
  const password = fileOf(ctx.plan, nodes[0]?.guest.name as string, "/etc/haha/fence/pve.password").trim();
  lc.api = new FakePveApi({
    user: fencing.pveUser ?? "haha-fence@pve",
    password,
    nodes: nodes.map((n) => ({ node: n.name, vms: [{ vmid: n.guest.vmid, name: n.guest.name }] })),
    backend: {
      status: async (vmid) => (c.members.find((m) => m.spec.vmid === vmid)?.running() ? "running" : "stopped"),
      off: async (vmid) => {
        const m = c.members.find((x) => x.spec.vmid === vmid);
        if (m) await c.powerOff(m);
      },
      on: async (vmid) => {
        const m = c.members.find((x) => x.spec.vmid === vmid);
        if (m) await c.powerOn(m);
      },
    },
    tls: ctx.ca,
  });
  await lc.api.listen(listeners);
  lc.registry = await LabRegistry.start({ netns: c.netNs, host: c.spec.registryAddress, port: REGISTRY_PORT, dir: path.join(IMAGES, "registry", `c${c.spec.index}`) });
  for (const m of c.members) await c.powerOn(m);
  for (const m of c.members) await waitFor(`${m.spec.name}'s Docker daemon`, 60000, async () => (await m.docker.docker(["version", "--format", "{{.Server.Version}}"]).catch(() => "")) || undefined, 300);
  phase("namespaces, API, registry, members and their Docker daemons");
  // Images: pushed once from the first member's daemon, pulled by digest by every member and
  // tagged with the name the CIB starts (what the program's RemoteImage + docker.Tag do).
  const local = cibImages(ctx.cib.xml, ctx.services.run);
  const first = c.members[0] as Member;
  for (const [svc, tar] of Object.entries(ctx.tars)) {
    const recipe = RECIPES[svc];
    if (!recipe) continue;
    const pinned = await importAndPush(first.docker, tar, recipe, lc.registry.address);
    await Promise.all(c.members.map((m) => pullPinned(m.docker, pinned, local[svc] as string)));
  }
  phase("images pushed and pulled by digest");
  // The CIB push as the program runs it: the onChange of /etc/haha/cib.xml on each member in turn.
  for (const m of c.members) {
    const r = await m.exec(["/usr/local/sbin/haha-cib-push"], { timeoutMs: 150000 });
    fs.appendFileSync(path.join(m.dir, "log/steps.log"), r.out);
    if (r.code !== 0) throw new Error(`${m.spec.name}: haha-cib-push failed (${r.code}): ${ctx.plan.secrets.redact(r.out).trim().split("\n").slice(-3).join(" | ")}`);
  }
  phase("CIB pushed");
  // The service files' steps as the program runs them after the push (the files themselves are on
  // the shared directory already): their directories, seeds, then each apply, which starts the
  // service the push held stopped until its files were written. As the program's resource graph
  // runs them: independent services at once, a service after those it needs (the catalog's
  // `after`); the ones the lab has no image for stay held.
  // At most SERVICE_STEPS_AT_ONCE clusters in this phase at a time: the lab's own parallel
  // clusters are a load no home has, and five clusters' first starts at once (Node-RED's start
  // alone took over two minutes at a load of 20 on 2 cores) outlasted the program's apply steps,
  // whose crm_resource --wait then covered the whole cluster (each now waits for its own service:
  // components/services applyScript).
  const release = await ctx.serviceSteps.acquire();
  try {
  await inProgramOrder(ctx.services.run, ctx.services.after, async (svc) => {
    for (const step of serviceSteps(ctx.plan, svc)) {
      const m = lc.byName(step.host);
      const r = await m.exec(["bash", "-c", step.script], { timeoutMs: 300000 });
      fs.appendFileSync(path.join(m.dir, "log/steps.log"), `== ${step.name}\n${r.out}`);
      if (r.code !== 0) throw new Error(`${m.spec.name}: the program's step ${step.name} failed (${r.code}): ${ctx.plan.secrets.redact(r.out).trim().split("\n").slice(-3).join(" | ")}`);
    }
  });
  phase("the services' steps");
  // Cold start under this machine's load: the first starts pull nothing but still take minutes.
  await settle(lc, 300000);
  phase("settled");
  } finally {
    release();
  }
  c.spec.log(`${c.prefix}: up: ${phases.join(", ")}`);
}

/** Members that run Pacemaker, all resources the lab runs started, nothing failed or pending. */
export async function settle(lc: LabCluster, timeoutMs: number, expectOnline = 3): Promise<CrmStatus> {
  const want = ["services-vip", "storage-vip", ...lc.ctx.services.run];
  let why: string[] = [];
  try {
    return await waitFor(`the cluster to settle (${expectOnline} members online, ${want.join(", ")} started)`, timeoutMs, async () => {
      const s = await lc.status();
      // A member in standby is settled (rolling maintenance waits in it); failed actions are the
      // round's to judge (prepareRound cleans both before the next round).
      why = unsettled(s, want, expectOnline).filter((w) => !w.startsWith("failed actions") && !w.startsWith("in standby"));
      if (!s || why.length > 0) return undefined;
      const idle = await lc.survivors()[0]?.exec(["crm_resource", "--wait", "--timeout=1"], { timeoutMs: 5000 });
      if (idle?.code !== 0) {
        why = ["transitions still pending (crm_resource --wait)"];
        return undefined;
      }
      // Every running member's own Pacemaker answers with the same view (a member whose corosync
      // rejoined while its Pacemaker never started must not pass for settled).
      for (const m of lc.survivors()) {
        const own = await lc.status(m);
        if (!own || own.online.length !== expectOnline || !own.quorate) {
          why = [`${m.spec.name}'s own Pacemaker does not answer as a member of the settled cluster`];
          return undefined;
        }
      }
      why = [];
      return s;
      // Once a second: nothing is timed by a settle, and each poll is a crm_mon in a member (five
      // clusters settling at twice a second were a load of their own on the shared cores).
    }, 1000);
  } catch (e) {
    const s = await lc.status().catch(() => undefined);
    const now = unsettled(s, want, expectOnline);
    throw new Error(`${e instanceof Error ? e.message : String(e)}: ${(now.length > 0 ? now : why).join("; ") || "no reason seen"}`, { cause: e });
  }
}

/**
 * Every round starts from a healthy, settled cluster, whatever the round before left: members
 * powered on, none in standby, no failed action or fail count left (a fence device whose start
 * failed while its API was gone is banned from that member until cleaned). What it had to undo
 * is returned, so the log shows it.
 */
async function prepareRound(lc: LabCluster): Promise<string[]> {
  const undone: string[] = [];
  for (const m of lc.members)
    if (!m.running()) {
      await lc.c.powerOn(m);
      undone.push(`${m.spec.name} powered on`);
    }
  const s = await lc.status();
  const obs = lc.survivors()[0];
  if (s && obs) {
    for (const n of s.standby) {
      const r = await obs.exec(["crm_attribute", "--node", n, "--name", "standby", "--update", "off"]);
      if (r.code !== 0) throw new Error(`standby off for ${n} failed: ${r.out.trim()}`);
      undone.push(`${n} out of standby`);
    }
    if (s.failures > 0) {
      const r = await obs.exec(["crm_resource", "--cleanup"], { timeoutMs: 30000 });
      if (r.code !== 0) throw new Error(`crm_resource --cleanup failed: ${r.out.trim()}`);
      undone.push(`cleaned ${s.failures} failed action(s): ${s.failedOps.slice(0, 4).join("; ")}`);
    }
  }
  await settle(lc, lc.ctx.recoverMs);
  return undone;
}


async function main_(argv: string[]): Promise<number> {
  let o;
  try {
    o = parseArgs({ args: argv, options: { rounds: { type: "string", default: "5" }, clusters: { type: "string", default: "5" }, only: { type: "string" }, list: { type: "boolean", default: false }, keep: { type: "boolean", default: false }, help: { type: "boolean", default: false } }, strict: true });
  } catch (e) {
    console.log(`lab ns: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (o.values.help) {
    console.log(USAGE);
    return 2;
  }
  if (o.values.list) {
    for (const s of SCENARIOS) console.log(`  ${s.name.padEnd(22)} ${s.title}`);
    return 0;
  }
  const rounds = Number(o.values.rounds);
  const nClusters = Number(o.values.clusters);
  if (!Number.isInteger(rounds) || rounds < 1) return usage(`--rounds ${o.values.rounds}: expected a whole number >= 1`);
  if (!Number.isInteger(nClusters) || nClusters < 1 || nClusters > 6) return usage(`--clusters ${o.values.clusters}: expected 1 to 6`);
  const only = o.values.only?.split(",").filter(Boolean);
  const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) return usage(`--only: unknown scenario(s) ${unknown.join(", ")} (see --list)`);
  const chosen = SCENARIOS.filter((s) => !only || only.includes(s.name));
  if (process.getuid?.() !== 0) {
    console.log("lab ns: needs root (network namespaces, mounts, cgroups)");
    return 3;
  }
  // A fresh machine has the tests' tools, not the lab's (debootstrap, docker-registry, ...).
  const installed = await run("sh", [path.join(__dirname, "install.sh")], { timeoutMs: 10 * 60_000 });
  if (installed.stdout.trim()) log(installed.stdout.trim());
  if (installed.code !== 0) {
    console.log(`lab ns: installing the lab's tools failed (labs/ns/install.sh exited ${installed.code}):\n${`${installed.stdout}\n${installed.stderr}`.trim().split("\n").slice(-15).join("\n")}`);
    return 3;
  }

  const clusters: LabCluster[] = [];
  // One cleanup, awaited by whoever asks (the signal handler and the finally below): a second
  // caller must not return (and the CLI exit) while the first is still tearing down.
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= cleanupOnce());
  const cleanupOnce = async () => {
    for (const lc of clusters) {
      lc.probe?.stop();
      await lc.api?.close().catch(() => undefined);
      await lc.registry?.stop().catch(() => undefined);
      await lc.c.destroy().catch(() => undefined);
    }
    await sweepLeftovers(() => undefined).catch(() => undefined);
    // The members' logs stay (build/lab-ns/c*/m*/log: the evidence of a run); their /etc copies,
    // agents and the shared directory go.
    for (const lc of clusters) {
      for (const e of fs.existsSync(lc.c.spec.dir) ? fs.readdirSync(lc.c.spec.dir) : []) {
        const p = path.join(lc.c.spec.dir, e);
        if (!/^m\d+$/.test(e)) fs.rmSync(p, { recursive: true, force: true });
        else for (const f of fs.readdirSync(p)) if (f !== "log") fs.rmSync(path.join(p, f), { recursive: true, force: true });
      }
    }
    fs.rmSync(RUN, { recursive: true, force: true });
    // The mount point the members' docker daemons bind their probe files onto (empty on the host).
    for (const d of [PROBE_HOST_DIR, path.dirname(PROBE_HOST_DIR)]) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* not empty (this machine's own), or gone already */
      }
    }
  };
  const onSignal = (sig: string) => {
    log(`${sig}: cleaning up`);
    void cleanup().then(() => process.exit(3));
  };
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  // A bug that escapes (an unhandled rejection) is a broken lab: exit 3, but after the cleanup.
  process.once("unhandledRejection", (e) => {
    log(`internal error: ${e instanceof Error ? e.message : String(e)}: cleaning up`);
    void cleanup().then(() => process.exit(3));
  });

  try {
    await sweepLeftovers(log);
    fs.rmSync(RUN, { recursive: true, force: true });
    fs.mkdirSync(LAB, { recursive: true });
    for (const d of fs.readdirSync(LAB)) if (/^c\d+$/.test(d)) fs.rmSync(path.join(LAB, d), { recursive: true, force: true });
    log("planning Pulumi.lab-ns.yaml with the real program and the lab's secrets; building images (cached)");
    // The plan's own budget for the lab stack (its failover/ JSON), computed alongside.
    const planRoot = path.join(LAB, "plan");
    // The plan writes into <--out>/<stack>.
    const planned = path.join(planRoot, "lab-ns");
    const planProc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "plan/cli.ts"), "--stack", "lab-ns", "--out", planRoot], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let planOut = "";
    planProc.stdout?.on("data", (d: Buffer) => (planOut += d.toString()));
    planProc.stderr?.on("data", (d: Buffer) => (planOut += d.toString()));
    const planDone = new Promise<number>((r) => planProc.on("exit", (code) => r(code ?? 3)));
    // The declared services, from the lab stack's config as the program reads it (the images of
    // those the lab runs are built while the program plans).
    const services = labServices(parseConfig(readStackFile(path.join(ROOT, "Pulumi.lab-ns.yaml")).raw, "Pulumi.lab-ns.yaml"));
    log(`services declared by Pulumi.lab-ns.yaml: run ${services.run.join(", ")}; held stopped (no lab image) ${services.held.join(", ") || "none"}`);
    const [plan, tars] = await Promise.all([
      planLab(ROOT, LAB),
      (async () => {
        const out: Record<string, string> = {};
        for (const k of services.run) out[k] = await buildImageTar(IMAGES, RECIPES[k] as (typeof RECIPES)[string], log);
        return out;
      })(),
    ]);
    const nodes = plan.config.nodes;
    const cib = labCib(fileOf(plan, nodes[0]?.guest.name as string, "/etc/haha/cib.xml"), services.held);
    const ca = await makeThrowawayCa(path.join(LAB, "ca"), nodes.map((n) => n.address));
    const ctx: Ctx = { plan, services, ca, cib, tars, recoverMs: 120000, serviceSteps: new Limiter(SERVICE_STEPS_AT_ONCE) };
    const net = plan.config.network;
    const prefixLen = Number(net.subnet.split("/")[1]);
    const n = Math.min(nClusters, chosen.length);
    for (let k = 1; k <= n; k++) {
      const c: Cluster = new Cluster({
        index: k,
        dir: path.join(LAB, `c${k}`),
        runDir: path.join(RUN, `c${k}`),
        prefixLen,
        gateway: net.gateway,
        nic: net.guestNic,
        apiAddresses: nodes.map((x) => x.address),
        registryAddress: net.gateway.replace(/\.\d+$/, ".5"),
        members: nodes.map((x) => ({ name: x.guest.name, address: x.guest.address, vmid: x.guest.vmid, pveNode: x.name })),
        prepare: (m) => memberFiles(plan, ctx, c, m),
        log,
      });
      clusters.push(new LabCluster(c, ctx));
    }
    log(`starting ${n} cluster(s) of 3 members`);
    const up = Date.now();
    // The plan (its all-up budget sizes the settles) is read once it is done; the clusters need it
    // only for their first round.
    const planReady = (async () => {
      const planCode = await planDone;
      if (planCode !== 0) throw new Error(`npm run plan -- --stack lab-ns exited ${planCode}: ${planOut.trim().split("\n").slice(-5).join(" | ")}`);
      const allUpS = readPlanned(planned).get("all-up")?.budget?.totalS;
      if (allUpS === undefined) throw new Error(`the plan of the lab stack has no all-up budget (${path.join(planned, "failover")})`);
      ctx.recoverMs = Math.max(120000, (2 * allUpS + 60) * 1000);
      log(`settle after a return: up to ${ctx.recoverMs / 1000} s (twice the plan's all-up ${allUpS} s + 60 s)`);
    })();
    // Awaited by every cluster below; a failure is thrown there, not left unhandled meanwhile.
    planReady.catch(() => undefined);

    // Rounds are the units of work: every cluster takes the next round from one queue (the longest
    // scenarios' rounds first), each on a settled cluster, so one slow scenario's rounds spread over
    // the clusters instead of running end to end on one. A cluster starts taking rounds as soon as
    // it is up (the bring-up lets only SERVICE_STEPS_AT_ONCE clusters start their services at once:
    // the first ones up do not wait for the last).
    // A scenario that other scenarios' rounds also run (member-returns: the fenced member returns
    // at the end of every power loss) gets no rounds of its own when one of those runs.
    const carried = (s: Scenario) => (s.alsoIn ?? []).some((n) => chosen.some((c) => c.name === n));
    const queue = chosen
      .filter((s) => !carried(s))
      .flatMap((s) => Array.from({ length: rounds }, (_, i) => ({ s, i })))
      .sort((a, b) => b.s.estimateS - a.s.estimateS || a.i - b.i);
    const results = new Map<string, RoundResult[]>(chosen.map((s) => [s.name, []]));
    const phases = new Map<string, { roundS: number[]; phases: Record<string, number[]> }>(chosen.map((s) => [s.name, { roundS: [], phases: {} }]));
    const total = queue.length;
    let done = 0;
    let bringUpS = 0;
    let roundsFrom: number | undefined;
    const broken: { cluster: string; reason: string }[] = [];
    await runQueue(clusters, queue, {
      up: bringUp,
      ready: planReady,
      allUp: () => {
        bringUpS = Math.round((Date.now() - up) / 1000);
        log(`all clusters up in ${bringUpS} s (${Math.round((Date.now() - t0) / 1000)} s since start)`);
      },
      broke: (lc, reason) => {
        broken.push({ cluster: lc.c.prefix, reason });
        log(`${lc.c.prefix}: does not settle again: no further rounds on it (${reason})`);
      },
      round: async (lc, u) => {
        roundsFrom ??= Date.now();
        const r = await runRound(lc, u.s, u.i, rounds);
        if (!r.usable) return { usable: false, reason: r.reason };
        results.get(u.s.name)?.push(r.result);
        for (const a of r.also) results.get(a.scenario)?.push(a.result);
        const ph = phases.get(u.s.name);
        if (ph) {
          ph.roundS.push(Object.values(r.phases).reduce((x, y) => x + y, 0));
          for (const [k, v] of Object.entries(r.phases)) (ph.phases[k] ??= []).push(v);
        }
        log(`progress: ${total - queue.length}/${total} rounds started, ${++done} done, ${Math.round((Date.now() - t0) / 1000)} s in`);
        return { usable: true };
      },
    });
    // From the first cluster's first round (the others' bring-ups overlap it).
    const roundsS = Math.round((Date.now() - (roundsFrom ?? Date.now())) / 1000);
    const unrun = queue.length;
    for (const u of queue) results.get(u.s.name)?.push({ ok: false, problems: [`never ran: every cluster broke (${broken.map((b) => `${b.cluster}: ${b.reason}`).join("; ")})`], measured: {} });
    const scenarios: ScenarioReport[] = chosen.map((s) => scenarioReport(s.name, s.title, results.get(s.name) ?? [], s.budget(readPlanned(planned, cib.xml), ctx.services.run), rounds));
    const report: LabReport = {
      stack: "lab-ns",
      startedAt: new Date(t0).toISOString(),
      durationS: Math.round((Date.now() - t0) / 1000),
      clusters: n,
      ok: scenarios.every((s) => s.ok),
      scenarios,
      substitutions: substitutions(cib.substitutions),
      targets: targets(scenarios, ctx.services.run),
      timing: {
        bringUpS,
        roundsS,
        perScenario: Object.fromEntries(chosen.map((s) => [s.name, { rounds: stats(phases.get(s.name)?.roundS ?? []), phases: Object.fromEntries(Object.entries(phases.get(s.name)?.phases ?? {}).map(([k, v]) => [k, stats(v)])) }])),
      },
      broken,
    };
    fs.writeFileSync(path.join(LAB, "report.json"), plan.secrets.redact(JSON.stringify(report, null, 2)) + "\n");
    console.log("");
    for (const l of budgetTable(report)) console.log(plan.secrets.redact(l));
    for (const t of report.targets) console.log(`  target ${t.name}: ${t.target}: measured ${t.measured} (${t.met ? "met" : "MISSED"})`);
    for (const s of scenarios) for (const p of s.problems) console.log(`  ${s.name}: ${plan.secrets.redact(p)}`);
    log(`time: bring-up ${bringUpS} s, rounds ${roundsS} s (${n} cluster(s) in parallel); per round (median): ${chosen.map((s) => `${s.name} ${report.timing.perScenario[s.name]?.rounds?.median ?? "-"} s`).join(", ")}`);
    if (unrun > 0) {
      log(`report: ${path.relative(process.cwd(), path.join(LAB, "report.json"))}; every cluster broke (${broken.length} of ${clusters.length}), ${unrun} round(s) never ran (exit 3): ${broken.map((b) => `${b.cluster}: ${b.reason}`).join("; ")}`);
      return 3;
    }
    log(`report: ${path.relative(process.cwd(), path.join(LAB, "report.json"))}; ${report.ok ? "every scenario ok (exit 0)" : "a scenario ended wrong (exit 1)"}`);
    return report.ok ? 0 : 1;
  } catch (e) {
    if (o.values.keep && !cleaning) {
      log(`--keep: the lab broke (${e instanceof Error ? e.message : String(e)}); clusters left running for inspection`);
      cleaning = Promise.resolve();
    }
    throw e;
  } finally {
    await cleanup();
  }
}

function usage(msg: string): number {
  console.log(`lab ns: ${msg}\n${USAGE}`);
  return 2;
}

export interface PlannedScenario {
  id: string;
  budget?: { detectionS: number; fencingS: number; startsS: number; totalS: number; guestOnly?: { fencingS: number; totalS: number; returnMidMove?: { seconds: number; totalS: number; gate: string } }; hung?: { detectionS: number; stopS: number; totalS: number } };
}

/**
 * The plan's failover scenarios. The plan reports a group's placement under the group's id
 * (nfs-group); each member of a group (storage-vip) is given its group's, so the lab finds where
 * the plan puts it.
 */
export function readPlanned(dir: string, cibXml?: string): Map<string, PlannedScenario> {
  const out = new Map<string, PlannedScenario>();
  const fdir = path.join(dir, "failover");
  if (!fs.existsSync(fdir)) return out;
  const groups = cibXml ? [...parseCib(cibXml).primitives.values()].filter((p) => p.group) : [];
  for (const f of fs.readdirSync(fdir)) {
    if (!f.endsWith(".json") || f === "summary.json") continue;
    const s = JSON.parse(fs.readFileSync(path.join(fdir, f), "utf8")) as PlannedScenario & { simulated?: Record<string, string> };
    if (s.simulated) for (const p of groups) if (!(p.id in s.simulated) && s.simulated[p.group as string]) s.simulated[p.id] = s.simulated[p.group as string] as string;
    out.set(s.id, s);
  }
  return out;
}

function substitutions(cib: Substitution[]): Substitution[] {
  return [
    ...cib,
    { what: "three Proxmox VE hosts -> one bridge namespace holding their API addresses, served by labs/common/fake-pve.ts (the calls fence_pve makes; user and generated password enforced; TLS from a per-run CA)", why: "no Proxmox here; the fence agent, its parameters and its TLS verification are the real ones" },
    { what: "guest power -> the member's cgroup (its PID namespace, Docker daemon, containerd, containers) killed / started again", why: "members are namespaces, not VMs" },
    { what: "the pinned upstream images -> images built here (Debian's mosquitto 2.0.11, PostgreSQL 15, Node-RED 4.1.8 on Debian's Node.js 18) keeping their paths, users, entrypoints and ports, pushed to Debian's docker-registry in the lab and pulled by their (lab) digest, tagged with the CIB's local names", why: "no upstream registry is reachable" },
    { what: "the registry is plain HTTP (--insecure-registry)", why: "the lab registry is reached only inside the lab's bridge; TLS for it would test nothing the program ships" },
    { what: "journald (the containers' log driver) -> a datagram socket at /run/systemd/journal/socket in each Docker daemon's mount namespace writing to the member's log", why: "no systemd in a namespace member" },
    { what: "haha:proxmox.caCert (branch host-fixes, not merged here) -> the lab's throwaway CA put at /usr/local/share/ca-certificates/haha-proxmox-ca.crt in each member and update-ca-certificates run there", why: "what that change makes the guests do, done by the lab until it merges" },
    { what: "the recorder is asked (select 1) from the member holding the VIP, through docker exec psql against 127.0.0.1:5432", why: "the rendered recorder listens on 127.0.0.1 only: Home Assistant, on the same member, is its only client" },
    { what: `systemd's ordering of the rendered ${AGENT_DEPS_PATH} (After=docker.service before Pacemaker) -> each member's init starts corosync, waits for its Docker daemon to answer, then starts pacemakerd`, why: "no systemd in a namespace member" },
    { what: "a cold-start dc-deadtime of 2 s seeded into each member's empty CIB before the push", why: "only the lab's boot: the pushed configuration replaces it; Pacemaker's default 20 s would slow each member's return" },
  ];
}

function targets(s: ScenarioReport[], services: string[]): LabReport["targets"] {
  const power = s.find((x) => x.name === "power-services");
  const out: LabReport["targets"] = [];
  if (!power) return out;
  const m = power.measured;
  const tg = (name: string, target: string, v: number | undefined, limit: number) => out.push({ name, target, measured: v === undefined ? "-" : `${v} s`, met: v !== undefined && v <= limit });
  tg("detection", "membership change median <= 8 s", m.membership?.median, 8);
  tg("fencing", "fencing confirmed <= 12 s after the fault (max)", m.fenced?.max, 12);
  tg("mqtt", "MQTT round trip on the VIP <= 30 s (median)", m.mosquitto?.median, 30);
  tg("worst", "every service <= 60 s in any round", Math.max(...["vip", ...services].map((k) => m[k]?.max ?? Infinity)), 60);
  return out;
}

/** One round on a settled cluster; afterwards the cluster must settle again to be usable. */
async function runRound(lc: LabCluster, s: Scenario, i: number, rounds: number): Promise<{ result: RoundResult; also: { scenario: string; result: RoundResult }[]; usable: boolean; phases: Record<string, number>; reason?: string }> {
  const phases: Record<string, number> = {};
  let last = Date.now();
  const phase = (label: string) => {
    const now = Date.now();
    phases[label] = Math.round(((phases[label] ?? 0) + (now - last) / 1000) * 10) / 10;
    last = now;
  };
  // A round starts on a healthy, settled cluster; one that cannot be brought back is reported with the reason.
  try {
    const undone = await prepareRound(lc);
    if (undone.length > 0) log(`${lc.c.prefix}: before ${s.name} round ${i + 1}: ${undone.join("; ")}`);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    log(`${lc.c.prefix}: cannot be brought back to a settled cluster before ${s.name} round ${i + 1}: ${reason}`);
    return { result: { ok: false, problems: [`not run: the cluster did not settle before it: ${reason}`], measured: {} }, also: [], usable: false, phases, reason };
  }
  phase("prepare");
  log(`${lc.c.prefix}: ${s.name} round ${i + 1}/${rounds}`);
  const started = Date.now();
  try {
    const { also, ...r } = await s.round(lc, { waitFor, settle, log: (l) => log(`${lc.c.prefix}: ${s.name}: ${l}`), dropTraffic, phase });
    phase("rest");
    log(`${lc.c.prefix}: ${s.name} round ${i + 1}: ${r.ok ? "ok" : "WRONG"} in ${Math.round((Date.now() - started) / 1000)} s: ${Object.entries(r.measured).map(([k, v]) => `${k} ${v.toFixed(1)}s`).join(", ")}${r.problems.length ? ` (${r.problems.join("; ")})` : ""} [phases: ${Object.entries(phases).map(([k, v]) => `${k} ${v}s`).join(", ")}]`);
    for (const a of also ?? []) log(`${lc.c.prefix}:   and ${a.scenario}: ${a.result.ok ? "ok" : "WRONG"}${a.result.problems.length ? ` (${a.result.problems.join("; ")})` : ""}`);
    return { result: r, also: also ?? [], usable: true, phases };
  } catch (e) {
    phase("broke");
    const msg = e instanceof Error ? e.message : String(e);
    log(`${lc.c.prefix}: ${s.name} round ${i + 1}: WRONG (broke after ${Math.round((Date.now() - started) / 1000)} s): ${msg}`);
    // The next round's preparation brings the cluster back (or reports why it cannot).
    return { result: { ok: false, problems: [msg], measured: {} }, also: [], usable: true, phases };
  } finally {
    // Nothing is measured until the next round's fault.
    lc.probe?.rest();
  }
}

export { stats };

export async function main(argv: string[]): Promise<number> {
  return main_(argv);
}
