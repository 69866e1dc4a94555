// no-usb-passthrough: on the prod stack, on the prod stack with one USB or serial device added,
// and on raw provider resources declared for real under Pulumi's mocks.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as proxmox from "@muhlba91/pulumi-proxmoxve";
import * as docker from "@pulumi/docker";
import { isHostDevicePath } from "../../policies/usb";
import type { OfflineResource } from "../../policies/evaluate";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf, withResource } from "./fixtures";
import { recordRaw } from "./raw";

const RULE = "no-usb-passthrough";
const prod = stackOf(prodConfig());
const VM = "proxmoxve:index/vmLegacy:VmLegacy";

function refused(resources: OfflineResource[], resource: string, what: RegExp) {
  const r = rule(evaluate(resources), RULE);
  assert.equal(r.status, "fail", `expected ${RULE} to fail`);
  const v = r.violations.find((x) => x.resource?.name === resource);
  assert.ok(v, `no violation on ${resource}: ${r.violations.map((x) => x.message).join("\n")}`);
  assert.match(v.message, what);
  assert.match(v.fix ?? "", /network/);
  assert.equal(v.level, "mandatory");
}

describe(`${RULE} on the prod stack`, () => {
  it("passes: no guest, container or mapping reaches a USB or serial device", () => {
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a cluster guest VM with a USB device (usbs)", () => {
    refused(mutated(prod, VM, "nllei01ha01-vm", (p) => (p.usbs = [{ host: "10c4:ea60" }])), "nllei01ha01-vm", /usbs\[0\] passes USB host device "10c4:ea60"/);
  });

  it("refuses a USB device by resource mapping", () => {
    refused(mutated(prod, VM, "nllei01ha02-vm", (p) => (p.usbs = [{ mapping: "sonoff-dongle", usb3: false }])), "nllei01ha02-vm", /mapping "sonoff-dongle"/);
  });

  it("refuses a host serial device on a guest, and accepts a serial socket", () => {
    refused(mutated(prod, VM, "nllei01ha03-vm", (p) => (p.serialDevices = [{ device: "/dev/ttyS0" }])), "nllei01ha03-vm", /serialDevices\[0\] passes host serial device \/dev\/ttyS0/);
    assert.equal(rule(evaluate(mutated(prod, VM, "nllei01ha03-vm", (p) => (p.serialDevices = [{ device: "socket" }]))), RULE).status, "pass");
  });

  it("refuses a USB resource mapping", () => {
    const withMapping = withResource(prod, "proxmoxve:hardware/mapping/usb:Usb", "zigbee-stick", { name: "zigbee-stick", maps: [{ node: "nllei01pve01", id: "10c4:ea60", path: "1-1.2" }] });
    refused(withMapping, "zigbee-stick", /USB resource mapping \(nllei01pve01:10c4:ea60\)/);
  });

  it("refuses an LXC container with /dev/bus/usb passed through", () => {
    const lxc = withResource(prod, "proxmoxve:index/containerLegacy:ContainerLegacy", "z2m-lxc", { nodeName: "nllei01pve01", devicePassthroughs: [{ path: "/dev/bus/usb/001/004" }] });
    refused(lxc, "z2m-lxc", /devicePassthroughs\[0\] passes \/dev\/bus\/usb\/001\/004/);
  });

  it("refuses a docker container with a serial adapter as device, volume or bind mount", () => {
    const base = (props: Record<string, unknown>) => withResource(prod, "docker:index/container:Container", "z2m", { image: "koenkk/zigbee2mqtt", ...props });
    refused(base({ devices: [{ hostPath: "/dev/ttyACM0", containerPath: "/dev/ttyACM0" }] }), "z2m", /devices\[0\] maps host device \/dev\/ttyACM0/);
    refused(base({ volumes: [{ hostPath: "/dev/serial/by-id/usb-ITead_Sonoff-if00", containerPath: "/dev/zigbee" }] }), "z2m", /volumes\[0\] binds host device \/dev\/serial\/by-id/);
    refused(base({ mounts: [{ type: "bind", source: "/dev/ttyUSB0/", target: "/dev/ttyUSB0" }] }), "z2m", /mounts\[0\] binds host device \/dev\/ttyUSB0/);
  });

  it("refuses a privileged docker container with the host's /dev mounted, not a privileged one without", () => {
    const dev = withResource(prod, "docker:index/container:Container", "ha-priv", { image: "x", privileged: true, volumes: [{ hostPath: "/dev", containerPath: "/dev" }] });
    refused(dev, "ha-priv", /privileged container/);
    const noDev = withResource(prod, "docker:index/container:Container", "ha-priv", { image: "x", privileged: true, volumes: [{ hostPath: "/srv/haha", containerPath: "/config" }] });
    assert.equal(rule(evaluate(noDev), RULE).status, "pass");
  });

  it("recognises device paths exactly (no false alarm on look-alikes)", () => {
    for (const p of ["/dev/ttyUSB0", "/dev/ttyACM12", "/dev/serial/by-id/x", "/dev/bus/usb", "/dev/bus/usb/001/002", "/dev//ttyUSB1", "/dev/ttyS1", "/dev/ttyAMA0"]) assert.ok(isHostDevicePath(p), p);
    for (const p of ["/dev/nvidia0", "/dev/shm", "/srv/ttyUSB0", "/dev/ttyUSBfoo/../../etc", "", undefined, 42]) assert.ok(!isHostDevicePath(p), String(p));
  });
});

