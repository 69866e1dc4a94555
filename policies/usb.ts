// no-usb-passthrough: a USB stick or serial adapter ties what uses it to one host, and a host
// failure then takes it along, whatever the cluster does. HAHA reaches its radios over the
// network (a Zigbee coordinator over TCP, ESPHome Bluetooth proxies), never through a host port.
import * as path from "node:path";
import type { EnforcementLevel, ResourceValidationArgs } from "@pulumi/policy";
import { Finding, ResourceRule, resourcePolicy } from "./rule";
import { T } from "./types";

/** Host device nodes of USB and serial devices: USB buses, USB/ACM serial adapters, UARTs and their by-id links. */
const DEVICE_PATH = /^\/dev\/(bus\/usb(\/.*)?|ttyUSB\d*|ttyACM\d*|ttyS\d+|ttyAMA\d+|serial(\/.*)?)$/;

/** The host path normalised (`/dev//ttyUSB0/` -> `/dev/ttyUSB0`), or undefined when it is not a string. */
function hostPath(p: unknown): string | undefined {
  if (typeof p !== "string" || p === "") return undefined;
  const n = path.posix.normalize(p);
  return n.length > 1 ? n.replace(/\/$/, "") : n;
}

export const isHostDevicePath = (p: unknown): boolean => {
  const n = hostPath(p);
  return n !== undefined && DEVICE_PATH.test(n);
};

const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === "object") : []);

const FIX_NETWORK = "reach the device over the network instead (a Zigbee coordinator over TCP such as haha:peripherals.zigbee, an ESPHome proxy), so any member can use it";

function check(args: ResourceValidationArgs): Finding[] {
  const { type, name, urn, props } = args;
  const out: Finding[] = [];
  const add = (what: string, fix = FIX_NETWORK) =>
    out.push({ urn, subject: `${type} "${name}"`, problem: `${what}: the device, and whatever uses it, is bound to one host and dies with it`, fix, targets: [name] });

  if (type === T.vmLegacy) {
    list(props.usbs).forEach((u, i) => add(`usbs[${i}] passes USB ${u.mapping !== undefined ? `mapping "${String(u.mapping)}"` : `host device "${String(u.host)}"`} to the VM`, `remove usbs[${i}] and ${FIX_NETWORK}`));
    list(props.serialDevices).forEach((s, i) => {
      if (typeof s.device === "string" && s.device.startsWith("/dev/")) add(`serialDevices[${i}] passes host serial device ${s.device} to the VM`, `use device "socket" or remove serialDevices[${i}], and ${FIX_NETWORK}`);
    });
  } else if (type === T.usbMapping || type === T.usbMappingLegacy) {
    const maps = list(props.maps).map((m) => `${String(m.node)}:${String(m.id)}`);
    add(`declares a USB resource mapping${maps.length ? ` (${maps.join(", ")})` : ""} to hand host USB devices to guests`, `remove the mapping and ${FIX_NETWORK}`);
  } else if (type === T.containerLegacy) {
    list(props.devicePassthroughs).forEach((d, i) => {
      if (isHostDevicePath(d.path)) add(`devicePassthroughs[${i}] passes ${String(d.path)} into the container`, `remove devicePassthroughs[${i}] and ${FIX_NETWORK}`);
    });
    list(props.mountPoints).forEach((m, i) => {
      if (isHostDevicePath(m.volume)) add(`mountPoints[${i}] bind-mounts ${String(m.volume)} into the container`, `remove mountPoints[${i}] and ${FIX_NETWORK}`);
    });
  } else if (type === T.dockerContainer) {
    list(props.devices).forEach((d, i) => {
      if (isHostDevicePath(d.hostPath)) add(`devices[${i}] maps host device ${String(d.hostPath)} into the container`, `remove devices[${i}] and ${FIX_NETWORK}`);
    });
    const binds: { where: string; source: string | undefined }[] = [
      ...list(props.volumes).map((v, i) => ({ where: `volumes[${i}]`, source: hostPath(v.hostPath) })),
      ...list(props.mounts)
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => m.type === "bind")
        .map(({ m, i }) => ({ where: `mounts[${i}]`, source: hostPath(m.source) })),
    ];
    for (const b of binds) {
      if (isHostDevicePath(b.source)) add(`${b.where} binds host device ${b.source} into the container`, `remove ${b.where} and ${FIX_NETWORK}`);
      else if (b.source === "/dev" && props.privileged === true) add(`${b.where} binds the host's /dev into a privileged container, which then reaches every USB and serial device`, `drop privileged and the /dev bind, and ${FIX_NETWORK}`);
    }
  }
  return out;
}

export const noUsbPassthroughRule: ResourceRule = {
  kind: "resource",
  name: "no-usb-passthrough",
  description: "No USB or host serial device reaches a guest or container (VM usbs and serial devices, USB mappings, LXC and docker device passthrough): it would bind the service to one host.",
  defaultLevel: "mandatory",
  check,
};

export const noUsbPassthrough = (level?: EnforcementLevel) => resourcePolicy(noUsbPassthroughRule, level);
