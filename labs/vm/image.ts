// The guest image and the local apt repository, built from Debian's mirror and cached by what
// decides their content: the kernel flavour and base packages of the image the stack declares
// (the rootfs and the disk), and the exact package set the program's package step installs (the
// repository). A fresh machine builds them; a dev session reuses them.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "../../plan/types";
import { parse as parseYaml } from "yaml";
import { must } from "../common/proc";
import { SNIPPET_TYPES } from "./seed";

/**
 * The base packages of Debian 12's cloud images (debian-cloud-images: cloud-init with the NoCloud
 * datasource, OpenSSH, ifupdown + ISC dhclient as bookworm's images configure the network,
 * growpart), on a minbase system with systemd and udev. No cluster package: the program installs those.
 */
export const CLOUD_BASE_PACKAGES = ["systemd-sysv", "udev", "kmod", "iproute2", "iputils-ping", "openssh-server", "cloud-init", "ifupdown", "isc-dhcp-client", "cloud-guest-utils", "dbus", "ca-certificates", "sudo", "procps", "less", "locales"];

/** The kernel package of the image the stack declares: genericcloud boots the cloud kernel. */
export function kernelFor(fileName: string): string {
  if (/genericcloud/.test(fileName)) return "linux-image-cloud-amd64";
  if (/generic|nocloud/.test(fileName)) return "linux-image-amd64";
  throw new Error(`haha:proxmox.cloudImage.fileName = ${fileName}: the lab knows Debian's genericcloud (cloud kernel) and generic/nocloud (full kernel) images only`);
}

export interface PackageSet {
  flags: string[];
  packages: string[];
  /** Where each came from (resource name), for the report. */
  from: string[];
}

/**
 * Every package the program installs with apt: each `apt-get install` in a recorded command
 * (its packages and its --no-install-recommends), plus cloud-init `packages:` of the snippets the
 * VMs boot with. Read from the plan, never from a copy of the list.
 */
export function packagesFromPlan(resources: RecordedResource[]): PackageSet {
  const pkgs = new Set<string>();
  const flags = new Set<string>();
  const from: string[] = [];
  for (const r of resources) {
    const texts: string[] = [];
    if (r.type === "command:remote:Command") for (const k of ["create", "update"]) if (typeof r.inputs[k] === "string") texts.push(r.inputs[k] as string);
    for (const t of texts) {
      for (const line of t.split("\n")) {
        const m = /\bapt-get\s+(?:[^\n;&|]*\s)?install\s+([^\n;&|]+)/.exec(line);
        if (!m) continue;
        const words = (m[1] as string).trim().split(/\s+/).map((w) => w.replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1"));
        if (words.some((w) => w.includes("$"))) throw new Error(`${r.name}: apt-get install with a variable package list (${line.trim()}): the lab cannot read what it installs`);
        for (const w of words) {
          if (w === "--no-install-recommends") flags.add(w);
          else if (!w.startsWith("-")) pkgs.add(w);
        }
        from.push(r.name);
      }
    }
    if (SNIPPET_TYPES.has(r.type)) {
      const data = (r.inputs.sourceRaw as { data?: string } | undefined)?.data ?? "";
      if (!data.startsWith("#cloud-config")) continue;
      const doc = parseYaml(data) as { packages?: unknown } | null;
      const listed = Array.isArray(doc?.packages) ? doc.packages : [];
      for (const p of listed) {
        if (typeof p !== "string") throw new Error(`${r.name}: cloud-init packages entry ${JSON.stringify(p)}: the lab reads plain package names only`);
        pkgs.add(p);
      }
      if (listed.length > 0) from.push(r.name);
    }
  }
  if (pkgs.size === 0) throw new Error("the plan installs no package with apt-get: the lab found no package step");
  return { flags: [...flags].sort(), packages: [...pkgs].sort(), from: [...new Set(from)] };
}

/**
 * The program's package step: the `command:remote:Command` that runs `apt-get install`. Every
 * guest's copy must be the same script but for its own marker line (rerun.ts), so one chroot run
 * stands for all; otherwise there is nothing to bake and the guests install under TCG.
 */
export function packageStep(resources: RecordedResource[]): { script: string; names: string[] } | undefined {
  const steps = resources.filter((r) => r.type === "command:remote:Command" && typeof r.inputs.create === "string" && /\bapt-get\s+(?:[^\n;&|]*\s)?install\s/.test(r.inputs.create as string));
  if (steps.length === 0) return undefined;
  const unmarked = (s: string) => s.replace(/^mkdir -p '\/var\/lib\/haha\/applied' && : > .*$/m, "");
  const first = steps[0]?.inputs.create as string;
  if (steps.some((r) => unmarked(r.inputs.create as string) !== unmarked(first))) return undefined;
  return { script: first, names: steps.map((r) => r.name) };
}

export interface Built {
  dir: string;
  disk: string;
  kernel: string;
  initrd: string;
  kernelRelease: string;
  kernelPackage: string;
  repo: string;
  cached: { image: boolean; repo: boolean };
  /** The package step run in a chroot of the image: `dpkg-query -W` after it, "Package Version" lines. */
  baked?: { packages: string[]; log: string };
}

const hash = (...parts: string[]) => crypto.createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);

