// Local voice: Ollama on a GPU guest. The guest holds the GPU by PCI resource mapping, so it is
// bound to the host with the GPU and so is its container: acceptable only because voice is not
// critical (haha:voice.critical false; a policy refuses the pin otherwise). Home Assistant's
// built-in intents keep answering when the LLM is down. Speech to text and text to speech
// (Wyoming whisper and piper) are in the Pacemaker service set and fail over with the rest.
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection, shq } from "../host/connection";
import { HostFile } from "../host/file";
import { GuestReady } from "../host/ready";
import { HostStep } from "../host/step";
import type { GuestIntent, ServicesIntent } from "../intent";
import type { LayerArgs } from "../layer";
import { GuestCloudInit } from "../proxmox/snippets";
import { cloudVmArgs } from "../proxmox/vm";
import type { HahaConfig } from "../../stacks/config/schema";
import { dockerProvider } from "./docker";
import { ollamaIntent } from "./intent";
import { fixedId } from "../proxmox/lifecycle";
import { ollamaFirewallStep, ollamaListen } from "./ollama-firewall-step";

export interface VoiceAssistantArgs extends LayerArgs {
  /** The deploy key, for the guest's SSH steps (secret). */
  privateKey: pulumi.Input<string>;
}

/** Packages of the GPU guest, with why. */
export const VOICE_GUEST_PACKAGES: Record<string, string> = {
  "docker.io": "runs the Ollama container",
  curl: "fetches NVIDIA's repository key",
  gnupg: "dearmors that key into an apt keyring",
  "ca-certificates": "TLS to NVIDIA's repository",
  nftables: "the firewall that lets only the cluster reach Ollama",
};

export const NVIDIA_KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg";

/** A deb822 apt source, rendered field by field (the format is line-oriented: `Key: value`). */
export function renderDeb822(stanza: Record<string, string>, header: string): string {
  const lines = [`# ${header}`];
  for (const [k, v] of Object.entries(stanza)) {
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(k) || /[\n\r]/.test(v) || v.trim() === "") throw new Error(`deb822: invalid field ${k}: ${JSON.stringify(v)}`);
    lines.push(`${k}: ${v}`);
  }
  return lines.join("\n") + "\n";
}

/** NVIDIA's container toolkit repository (a flat repository: suite "/"). */
export function nvidiaSource(): string {
  return renderDeb822(
    { Types: "deb", URIs: "https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)", Suites: "/", "Signed-By": NVIDIA_KEYRING },
    "NVIDIA container toolkit, rendered by HAHA: lets docker hand the GPU to the Ollama container.",
  );
}

/** Where the reboot step records the boot it scheduled the reboot from ("none": none needed). */
export const REBOOT_FROM_FILE = "/var/lib/haha/nvidia-reboot-from-boot";

/**
 * Reboot once for the NVIDIA module, without killing the next step's session: the reboot is
 * scheduled 5 s after this command returns, and sshd stops taking new sessions meanwhile (Debian's
 * ssh.service stops only its listener: this session survives), so the next step's connection is
 * refused, retries (dialErrorLimit), and reaches the guest once it is back. The boot it leaves is
 * recorded on disk, for the next step to tell a new boot from the old one.
 */
export function renderNvidiaReboot(): string {
  return [
    "set -euo pipefail",
    `mkdir -p "$(dirname ${REBOOT_FROM_FILE})"`,
    `if nvidia-smi >/dev/null 2>&1; then echo none > ${REBOOT_FROM_FILE}; echo "driver loaded: no reboot"; exit 0; fi`,
    "boot=$(cat /proc/sys/kernel/random/boot_id)",
    `echo "$boot" > ${REBOOT_FROM_FILE}; sync`,
    "systemd-run --unit=haha-nvidia-reboot --on-active=5 /bin/systemctl reboot",
    "systemctl stop ssh.service",
    'echo "rebooting in 5 s from boot $boot"',
  ].join("\n");
}

/** After the reboot: this is a new boot (else fail), and the GPU answers within a bound. */
export function renderGpuReady(): string {
  return [
    "set -euo pipefail",
    `if [ ! -s ${REBOOT_FROM_FILE} ]; then echo "${REBOOT_FROM_FILE} is missing: the reboot step did not run" >&2; exit 1; fi`,
    `before=$(cat ${REBOOT_FROM_FILE})`,
    "now=$(cat /proc/sys/kernel/random/boot_id)",
    'if [ "$before" != none ] && [ "$now" = "$before" ]; then echo "the voice guest did not reboot after the NVIDIA driver install (still boot $now)" >&2; exit 1; fi',
    "for i in $(seq 1 60); do nvidia-smi -L && exit 0; sleep 5; done",
    "echo 'no NVIDIA GPU visible after 300 s' >&2",
    "exit 1",
  ].join("\n");
}

