// The lab's scenarios (issue 11 item 4): each round starts on a settled cluster, makes one fault,
// measures from the fault to membership change, fencing confirmed, the VIP answering on a
// survivor and each service answering its own protocol there, then lets the cluster recover.
import * as path from "node:path";
import type { dropTraffic } from "../common/fake-pve";
import type { Member } from "./cluster";
import type { CrmStatus, LabCluster, PlannedScenario } from "./main";
import { Probe } from "./probe";
import type { BudgetLine, RoundResult } from "./report";

export interface Tools {
  waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>, everyMs?: number): Promise<T>;
  settle(lc: LabCluster, timeoutMs: number, expectOnline?: number): Promise<CrmStatus>;
  log(line: string): void;
  dropTraffic: typeof dropTraffic;
}

export interface Scenario {
  name: string;
  title: string;
  /** The plan's budget lines this scenario measures (from the plan's failover/ JSON). */
  budget(planned: Map<string, PlannedScenario>): BudgetLine[];
  round(lc: LabCluster, t: Tools): Promise<RoundResult>;
}

const SERVICES = ["mosquitto", "nodered", "recorder"] as const;
const sec = (ms: number) => Math.round(ms / 100) / 10;

async function probeOf(lc: LabCluster): Promise<Probe> {
  if (lc.probe) return lc.probe;
  const plan = lc.ctx.plan;
  const pw = plan.secrets.generate("random:index/randomPassword:RandomPassword", "services-mqtt-nodered", {})?.result;
  if (!pw) throw new Error("the lab holds no generated password for the MQTT user nodered");
  const p = new Probe(lc.c.netNs, path.resolve(__dirname, "../.."), {
    vip: plan.config.network.vip,
    mqtt: { port: plan.config.services.mosquitto.port ?? 1883, user: "nodered", password: pw },
    http: { port: plan.config.services.nodered.port ?? 1880 },
  });
  await p.ready();
  lc.probe = p;
  return p;
}

async function fenceSuccesses(observer: Member, target: string): Promise<number> {
  const r = await observer.exec(["stonith_admin", "--history", target, "--output-as=xml"], { timeoutMs: 5000 });
  return (r.out.match(/status="success"/g) ?? []).length;
}

async function votes(observer: Member): Promise<number | undefined> {
  const r = await observer.exec(["corosync-quorumtool", "-s"], { timeoutMs: 3000 });
  const m = /Total votes:\s+(\d+)/.exec(r.out);
  return m ? Number(m[1]) : undefined;
}

