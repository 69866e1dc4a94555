// The rehearsal lab's pure parts, without booting anything: the NoCloud seed Proxmox would build
// from a recorded VmLegacy, the qemu command line from a declaration, the step order from recorded
// dependencies (with components' dependencies inherited by their children), @pulumi/command's
// re-run semantics, the package set read from the plan, and the report's shape.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { actionFor, commandFor, effectiveDependencies, guestSteps, outputShown, waves } from "../../labs/vm/engine";
import { kernelFor, packageStep, packagesFromPlan } from "../../labs/vm/image";
import { declaredServices, withLabImages } from "../../labs/vm/infra";
import { strangerAddress } from "../../labs/vm/lan";
import { countRecords, parseCrm } from "../../labs/vm/scenarios";
import { accelerator, qemuArgv, vmShape } from "../../labs/vm/qemu";
import { notRunDefaults, renderMarkdown, type LabReport } from "../../labs/vm/report";
import { guestAddress, macsOf, renderSeed, snippetResolver } from "../../labs/vm/seed";
import type { RecordedResource } from "../../plan/types";
import { cloudVmArgs } from "../../components/proxmox/vm";
import { parseConfig } from "../../stacks/config/validate";
import { readStackFile } from "../../stacks/config/load";
import { ROOT } from "../helpers/config";
import * as path from "node:path";

const S = "urn:pulumi:lab::haha::";
function res(type: string, name: string, inputs: Record<string, unknown> = {}, extra: Partial<RecordedResource> = {}): RecordedResource {
  return { urn: `${S}${type}::${name}`, type, name, custom: !type.startsWith("haha:"), dependencies: [], inputs, secretInputs: [], ...extra };
}

/** The lab stack's first VM, declared by the program's own cloudVmArgs (what the plan records). */
function labVm(): RecordedResource {
  const stack = readStackFile(path.join(ROOT, "Pulumi.lab-vm.yaml"));
  const c = parseConfig(stack.raw, "Pulumi.lab-vm.yaml");
  const n = c.nodes[0]!;
  const args = cloudVmArgs(c, { node: n.name, vmid: n.guest.vmid, name: n.guest.name, address: n.guest.address, cores: n.guest.cores, memoryMiB: n.guest.memoryMiB, diskGiB: n.guest.diskGiB, mtu: n.bond.mtu }, { userDataFileId: "local:snippets/u.yaml", networkDataFileId: "local:snippets/n.yaml", macs: ["BC:24:11:00:00:B5"] });
  // Proxmox's own generator (no snippets): what a VM declaring user, keys and addresses boots with.
  args.initialization = { datastoreId: "local-lvm", ipConfigs: [{ ipv4: { address: `${n.guest.address}/24`, gateway: c.network.gateway } }], dns: { servers: c.network.dns }, userAccount: { username: "root", keys: [c.ssh.publicKey] } };
  const inputs = JSON.parse(JSON.stringify({ ...args, watchdog: { enabled: true, model: "i6300esb", action: "reset" }, hostpcis: [{ device: "hostpci0", mapping: "nvme-labpve01", pcie: true }] })) as Record<string, unknown>;
  return res("proxmoxve:index/vmLegacy:VmLegacy", `${n.guest.name}-vm`, inputs);
}

test("seed: user-data, network-config and meta-data as qemu-server's nocloud generator writes them", () => {
  const vm = labVm();
  const macs = macsOf(vm);
  assert.equal(macs[0], "bc:24:11:00:00:b5", "the declared MAC");
  assert.match(macsOf({ ...vm, inputs: { ...vm.inputs, networkDevices: [{ bridge: "vmbr0" }] } })[0]!, /^bc:24:11(:[0-9a-f]{2}){3}$/, "else one in Proxmox's OUI");
  const seed = renderSeed(vm, macs, snippetResolver([vm]));
  const user = seed["user-data"];
  assert.ok(user.startsWith("#cloud-config\n"));
  const u = parseYaml(user) as Record<string, unknown>;
  assert.equal(u.hostname, "labha01");
  assert.equal(u.user, "root");
  assert.equal(u.disable_root, false);
  assert.equal(u.users, undefined, "root as ciuser: no `users: [default]`");
  assert.deepEqual(u.ssh_authorized_keys, [((vm.inputs.initialization as { userAccount: { keys: string[] } }).userAccount.keys)[0]]);
  assert.equal(u.package_upgrade, true, "Proxmox's ciupgrade defaults to on");
  const n = parseYaml(seed["network-config"]) as { version: number; config: Record<string, unknown>[] };
  assert.equal(n.version, 1);
  assert.deepEqual(n.config[0], { type: "physical", name: "eth0", mac_address: macs[0], subnets: [{ type: "static", address: "10.181.0.21", netmask: "255.255.255.0", gateway: "10.181.0.1" }] });
  assert.deepEqual(n.config[1], { type: "nameserver", address: ["10.181.0.1"] });
  assert.equal(guestAddress(vm, seed), "10.181.0.21");
  assert.equal(seed["meta-data"], `instance-id: ${crypto.createHash("sha1").update(user + seed["network-config"]).digest("hex")}\n`);
});

