// guest-full-kernel: cluster guests never boot a genericcloud image (no OCFS2, DLM, i6300esb);
// fixtures mutated one field at a time, then the whole prod plan with the image changed in config.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootImages, guestFullKernel } from "../../policies/kernel";
import { mutatedConfig, prodConfig } from "../helpers/config";
import { evaluate, messages, mutated, rule, stackOf } from "./fixtures";

const RULE = "guest-full-kernel";
const prod = stackOf(prodConfig());
const GENERICCLOUD = "local:iso/debian-12-genericcloud-amd64.img";

describe(RULE, () => {
  it("passes the prod stack, which boots Debian 12's generic image by default", () => {
    assert.equal(prodConfig().proxmox.cloudImage.fileName, "debian-12-generic-amd64.img");
    assert.equal(prodConfig().proxmox.cloudImage.url, "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2");
    assert.equal(rule(evaluate(prod), RULE).status, "pass", messages(evaluate(prod), RULE));
  });

  it("refuses a cluster guest booting a genericcloud image, with the reason and the fix", () => {
    const ev = evaluate(mutated(prod, "proxmoxve:index/vmLegacy:VmLegacy", "nllei01ha02-vm", (p) => (p.disks[0].fileId = GENERICCLOUD)));
    assert.equal(rule(ev, RULE).status, "fail");
    const m = messages(ev, RULE);
    assert.match(m, /cluster guest nllei01ha02 boots debian-12-genericcloud-amd64\.img: a Debian genericcloud image boots the cloud kernel \(linux-image-cloud-amd64\), which has no OCFS2, no DLM and no i6300esb watchdog/);
    assert.match(m, /Fix: set haha:proxmox\.cloudImage to Debian 12's generic image/);
    assert.doesNotMatch(m, /nllei01ha01|nllei01ha03/);
  });

  it("leaves a genericcloud image on a VM outside the cluster (the voice guest) alone", () => {
    const ev = evaluate(mutated(prod, "proxmoxve:index/vmLegacy:VmLegacy", "nllei01llm01-vm", (p) => (p.disks = [{ interface: "virtio0", fileId: GENERICCLOUD }])));
    assert.equal(rule(ev, RULE).status, "pass");
  });

  it("is mandatory by default and takes its enforcement level", () => {
    assert.equal(guestFullKernel().enforcementLevel, "mandatory");
    assert.equal(guestFullKernel("advisory").enforcementLevel, "advisory");
  });

  it("reads the booted file from each disk's volume id", () => {
    assert.deepEqual(bootImages({ disks: [{ fileId: "local:iso/a.img" }, { size: 8 }, { fileId: "" }] }), ["a.img"]);
    assert.deepEqual(bootImages({}), []);
  });

  it("refuses every member when haha:proxmox.cloudImage names a genericcloud image", async () => {
    const c = mutatedConfig((raw) => (raw.proxmox.cloudImage = { url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2", fileName: "debian-12-genericcloud-amd64.img" }));
    const ev = evaluate(stackOf(c));
    assert.equal(rule(ev, RULE).status, "fail");
    assert.equal((messages(ev, RULE).match(/boots debian-12-genericcloud-amd64\.img/g) ?? []).length, 3);
  });
});
