// Storage failover with data integrity (issue 9 item 5): a writer on the services member appends
// numbered, fsynced records to a file on the shared (NFS) mount and reports each acknowledged
// number to the lab; members are failed for real (QMP `quit` = power loss, `set_link off` = cable
// pulled) and the cluster must fence them through fence_pve and the lab's Proxmox API, bring the
// export and the services back on survivors, and keep every acknowledged record exactly once.
import { spawn, type ChildProcess } from "node:child_process";
import type { HahaConfig } from "../../stacks/config/schema";
import type { FakePveApi } from "../common/fake-pve";
import { isPromoted, parseCrmMon } from "../common/crm-mon";
import { excerpt, sleep } from "../common/proc";
import type { Guest, Lab } from "./lab";
import { activeServices, TwoLostJudge } from "./two-lost";

export interface ScenarioResult {
  name: string;
  ok: boolean;
  fenced: string[];
  seconds: number;
  /** What was observed, step by step, with the time since the fault. */
  evidence: string[];
  problems: string[];
}

export interface Records {
  acknowledged: number;
  found: number;
  lost: number;
  duplicated: number;
}

interface Ctx {
  lab: Lab;
  api: FakePveApi;
  config: HahaConfig;
  log: (s: string) => void;
}

export interface CrmView {
  online: string[];
  quorate: boolean;
  /** Started (or Promoted) resource instances: id -> the nodes it is active on. */
  active: Map<string, string[]>;
  failed: string[];
}

export function parseCrm(out: string): CrmView | undefined {
  const mon = parseCrmMon(out);
  if (!mon) return undefined;
  const active = new Map<string, string[]>();
  for (const i of mon.instances) if (i.active && (i.role === "Started" || isPromoted(i))) active.set(i.id, [...(active.get(i.id) ?? []), ...i.nodes]);
  return { online: mon.online, quorate: mon.quorate, active, failed: mon.instances.filter((i) => i.failed).map((i) => i.id) };
}

/** The cluster as the first live member that answers sees it (crm_mon's XML), skipping `except`. */
export async function crmView(lab: Lab, except: string[] = []): Promise<CrmView | undefined> {
  for (const g of lab.guests) {
    if (except.includes(g.shape.name) || !lab.alive(g)) continue;
    const r = await lab.ssh(g.address, "crm_mon -1 --output-as=xml", { timeoutMs: 30_000, connectTimeoutS: 5 });
    const v = parseCrm(r.stdout);
    if (v) return v;
  }
  return undefined;
}

/** The power actions (fence_pve's stops, starts, resets) the lab's Proxmox API answered since call number `since`. */
export function powerCalls(api: FakePveApi, since: number): FakePveApi["calls"] {
  return api.calls.slice(since).filter((c) => c.method === "POST" && /\/status\/(stop|start|reset)$/.test(c.path));
}

/** Numbered records: which were acknowledged, and what the file holds (whole lines only; a torn last write of an unacknowledged record is not a record). */
export function countRecords(acked: number[], fileText: string): Records {
  const seen = new Map<number, number>();
  const lines = fileText.split("\n");
  if (!fileText.endsWith("\n")) lines.pop();
  for (const l of lines) {
    if (!/^\d+$/.test(l)) continue;
    const n = Number(l);
    seen.set(n, (seen.get(n) ?? 0) + 1);
  }
  const lost = acked.filter((n) => !seen.has(n)).length;
  const duplicated = [...seen.values()].filter((c) => c > 1).length;
  return { acknowledged: acked.length, found: seen.size, lost, duplicated };
}

// Appends "n\n", fsyncs, then prints n: a number on stdout is a record the storage acknowledged.
const WRITER = `
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
n = int(sys.argv[2])
while True:
    os.write(fd, b"%d\\n" % n)
    os.fsync(fd)
    print(n, flush=True)
    n += 1
    time.sleep(0.1)
`;

/** The writer on one guest, over an SSH session of the lab's; its stdout is the acknowledgement stream. */
class Writer {
  private proc?: ChildProcess;
  readonly acked: number[] = [];
  host?: string;
  constructor(private readonly lab: Lab, readonly file: string) {}

