// Generated stack configs: the prod stack grown to N hosts, to prove nothing is wired to three.
import { prodRaw } from "./config";

/** Prod with `hosts` Proxmox hosts: the first two hold DRBD replicas, the rest are diskless. */
export function generatedRaw(hosts: number): Record<string, any> {
  if (hosts < 1 || hosts > 9) throw new Error("generatedRaw supports 1 to 9 hosts");
  const raw = prodRaw();
  const template = raw.nodes[0];
  raw.nodes = Array.from({ length: hosts }, (_, i) => {
    const n = i + 1;
    const node = structuredClone(template);
    node.name = `nllei01pve${String(n).padStart(2, "0")}`;
    node.address = `10.0.181.${10 + n}`;
    node.bond.switchPorts = [`nllei01sw01:Te1/0/${2 * n - 1}`, `nllei01sw01:Te1/0/${2 * n}`];
    node.guest = { ...node.guest, vmid: 180 + n, name: `nllei01ha${String(n).padStart(2, "0")}`, address: `10.0.181.${20 + n}` };
    if (i < 2) node.drbdDisk = { pciMapping: `nvme-pve${String(n).padStart(2, "0")}`, pci: { path: "0000:01:00.0", id: "144d:a80a" } };
    else delete node.drbdDisk;
    return node;
  });
  if (raw.voice) raw.voice.ollama.guest.node = raw.nodes[raw.nodes.length - 1].name;
  return raw;
}

/** Prod with only Mosquitto and Node-RED (the rehearsal lab's set): no Zigbee, Home Assistant, ESPHome, peripherals or voice. */
export function mosquittoNoderedRaw(): Record<string, any> {
  const raw = prodRaw();
  for (const k of ["zigbee2mqtt", "homeassistant", "esphome"]) delete raw.services[k];
  delete raw.peripherals;
  delete raw.voice;
  return raw;
}
