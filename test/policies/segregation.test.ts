// storage-network-isolation and zigbee-coordinator-isolation (both advisory by default): the prod
// stack, with its peripherals on the cluster subnet, gets both warnings; each layout change that
// fixes one (one field at a time) passes it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";

const STORAGE = "storage-network-isolation";
const ZIGBEE = "zigbee-coordinator-isolation";
const DECL = "haha:stack:Declaration";
const prod = stackOf(prodConfig());

/** A second network for the members only, carrying the storage. */
const storageNet = (raw: Record<string, any>) => {
  raw.network.secondary = { subnet: "10.0.182.0/24", bridge: "vmbr1", storage: true };
  raw.nodes.forEach((n: any, i: number) => (n.guest.secondaryAddress = `10.0.182.${21 + i}`));
  raw.network.storageVip = "10.0.182.51";
};

describe(STORAGE, () => {
  it("warns on prod: the coordinator and the Bluetooth proxy share the cluster subnet with the export and replication", () => {
    const r = rule(evaluate(prod), STORAGE);
    assert.equal(r.level, "advisory");
    assert.equal(r.status, "advisory");
    assert.equal(r.violations.length, 2);
    const m = messages(evaluate(prod), STORAGE);
    assert.match(m, /Zigbee coordinator \(10\.0\.181\.40\): shares the storage network 10\.0\.181\.0\/24 \(the cluster subnet: no network of its own is declared\)/);
    assert.match(m, /Bluetooth proxy nllei01btproxy01 \(10\.0\.181\.41\)/);
    assert.match(m, /Fix: declare haha:network\.secondary with storage: true/);
  });

  it("passes once the storage has a network of its own", () => {
    assert.equal(rule(evaluate(stackOf(mutatedConfig(storageNet))), STORAGE).status, "pass");
  });

  it("warns when a peripheral sits on the dedicated storage network", () => {
    const ev = evaluate(mutated(stackOf(mutatedConfig(storageNet)), DECL, undefined, (p) => (p.network.peripherals[1].address = "10.0.182.41")));
    assert.equal(rule(ev, STORAGE).violations.length, 1);
    assert.match(messages(ev, STORAGE), /nllei01btproxy01 \(10\.0\.182\.41\): shares the storage network 10\.0\.182\.0\/24 with the NFS export/);
  });

  it("becomes mandatory through the pack config", () => {
    assert.equal(rule(evaluate(prod, { [STORAGE]: "mandatory" }), STORAGE).status, "fail");
  });
});

describe(ZIGBEE, () => {
  it("warns on prod: the coordinator's TCP port is on the household's LAN with the hosts, the voice guest and the proxy", () => {
    const r = rule(evaluate(prod), ZIGBEE);
    assert.equal(r.status, "advisory");
    assert.equal(r.violations.length, 1);
    const m = messages(evaluate(prod), ZIGBEE);
    assert.match(m, /Zigbee coordinator \(10\.0\.181\.40\): its serial-over-TCP port answers anyone/);
    assert.match(m, /the household's LAN 10\.0\.181\.0\/24/);
    assert.match(m, /nllei01pve01 \(10\.0\.181\.11\)/);
    assert.match(m, /nllei01llm01 \(10\.0\.181\.31\)/);
    assert.match(m, /nllei01btproxy01 \(10\.0\.181\.41\)/);
  });

  it("passes with the coordinator on a network of its own (the isolated layout: an IoT VLAN behind the router)", () => {
    assert.equal(rule(evaluate(stackOf(mutatedConfig((raw) => (raw.peripherals.zigbee.host = "10.0.183.40")))), ZIGBEE).status, "pass");
  });

  it("fails closed on a coordinator given by name", () => {
    const ev = evaluate(mutated(prod, DECL, undefined, (p) => (p.network.peripherals[0].address = "tubeszb.local")));
    assert.match(messages(ev, ZIGBEE), /"tubeszb\.local" is not an IPv4 address/);
  });

  it("fails closed without a readable declaration", () => {
    const ev = evaluate(mutated(prod, DECL, undefined, (p) => delete p.network));
    assert.match(messages(ev, ZIGBEE), /no readable haha:stack:Declaration/);
  });

  it("leaves the failure-domain analysis as it was: the coordinator is a peripheral, never a failure domain", () => {
    for (const st of [prod, stackOf(mutatedConfig((raw) => (raw.peripherals.zigbee.host = "10.0.183.40")))]) {
      const fd = rule(evaluate(st), "failure-domains");
      assert.doesNotMatch(JSON.stringify(fd), /10\.0\.18[13]\.40|coordinator/);
    }
    const domains = (st: typeof prod) => (st.find((r) => r.type === DECL)!.props as any).failureDomains;
    assert.deepEqual(domains(stackOf(mutatedConfig((raw) => (raw.peripherals.zigbee.host = "10.0.183.40")))), domains(prod));
  });
});
