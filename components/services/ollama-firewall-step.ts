// Ships the voice guest's Ollama firewall (ruleset and boot unit) and loads it, checked by
// `nft -c` on the guest first: a ruleset the kernel would refuse fails the deploy, loudly.
import type * as pulumi from "@pulumi/pulumi";
import type { GuestConnection } from "../host/connection";
import { HostFile } from "../host/file";
import { HostStep } from "../host/step";
import type { HahaConfig } from "../../stacks/config/schema";
import { ollamaFirewall, OLLAMA_FIREWALL_UNIT, OLLAMA_FIREWALL_UNIT_PATH, OLLAMA_NFT_PATH, renderOllamaFirewallUnit, renderOllamaNft } from "./ollama-firewall";

export { ollamaListen } from "./ollama-firewall";

/** `child` is the calling component's own child(): parent and ordering. */
export function ollamaFirewallStep(name: string, conn: GuestConnection, c: HahaConfig, child: (o: pulumi.ComponentResourceOptions) => pulumi.ComponentResourceOptions, after: pulumi.Resource): HostStep {
  const rules = new HostFile(`${name}-ollama-nft`, { connection: conn, path: OLLAMA_NFT_PATH, content: renderOllamaNft(ollamaFirewall(c)), mode: "0600" }, child({ dependsOn: [after] }));
  const unit = new HostFile(`${name}-ollama-firewall-unit`, { connection: conn, path: OLLAMA_FIREWALL_UNIT_PATH, content: renderOllamaFirewallUnit() }, child({ dependsOn: [after] }));
  return new HostStep(
    `${name}-ollama-firewall`,
    {
      connection: conn,
      create: ["set -euo pipefail", `nft -c -f ${OLLAMA_NFT_PATH}`, "systemctl daemon-reload", `systemctl enable ${OLLAMA_FIREWALL_UNIT}.service`, `systemctl restart ${OLLAMA_FIREWALL_UNIT}.service`, `nft list table inet ${ollamaFirewall(c).table} >/dev/null`].join("\n"),
      triggers: [rules.contentHash, unit.contentHash],
    },
    child({ dependsOn: [rules, unit] }),
  );
}
