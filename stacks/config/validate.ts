// Turns raw `haha:*` config into a typed HahaConfig or a ConfigError listing every problem
// with its key path, value and what was expected. Nothing is declared before this passes.
import { z } from "zod";
import { configSchema, HahaConfig, SECRET_KEYS } from "./schema";
import { ipInSubnet, ipToInt, subnetInfo } from "./net";
import { crossCheckServices } from "./services";
import { clusterCrossCheck } from "./cluster";
import { storageCrossCheck } from "./storage";

export interface ConfigProblem {
  /** Key path as users write it: `haha:nodes[1].guest.address`. */
  path: string;
  value: unknown;
  expected: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`${source}: ${problems.length} config problem(s):\n${problems.map((p) => `  - ${formatProblem(p)}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export function formatProblem(p: ConfigProblem): string {
  const shown = p.value === undefined ? "missing" : JSON.stringify(p.value);
  return `${p.path}: ${shown} — ${p.expected}`;
}

export function keyPath(path: readonly PropertyKey[]): string {
  let out = "haha";
  path.forEach((seg, i) => {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += i === 0 ? `:${String(seg)}` : `.${String(seg)}`;
  });
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function zodProblems(raw: unknown, error: z.ZodError): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: keyPath([...issue.path, key]), value: valueAt(raw, [...issue.path, key]), expected: "unknown key (not part of the config contract; see README's configuration reference)" });
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    let expected = issue.message;
    if (issue.code === "invalid_type" && value === undefined) expected = `required key is missing (${issue.message.replace(/^Invalid input: /, "")})`;
    else expected = expected.replace(/^Invalid input: /, "");
    out.push({ path: keyPath(issue.path), value, expected });
  }
  return out;
}

/** Every top-level key the contract knows, config and secret. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([...Object.keys(configSchema.shape), ...Object.keys(SECRET_KEYS)]);

/**
 * Parse and cross-check raw config (keys without the `haha:` prefix). Throws ConfigError
 * with every problem found; never returns a half-valid config.
 */
export function parseConfig(raw: Record<string, unknown>, source: string): HahaConfig {
  const problems: ConfigProblem[] = [];
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key in SECRET_KEYS) continue;
    plain[key] = value;
  }
  const parsed = configSchema.safeParse(plain);
  if (!parsed.success) {
    problems.push(...zodProblems(plain, parsed.error));
    throw new ConfigError(source, problems);
  }
  problems.push(...crossCheck(parsed.data));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return parsed.data;
}