/** The whole voice intent: only the pinned Ollama container (whisper and piper are in the ServiceSet's). */
export function voiceIntent(c: HahaConfig): ServicesIntent {
  const o = ollamaIntent(c);
  return { services: o ? [o] : [] };
}

/** The GPU guest's intent, in the guest shape the node-bound-hardware policy reads. */
export function voiceGuestIntent(c: HahaConfig): GuestIntent {
  const v = c.voice!;
  const g = v.ollama.guest;
  return {
    member: g.name,
    host: g.node,
    vmid: g.vmid,
    // Claimed only while voice is declared non-critical; otherwise no purpose is claimed and the
    // node-bound-hardware policy refuses the passthrough.
    ...(v.critical ? {} : { pciPurpose: "non-critical" as const }),
    haManaged: false,
    watchdog: null,
  };
}

/** The GPU guest: a VM bound to the host with the GPU, passed through by PCI resource mapping. */
export class VoiceGuest extends HahaComponent {
  readonly vm: proxmox.VmLegacy;
  readonly gpuMapping?: proxmox.hardware.mapping.Pci;
  readonly cloudInit: GuestCloudInit;
  /** The guest's SSH host key, pinned by every connection to it. */
  readonly hostPublicKey: pulumi.Output<string>;

  constructor(name: string, args: { config: HahaConfig }, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const v = c.voice;
    if (!v) throw new Error("VoiceGuest: haha:voice is not configured");
    const g = v.ollama.guest;
    const intent = voiceGuestIntent(c);
    super("haha:services:VoiceGuest", name, { guest: g.name, host: g.node, intent }, opts);
    // The GPU by resource mapping (never a raw host PCI path): created here when config gives the
    // device, otherwise it must already exist on the host.
    if (g.gpuPci) {
      const pci = g.gpuPci;
      this.gpuMapping = new proxmox.hardware.mapping.Pci(
        `${name}-${g.gpuMapping}`,
        {
          name: g.gpuMapping,
          comment: `GPU of the voice guest ${g.name} (Ollama)`,
          maps: [{ node: g.node, path: pci.path, id: pci.id, subsystemId: pci.subsystemId, iommuGroup: pci.iommuGroup }],
        },
        this.child(fixedId(c, `mapping ${g.gpuMapping}`, "the GPU passthrough of the voice guest").opts),
      );
    }
    this.cloudInit = new GuestCloudInit(`${name}-cloud-init`, { config: c, node: g.node, vmid: g.vmid, hostname: g.name, address: g.address }, this.child());
    this.hostPublicKey = this.cloudInit.hostPublicKey;
    const init = { userDataFileId: this.cloudInit.userDataFileId, networkDataFileId: this.cloudInit.networkDataFileId, macs: this.cloudInit.nics.map((n) => n.mac) };
    this.vm = new proxmox.VmLegacy(
      `${name}-vm`,
      {
        ...cloudVmArgs(c, { node: g.node, vmid: g.vmid, name: g.name, address: g.address, cores: g.cores, memoryMiB: g.memoryMiB, diskGiB: g.diskGiB }, init),
        description: `HAHA voice guest ${g.name}: Ollama on the GPU of ${g.node}. Not critical: pinned to its host on purpose.`,
        tags: ["haha", "voice", "non-critical"],
        // Compute only: the GPU is not the guest's display (xvga off), its ROM is read at boot.
        hostpcis: [{ device: "hostpci0", mapping: g.gpuMapping, pcie: true, rombar: true, xvga: false }],
      },
      // VMID fixed: replaced delete-first. Not protected: it holds no data the home cannot re-pull.
      this.child({ ...fixedId(c, `VMID ${g.vmid}`).opts, dependsOn: [this.cloudInit, ...(this.gpuMapping ? [this.gpuMapping] : [])] }),
    );

    this.registerOutputs({ intent, vmId: g.vmid });
  }
}

export class VoiceAssistant extends HahaComponent {
  readonly vm: proxmox.VmLegacy;
  readonly gpuMapping?: proxmox.hardware.mapping.Pci;
  readonly ollama: docker.Container;

