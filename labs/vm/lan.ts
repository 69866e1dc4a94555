// A fourth machine on the home's LAN (issue 14): neither a member nor a Proxmox host, as a
// compromised ESP32 or any other guest on that subnet would be. From it the lab tries the doors
// the security review found open: mounting the export (userspace NFS, libnfs: this machine's
// kernel has no NFS client) and talking to the broker without credentials. Each must be refused.
import type { HahaConfig } from "../../stacks/config/schema";
import * as fs from "node:fs";
import * as path from "node:path";
import { excerpt, must, run, sleep, type RunResult } from "../common/proc";
import type { CheckResult } from "./checks";
import { BRIDGE, NS } from "./lab";

export const LAN_NS = "lab-vm-lan";

/** Not a member, not a host, not a VIP: the first free address from .60 in the lab subnet. */
export function strangerAddress(c: HahaConfig): string {
  const used = new Set([c.network.gateway, c.network.vip, c.network.storageVip, ...c.nodes.flatMap((n) => [n.address, n.guest.address])]);
  const base = c.network.subnet.split("/")[0]?.split(".").slice(0, 3).join(".");
  for (let i = 60; i < 250; i++) if (!used.has(`${base}.${i}`)) return `${base}.${i}`;
  throw new Error("no free address in the lab subnet for the fourth machine");
}

export async function addStranger(c: HahaConfig): Promise<string> {
  const addr = strangerAddress(c);
  const prefix = c.network.subnet.split("/")[1];
  await run("ip", ["netns", "del", LAN_NS]);
  await must("ip", ["netns", "add", LAN_NS]);
  await must("ip", ["-n", LAN_NS, "link", "set", "lo", "up"]);
  await must("ip", ["-n", NS, "link", "add", "lab-vm-lan0", "type", "veth", "peer", "name", "eth0", "netns", LAN_NS]);
  await must("ip", ["-n", NS, "link", "set", "lab-vm-lan0", "master", BRIDGE, "up"]);
  await must("ip", ["-n", LAN_NS, "addr", "add", `${addr}/${prefix}`, "dev", "eth0"]);
  await must("ip", ["-n", LAN_NS, "link", "set", "eth0", "up"]);
  return addr;
}

export async function removeStranger(): Promise<void> {
  await run("ip", ["netns", "del", LAN_NS]);
}

/** A client of the home's services: an MQTT user the broker knows and its password. */
export interface LanClient {
  mqttUser: string;
  mqttPassword: string;
  /** Where the lab may write the clients' options file (0600): the password stays off argv. */
  dir: string;
}

/**
 * The services as a client on the LAN reaches them, on the services VIP: an authenticated MQTT
 * publish and subscribe round trip on the user's own topics, and Node-RED's HTTP 200.
 */
/** An MQTT publish and subscribe round trip on the services VIP as `client`, on `topic`: ok when the message came back. */
export async function mqttRoundTrip(c: HahaConfig, addr: string, client: LanClient, topic: string, inNs: InNs = inLan): Promise<{ ok: boolean; evidence: string }> {
  const port = String(c.services.mosquitto.port);
  // mosquitto_pub and _sub read their options from $XDG_CONFIG_HOME/<tool>.
  const cfg = fs.mkdtempSync(path.join(client.dir, "mqtt-"));
  try {
    for (const tool of ["mosquitto_pub", "mosquitto_sub"]) fs.writeFileSync(path.join(cfg, tool), `-u ${client.mqttUser}\n-P ${client.mqttPassword}\n`, { mode: 0o600 });
    const payload = `lab-${process.pid}-${Date.now()}`;
    const env = { XDG_CONFIG_HOME: cfg };
    // The subscriber is up before the publish: -W bounds the wait, -C 1 ends on the first message.
    const sub = inNs(["mosquitto_sub", "-h", c.network.vip, "-p", port, "-t", topic, "-C", "1", "-W", "20", "-q", "1"], env);
    await sleep(1500);
    const pub = await inNs(["mosquitto_pub", "-h", c.network.vip, "-p", port, "-t", topic, "-m", payload, "-q", "1"], env);
    const got = await sub;
    return {
      ok: pub.code === 0 && got.code === 0 && got.stdout.trim() === payload,
      evidence: `${addr}$ mosquitto_sub -u ${client.mqttUser} -t ${topic} -C 1 & mosquitto_pub -t ${topic} -m ${payload}\npub: exit ${pub.code} ${excerpt(pub.stderr, 3)}\nsub: exit ${got.code}, received ${JSON.stringify(got.stdout.trim())} ${excerpt(got.stderr, 3)}`,
    };
  } finally {
    fs.rmSync(cfg, { recursive: true, force: true });
  }
}

