// The "home network" client: a node process inside the cluster's bridge namespace that asks the
// services VIP, in each service's own protocol, whether it answers: any TCP answer for the VIP
// itself, an authenticated MQTT publish/subscribe round trip for Mosquitto, HTTP 200 for Node-RED.
// It starts before the fault; on "go" it reports, per probe, when it answered again after its last
// failure (ms after the fault), until "stop".
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";

export interface ProbeConfig {
  vip: string;
  mqtt?: { port: number; user: string; password: string };
  http?: { port: number };
}

export interface ProbeResult {
  /** ms after the fault when the probe answered again (after its last failure), 0 when it never failed. */
  back: Record<string, number | undefined>;
  /** Whether the probe failed at all after the fault. */
  failed: Record<string, boolean>;
}

const SOURCE = (root: string) => `
const net = require("net"), http = require("http"), mqtt = require(${JSON.stringify(path.join(root, "node_modules/mqtt"))});
const cfg = JSON.parse(process.argv[1]);
let t0 = 0, stop = false, active = false;
const st = {};
const probes = {
  vip: () => new Promise((res) => {
    const s = net.connect({ host: cfg.vip, port: 9, timeout: 400 });
    const done = (ok) => { s.destroy(); res(ok); };
    s.on("connect", () => done(true));
    s.on("timeout", () => done(false));
    s.on("error", (e) => done(e.code === "ECONNREFUSED"));
  }),
};
if (cfg.mqtt) probes.mosquitto = () => new Promise((res) => {
  // The nodered user may only use its own tree (the rendered ACL): the probe publishes there.
  const topic = "nodered/haha-lab-probe/" + Math.random().toString(36).slice(2);
  const c = mqtt.connect({ host: cfg.vip, port: cfg.mqtt.port, username: cfg.mqtt.user, password: cfg.mqtt.password, connectTimeout: 1000, reconnectPeriod: 0, clean: true });
  let fin = false;
  const done = (ok) => { if (fin) return; fin = true; clearTimeout(t); c.end(true); res(ok); };
  const t = setTimeout(() => done(false), 2500);
  c.on("error", () => done(false));
  c.on("close", () => done(false));
  c.on("message", (tp, m) => done(tp === topic && m.toString() === "ping"));
  c.on("connect", () => c.subscribe(topic, { qos: 1 }, (err) => err ? done(false) : c.publish(topic, "ping", { qos: 1 })));
});
if (cfg.http) probes.nodered = () => new Promise((res) => {
  const r = http.get({ host: cfg.vip, port: cfg.http.port, path: "/", timeout: 1000 }, (x) => { x.resume(); res(x.statusCode === 200); });
  r.on("timeout", () => { r.destroy(); res(false); });
  r.on("error", () => res(false));
});
for (const k of Object.keys(probes)) st[k] = { back: undefined, failed: false };
async function loop(k) {
  while (!stop) {
    // Between rounds nothing is measured: no load on the services (4 MQTT logins and HTTP GETs a
    // second per cluster otherwise), and none on the machine the other clusters share.
    if (!active) { await new Promise((r) => setTimeout(r, 50)); continue; }
    const ok = await probes[k]().catch(() => false);
    if (t0) {
      const now = Date.now() - t0;
      if (!ok) { st[k].failed = true; st[k].back = undefined; }
      else if (st[k].back === undefined) st[k].back = st[k].failed ? now : 0;
    }
    await new Promise((r) => setTimeout(r, ok ? 250 : 100));
  }
}
require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
  const [cmd, arg] = l.split(" ");
  if (cmd === "rest") active = false;
  if (cmd === "go") { t0 = Number(arg); active = true; for (const k of Object.keys(st)) st[k] = { back: undefined, failed: false }; }
  if (cmd === "get") console.log(JSON.stringify({ back: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.back])), failed: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, v.failed])) }));
  if (cmd === "stop") { stop = true; setTimeout(() => process.exit(0), 50); }
});
for (const k of Object.keys(probes)) loop(k);
console.log("ready");
`;

export class Probe {
  private readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];

  constructor(netns: string, root: string, cfg: ProbeConfig) {
    this.proc = spawn("ip", ["netns", "exec", netns, process.execPath, "-e", SOURCE(root), JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    // A probe that died shows as "stopped answering" (next()), not as an EPIPE crash of the lab.
    this.proc.stdin?.on("error", () => undefined);
    readline.createInterface({ input: this.proc.stdout as NodeJS.ReadableStream }).on("line", (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }

  private next(timeoutMs = 15000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("the VIP probe stopped answering")), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }

  async ready(): Promise<void> {
    const l = await this.next(30000);
    if (l !== "ready") throw new Error(`VIP probe: ${l}`);
  }

  /** From the fault at t0 on: probe, and report per probe when it answered again (ms after t0). */
  go(t0: number): void {
    this.proc.stdin?.write(`go ${t0}\n`);
  }

  /** Between rounds: no probing until the next go (what was measured stays readable). */
  rest(): void {
    this.proc.stdin?.write("rest\n");
  }

  async get(): Promise<ProbeResult> {
    this.proc.stdin?.write("get\n");
    return JSON.parse(await this.next()) as ProbeResult;
  }

  stop(): void {
    this.proc.stdin?.write("stop\n");
    setTimeout(() => this.proc.kill("SIGKILL"), 500).unref();
  }
}
