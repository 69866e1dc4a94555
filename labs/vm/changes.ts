// Changed config on the running cluster (issue 10 items 16-18, issue 9's "a changed config re-runs
// exactly the steps whose inputs changed"): each change edits the lab's stack file as a user would,
// re-plans it with the real program and applies it to the guests; then the change must be in effect
// on the guests, nobody fenced, the cluster quorate with nothing failed, and what the cluster or an
// operator added kept. Changes apply on top of each other; the lab ends with two of three lost, so
// nothing is reverted.
import type { HahaConfig } from "../../stacks/config/schema";
import type { FakePveApi } from "../common/fake-pve";
import { excerpt, sleep } from "../common/proc";
import type { CheckResult } from "./checks";
import type { DeployResult, StepRecord } from "./deploy";
import type { Guest, Lab } from "./lab";
import { crmView, powerCalls, type CrmView } from "./scenarios";

/** The stack file as YAML data: `config` keyed by `haha:<section>`. */
export type StackDoc = { config: Record<string, Record<string, unknown>> };

export interface ChangeCtx {
  lab: Lab;
  api: FakePveApi;
  /** The config as declared before any change (addresses, names). */
  config: HahaConfig;
  log: (s: string) => void;
  /** An MQTT client's password, by user, from the lab's secrets (after the change's plan). */
  mqttPassword: (user: string) => string | undefined;
  /** An MQTT publish and subscribe round trip from the fourth machine, as `user` on `topic`. */
  mqttRoundTrip: (user: string, password: string, topic: string) => Promise<{ ok: boolean; evidence: string }>;
  /** Keeps a text in the lab's folder, secrets redacted; returns where. */
  keep?: (name: string, text: string) => string;
}

export interface ConfigChange {
  /** The edit, as a reader of the stack file would say it. */
  title: string;
  mutate(doc: StackDoc): void;
  /** Steps the change must re-run (each pattern matches at least one executed step). */
  mustRun: RegExp[];
  /** Every executed step must match this: nothing outside the layer the change touches runs. */
  only: RegExp;
  /** Steps whose runs must not overlap (one member at a time). */
  oneAtATime?: RegExp;
  /** Before the apply: what an operator (or the cluster) adds that the apply must keep. */
  before?(c: ChangeCtx): Promise<string>;
  /** After the apply: the change is in effect on the guests (and what `before` added is kept). */
  verify(c: ChangeCtx): Promise<{ ok: boolean; evidence: string }>;
  /** Puts back what `before` added (an operator clearing a ban). */
  after?(c: ChangeCtx): Promise<void>;
}

/** What an apply of a changed stack did, from the lab's engine. */
export interface Applied {
  /** Steps whose inputs changed (the engine's diff against its state). */
  expected: string[];
  result: DeployResult;
}

export function section(doc: StackDoc, key: string): Record<string, unknown> {
  const s = doc.config[key];
  if (!s || typeof s !== "object") throw new Error(`the lab stack has no ${key} to change`);
  return s;
}

async function on(c: ChangeCtx, g: Guest, script: string): Promise<string> {
  const r = await c.lab.ssh(g.address, script, { timeoutMs: 120_000 });
  return `${g.shape.name}$ ${script.split("\n")[0]}\n${excerpt(r.stdout + r.stderr, 8)}${r.code !== 0 ? `\n(exit ${r.code})` : ""}`;
}

const guestsOf = (c: ChangeCtx, diskfulOnly = false): Guest[] =>
  c.config.nodes.filter((n) => !diskfulOnly || n.drbdDisk).map((n) => c.lab.guests.find((g) => g.shape.name === n.guest.name)).filter((g): g is Guest => !!g);

