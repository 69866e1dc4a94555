// The stack config contract (DESIGN.md section 2): one strict schema per top-level key of the
// `haha` namespace, composed here; every type the program uses is inferred from these.
import { clusterSchema } from "./cluster";
import { networkSchema, nodeSchema, proxmoxSchema, sshSchema, switchSchema } from "./infrastructure";
import { z } from "./primitives";
import { peripheralsSchema, servicesSchema, voiceSchema } from "./services";
import { storageSchema } from "./storage";

export const waiverSchema = z
  .object({
    /** A policy name from the pack (see docs/policies.md). */
    policy: z.string().regex(/^[a-z0-9-]+$/, { message: "expected a policy name such as network-bond-switch-diversity" }),
    /** What the waiver covers: a failure domain, a resource name, or `*` for the whole stack. */
    target: z.string().min(1),
    reason: z.string().min(20, { message: "expected a reason of at least 20 characters: say why this risk is accepted" }),
  })
  .strict();

/** Config keys under `haha:` and their schemas. Secrets are listed separately below. */
export const configSchema = z
  .object({
    proxmox: proxmoxSchema,
    ssh: sshSchema,
    network: networkSchema,
    switches: z.array(switchSchema).min(1, { message: "expected at least one switch" }),
    nodes: z.array(nodeSchema).min(1, { message: "expected at least one node" }),
    storage: storageSchema.default(storageSchema.parse({})),
    cluster: clusterSchema,
    services: servicesSchema,
    // Absent in a home with no Zigbee coordinator and no Bluetooth proxy.
    peripherals: peripheralsSchema.default({ bluetoothProxies: [] }),
    voice: voiceSchema.optional(),
    waivers: z.array(waiverSchema).default([]),
  })
  .strict();

/** Secret keys: set with `pulumi config set --secret haha:<key>`, never committed. */
export const SECRET_KEYS = {
  proxmoxApiToken: { required: true, description: "secret of the Proxmox API token named by haha:proxmox.tokenId" },
  sshPrivateKey: { required: true, description: "private half of haha:ssh.publicKey, used by remote commands and the docker providers" },
  proxmoxSshPrivateKey: {
    required: false,
    description: "key the Proxmox provider's own SSH (uploads to the hosts) logs in with as haha:proxmox.sshUser; a key apart from the guests' one (absent: the SSH agent)",
  },
  bmcPassword: { required: false, description: "password of the BMC users named in haha:nodes[*].bmc (fence_ipmilan)" },
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

export type HahaConfig = z.infer<typeof configSchema>;
export type HahaConfigInput = z.input<typeof configSchema>;
export type Waiver = z.infer<typeof waiverSchema>;