async function recorderAnswers(lc: LabCluster, on: Member[]): Promise<string | undefined> {
  for (const m of on) {
    if (!m.running()) continue;
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
  fence: boolean;
  /** The services must come back on a survivor (false: they must not be disturbed or must stay down). */
  services: boolean;
  timeoutMs: number;
}

/** Measure from t0 until every expected measure was seen (or the timeout). */
async function measure(lc: LabCluster, t: Tools, t0: number, e: Expect): Promise<{ measured: Record<string, number>; problems: string[] }> {
  const probe = await probeOf(lc);
  const measured: Record<string, number> = {};
  const problems: string[] = [];
  const lostNames = e.lost.map((m) => m.spec.name);
  const observer = () => lc.members.find((m) => m.running() && !lostNames.includes(m.spec.name));
  const before = new Map<string, number>();
  const obs0 = observer();
  if (obs0) for (const n of lostNames) before.set(n, lc.fenceBefore.get(n) ?? 0);
  let recorderFailed = false;
  const deadline = t0 + e.timeoutMs;
  const done = () => (e.lost.length === 0 || "membership" in measured) && (!e.fence || "fenced" in measured) && (!e.services || ["vip", ...SERVICES].every((k) => k in measured));
  while (!done() && Date.now() < deadline) {
    const obs = observer();
    if (!obs) break;
    if (e.lost.length > 0 && !("membership" in measured)) {
      const v = await votes(obs);
      if (v !== undefined && v <= 3 - e.lost.length) measured.membership = sec(Date.now() - t0);
    }
    if (e.fence && !("fenced" in measured)) {
      let all = true;
      for (const n of lostNames) if ((await fenceSuccesses(obs, n)) <= (before.get(n) ?? 0)) all = false;
      if (all) measured.fenced = sec(Date.now() - t0);
    }
    if (e.services) {
      const p = await probe.get();
      for (const k of ["vip", "mosquitto", "nodered"]) {
        const back = p.back[k];
        if (!(k in measured) && p.failed[k] && typeof back === "number") measured[k] = sec(back);
      }
      if (!("recorder" in measured)) {
        const on = await recorderAnswers(lc, lc.members.filter((m) => !lostNames.includes(m.spec.name)));
        if (on && recorderFailed) measured.recorder = sec(Date.now() - t0);
        if (!on) recorderFailed = true;
      }
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  for (const k of [...(e.lost.length ? ["membership"] : []), ...(e.fence ? ["fenced"] : []), ...(e.services ? ["vip", ...SERVICES] : [])]) if (!(k in measured)) problems.push(`${k}: not seen within ${e.timeoutMs / 1000} s`);
  void t;
  return { measured, problems };
}

async function holderOf(lc: LabCluster, rsc: string): Promise<Member> {
  const n = await lc.locate(rsc);
  if (!n) throw new Error(`${rsc} runs nowhere before the fault`);
  return lc.byName(n);
}

/** Remember fencing history counts before a fault, per member. */
async function markFencing(lc: LabCluster): Promise<void> {
  const obs = lc.members.find((m) => m.running());
  if (!obs) return;
  for (const m of lc.members) lc.fenceBefore.set(m.spec.name, await fenceSuccesses(obs, m.spec.name));
}

function memberFailBudget(planned: Map<string, PlannedScenario>, member: string, guestOnly: boolean): BudgetLine[] {
  const s = planned.get(`fail-${member}`);
  const b = s?.budget;
  if (!b) return [];
  const fencing = guestOnly && b.guestOnly ? b.guestOnly.fencingS : b.fencingS;
  const total = guestOnly && b.guestOnly ? b.guestOnly.totalS : b.totalS;
  return [
    { line: "detect (token + consensus)", measure: "membership", planS: b.detectionS },
    { line: `detect + fence${guestOnly ? " (guest lost, fence_pve works)" : ""}`, measure: "fenced", planS: b.detectionS + fencing },
    { line: "total: services VIP back", measure: "vip", planS: total },
    { line: "total: mosquitto (MQTT round trip)", measure: "mosquitto", planS: total },
    { line: "total: nodered (HTTP 200)", measure: "nodered", planS: total },
    { line: "total: recorder (select 1)", measure: "recorder", planS: total },
  ];
}

/** After a fence, the fenced member is started again by fence_pve's "on": wait for it and for calm. */
async function recover(lc: LabCluster, t: Tools): Promise<void> {
  for (const m of lc.members) if (!m.running()) await lc.c.powerOn(m);
  await t.settle(lc, 120000);
}

const powerLoss = (name: string, title: string, pick: (lc: LabCluster) => Promise<Member>, initialOf: (planned: Map<string, PlannedScenario>) => string | undefined): Scenario => ({
  name,
  title,
  budget: (planned) => {
    const who = initialOf(planned);
    return who ? memberFailBudget(planned, who, true) : [];
  },
  round: async (lc, t) => {
    await markFencing(lc);
    await probeOf(lc);
    const victim = await pick(lc);
    const servicesMove = (await lc.locate("services-vip")) === victim.spec.name;
    const t0 = Date.now();
    await lc.c.powerOff(victim);
    lc.probe?.go(t0);
    const r = await measure(lc, t, t0, { lost: [victim], fence: true, services: servicesMove, timeoutMs: 90000 });
    t.log(`victim ${victim.spec.name}; ${JSON.stringify(r.measured)}`);
    await recover(lc, t);
    return { ok: r.problems.length === 0, problems: r.problems, measured: r.measured };
  },
});

/** The member the plan's all-up scenario puts the services (or the export) on. */
const initial = (rsc: string) => (planned: Map<string, PlannedScenario>) => {
  const s = planned.get("all-up") as (PlannedScenario & { simulated?: Record<string, string> }) | undefined;
  const where = s?.simulated?.[rsc];
  return where ? /on (\S+)/.exec(where)?.[1] : undefined;
};

export const SCENARIOS: Scenario[] = [
  powerLoss("power-services", "power loss of the member running the services", (lc) => holderOf(lc, "services-vip"), initial("services-vip")),
];