/** Consistency rules that span keys. Safety rules (node count, bond width) are the policy pack's. */
export function crossCheck(c: HahaConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: readonly PropertyKey[], value: unknown, expected: string) => problems.push({ path: keyPath(path), value, expected });
  const subnet = subnetInfo(c.network.subnet);

  const inSubnet = (path: readonly PropertyKey[], ip: string) => {
    if (!ipInSubnet(ip, c.network.subnet)) add(path, ip, `expected an address inside ${c.network.subnet}`);
    else if (ipToInt(ip) === subnet.network || ipToInt(ip) === subnet.broadcast) add(path, ip, `expected a host address, not the network or broadcast address of ${c.network.subnet}`);
  };
  // Proxmox signs its API certificate with the cluster's own CA: with an IP endpoint no public CA
  // vouches for it, so verifying TLS (insecure: false) needs that CA, or every call fails.
  const endpointHost = new URL(c.proxmox.endpoint).hostname;
  if (!c.proxmox.insecure && !c.proxmox.caCert && /^\d+\.\d+\.\d+\.\d+$/.test(endpointHost)) {
    add(["proxmox", "caCert"], undefined, `expected the cluster CA (the PEM text of /etc/pve/pve-root-ca.pem), because haha:proxmox.endpoint is the IP address ${endpointHost} and insecure is false: the provider and fence_pve cannot verify Proxmox's self-signed certificate without it`);
  }
  inSubnet(["network", "gateway"], c.network.gateway);
  inSubnet(["network", "vip"], c.network.vip);
  if (c.network.secondary?.storage) {
    // The export lives on the storage network: its VIP must be there.
    const sec = subnetInfo(c.network.secondary.subnet);
    const ip = c.network.storageVip;
    if (!ipInSubnet(ip, c.network.secondary.subnet)) add(["network", "storageVip"], ip, `expected an address inside ${c.network.secondary.subnet}, because haha:network.secondary.storage puts the storage there`);
    else if (ipToInt(ip) === sec.network || ipToInt(ip) === sec.broadcast) add(["network", "storageVip"], ip, `expected a host address, not the network or broadcast address of ${c.network.secondary.subnet}`);
  } else inSubnet(["network", "storageVip"], c.network.storageVip);

  // Names share one namespace: Proxmox node names, guest hostnames and Pacemaker node names.
  const names = new Map<string, string>();
  const uniqueName = (path: readonly PropertyKey[], name: string) => {
    const prior = names.get(name);
    if (prior) add(path, name, `expected a unique name; already used by ${prior}`);
    else names.set(name, keyPath(path));
  };
  // Addresses that identify one machine or VIP: any reuse is a collision.
  const addresses = new Map<string, string>();
  const uniqueAddress = (path: readonly PropertyKey[], ip: string, what: string) => {
    const prior = addresses.get(ip);
    if (prior) add(path, ip, `expected a unique address for ${what}; already used by ${prior}`);
    else addresses.set(ip, keyPath(path));
  };
  uniqueAddress(["network", "gateway"], c.network.gateway, "the gateway");
  uniqueAddress(["network", "vip"], c.network.vip, "the services VIP");
  uniqueAddress(["network", "storageVip"], c.network.storageVip, "the storage VIP");
  if (c.network.secondary && c.network.secondary.guestNic === c.network.guestNic) {
    add(["network", "secondary", "guestNic"], c.network.secondary.guestNic, `expected a NIC name other than haha:network.guestNic (${c.network.guestNic}): cloud-init names each NIC`);
  }
  const vmids = new Map<number, string>();
  const uniqueVmid = (path: readonly PropertyKey[], vmid: number) => {
    const prior = vmids.get(vmid);
    if (prior) add(path, vmid, `expected a unique VMID; already used by ${prior}`);
    else vmids.set(vmid, keyPath(path));
  };

  const switchNames = new Set<string>();
  c.switches.forEach((s, i) => {
    if (switchNames.has(s.name)) add(["switches", i, "name"], s.name, "expected a unique switch name");
    switchNames.add(s.name);
  });
  const switchPorts = new Map<string, string>();

  c.nodes.forEach((n, i) => {
    uniqueName(["nodes", i, "name"], n.name);
    uniqueName(["nodes", i, "guest", "name"], n.guest.name);
    inSubnet(["nodes", i, "address"], n.address);
    inSubnet(["nodes", i, "guest", "address"], n.guest.address);
    uniqueAddress(["nodes", i, "address"], n.address, `host ${n.name}`);
    uniqueAddress(["nodes", i, "guest", "address"], n.guest.address, `guest ${n.guest.name}`);
    uniqueVmid(["nodes", i, "guest", "vmid"], n.guest.vmid);
    if (n.bmc) uniqueAddress(["nodes", i, "bmc", "address"], n.bmc.address, `the BMC of ${n.name}`);

    const seen = new Set<string>();
    n.bond.slaves.forEach((s, j) => {
      if (seen.has(s)) add(["nodes", i, "bond", "slaves", j], s, `expected each bond slave once on ${n.name}`);
      seen.add(s);
    });
    if (n.bond.switchPorts.length !== n.bond.slaves.length) {
      add(["nodes", i, "bond", "switchPorts"], n.bond.switchPorts, `expected one <switch>:<port> per bond slave (${n.bond.slaves.length})`);
    }
    n.bond.switchPorts.forEach((sp, j) => {
      const sw = sp.split(":")[0] ?? "";
      if (!switchNames.has(sw)) add(["nodes", i, "bond", "switchPorts", j], sp, `expected a switch declared in haha:switches (${[...switchNames].join(", ")})`);
      const prior = switchPorts.get(sp);
      if (prior) add(["nodes", i, "bond", "switchPorts", j], sp, `expected a switch port used once; already cabled to ${prior}`);
      else switchPorts.set(sp, keyPath(["nodes", i, "bond", "switchPorts", j]));
    });

    if (c.network.secondary) {
      if (!n.guest.secondaryAddress) add(["nodes", i, "guest", "secondaryAddress"], undefined, `expected an address inside ${c.network.secondary.subnet}, because haha:network.secondary is declared`);
      else if (!ipInSubnet(n.guest.secondaryAddress, c.network.secondary.subnet)) add(["nodes", i, "guest", "secondaryAddress"], n.guest.secondaryAddress, `expected an address inside ${c.network.secondary.subnet}`);
      else uniqueAddress(["nodes", i, "guest", "secondaryAddress"], n.guest.secondaryAddress, `guest ${n.guest.name} (second link)`);
    } else if (n.guest.secondaryAddress) {
      add(["nodes", i, "guest", "secondaryAddress"], n.guest.secondaryAddress, "expected no second address unless haha:network.secondary declares the second network");
    }
  });

  const mappings = new Map<string, string>();
  c.nodes.forEach((n, i) => {
    if (!n.drbdDisk) return;
    const prior = mappings.get(n.drbdDisk.pciMapping);
    if (prior) add(["nodes", i, "drbdDisk", "pciMapping"], n.drbdDisk.pciMapping, `expected a PCI mapping per disk; already used by ${prior}`);
    else mappings.set(n.drbdDisk.pciMapping, keyPath(["nodes", i, "drbdDisk", "pciMapping"]));
  });

  const { zigbee, bluetoothProxies } = c.peripherals;
  if (zigbee) uniqueAddress(["peripherals", "zigbee", "host"], zigbee.host, "the Zigbee coordinator");
  bluetoothProxies.forEach((p, i) => {
    uniqueName(["peripherals", "bluetoothProxies", i, "name"], p.name);
    uniqueAddress(["peripherals", "bluetoothProxies", i, "address"], p.address, `Bluetooth proxy ${p.name}`);
  });

  const clients = new Set<string>();
  c.services.mosquitto.clients.forEach((cl, i) => {
    if (clients.has(cl)) add(["services", "mosquitto", "clients", i], cl, "expected each MQTT client once");
    clients.add(cl);
  });

  const co = c.cluster.corosync;
  if (co.consensusMs !== undefined && co.consensusMs <= co.tokenMs) {
    add(["cluster", "corosync", "consensusMs"], co.consensusMs, `expected more than token (${co.tokenMs} ms); corosync refuses a consensus at or below the token`);
  }
  problems.push(...clusterCrossCheck(c));

  const { ocfs2, nfs } = c.storage;
  if (!(nfs.exportPath + "/").startsWith(ocfs2.mountPoint.replace(/\/$/, "") + "/")) {
    add(["storage", "nfs", "exportPath"], nfs.exportPath, `expected a directory on the OCFS2 filesystem mounted at ${ocfs2.mountPoint}`);
  }

  if (c.voice) {
    const g = c.voice.ollama.guest;
    inSubnet(["voice", "ollama", "guest", "address"], g.address);
    uniqueAddress(["voice", "ollama", "guest", "address"], g.address, `guest ${g.name}`);
    uniqueName(["voice", "ollama", "guest", "name"], g.name);
    uniqueVmid(["voice", "ollama", "guest", "vmid"], g.vmid);
    if (!c.nodes.some((n) => n.name === g.node)) add(["voice", "ollama", "guest", "node"], g.node, `expected one of haha:nodes[*].name (${c.nodes.map((n) => n.name).join(", ")})`);
  }
  problems.push(...crossCheckServices(c));
  problems.push(...storageCrossCheck(c));
  return problems;
}

/**
 * Secrets the config makes necessary, checked with the config so a missing one stops the run
 * before any resource (exit 2), not half-way through declaring the cluster.
 */
export function missingSecrets(c: HahaConfig, present: readonly string[]): ConfigProblem[] {
  const withBmc = c.nodes.flatMap((n, i) => (n.bmc ? [`haha:nodes[${i}].bmc`] : []));
  if (withBmc.length === 0 || present.includes("bmcPassword")) return [];
  return [{ path: "haha:bmcPassword", value: undefined, expected: `a secret, because ${withBmc.join(", ")} declare a BMC for fence_ipmilan: \`pulumi config set --secret haha:bmcPassword\`` }];
}
