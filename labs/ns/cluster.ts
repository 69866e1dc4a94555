// One lab cluster: a bridge in a namespace of its own (which also holds the three Proxmox API
// addresses, the lab registry and the "home network" client), and three members, each
// `ip netns exec NS unshare --mount --uts --ipc --pid --fork` running the rendered corosync.conf
// with real corosync and pacemakerd, plus one Docker daemon per member. Every process of a member
// (its PID namespace and its Docker daemon, containerd, shims and containers) sits in one cgroup,
// so a power loss is one SIGKILL of everything in it.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { promisify } from "node:util";
import { dockerCli, type DockerCli } from "../common/images";

const run = promisify(execFile);

export const NS_PREFIX = "lab-ns-";
const CG_CONTROLLERS = ["pids", "freezer"] as const;
const CG_ROOT = "/sys/fs/cgroup";

export interface MemberSpec {
  name: string;
  address: string;
  vmid: number;
  /** The Proxmox node it runs on. */
  pveNode: string;
}

export interface ClusterSpec {
  index: number;
  /** Host folder of this cluster (members' /etc copies, logs, docker data, the shared /srv). */
  dir: string;
  /** Short runtime folder (socket paths must stay short). */
  runDir: string;
  prefixLen: number;
  gateway: string;
  /** The member's NIC name as the program names the guests' NIC (haha:network.guestNic; the VIPs' IPaddr2 nic=). */
  nic: string;
  apiAddresses: string[];
  registryAddress: string;
  members: MemberSpec[];
  /** Writes a member's files (rendered etc., init script) before each boot. */
  prepare(m: Member): void;
  log(line: string): void;
}

export class Member {
  bootedAt = 0;
  constructor(
    readonly cluster: Cluster,
    readonly spec: MemberSpec,
    readonly i: number,
  ) {}
  get ns(): string {
    return `${this.cluster.prefix}m${this.i + 1}`;
  }
  get dir(): string {
    return path.join(this.cluster.spec.dir, `m${this.i + 1}`);
  }
  get runDir(): string {
    return path.join(this.cluster.spec.runDir, `m${this.i + 1}`);
  }
  get cgroup(): string {
    return `${this.cluster.prefix}m${this.i + 1}`;
  }
  get dockerSocket(): string {
    return path.join(this.runDir, "docker.sock");
  }
  get docker(): DockerCli {
    return dockerCli(this.dockerSocket);
  }
  /**
   * Whether the member's Docker daemon runs a container of that name: one request on its socket
   * (Docker's API), no CLI process. The lab polls this several times a second per survivor while
   * it measures; a docker CLI per poll loaded the machine the clusters share (false: no daemon,
   * no container, or not running).
   */
  containerRunning(name: string): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: this.dockerSocket, path: `/containers/${encodeURIComponent(name)}/json`, timeout: 3000 }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => {
          try {
            resolve(res.statusCode === 200 && (JSON.parse(body) as { State?: { Running?: boolean } }).State?.Running === true);
          } catch {
            resolve(false);
          }
        });
        res.on("error", () => resolve(false));
      });
      req.on("timeout", () => req.destroy());
      req.on("error", () => resolve(false));
    });
  }
  /** PID (in the root namespace) of the member's PID-namespace init, if it runs. */
  initPid(): number | undefined {
    try {
      const pid = Number(fs.readFileSync(path.join(this.runDir, "init.pid"), "utf8"));
      const stat = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return stat.includes("init.sh") ? pid : undefined;
    } catch {
      return undefined;
    }
  }
  /** Run a command inside the member (its mount, UTS, IPC, network and PID namespaces). */
  async exec(argv: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number; out: string }> {
    const pid = this.initPid();
    if (!pid) return { code: 255, out: `${this.spec.name} is off` };
    const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    try {
      const { stdout, stderr } = await run("nsenter", ["-t", String(pid), "-m", "-u", "-i", "-n", "-p", "env", ...env, ...argv], { timeout: opts.timeoutMs ?? 20000, maxBuffer: 16 * 1024 * 1024 });
      return { code: 0, out: stdout + stderr };
    } catch (e) {
      const err = e as { code?: number | string; stdout?: string; stderr?: string };
      return { code: typeof err.code === "number" ? err.code : 254, out: (err.stdout ?? "") + (err.stderr ?? "") };
    }
  }
  /** A long-running shell inside the member whose stdout lines are handed over as they come. */
  stream(script: string): { onLine(fn: (l: string) => void): void; onExit(fn: () => void): void; kill(): void } {
    const pid = this.initPid();
    const p = spawn("nsenter", ["-t", String(pid ?? 0), "-m", "-u", "-i", "-n", "-p", "sh", "-c", script], { stdio: ["ignore", "pipe", "ignore"] });
    const lines: ((l: string) => void)[] = [];
    let buf = "";
    p.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        for (const f of lines) f(l);
      }
    });
    return { onLine: (fn) => void lines.push(fn), onExit: (fn) => void p.on("exit", fn), kill: () => {
        // nsenter forked the shell into the member's PID namespace: closing the pipe ends it (SIGPIPE).
        p.stdout.destroy();
        p.kill("SIGKILL");
      } };
  }
  running(): boolean {
    return this.initPid() !== undefined;
  }
}

