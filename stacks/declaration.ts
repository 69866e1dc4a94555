// What the stack as a whole declares to the policy pack: the waivers it accepts, its switches and
// its failure domains. A real `pulumi preview` hands policies resources, never stack config, so
// this component carries those values as its args (inputs) and outputs, plain and known at preview.
import * as pulumi from "@pulumi/pulumi";
import type { FailureDomain, NetworkDeclaration, StackDeclarationArgs } from "../policies/contract";
import type { HahaConfig } from "./config/schema";

export const DECLARATION_TYPE = "haha:stack:Declaration";

export type { FailureDomain, NetworkDeclaration, StackDeclarationArgs };

export function networkDeclaration(c: HahaConfig): NetworkDeclaration {
  const sec = c.network.secondary;
  return {
    lan: c.network.subnet,
    storage: sec?.storage ? { subnet: sec.subnet, dedicated: true } : { subnet: c.network.subnet, dedicated: false },
    members: c.nodes.flatMap((n) => [{ name: n.guest.name, address: n.guest.address }, ...(n.guest.secondaryAddress ? [{ name: n.guest.name, address: n.guest.secondaryAddress }] : [])]),
    peripherals: [
      ...(c.peripherals.zigbee ? [{ name: "zigbee-coordinator", kind: "zigbee-coordinator" as const, address: c.peripherals.zigbee.host }] : []),
      ...c.peripherals.bluetoothProxies.map((p) => ({ name: p.name, kind: "bluetooth-proxy" as const, address: p.address })),
    ],
    others: [...c.nodes.map((n) => ({ name: n.name, address: n.address })), ...(c.voice?.enabled ? [{ name: c.voice.ollama.guest.name, address: c.voice.ollama.guest.address }] : [])],
  };
}

/** The declaration of a validated config: every host, and every switch or switch stack group. */
export function stackDeclarationArgs(c: HahaConfig): StackDeclarationArgs {
  const domains: FailureDomain[] = c.nodes.map((n) => ({ name: n.name, kind: "host", hosts: [n.name], switches: [] }));
  const groups = new Map<string, string[]>();
  for (const s of c.switches) {
    const group = s.stackGroup ?? s.name;
    groups.set(group, [...(groups.get(group) ?? []), s.name]);
  }
  for (const [name, switches] of groups) domains.push({ name, kind: "switch", hosts: [], switches });
  return {
    waivers: c.waivers.map((w) => ({ policy: w.policy, target: w.target, reason: w.reason })),
    switches: c.switches.map((s) => (s.stackGroup ? { name: s.name, model: s.model, stackGroup: s.stackGroup } : { name: s.name, model: s.model })),
    failureDomains: domains,
    network: networkDeclaration(c),
  };
}

export class StackDeclaration extends pulumi.ComponentResource {
  constructor(name: string, args: StackDeclarationArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DECLARATION_TYPE, name, { ...args }, opts);
    // Stack policies read outputs; repeat the args there so both kinds of policy see them.
    this.registerOutputs({ ...args });
  }
}
