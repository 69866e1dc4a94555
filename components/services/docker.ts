// One docker provider per guest, over SSH, verifying the guest's pinned host key.
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { GuestConnection } from "../host/connection";

/** Where the known_hosts file of one guest lives on the machine running Pulumi (under $HOME). */
export const knownHostsFile = (stack: string, host: string) => `.haha/known_hosts/${stack}/${host}`;

/**
 * SSH options of the docker providers. The provider runs the system `ssh`, which takes its key
 * from the ssh-agent of whoever runs `pulumi up` (see docs/services.md): no key file is written
 * anywhere and the provider's own config holds no key. BatchMode: never wait on a prompt. The
 * host key is checked strictly against this guest's own known_hosts file (only its pinned key,
 * no system-wide file), so a guest answering with another key fails the deploy.
 */
export function dockerSshOpts(file: string): string[] {
  return [
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "ServerAliveInterval=15",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=~/${file}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "HostKeyAlgorithms=ssh-ed25519",
  ];
}

/** known_hosts lines (OpenSSH format): `[address]:port` unless the port is 22. */
export function renderKnownHosts(entries: { address: string; port: number; key: string }[]): string {
  return entries
    .map((e) => {
      const key = e.key.trim().split(/\s+/).slice(0, 2);
      if (key.length !== 2 || !/^ssh-ed25519$/.test(key[0]!) || !/^[A-Za-z0-9+/=]+$/.test(key[1]!)) throw new Error(`known_hosts: the key of ${e.address} is not an OpenSSH ed25519 public key`);
      return `${e.port === 22 ? e.address : `[${e.address}]:${e.port}`} ${key.join(" ")}\n`;
    })
    .join("");
}

const HOME_OF_USER = `home=$(getent passwd "$(id -un)" | cut -d: -f6)`;

/** No daemon check at configure time, so a preview works before the guests exist. */
export function dockerProvider(name: string, conn: GuestConnection, opts: pulumi.CustomResourceOptions): docker.Provider {
  const file = knownHostsFile(pulumi.getStack(), conn.host);
  // The known_hosts file the provider's ssh reads, rendered from the guest's pinned key and
  // rewritten whenever that key changes.
  const knownHosts = new command.local.Command(
    `${name}-known-hosts`,
    {
      // ssh expands ~ to the passwd entry's home, not $HOME: resolve it the same way.
      create: ["set -eu", HOME_OF_USER, `mkdir -p "$home/$(dirname '${file}')"`, `cat > "$home/${file}"`].join("\n"),
      stdin: pulumi.output(conn.hostKey).apply((key) => renderKnownHosts([{ address: conn.address, port: conn.port, key }])),
      delete: [HOME_OF_USER, `rm -f "$home/${file}"`].join("\n"),
      addPreviousOutputInEnv: false,
    },
    opts,
  );
  const dependsOn = [...((opts.dependsOn as pulumi.Input<pulumi.Resource>[] | undefined) ?? []), knownHosts];
  return new docker.Provider(name, { host: `ssh://${conn.user}@${conn.address}:${conn.port}`, sshOpts: dockerSshOpts(file), disableDockerDaemonCheck: true }, { ...opts, dependsOn });
}
