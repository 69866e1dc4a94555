// The voice guest's firewall for Ollama: its API has no authentication, so only the cluster
// members (where Home Assistant runs), the services VIP and the guest itself may reach its port.
// A typed model rendered as one nftables table of its own (the rest of the guest's rules, and
// Docker's, are left alone), loaded at boot by a oneshot unit before Docker starts Ollama.
import type { HahaConfig } from "../../stacks/config/schema";
import { clusterMembers } from "../../stacks/config/members";
import { renderKeyfile } from "../storage/keyfile";

export interface OllamaFirewall {
  table: string;
  port: number;
  /** IPv4 sources allowed to the port, each with who it is. */
  allowed: { address: string; who: string }[];
}

export const OLLAMA_NFT_PATH = "/etc/haha/ollama.nft";
export const OLLAMA_FIREWALL_UNIT = "haha-ollama-firewall";
export const OLLAMA_FIREWALL_UNIT_PATH = `/etc/systemd/system/${OLLAMA_FIREWALL_UNIT}.service`;

/** The address Ollama listens on: the voice guest's own, where the services reach it (OLLAMA_HOST). */
export function ollamaListen(c: HahaConfig): string {
  const v = c.voice;
  if (!v) throw new Error("haha:voice is not configured");
  return `${v.ollama.guest.address}:${v.ollama.port}`;
}

export function ollamaFirewall(c: HahaConfig): OllamaFirewall {
  const v = c.voice;
  if (!v) throw new Error("haha:voice is not configured");
  const members = clusterMembers(c);
  return {
    table: "haha_ollama",
    port: v.ollama.port,
    allowed: [
      ...members.map((m) => ({ address: m.address, who: `cluster member ${m.name} (Home Assistant's Ollama integration)` })),
      { address: c.network.vip, who: "the services VIP (a connection may leave from it)" },
      { address: v.ollama.guest.address, who: `the voice guest itself (docker exec ollama ollama pull talks to OLLAMA_HOST)` },
    ],
  };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/**
 * nft -f input: the table is declared, deleted and declared again in one transaction, so a
 * reload replaces it atomically and never leaves the port open in between.
 */
export function renderOllamaNft(f: OllamaFirewall): string {
  if (!/^[a-z][a-z0-9_]*$/.test(f.table)) throw new Error(`nftables: table name "${f.table}" must be letters, digits and _`);
  if (!Number.isInteger(f.port) || f.port < 1 || f.port > 65535) throw new Error(`nftables: port ${f.port} is not a TCP port`);
  if (f.allowed.length === 0) throw new Error("nftables: no allowed client: nothing could reach Ollama");
  for (const a of f.allowed) {
    if (!IPV4.test(a.address)) throw new Error(`nftables: "${a.address}" (${a.who}) is not an IPv4 address`);
    if (/[\n"]/.test(a.who)) throw new Error(`nftables: comment for ${a.address} must be one line without quotes`);
  }
  const unique = [...new Map(f.allowed.map((a) => [a.address, a])).values()];
  return [
    "#!/usr/sbin/nft -f",
    "# Rendered by HAHA from haha:voice and the cluster members; loaded by haha-ollama-firewall.service.",
    "# Ollama's API has no authentication: only these clients reach its port, everything else is dropped.",
    `table inet ${f.table}`,
    `delete table inet ${f.table}`,
    `table inet ${f.table} {`,
    "\tset ollama_clients {",
    "\t\ttype ipv4_addr",
    `\t\telements = { ${unique.map((a) => a.address).join(", ")} }`,
    "\t}",
    "",
    "\tchain input {",
    "\t\ttype filter hook input priority filter; policy accept;",
    ...unique.map((a) => `\t\t# ${a.address}: ${a.who}`),
    `\t\ttcp dport ${f.port} ip saddr @ollama_clients accept`,
    // IPv6 and every other IPv4 source: refused with a reset, so a client fails at once.
    `\t\ttcp dport ${f.port} reject with tcp reset`,
    "\t}",
    "}",
    "",
  ].join("\n");
}

/** The oneshot unit loading the ruleset at boot, before Docker starts Ollama. */
export function renderOllamaFirewallUnit(): string {
  return renderKeyfile(
    [
      {
        name: "Unit",
        entries: [
          { key: "Description", value: "HAHA: only the cluster reaches Ollama (nftables)" },
          { key: "Before", value: "docker.service", reason: "the port is closed to others before Ollama listens" },
          { key: "Wants", value: "network-pre.target" },
        ],
      },
      {
        name: "Service",
        entries: [
          { key: "Type", value: "oneshot" },
          { key: "RemainAfterExit", value: true },
          { key: "ExecStart", value: `/usr/sbin/nft -f ${OLLAMA_NFT_PATH}` },
        ],
      },
      { name: "Install", entries: [{ key: "WantedBy", value: "multi-user.target" }] },
    ],
    ["Rendered by HAHA; the ruleset is /etc/haha/ollama.nft."],
  );
}
