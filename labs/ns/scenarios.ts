// The lab's scenarios (issue 11 item 4): each round starts on a settled cluster, makes one fault,
// measures from the fault to membership change, fencing confirmed, the VIP answering on a
// survivor and each service answering its own protocol there, then lets the cluster recover.
import * as os from "node:os";
import * as path from "node:path";
import type { dropTraffic } from "../common/fake-pve";
import type { Member } from "./cluster";
import type { CrmStatus, LabCluster, PlannedScenario } from "./main";
import { parseCib } from "../../plan/simulate-cib";
import { fenceConfirmations, fenceFailures, fenceRequests, LogTail } from "./fencelog";
import { Probe } from "./probe";
import type { BudgetLine, RoundResult } from "./report";

export interface Tools {
  waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, everyMs?: number): Promise<T>;
  settle(lc: LabCluster, timeoutMs: number, expectOnline?: number): Promise<CrmStatus>;
  log(line: string): void;
  dropTraffic: typeof dropTraffic;
  /** Closes a phase of the round (its seconds since the previous one, printed and reported: where the time goes). */
  phase(label: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** Seconds one round took here (2 cores, load 10-20; fault, recovery, settle): orders the work queue only. */
  estimateS: number;
  /** The plan's budget lines this scenario measures (from the plan's failover/ JSON), for the services the lab runs. */
  budget(planned: Map<string, PlannedScenario>, services: string[]): BudgetLine[];
  round(lc: LabCluster, t: Tools): Promise<RoundResult & { also?: { scenario: string; result: RoundResult }[] }>;
  /** Scenarios whose rounds also run this one (their results carry it in `also`): no rounds of its own when one of them runs. */
  alsoIn?: string[];
}

/**
 * How the lab asks each service it can run, in the service's own protocol (issue 11 item 5): the
 * probe process on the home network asks those on the VIP; the recorder listens on 127.0.0.1 only
 * and is asked from the member running it.
 */
export const ASKED: Record<string, { how: string; byProbe: boolean }> = {
  mosquitto: { how: "MQTT round trip", byProbe: true },
  nodered: { how: "HTTP 200", byProbe: true },
  recorder: { how: "select 1", byProbe: false },
};

/** The services the lab runs (declared by the lab stack, with a lab image); each must be askable. */
function servicesOf(lc: LabCluster): string[] {
  const run = lc.ctx.services.run;
  const unasked = run.filter((s) => !ASKED[s]);
  if (unasked.length > 0) throw new Error(`the lab runs ${unasked.join(", ")} but has no client for it (labs/ns/scenarios.ts ASKED)`);
  return run;
}
/** What the probe process reports on: the VIP and the services it asks on it. */
const probeKeys = (lc: LabCluster) => ["vip", ...servicesOf(lc).filter((s) => ASKED[s]?.byProbe)];
const sec = (ms: number) => Math.round(ms / 100) / 10;

async function probeOf(lc: LabCluster): Promise<Probe> {
  if (lc.probe) return lc.probe;
  const plan = lc.ctx.plan;
  const pw = plan.secrets.generate("random:index/randomPassword:RandomPassword", "services-mqtt-nodered", {})?.result;
  if (!pw) throw new Error("the lab holds no generated password for the MQTT user nodered");
  const run = servicesOf(lc);
  const nodered = plan.config.services.nodered;
  const p = new Probe(lc.c.netNs, path.resolve(__dirname, "../.."), {
    vip: plan.config.network.vip,
    mqtt: run.includes("mosquitto") ? { port: plan.config.services.mosquitto.port, user: "nodered", password: pw } : undefined,
    http: run.includes("nodered") && nodered ? { port: nodered.port } : undefined,
  });
  await p.ready();
  lc.probe = p;
  return p;
}