  constructor(name: string, args: VoiceAssistantArgs, opts?: pulumi.ComponentResourceOptions) {
    const c = args.config;
    const v = c.voice;
    if (!v) throw new Error("VoiceAssistant: haha:voice is not configured");
    const g = v.ollama.guest;
    const intent = voiceIntent(c);
    super("haha:services:VoiceAssistant", name, { guest: g.name, host: g.node, gpuMapping: g.gpuMapping, model: v.ollama.model, intent }, opts);

    const guest = new VoiceGuest(`${name}-guest`, { config: c }, this.child());
    this.vm = guest.vm;
    this.gpuMapping = guest.gpuMapping;

    const conn: GuestConnection = { host: g.name, address: g.address, user: c.ssh.user, port: c.ssh.port, privateKey: args.privateKey, hostKey: guest.hostPublicKey };
    // Its own short list (not the cluster members' GuestPackages: no cluster stack on this guest).
    const list = Object.keys(VOICE_GUEST_PACKAGES).sort();
    // cloud-init (which installs the guest agent with apt) must be done before this apt runs.
    const ready = new GuestReady(`${name}-ready`, { connection: conn, nic: c.network.guestNic }, this.child({ dependsOn: [guest] }));
    const packages = new HostStep(
      `${name}-packages`,
      {
        connection: conn,
        create: ["set -euo pipefail", "export DEBIAN_FRONTEND=noninteractive", "apt-get update -q", `apt-get install -y -q --no-install-recommends ${list.map(shq).join(" ")}`, "systemctl enable --now docker.service"].join("\n"),
        triggers: [list.join(",")],
      },
      this.child({ dependsOn: [ready] }),
    );
    const source = new HostFile(`${name}-nvidia-source`, { connection: conn, path: "/etc/apt/sources.list.d/nvidia-container-toolkit.sources", content: nvidiaSource() }, this.child({ dependsOn: [packages] }));
    const driver = new HostStep(
      `${name}-nvidia`,
      {
        connection: conn,
        create: [
          "set -euo pipefail",
          "export DEBIAN_FRONTEND=noninteractive",
          // The driver is in Debian's non-free components; the cloud image enables main only.
          "sed -i -E 's/^(Components:) main$/\\1 main contrib non-free non-free-firmware/' /etc/apt/sources.list.d/debian.sources",
          `[ -s ${NVIDIA_KEYRING} ] || curl -fsSL https://nvidia.github.io/libnvidia-container/gpgkey | gpg --dearmor -o ${NVIDIA_KEYRING}`,
          "apt-get update -q",
          'apt-get install -y -q --no-install-recommends "linux-headers-$(uname -r)" nvidia-driver firmware-misc-nonfree nvidia-container-toolkit',
          "nvidia-ctk runtime configure --runtime=docker",
          "systemctl restart docker",
        ].join("\n"),
        triggers: ["nvidia-driver nvidia-container-toolkit"],
      },
      this.child({ dependsOn: [source] }),
    );
    // The new kernel module (and nouveau's blacklist) take effect at boot: reboot once, then wait.
    const reboot = new HostStep(`${name}-nvidia-reboot`, { connection: conn, create: renderNvidiaReboot(), triggers: ["nvidia-driver"] }, this.child({ dependsOn: [driver] }));
    const gpuReady = new HostStep(
      `${name}-gpu-ready`,
      // Same trigger as the reboot: both run again together.
      { connection: conn, create: renderGpuReady(), triggers: ["nvidia-driver"] },
      this.child({ dependsOn: [reboot] }),
    );

    // Ollama has no authentication: its port is closed to all but the cluster before it starts.
    const firewall = ollamaFirewallStep(name, conn, c, (o) => this.child(o), packages);
    const provider = dockerProvider(`${name}-docker`, conn, this.child({ dependsOn: [gpuReady, firewall] }));
    const image = new docker.RemoteImage(`${name}-ollama-image`, { name: v.ollama.image, keepLocally: true }, this.child({ provider }));
    this.ollama = new docker.Container(
      `${name}-ollama`,
      {
        name: "ollama",
        // The image id, not its name: the provider stores the container's image as an id, so a
        // name would differ from it on every up and replace the container each time.
        image: image.imageId,
        // Docker, not Pacemaker, keeps it running: the guest is outside the cluster.
        restart: "unless-stopped",
        networkMode: "host",
        gpus: "all",
        // Its own address only (where the members reach it), never every address.
        envs: [`OLLAMA_HOST=${ollamaListen(c)}`],
        volumes: [{ hostPath: "/var/lib/ollama", containerPath: "/root/.ollama" }],
        logDriver: "journald",
      },
      this.child({ provider, dependsOn: [image, gpuReady] }),
    );
    // The model is pulled at deploy, never on the first question.
    new HostStep(
      `${name}-model`,
      {
        connection: conn,
        create: [
          "set -euo pipefail",
          "for i in $(seq 1 60); do docker exec ollama ollama list >/dev/null 2>&1 && break; sleep 2; done",
          `docker exec ollama ollama pull ${shq(v.ollama.model)}`,
        ].join("\n"),
        triggers: [v.ollama.model, v.ollama.image],
      },
      this.child({ dependsOn: [this.ollama] }),
    );
    this.registerOutputs({ intent, guest: g.name, url: `http://${g.address}:${v.ollama.port}` });
  }
}
