// How the host layer reaches a guest: over SSH as the configured user, key from a secret.
import * as pulumi from "@pulumi/pulumi";
import type * as command from "@pulumi/command";

export interface GuestConnection {
  /** The guest's hostname (Pacemaker node name); the plan mirrors files under hosts/<host>/. */
  host: string;
  address: string;
  user: string;
  port: number;
  privateKey: pulumi.Input<string>;
  /**
   * The guest's SSH host public key (`ssh-ed25519 AAAA...`), generated with the guest and pinned
   * through cloud-init: a guest answering with another key fails the step ("host key mismatch").
   */
  hostKey: pulumi.Input<string>;
}

/** The SSH connection block @pulumi/command expects; the private key is always secret. */
export function sshConnection(c: GuestConnection): command.types.input.remote.ConnectionArgs {
  return {
    host: c.address,
    user: c.user,
    port: c.port,
    privateKey: pulumi.secret(c.privateKey),
    hostKey: c.hostKey,
    // A guest that is still booting after create answers a few seconds later.
    dialErrorLimit: 30,
    perDialTimeout: 10,
  };
}

/** POSIX single-quote a string for a shell command line. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'"'"'`)}'`;
}
