// haha:proxmox, haha:ssh, haha:network, haha:switches, haha:nodes: the physical layer.
import { absPath, cidr, hostname, ipv4, mappingId, port, z } from "./primitives";

export const proxmoxSchema = z
  .object({
    endpoint: z.url({ protocol: /^https?$/, message: "expected the Proxmox API URL such as https://10.0.181.11:8006/" }),
    /** Self-signed certificates are the Proxmox default; `true` skips TLS verification. */
    insecure: z.boolean().default(false),
    /** The API token id; the secret part is haha:proxmoxApiToken. */
    tokenId: z.string().regex(/^[^@\s]+@[a-z0-9.-]+![A-Za-z0-9_-]+$/, { message: "expected a token id such as pulumi@pve!haha" }).default("pulumi@pve!haha"),
    /** Where cloud images are stored on every host. */
    imageDatastore: z.string().min(1).default("local"),
    /** Where guest disks live; local to each host on purpose (the guest is node-bound, its data is on DRBD). */
    vmDatastore: z.string().min(1).default("local-lvm"),
    /**
     * Where the guests' cloud-init snippets (user data, network config) are uploaded on each host: a
     * directory storage with the "snippets" content type enabled (see README).
     */
    snippetDatastore: z.string().min(1).default("local"),
    cloudImage: z
      .object({
        url: z.url({ message: "expected an http(s) URL of a cloud image" }),
        fileName: z.string().regex(/^[A-Za-z0-9._-]+\.(img|qcow2|raw)$/, { message: "expected an image file name ending in .img, .qcow2 or .raw" }),
        checksum: z.string().regex(/^[a-f0-9]{64}$|^[a-f0-9]{128}$/, { message: "expected a sha256 or sha512 hex checksum" }).optional(),
      })
      .strict()
      // Debian 12's "generic" image: it boots Debian's full kernel (linux-image-amd64), which has
      // OCFS2, DLM and the i6300esb watchdog. "genericcloud" boots the cloud kernel, which has none
      // of them (the policy guest-full-kernel refuses it for cluster guests). Proxmox stores
      // downloads of content type iso only under .img/.iso names, hence .img.
      .default({
        url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2",
        fileName: "debian-12-generic-amd64.img",
      }),
  })
  .strict();

export const sshSchema = z
  .object({
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, { message: "expected a POSIX user name" }).default("root"),
    port: port.default(22),
    /** Public key installed on every guest by cloud-init; its private half is haha:sshPrivateKey. */
    publicKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/, { message: "expected an OpenSSH public key line" }),
  })
  .strict();

export const networkSchema = z
  .object({
    subnet: cidr,
    gateway: ipv4,
    dns: z.array(ipv4).min(1, { message: "expected at least one DNS server" }),
    bridge: z.string().regex(/^vmbr\d{1,4}$/, { message: "expected a Proxmox bridge name such as vmbr0" }).default("vmbr0"),
    /** The services VIP: where users, the Zigbee coordinator and ESPHome devices reach the cluster. */
    vip: ipv4,
    /** The NFS export's own VIP, so storage can move independently of the services. */
    storageVip: ipv4,
    /**
     * Name of the guests' NIC: cloud-init matches the NIC by its fixed MAC and renames it to this
     * (set-name), and the VIPs (IPaddr2 nic=) use it. ens18 is what Debian names the first virtio
     * NIC on Proxmox (PCI slot 18) anyway, and stays out of the kernel's own eth* names.
     */
    guestNic: z.string().regex(/^[a-z][a-z0-9]{0,14}$/, { message: "expected a Linux interface name such as ens18" }).default("ens18"),
    /** Optional second, independent network for a second corosync link. */
    secondary: z
      .object({
        subnet: cidr,
        bridge: z.string().regex(/^vmbr\d{1,4}$/, { message: "expected a Proxmox bridge name such as vmbr1" }),
        /** Name of the guests' second NIC (set-name by MAC, as guestNic). */
        guestNic: z.string().regex(/^[a-z][a-z0-9]{0,14}$/, { message: "expected a Linux interface name such as ens19" }).default("ens19"),
      })
      .strict()
      .optional(),
  })
  .strict();

