// A guest's cloud-init as Proxmox snippets: its SSH host key (generated here, so every connection
// can pin it before the guest first boots), the user data and the network config, uploaded to
// the guest's host and referenced by the VM (initialization.userDataFileId / networkDataFileId).
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { HahaComponent } from "../component";
import { guestMac, GuestNic, renderNetworkConfig, renderUserData } from "./cloudinit";
import { fixedId } from "./lifecycle";
import { subnetInfo } from "../../stacks/config/net";
import type { HahaConfig } from "../../stacks/config/schema";

export interface GuestCloudInitArgs {
  config: HahaConfig;
  /** The Proxmox host the guest (and so its snippets) lives on. */
  node: string;
  vmid: number;
  hostname: string;
  address: string;
  mtu?: number;
  /** Address on haha:network.secondary, when declared. */
  secondaryAddress?: string;
}

/** The NICs of a guest, in VM network device order, with their fixed MACs and names. */
export function guestNics(c: HahaConfig, a: Pick<GuestCloudInitArgs, "vmid" | "address" | "mtu" | "secondaryAddress">): GuestNic[] {
  const nics: GuestNic[] = [{ name: c.network.guestNic, mac: guestMac(a.vmid, 0), address: `${a.address}/${subnetInfo(c.network.subnet).prefix}`, gateway: c.network.gateway, mtu: a.mtu }];
  if (c.network.secondary && a.secondaryAddress) {
    nics.push({ name: c.network.secondary.guestNic, mac: guestMac(a.vmid, 1), address: `${a.secondaryAddress}/${subnetInfo(c.network.secondary.subnet).prefix}` });
  }
  return nics;
}

/** The snippets' file names on the host: per VMID, so two guests never share one. */
export const snippetNames = (vmid: number, hostname: string) => ({ user: `haha-${vmid}-${hostname}-user.yaml`, network: `haha-${vmid}-${hostname}-network.yaml` });

export class GuestCloudInit extends HahaComponent {
  readonly hostKey: tls.PrivateKey;
  /** The guest's SSH host public key (OpenSSH format): what every connection to it pins. */
  readonly hostPublicKey: pulumi.Output<string>;
  readonly userData: proxmox.FileLegacy;
  readonly networkData: proxmox.FileLegacy;
  /** Proxmox volume ids of the snippets (`<datastore>:snippets/<file>`), known at preview. */
  readonly userDataFileId: string;
  readonly networkDataFileId: string;
  readonly nics: GuestNic[];

  constructor(name: string, args: GuestCloudInitArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const nics = guestNics(c, args);
    const files = snippetNames(args.vmid, args.hostname);
    super("haha:proxmox:CloudInit", name, { host: args.node, hostname: args.hostname, nics, files }, opts);
    this.nics = nics;
    const ds = c.proxmox.snippetDatastore;
    // Generated once and kept: a new key only when this resource is replaced, and then every
    // connection pins the new one in the same deploy.
    this.hostKey = new tls.PrivateKey(`${name}-host-key`, { algorithm: "ED25519" }, this.child());
    this.hostPublicKey = this.hostKey.publicKeyOpenssh.apply((k) => k.trim());
    const userData = pulumi
      .all([this.hostKey.privateKeyOpenssh, this.hostPublicKey])
      .apply(([priv, pub]) => renderUserData({ hostname: args.hostname, user: c.ssh.user, authorizedKeys: [c.ssh.publicKey], hostKey: { privateOpenssh: priv, publicOpenssh: pub } }));
    // New content replaces the file (the provider's source_raw is ForceNew), under the same
    // volume id: created first, the old resource's delete would then remove the new file and
    // leave the VM's cicustom pointing at nothing.
    const snippet = (suffix: string, fileName: string, data: pulumi.Input<string>) =>
      new proxmox.FileLegacy(
        `${name}-${suffix}`,
        { nodeName: args.node, datastoreId: ds, contentType: "snippets", sourceRaw: { data, fileName }, overwrite: true },
        this.child(fixedId(c, `${ds}:snippets/${fileName}`).opts),
      );
    // The user data holds the host's private key: secret in state and previews.
    this.userData = snippet("user-data", files.user, pulumi.secret(userData));
    this.networkData = snippet("network-config", files.network, renderNetworkConfig({ nics, dns: c.network.dns }));
    this.userDataFileId = `${ds}:snippets/${files.user}`;
    this.networkDataFileId = `${ds}:snippets/${files.network}`;
    this.registerOutputs({ hostPublicKey: this.hostPublicKey, userDataFileId: this.userDataFileId, networkDataFileId: this.networkDataFileId });
  }
}