/** Whether steps matching `re` ran one after the other (none started before the previous ended). */
export function sequential(steps: StepRecord[], re: RegExp): { ok: boolean; evidence: string } {
  const runs = steps.filter((s) => re.test(s.name) && s.startedAt !== undefined && s.endedAt !== undefined).sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
  const overlaps: string[] = [];
  for (let i = 1; i < runs.length; i++) if ((runs[i]!.startedAt ?? 0) < (runs[i - 1]!.endedAt ?? 0)) overlaps.push(`${runs[i]!.name} started before ${runs[i - 1]!.name} ended`);
  const t0 = runs[0]?.startedAt ?? 0;
  const timeline = runs.map((s) => `${s.name} ${Math.round(((s.startedAt ?? 0) - t0) / 1000)}-${Math.round(((s.endedAt ?? 0) - t0) / 1000)} s`).join(", ");
  return { ok: runs.length > 1 && overlaps.length === 0, evidence: `${runs.length} runs: ${timeline}${overlaps.length ? `; overlapping: ${overlaps.join("; ")}` : ""}` };
}

/** Which executed steps the change's expectations allow and require. */
export function stepsAsExpected(ch: Pick<ConfigChange, "mustRun" | "only">, applied: Applied): { ok: boolean; problems: string[] } {
  const names = applied.result.executed.map((e) => e.name);
  const problems: string[] = [];
  if (applied.result.failed) problems.push(`step ${applied.result.failed.name} failed (exit ${applied.result.failed.exitCode})`);
  for (const re of ch.mustRun) if (!names.some((n) => re.test(n))) problems.push(`no step matching ${re} re-ran`);
  const outside = names.filter((n) => !ch.only.test(n));
  if (outside.length) problems.push(`steps outside ${ch.only} re-ran: ${outside.join(", ")}`);
  const exp = [...applied.expected].sort();
  const got = [...names].sort();
  if (exp.length !== got.length || exp.some((e, i) => e !== got[i])) problems.push(`the engine's diff named ${exp.length} step(s), ${got.length} ran`);
  return { ok: problems.length === 0, problems };
}

