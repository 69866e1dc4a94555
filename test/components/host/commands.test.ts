// Every command a cluster member runs (each remote command's script and each shipped executable)
// must be installed there: found by the real shell parser, resolved to its Debian package by dpkg
// on this Debian 12 machine, and that package must be part of the base system or be pulled in by
// the package step (apt-cache's own dependency resolution of CLUSTER_PACKAGES, no Recommends).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { before, describe, it } from "node:test";
import { CLUSTER_PACKAGES } from "../../../components/host/packages";
import { guardedScript } from "../../../components/host/rerun";
import { runProgram } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { clusterMembers } from "../../../stacks/config/members";
import { readStackFile } from "../../../stacks/config/load";
import { PROD_STACK_FILE, prodConfig } from "../../helpers/config";
import { scriptCommands } from "../../helpers/shell";
import { PROBE_HOST_DIR } from "../../../components/services/catalog";

const sh = (cmd: string) => spawnSync("bash", ["-c", cmd], { encoding: "utf8", env: { ...process.env, PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` } });

/** What the guest's shell runs without any package: bash's builtins and keywords. */
const BUILTINS = new Set(sh("compgen -b; compgen -k").stdout.split("\n").filter(Boolean));

/**
 * Commands of packages this machine does not install (so dpkg cannot be asked): the package
 * that ships them in Debian 12; the test still requires that package to be installed there.
 */
const NOT_INSTALLED_HERE: Record<string, string> = { docker: "docker.io", modprobe: "kmod" };

function packageOf(cmd: string): string | undefined {
  const where = cmd.startsWith("/") ? cmd : sh(`command -v ${cmd}`).stdout.trim();
  if (!where.startsWith("/")) return undefined;
  const real = fs.existsSync(where) ? fs.realpathSync(where) : where;
  // usrmerge: dpkg knows a file under the path its package ships it at (/sbin or /usr/sbin).
  const candidates = [...new Set([where, real, ...[where, real].map((p) => (p.startsWith("/usr/") ? p.slice(4) : `/usr${p}`))])];
  for (const p of candidates) {
    const r = sh(`dpkg -S ${p} 2>/dev/null`);
    if (r.status === 0) return r.stdout.split(":")[0]!.split(",")[0]!.trim();
  }
  return undefined;
}

/** What `apt-get install --no-install-recommends` of the list pulls in (Depends and PreDepends, recursively). */
function installedBy(packages: string[]): Set<string> {
  const r = sh(`apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances ${packages.join(" ")}`);
  assert.equal(r.status, 0, r.stderr);
  const out = new Set(packages);
  for (const line of r.stdout.split("\n")) {
    const m = /^(?:\s+(?:Pre)?Depends: )?<?([a-z0-9][a-z0-9+.-]+)(?::any)?>?$/.exec(line.replace(/^\s*\|/, "  "));
    if (m) out.add(m[1]!);
  }
  return out;
}

/** In the image every guest boots (Debian's generic cloud image): cloud-init runs the first boot. */
const IMAGE_PACKAGES = new Set(["cloud-init"]);

/** In every Debian install: Essential, or of priority required or important; or in the guests' image. */
function basePackage(pkg: string): boolean {
  if (IMAGE_PACKAGES.has(pkg)) return true;
  const r = sh(`dpkg-query -W -f='\${Priority} \${Essential}' ${pkg} 2>/dev/null`);
  return /^(required|important) |yes$/.test(r.stdout.trim());
}

let resources: RecordedResource[] = [];
const scripts: { where: string; text: string }[] = [];
const everyGuest: { where: string; text: string }[] = [];
const shipped = new Map<string, Set<string>>();

before(async () => {
  ({ resources } = await runProgram("prod", readStackFile(PROD_STACK_FILE), false));
  const c = prodConfig();
  const members = new Set(clusterMembers(c).map((m) => m.address));
  const mount = c.storage.nfs.mountPoint;
  for (const r of resources) {
    if (r.type !== "command:remote:Command") continue;
    const host = (r.inputs.connection as { host?: string } | undefined)?.host;
    // Every guest's steps (the voice guest's too) must stop at their first failure.
    if (typeof r.inputs.create === "string") everyGuest.push({ where: `${r.name} (create)`, text: guardedScript(r.inputs.create) });
    if (!host || !members.has(host)) continue;
    // The guard around each step (components/host/rerun.ts) runs the script in a subshell: judge the script.
    if (typeof r.inputs.create === "string") scripts.push({ where: `${r.name} (create)`, text: guardedScript(r.inputs.create) });
    // A shell script shipped to the guest's own filesystem is run there (the CIB push); files on
    // the shared mount and the probes' files run inside their containers, with the image's tools.
    const target = /mv -f "\$tmp" '([^']+)'/.exec(String(r.inputs.create))?.[1];
    if (typeof r.inputs.stdin === "string" && /^#!\/bin\/(ba)?sh\n/.test(r.inputs.stdin) && target && !target.startsWith(`${mount}/`) && !target.startsWith(`${PROBE_HOST_DIR}/`)) {
      scripts.push({ where: `${r.name} (shipped file)`, text: r.inputs.stdin });
      shipped.set(host, (shipped.get(host) ?? new Set()).add(target));
    }
  }
});

describe("commands the cluster members run", () => {
  it("finds the scripts of the plan (sanity: the walk sees the CIB push and the storage steps)", () => {
    assert.ok(scripts.length > 40, `${scripts.length} scripts`);
    assert.ok(scripts.some((s) => s.text.includes("cibadmin --replace")));
    assert.ok(scripts.some((s) => s.text.includes("drbdadm")));
  });

  it("are each installed by the package step or part of every Debian system", () => {
    const installs = installedBy(Object.keys(CLUSTER_PACKAGES));
    const missing: string[] = [];
    const allShipped = new Set([...shipped.values()].flatMap((s) => [...s]));
    const seen = new Map<string, string>();
    for (const s of scripts) {
      const { commands, functions } = scriptCommands(s.text, s.where);
      for (const cmd of commands) {
        if (BUILTINS.has(cmd) || functions.includes(cmd) || allShipped.has(cmd) || seen.has(cmd)) continue;
        const pkg = packageOf(cmd) ?? NOT_INSTALLED_HERE[cmd];
        seen.set(cmd, pkg ?? "?");
        if (pkg === undefined) missing.push(`${cmd} (in ${s.where}): no Debian package ships it`);
        else if (!installs.has(pkg) && !basePackage(pkg)) missing.push(`${cmd} (in ${s.where}): from ${pkg}, which the package step does not install`);
      }
    }
    assert.deepEqual(missing, [], [...seen].map(([c, p]) => `${c}=${p}`).join(" "));
  });

  it("each stop at the first failure, also inside a pipeline (set -euo pipefail; bash, not dash), on every guest", () => {
    assert.ok(everyGuest.some((s) => s.where.startsWith("voice")), "the voice guest's steps are in the walk");
    const loose = [...everyGuest, ...scripts.filter((s) => s.where.endsWith("(shipped file)"))]
      .filter((s) => /[\n;|]/.test(s.text.trim()))
      .filter((s) => !/^(#![^\n]*\n)?(#[^\n]*\n)*set -euo pipefail\n/.test(s.text))
      .map((s) => `${s.where}: ${s.text.split("\n")[0]}`);
    assert.deepEqual(loose, []);
    for (const s of [...everyGuest, ...scripts]) assert.equal(spawnSync("bash", ["-n"], { input: s.text, encoding: "utf8" }).status, 0, `${s.where} is not valid bash`);
  });

  it("include what Pacemaker's agents and the CIB push need, which apt leaves out without Recommends", () => {
    const installs = installedBy(Object.keys(CLUSTER_PACKAGES));
    assert.ok(installs.has("pacemaker-cli-utils"), "cibadmin, crm_verify, crm_attribute, crm_node: the CIB push, ocf:linbit:drbd, ocf:pacemaker:controld, crm-fence-peer");
    assert.ok(!installs.has("pcs"), "pcs (and pcsd on 2224) is not needed: the CIB push uses cibadmin");
    // docker.io only Recommends apparmor; under Debian's AppArmor-enabled kernel dockerd then
    // starts no container at all (seen on the rehearsal lab's guests).
    assert.ok(installs.has("apparmor"), "apparmor_parser: Docker's default profile");
  });
});
