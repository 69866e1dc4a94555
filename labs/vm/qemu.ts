// Playing Proxmox: the qemu command line for one VmLegacy, laid out as qemu-server lays out a q35
// guest (the DMI-to-PCI bridge at 1e.0 with the pci-bridge `pci.0` behind it, virtio0 at slot 0xa
// and net0 at slot 0x12 of pci.0, so Debian names the first NIC ens18 as on Proxmox; the cloud-init
// drive on ide2; a passed-through PCIe device on a root port) with what the VM declares: cores,
// memory, NICs on the lab bridge (a tap each), the watchdog, the boot disk as a qcow2 overlay of
// the lab's image, and each hostpci as an emulated NVMe disk (the lab has no hardware to pass).
import type { RecordedResource } from "../../plan/types";

export interface VmFiles {
  /** The boot disk: a qcow2 overlay of the base image. */
  disk: string;
  /** One qcow2 per hostpci entry, emulated as an NVMe controller with one namespace. */
  nvme: string[];
  seedIso: string;
  kernel: string;
  initrd: string;
  console: string;
  qmp: string;
  pidfile: string;
}

export interface VmShape {
  name: string;
  vmid: number;
  cores: number;
  memoryMiB: number;
  machine: string;
  nics: { tap: string; mac: string; mtu?: number; bridge: string }[];
  watchdog?: { model: string; action: string };
  /** agent.enabled: Proxmox then gives the guest the agent's virtio-serial port (qemu-guest-agent needs it to start). */
  agent: boolean;
  hostpcis: { device: string; mapping?: string; pcie: boolean }[];
  diskGiB: number;
}

/** What qemu needs from a recorded VmLegacy, each field checked (a lab must not guess). */
export function vmShape(vm: RecordedResource, taps: string[], macs: string[]): VmShape {
  const i = vm.inputs;
  const where = (k: string) => `${vm.name}.${k}`;
  const num = (v: unknown, k: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new Error(`${where(k)} = ${JSON.stringify(v)}: expected a positive number`);
    return v;
  };
  const nics = ((i.networkDevices as { bridge?: string; model?: string; mtu?: number; enabled?: boolean }[] | undefined) ?? []).filter((n) => n.enabled !== false);
  nics.forEach((n, k) => {
    if ((n.model ?? "virtio") !== "virtio") throw new Error(`${where(`networkDevices[${k}].model`)} = ${n.model}: the lab emulates virtio only`);
  });
  if (taps.length < nics.length) throw new Error(`${vm.name}: ${nics.length} NICs declared, ${taps.length} taps given`);
  const disks = (i.disks as { interface?: string; size?: number }[] | undefined) ?? [];
  const boot = disks[0];
  if (!boot) throw new Error(`${where("disks")}: no boot disk declared`);
  if (disks.length > 1) throw new Error(`${where("disks")}: the lab boots one disk, ${disks.length} declared`);
  const wd = i.watchdog as { enabled?: boolean; model?: string; action?: string } | undefined;
  return {
    name: String(i.name),
    vmid: num(i.vmId, "vmId"),
    cores: num((i.cpu as { cores?: number } | undefined)?.cores ?? 1, "cpu.cores") * num((i.cpu as { sockets?: number } | undefined)?.sockets ?? 1, "cpu.sockets"),
    memoryMiB: num((i.memory as { dedicated?: number } | undefined)?.dedicated ?? 512, "memory.dedicated"),
    machine: String(i.machine ?? "pc"),
    nics: nics.map((n, k) => ({ tap: taps[k] as string, mac: macs[k] as string, mtu: n.mtu, bridge: String(n.bridge) })),
    watchdog: wd?.enabled ? { model: wd.model ?? "i6300esb", action: wd.action ?? "reset" } : undefined,
    agent: (i.agent as { enabled?: boolean } | undefined)?.enabled === true,
    hostpcis: ((i.hostpcis as { device: string; mapping?: string; pcie?: boolean }[] | undefined) ?? []).map((h) => ({ device: h.device, mapping: h.mapping, pcie: h.pcie === true })),
    diskGiB: num(boot.size ?? 8, "disks[0].size"),
  };
}