  start(g: Guest, from: number): void {
    this.host = g.shape.name;
    const argv = this.lab.sshArgs(g.address);
    this.proc = spawn("ip", [...argv, `python3 -c '${WRITER.replace(/'/g, `'\\''`)}' ${this.file} ${from}`], { stdio: ["ignore", "pipe", "ignore"] });
    let buf = "";
    this.proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split("\n");
      buf = parts.pop() ?? "";
      for (const p of parts) if (/^\d+$/.test(p)) this.acked.push(Number(p));
    });
  }
  running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  stop(): void {
    this.proc?.kill("SIGTERM");
    this.proc = undefined;
  }
  last(): number {
    return this.acked.at(-1) ?? 0;
  }
}

export class StorageScenarios {
  private readonly writer: Writer;
  readonly results: ScenarioResult[] = [];
  records: Records = { acknowledged: 0, found: 0, lost: 0, duplicated: 0 };

  constructor(private readonly c: Ctx) {
    this.writer = new Writer(c.lab, `${c.config.storage.nfs.mountPoint}/lab-records`);
  }

  private guest(name: string): Guest {
    const g = this.c.lab.guests.find((x) => x.shape.name === name);
    if (!g) throw new Error(`no lab guest ${name}`);
    return g;
  }

  crm(except: string[] = []): Promise<CrmView | undefined> {
    return crmView(this.c.lab, except);
  }

  /** Where a resource runs (its first active node). */
  async where(rsc: string): Promise<string | undefined> {
    return (await this.crm())?.active.get(rsc)?.[0];
  }

  /** Every member online, quorate, the storage stack and the services started, nothing failed. */
  async converged(timeoutMs: number): Promise<CrmView> {
    const want = ["services-vip", "storage-vip", "nfs-server", ...this.serviceIds()];
    const deadline = Date.now() + timeoutMs;
    let last: CrmView | undefined;
    let said = "";
    let saidAt = 0;
    while (Date.now() < deadline) {
      last = await this.crm();
      if (last && last.quorate && last.online.length === this.c.lab.guests.length && last.failed.length === 0 && want.every((w) => last?.active.has(w)) && (last.active.get("drbd-haha")?.length ?? 0) >= 2) return last;
      // Progress, when it changes or each minute: what the cluster still lacks (run 5 waited 9 min in silence on a DRBD resync).
      const lacks = last ? `online ${last.online.length}/${this.c.lab.guests.length}${last.quorate ? "" : ", not quorate"}; not started: ${want.filter((w) => !last?.active.has(w)).join(", ") || "-"}; drbd-haha promoted on ${last.active.get("drbd-haha")?.length ?? 0}; failed: ${last.failed.join(", ") || "-"}` : "no crm_mon answer";
      if (lacks !== said || Date.now() - saidAt > 60_000) {
        this.c.log(`  waiting for the cluster to converge: ${lacks}`);
        said = lacks;
        saidAt = Date.now();
      }
      await sleep(5000);
    }
    throw new Error(`the cluster did not converge within ${timeoutMs / 1000} s: ${last ? `online ${last.online.join(",")}, started ${[...last.active.keys()].join(",")}, failed ${last.failed.join(",") || "none"}` : "no crm_mon answer"}`);
  }

  private serviceIds(): string[] {
    return Object.keys(this.c.config.services).filter((k) => (this.c.config.services as Record<string, unknown>)[k]);
  }

  /** Start (or restart, after its member was lost) the writer on the member running the services, numbering after the last record in the file. */
  async ensureWriter(): Promise<void> {
    if (this.writer.running()) return;
    const host = await this.where("services-vip");
    if (!host) throw new Error("no member runs services-vip: nowhere to start the writer");
    const g = this.guest(host);
    const r = await this.c.lab.ssh(g.address, `tail -n 1 ${this.writer.file} 2>/dev/null || true`, { timeoutMs: 60_000 });
    const lastLine = r.stdout.trim().split("\n").at(-1) ?? "";
    const from = Math.max(this.writer.last(), /^\d+$/.test(lastLine) ? Number(lastLine) : 0) + 1;
    this.writer.start(g, from);
    const before = this.writer.acked.length;
    for (let i = 0; i < 60 && this.writer.acked.length <= before; i++) await sleep(1000);
    if (this.writer.acked.length <= before) throw new Error(`the writer on ${host} acknowledged no record in 60 s (the shared mount ${this.writer.file} does not take writes)`);
    this.c.log(`  writer on ${host}: records from ${from}`);
  }

  /** Count what the file holds against what was acknowledged, read on a running member. */
  async check(): Promise<Records> {
    // What was acknowledged before the file is read: the writer goes on meanwhile, and a record
    // acknowledged while `cat` ran may be missing from what it read without being lost.
    const acked = [...this.writer.acked];
    for (const g of this.c.lab.guests) {
      if (!this.c.lab.alive(g)) continue;
      const r = await this.c.lab.ssh(g.address, `cat ${this.writer.file}`, { timeoutMs: 120_000 });
      if (r.code === 0) return (this.records = countRecords(acked, r.stdout));
    }
    throw new Error(`no member could read ${this.writer.file}`);
  }

  /**
   * One fault: `fault` fails a member; then the member must be fenced (a stop through the
   * Proxmox API), the export and the services must answer on survivors, the member must come back
   * and the cluster converge, and every acknowledged record must be in the file exactly once.
   */
  async run(name: string, victim: string, fault: (g: Guest) => Promise<void>, timeouts: { recoverMs: number; rejoinMs: number }): Promise<ScenarioResult> {
    const evidence: string[] = [];
    const problems: string[] = [];
    const g = this.guest(victim);
    await this.ensureWriter();
    await sleep(5000);
    const ackedBefore = this.writer.acked.length;
    const callsBefore = this.c.api.calls.length;
    const t = Date.now();
    const at = () => `${Math.round((Date.now() - t) / 1000)} s`;
    this.c.log(`scenario ${name}: ${victim}`);
    await fault(g);
    evidence.push(`0 s: fault on ${victim}`);
    // A writer on the victim is lost with it. Its SSH session does not end by itself when the
    // cable is pulled (nothing is sent on an idle session, so no reset ever comes back): run 5
    // waited on it for the whole scenario. The records it acknowledged stay counted.
    if (this.writer.host === victim) this.writer.stop();
    const fenced: string[] = [];
    try {
      // Fencing: fence_pve's reboot of the victim's VM, seen by the lab's Proxmox API. With
      // method=onoff it powers off only a VM the API reports running: after a power loss (the VM
      // already stopped) its reboot is the status check and the power-on alone.
      const vmid = g.shape.vmid;
      const deadline = Date.now() + timeouts.recoverMs;
      const power = () => this.c.api.calls.slice(callsBefore).find((c) => c.method === "POST" && /\/status\/(stop|start)$/.test(c.path) && c.path.includes(`/qemu/${vmid}/`) && c.status === 200);
      while (Date.now() < deadline && !power()) await sleep(1000);
      const action = power();
      if (action) {
        fenced.push(victim);
        evidence.push(`${Math.round((action.at - t) / 1000)} s: ${victim} fenced (fence_pve: POST ${action.path} answered 200)`);
        this.c.log(`  ${evidence.at(-1)}`);
      } else problems.push(`${victim} was not fenced through the Proxmox API within ${timeouts.recoverMs / 1000} s`);
      // The export and the services on survivors, and the writer acknowledging again.
      let back = false;
      while (Date.now() < deadline) {
        const v = await this.crm([victim]);
        const where = ["storage-vip", "services-vip"].map((r) => v?.active.get(r)?.[0]);
        if (where.every((w) => w && w !== victim)) {
          evidence.push(`${at()}: storage-vip on ${where[0]}, services-vip on ${where[1]}`);
          this.c.log(`  ${evidence.at(-1)}`);
          back = true;
          break;
        }
        await sleep(3000);
      }
      if (!back) problems.push(`the export and the services were not back on survivors within ${timeouts.recoverMs / 1000} s`);
      await this.ensureWriter().catch((e: Error) => problems.push(e.message));
      const n = this.writer.acked.length;
      while (Date.now() < deadline && this.writer.acked.length <= n + 3) await sleep(1000);
      if (this.writer.acked.length > n + 3) evidence.push(`${at()}: records acknowledged again (${this.writer.acked.length - ackedBefore} during the scenario)`);
      else problems.push("the writer acknowledged no record after the failover");
      // The fenced member boots again (fence_pve's reboot: stop, then start) and rejoins.
      await this.converged(timeouts.rejoinMs);
      evidence.push(`${at()}: every member online, storage and services started, nothing failed`);
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
    const rec = await this.check().catch((e: Error) => {
      problems.push(e.message);
      return this.records;
    });
    evidence.push(`records: acknowledged ${rec.acknowledged}, found ${rec.found}, lost ${rec.lost}, duplicated ${rec.duplicated}`);
    if (rec.lost > 0 || rec.duplicated > 0) problems.push(`records lost ${rec.lost}, duplicated ${rec.duplicated}`);
    const r: ScenarioResult = { name, ok: problems.length === 0, fenced, seconds: Math.round((Date.now() - t) / 1000), evidence, problems };
    this.results.push(r);
    this.c.log(`scenario ${name}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds} s${problems.length ? `: ${problems.join("; ")}` : ""}`);
    return r;
  }

  /**
   * Two of three lost at once. The survivor has no quorum: nothing may start there, no replica be
   * promoted alone, nobody be fenced through the API, and (diskless SBD with SBD_PACEMAKER=yes,
   * sbd(8): "the watchdog device will be used to reset the node if it loses quorum") the survivor
   * resets itself; the cluster's stonith-watchdog-timeout counts on exactly that. It then boots
   * into a one-vote partition that stays inquorate and starts nothing. Run 5 sampled once, 100 s
   * in, while the survivor was resetting, and read its silence as a failure.
   */
  async twoLost(a: string, b: string, waitMs: number, rebootMs: number): Promise<ScenarioResult> {
    const evidence: string[] = [];
    const problems = new Set<string>();
    this.writer.stop();
    const survivor = this.c.lab.guests.find((g) => g.shape.name !== a && g.shape.name !== b) as Guest;
    const probe = "cat /proc/sys/kernel/random/boot_id; echo ===; crm_mon -1 --output-as=xml; echo ===; cat /proc/drbd 2>/dev/null || echo 'drbd: not loaded'; echo ===; docker ps --format '{{.Names}}'; echo ===; ip -o addr";
    const boot0 = (await this.c.lab.ssh(survivor.address, "cat /proc/sys/kernel/random/boot_id", { timeoutMs: 30_000 })).stdout.trim();
    if (!boot0) throw new Error(`no boot id from ${survivor.shape.name} before the scenario`);
    const callsBefore = this.c.api.calls.length;
    const t = Date.now();
    const at = () => `${Math.round((Date.now() - t) / 1000)} s`;
    for (const n of [a, b]) await this.c.lab.qmp(this.guest(n), "quit").catch(() => undefined);
    evidence.push(`0 s: ${a} and ${b} powered off (QMP quit)`);
    this.c.log(`scenario two-lost: ${a} and ${b} powered off; watching ${survivor.shape.name}`);
    const boots = [boot0];
    const judge = new TwoLostJudge(survivor.shape.name);
    let seenSince: number | undefined; // the first crm_mon answer in the survivor's current boot
    let samples = 0;
    let lastState = "";
    const deadline = t + waitMs + rebootMs;
    while (Date.now() < deadline) {
      const r = await this.c.lab.ssh(survivor.address, probe, { timeoutMs: 30_000, connectTimeoutS: 5 });
      const [bootOut = "", crmOut = "", drbd = "", docker = "", addrs = ""] = r.stdout.split("===\n");
      const boot = bootOut.trim();
      if (/^[0-9a-f-]{36}$/.test(boot)) {
        if (boot !== boots.at(-1)) {
          boots.push(boot);
          seenSince = undefined;
          const journal = await this.c.lab.ssh(survivor.address, "journalctl -b -1 -o cat --no-pager -u sbd -u corosync 2>/dev/null | grep -Ei 'quorum|watchdog|suicide|reset|self-fenc' | tail -n 4", { timeoutMs: 30_000 });
          evidence.push(`${at()}: ${survivor.shape.name} is up again after a reset (boot ${boots.length - 1} since the fault)${journal.stdout.trim() ? `; its previous boot's sbd/corosync log ends: ${journal.stdout.trim().split("\n").join(" / ")}` : ""}`);
          this.c.log(`  ${evidence.at(-1)}`);
        }
        const v = parseCrm(crmOut);
        samples++;
        if (v && seenSince === undefined) seenSince = Date.now();
        const started = activeServices(v);
        judge.observe({ boot: boots.length - 1, view: v, drbdPrimary: /ro:Primary/.test(drbd), containers: docker.trim().split("\n").filter(Boolean), vipUp: addrs.includes(`${this.c.config.network.vip}/`) || addrs.includes(`${this.c.config.network.storageVip}/`) });
        const state = `online ${v ? v.online.join(", ") || "none" : "-"}; quorate ${v ? v.quorate : "(Pacemaker not answering)"}; started ${started.join(", ") || "nothing"}; /proc/drbd: ${excerpt(drbd, 3).replace(/\n/g, " / ").trim() || "empty"}; containers: ${docker.trim() || "none"}`;
        if (state !== lastState) {
          evidence.push(`${at()} on ${survivor.shape.name}: ${state}`);
          lastState = state;
        }
        // Done once the wait is over, the survivor has reset itself, and its new boot's Pacemaker
        // has answered for 30 s (a partition that stays inquorate, not one caught mid-boot).
        if (Date.now() - t >= waitMs && boots.length > 1 && seenSince !== undefined && Date.now() - seenSince >= 30_000) break;
      }
      await sleep(5000);
    }
    for (const p of judge.problems) problems.add(p);
    if (samples === 0) problems.add(`${survivor.shape.name} never answered over SSH within ${(waitMs + rebootMs) / 1000} s`);
    if (boots.length === 1) problems.add(`${survivor.shape.name} lost quorum but did not reset itself within ${(waitMs + rebootMs) / 1000} s (diskless SBD must: the cluster's stonith-watchdog-timeout counts on it)`);
    else if (seenSince === undefined) problems.add(`${survivor.shape.name} reset itself but its Pacemaker never answered again within ${(waitMs + rebootMs) / 1000} s`);
    if (boots.length > 2) evidence.push(`${survivor.shape.name} reset ${boots.length - 1} times in ${at()}: an inquorate member whose sbd resets it again after each boot`);
    const fencings = powerCalls(this.c.api, callsBefore);
    if (fencings.length > 0) problems.add(`fenced without quorum: ${fencings.map((c) => c.path).join(", ")}`);
    const res: ScenarioResult = { name: "two of three lost: nothing starts, no replica promoted alone, the survivor resets itself", ok: problems.size === 0, fenced: [], seconds: Math.round((Date.now() - t) / 1000), evidence, problems: [...problems] };
    this.results.push(res);
    this.c.log(`scenario two-lost: ${res.ok ? "ok" : "FAILED"}${problems.size ? `: ${[...problems].join("; ")}` : ""}`);
    return res;
  }

  /**
   * Loopback NFS under memory pressure (issue 10 item 14): the member serving the export also
   * mounts it (the shared mount runs on every member), so whatever writes there goes through its
   * own nfsd; a kernel that needs memory to write back dirty NFS pages, and nfsd that needs memory
   * to take them, is the classic loopback deadlock. For a minute a fsyncing writer appends on that
   * mount while dd dirties 256 MiB there and a memory hog (the OOM killer's first choice) takes
   * the member down to 6 % of available memory. Passes when the writer kept completing
   * writes, the member answered throughout, and the kernel reported no hung task. The figures
   * (writes, the longest fsync) go into the evidence, never into a pass.
   */
  async loopbackUnderPressure(): Promise<{ ok: boolean; evidence: string }> {
    const host = await this.where("nfs-server");
    if (!host) return { ok: false, evidence: "no member runs nfs-server" };
    const g = this.guest(host);
    const dir = this.c.config.storage.nfs.mountPoint;
    const script = [
      "set -u",
      `f=${dir}/lab-loopback; rm -f "$f" ${dir}/lab-loopback-dd`,
      "dmesg -c >/dev/null 2>&1 || true",
      // The writer: one fsynced line every 0.1 s for 60 s; prints its count and longest fsync.
      `python3 -c 'import os,sys,time
fd=os.open(sys.argv[1],os.O_WRONLY|os.O_APPEND|os.O_CREAT,0o644); n=0; worst=0.0; end=time.time()+60
while time.time()<end:
    t=time.time(); os.write(fd,b"%d\\n"%n); os.fsync(fd); worst=max(worst,time.time()-t); n+=1; time.sleep(0.1)
print("writes %d longest-fsync %.2f" % (n, worst))' "$f" > /tmp/lab-loopback.out 2>&1 &`,
      "w=$!",
      "sleep 5",
      `dd if=/dev/zero of=${dir}/lab-loopback-dd bs=1M count=256 conv=fsync status=none &`,
      // The hog: 32 MiB at a time, touched, until MemAvailable is under 6 %; holds 20 s.
      `(echo 1000 > /proc/self/oom_score_adj; exec python3 -c 'import time
def avail():
    m=dict(l.split(":") for l in open("/proc/meminfo")); return int(m["MemAvailable"].split()[0]), int(m["MemTotal"].split()[0])
hog=[]
while True:
    a,t=avail()
    if a < t*0.06: break
    hog.append(b"\\x01" * (32<<20))
print("hog %d MiB, MemAvailable %d kB of %d kB" % (len(hog)*32, a, t)); time.sleep(20)') > /tmp/lab-loopback-hog.out 2>&1 &`,
      "wait $w",
      "wait",
      "cat /tmp/lab-loopback.out /tmp/lab-loopback-hog.out",
      "echo ===; dmesg | grep -E 'blocked for more than|hung_task|Out of memory|Killed process' | cut -c1-160 | head -n 6",
      `rm -f "$f" ${dir}/lab-loopback-dd`,
    ].join("\n");
    const t = Date.now();
    const r = await this.c.lab.ssh(g.address, script, { timeoutMs: 5 * 60_000 });
    const s = Math.round((Date.now() - t) / 1000);
    const [out = "", kernel = ""] = r.stdout.split("===\n");
    const writes = /writes (\d+) longest-fsync ([\d.]+)/.exec(out);
    const hung = /blocked for more than|hung_task/.test(kernel);
    const ok = r.code === 0 && !!writes && Number(writes[1]) > 0 && !hung;
    return {
      ok,
      evidence: `${host} (serving the export and mounting it at ${dir}), ${s} s: ${writes ? `${writes[1]} fsynced writes in 60 s, the longest fsync ${writes[2]} s` : "the writer reported nothing"}; ${excerpt(out.split("\n").filter((l) => l.startsWith("hog")).join(" "), 1) || "the hog reported nothing (killed?)"}; kernel: ${kernel.trim().split("\n").join(" / ") || "no hung task, no OOM kill"}${r.code !== 0 ? `; the session ended with exit ${r.code}${r.timedOut ? " (timed out: the member stopped answering)" : ""}` : ""}`,
    };
  }

  /** Both replicas identical after resync: `drbdadm verify`, then no out-of-sync blocks. */
  async verifyReplicas(timeoutMs: number): Promise<{ ok: boolean; evidence: string }> {
    const res = this.c.config.storage.drbd.resource;
    const diskful = this.c.config.nodes.filter((n) => n.drbdDisk).map((n) => this.guest(n.guest.name));
    const first = diskful[0] as Guest;
    const start = await this.c.lab.ssh(first.address, `drbdadm verify ${res}`, { timeoutMs: 60_000 });
    if (start.code !== 0) return { ok: false, evidence: `drbdadm verify ${res}: exit ${start.code}: ${start.stderr.trim()}` };
    this.c.log(`  drbdadm verify ${res} on ${first.shape.name}: reading both replicas (minutes under TCG)`);
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    let proc = "";
    let said = t0;
    while (Date.now() < deadline) {
      proc = (await this.c.lab.ssh(first.address, "cat /proc/drbd", { timeoutMs: 30_000 })).stdout;
      if (!/cs:VerifyS|cs:VerifyT/.test(proc)) break;
      if (Date.now() - said >= 30_000) {
        said = Date.now();
        // /proc/drbd's own progress line: "[==>....] verified: 23.4% (...)".
        this.c.log(`  drbdadm verify: ${Math.round((said - t0) / 1000)} s, ${/verified:\s*([\d.]+%)/.exec(proc)?.[1] ?? "?"} verified`);
      }
      await sleep(3000);
    }
    const oos = /oos:(\d+)/.exec(proc)?.[1];
    const ok = /cs:Connected/.test(proc) && /ds:UpToDate\/UpToDate/.test(proc) && oos === "0";
    this.c.log(`check ${ok ? "ok  " : "FAIL"} drbdadm verify after ${Math.round((Date.now() - t0) / 1000)} s: out of sync ${oos ?? "?"} KiB${/cs:Verify/.test(proc) ? " (still verifying at the deadline)" : ""}`);
    return { ok, evidence: `${first.shape.name}$ drbdadm verify ${res}; cat /proc/drbd\n${excerpt(proc, 6)}` };
  }

  stop(): void {
    this.writer.stop();
  }
}