async function sh(cmd: string): Promise<string> {
  try {
    const { stdout } = await run("sh", ["-c", cmd], { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`${cmd.slice(0, 160)}: ${(err.stderr ?? "").trim().slice(0, 400)}`, { cause: e });
  }
}

function cgPath(ctrl: string, name: string): string {
  return path.join(CG_ROOT, ctrl, name);
}

/** Every pid in a cgroup subtree (v1). */
function cgPids(ctrl: string, name: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      out.push(...fs.readFileSync(path.join(d, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number));
    } catch {
      /* gone */
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  walk(cgPath(ctrl, name));
  return out;
}

/**
 * Every cgroup v1 hierarchy mounted here: the members' Docker daemons (--cgroup-parent) create
 * their cgroups in all of them, not only in the two the lab kills through.
 */
function hierarchies(): string[] {
  try {
    return fs.readdirSync(CG_ROOT, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [...CG_CONTROLLERS];
  }
}

function cgRemove(ctrl: string, name: string): void {
  const rm = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rm(path.join(d, e.name));
    try {
      fs.rmdirSync(d);
    } catch {
      /* busy or gone */
    }
  };
  rm(cgPath(ctrl, name));
}

/** SIGKILL everything in a member's cgroup (frozen first, so nothing forks away meanwhile). */
export async function killCgroup(name: string): Promise<void> {
  const freezer = cgPath("freezer", name);
  if (!fs.existsSync(freezer)) return;
  const freeze = (state: string) => {
    const walk = (d: string) => {
      try {
        fs.writeFileSync(path.join(d, "freezer.state"), state);
      } catch {
        /* gone */
      }
    };
    walk(freezer);
  };
  freeze("FROZEN");
  // Until the cgroup is empty: a process in an uninterruptible wait (a container's unmount) dies
  // only when the wait ends. One left behind (containerd holding its metadata lock) made the
  // member's next Docker daemon time out waiting for its own containerd.
  const deadline = Date.now() + 30000;
  let pids: number[];
  for (;;) {
    pids = [...new Set([...cgPids("freezer", name), ...cgPids("pids", name)])];
    if (pids.length === 0 || Date.now() > deadline) break;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    freeze("THAWED");
    await new Promise((r) => setTimeout(r, 20));
  }
  freeze("THAWED");
  if (pids.length > 0) {
    const what = pids.slice(0, 5).map((p) => {
      try {
        return `${p} ${fs.readFileSync(`/proc/${p}/comm`, "utf8").trim()} (${/State:\s+(.*)/.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? "?"})`;
      } catch {
        return String(p);
      }
    });
    throw new Error(`${name}: ${pids.length} process(es) survive SIGKILL for 30 s: ${what.join(", ")}`);
  }
}

export class Cluster {
  readonly members: Member[];
  readonly prefix: string;
  constructor(readonly spec: ClusterSpec) {
    this.prefix = `${NS_PREFIX}${spec.index}`;
    this.members = spec.members.map((m, i) => new Member(this, m, i));
  }
  get netNs(): string {
    return `${this.prefix}net`;
  }

  /** Namespaces, the bridge and the veths; nothing in the root namespace. */
  async create(): Promise<void> {
    const n = this.netNs;
    await sh(`ip netns add ${n} && ip -n ${n} link set lo up && ip -n ${n} link add br0 type bridge && ip -n ${n} link set br0 up && ip -n ${n} addr add ${this.spec.gateway}/${this.spec.prefixLen} dev br0`);
    for (const a of [...this.spec.apiAddresses, this.spec.registryAddress]) await sh(`ip -n ${n} addr add ${a}/32 dev br0`);
    // Replies to addresses that vanish must not be answered from a cache for long.
    await sh(`ip netns exec ${n} sysctl -qw net.ipv4.neigh.br0.base_reachable_time_ms=2000`);
    for (const m of this.members) {
      await sh(`ip netns add ${m.ns} && ip -n ${m.ns} link set lo up`);
      const nic = this.spec.nic;
      await sh(`ip link add ${m.cgroup} netns ${n} type veth peer name ${nic} netns ${m.ns}`);
      await sh(`ip -n ${n} link set ${m.cgroup} master br0 up && ip -n ${m.ns} addr add ${m.spec.address}/${this.spec.prefixLen} dev ${nic} && ip -n ${m.ns} link set ${nic} up && ip -n ${m.ns} route add default via ${this.spec.gateway}`);
    }
  }

  /**
   * One power action per member at a time: fence_pve's "on" (through the fake API) and the lab's
   * own power-on after a round can come together, and a power-on starts by killing whatever is in
   * the member's cgroup: unserialized, one killed the other's fresh init (a member left with a
   * Docker daemon and no cluster stack).
   */
  private readonly power = new Map<Member, Promise<unknown>>();
  private serial<T>(m: Member, fn: () => Promise<T>): Promise<T> {
    const next = (this.power.get(m) ?? Promise.resolve()).then(fn, fn);
    this.power.set(m, next.catch(() => undefined));
    return next;
  }

  /** Power on: the member's init in fresh namespaces, and its Docker daemon. */
  powerOn(m: Member): Promise<void> {
    return this.serial(m, () => this.powerOnNow(m));
  }

  private async powerOnNow(m: Member): Promise<void> {
    if (m.running()) return;
    await killCgroup(m.cgroup);
    // A booting guest has a fresh /run: the Docker daemon's exec-root (containerd's state and its
    // shims' sockets) and pid file from before the power loss go. Left in place, the new
    // containerd tried the dead shims first and dockerd gave up waiting for it after a fence.
    for (const stale of ["x", "dockerd.pid", "docker.sock"]) fs.rmSync(path.join(m.runDir, stale), { recursive: true, force: true });
    fs.mkdirSync(m.runDir, { recursive: true });
    for (const c of CG_CONTROLLERS) fs.mkdirSync(cgPath(c, m.cgroup), { recursive: true });
    this.spec.prepare(m);
    const join = CG_CONTROLLERS.map((c) => `echo $$ > ${cgPath(c, m.cgroup)}/cgroup.procs`).join(" && ");
    const logFd = fs.openSync(path.join(m.dir, "log", "init.log"), "a");
    // Docker first: the member's agents talk to it from their first start.
    const dockerd = spawn("sh", ["-c", `${join} && exec nsenter --net=/run/netns/${m.ns} unshare --mount --propagation private sh ${path.join(m.dir, "docker-init.sh")}`], { stdio: ["ignore", logFd, logFd], detached: true });
    dockerd.unref();
    const init = spawn("sh", ["-c", `${join} && exec ip netns exec ${m.ns} unshare --mount --uts --ipc --pid --fork --propagation private --mount-proc sh ${path.join(m.dir, "init.sh")}`], { stdio: ["ignore", logFd, logFd], detached: true });
    init.unref();
    fs.closeSync(logFd);
    m.bootedAt = Date.now();
    // The PID-namespace init is unshare's child.
    const deadline = Date.now() + 10000;
    for (;;) {
      const kids = fs.existsSync(`/proc/${init.pid}/task/${init.pid}/children`) ? fs.readFileSync(`/proc/${init.pid}/task/${init.pid}/children`, "utf8").trim() : "";
      if (kids) {
        fs.writeFileSync(path.join(m.runDir, "init.pid"), kids.split(" ")[0] as string);
        break;
      }
      if (Date.now() > deadline) throw new Error(`${m.spec.name}: its init did not start (see ${path.join(m.dir, "log", "init.log")})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Power loss: every process of the member dies at once. */
  powerOff(m: Member): Promise<void> {
    return this.serial(m, () => this.powerOffNow(m));
  }

  private async powerOffNow(m: Member): Promise<void> {
    await killCgroup(m.cgroup);
    fs.rmSync(path.join(m.runDir, "init.pid"), { force: true });
    // A guest that loses power loses its addresses (a VIP it held included): the namespace
    // outlives the member, so its NIC is reset to the member's own address as at boot.
    const nic = this.spec.nic;
    await sh(`ip -n ${m.ns} addr flush dev ${nic} && ip -n ${m.ns} addr add ${m.spec.address}/${this.spec.prefixLen} dev ${nic} && ip -n ${m.ns} route replace default via ${this.spec.gateway}`);
  }

  /** Pull (or plug) the member's cable: its veth's bridge side goes down. */
  async cable(m: Member, up: boolean): Promise<void> {
    await sh(`ip -n ${this.netNs} link set ${m.cgroup} ${up ? "up" : "down"}`);
  }

  async destroy(): Promise<void> {
    for (const m of this.members) await killCgroup(m.cgroup);
    for (const m of this.members) for (const c of hierarchies()) cgRemove(c, m.cgroup);
    for (const m of this.members) await run("ip", ["netns", "del", m.ns]).catch(() => undefined);
    await run("ip", ["netns", "del", this.netNs]).catch(() => undefined);
  }
}

/** Kill and remove whatever a previous run of this lab left: cgroups, namespaces. */
export async function sweepLeftovers(log: (l: string) => void): Promise<void> {
  const groups = new Set<string>();
  for (const c of hierarchies()) {
    try {
      for (const e of fs.readdirSync(path.join(CG_ROOT, c))) if (e.startsWith(NS_PREFIX)) groups.add(e);
    } catch {
      /* no such controller */
    }
  }
  for (const g of groups) {
    await killCgroup(g);
    for (const c of hierarchies()) cgRemove(c, g);
  }
  const { stdout } = await run("ip", ["netns", "list"]);
  const names = stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(NS_PREFIX));
  for (const n of names) {
    // Anything else still running in it (the registry, probes).
    const pids = await run("ip", ["netns", "pids", n]).then((r) => r.stdout.split("\n").filter(Boolean).map(Number), () => [] as number[]);
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await run("ip", ["netns", "del", n]).catch(() => undefined);
  }
  if (groups.size + names.length > 0) log(`swept a previous run's leftovers: ${groups.size} member cgroup(s), ${names.length} namespace(s)`);
}