test("seed: snippets the VM references replace the generated user and network data whole", () => {
  const vm = labVm();
  const file = res("proxmoxve:index/fileLegacy:FileLegacy", "labha01-user-data", { contentType: "snippets", datastoreId: "local", sourceRaw: { data: "#cloud-config\npackages:\n  - qemu-guest-agent\n", fileName: "labha01-user.yaml" } });
  (vm.inputs.initialization as Record<string, unknown>).userDataFileId = "labha01-user-data-id";
  const seed = renderSeed(vm, macsOf(vm), snippetResolver([vm, file]));
  assert.equal(seed["user-data"], "#cloud-config\npackages:\n  - qemu-guest-agent\n");
  assert.match(seed["network-config"], /name: eth0/);
  (vm.inputs.initialization as Record<string, unknown>).networkDataFileId = "local:snippets/missing.yaml";
  assert.throws(() => renderSeed(vm, macsOf(vm), snippetResolver([vm, file])), /networkDataFileId = local:snippets\/missing.yaml: no recorded proxmoxve file resource/);
});

test("qemu: the declaration's cores, memory, NIC at pci.0 slot 0x12, watchdog, NVMe and the cidata drive", () => {
  const vm = labVm();
  const shape = vmShape(vm, ["lab-vm-t181n0"], macsOf(vm));
  const files = { disk: "/d.qcow2", nvme: ["/n0.qcow2"], seedIso: "/s.iso", kernel: "/k", initrd: "/i", console: "/c.log", qmp: "/q.sock", pidfile: "/p.pid" };
  const a = qemuArgv(shape, files, "tcg");
  const after = (flag: string) => a.filter((_, i) => a[i - 1] === flag);
  assert.deepEqual(after("-smp"), ["1,sockets=1,cores=1"]);
  assert.deepEqual(after("-m"), ["1536"]);
  assert.deepEqual(after("-accel"), ["tcg,thread=multi"]);
  assert.deepEqual(after("-cpu"), ["max"]);
  const devs = after("-device");
  assert.ok(devs.includes("pci-bridge,id=pci.0,chassis_nr=1,bus=pcidmi,addr=0x1"));
  assert.ok(devs.some((d) => d.startsWith("virtio-net-pci,netdev=net0,") && d.includes(`mac=${macsOf(vm)[0]}`) && d.includes("bus=pci.0,addr=0x12")));
  assert.ok(devs.some((d) => d.startsWith("i6300esb")));
  assert.deepEqual(after("-watchdog-action"), ["reset"]);
  assert.ok(devs.some((d) => d.startsWith("nvme,drive=drive-hostpci0")));
  // agent.enabled (cloudVmArgs declares it): the guest agent's port, or qemu-guest-agent cannot start.
  assert.ok(devs.includes("virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"));
  assert.ok(after("-drive").some((d) => d.startsWith("file=/s.iso,") && d.includes("media=cdrom")));
  assert.ok(after("-netdev").includes("tap,id=net0,ifname=lab-vm-t181n0,script=no,downscript=no"));
  assert.deepEqual(qemuArgv(shape, files, "kvm").filter((_, i, x) => x[i - 1] === "-cpu"), ["host"]);
  const bare = vmShape({ ...vm, inputs: { ...vm.inputs, watchdog: { enabled: false }, hostpcis: [], agent: { enabled: false } } }, ["t"], macsOf(vm));
  const b = qemuArgv(bare, { ...files, nvme: [] }, "tcg");
  assert.ok(!b.some((x) => x.startsWith("i6300esb") || x.startsWith("nvme,") || x.startsWith("virtserialport")));
  assert.throws(() => vmShape({ ...vm, inputs: { ...vm.inputs, networkDevices: [{ bridge: "vmbr0", model: "e1000" }] } }, ["t"], ["m"]), /networkDevices\[0\]\.model = e1000/);
  assert.equal(accelerator((p) => p === "/sys/module/kvm_pvm"), "tcg");
  assert.equal(accelerator((p) => p === "/sys/module/kvm_amd"), "kvm");
});

