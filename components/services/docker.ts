// One docker provider per guest, over SSH.
import * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";
import type { GuestConnection } from "../host/connection";

/**
 * SSH options of the docker providers. The provider runs the system `ssh`, which takes its key
 * from the ssh-agent of whoever runs `pulumi up` (see docs/services.md): no key file is written
 * anywhere and the provider's own config holds no key. BatchMode: never wait on a prompt.
 */
export const DOCKER_SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "StrictHostKeyChecking=accept-new"];

/** No daemon check at configure time, so a preview works before the guests exist. */
export function dockerProvider(name: string, conn: GuestConnection, opts: pulumi.CustomResourceOptions): docker.Provider {
  return new docker.Provider(name, { host: `ssh://${conn.user}@${conn.address}:${conn.port}`, sshOpts: DOCKER_SSH_OPTS, disableDockerDaemonCheck: true }, opts);
}