export async function buildImage(cacheDir: string, fileName: string, set: PackageSet, repoUrl: string, log: (s: string) => void, bake?: { script: string; images?: { netns: string; registry: string; refs: string[] } }): Promise<Built> {
  const script = path.join(__dirname, "build-image.sh");
  const text = fs.readFileSync(script, "utf8");
  // Each product is keyed by the part of the script that makes it (a change to one rebuilds only what it makes).
  const part = (name: string) => new RegExp(`\n${name}\\)\n[\\s\\S]*?\n  ;;`).exec(text)?.[0] ?? text;
  const common = text.slice(0, text.indexOf("case \"$cmd\""));
  const kernelPackage = kernelFor(fileName);
  const rootfsKey = hash(kernelPackage, CLOUD_BASE_PACKAGES.join(" "), common, part("rootfs"));
  const imageKey = hash(rootfsKey, part("disk"), part("bake"), repoUrl);
  const repoKey = hash(rootfsKey, part("repo"), set.flags.join(" "), set.packages.join(" "));
  const rootfs = path.join(cacheDir, `rootfs-${rootfsKey}`);
  const repo = path.join(cacheDir, `repo-${repoKey}`);
  const bakeKey = bake ? hash(repoKey, bake.script, ...(bake.images?.refs ?? [])) : undefined;
  const imgDir = path.join(cacheDir, bakeKey ? `image-${imageKey}-${bakeKey}` : `image-${imageKey}`);
  const baked = path.join(cacheDir, `baked-${bakeKey}`);
  fs.mkdirSync(cacheDir, { recursive: true });
  // Older keys are dead weight against the 6 GB budget.
  for (const e of fs.readdirSync(cacheDir)) {
    const p = path.join(cacheDir, e);
    if (![rootfs, imgDir, repo, `${imgDir}.packages`, `${imgDir}.bake.log`].includes(p) && /^(rootfs|image|repo|baked)-/.test(e)) fs.rmSync(p, { recursive: true, force: true });
  }
  const cached = { image: fs.existsSync(path.join(imgDir, "base.qcow2")), repo: fs.existsSync(path.join(repo, "Release")) };
  if (!fs.existsSync(rootfs) && (!cached.image || !cached.repo)) {
    log(`image: debootstrap bookworm from deb.debian.org with ${kernelPackage} and the cloud image's base packages (about 3 minutes)`);
    await must("bash", [script, "rootfs", rootfs, kernelPackage, CLOUD_BASE_PACKAGES.join(" ")], { timeoutMs: 20 * 60_000 });
  }
  if (!cached.repo) {
    log(`repo: apt-get install --download-only ${set.flags.join(" ")} of ${set.packages.length} packages in a chroot of the image (${set.packages.join(" ")})`);
    await must("bash", [script, "repo", rootfs, repo, set.flags.join(" "), set.packages.join(" ")], { timeoutMs: 20 * 60_000 });
  }
  if (!cached.image) {
    let from = rootfs;
    if (bake) {
      log("image: the program's package step, run in a chroot copy of the image against the lab repository (what the guests would install under TCG for minutes each)");
      const stepFile = path.join(cacheDir, "package-step.sh");
      fs.writeFileSync(stepFile, bake.script);
      const pulls = bake.images && bake.images.refs.length > 0 ? bake.images : undefined;
      const imagesFile = path.join(cacheDir, "image-pulls.txt");
      if (pulls) {
        fs.writeFileSync(imagesFile, pulls.refs.join("\n") + "\n");
        log(`image: the program's ${pulls.refs.length} image pulls, by digest from the lab registry, into the copy's Docker store`);
      }
      await must("bash", [script, "bake", rootfs, baked, repo, stepFile, ...(pulls ? [pulls.netns, pulls.registry, imagesFile] : [])], { timeoutMs: 20 * 60_000 });
      fs.renameSync(`${baked}.packages`, `${imgDir}.packages`);
      fs.renameSync(`${baked}.log`, `${imgDir}.bake.log`);
      from = baked;
    }
    log("image: ext4 filesystem -> qcow2 base, kernel and initrd");
    await must("bash", [script, "disk", from, imgDir, repoUrl], { timeoutMs: 20 * 60_000 });
    if (bake) fs.rmSync(baked, { recursive: true, force: true });
  }
  // The rootfs is only needed to make the disk or a repository; with both cached it can go.
  return {
    dir: imgDir,
    disk: path.join(imgDir, "base.qcow2"),
    kernel: path.join(imgDir, "vmlinuz"),
    initrd: path.join(imgDir, "initrd.img"),
    kernelRelease: fs.readFileSync(path.join(imgDir, "kernel-release"), "utf8").trim(),
    kernelPackage,
    repo,
    cached,
    baked: bake ? { packages: fs.readFileSync(`${imgDir}.packages`, "utf8").split("\n").filter(Boolean), log: `${imgDir}.bake.log` } : undefined,
  };
}