/** The fence lines of every member's Pacemaker log from the moment of the mark on (fencelog.ts). */
export type FenceMark = Map<string, LogTail>;
const FENCE_LINES = /Operation '(?:reboot|off)' targeting|Fence operation \d+ for|Requesting fencing \(/;
function fenceMark(lc: LabCluster): FenceMark {
  return new Map(lc.members.map((m) => [m.spec.name, new LogTail(pacemakerLog(m), FENCE_LINES)]));
}
/**
 * When the fencing of `target` was confirmed after the mark (ms since the epoch, the fencer's own
 * log time), as logged by any member other than the lost ones; undefined when not (yet).
 */
function fencedAt(mark: FenceMark, target: string, lost: string[], near: number): number | undefined {
  const times = [...mark].filter(([n]) => !lost.includes(n)).flatMap(([, tail]) => fenceConfirmations(tail.read(), target, near));
  return times.length > 0 ? Math.min(...times) : undefined;
}

async function votes(observer: Member): Promise<number | undefined> {
  const r = await observer.exec(["corosync-quorumtool", "-s"], { timeoutMs: 3000 });
  const m = /Total votes:\s+(\d+)/.exec(r.out);
  return m ? Number(m[1]) : undefined;
}

async function recorderAnswers(on: Member[]): Promise<string | undefined> {
  for (const m of on) {
    // The psql client only where the container runs (asked of the daemon's API: no process).
    if (!m.running() || !(await m.containerRunning("recorder"))) continue;
    const ok = await m.docker
      .docker(["exec", "recorder", "sh", "-c", 'PGPASSWORD="$(cat /haha/password)" psql -h 127.0.0.1 -p 5432 -U homeassistant -d homeassistant -tAc "select 1"'])
      .then((o) => o.trim() === "1", () => false);
    if (ok) return m.spec.name;
  }
  return undefined;
}

interface Expect {
  /** Members whose failure the survivors must see (membership) and fence. */
  lost: Member[];
  /** Time the membership change (false: it happened before this measure began, as in fence-host-gone's second part). */
  membership?: boolean;
  fence: boolean;
  /** The log marks taken right before the fault (fencing confirmed is read from there on). */
  mark: FenceMark;
  /** The services must come back on a survivor (false: they must not be disturbed or must stay down). */
  services: boolean;
  /** The NFS export (its group, up to storage-vip) must come back on a survivor. */
  export?: boolean;
  timeoutMs: number;
}

/**
 * Measure from t0 until every expected measure was seen (or the timeout). Each measure has its own
 * watcher, polling at its own pace, so a slow one (docker exec for the recorder) does not blur the
 * others (membership is polled every 100 ms).
 */
async function measure(lc: LabCluster, t: Tools, t0: number, e: Expect): Promise<{ measured: Record<string, number>; problems: string[] }> {
  const probe = await probeOf(lc);
  const measured: Record<string, number> = {};
  const lostNames = e.lost.map((m) => m.spec.name);
  const observer = () => lc.members.find((m) => m.running() && !lostNames.includes(m.spec.name));
  const deadline = t0 + e.timeoutMs;
  const run = servicesOf(lc);
  const timeMembership = e.lost.length > 0 && e.membership !== false;
  const want = [...(timeMembership ? ["membership"] : []), ...(e.fence ? ["fenced"] : []), ...(e.services ? ["vip", ...run] : []), ...(e.export ? ["export"] : [])];
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Poll `seen` every `everyMs` until it returns true (then record the time) or the deadline. */
  const watch = async (keys: string[], everyMs: number, seen: () => Promise<Record<string, number | true> | undefined>) => {
    while (Date.now() < deadline && keys.some((k) => !(k in measured))) {
      const r = await seen().catch(() => undefined);
      // When the check came back: the answer is certain by then (an upper bound, never flattering).
      const at = Date.now();
      for (const [k, v] of Object.entries(r ?? {})) if (!(k in measured)) measured[k] = v === true ? sec(at - t0) : v;
      await pause(everyMs);
    }
  };
  const watchers: Promise<void>[] = [];
  if (timeMembership) {
    // One shell inside the observer polling corosync every 50 ms: no nsenter per poll, so the
    // membership change is timed to well under 0.1 s (when its line arrives here).
    const obs = observer();
    if (obs) {
      const stream = obs.stream(`while :; do corosync-quorumtool -s 2>/dev/null | sed -n 's/^Total votes:[[:space:]]*//p' || exit 0; sleep 0.05; done`);
      watchers.push(
        new Promise<void>((resolve) => {
          const stop = () => {
            clearInterval(timer);
            stream.kill();
            resolve();
          };
          const timer = setInterval(() => Date.now() > deadline && stop(), 500);
          stream.onLine((l) => {
            const v = Number(l.trim());
            if (l.trim() !== "" && v <= 3 - e.lost.length && !("membership" in measured)) {
              measured.membership = sec(Date.now() - t0);
              stop();
            }
          });
          stream.onExit(stop);
        }),
      );
    }
  }
  if (e.fence)
    watchers.push(
      watch(["fenced"], 200, async () => {
        const at = lostNames.map((n) => fencedAt(e.mark, n, lostNames, t0));
        if (at.some((x) => x === undefined)) return undefined;
        // The fencer's own time of the confirmation, not when the lab read it; and when the
        // controller asked for it (what the fencing's time was spent on: before, detection and
        // the scheduler; after, the fencer and fence_pve).
        // The request that succeeded: the last one before its confirmation (a retried fencing,
        // as in fence-host-gone, asked before).
        const asked = lostNames.map((n, i) => [...e.mark].filter(([m]) => !lostNames.includes(m)).flatMap(([, tail]) => fenceRequests(tail.read(), n, t0)).filter((x) => x <= (at[i] as number)));
        const out: Record<string, number> = { fenced: sec(Math.max(...(at as number[])) - t0) };
        if (asked.every((x) => x.length > 0)) out.fenceRequested = sec(Math.max(...asked.map((x) => Math.max(...x))) - t0);
        return out;
      }),
    );
  if (e.export)
    // Pacemaker's word (crm_mon) that storage-vip, the last of the export's group, started again:
    // on a survivor, or on the lost member once it was powered on again (fence_pve's "on") and
    // rejoined (before that, crm_mon's "Started" there is the stale pre-fault state).
    watchers.push(
      watch(["export"], 300, async () => {
        const s = await lc.status();
        const n = s?.resources.find((r) => r.id === "storage-vip" && r.active && r.role === "Started")?.node;
        const lost = e.lost.find((m) => m.spec.name === n);
        return n && (!lost || (rebootedSince(lost, t0) && s?.online.includes(n))) ? { export: true } : undefined;
      }),
    );
  if (e.services) {
    // The probe process times each protocol itself (ms after the fault).
    const keys = probeKeys(lc);
    watchers.push(
      watch(keys, 200, async () => {
        const p = await probe.get();
        const out: Record<string, number> = {};
        for (const k of keys) {
          const back = p.back[k];
          if (p.failed[k] && typeof back === "number") out[k] = sec(back);
        }
        return out;
      }),
    );
    let recorderFailed = false;
    if (run.includes("recorder"))
    watchers.push(
      watch(["recorder"], 200, async () => {
        const on = await recorderAnswers(lc.members.filter((m) => !lostNames.includes(m.spec.name)));
        if (!on) recorderFailed = true;
        return on && recorderFailed ? { recorder: true } : undefined;
      }),
    );
  }
  await Promise.all(watchers);
  const problems = want.filter((k) => !(k in measured)).map((k) => `${k}: not seen within ${e.timeoutMs / 1000} s`);
  // The safety check the program's CIB must pass: nothing of the lost member's starts on a
  // survivor before its fencing was confirmed (the probes' times are upper bounds: a service
  // seen before the confirmation was surely up before it).
  if (e.fence && e.services)
    for (const k of ["vip", ...run]) {
      const v = measured[k];
      if (v !== undefined && (measured.fenced === undefined || v < measured.fenced))
        problems.push(`SAFETY: ${k} answered on a survivor ${v} s after the fault, before the fencing of ${lostNames.join(", ")} was confirmed (${measured.fenced === undefined ? "never" : `${measured.fenced} s`})`);
    }
  void t;
  return { measured, problems };
}

/** The member was powered on again after the fault (by fence_pve's "on" or the lab). */
const rebootedSince = (m: Member, fault: number) => m.running() && m.bootedAt > fault;

async function holderOf(lc: LabCluster, rsc: string): Promise<Member> {
  const n = await lc.locate(rsc);
  if (!n) throw new Error(`${rsc} runs nowhere before the fault`);
  return lc.byName(n);
}


/** `mayReturn`: the fenced member can rejoin mid-move (power loss; a pulled cable keeps it out until the lab plugs it in again). */
function memberFailBudget(planned: Map<string, PlannedScenario>, member: string, guestOnly: boolean, services: string[], mayReturn: boolean): BudgetLine[] {
  const s = planned.get(`fail-${member}`);
  const b = s?.budget;
  if (!b) return [];
  const fencing = guestOnly && b.guestOnly ? b.guestOnly.fencingS : b.fencingS;
  // fence_pve's reboot powers the member on again at once (in the lab within a second or two): it
  // may rejoin mid-move, and the plan's budget then adds its probes and storage starts
  // (plan/simulate-budget.ts returnMidMove), which the lab's figure is held to.
  const back = guestOnly && mayReturn ? b.guestOnly?.returnMidMove : undefined;
  const total = back ? back.totalS : guestOnly && b.guestOnly ? b.guestOnly.totalS : b.totalS;
  const mid = back ? ` (the fenced member may return mid-move: +${back.seconds} s)` : "";
  return [
    { line: "detect (token + consensus + ring formation)", measure: "membership", planS: b.detectionS },
    { line: `detect + fence${guestOnly ? " (guest lost, fence_pve works)" : ""}`, measure: "fenced", planS: Math.ceil((b.detectionS + fencing) * 10 - 1e-9) / 10 },
    // The totals only where the services move: the member the plan starts them on.
    ...(initial("services-vip")(planned) === member
      ? [{ line: `total: services VIP back${mid}`, measure: "vip", planS: total }, ...services.map((s) => ({ line: `total: ${s} (${ASKED[s]?.how ?? "?"})${mid}`, measure: s, planS: total }))]
      : []),
    // And the export where it moves: the plan's chain for that member ends with storage-vip.
    ...(initial("storage-vip")(planned) === member ? [{ line: `total: export back (storage-vip started)${mid}`, measure: "export", planS: total }] : []),
  ];
}

/**
 * The fenced member returns (fence_pve's "on" starts it again; the lab powers it on if it has not):
 * once everything runs on the survivors, nothing may fail back when it rejoins. The round of the
 * member-returns scenario, also run at the end of every power-loss and cable round (the member
 * returns there anyway), so it is observed far more often than its own rounds would.
 */
async function returns(lc: LabCluster, t: Tools, victim: Member, fault: number): Promise<RoundResult> {
      // fence_pve's "on" starts it again at once, so it may rejoin while the services move: the
      // placement to keep is the first where everything runs again, on the survivors or (what had
      // not started elsewhere yet when it rejoined: the export's group, with the lab's DRBD
      // stand-in, which models no outdated replica) on the returned member.
      const t0 = Date.now();
      const before = await t.waitFor("the services and the export running again (on the survivors, or started on the returned member)", 120000, async () => {
        const p = await placement(lc);
        return Object.values(p).every((n) => n !== undefined && (n !== victim.spec.name || rebootedSince(victim, fault))) ? p : undefined;
      }, 1000);
      if (!victim.running()) await lc.c.powerOn(victim);
      await t.settle(lc, lc.ctx.recoverMs);
      const measured = { rejoined: sec(Date.now() - t0) };
      const after = await placement(lc);
      const problems = Object.keys(before).filter((k) => before[k] !== after[k]).map((k) => `${k} moved from ${before[k]} to ${after[k]} when ${victim.spec.name} returned`);
  return { ok: problems.length === 0, problems, measured };
}

/** After a fence, the fenced member is started again by fence_pve's "on": wait for it and for calm. */
async function recover(lc: LabCluster, t: Tools): Promise<void> {
  for (const m of lc.members) if (!m.running()) await lc.c.powerOn(m);
  await t.settle(lc, lc.ctx.recoverMs);
}

const powerLoss = (name: string, title: string, estimateS: number, pick: (lc: LabCluster) => Promise<Member>, initialOf: (planned: Map<string, PlannedScenario>) => string | undefined): Scenario => ({
  name,
  title,
  estimateS,
  budget: (planned, services) => {
    const who = initialOf(planned);
    return who ? memberFailBudget(planned, who, true, services, true) : [];
  },
  round: async (lc, t) => {
    await probeOf(lc);
    const victim = await pick(lc);
    const servicesMove = (await lc.locate("services-vip")) === victim.spec.name;
    const exportMoves = (await lc.locate("storage-vip")) === victim.spec.name;
    // Logged with the figures: a lost DC adds an election before the scheduler runs, and the
    // machine's load (all clusters) stretches every step.
    const dc = (await lc.status())?.dc;
    const load = os.loadavg()[0]?.toFixed(1);
    const mark = fenceMark(lc);
    const t0 = Date.now();
    await lc.c.powerOff(victim);
    lc.probe?.go(t0);
    const r = await measure(lc, t, t0, { lost: [victim], fence: true, mark, services: servicesMove, export: exportMoves, timeoutMs: 90000 });
    t.phase("fault-to-measured");
    t.log(`victim ${victim.spec.name}${victim.spec.name === dc ? " (the DC)" : ""}, load ${load} at the fault; ${JSON.stringify(r.measured)}`);
    // What was measured stays in the report when the return goes wrong (the next round's
    // preparation brings the cluster back or reports why it cannot).
    const back = await returns(lc, t, victim, t0).catch((e: Error) => ({ ok: false, problems: [e.message], measured: {} }));
    t.phase("return-and-settle");
    return { ok: r.problems.length === 0, problems: r.problems, measured: r.measured, also: [{ scenario: "member-returns", result: back }] };
  },
});

/** The member the plan's all-up scenario puts the services (or the export) on. */
const initial = (rsc: string) => (planned: Map<string, PlannedScenario>) => {
  const s = planned.get("all-up") as (PlannedScenario & { simulated?: Record<string, string> }) | undefined;
  const where = s?.simulated?.[rsc];
  // "Started nllei01ha03" for a primitive or group, "on a, b" for a clone.
  return where ? /(?:\bon|Started) ([^\s,;]+)/.exec(where)?.[1] : undefined;
};

/** Ask a member's docker for the PID (root namespace) of a container's main process. */
async function containerPid(m: Member, name: string): Promise<number> {
  const pid = Number((await m.docker.docker(["inspect", "--format", "{{.State.Pid}}", name])).trim());
  if (!pid) throw new Error(`${name} has no running process on ${m.spec.name}`);
  return pid;
}

/** The member's Pacemaker log (a host file: it outlives the member). */
const pacemakerLog = (m: Member) => path.join(m.dir, "log/pacemaker.log");
/** Pacemaker's fail count of a resource on a member (0 when none). */
async function failCount(m: Member, rsc: string): Promise<number> {
  const r = await m.exec(["crm_failcount", "--query", "--resource", rsc, "--node", m.spec.name, "--quiet"], { timeoutMs: 5000 });
  const v = r.out.trim();
  if (r.code !== 0) throw new Error(`crm_failcount on ${m.spec.name}: ${v}`);
  return v === "INFINITY" ? Infinity : Number(v) || 0;
}

/** The rendered CIB's migration-threshold (rsc_defaults). */
function migrationThreshold(lc: LabCluster): number {
  const v = parseCib(lc.ctx.cib.xml).rscDefaults["migration-threshold"];
  if (!v || !/^\d+$/.test(v)) throw new Error(`the rendered CIB's migration-threshold is ${v ?? "not set"}: expected a number`);
  return Number(v);
}

async function setStandby(lc: LabCluster, m: Member, on: boolean): Promise<void> {
  const obs = lc.members.find((x) => x.running());
  const r = await obs?.exec(["crm_attribute", "--node", m.spec.name, "--name", "standby", "--update", on ? "on" : "off"]);
  if (!r || r.code !== 0) throw new Error(`standby ${on ? "on" : "off"} for ${m.spec.name} failed: ${r?.out ?? "no member runs"}`);
}

/** Resources running on a member that were not before, or vice versa: what moved. */
async function placement(lc: LabCluster): Promise<Record<string, string | undefined>> {
  const s = await lc.status();
  const out: Record<string, string | undefined> = {};
  for (const id of ["services-vip", "storage-vip", ...servicesOf(lc)]) out[id] = s?.resources.find((r) => r.id === id && r.active)?.node;
  return out;
}

const serviceBudget = (planned: Map<string, PlannedScenario>, id: string): BudgetLine[] => {
  const b = planned.get(id)?.budget;
  return b ? [{ line: `total (${id})`, measure: id.startsWith("threshold") ? "moved" : "service", planS: b.totalS }] : [];
};

export const SCENARIOS: Scenario[] = [
  powerLoss("power-services", "power loss of the member running the services", 60, (lc) => holderOf(lc, "services-vip"), initial("services-vip")),
  powerLoss("power-export", "power loss of the member serving the export", 65, (lc) => holderOf(lc, "storage-vip"), initial("storage-vip")),
  powerLoss(
    "power-neither",
    "power loss of the member running neither",
    50,
    async (lc) => {
      const busy = [await lc.locate("services-vip"), await lc.locate("storage-vip")];
      const m = lc.members.find((x) => !busy.includes(x.spec.name));
      if (!m) throw new Error("every member runs the services or the export");
      return m;
    },
    (planned) => {
      const busy = [initial("services-vip")(planned), initial("storage-vip")(planned)];
      const s = planned.get("all-up") as (PlannedScenario & { simulated?: Record<string, string> }) | undefined;
      const all = [...new Set(Object.values(s?.simulated ?? {}).flatMap((v) => v.match(/nllei\w+/g) ?? []))];
      return all.find((n) => !busy.includes(n));
    },
  ),
  {
    name: "cable-services",
    title: "the services member's cable pulled",
    estimateS: 60,
    budget: (planned, services) => {
      const who = initial("services-vip")(planned);
      return who ? memberFailBudget(planned, who, true, services, false) : [];
    },
    round: async (lc, t) => {
      await probeOf(lc);
      const victim = await holderOf(lc, "services-vip");
      const mark = fenceMark(lc);
      const t0 = Date.now();
      await lc.c.cable(victim, false);
      lc.probe?.go(t0);
      const r = await measure(lc, t, t0, { lost: [victim], fence: true, mark, services: true, timeoutMs: 90000 });
      t.phase("fault-to-measured");
      await lc.c.cable(victim, true);
      const back = await returns(lc, t, victim, t0).catch((e: Error) => ({ ok: false, problems: [e.message], measured: {} }));
      t.phase("return-and-settle");
      return { ok: r.problems.length === 0, problems: r.problems, measured: r.measured, also: [{ scenario: "member-returns", result: back }] };
    },
  },
  {
    name: "fence-host-gone",
    title: "power loss of the services member while its fence device's Proxmox API is unreachable",
    estimateS: 65,
    budget: () => [],
    round: async (lc, t) => {
      await probeOf(lc);
      const victim = await holderOf(lc, "services-vip");
      // The device that fences the victim talks to the next host's API (the CIB's ip of fence-pve-<victim>).
      const ip = new RegExp(`id="fence-pve-${victim.spec.name}-instance_attributes-ip" name="ip" value="([^"]+)"`).exec(lc.ctx.cib.xml)?.[1];
      if (!ip) throw new Error(`no fence device address for ${victim.spec.name} in the CIB`);
      const undo = await t.dropTraffic(lc.c.netNs, ip);
      const mark = fenceMark(lc);
      const t0 = Date.now();
      const problems: string[] = [];
      const measured: Record<string, number> = {};
      try {
        await lc.c.powerOff(victim);
        lc.probe?.go(t0);
        const membership = measure(lc, t, t0, { lost: [victim], fence: false, mark, services: false, timeoutMs: 60000 });
        // Level 1 must fail (its API is gone) and, with no other level in the lab, nothing may start
        // elsewhere. The controller logs each failed fence operation (stonith_admin's history keeps
        // only the last state of an operation it retries).
        const failedAt = await t.waitFor("the fence attempt to fail", 120000, async () => {
          const times = [...mark].filter(([n]) => n !== victim.spec.name).flatMap(([, tail]) => fenceFailures(tail.read(), victim.spec.name, t0));
          return times.length > 0 ? Math.min(...times) : undefined;
        }, 300);
        measured.fenceFailed = sec(failedAt - t0);
        const mm = await membership;
        Object.assign(measured, mm.measured);
        problems.push(...mm.problems);
        t.phase("fault-to-fence-failed");
        const p = await placement(lc);
        for (const [k, v] of Object.entries(p)) if (k !== "storage-vip" && v !== undefined && v !== victim.spec.name) problems.push(`${k} started on ${v} without the victim fenced`);
      } finally {
        await undo();
      }
      // The API back: the retried fencing succeeds and the services return.
      // The membership change happened meanwhile (seen below): not timed from here.
      const r = await measure(lc, t, t0, { lost: [victim], membership: false, fence: true, mark, services: true, timeoutMs: 150000 });
      for (const [k, v] of Object.entries(r.measured)) measured[`afterApiBack.${k}`] = v;
      problems.push(...r.problems);
      t.phase("api-back-to-measured");
      await recover(lc, t);
      t.phase("recover-and-settle");
      return { ok: problems.length === 0, problems, measured };
    },
  },
  {
    name: "two-lost",
    title: "two of three members lost: nothing starts, nothing is fenced",
    estimateS: 125,
    budget: () => [],
    round: async (lc, t) => {
      const keep = await holderOf(lc, "services-vip");
      const lost = lc.members.filter((m) => m !== keep);
      const mark = fenceMark(lc);
      const t0 = Date.now();
      for (const m of lost) await lc.c.powerOff(m);
      const measured: Record<string, number> = {};
      const problems: string[] = [];
      await t.waitFor("the survivor to lose quorum", 60000, async () => {
        const v = await votes(keep);
        return (v !== undefined && v <= 1) || undefined;
      });
      measured.membership = sec(Date.now() - t0);
      // no-quorum-policy=stop: the survivor stops its services; nobody is fenced.
      await t.waitFor("the survivor to stop the services", 90000, async () => {
        const s = await lc.status(keep);
        return (s && !s.resources.some((r) => servicesOf(lc).includes(r.id) && r.active)) || undefined;
      }, 500);
      measured.stopped = sec(Date.now() - t0);
      t.phase("fault-to-stopped");
      // Nobody may be fenced: checked while the survivor is alone, and again once the members are
      // back and the cluster settled, so the whole round is watched (no fixed wait in between).
      const lostNames = lost.map((m) => m.spec.name);
      for (const n of lostNames) if (fencedAt(mark, n, lostNames, t0) !== undefined) problems.push(`${n} was fenced by a minority`);
      await recover(lc, t);
      for (const n of lostNames) if (!problems.some((p) => p.startsWith(`${n} `)) && fencedAt(mark, n, [], t0) !== undefined) problems.push(`${n} was fenced during the round (the minority's loss or the members' return)`);
      t.phase("cold-start-and-settle");
      return { ok: problems.length === 0, problems, measured };
    },
  },
  {
    name: "member-returns",
    title: "a fenced member returns: nothing fails back",
    estimateS: 55,
    alsoIn: ["power-services", "power-export", "power-neither", "cable-services"],
    budget: () => [],
    round: async (lc, t) => {
      const victim = await holderOf(lc, "services-vip");
      const mark = fenceMark(lc);
      const t0 = Date.now();
      await lc.c.powerOff(victim);
      await t.waitFor("the fencing of the lost member", 90000, async () => fencedAt(mark, victim.spec.name, [victim.spec.name], t0), 300);
      return returns(lc, t, victim, t0);
    },
  },
  {
    name: "standby-rolling",
    title: "each member in standby in turn (rolling maintenance)",
    estimateS: 185,
    budget: () => [],
    round: async (lc, t) => {
      await probeOf(lc);
      const problems: string[] = [];
      const measured: Record<string, number> = {};
      for (const m of lc.members) {
        const holds = (await lc.locate("services-vip")) === m.spec.name;
        const t0 = Date.now();
        await setStandby(lc, m, true);
        lc.probe?.go(t0);
        // A planned move may be too quick for a probe to ever fail (the VIP moves in well under a
        // second): each protocol's outage is then 0, read once the cluster has settled.
        // Settled into a result at once: a rejection while the settle below runs must not go unhandled (it crashed the lab).
        const recorder = holds
          ? t.waitFor("the recorder answering after the move", 120000, async () => ((await recorderAnswers(lc.members.filter((x) => x !== m))) ? sec(Date.now() - t0) : undefined), 300).then(
              (v) => ({ v }),
              (e: Error) => ({ e }),
            )
          : undefined;
        await t.settle(lc, 120000).catch((e: Error) => problems.push(`${m.spec.name} in standby: ${e.message}`));
        t.phase("standby-and-settle");
        if (holds) {
          const p = await (lc.probe as Probe).get();
          for (const k of probeKeys(lc)) {
            const back = p.back[k];
            if (typeof back === "number") measured[k] = p.failed[k] ? sec(back) : 0;
            else problems.push(`${k} not answering on the VIP after ${m.spec.name} went to standby`);
          }
          const r = await recorder;
          if (r && "v" in r) measured.recorder = r.v;
          else if (r) problems.push(r.e.message);
        }
        const s = await lc.status();
        const there = s?.resources.filter((r) => r.active && r.node === m.spec.name && !r.id.startsWith("fence-")).map((r) => r.id) ?? [];
        if (there.length > 0) problems.push(`still on ${m.spec.name} in standby: ${there.join(", ")}`);
        await setStandby(lc, m, false);
        await t.settle(lc, 120000);
        t.phase("back-and-settle");
      }
      return { ok: problems.length === 0, problems, measured };
    },
  },
  {
    name: "mosquitto-killed",
    title: "mosquitto killed inside its container: restart in place, and after migration-threshold failures it moves",
    estimateS: 50,
    budget: (planned) => [
      ...serviceBudget(planned, "monitor-mosquitto").map((b) => ({ ...b, line: "monitor fails: restart in place (mosquitto)", measure: "mosquitto" })),
      ...serviceBudget(planned, "threshold-mosquitto").map((b) => ({ ...b, line: "migration-threshold failures: it moves (mosquitto)", measure: "moved" })),
    ],
    round: async (lc, t) => {
      const probe = await probeOf(lc);
      const threshold = migrationThreshold(lc);
      const where = await holderOf(lc, "mosquitto");
      const problems: string[] = [];
      const restarts: number[] = [];
      const measured: Record<string, number> = {};
      for (let i = 1; i <= threshold; i++) {
        const before = await failCount(where, "mosquitto");
        const pid = await containerPid(where, "mosquitto");
        const t0 = Date.now();
        process.kill(pid, "SIGKILL");
        probe.go(t0);
        const d = await t.waitFor(`failure ${i} of mosquitto recorded`, 60000, async () => ((await failCount(where, "mosquitto")) > before ? sec(Date.now() - t0) : undefined), 200).catch((e: Error) => void problems.push(e.message));
        if (i === 1 && d !== undefined) measured.detected = d;
        const back = await t.waitFor(`mosquitto answering again after failure ${i}`, 120000, async () => {
          const x = await probe.get();
          return x.failed.mosquitto && typeof x.back.mosquitto === "number" ? sec(x.back.mosquitto) : undefined;
        }, 200).catch((e: Error) => void problems.push(e.message));
        t.phase("kill-to-answer");
        if (back === undefined) break;
        const now = await t.waitFor("mosquitto placed", 30000, () => lc.locate("mosquitto"), 300).catch(() => undefined);
        if (i < threshold) {
          restarts.push(back);
          if (now !== where.spec.name) problems.push(`failure ${i} of ${threshold}: mosquitto moved to ${now} (it must restart in place until migration-threshold ${threshold})`);
          // The next kill hits the restarted container, once Pacemaker calls it started.
          await t.settle(lc, 120000);
          t.phase("settle");
        } else {
          measured.moved = back;
          if (!now || now === where.spec.name) problems.push(`failure ${threshold} (migration-threshold): mosquitto still on ${where.spec.name}, it must move`);
        }
      }
      if (restarts.length > 0) measured.mosquitto = Math.max(...restarts);
      // The next round starts from a clean failure count, as an operator would after the fault;
      // stickiness keeps the services where they went.
      await where.exec(["crm_resource", "--cleanup", "--resource", "mosquitto"]);
      await t.settle(lc, 120000);
      return { ok: problems.length === 0, problems, measured };
    },
  },
  {
    name: "mosquitto-hung",
    title: "mosquitto hung (SIGSTOP: process alive, not answering): the app-level probe catches it",
    estimateS: 35,
    // The plan's hung-application budget of the monitor failure: the monitor's interval and
    // timeout (its probe gets no answer), the whole stop (docker stop waits its grace before the
    // kill), then the restart.
    budget: (planned) => {
      const h = planned.get("monitor-mosquitto")?.budget?.hung;
      return h ? [{ line: "hung: monitor + its timeout + stop + restart (mosquitto)", measure: "mosquitto", planS: h.totalS }] : [{ line: "hung: the plan's budget (monitor-mosquitto budget.hung)", measure: "mosquitto", planS: 0 }];
    },
    round: async (lc, t) => {
      const probe = await probeOf(lc);
      const where = await holderOf(lc, "mosquitto");
      const before = await failCount(where, "mosquitto");
      const pid = await containerPid(where, "mosquitto");
      const problems: string[] = [];
      const measured: Record<string, number> = {};
      const t0 = Date.now();
      process.kill(pid, "SIGSTOP");
      probe.go(t0);
      const d = await t.waitFor("the monitor to catch the hung broker", 90000, async () => ((await failCount(where, "mosquitto")) > before ? sec(Date.now() - t0) : undefined), 200).catch((e: Error) => void problems.push(e.message));
      t.phase("hang-to-detected");
      if (d !== undefined) {
        measured.detected = d;
        // What the container state said meanwhile: docker still ran it (only the app-level probe could see the hang).
        const state = await where.docker.docker(["inspect", "--format", "{{.State.Status}}", "mosquitto"]).then((o) => o.trim(), () => "gone");
        if (state !== "running" && state !== "gone") problems.push(`docker reported the hung container ${state}: the scenario did not hang the broker`);
      }
      const back = await t.waitFor("mosquitto answering again", 240000, async () => {
        const x = await probe.get();
        return x.failed.mosquitto && typeof x.back.mosquitto === "number" ? sec(x.back.mosquitto) : undefined;
      }, 200).catch((e: Error) => void problems.push(e.message));
      if (back !== undefined) measured.mosquitto = back;
      t.phase("detected-to-answer");
      // Where it runs once Pacemaker calls it started again (crm_mon right after the first answer
      // can still show the restart in progress, or time out under load: that is not a move).
      const now = back === undefined ? undefined : await t.waitFor("mosquitto placed after the restart", 60000, () => lc.locate("mosquitto"), 300).catch((e: Error) => void problems.push(e.message));
      if (now !== undefined && now !== where.spec.name) problems.push(`mosquitto moved to ${now} after one failure (it must restart in place)`);
      await where.exec(["crm_resource", "--cleanup", "--resource", "mosquitto"]);
      await t.settle(lc, 120000);
      return { ok: problems.length === 0, problems, measured };
    },
  },
];
