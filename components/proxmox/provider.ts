// The Proxmox provider, built explicitly from config: the default provider does not pick up
// credentials reliably, and an explicit one makes every resource's target visible in preview.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import type { Secrets } from "../../stacks/config/load";
import type { HahaConfig } from "../../stacks/config/schema";

export function proxmoxProvider(name: string, c: HahaConfig, secrets: Secrets): proxmox.Provider {
  if (!secrets.proxmoxApiToken) throw new Error("haha:proxmoxApiToken is required");
  const token = secrets.proxmoxApiToken;
  return new proxmox.Provider(name, {
    endpoint: c.proxmox.endpoint,
    insecure: c.proxmox.insecure,
    // The provider expects `<user>@<realm>!<token id>=<secret>`.
    apiToken: pulumi.secret(pulumi.interpolate`${c.proxmox.tokenId}=${token}`),
    // Uploads of snippets and images go over SSH to each host, as the configured user.
    ssh: {
      username: c.ssh.user,
      privateKey: secrets.sshPrivateKey ? pulumi.secret(secrets.sshPrivateKey) : undefined,
      nodes: c.nodes.map((n) => ({ name: n.name, address: n.address, port: c.ssh.port })),
    },
  });
}
