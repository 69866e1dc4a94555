// The lab's machinery on this machine: its network namespace with the bridge and one tap per
// guest NIC, the apt repository served on the bridge, the qemu guests (one per VmLegacy), SSH to
// them, and removing all of it (also after a failed or interrupted run).
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { RecordedResource } from "../../plan/types";
import { must, run, RunResult, sleep, stopByPidFile } from "../common/proc";
import { accelerator, qemuArgv, VmFiles, vmShape, VmShape } from "./qemu";
import { guestAddress, macsOf, renderSeed, snippetResolver } from "./seed";

export const NS = "lab-vm-net";
export const BRIDGE = "lab-vm-br0";
export const BRIDGE_ADDR = "10.181.0.1";

export interface Guest {
  shape: VmShape;
  address: string;
  files: VmFiles;
  dir: string;
}

export class Lab {
  readonly guests: Guest[] = [];
  constructor(
    readonly runDir: string,
    readonly key: string,
    private readonly log: (s: string) => void,
  ) {}

  /** Kill what a previous run left (its pidfiles), remove its namespace and run folder. */
  static cleanup(runDir: string): string[] {
    const done: string[] = [];
    if (fs.existsSync(runDir)) {
      for (const f of fs.readdirSync(runDir, { recursive: true }) as string[]) {
        if (!f.endsWith(".pid")) continue;
        const pid = Number(fs.readFileSync(path.join(runDir, f), "utf8").trim());
        if (!pid) continue;
        let cmdline: string;
        try {
          cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          continue;
        }
        // Only processes this lab started (qemu of its guests, its repo server), by their own pid.
        if (!cmdline.includes(runDir) && !cmdline.includes("lab-vm")) continue;
        try {
          process.kill(pid, "SIGKILL");
          done.push(`killed ${f.replace(/\.pid$/, "")} (pid ${pid})`);
        } catch {
          /* already gone */
        }
      }
    }
    try {
      execFileSync("ip", ["netns", "pids", NS], { stdio: "pipe" })
        .toString()
        .split("\n")
        .filter(Boolean)
        .forEach((p) => {
          try {
            process.kill(Number(p), "SIGKILL");
            done.push(`killed pid ${p} left in ${NS}`);
          } catch {
            /* gone */
          }
        });
      execFileSync("ip", ["netns", "del", NS], { stdio: "pipe" });
      done.push(`removed namespace ${NS}`);
    } catch {
      /* no namespace */
    }
    try {
      execFileSync("ip", ["netns", "del", "lab-vm-lan"], { stdio: "pipe" });
      done.push("removed namespace lab-vm-lan");
    } catch {
      /* none */
    }
    fs.rmSync(runDir, { recursive: true, force: true });
    return done;
  }

  /** Keep the running guests' description, so a `--resume` run can take them over. */
  saveGuests(): void {
    fs.writeFileSync(path.join(this.runDir, "guests.json"), JSON.stringify(this.guests), { mode: 0o600 });
  }

  /** Take over the guests a `--keep` run left running; false when there are none or one is down. */
  adoptGuests(): boolean {
    const f = path.join(this.runDir, "guests.json");
    if (!fs.existsSync(f)) return false;
    const guests = JSON.parse(fs.readFileSync(f, "utf8")) as Guest[];
    if (guests.length === 0 || !guests.every((g) => this.alive(g))) return false;
    this.guests.push(...guests);
    return true;
  }

  async network(mtu: number): Promise<void> {
    await must("ip", ["netns", "add", NS]);
    await must("ip", ["-n", NS, "link", "set", "lo", "up"]);
    await must("ip", ["-n", NS, "link", "add", BRIDGE, "type", "bridge"]);
    await must("ip", ["-n", NS, "addr", "add", `${BRIDGE_ADDR}/24`, "dev", BRIDGE]);
    await must("ip", ["-n", NS, "link", "set", BRIDGE, "mtu", String(mtu), "up"]);
  }

  /** The bridge's MTU: the largest any guest NIC declares (jumbo frames for storage). */
  async mtu(mtu: number): Promise<void> {
    await must("ip", ["-n", NS, "link", "set", BRIDGE, "mtu", String(mtu)]);
  }

  /** Stop the registry and the builder's Docker daemon a kept run left (a resumed run starts its own). */
  static async stopServices(runDir: string): Promise<void> {
    // dockerd stops its containerd with it on TERM; a KILL would leave that holding the sockets.
    for (const f of ["registry.pid", "dockerd.pid"]) await stopByPidFile(path.join(runDir, f), 10_000);
  }

  async tap(name: string, mtu: number): Promise<void> {
    await must("ip", ["-n", NS, "tuntap", "add", "dev", name, "mode", "tap"]);
    await must("ip", ["-n", NS, "link", "set", name, "mtu", String(mtu), "master", BRIDGE, "up"]);
  }