type InNs = (argv: string[], env?: Record<string, string>) => Promise<RunResult>;
/** A command on the fourth machine (the LAN namespace), with an environment of its own. */
export const inLan: InNs = (argv, env) => run("ip", ["netns", "exec", LAN_NS, ...(env ? ["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`)] : []), ...argv], { timeoutMs: 60_000 });

async function serviceChecks(c: HahaConfig, addr: string, client: LanClient, inNs: InNs): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const port = String(c.services.mosquitto.port);
  const rt = await mqttRoundTrip(c, addr, client, `${client.mqttUser}/lab/round-trip`, inNs);
  out.push({ name: `Mosquitto on ${c.network.vip}:${port}: an authenticated publish and subscribe round trip (user ${client.mqttUser})`, ...rt });
  if (c.services.nodered) {
    const url = `http://${c.network.vip}:${c.services.nodered.port}/`;
    const r = await inNs(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", url]);
    out.push({ name: `Node-RED answers HTTP 200 on ${url}`, ok: r.code === 0 && r.stdout.trim() === "200", evidence: `${addr}$ curl ${url}\nHTTP ${r.stdout.trim() || "-"} (exit ${r.code}) ${excerpt(r.stderr, 3)}` });
  }
  return out;
}

/** The probes; each passes only when the door is shut, and a probe that cannot reach the target at all says so (a shut door must be a refusal, not silence). */
export async function strangerChecks(c: HahaConfig, client: LanClient): Promise<CheckResult[]> {
  const addr = await addStranger(c);
  const out: CheckResult[] = [];
  try {
    const inNs = inLan;
    out.push(...(await serviceChecks(c, addr, client, inNs)));
    // The storage VIP must answer (the machine is on the LAN), then refuse the mount.
    const ping = await inNs(["ping", "-c", "2", "-W", "3", c.network.storageVip]);
    const url = `nfs://${c.network.storageVip}${c.storage.nfs.exportPath}/`;
    const ls = await inNs(["nfs-ls", url]);
    const refused = ls.code !== 0 && /denied|permission|EACCES|mount failed|MNT3ERR_ACCES|NFS4ERR/i.test(ls.stdout + ls.stderr);
    out.push({
      name: `a fourth machine on the LAN (${addr}) cannot mount the export ${c.network.storageVip}:${c.storage.nfs.exportPath}`,
      ok: ping.code === 0 && refused,
      evidence: `${addr}$ ping -c 2 ${c.network.storageVip}\n${excerpt(ping.stdout, 3)}\n${addr}$ nfs-ls ${url}\n${excerpt(ls.stdout + ls.stderr, 6)}\n(exit ${ls.code})`,
    });
    // The broker on the services VIP: a client without credentials must be refused.
    const pub = await inNs(["mosquitto_pub", "-h", c.network.vip, "-p", String(c.services.mosquitto.port), "-t", "haha/lab/stranger", "-m", "x", "-q", "1"]);
    out.push({
      name: `a fourth machine on the LAN cannot publish to the broker on ${c.network.vip} without credentials`,
      // The broker's own refusal (CONNACK "not authorised"), not a TCP "Connection refused": a
      // broker that is down shuts no door (seen: a first version passed on a stopped broker).
      ok: pub.code !== 0 && /not authori[sz]ed/i.test(pub.stdout + pub.stderr),
      evidence: `${addr}$ mosquitto_pub -h ${c.network.vip} -t haha/lab/stranger -m x\n${excerpt(pub.stdout + pub.stderr, 4)}\n(exit ${pub.code})`,
    });
    // Every address of the cluster, every port that matters: what answers is evidence, a port
    // that must stay shut and answers fails the check.
    const plan = portScanPlan(c);
    const scan = await run("ip", ["netns", "exec", LAN_NS, "bash", "-c", portScanScript(plan)], { timeoutMs: 10 * 60_000 });
    const found = portScanResult(plan, scan.stdout);
    out.push({
      name: `a fourth machine on the LAN reaches none of ${Object.keys(plan.shut).map((x) => `${x} (${plan.shut[Number(x)]!.split(":")[0]})`).join(", ")} on any member or VIP`,
      ok: scan.code === 0 && found.breaches.length === 0,
      evidence: `${addr}$ TCP connect to ports ${Object.keys(plan.ports).join(", ")} of ${plan.targets.join(", ")}
open: ${found.open.map((o) => `${o} (${plan.ports[Number(o.split(":")[1])]})`).join(", ") || "none"}${found.breaches.length ? `
must be shut: ${found.breaches.join("; ")}` : ""}`,
    });
  } finally {
    await removeStranger();
  }
  return out;
}

/** What the fourth machine knocks on: every address of the cluster, each TCP port HAHA or its packages may open, and the ones that must stay shut. */
export interface PortScan {
  targets: string[];
  ports: Record<number, string>;
  /** Ports no LAN device may reach on any address, with the reason. */
  shut: Record<number, string>;
}

export function portScanPlan(c: HahaConfig): PortScan {
  const s = c.services;
  const ports: Record<number, string> = { 22: "sshd (the deployment's own SSH)", 111: "rpcbind", 2049: "nfsd", [c.storage.drbd.port]: "DRBD replication" };
  const shut: Record<number, string> = {
    2224: "pcsd: nothing uses it, and its API configures the cluster (issue 14 item 11)",
    3121: "pacemaker-remote: no remote nodes; it would take cluster commands",
    2375: "the Docker API without TLS: root on the member",
    2376: "the Docker API: root on the member",
  };
  ports[s.mosquitto.port] = "Mosquitto";
  if (s.nodered) ports[s.nodered.port] = "Node-RED";
  if (s.homeassistant) ports[s.homeassistant.port] = "Home Assistant";
  if (s.zigbee2mqtt) ports[s.zigbee2mqtt.frontendPort] = "Zigbee2MQTT frontend";
  if (s.esphome) ports[s.esphome.port] = "ESPHome dashboard (password)";
  if (c.voice) shut[11434] = "Ollama: only the members may reach it (issue 14 item 4)";
  const targets = [...new Set([...c.nodes.map((n) => n.guest.address), c.network.vip, c.network.storageVip])];
  return { targets, ports: { ...ports, ...shut }, shut };
}

/** A bash script that prints `<address>:<port>` for each port that accepts a TCP connection (2 s each). */
export function portScanScript(p: PortScan): string {
  const ports = Object.keys(p.ports).map(Number).sort((a, b) => a - b);
  return [
    `for a in ${p.targets.join(" ")}; do`,
    `  for p in ${ports.join(" ")}; do`,
    `    timeout 2 bash -c "exec 3<>/dev/tcp/$a/$p" 2>/dev/null && echo "$a:$p"`,
    "  done",
    "done",
    "exit 0",
  ].join("\n");
}

/** The scan's findings: what is open where, and each shut port found open (the check fails on any). */
export function portScanResult(p: PortScan, out: string): { open: string[]; breaches: string[] } {
  const open = out.split("\n").map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(l));
  const breaches = open.filter((o) => p.shut[Number(o.split(":")[1])] !== undefined).map((o) => `${o}: ${p.shut[Number(o.split(":")[1])]}`);
  return { open, breaches };
}