/** The changes, in order: the broker's ACL, the CIB with an operator's ban, DRBD's resync rate, SBD's watchdog timeout. */
export function labChanges(c: HahaConfig): ConfigChange[] {
  const res = c.storage.drbd.resource;
  const banned = c.services.nodered ? "nodered" : "mosquitto";
  const extra = "labclient";
  const newRate = c.storage.drbd.resyncRateMiB === 300 ? 200 : 300;
  const newWatchdog = c.cluster.fencing.watchdog.timeoutS + 10;
  let banNode = "";
  let sbdStarts = new Map<string, string>();
  return [
    {
      title: `haha:services.mosquitto.clients + ${extra} (a new MQTT user with its own ACL)`,
      mutate(doc) {
        const m = section(doc, "haha:services").mosquitto as Record<string, unknown>;
        // The declared (or default) clients stay: the built-in ones must.
        m.clients = [...new Set([...c.services.mosquitto.clients, extra])];
      },
      mustRun: [/mosquitto-config-acl-write$/, /mosquitto-config-passwd-write$/, /mosquitto-apply-run$/],
      only: /mosquitto/,
      async verify(x) {
        const pw = x.mqttPassword(extra);
        if (!pw) return { ok: false, evidence: `the lab's secrets hold no password for ${extra} (services-mqtt-${extra})` };
        const own = await x.mqttRoundTrip(extra, pw, `${extra}/lab/acl`);
        // The ACL, not just the password: the new user may not touch another client's topics.
        const other = await x.mqttRoundTrip(extra, pw, "nodered/lab/acl");
        return { ok: own.ok && !other.ok, evidence: `on its own topics: ${own.ok ? "round trip ok" : "FAILED"}\n${own.evidence}\non nodered/#: ${other.ok ? "ALLOWED (the ACL is not in effect)" : "no message delivered (the ACL denies it)"}\n${other.evidence}` };
      },
    },
    {
      title: "haha:cluster.defaults.failureTimeoutS +60 (the CIB is pushed again) while an operator's ban stands",
      mutate(doc) {
        const d = section(doc, "haha:cluster").defaults as Record<string, number>;
        d.failureTimeoutS = (d.failureTimeoutS ?? c.cluster.defaults.failureTimeoutS) + 60;
      },
      mustRun: [/^cib-.*-cib-write$/, /^cib-.*-cib-apply$/],
      only: /^cib-/,
      async before(x) {
        // A ban where the service does not run: it moves nothing, and the push must keep it.
        const view = await crm(x);
        const at = view?.active.get(banned)?.[0];
        banNode = c.nodes.map((n) => n.guest.name).find((n) => n !== at) ?? "";
        const g = guestsOf(x)[0]!;
        return on(x, g, `crm_resource --ban --resource ${banned} --node ${banNode} && cibadmin -Q -o constraints | grep -o 'id="cli-ban-[^"]*"'`);
      },
      async verify(x) {
        const g = guestsOf(x)[0]!;
        const r = await x.lab.ssh(g.address, `cibadmin -Q -o constraints; cibadmin -Q -o rsc_defaults`, { timeoutMs: 60_000 });
        const kept = r.stdout.includes(`id="cli-ban-${banned}-on-${banNode}"`);
        const applied = new RegExp(`name="failure-timeout" value="${c.cluster.defaults.failureTimeoutS + 60}s?"`).test(r.stdout);
        return { ok: kept && applied, evidence: `${g.shape.name}$ cibadmin -Q -o constraints; cibadmin -Q -o rsc_defaults\noperator's cli-ban-${banned}-on-${banNode}: ${kept ? "kept" : "DROPPED"}; failure-timeout ${c.cluster.defaults.failureTimeoutS + 60}: ${applied ? "live" : "NOT live"}\n${excerpt(r.stdout.split("\n").filter((l) => /cli-ban|failure-timeout/.test(l)).join("\n"), 6)}` };
      },
      async after(x) {
        await x.lab.ssh(guestsOf(x)[0]!.address, `crm_resource --clear --resource ${banned}`, { timeoutMs: 60_000 });
      },
    },
    {
      title: `haha:storage.drbd.resyncRateMiB ${c.storage.drbd.resyncRateMiB} -> ${newRate} (drbdadm adjust on the running replicas)`,
      mutate(doc) {
        const s = (doc.config["haha:storage"] ??= {}) as Record<string, unknown>;
        s.drbd = { ...((s.drbd as Record<string, unknown> | undefined) ?? {}), resyncRateMiB: newRate };
      },
      mustRun: [/^storage-.*-drbd-res-write$/, /^storage-.*-drbd-res-apply$/],
      only: /^storage-/,
      oneAtATime: /^storage-.*-drbd-res-apply$/,
      async verify(x) {
        const parts: string[] = [];
        let ok = true;
        for (const g of guestsOf(x, true)) {
          const r = await x.lab.ssh(g.address, `drbdsetup show ${res} | grep -E 'c-max-rate'; cat /proc/drbd`, { timeoutMs: 60_000 });
          const rate = /c-max-rate\s+(\d+)([kKmMsS]?)/.exec(r.stdout);
          // drbdsetup prints it in KiB (k) or with the unit given; 300M = 307200k.
          const kib = rate ? Number(rate[1]) * (/[mM]/.test(rate[2] ?? "") ? 1024 : /[sS]/.test(rate[2] ?? "") ? 0.5 : 1) : NaN;
          const good = kib === newRate * 1024 && /ro:Primary\/Primary ds:UpToDate\/UpToDate/.test(r.stdout);
          ok &&= good;
          parts.push(`${g.shape.name}$ drbdsetup show ${res} | grep c-max-rate; cat /proc/drbd\n${excerpt(r.stdout, 5)}`);
        }
        return { ok, evidence: parts.join("\n") };
      },
    },
    {
      title: `haha:cluster.fencing.watchdog.timeoutS ${c.cluster.fencing.watchdog.timeoutS} -> ${newWatchdog} (sbd restarted with each member's cluster stack)`,
      mutate(doc) {
        const f = section(doc, "haha:cluster").fencing as Record<string, Record<string, unknown>>;
        f.watchdog = { ...f.watchdog, timeoutS: newWatchdog };
      },
      mustRun: [/^cluster-.*-sbd-write$/, /^cluster-.*-sbd-apply$/],
      // The watchdog timeout also sets stonith-watchdog-timeout (the CIB) and, through the
      // slowest fencing path, crm-fence-peer's timeouts (the DRBD file).
      only: /^(cluster|cib|storage)-/,
      oneAtATime: /^cluster-.*-sbd-apply$/,
      async before(x) {
        sbdStarts = new Map();
        for (const g of guestsOf(x)) sbdStarts.set(g.shape.name, (await x.lab.ssh(g.address, "systemctl show -p ActiveEnterTimestampMonotonic --value sbd", { timeoutMs: 30_000 })).stdout.trim());
        return `sbd started at (monotonic us): ${[...sbdStarts].map(([n, t]) => `${n} ${t}`).join(", ")}`;
      },
      async verify(x) {
        const parts: string[] = [];
        let ok = true;
        for (const g of guestsOf(x)) {
          const r = await x.lab.ssh(g.address, "systemctl show -p ActiveEnterTimestampMonotonic --value sbd; systemctl is-active sbd; grep ^SBD_WATCHDOG_TIMEOUT= /etc/default/sbd; tr '\\0' '\\n' < /proc/$(pgrep -o -x sbd)/environ 2>/dev/null | grep ^SBD_WATCHDOG_TIMEOUT= || true", { timeoutMs: 30_000 });
          const [start = "", active = ""] = r.stdout.trim().split("\n");
          const restarted = start !== "" && start !== sbdStarts.get(g.shape.name);
          const good = restarted && active === "active" && r.stdout.includes(`SBD_WATCHDOG_TIMEOUT=${newWatchdog}`);
          ok &&= good;
          parts.push(`${g.shape.name}: sbd ${restarted ? "restarted" : "NOT restarted"}, ${active}; ${r.stdout.trim().split("\n").slice(2).join("; ")}`);
        }
        return { ok, evidence: parts.join("\n") };
      },
    },
  ];
}

