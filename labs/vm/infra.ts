// What the lab plays besides the VMs, on its own bridge: Proxmox's API for fence_pve (the fake
// API of labs/common/fake-pve.ts on each "host" address, powering the guests through QMP), and a
// container registry (Debian's docker-registry over TLS) holding the images the lab builds from
// Debian's and npm's software, pushed by a Docker daemon of the lab's and pulled by digest by the
// program's own image steps on the guests. One CA signs both; the lab stack declares it as the
// Proxmox CA (haha:proxmox.caCert), so the guests trust the API the way the program makes them.
import * as fs from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "../../plan/types";
import type { HahaConfig } from "../../stacks/config/schema";
import { FakePveApi, makeThrowawayCa, type ThrowawayCa } from "../common/fake-pve";
import { buildImageTar, dockerCli, importAndPush, LabRegistry, RECIPES, type DockerCli } from "../common/images";
import { run, sleep, stopByPidFile } from "../common/proc";
import { BRIDGE_ADDR, NS, type Lab } from "./lab";
import { QmpPower } from "./power";

export const REGISTRY_PORT = 5000;
export const REGISTRY = `${BRIDGE_ADDR}:${REGISTRY_PORT}`;

/** The lab CA and one server certificate for the bridge (registry) and every host API address, kept across runs (a new CA would change the planned stack). */
export async function labCa(dir: string, hostAddresses: string[]): Promise<ThrowawayCa> {
  const ips = [BRIDGE_ADDR, ...hostAddresses];
  const stamp = path.join(dir, "ips");
  const fresh = fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === ips.join(",") && Date.now() - fs.statSync(stamp).mtimeMs < 24 * 3600_000;
  if (fresh) {
    const f = (n: string) => path.join(dir, n);
    return { caCertFile: f("ca.crt"), caCertPem: fs.readFileSync(f("ca.crt"), "utf8"), certFile: f("pve.crt"), keyFile: f("pve.key") };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  // The throwaway CA is valid 2 days: renewed after one, so a run never meets an expiring certificate.
  const ca = await makeThrowawayCa(dir, ips);
  fs.writeFileSync(stamp, ips.join(","));
  return ca;
}

/** The services the stack declares, each with the lab image that keeps its upstream contract (or none: the lab cannot run it). */
export function declaredServices(services: Record<string, unknown>): { service: string; recipe?: string; configKey: string }[] {
  const out: { service: string; recipe?: string; configKey: string }[] = [];
  for (const [k, v] of Object.entries(services)) {
    if (!v || typeof v !== "object") continue;
    out.push({ service: k, recipe: RECIPES[k] ? k : undefined, configKey: `haha:services.${k}` });
    const rec = (v as { recorder?: unknown }).recorder;
    if (k === "homeassistant" && rec) out.push({ service: "recorder", recipe: "recorder", configKey: "haha:services.homeassistant.recorder" });
  }
  return out;
}

/** A Docker daemon of the lab's, in the lab namespace, that imports the built rootfs tarballs and pushes them. */
export class Builder {
  private constructor(readonly cli: DockerCli) {}

  static async start(runDir: string, dataRoot: string): Promise<Builder> {
    const sock = path.join(runDir, "docker.sock");
    const pidFile = path.join(runDir, "dockerd.pid");
    fs.mkdirSync(dataRoot, { recursive: true });
    const log = fs.openSync(path.join(runDir, "dockerd.log"), "a");
    // nsenter, not `ip netns exec`: the latter remounts /sys and dockerd then finds no cgroups.
    // --insecure-registry: the builder only pushes (TLS still used, unverified); the guests verify.
    const { spawn } = await import("node:child_process");
    const child = spawn("nsenter", [`--net=/run/netns/${NS}`, "dockerd", "--data-root", dataRoot, "--exec-root", path.join(runDir, "docker-exec"), "-H", `unix://${sock}`, "--pidfile", pidFile, "--storage-driver=overlay2", "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false", "--insecure-registry", REGISTRY, "--log-level=warn"], { detached: true, stdio: ["ignore", log, log] });
    child.unref();
    fs.closeSync(log);
    const cli = dockerCli(sock);
    for (let i = 0; i < 150; i++) {
      if (await cli.docker(["version", "--format", "{{.Server.Version}}"]).then(() => true, () => false)) return new Builder(cli);
      if (child.exitCode !== null) break;
      await sleep(200);
    }
    throw new Error(`the lab's Docker daemon did not start; see ${path.join(runDir, "dockerd.log")}`);
  }

  async stop(runDir: string): Promise<void> {
    await stopByPidFile(path.join(runDir, "dockerd.pid"), 15_000);
  }
}

/**
 * Build (cached), push and pin the image of every declared service the lab can build; a declared
 * service without one is the lab stack's mistake (it must declare only what the lab can run).
 */
export async function pushImages(runDir: string, cacheDir: string, ca: ThrowawayCa, services: Record<string, unknown>, log: (s: string) => void): Promise<{ pinned: Record<string, string>; registry: LabRegistry }> {
  const declared = declaredServices(services);
  const missing = declared.filter((d) => !d.recipe);
  if (missing.length > 0) throw new Error(`the lab stack declares ${missing.map((m) => m.configKey).join(", ")}: the lab cannot build an image that keeps their contract from Debian's or npm's software; declare only ${Object.keys(RECIPES).join(", ")}`);
  const tars: Record<string, string> = {};
  for (const d of declared) tars[d.service] = await buildImageTar(path.join(cacheDir, "images"), RECIPES[d.recipe as string] as (typeof RECIPES)[string], log);
  const registry = await startRegistry(path.join(cacheDir, "registry"), runDir, ca);
  // What an earlier run pushed from the same tarball and the registry still holds: the same digest
  // (a new import would make a new one, and with it a new plan and a new guest image).
  const known = path.join(cacheDir, "pushed.json");
  const pushed = (fs.existsSync(known) ? JSON.parse(fs.readFileSync(known, "utf8")) : {}) as Record<string, string>;
  let builder: Builder | undefined;
  const pinned: Record<string, string> = {};
  for (const d of declared) {
    const recipe = RECIPES[d.recipe as string] as (typeof RECIPES)[string];
    const tar = tars[d.service] as string;
    const key = `${path.basename(tar)}:${fs.statSync(tar).mtimeMs}`;
    const prior = pushed[key];
    if (prior && (await registryHas(prior, ca))) pinned[d.service] = prior;
    else {
      log(`  registry: docker import and push of ${recipe.repo} for ${d.configKey}`);
      builder ??= await Builder.start(runDir, path.join(cacheDir, "docker"));
      pinned[d.service] = await importAndPush(builder.cli, tar, recipe, REGISTRY);
      pushed[key] = pinned[d.service] as string;
    }
    log(`  registry: ${d.configKey} -> ${pinned[d.service]}`);
  }
  fs.writeFileSync(known, JSON.stringify(pushed, null, 1));
  if (builder) await builder.stop(runDir);
  return { pinned, registry };
}

/** Whether the lab registry holds a manifest with this digest (repo@sha256:...). */
async function registryHas(ref: string, ca: ThrowawayCa): Promise<boolean> {
  const m = /^[^/]+\/(.+)@(sha256:[a-f0-9]{64})$/.exec(ref);
  if (!m) return false;
  const r = await run("ip", ["netns", "exec", NS, "curl", "-fsS", "-o", "/dev/null", "-I", "--cacert", ca.caCertFile, "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", `https://${REGISTRY}/v2/${m[1]}/manifests/${m[2]}`], { timeoutMs: 20_000 });
  return r.code === 0;
}

async function startRegistry(dir: string, runDir: string, ca: ThrowawayCa): Promise<LabRegistry> {
  const tls = { certFile: ca.certFile, keyFile: ca.keyFile, caCertFile: ca.caCertFile };
  const r = await LabRegistry.start({ netns: NS, host: BRIDGE_ADDR, port: REGISTRY_PORT, dir, tls });
  fs.writeFileSync(path.join(runDir, "registry.pid"), String(r.pid ?? ""));
  return r;
}

/** The image every service is declared with, replaced by its lab-built image pinned by its digest. */
export function withLabImages(services: Record<string, Record<string, unknown>>, pinned: Record<string, string>): void {
  for (const [k, v] of Object.entries(services)) {
    if (pinned[k]) v.image = pinned[k];
    const rec = v.recorder as Record<string, unknown> | undefined;
    if (k === "homeassistant" && rec && pinned.recorder) rec.image = pinned.recorder;
  }
}

/** The password the program generated for the fence user, from the file write that ships it. */
export function fencePassword(resources: RecordedResource[]): string {
  const w = resources.find((r) => r.type === "command:remote:Command" && typeof r.inputs.create === "string" && (r.inputs.create as string).includes("/etc/haha/fence/pve.password") && typeof r.inputs.stdin === "string");
  const pw = (w?.inputs.stdin as string | undefined)?.trim();
  if (!pw) throw new Error("the plan writes no /etc/haha/fence/pve.password: the lab cannot give its Proxmox API the fence user's password");
  return pw;
}

/** The fake Proxmox API on every host address, powering the guests through QMP. */
export async function proxmoxApi(lab: Lab, c: HahaConfig, resources: RecordedResource[], ca: ThrowawayCa, log: (s: string) => void): Promise<FakePveApi> {
  const fencing = c.cluster.fencing as { pveUser?: string };
  const api = new FakePveApi({
    user: fencing.pveUser ?? "haha-fence@pve",
    password: fencePassword(resources),
    nodes: c.nodes.map((n) => ({ node: n.name, vms: [{ vmid: n.guest.vmid, name: n.guest.name }] })),
    backend: new QmpPower(lab),
    tls: ca,
    // Power actions and failures only: fence_pve's monitor logs in and lists VMs every minute on
    // each member (every call stays in api.calls).
    log: (l) => {
      if (/ POST \S*\/status\/| -> [45]\d\d$|backend failed/.test(l)) log(`  ${l}`);
    },
  });
  await api.listen(c.nodes.map((n) => ({ netns: NS, host: n.address, port: 8006 })));
  return api;
}

/** Where the guests' Docker looks for a registry's CA (per registry, read at each pull): the lab registry's. */
export async function trustRegistry(lab: Lab, ca: ThrowawayCa): Promise<void> {
  for (const g of lab.guests) {
    // cloud-init restarts sshd while it runs: dial again as the command provider does.
    const r = await lab.ssh(g.address, `set -e; mkdir -p /etc/docker/certs.d/${REGISTRY}; cat > /etc/docker/certs.d/${REGISTRY}/ca.crt`, { stdin: ca.caCertPem, timeoutMs: 60_000, dialAttempts: 30 });
    if (r.code !== 0) throw new Error(`${g.shape.name}: could not place the lab registry's CA: ${r.stderr.trim()}`);
  }
}