export const switchSchema = z
  .object({
    name: hostname,
    model: z.string().min(1),
    /** Switches in one stack (or VSS/StackWise pair) fail together; declare it so the failure-domain analysis knows. */
    stackGroup: z.string().min(1).optional(),
  })
  .strict();

export const BOND_MODES = ["802.3ad", "active-backup", "balance-rr", "balance-xor", "broadcast", "balance-tlb", "balance-alb"] as const;
export const HASH_POLICIES = ["layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4"] as const;

export const bondSchema = z
  .object({
    name: z.string().regex(/^bond\d{1,3}$/, { message: "expected a bond name such as bond0" }).default("bond0"),
    slaves: z.array(z.string().regex(/^[a-z][a-z0-9]{1,14}$/, { message: "expected a Linux interface name such as enp1s0f0" })).min(1, { message: "expected at least one bond slave" }),
    mode: z.enum(BOND_MODES),
    hashPolicy: z.enum(HASH_POLICIES).default("layer3+4"),
    /**
     * Link monitoring interval. Proxmox writes `bond-miimon 100` for every bond it manages and its
     * API offers no other value, so 100 ms is the only one accepted: a dead slave is dropped well
     * inside corosync's token.
     */
    miimon: z.literal(100, { message: "expected 100: Proxmox manages bond-miimon itself" }).default(100),
    mtu: z.number().int().min(1280).max(9216).default(1500),
    /** `<switch>:<port>` for every slave, in slave order: the failure-domain analysis reads it. */
    switchPorts: z.array(z.string().regex(/^[a-z0-9-]+:[A-Za-z0-9/._-]+$/, { message: "expected <switch>:<port> such as nllei01sw01:Te1/0/1" })),
  })
  .strict();

export const guestSchema = z
  .object({
    vmid: z.number().int().min(100, { message: "expected a Proxmox VMID from 100 to 999999999" }).max(999999999),
    name: hostname,
    address: ipv4,
    /** Address on network.secondary, when a second corosync link is declared. */
    secondaryAddress: ipv4.optional(),
    cores: z.number().int().min(1).max(128).default(4),
    memoryMiB: z.number().int().min(1024, { message: "expected at least 1024 MiB" }).max(1048576).default(8192),
    diskGiB: z.number().int().min(8).max(4096).default(32),
  })
  .strict();

/** A PCI device on one host; given, HAHA creates the resource mapping, absent, the mapping must exist. */
export const pciDeviceSchema = z
  .object({
    path: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/, { message: "expected a PCI address such as 0000:01:00.0" }),
    id: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{4}$/, { message: "expected a vendor:device id such as 144d:a80a" }),
    subsystemId: z.string().regex(/^[0-9a-f]{4}:[0-9a-f]{4}$/, { message: "expected a vendor:device subsystem id" }).optional(),
    iommuGroup: z.number().int().min(0).max(4096).optional(),
  })
  .strict();

export const nodeSchema = z
  .object({
    name: hostname,
    address: ipv4,
    bond: bondSchema,
    guest: guestSchema,
    /** This member holds a DRBD replica on an NVMe disk passed through by this PCI mapping. */
    drbdDisk: z
      .object({
        pciMapping: mappingId,
        pci: pciDeviceSchema.optional(),
        /** The disk's device node inside the guest (the passed-through controller's first namespace). */
        device: absPath.default("/dev/nvme0n1"),
      })
      .strict()
      .optional(),
    /** The host's BMC: a fencing path that works when the whole host is gone. */
    bmc: z
      .object({
        address: ipv4,
        username: z.string().min(1),
        lanplus: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ProxmoxConfig = z.infer<typeof proxmoxSchema>;
export type SshConfig = z.infer<typeof sshSchema>;
export type NetworkConfig = z.infer<typeof networkSchema>;
export type SwitchConfig = z.infer<typeof switchSchema>;
export type BondConfig = z.infer<typeof bondSchema>;
export type GuestConfig = z.infer<typeof guestSchema>;
export type PciDeviceConfig = z.infer<typeof pciDeviceSchema>;
export type NodeConfig = z.infer<typeof nodeSchema>;