const crm = (c: ChangeCtx): Promise<CrmView | undefined> => crmView(c.lab);

/** While an apply runs: how few members were online, and whether a replica was Primary all along. */
export class ClusterWatch {
  private stopped = false;
  private done?: Promise<void>;
  minOnline = Infinity;
  samples = 0;
  noPrimary = 0;
  constructor(private readonly c: ChangeCtx) {}
  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const v = await crm(this.c).catch(() => undefined);
        if (v) {
          this.samples++;
          this.minOnline = Math.min(this.minOnline, v.online.length);
          if ((v.active.get(`drbd-${this.c.config.storage.drbd.resource}`)?.length ?? 0) === 0) this.noPrimary++;
        }
        await sleep(5000);
      }
    })();
  }
  async stop(): Promise<string> {
    this.stopped = true;
    await this.done;
    return `${this.samples} samples of crm_mon during the apply: at least ${this.minOnline === Infinity ? "?" : this.minOnline} of ${this.c.config.nodes.length} members online at every sample; ${this.noPrimary === 0 ? "a DRBD replica Primary at every sample" : `no DRBD replica Primary in ${this.noPrimary} sample(s)`}`;
  }
}

/** Each guest's clock now (s since the epoch): under TCG guest clocks drift a minute from the lab's. */
async function guestClocks(c: ChangeCtx): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const g of c.lab.guests) {
    const r = await c.lab.ssh(g.address, "date +%s", { timeoutMs: 30_000 }).catch(() => undefined);
    const t = Number(r?.stdout.trim());
    if (r?.code === 0 && Number.isFinite(t)) out.set(g.shape.name, t);
  }
  return out;
}

/** Every guest's whole journal since the change began, over all boots (a fenced guest's too: the image keeps it on disk). */
export const CHANGE_JOURNAL = (since: number) => `journalctl --since @${since} -o short-precise --no-pager | tail -n 20000`;

