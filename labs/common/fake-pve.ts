// A small Proxmox VE API that answers exactly the calls fence-agents' fence_pve makes
// (/usr/sbin/fence_pve: POST access/ticket, GET nodes, GET nodes/N/<vmtype>, GET
// .../status/current, POST .../status/start|stop|reset), so the real agent fences lab members.
// It enforces the fence user and the password the program generated, the ticket cookie and the
// CSRF header on POSTs, and serves TLS with a certificate for the API's address from a throwaway
// CA made per run (the members trust that CA, so ssl_secure=1 is really verified).
// Power actions go to a pluggable backend: the namespace lab kills/starts a member's PID
// namespace, the VM lab sends QMP commands.
//
// Interface (shared by labs/ns and labs/vm):
//   const ca = await makeThrowawayCa(dir, ["10.0.0.11", ...]);       // CA + one leaf for all API IPs
//   const api = new FakePveApi({ user, password, nodes, backend, tls: ca });
//   await api.listen([{ netns: "lab-ns-c1-pve", host: "10.0.0.11", port: 8006 }, ...]);
//   const undo = await dropTraffic("lab-ns-c1-pve", "10.0.0.12");    // that API's host is "gone"
//   api.calls                                                         // what fence_pve did, timed
//   await api.close();
import { execFile, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type * as http from "node:http";
import type * as net from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Powers the guests the fake API claims to host. */
export interface PowerBackend {
  status(vmid: number): Promise<"running" | "stopped">;
  on(vmid: number): Promise<void>;
  off(vmid: number): Promise<void>;
}

export interface FakePveNode {
  /** Proxmox node name, e.g. nllei01pve01. */
  node: string;
  vms: { vmid: number; name: string }[];
}

export interface ApiCall {
  /** Date.now() when the request arrived. */
  at: number;
  /** The listener (API address) the call came in on. */
  api: string;
  method: string;
  path: string;
  status: number;
}

export interface FakePveOptions {
  /** The Proxmox user fence_pve logs in as, e.g. haha-fence@pve. */
  user: string;
  /** The password the program generated for that user. */
  password: string;
  nodes: FakePveNode[];
  backend: PowerBackend;
  tls: { certFile: string; keyFile: string };
  /** Progress lines (never the password). */
  log?: (line: string) => void;
}

export interface Listener {
  /** Network namespace to listen in (one the lab created); undefined: this process's own. */
  netns?: string;
  host: string;
  port: number;
}

interface Reply {
  status: number;
  data: unknown;
}

const API = "/api2/json/";

export class FakePveApi {
  readonly calls: ApiCall[] = [];
  private readonly tickets = new Map<string, string>();
  private readonly servers: https.Server[] = [];
  private readonly raw: net.Server[] = [];
  /** Proxmox nodes whose host is "gone": the cluster API answers 595 for their guests, as PVE's proxy does. */
  readonly hostsDown = new Set<string>();

  constructor(private readonly opts: FakePveOptions) {}

  async listen(listeners: Listener[]): Promise<void> {
    const key = fs.readFileSync(this.opts.tls.keyFile);
    const cert = fs.readFileSync(this.opts.tls.certFile);
    for (const l of listeners) {
      const name = `${l.host}:${l.port}`;
      const server = https.createServer({ key, cert }, (req, res) => void this.handle(name, req, res));
      server.on("tlsClientError", () => undefined);
      const sock = await listenInNetns(l.netns, l.host, l.port);
      // The socket was bound inside the namespace; its connections are served here.
      sock.on("connection", (c: net.Socket) => server.emit("connection", c));
      this.servers.push(server);
      this.raw.push(sock);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.raw.map((s) => new Promise<void>((r) => s.close(() => r()))));
    for (const s of this.servers) s.closeAllConnections?.();
  }

  private vm(vmid: number): { node: string; name: string } | undefined {
    for (const n of this.opts.nodes) for (const v of n.vms) if (v.vmid === vmid) return { node: n.node, name: v.name };
    return undefined;
  }

  private async handle(api: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let reply: Reply;
    try {
      reply = await this.route(req, Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      reply = { status: 500, data: null };
      this.opts.log?.(`fake-pve ${api}: ${req.method} ${req.url}: backend failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const p = (req.url ?? "").split("?")[0];
    this.calls.push({ at, api, method: req.method ?? "", path: p, status: reply.status });
    this.opts.log?.(`fake-pve ${api}: ${req.method} ${p} -> ${reply.status}`);
    const body = JSON.stringify({ data: reply.data });
    res.writeHead(reply.status, { "content-type": "application/json;charset=UTF-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** The request's API path, its auth, and the answer PVE would give. Exposed for tests. */
  async route(req: Pick<http.IncomingMessage, "method" | "url" | "headers">, body: string): Promise<Reply> {
    const url = new URL(req.url ?? "/", "https://pve");
    if (!url.pathname.startsWith(API)) return { status: 501, data: null };
    const parts = url.pathname.slice(API.length).split("/").filter(Boolean);
    const method = req.method ?? "GET";

    if (parts.join("/") === "access/ticket") {
      if (method !== "POST") return { status: 501, data: null };
      const form = new URLSearchParams(body);
      if (form.get("username") !== this.opts.user || !timingSafeEqual(form.get("password") ?? "", this.opts.password)) return { status: 401, data: null };
      const ticket = `PVE:${this.opts.user}:${crypto.randomBytes(24).toString("hex")}`;
      const csrf = crypto.randomBytes(16).toString("hex");
      this.tickets.set(ticket, csrf);
      return { status: 200, data: { ticket, CSRFPreventionToken: csrf, username: this.opts.user } };
    }

    // Everything else needs the ticket cookie; writes also the CSRF header (as PVE's API does).
    const cookie = /(?:^|;\s*)PVEAuthCookie=([^;]+)/.exec(String(req.headers.cookie ?? ""))?.[1];
    const csrf = cookie ? this.tickets.get(decodeURIComponent(cookie)) : undefined;
    if (csrf === undefined) return { status: 401, data: null };
    if (method === "POST" && req.headers.csrfpreventiontoken !== csrf) return { status: 401, data: null };

    if (method === "GET" && parts.length === 1 && parts[0] === "nodes") {
      return { status: 200, data: this.opts.nodes.map((n) => ({ node: n.node, status: this.hostsDown.has(n.node) ? "offline" : "online", type: "node" })) };
    }
    const node = parts[0] === "nodes" ? this.opts.nodes.find((n) => n.node === parts[1]) : undefined;
    if (!node) return { status: 404, data: null };
    // Only full VMs: the cluster guests are qemu (an lxc request finds nothing).
    if (parts[2] !== "qemu") return parts.length === 3 ? { status: 200, data: [] } : { status: 404, data: null };
    if (this.hostsDown.has(node.node)) return { status: 595, data: null };
    if (method === "GET" && parts.length === 3) {
      const vms = await Promise.all(node.vms.map(async (v) => ({ vmid: v.vmid, name: v.name, status: await this.opts.backend.status(v.vmid) })));
      return { status: 200, data: vms };
    }
    const vmid = Number(parts[3]);
    const vm = this.vm(vmid);
    if (!vm || vm.node !== node.node || parts[4] !== "status" || parts.length !== 6) return { status: 500, data: null };
    const action = parts[5];
    if (method === "GET" && action === "current") return { status: 200, data: { vmid, name: vm.name, status: await this.opts.backend.status(vmid) } };
    if (method !== "POST") return { status: 501, data: null };
    const upid = `UPID:${node.node}:${crypto.randomBytes(4).toString("hex")}:qm${action}:${vmid}:${this.opts.user}:`;
    if (action === "stop") await this.opts.backend.off(vmid);
    else if (action === "start") await this.opts.backend.on(vmid);
    else if (action === "reset") {
      await this.opts.backend.off(vmid);
      await this.opts.backend.on(vmid);
    } else return { status: 501, data: null };
    return { status: 200, data: upid };
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = crypto.createHash("sha256").update(a).digest();
  const y = crypto.createHash("sha256").update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

/**
 * A listening TCP socket bound inside a network namespace: a child `ip netns exec NS node` binds
 * it and hands it over (SCM_RIGHTS), so this process serves it while the address lives only
 * inside the lab's namespace.
 */
export function listenInNetns(netns: string | undefined, host: string, port: number): Promise<net.Server> {
  const code = `const s=require("net").createServer();s.on("error",(e)=>{console.error(e.message);process.exit(1)});s.listen({host:${JSON.stringify(host)},port:${port}},()=>{process.send("bound",s,()=>{s.close();process.disconnect()})})`;
  const argv = netns ? ["ip", ["netns", "exec", netns, process.execPath, "-e", code]] : [process.execPath, ["-e", code]];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv[1] as string[], { stdio: ["ignore", "ignore", "pipe", "ipc"] });
    let err = "";
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.on("message", (_m, handle) => resolve(handle as net.Server));
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`cannot listen on ${host}:${port}${netns ? ` in netns ${netns}` : ""}: ${err.trim() || `exit ${code}`}`));
    });
  });
}

export interface ThrowawayCa {
  caCertFile: string;
  caCertPem: string;
  certFile: string;
  keyFile: string;
}

/** A CA made for this run only, and one server certificate for the given IP addresses, signed by it. */
export async function makeThrowawayCa(dir: string, ips: string[]): Promise<ThrowawayCa> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  await run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "2", "-subj", "/CN=HAHA lab throwaway Proxmox CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  await run("openssl", ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f("pve.key"), "-out", f("pve.csr"), "-subj", "/CN=pveproxy lab"]);
  fs.writeFileSync(f("pve.ext"), `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  await run("openssl", ["x509", "-req", "-in", f("pve.csr"), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("pve.ext"), "-out", f("pve.crt")]);
  return { caCertFile: f("ca.crt"), caCertPem: fs.readFileSync(f("ca.crt"), "utf8"), certFile: f("pve.crt"), keyFile: f("pve.key") };
}

/**
 * Make an address inside a lab namespace unreachable: every packet to it is dropped (no RST, no
 * ICMP), as when its host lost power, so a client waits for its own timeout. Returns the undo.
 */
export async function dropTraffic(netns: string, ip: string): Promise<() => Promise<void>> {
  const table = `lab_ns_drop_${ip.replace(/\./g, "_")}`;
  await runStdin(["ip", "netns", "exec", netns, "nft", "-f", "-"], `table ip ${table} {\n chain input { type filter hook input priority -300; ip daddr ${ip} drop; }\n chain output { type filter hook output priority -300; ip saddr ${ip} drop; }\n}\n`);
  return async () => {
    await runStdin(["ip", "netns", "exec", netns, "nft", "-f", "-"], `delete table ip ${table}\n`);
  };
}

function runStdin(argv: string[], stdin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(" ")}: ${err.trim() || `exit ${code}`}`))));
    c.stdin.end(stdin);
  });
}
