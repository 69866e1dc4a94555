// A real Mosquitto broker on 127.0.0.1 for the tests, fed the files the services layer renders:
// the shipped mosquitto.conf with only its container paths and listener rewritten for the test
// directory, and the password and ACL files exactly as shipped. It drops to user mosquitto, so
// the directory is handed to that user.
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { renderFile, serviceFiles, type PublicSeeds, type ServiceSecrets } from "../../../components/services";
import type { HahaConfig } from "../../../stacks/config/schema";

/** Known values standing in for what @pulumi/random generates: every one, as for the prod stack (every service declared). */
export function testSecrets(c: HahaConfig): Required<ServiceSecrets> {
  return {
    mqtt: Object.fromEntries(c.services.mosquitto.clients.map((cl, i) => [cl, `Pw${i}x${cl.replace(/-/g, "")}K9q2LmZr7Tt4Vb`])),
    recorderPassword: "RecorderPw8a7b6c5d4e3f2g1h",
    zigbeeKeySeed: "c2VlZC1vZi10aGUtemlnYmVlLW5ldHdvcmsta2V5LTMyYg==",
    z2mFrontendToken: "FrontendToken4x9Yq2Lm7",
    nodeRedCredentialSecret: "CredentialSecretA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6",
    nodeRedAdminHash: "$2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
    esphomeDashboardPassword: "DashboardPw3k8Lq2Zx",
    esphome: Object.fromEntries(c.peripherals.bluetoothProxies.map((p) => [p.name, { apiKey: Buffer.alloc(32, 7).toString("base64"), otaPassword: `Ota${p.name.replace(/-/g, "")}Pw` }])),
  };
}

export const testSeeds: Required<PublicSeeds> = { zigbeePanSeed: "0f1e2d3c4b5a6978" };

/** The rendered text of the file at `p` (an absolute path on the shared mount). */
export function renderedAt(c: HahaConfig, p: string, secrets: ServiceSecrets = testSecrets(c), seeds: PublicSeeds = testSeeds): string {
  const f = serviceFiles(c).find((x) => x.path === p);
  if (!f) throw new Error(`no service file at ${p}`);
  return renderFile(f, secrets, seeds);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function requireTool(bin: string): void {
  const r = spawnSync("sh", ["-c", `command -v ${bin}`]);
  if (r.status !== 0) throw new Error(`${bin} is not installed: the Debian package mosquitto/mosquitto-clients is needed (CI installs it)`);
}

export interface Broker {
  port: number;
  dir: string;
  conf: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

/** A broker in a fresh directory with the shipped mosquitto.conf, passwd and acl. */
export async function brokerFromRenderedFiles(c: HahaConfig, secrets: ServiceSecrets = testSecrets(c)): Promise<Broker> {
  requireTool("mosquitto");
  requireTool("mosquitto_sub");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-mosquitto-"));
  const cfgDir = path.join(dir, "config");
  const dataDir = path.join(dir, "data");
  fs.mkdirSync(cfgDir);
  fs.mkdirSync(dataDir);
  const d = `${c.storage.nfs.mountPoint}/mosquitto`;
  const port = await freePort();
  const shipped = renderedAt(c, `${d}/config/mosquitto.conf`, secrets);
  const listener = `listener ${c.services.mosquitto.port}`;
  if (!shipped.split("\n").includes(listener)) throw new Error(`shipped mosquitto.conf has no "${listener}" line`);
  const conf = shipped
    .split("\n")
    .map((l) => (l === listener ? `listener ${port} 127.0.0.1` : l.replace(/\/mosquitto\/config\//g, `${cfgDir}/`).replace(/\/mosquitto\/data\//g, `${dataDir}/`)))
    .join("\n");
  fs.writeFileSync(path.join(cfgDir, "mosquitto.conf"), conf);
  fs.writeFileSync(path.join(cfgDir, "passwd"), renderedAt(c, `${d}/config/passwd`, secrets), { mode: 0o600 });
  fs.writeFileSync(path.join(cfgDir, "acl"), renderedAt(c, `${d}/config/acl`, secrets), { mode: 0o640 });
  execFileSync("chown", ["-R", "mosquitto:mosquitto", dir]);

  let proc: ChildProcess | undefined;
  let output = "";
  const broker: Broker = {
    port,
    dir,
    conf,
    async start() {
      proc = spawn("mosquitto", ["-c", path.join(cfgDir, "mosquitto.conf")], { stdio: ["ignore", "pipe", "pipe"] });
      proc.stdout!.on("data", (b) => (output += b));
      proc.stderr!.on("data", (b) => (output += b));
      const exited = new Promise<never>((_, reject) => proc!.once("exit", (code) => reject(new Error(`mosquitto exited (${code}):\n${output}`))));
      await Promise.race([waitForPort(port, 5000), exited]);
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once("exit", () => resolve());
        p.kill("SIGTERM");
      });
    },
    log: () => output,
  };
  await broker.start();
  return broker;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 15000): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** mosquitto_pub as one user (or anonymously when user is undefined). */
export function publish(b: Broker, user: string | undefined, password: string | undefined, topic: string, message: string, extra: string[] = []): RunResult {
  const auth = user === undefined ? [] : ["-u", user, "-P", password ?? ""];
  return run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(b.port), ...auth, "-q", "1", "-t", topic, "-m", message, ...extra]);
}
