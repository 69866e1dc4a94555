// The Proxmox cluster CA in every cluster guest's system trust store. fence_pve runs with
// ssl_secure=1 and verifies the API's certificate against the system store; without the CA there,
// fence level 1 fails on every call and each fence falls to the watchdog. Shipped, and the store
// rebuilt, before the CIB that starts fencing is pushed.
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection } from "./connection";
import { HostFile } from "./file";

/** The contract with the labs: this exact path on every guest. */
export const PROXMOX_CA_PATH = "/usr/local/share/ca-certificates/haha-proxmox-ca.crt";
const BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The .crt as update-ca-certificates reads it: the PEM alone, LF line ends, one final newline. */
export function renderCaCertificate(pem: string): string {
  return pem.replace(/\r\n/g, "\n").trim() + "\n";
}

/** Rebuild the store, then prove the CA verifies against it: a store without it fails the step. */
export const TRUST_APPLY = [
  "set -euo pipefail",
  'command -v update-ca-certificates >/dev/null || { echo "update-ca-certificates is missing: install ca-certificates" >&2; exit 1; }',
  "update-ca-certificates",
  `openssl verify -CAfile ${BUNDLE} ${PROXMOX_CA_PATH} >/dev/null || { echo "${PROXMOX_CA_PATH} is not trusted by ${BUNDLE} after update-ca-certificates" >&2; exit 1; }`,
].join("\n");

export interface ProxmoxCaTrustArgs {
  connections: GuestConnection[];
  /** haha:proxmox.caCert: public, not a secret. */
  caCert: string;
}

export class ProxmoxCaTrust extends HahaComponent {
  readonly files: HostFile[];

  constructor(name: string, args: ProxmoxCaTrustArgs, opts?: pulumi.ComponentResourceOptions) {
    const content = renderCaCertificate(args.caCert);
    super("haha:host:CaTrust", name, { path: PROXMOX_CA_PATH, hosts: args.connections.map((c) => c.host) }, opts);
    this.files = args.connections.map(
      (connection) => new HostFile(`${name}-${connection.host}`, { connection, path: PROXMOX_CA_PATH, content, mode: "0644", onChange: TRUST_APPLY }, this.child()),
    );
    this.registerOutputs({ path: PROXMOX_CA_PATH });
  }
}