  /** Serve DIR over HTTP on the bridge address only (the guests' apt mirror). */
  async serve(dir: string, port: number): Promise<void> {
    const py = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    const child = spawn("ip", ["netns", "exec", NS, py, "-m", "http.server", String(port), "--bind", BRIDGE_ADDR, "--directory", dir], { detached: true, stdio: ["ignore", fs.openSync(path.join(this.runDir, "repo-http.log"), "a"), fs.openSync(path.join(this.runDir, "repo-http.log"), "a")] });
    child.unref();
    fs.writeFileSync(path.join(this.runDir, "repo-http.pid"), String(child.pid));
    for (let i = 0; i < 50; i++) {
      const r = await run("ip", ["netns", "exec", NS, py, "-c", `import urllib.request;urllib.request.urlopen("http://${BRIDGE_ADDR}:${port}/Release",timeout=2)`]);
      if (r.code === 0) return;
      await sleep(200);
    }
    throw new Error(`the apt repository did not answer on http://${BRIDGE_ADDR}:${port}/`);
  }

  /** Create a guest's disks and seed from its VmLegacy and boot it under qemu, detached. */
  async boot(vm: RecordedResource, resources: RecordedResource[], base: { disk: string; kernel: string; initrd: string }): Promise<Guest> {
    const vmid = Number(vm.inputs.vmId);
    const dir = path.join(this.runDir, `vm${vmid}`);
    fs.mkdirSync(dir, { recursive: true });
    const nicCount = ((vm.inputs.networkDevices as unknown[] | undefined) ?? []).length;
    const taps = Array.from({ length: nicCount }, (_, k) => `lab-vm-t${vmid}n${k}`);
    const macs = macsOf(vm);
    const shape = vmShape(vm, taps, macs);
    for (const n of shape.nics) await this.tap(n.tap, n.mtu ?? 1500);
    const files: VmFiles = {
      disk: path.join(dir, "disk.qcow2"),
      nvme: shape.hostpcis.map((_, k) => path.join(dir, `nvme${k}.qcow2`)),
      seedIso: path.join(dir, "cloudinit.iso"),
      kernel: base.kernel,
      initrd: base.initrd,
      console: path.join(dir, "console.log"),
      qmp: path.join(dir, "qmp.sock"),
      pidfile: path.join(dir, "qemu.pid"),
    };
    await must("qemu-img", ["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base.disk, files.disk, `${shape.diskGiB}G`]);
    // A passed-through NVMe of the lab's size: DRBD needs a disk, not a real 1 TB one.
    // 1 GiB: the passed-through disk's size is the lab's to choose (the declaration names a PCI
    // device, not a size), and a full DRBD sync under TCG runs at about 3.5 MB/s: run 5 spent
    // 588 s resyncing 2 GiB after a power loss, a home's NVMe does the same at hundreds of MB/s.
    for (const f of files.nvme) await must("qemu-img", ["create", "-q", "-f", "qcow2", f, "1G"]);
    const seed = renderSeed(vm, macs, snippetResolver(resources));
    const seedDir = path.join(dir, "cloudinit");
    fs.mkdirSync(seedDir, { recursive: true });
    for (const [k, v] of Object.entries(seed)) fs.writeFileSync(path.join(seedDir, k), v, { mode: 0o600 });
    // As qemu-server's commit_cloudinit_disk: an ISO 9660 volume labelled cidata.
    await must("genisoimage", ["-quiet", "-iso-level", "3", "-J", "-R", "-V", "cidata", "-o", files.seedIso, seedDir]);
    const accel = accelerator(fs.existsSync);
    const argv = qemuArgv(shape, files, accel);
    fs.writeFileSync(path.join(dir, "qemu.argv"), JSON.stringify(argv));
    await must("ip", ["netns", "exec", NS, "qemu-system-x86_64", ...argv, "-daemonize"], { timeoutMs: 60_000 });
    const guest = { shape, address: guestAddress(vm, seed), files, dir };
    this.guests.push(guest);
    return guest;
  }

  /**
   * OpenSSH client arguments. With a pinned host key (the command provider's connection.hostKey)
   * the guest must present exactly that key; without one, the first key seen is accepted.
   */
  sshArgs(host: string, port = 22, user = "root", connectTimeoutS = 10, hostKey?: string): string[] {
    let known = path.join(this.runDir, "known_hosts");
    let strict = "accept-new";
    if (hostKey) {
      known = path.join(this.runDir, `known_hosts.pinned.${host}`);
      fs.writeFileSync(known, `${port === 22 ? host : `[${host}]:${port}`} ${hostKey.trim()}\n`, { mode: 0o600 });
      strict = "yes";
    }
    return ["netns", "exec", NS, "ssh", "-i", this.key, "-p", String(port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", `ConnectTimeout=${connectTimeoutS}`, "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=20", `-o`, `StrictHostKeyChecking=${strict}`, "-o", `UserKnownHostsFile=${known}`, "-o", "LogLevel=ERROR", ...this.multiplex(hostKey ? "pinned" : "plain"), `${user}@${host}`];
  }

  /**
   * One SSH connection per guest reused by the commands that follow (the command provider dials
   * anew for each; under TCG each key exchange costs seconds, and what runs on the guest is the
   * same). A pinned connection never reuses one made without the pin.
   */
  private multiplex(kind: string): string[] {
    return ["-o", "ControlMaster=auto", "-o", `ControlPath=${path.join(this.runDir, `cm-${kind}-%C`)}`, "-o", "ControlPersist=60"];
  }

  /** One command on a guest over real SSH (the remote user's shell runs it, as the command provider's session does). */
  async ssh(host: string, script: string, opts: { stdin?: string; port?: number; user?: string; timeoutMs?: number; connectTimeoutS?: number; hostKey?: string; dialAttempts?: number; sshOpts?: string[] } = {}): Promise<RunResult> {
    // The docker CLI runs `ssh <the provider's sshOpts> -l user -p port host`: its own host key options, the lab's key.
    const argv = opts.sshOpts
      ? ["netns", "exec", NS, "ssh", "-i", this.key, "-o", "IdentitiesOnly=yes", ...opts.sshOpts.map((o) => o.replace(/^(UserKnownHostsFile=)~\//, `$1${os.homedir()}/`)), ...this.multiplex("docker"), "-l", opts.user ?? "root", "-p", String(opts.port ?? 22), host]
      : this.sshArgs(host, opts.port, opts.user, opts.connectTimeoutS, opts.hostKey);
    // As the command provider: a failed dial is retried (dialErrorLimit), a failed command is not.
    for (let attempt = 1; ; attempt++) {
      const r = await run("ip", [...argv, script], { input: opts.stdin, timeoutMs: opts.timeoutMs ?? 15 * 60_000 });
      const dialFailed = r.code === 255 && r.stdout === "" && /Connection (refused|timed out|closed by)|No route to host|kex_exchange_identification|Connection reset/.test(r.stderr);
      if (!dialFailed || attempt >= (opts.dialAttempts ?? 1)) return r;
      await sleep(2000);
    }
  }

  async waitSsh(g: Guest, timeoutMs: number): Promise<boolean> {
    const start = Date.now();
    let last = 0;
    while (Date.now() - start < timeoutMs) {
      const r = await this.ssh(g.address, "true", { timeoutMs: 20_000, connectTimeoutS: 5 });
      if (r.code === 0) return true;
      if (!this.alive(g)) return false;
      if (Date.now() - last > 30_000) {
        last = Date.now();
        this.log(`  ${g.shape.name}: waiting for ssh (${Math.round((Date.now() - start) / 1000)} s; console: ${this.consoleTail(g, 1).trim().slice(0, 120)})`);
      }
      await sleep(3000);
    }
    return false;
  }

  consoleTail(g: Guest, lines: number): string {
    try {
      const t = fs.readFileSync(g.files.console, "utf8").replace(/\r/g, "").replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g"), "");
      return t.trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  alive(g: Guest): boolean {
    try {
      const pid = Number(fs.readFileSync(g.files.pidfile, "utf8").trim());
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A command to the guest's qemu-guest-agent over the virtio-serial port qemu-server gives a VM
   * with agent enabled (the socket `${qmp}-qga`, qemuArgv): what Proxmox, and so the provider's
   * agent wait, asks the guest. guest-sync first, as the protocol asks, to skip stale replies.
   */
  qga(g: Guest, command: string, timeoutMs = 20_000): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(`${g.files.qmp}-qga`);
      const id = Math.floor(Math.random() * 1e9);
      let synced = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`qemu-guest-agent of ${g.shape.name}: no answer to ${command} in ${timeoutMs / 1000} s (not installed, or not running)`));
      }, timeoutMs);
      sock.on("connect", () => sock.write(JSON.stringify({ execute: "guest-sync", arguments: { id } }) + "\n"));
      onJsonLines(sock, (msg) => {
        if (!synced) {
          if (msg.return === id) {
            synced = true;
            sock.write(JSON.stringify({ execute: command }) + "\n");
          }
        } else if ("return" in msg || "error" in msg) {
          clearTimeout(timer);
          sock.end();
          if (msg.error) reject(new Error(`qemu-guest-agent ${command}: ${JSON.stringify(msg.error)}`));
          else resolve(msg.return);
        }
      });
      sock.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** A QMP command on a guest's monitor socket (quit = power loss, set_link = cable). */
  qmp(g: Guest, command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(g.files.qmp);
      let stage = 0;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`qmp ${command} on ${g.shape.name}: no answer`));
      }, 10_000);
      onJsonLines(sock, (msg) => {
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
        } else if (stage === 1 && "return" in msg) {
          stage = 2;
          sock.write(JSON.stringify({ execute: command, arguments: args }) + "\n");
        } else if (stage === 2 && ("return" in msg || "error" in msg)) {
          clearTimeout(timer);
          sock.end();
          if (msg.error) reject(new Error(`qmp ${command}: ${JSON.stringify(msg.error)}`));
          else resolve(msg.return);
        }
      });
      sock.on("close", () => {
        clearTimeout(timer);
        if (stage === 2 && command === "quit") resolve(undefined);
      });
      sock.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }
}

/** QMP and the guest agent both speak newline-delimited JSON: each message, in order (a line that is not JSON is skipped). */
function onJsonLines(sock: net.Socket, each: (msg: Record<string, unknown>) => void): void {
  let buf = "";
  sock.on("data", (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      each(msg);
    }
  });
}
