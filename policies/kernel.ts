// guest-full-kernel: the cluster guests need Debian's full kernel. Debian's "genericcloud" images
// boot the cloud kernel (linux-image-cloud-amd64), built without OCFS2, DLM and the i6300esb
// watchdog: sbd cannot start without the watchdog, so pacemaker.service cannot, and the shared
// OCFS2 file system cannot mount. The image a VM boots is a raw fact of its disk (`fileId`).
import type { EnforcementLevel } from "@pulumi/policy";
import { Finding, StackRule, stackPolicy } from "./rule";
import { T, VM_TYPES } from "./types";
import { label, StackView } from "./view";

/** Image file names that boot a kernel without OCFS2, DLM and i6300esb, with why. */
export const CLOUD_KERNEL_IMAGES: { pattern: RegExp; why: string }[] = [
  { pattern: /genericcloud/i, why: "a Debian genericcloud image boots the cloud kernel (linux-image-cloud-amd64), which has no OCFS2, no DLM and no i6300esb watchdog" },
];

/** The image files a VM's disks boot from (`<datastore>:<content>/<file>` -> file). */
export function bootImages(props: Record<string, unknown>): string[] {
  const disks = Array.isArray(props.disks) ? (props.disks as Record<string, unknown>[]) : [];
  return disks.flatMap((d) => (d !== null && typeof d === "object" && typeof d.fileId === "string" && d.fileId !== "" ? [d.fileId.split("/").pop()!] : []));
}

function check(view: StackView): Finding[] {
  const out: Finding[] = [];
  for (const vm of view.ofType(...VM_TYPES)) {
    const guest = view.ancestors(vm).find((a) => a.type === T.guest);
    if (!guest) continue;
    const member = typeof (guest.props.intent as { member?: unknown } | undefined)?.member === "string" ? String((guest.props.intent as { member: string }).member) : guest.name;
    for (const image of bootImages(vm.props)) {
      const hit = CLOUD_KERNEL_IMAGES.find((k) => k.pattern.test(image));
      if (!hit) continue;
      out.push({
        urn: vm.urn,
        subject: label(vm),
        problem: `cluster guest ${member} boots ${image}: ${hit.why}, so sbd (and with it pacemaker.service) cannot start and OCFS2 cannot mount`,
        fix: "set haha:proxmox.cloudImage to Debian 12's generic image (https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-generic-amd64.qcow2, fileName debian-12-generic-amd64.img), which boots linux-image-amd64",
        targets: [member, vm.name],
      });
    }
  }
  return out;
}

export const guestFullKernelRule: StackRule = {
  kind: "stack",
  name: "guest-full-kernel",
  description: "Every cluster guest boots an image with Debian's full kernel (OCFS2, DLM, the i6300esb watchdog): never a genericcloud image.",
  defaultLevel: "mandatory",
  // Without those modules the cluster cannot start at all: no risk to accept.
  waivable: false,
  check,
};

export const guestFullKernel = (level?: EnforcementLevel) => stackPolicy(guestFullKernelRule, level);