test("steps: components' dependencies reach their children, order follows dependencies through non-step resources", () => {
  const conn = (h: string) => ({ connection: { host: h, port: 22, user: "root" }, create: `echo ${h}` });
  const vm = res("proxmoxve:index/vmLegacy:VmLegacy", "vm1");
  const pkgStep = res("haha:host:Step", "pkgs", {}, { dependencies: [vm.urn] });
  const pkgRun = res("command:remote:Command", "pkgs-run", { ...conn("10.0.0.1"), create: "apt-get install -y -q --no-install-recommends 'corosync' 'pacemaker'" }, { parent: pkgStep.urn });
  const file = res("haha:host:File", "conf", {}, { dependencies: [pkgStep.urn] });
  const write = res("command:remote:Command", "conf-write", conn("10.0.0.1"), { parent: file.urn });
  const secret = res("random:index/randomPassword:RandomPassword", "pw", {}, { dependencies: [write.urn] });
  const provider = res("pulumi:providers:docker", "d1", { host: "ssh://root@10.0.0.2:22" });
  const img = res("docker:index/remoteImage:RemoteImage", "img", { name: "repo:1@sha256:" + "a".repeat(64) }, { dependencies: [secret.urn], provider: provider.urn });
  const tag = res("docker:index/tag:Tag", "tag", { sourceImage: "repo@sha256:" + "a".repeat(64), targetImage: "localhost/haha/repo:1" }, { dependencies: [img.urn], provider: provider.urn });
  const all = [tag, img, provider, secret, write, file, pkgRun, pkgStep, vm];
  const eff = effectiveDependencies(all);
  assert.ok(eff.get(pkgRun.urn)!.has(vm.urn), "a child inherits its component's dependencies");
  assert.ok(eff.get(write.urn)!.has(pkgRun.urn), "a dependency on a component means its custom children");
  const steps = guestSteps(all);
  assert.deepEqual(waves(steps).map((w) => w.map((s) => s.name)), [["pkgs-run"], ["conf-write"], ["img"], ["tag"]]);
  assert.deepEqual(steps.find((s) => s.name === "img")!.after, [write.urn], "through the secret (not a step) to the write");
  assert.equal(steps.find((s) => s.name === "tag")!.host, "10.0.0.2");
  assert.deepEqual(packagesFromPlan(all), { flags: ["--no-install-recommends"], packages: ["corosync", "pacemaker"], from: ["pkgs-run"] });
  const snippet = res("proxmoxve:index/fileLegacy:FileLegacy", "ud", { sourceRaw: { data: "#cloud-config\npackages:\n  - qemu-guest-agent\n", fileName: "u.yaml" } });
  assert.deepEqual(packagesFromPlan([...all, snippet]).packages, ["corosync", "pacemaker", "qemu-guest-agent"], "cloud-init packages of the snippets too");
  assert.throws(() => waves([{ ...steps[0]!, after: [steps[1]!.urn] }, { ...steps[1]!, after: [steps[0]!.urn] }]), /dependency cycle/);
});

test("re-run semantics of @pulumi/command 1.x: unchanged -> nothing, triggers -> replace, other inputs -> update", () => {
  const step = guestSteps([res("command:remote:Command", "c", { connection: { host: "h" }, create: "make it", delete: "undo it", triggers: ["a"], logging: "none" })])[0]!;
  assert.equal(actionFor(step, undefined), "create");
  assert.equal(actionFor(step, { ...step.inputs }), "same");
  assert.equal(actionFor(step, { ...step.inputs, triggers: ["b"] }), "replace");
  assert.equal(actionFor(step, { ...step.inputs, create: "make it differently" }), "update");
  assert.deepEqual(commandFor(step, "replace", { ...step.inputs, delete: "undo old" }).map((c) => c.script), ["undo old", "make it"]);
  assert.deepEqual(commandFor(step, "update").map((c) => c.script), ["make it"]);
  assert.deepEqual(outputShown(step), { stdout: false, stderr: false });
});