/** After a failed change: each guest's journal of it, kept in the lab's folder (named in the evidence). */
async function keepJournals(c: ChangeCtx, n: number, since: Map<string, number>): Promise<string> {
  if (!c.keep) return "";
  const kept: string[] = [];
  for (const g of c.lab.guests) {
    const t = since.get(g.shape.name);
    if (t === undefined) continue;
    const r = await c.lab.ssh(g.address, CHANGE_JOURNAL(t - 5), { timeoutMs: 120_000 }).catch((e: Error) => ({ code: 255, stdout: "", stderr: e.message }));
    kept.push(c.keep(`change${n}-${g.shape.name}-journal.txt`, `${r.stdout}${r.stderr}`));
  }
  return kept.length ? `\nthe guests' journals of this change: ${kept.join(", ")}` : "";
}

let changeCount = 0;

/** One change, end to end: before, the apply (by `apply`, the lab's engine), the checks. */
export async function runChange(c: ChangeCtx, ch: ConfigChange, apply: (ch: ConfigChange) => Promise<Applied>): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const callsBefore = c.api.calls.length;
  const n = ++changeCount;
  const clocks = await guestClocks(c);
  let before = "";
  try {
    if (ch.before) before = await ch.before(c);
    const watch = new ClusterWatch(c);
    watch.start();
    let applied: Applied;
    try {
      applied = await apply(ch);
    } finally {
      c.log(`  ${await watch.stop()}`);
    }
    const steps = stepsAsExpected(ch, applied);
    out.push({ name: `changed config, ${ch.title}: re-runs exactly the steps it must`, ok: steps.ok, evidence: `re-ran ${applied.result.executed.length}: ${applied.result.executed.map((e) => `${e.host} ${e.name} (${e.seconds} s)`).join(", ")}${steps.problems.length ? `\nproblems: ${steps.problems.join("; ")}` : ""}` });
    if (ch.oneAtATime) {
      const seq = sequential(applied.result.executed, ch.oneAtATime);
      out.push({ name: `changed config, ${ch.title}: applied one member at a time`, ok: seq.ok, evidence: seq.evidence });
    }
    const v = await ch.verify(c);
    out.push({ name: `changed config, ${ch.title}: in effect on the guests`, ok: v.ok, evidence: `${before ? `before: ${before}\n` : ""}${v.evidence}` });
  } catch (e) {
    out.push({ name: `changed config, ${ch.title}: the change ran`, ok: false, evidence: e instanceof Error ? e.message : String(e) });
  }
  await ch.after?.(c).catch(() => undefined);
  // Settled: every member online, quorate, nothing failed, and nobody fenced on the way.
  let v: CrmView | undefined;
  for (let i = 0; i < 60; i++) {
    v = await crm(c);
    if (v && v.quorate && v.online.length === c.config.nodes.length && v.failed.length === 0) break;
    await sleep(5000);
  }
  const fenced = powerCalls(c.api, callsBefore);
  out.push({
    name: `changed config, ${ch.title}: no member fenced, the cluster quorate with every member online and nothing failed`,
    ok: fenced.length === 0 && !!v?.quorate && v.online.length === c.config.nodes.length && v.failed.length === 0,
    evidence: `fence_pve calls to the lab's Proxmox API: ${fenced.map((f) => f.path).join(", ") || "none"}; crm_mon: quorate ${v?.quorate}, online ${v?.online.join(", ")}, failed ${v?.failed.join(", ") || "none"}`,
  });
  // A failure is diagnosed from the guests' own logs: kept now, before a later phase powers a guest off.
  if (out.some((r) => !r.ok)) {
    const where = await keepJournals(c, n, clocks);
    const last = out[out.length - 1]!;
    last.evidence += where;
  }
  for (const r of out) c.log(`check ${r.ok ? "ok  " : "FAIL"} ${r.name}`);
  return out;
}