describe(`${RULE} on raw provider resources declared under Pulumi mocks`, () => {
  let raw: OfflineResource[];
  before(async () => {
    raw = await recordRaw(() => {
      new proxmox.VmLegacy("vm-with-usb", { nodeName: "nllei01pve01", vmId: 901, usbs: [{ host: "10c4:ea60", usb3: false }] });
      new proxmox.VmLegacy("vm-with-serial", { nodeName: "nllei01pve01", vmId: 902, serialDevices: [{ device: "/dev/ttyUSB1" }] });
      new proxmox.VmLegacy("vm-clean", { nodeName: "nllei01pve01", vmId: 903, usbs: [], serialDevices: [{ device: "socket" }] });
      new docker.Container("z2m-usb", { image: "ghcr.io/koenkk/zigbee2mqtt:2.6.3", devices: [{ hostPath: "/dev/ttyUSB0", containerPath: "/dev/ttyACM0" }] });
      new docker.Container("mosquitto-clean", { image: "eclipse-mosquitto:2.0.22", volumes: [{ hostPath: "/srv/haha/mosquitto", containerPath: "/mosquitto" }] });
      new proxmox.ContainerLegacy("lxc-usb", { nodeName: "nllei01pve02", devicePassthroughs: [{ path: "/dev/bus/usb/002/003" }] });
      new proxmox.hardware.mapping.Usb("usb-map", { name: "zigbee", maps: [{ node: "nllei01pve02", id: "10c4:ea60" }] });
    });
  });

  it("refuses each USB or serial passthrough and names the resource", () => {
    const r = rule(evaluate(raw), RULE);
    assert.equal(r.status, "fail");
    const names = new Set(r.violations.map((v) => v.resource?.name));
    assert.deepEqual([...names].sort(), ["lxc-usb", "usb-map", "vm-with-serial", "vm-with-usb", "z2m-usb"]);
    const z2m = r.violations.find((v) => v.resource?.name === "z2m-usb")!;
    assert.equal(z2m.resource?.type, "docker:index/container:Container");
    assert.match(z2m.message, /devices\[0\] maps host device \/dev\/ttyUSB0 into the container.*Fix: remove devices\[0\]/);
    assert.match(r.violations.find((v) => v.resource?.name === "vm-with-usb")!.message, /usbs\[0\] passes USB host device "10c4:ea60" to the VM/);
  });

  it("leaves clean resources alone", () => {
    const r = rule(evaluate(raw), RULE);
    assert.ok(!r.violations.some((v) => ["vm-clean", "mosquitto-clean"].includes(v.resource?.name ?? "")));
  });
});
