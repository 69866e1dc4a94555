// critical-services-under-pacemaker and critical-service-images.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageRepository } from "../../policies/services";
import { prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf, withResource } from "./fixtures";

const PLACEMENT = "critical-services-under-pacemaker";
const IMAGES = "critical-service-images";
const SERVICES = "haha:services:ServiceSet";
const prod = stackOf(prodConfig());
const ha = prodConfig().services.homeassistant!.image;
const service = (p: any, name: string) => p.intent.services.find((s: { name: string }) => s.name === name);

describe(PLACEMENT, () => {
  it("passes on prod: every critical service placed by Pacemaker; the voice container is not critical", () => {
    assert.equal(rule(evaluate(prod), PLACEMENT).status, "pass", messages(evaluate(prod), PLACEMENT));
  });

  it("refuses a critical service pinned to a host", () => {
    const ev = evaluate(mutated(prod, SERVICES, "services", (p) => Object.assign(service(p, "zigbee2mqtt"), { placement: "pinned", pinnedHost: "nllei01pve01" })));
    assert.equal(rule(ev, PLACEMENT).status, "fail");
    assert.match(messages(ev, PLACEMENT), /service zigbee2mqtt: critical service zigbee2mqtt is pinned to nllei01pve01: when that host fails, nothing starts it elsewhere/);
  });

  it("accepts a non-critical service pinned to a host", () => {
    const ev = evaluate(mutated(prod, SERVICES, "services", (p) => Object.assign(service(p, "esphome"), { critical: false, placement: "pinned", pinnedHost: "nllei01pve01" })));
    assert.equal(rule(ev, PLACEMENT).status, "pass");
  });

  it("refuses a raw docker.Container running a critical service's image, naming it", () => {
    const raw = withResource(prod, "docker:index/container:Container", "homeassistant-on-pve01", { image: ha.replace(/@.*/, ""), name: "ha" });
    const r = rule(evaluate(raw), PLACEMENT);
    assert.equal(r.status, "fail");
    assert.equal(r.violations[0]!.resource?.name, "homeassistant-on-pve01");
    assert.match(r.violations[0]!.message, /runs critical service homeassistant .* outside Pacemaker\. Fix: remove the docker\.Container/);
  });

  it("refuses a raw docker.Container named after a critical service", () => {
    const raw = withResource(prod, "docker:index/container:Container", "mqtt", { image: "some/other-broker:1", name: "mosquitto" });
    assert.match(messages(evaluate(raw), PLACEMENT), /runs critical service mosquitto/);
  });
});

describe(IMAGES, () => {
  it("passes on prod: digests everywhere, images pulled on all three members", () => {
    assert.equal(rule(evaluate(prod), IMAGES).status, "pass", messages(evaluate(prod), IMAGES));
  });

  it("refuses an image pinned by tag only", () => {
    const ev = evaluate(mutated(prod, SERVICES, "services", (p) => (service(p, "mosquitto").image = "eclipse-mosquitto:2.0.22")));
    assert.match(messages(ev, IMAGES), /service mosquitto: image eclipse-mosquitto:2\.0\.22 is not pinned by digest.*Fix: pin it as eclipse-mosquitto:<tag>@sha256:<64 hex>/);
  });

  it("refuses an image not pre-pulled on every member", () => {
    const ev = evaluate(mutated(prod, SERVICES, "services", (p) => (service(p, "homeassistant").prePulledOn = ["nllei01ha01"])));
    assert.match(messages(ev, IMAGES), /is not pre-pulled on nllei01ha02 and nllei01ha03: a failover there waits for a registry pull/);
  });

  it("refuses a pull of another version than the pinned one", () => {
    const ev = evaluate(mutated(prod, "docker:index/remoteImage:RemoteImage", "nllei01ha02-homeassistant-image", (p) => (p.name = "ghcr.io/home-assistant/home-assistant:stable")));
    const r = rule(ev, IMAGES);
    assert.equal(r.violations[0]!.resource?.name, "nllei01ha02-homeassistant-image");
    assert.match(r.violations[0]!.message, /pulls ghcr\.io\/home-assistant\/home-assistant:stable for critical service homeassistant, not its pinned image/);
  });

  it("fails closed without a services intent", () => {
    assert.match(messages(evaluate(mutated(prod, SERVICES, "services", (p) => delete p.intent)), IMAGES), /"services": declares no `intent`/);
  });

  it("reads image repositories with registry ports, tags and digests", () => {
    assert.equal(imageRepository("ghcr.io/koenkk/zigbee2mqtt:2.6.3@sha256:" + "a".repeat(64)), "ghcr.io/koenkk/zigbee2mqtt");
    assert.equal(imageRepository("registry.local:5000/mosquitto"), "registry.local:5000/mosquitto");
    assert.equal(imageRepository("registry.local:5000/mosquitto:2"), "registry.local:5000/mosquitto");
    assert.equal(imageRepository("postgres"), "postgres");
  });
});
