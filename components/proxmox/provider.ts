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
    // No CA option exists here (bpg/terraform-provider-proxmox#1609): with insecure false the
    // provider, a Go binary, trusts haha:proxmox.caCert through SSL_CERT_FILE (README).
    // Uploads of snippets go over SSH to each host. Its own key, never the guests' (haha:sshPrivateKey):
    // a guest compromised with its key is not root on the hosts. Without one, the user's SSH agent.
    ssh: {
      username: c.proxmox.sshUser,
      ...(secrets.proxmoxSshPrivateKey ? { privateKey: pulumi.secret(secrets.proxmoxSshPrivateKey) } : { agent: true }),
      // The hosts' own sshd (haha:ssh.port is the guests').
      nodes: c.nodes.map((n) => ({ name: n.name, address: n.address, port: 22 })),
    },
  });
}