test("image: the declared cloud image decides the kernel flavour", () => {
  assert.equal(kernelFor("debian-12-genericcloud-amd64.img"), "linux-image-cloud-amd64");
  assert.equal(kernelFor("debian-12-generic-amd64.qcow2"), "linux-image-amd64");
  assert.throws(() => kernelFor("ubuntu.img"), /cloudImage.fileName = ubuntu.img/);
});

test("report: the fields issue 9 lists, and what was not run", () => {
  const r: LabReport = {
    converged: false,
    kernel: "linux-image-cloud-amd64 (6.1.0-50-cloud-amd64)",
    checks: [{ name: "x", ok: false, evidence: "e" }],
    rerun: { stepsExecuted: 0, forcedSteps: 3, restarts: [] },
    scenarios: [],
    records: { acknowledged: 0, found: 0, lost: 0, duplicated: 0 },
    notRun: notRunDefaults("stopped"),
    lab: { started: "t", profile: "full", seconds: 1, accel: "tcg", host: "2 cores", phases: [], steps: [], vms: [] },
  };
  const j = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
  for (const k of ["converged", "kernel", "checks", "rerun", "scenarios", "records", "notRun"]) assert.ok(k in j, k);
  assert.deepEqual(Object.keys(j.rerun as object).sort(), ["forcedSteps", "restarts", "stepsExecuted"]);
  assert.deepEqual(Object.keys(j.records as object).sort(), ["acknowledged", "duplicated", "found", "lost"]);
  const md = renderMarkdown(r);
  assert.match(md, /converged: \*\*no\*\*/);
  assert.match(md, /FAIL x/);
  assert.match(md, /everything after the failing step: stopped/);
  assert.match(md, /run: the whole lab/);
  assert.match(renderMarkdown({ ...r, lab: { ...r.lab, profile: "ci" } }), /run: --ci \(CI's subset: one storage failover/, "a --ci run says it is not the whole lab");
});

test("package step: one chroot run stands for every guest only when their scripts differ by the marker alone", () => {
  const step = (name: string, marker: string, extra = "") => res("command:remote:Command", name, { connection: { host: name }, create: `set -e\napt-get update -q\napt-get install -y -q 'corosync'${extra}\nmkdir -p '/var/lib/haha/applied' && : > '/var/lib/haha/applied/${marker}'` });
  const a = step("a-run", "1".repeat(64));
  const b = step("b-run", "2".repeat(64));
  assert.deepEqual(packageStep([a, b])?.names, ["a-run", "b-run"]);
  assert.equal(packageStep([a, b])?.script, a.inputs.create, "the first guest's script, verbatim");
  assert.equal(packageStep([a, step("c-run", "3".repeat(64), " 'sbd'")]), undefined, "a guest installing more cannot be stood for");
  assert.equal(packageStep([res("command:remote:Command", "x", { connection: { host: "h" }, create: "echo no apt" })]), undefined);
});

test("records: acknowledged numbers against the file, whole lines only", () => {
  assert.deepEqual(countRecords([1, 2, 3], "1\n2\n3\n4\n"), { acknowledged: 3, found: 4, lost: 0, duplicated: 0 }, "an unacknowledged record written is no loss");
  assert.deepEqual(countRecords([1, 2, 3], "1\n3\n"), { acknowledged: 3, found: 2, lost: 1, duplicated: 0 });
  assert.deepEqual(countRecords([1, 2], "1\n2\n2\n"), { acknowledged: 2, found: 2, lost: 0, duplicated: 1 });
  assert.deepEqual(countRecords([1, 2], "1\n2\n3"), { acknowledged: 2, found: 2, lost: 0, duplicated: 0 }, "a torn last line is not a record");
  assert.equal(countRecords([1, 2], "1\n\u0000\u0000\n2\n").lost, 0, "garbage lines are skipped, not counted");
});

test("crm_mon XML: online members, quorum, active instances (promoted clones too), failures", () => {
  const out = `<pacemaker-result api-version="2.30" request="crm_mon --output-as=xml">
  <summary><current_dc present="true" name="a" with_quorum="true"/></summary>
  <nodes><node name="a" online="true"/><node name="b" online="true"/><node name="c" online="false"/></nodes>
  <resources>
    <resource id="services-vip" role="Started" active="true" failed="false"><node name="a" id="1" cached="true"/></resource>
    <clone id="drbd-clone"><resource id="drbd" role="Promoted" active="true" failed="false"><node name="a"/></resource><resource id="drbd" role="Promoted" active="true" failed="false"><node name="b"/></resource></clone>
    <group id="g"><resource id="nfs-server" role="Stopped" active="false" failed="true"/></group>
  </resources></pacemaker-result>`;
  const v = parseCrm(out)!;
  assert.deepEqual(v.online, ["a", "b"]);
  assert.equal(v.quorate, true);
  assert.deepEqual(v.active.get("drbd"), ["a", "b"]);
  assert.deepEqual(v.active.get("services-vip"), ["a"]);
  assert.equal(v.active.has("nfs-server"), false);
  assert.deepEqual(v.failed, ["nfs-server"]);
  assert.equal(parseCrm("crm_mon: error: connection refused"), undefined);
});

test("lab images: every declared service needs a lab-built image; the stack copy gets them pinned", () => {
  assert.deepEqual(declaredServices({ mosquitto: { image: "x" }, nodered: { image: "y" } }).map((d) => d.recipe), ["mosquitto", "nodered"]);
  assert.deepEqual(declaredServices({ homeassistant: { image: "h", recorder: { image: "r" } } }).map((d) => [d.service, d.recipe]), [["homeassistant", undefined], ["recorder", "recorder"]]);
  const services: Record<string, Record<string, unknown>> = { mosquitto: { image: "eclipse-mosquitto@sha256:" + "a".repeat(64), expectedStartS: 5 } };
  withLabImages(services, { mosquitto: "10.181.0.1:5000/haha/mosquitto@sha256:" + "b".repeat(64) });
  assert.deepEqual(services.mosquitto, { image: "10.181.0.1:5000/haha/mosquitto@sha256:" + "b".repeat(64), expectedStartS: 5 });
});

test("the fourth machine takes an address of the lab subnet that no member, host, VIP or gateway holds", () => {
  const stack = readStackFile(path.join(ROOT, "Pulumi.lab-vm.yaml"));
  const c = parseConfig(stack.raw, "Pulumi.lab-vm.yaml");
  const a = strangerAddress(c);
  assert.match(a, /^10\.181\.0\.\d+$/);
  const taken = [c.network.gateway, c.network.vip, c.network.storageVip, ...c.nodes.flatMap((n) => [n.address, n.guest.address])];
  assert.ok(!taken.includes(a), `${a} is taken`);
  assert.notEqual(strangerAddress({ ...c, network: { ...c.network, vip: a } }), a, "a VIP on .60 moves it on");
});

test("deploy --force runs every step's own script again, not the marker-guarded update that skips it", async () => {
  const { deploy } = await import("../../labs/vm/deploy");
  const { guardedCommands, runKey } = await import("../../components/host/rerun");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-deploy-"));
  try {
    const script = "echo applied";
    const g = guardedCommands(runKey("s", script), script, path.join(dir, "applied"));
    const step = { urn: "urn:s", type: "command:remote:Command", name: "s", host: "10.0.0.1", port: 22, user: "root", inputs: { create: g.create, update: g.update }, after: [] };
    const state = path.join(dir, "state.json");
    const ran: string[] = [];
    // Each command runs for real in sh, so the marker the create leaves is what the next run finds.
    const runner = async (_s: unknown, cmd: string) => {
      const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
      ran.push(r.stdout.trim());
      return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr, ms: 0, timedOut: false };
    };
    const quiet = () => undefined;
    await deploy([step], state, runner, (x) => x, quiet);
    assert.deepEqual(ran, ["applied"]);
    // The plain re-run: the inputs are the state's, nothing runs.
    assert.equal((await deploy([step], state, runner, (x) => x, quiet)).executed.length, 0);
    // The update alone would skip on the marker; forced, the script itself runs again.
    assert.match(spawnSync("sh", ["-c", g.update], { encoding: "utf8" }).stdout, /not run again/);
    const forced = await deploy([step], state, runner, (x) => x, quiet, { force: true });
    assert.equal(forced.executed.length, 1);
    assert.equal(forced.executed[0]!.action, "create");
    assert.deepEqual(ran, ["applied", "applied"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