export function qemuArgv(vm: VmShape, files: VmFiles, accel: "kvm" | "tcg"): string[] {
  if (vm.machine !== "q35") throw new Error(`${vm.name}.machine = ${vm.machine}: the lab lays out q35 guests only`);
  const a: string[] = ["-name", vm.name, "-machine", "q35", "-nodefaults", "-no-user-config", "-display", "none", "-pidfile", files.pidfile];
  a.push("-accel", accel === "kvm" ? "kvm" : "tcg,thread=multi", "-cpu", accel === "kvm" ? "host" : "max");
  a.push("-smp", `${vm.cores},sockets=1,cores=${vm.cores}`, "-m", String(vm.memoryMiB));
  // Proxmox boots the image's own bootloader; the lab hands the same kernel directly (no bootloader in its image).
  a.push("-kernel", files.kernel, "-initrd", files.initrd, "-append", "root=/dev/vda rw console=ttyS0,115200 consoleblank=0");
  a.push("-serial", `file:${files.console}`, "-qmp", `unix:${files.qmp},server=on,wait=off`);
  // qemu-server's q35 layout (pve-q35-4.0.cfg): DMI bridge -> pci-bridge "pci.0".
  a.push("-device", "i82801b11-bridge,id=pcidmi,bus=pcie.0,addr=0x1e", "-device", "pci-bridge,id=pci.0,chassis_nr=1,bus=pcidmi,addr=0x1");
  a.push("-drive", `file=${files.disk},if=none,id=drive-virtio0,format=qcow2,discard=unmap,cache=unsafe`, "-device", "virtio-blk-pci,drive=drive-virtio0,id=virtio0,bus=pci.0,addr=0xa");
  vm.nics.forEach((n, k) => {
    a.push("-netdev", `tap,id=net${k},ifname=${n.tap},script=no,downscript=no`);
    a.push("-device", `virtio-net-pci,netdev=net${k},id=net${k},mac=${n.mac},bus=pci.0,addr=${`0x${(0x12 + k).toString(16)}`}${n.mtu ? `,host_mtu=${n.mtu}` : ""}`);
  });
  if (vm.watchdog) {
    if (vm.watchdog.model !== "i6300esb") throw new Error(`${vm.name}.watchdog.model = ${vm.watchdog.model}: the lab emulates i6300esb only`);
    a.push("-device", "i6300esb,bus=pci.0,addr=0x4", "-watchdog-action", vm.watchdog.action);
  }
  if (vm.agent) {
    // As qemu-server does for agent: 1 (a socket on the host side, org.qemu.guest_agent.0 in the guest).
    a.push("-chardev", `socket,path=${files.qmp}-qga,server=on,wait=off,id=qga0`, "-device", "virtio-serial,id=qga0,bus=pci.0,addr=0x8", "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0");
  }
  vm.hostpcis.forEach((h, k) => {
    const file = files.nvme[k];
    if (!file) throw new Error(`${vm.name}.hostpcis[${k}]: no NVMe backing file`);
    a.push("-device", `pcie-root-port,id=ich9-pcie-port-${k + 1},bus=pcie.0,addr=0x1c.${k},chassis=${k + 1},port=${k + 1}`);
    a.push("-drive", `file=${file},if=none,id=drive-${h.device},format=qcow2,cache=none,aio=threads`);
    a.push("-device", `nvme,drive=drive-${h.device},serial=lab${vm.vmid}${h.device},bus=ich9-pcie-port-${k + 1}`);
  });
  // The cloud-init drive as Proxmox attaches it: ide2, a CD-ROM on the q35 AHCI's second port.
  a.push("-drive", `file=${files.seedIso},if=none,id=drive-ide2,media=cdrom,readonly=on`, "-device", "ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2");
  return a;
}

/** A real KVM (not the paravirtual backend this kind of machine exposes) is used; else TCG. */
export function accelerator(exists: (p: string) => boolean): "kvm" | "tcg" {
  return exists("/sys/module/kvm_intel") || exists("/sys/module/kvm_amd") ? "kvm" : "tcg";
}
