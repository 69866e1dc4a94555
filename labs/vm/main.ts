// `npm run lab -- vm [--keep]`: the rehearsal lab (issue 9). Plans the lab stack with the real
// program and real secrets, plays Proxmox for each VmLegacy (qemu under TCG, the program's
// cloud-init as a NoCloud seed), executes every guest-side step of the plan over SSH in its
// dependency order, checks the result on the guests, re-runs, and writes build/lab/report.{json,md}.
// Exit: 0 converged and every check passed, 1 a check or scenario failed (the program's
// deployment is wrong), 2 usage, 3 the lab itself broke.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml, stringify } from "yaml";
import type { RecordedResource } from "../../plan/types";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";
import type { HahaConfig } from "../../stacks/config/schema";
import { shq } from "../../components/host/connection";
import { serviceFiles } from "../../components/services";
import { parseCrmMon } from "../common/crm-mon";
import { excerpt, must, run, sleep } from "../common/proc";
import { LabSecrets } from "../common/secrets";
import { agentCheck, CheckResult, convergedChecks } from "./checks";
import { deploy, DeployResult } from "./deploy";
import { actionFor, guestSteps, LOCAL, Step } from "./engine";
import { buildImage, Built, packageStep, packagesFromPlan } from "./image";
import type { FakePveApi } from "../common/fake-pve";
import { labCa, proxmoxApi, pushImages, REGISTRY, trustRegistry, withLabImages } from "./infra";
import { BRIDGE, BRIDGE_ADDR, Guest, Lab, NS } from "./lab";
import { addStranger, LAN_NS, mqttRoundTrip, removeStranger, strangerChecks } from "./lan";
import { type ChangeCtx, labChanges, runChange, type StackDoc } from "./changes";
import { simulateScenarios } from "../../plan/failover";
import { actualPlacement, placementDiff, plannedPlacement, type Placed } from "./placement";
import { StorageScenarios } from "./scenarios";
import { LabReport, leftOutServices, notRunDefaults, writeReport } from "./report";

const ROOT = path.resolve(__dirname, "..", "..");
// build/lab, not build/lab-vm: that is where a plan of stack lab-vm writes (issue 9 names build/lab/report.json).
const OUT = path.join(ROOT, "build", "lab");
const RUN = path.join(OUT, "run");
const CACHE = path.join(OUT, "cache");
const REPO_PORT = 80;
const USAGE = `usage: npm run lab -- vm [--keep] [--resume] [--ci | --skip-failovers] [--stack FILE]
  --keep        leave the guests running afterwards and print how to reach each
  --resume      take over the guests a --keep run left and deploy the plan again from its
                engine state (what a second \`pulumi up\` does; for developing the program)
  --ci          what .ci/run runs in CI's time: the deploy, the re-runs, the converged and LAN
                checks and one storage failover (power loss of the member serving NFS, every
                acknowledged record checked); the other failovers, drbdadm verify, the config
                changes on the running cluster, loopback NFS and two-lost are listed in the
                report as not run. Exit 0 when all it ran passed
  --skip-failovers  a developer's run: deploy, re-runs and the config changes on the running
                cluster, without the storage failovers, loopback NFS and two-lost phases (about
                an hour less under TCG); never a passing run (exit 1 at best)
  --stack FILE  the lab stack (default: Pulumi.lab-vm.yaml)`;

class LabBroke extends Error {}

/** What the lab puts into the stack it plans: its CA (as the Proxmox CA) and its images' digests. */
let overrides: { caCert: string; pinned: Record<string, string> } | undefined;
let api: FakePveApi | undefined;

const t0 = Date.now();
const stamp = () => `[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)} s]`;

export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { keep: { type: "boolean" }, resume: { type: "boolean" }, "skip-failovers": { type: "boolean" }, ci: { type: "boolean" }, stack: { type: "string" }, help: { type: "boolean" } }, strict: true, allowPositionals: false }));
  } catch (e) {
    console.log(`lab vm: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    console.log("lab vm: needs root (network namespaces, taps, chroot)");
    return 2;
  }
  const stackFile = path.resolve(values.stack ?? path.join(ROOT, "Pulumi.lab-vm.yaml"));
  if (!fs.existsSync(stackFile)) {
    console.log(`lab vm: no stack file ${stackFile}\n${USAGE}`);
    return 2;
  }
  const keep = values.keep === true || values.resume === true;
  const resume = values.resume === true;
  const skipFailovers = values["skip-failovers"] === true;
  const ci = values.ci === true;
  if (ci && (skipFailovers || keep)) {
    console.log(`lab vm: --ci runs on its own (not with --skip-failovers, --keep or --resume)\n${USAGE}`);
    return 2;
  }
  fs.mkdirSync(OUT, { recursive: true, mode: 0o700 });
  let secrets: LabSecrets | undefined;
  const redact = (s: string) => (secrets ? secrets.redact(s) : s);
  const logFile = path.join(OUT, "lab.log");
  fs.writeFileSync(logFile, "");
  const log = (s: string) => {
    const line = `${stamp()} ${redact(s)}`;
    console.log(line);
    fs.appendFileSync(logFile, `${line}\n`);
  };

  // One lab-vm at a time on a machine: a second one would remove the first one's namespace.
  const lock = path.join(OUT, "lock");
  try {
    fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    const other = Number(fs.readFileSync(lock, "utf8").trim());
    let alive = false;
    try {
      process.kill(other, 0);
      alive = other !== process.pid;
    } catch {
      /* a stale lock of a run that died */
    }
    if (alive) {
      console.log(`lab vm: another lab-vm run (pid ${other}) is using ${OUT}; wait for it or stop it`);
      return 3;
    }
    fs.writeFileSync(lock, String(process.pid));
  }
  process.on("exit", () => fs.rmSync(lock, { force: true }));
  if (!resume) for (const d of Lab.cleanup(RUN)) log(`leftover of a previous run: ${d}`);
  fs.mkdirSync(RUN, { recursive: true, mode: 0o700 });
  const lab = new Lab(RUN, path.join(OUT, "deploy_key"), log);
  if (resume && !lab.adoptGuests()) {
    console.log(`lab vm: --resume: no running guests of a --keep run in ${RUN}`);
    return 2;
  }
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted = true;
    if (keep) {
      console.log(`lab vm: ${sig}: --keep: the guests stay up (the next run without --resume removes them)`);
      process.exit(130);
    }
    console.log(`lab vm: ${sig}: stopping the guests and removing the lab`);
    Lab.cleanup(RUN);
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const report: LabReport = {
    converged: false,
    kernel: "",
    checks: [],
    rerun: { stepsExecuted: -1, forcedSteps: 0, restarts: [] },
    scenarios: [],
    records: { acknowledged: 0, found: 0, lost: 0, duplicated: 0 },
    notRun: [],
    lab: { started: new Date(t0).toISOString(), profile: ci ? "ci" : skipFailovers ? "skip-failovers" : "full", seconds: 0, accel: "", phases: [], steps: [], vms: [], host: `${os.cpus().length} cores, load ${os.loadavg()[0]?.toFixed(2)} at start` },
  };
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    log(`== ${name}`);
    try {
      return await fn();
    } finally {
      report.lab.phases.push({ name, seconds: Math.round((Date.now() - s) / 1000) });
    }
  };
  let code: number;
  try {
    await phase("install the lab's tools", async () => {
      await must("sh", [path.join(__dirname, "install.sh")], { timeoutMs: 10 * 60_000 }).catch((e: Error) => {
        throw new LabBroke(e.message);
      });
    });
    // The lab's side of the bridge first: the registry's digests and the CA go into the planned stack.
    const raw = parseYaml(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
    const rawNodes = (raw.config["haha:nodes"] ?? []) as { address?: string }[];
    const rawServices = (raw.config["haha:services"] ?? {}) as Record<string, Record<string, unknown>>;
    const ca = await labCa(path.join(OUT, "ca"), rawNodes.map((n) => String(n.address)));
    await phase("the lab's network, registry and images", async () => {
      if (resume) await Lab.stopServices(RUN);
      else {
        await lab.network(1500);
        for (const n of rawNodes) await must("ip", ["-n", NS, "addr", "add", `${String(n.address)}/32`, "dev", BRIDGE]);
      }
      const { pinned } = await pushImages(RUN, CACHE, ca, rawServices, log).catch((e: Error) => {
        throw new LabBroke(e.message);
      });
      overrides = { caCert: ca.caCertPem, pinned };
    });
    const { planned, config } = await phase("plan the lab stack with the real program", () => plan(stackFile, log));
    secrets = new LabSecrets(path.join(OUT, "secrets.json"), {});
    // The plan's all-up placement of the CIB this plan ships, by the plan's own crm_simulate run.
    const cibStep = planned.find((r) => r.name.endsWith("-cib-write") && typeof r.inputs.stdin === "string");
    if (!cibStep) throw new LabBroke("the plan ships no CIB (no *-cib-write step with the CIB as its stdin)");
    const sim = await simulateScenarios({ config, cibXml: String(cibStep.inputs.stdin), workDir: path.join(RUN, "simulate") });
    const allUpRun = sim.scenarios.find((x) => x.id === "all-up");
    if (!allUpRun?.ok) throw new LabBroke(`the plan's all-up scenario for the lab stack is not as expected: ${allUpRun?.problems.join("; ") ?? "missing"}`);
    const allUp = plannedPlacement(allUpRun.simulated);
    const resources = planned;
    const vms = resources.filter((r) => r.type === "proxmoxve:index/vmLegacy:VmLegacy");
    if (vms.length === 0) throw new LabBroke("the plan declares no proxmoxve:index/vmLegacy:VmLegacy");
    const steps = guestSteps(resources);
    log(`plan: ${resources.length} resources, ${vms.length} VMs, ${steps.length} guest-side steps`);
    const pkgStep = packageStep(resources);
    if (!pkgStep) log("the guests' package steps differ beyond their markers: no chroot run stands for them; each guest installs under TCG");
    // The images every guest's RemoteImage pulls (the same set on each: pre-pulled on every member).
    const pulls = [...new Set(resources.filter((r) => r.type === "docker:index/remoteImage:RemoteImage").map((r) => String(r.inputs.name)))].sort();
    const image = await phase("guest image and local apt repository", () => buildImage(CACHE, config.proxmox.cloudImage.fileName, packagesFromPlan(resources), `http://${BRIDGE_ADDR}${REPO_PORT === 80 ? "" : `:${REPO_PORT}`}/`, log, pkgStep && { script: pkgStep.script, images: { netns: NS, registry: REGISTRY, refs: pulls } }).catch((e: Error) => {
      throw new LabBroke(e.message);
    }));
    report.kernel = `${image.kernelPackage} (${image.kernelRelease})`;
    report.lab.image = { cached: image.cached, kernelPackage: image.kernelPackage };
    if (resume) log(`--resume: took over ${lab.guests.map((g) => g.shape.name).join(", ")}`);
    else await phase("boot the guests as Proxmox would", () => boot(lab, vms, resources, image, report, log));
    lab.saveGuests();
    await trustRegistry(lab, ca);
    api = await proxmoxApi(lab, config, resources, ca, log);
    if (resume) {
      // The lab's Proxmox API lives in the lab's process: between a run and its --resume it was
      // gone, and the fence devices' starts and monitors failed against it. Those failures are
      // the lab's, not the cluster's: cleared (fence devices only), and said so.
      const mon = parseCrmMon((await lab.ssh(lab.guests[0]!.address, "crm_mon -1 -r --output-as=xml", { timeoutMs: 60_000 })).stdout);
      const devices = (mon?.failedResources ?? []).filter((id) => id.startsWith("fence-"));
      for (const d of devices) await lab.ssh(lab.guests[0]!.address, `crm_resource --cleanup --resource ${shq(d)}`, { timeoutMs: 120_000 });
      if (devices.length) log(`--resume: cleared the fence devices' failures while the lab's Proxmox API was down: ${devices.join(", ")}`);
      // A --keep run stopped mid-failover leaves a cluster still recovering: deploy onto a settled
      // one. Not "where the plan puts it": after a failover nothing fails back (stickiness), and a
      // fence device that moved stays where it went (run 4 waited on one).
      const view = await new StorageScenarios({ lab, api, config, log }).converged(REJOIN_MS);
      log(`--resume: the cluster has settled: ${view.online.length} members online, nothing failed`);
    }
    log(`Proxmox API (fence_pve's) on ${config.nodes.map((n) => `${n.address}:8006`).join(", ")}, TLS from the lab CA the stack declares; registry on https://${REGISTRY}/`);
    report.lab.accel = fs.existsSync("/sys/module/kvm_intel") || fs.existsSync("/sys/module/kvm_amd") ? "kvm" : "tcg (software emulation: timings are not a home's)";

    const runner = (s: Step, script: string, stdin: string | undefined) => {
      // command:local:Command runs on the machine running Pulumi: here, the lab's, with /bin/sh -c as the provider does.
      if (s.host === LOCAL) return run("/bin/sh", ["-c", script], { input: stdin, timeoutMs: 10 * 60_000 });
      if (s.sshOpts) return lab.ssh(s.host, script, { port: s.port, user: s.user, timeoutMs: 25 * 60_000, sshOpts: s.sshOpts, dialAttempts: 10 });
      const c = s.inputs.connection as { hostKey?: string; dialErrorLimit?: number; perDialTimeout?: number } | undefined;
      return lab.ssh(s.host, script, { stdin, port: s.port, user: s.user, timeoutMs: 25 * 60_000, hostKey: c?.hostKey, dialAttempts: c?.dialErrorLimit ?? 10, connectTimeoutS: c?.perDialTimeout ?? 10 });
    };
    const stateFile = path.join(RUN, "state.json");
    const first = await phase(`deploy: ${steps.length} steps in dependency order`, () => deploy(steps, stateFile, runner, redact, log));
    recordSteps(report, first);
    if (first.failed) {
      log(`deployment stopped at step ${first.failed.n}/${first.planned}: ${first.failed.host} ${first.failed.name} (exit ${first.failed.exitCode})`);
    }

    await phase("re-run: the same plan again", async () => {
      const again = await plan(stackFile, log);
      const again2 = guestSteps(again.planned);
      const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as Record<string, Record<string, unknown>>;
      const done = again2.filter((s) => state[s.urn]);
      const changed = done.filter((s) => actionFor(s, state[s.urn]) !== "same");
      const r = await deploy(done, stateFile, runner, redact, log);
      report.rerun.stepsExecuted = r.executed.length;
      report.checks.push({ name: "plain re-run executes no step", ok: r.executed.length === 0 && changed.length === 0, evidence: r.executed.length === 0 ? `0 of ${done.length} deployed steps re-ran (inputs unchanged)` : `re-ran: ${r.executed.map((e) => e.name).join(", ")}` });
      if (first.failed) return;
      const before = await snapshot(lab, config);
      const forced = await deploy(done, stateFile, runner, redact, log, { force: true });
      report.rerun.forcedSteps = forced.executed.length;
      const after = await snapshot(lab, config);
      const diff = diffSnapshots(before, after);
      report.rerun.restarts = diff.filter((d) => !d.includes(": changed: "));
      report.rerun.changedFiles = diff.filter((d) => d.includes(": changed: ")).map((d) => d.replace(": changed: ", ": "));
      report.checks.push({ name: "forced re-run of every step succeeds, restarts nothing, changes no file", ok: !forced.failed && diff.length === 0, evidence: forced.failed ? `step ${forced.failed.name} failed: ${forced.failed.output}` : `restarted: ${report.rerun.restarts.join(", ") || "nothing"}; files changed: ${report.rerun.changedFiles.join(", ") || "none"}` });
    });

    if (!first.failed) {
      await phase("changed config: corosync token +100 ms re-runs exactly the steps whose inputs changed", async () => {
        const doc = parseYaml(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, { corosync?: { tokenMs?: number } }> };
        const cl = doc.config["haha:cluster"];
        if (!cl?.corosync?.tokenMs) throw new LabBroke("the lab stack sets no haha:cluster.corosync.tokenMs to change");
        cl.corosync.tokenMs += 100;
        const changedFile = path.join(OUT, "Pulumi.lab-vm-changed.yaml");
        fs.writeFileSync(changedFile, stringify(doc));
        const changed = await plan(changedFile, log);
        const cs = guestSteps(changed.planned);
        const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as Record<string, Record<string, unknown>>;
        const expected = cs.filter((s) => actionFor(s, state[s.urn]) !== "same").map((s) => s.name);
        const r = await deploy(cs, stateFile, runner, redact, log);
        report.rerun.changedConfig = { change: "haha:cluster.corosync.tokenMs +100", steps: r.executed.map((e) => `${e.host} ${e.name} (${e.action})`) };
        report.checks.push({ name: "changed config re-runs exactly the steps whose inputs changed", ok: !r.failed && r.executed.length === expected.length && expected.length > 0, evidence: r.failed ? `step ${r.failed.name} failed: ${r.failed.output}` : `re-ran ${r.executed.length}: ${r.executed.map((e) => e.name).join(", ")}` });
        report.checks.push(await check(lab, "cluster stays up through the changed config", config.nodes.map((n) => n.guest.address), "corosync-quorumtool -s | grep -Eq '^Quorate: +Yes' && crm_mon -1 -r", redact));
        // Back to the stack as declared, so the checks below see it.
        await deploy(guestSteps((await plan(stackFile, log)).planned), stateFile, runner, redact, log);
      });
    }

    if (resume) report.notRun.push({ what: "the package step in a chroot = on each guest", why: "--resume: the guests' own run of the step was in the run that deployed them" });
    else if (image.baked && pkgStep) {
      // The chroot run stands for the guests' only if their own run of the same step installs nothing more.
      const baked = image.baked.packages;
      const parts: string[] = [];
      let ok = true;
      for (const g of lab.guests) {
        const r = await lab.ssh(g.address, "dpkg-query -W -f '${Package} ${Version}\\n'", { timeoutMs: 60_000 });
        const have = new Set(r.stdout.split("\n").filter(Boolean));
        const missing = baked.filter((p) => !have.has(p));
        const rec = [...first.executed, ...report.lab.steps].find((e) => e.host === g.address && pkgStep.names.includes(e.name));
        const noop = rec ? /\b0 newly installed\b/.test(rec.output) : false;
        ok &&= r.code === 0 && missing.length === 0 && noop;
        parts.push(`${g.shape.name}: ${baked.length - missing.length}/${baked.length} packages of the chroot run at the same version${missing.length ? ` (missing: ${missing.slice(0, 8).join(", ")})` : ""}; its own run of the step: ${rec ? (noop ? "0 newly installed" : "installed more (see the step's output)") : "did not run"}`);
      }
      report.checks.push({ name: "the package step run in a chroot of the image = the same step run on each guest", ok, evidence: parts.join("\n") });
    }

    await phase("converged checks on the guests", async () => {
      // After a stopped deployment there is nothing to wait for: the evidence is what runs now.
      const placed = await placementCheck(lab, config.nodes[0]!.guest.address, allUp, log, first.failed ? 0 : 5 * 60_000);
      report.checks.push({ ...placed, evidence: redact(placed.evidence) });
      log(`check ${placed.ok ? "ok  " : "FAIL"} ${placed.name}`);
      for (const c of convergedChecks(config)) report.checks.push(await check(lab, c.name, c.hosts, c.script, redact));
      for (const c of report.checks.slice(-convergedChecks(config).length)) log(`check ${c.ok ? "ok  " : "FAIL"} ${c.name}`);
      for (const g of lab.guests.filter((x) => x.shape.agent)) {
        const a = await agentCheck(lab, g);
        report.checks.push(a);
        log(`check ${a.ok ? "ok  " : "FAIL"} ${a.name}`);
      }
    });
    if (!first.failed) {
      await phase("a fourth machine on the LAN: the services answer it, the doors stay shut", async () => {
        // Node-RED's own MQTT user: its ACL gives it nodered/#, where the round trip goes.
        const pw = secrets?.known("random:index/randomPassword:RandomPassword", "services-mqtt-nodered")?.result;
        if (!config.services.nodered || !pw) throw new LabBroke("the lab stack must declare Node-RED: its MQTT user (services-mqtt-nodered) is the LAN client of the round trip");
        const probes = await strangerChecks(config, { mqttUser: "nodered", mqttPassword: pw, dir: path.join(OUT, "run") });
        for (const c of probes) log(`check ${c.ok ? "ok  " : "FAIL"} ${c.name}`);
        report.checks.push(...probes);
      });
    }
    report.converged = !first.failed && report.checks.every((c) => c.ok);
    if (report.converged && api) {
      const fake = api;
      const sc = new StorageScenarios({ lab, api: fake, config, log });
      try {
        if (skipFailovers) report.notRun.push({ what: "storage failovers, loopback NFS under memory pressure, two of three lost", why: "--skip-failovers (a developer's run: this run cannot pass)" });
        else
          await phase(ci ? "storage failover (--ci: the member serving NFS) with the numbered-record writer" : "storage failover with the numbered-record writer", async () => {
            await storageFailovers(sc, lab, config, report, ci);
            sc.stop();
          });
        if (ci)
          report.notRun.push(
            { what: "power loss of each diskful member in turn, the services member's cable, drbdadm verify", why: "--ci: one storage failover in CI's time (the full lab runs them all)" },
            { what: "changed config on the running cluster (the broker's ACL, an operator's ban, DRBD, SBD), loopback NFS under memory pressure, two of three lost", why: "--ci: left to the full lab (about 40 min more under TCG)" },
          );
        // On the cluster the failovers left (each member fenced once): what a user changes next.
        if (!ci) await phase("changed config on the running cluster: the broker's ACL, the CIB with an operator's ban, DRBD, SBD", async () => {
          const doc = parseYaml(fs.readFileSync(stackFile, "utf8")) as StackDoc;
          const changedFile = path.join(OUT, "Pulumi.lab-vm-changes.yaml");
          const stranger = await addStranger(config);
          const ctx: ChangeCtx = {
            lab,
            api: fake,
            config,
            log,
            mqttPassword: (user) => secrets?.known("random:index/randomPassword:RandomPassword", `services-mqtt-${user}`)?.result,
            mqttRoundTrip: (user, password, topic) => mqttRoundTrip(config, stranger, { mqttUser: user, mqttPassword: password, dir: path.join(OUT, "run") }, topic),
            keep: (name, text) => {
              const file = path.join(OUT, name);
              fs.writeFileSync(file, redact(text), { mode: 0o600 });
              return file;
            },
          };
          try {
            for (const ch of labChanges(config)) {
              log(`change: ${ch.title}`);
              report.checks.push(
                ...(await runChange(ctx, ch, async (x) => {
                  x.mutate(doc);
                  fs.writeFileSync(changedFile, stringify(doc));
                  const changed = await plan(changedFile, log);
                  // The plan made the change's new secrets (a new MQTT user's password): read them, so they are redacted and known.
                  secrets = new LabSecrets(path.join(OUT, "secrets.json"), {});
                  const cs = guestSteps(changed.planned);
                  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as Record<string, Record<string, unknown>>;
                  const expected = cs.filter((s) => actionFor(s, state[s.urn]) !== "same").map((s) => s.name);
                  return { expected, result: await deploy(cs, stateFile, runner, redact, log) };
                })),
              );
            }
          } finally {
            await removeStranger();
          }
        });
        if (!skipFailovers && !ci) await phase("loopback NFS under memory pressure on the member serving the export", async () => {
          const lp = await sc.loopbackUnderPressure();
          report.checks.push({ name: "loopback NFS under memory pressure: the export's own member keeps writing to its mount of it, no hung task", ...lp });
          log(`check ${lp.ok ? "ok  " : "FAIL"} loopback NFS under memory pressure: ${lp.evidence}`);
          // Two of three lost starts from a settled cluster, whatever the pressure did.
          await sc.converged(REJOIN_MS).catch((e: Error) => log(`  before two-lost: ${e.message}`));
        });
        if (!skipFailovers && !ci) await phase("two of three lost", async () => {
          const [a, b] = config.nodes.filter((n) => n.drbdDisk).map((n) => n.guest.name);
          // 90 s of watching, then up to 10 min for the survivor's own reset and boot under TCG.
          if (a && b) await sc.twoLost(a, b, 90_000, 10 * 60_000);
        });
      } finally {
        sc.stop();
        report.scenarios = sc.results.map((r) => ({ name: r.name, ok: r.ok, fenced: r.fenced, seconds: r.seconds, evidence: r.evidence, problems: r.problems }));
        report.records = sc.records;
      }
    } else report.notRun.push({ what: "storage failover scenarios", why: "the cluster did not converge: a failover from a broken start shows nothing" });
    report.notRun.push(...notRunDefaults(first.failed ? `the deployment stopped at ${first.failed.name}` : undefined));
    report.notRun.push(...leftOutServices(Object.keys(config.services).filter((k) => (config.services as Record<string, unknown>)[k])));
    if (first.failed) report.checks.unshift({ name: "the program's deployment runs to the end", ok: false, evidence: `step ${first.failed.n}/${first.planned} ${first.failed.host} ${first.failed.name} exited ${first.failed.exitCode}:\n${first.failed.output}` });
    code = report.converged && report.scenarios.length > 0 && report.scenarios.every((x) => x.ok) && report.records.lost === 0 && report.records.duplicated === 0 ? 0 : 1;
  } catch (e) {
    const msg = redact(e instanceof Error ? e.message : String(e));
    log(`lab vm: the lab broke: ${msg}`);
    report.broke = msg;
    code = 3;
  } finally {
    await api?.close().catch(() => undefined);
    report.lab.seconds = Math.round((Date.now() - t0) / 1000);
    for (const g of lab.guests) report.lab.vms.push({ name: g.shape.name, address: g.address, console: redact(excerpt(lab.consoleTail(g, 15), 15)) });
    if (!interrupted) {
      writeReport(OUT, report, redact);
      log(`report: ${path.join(OUT, "report.md")} and report.json (${report.lab.seconds} s)`);
      if (keep && lab.guests.length > 0) {
        log("--keep: the guests stay up; reach them with:");
        for (const g of lab.guests) log(`  ip netns exec ${NS} ssh -i ${path.join(OUT, "deploy_key")} -o UserKnownHostsFile=${path.join(RUN, "known_hosts")} root@${g.address}   # ${g.shape.name}`);
        log(`  go on from here: npm run lab -- vm --resume; stop everything: the next run does, or: ip netns pids ${NS} | xargs -r kill; ip netns del ${NS}; ip netns del ${LAN_NS}`);
      } else {
        for (const d of await destroyLocal(path.join(RUN, "state.json"))) log(`cleanup: ${d}`);
        for (const d of Lab.cleanup(RUN)) log(`cleanup: ${d}`);
      }
    }
  }
  return code;
}

// Generous: under TCG a boot takes minutes, a DRBD resync and an OCFS2 mount tens of seconds.
const RECOVER_MS = 8 * 60_000;
const REJOIN_MS = 15 * 60_000;

/** Issue 9 item 5, in order: the NFS server's member, each diskful member in turn, the services member's cable (two of three comes last, after the changed config); `firstOnly` (--ci): the NFS server's member alone. */
async function storageFailovers(sc: StorageScenarios, lab: Lab, config: HahaConfig, report: LabReport, firstOnly: boolean): Promise<void> {
  const quit = (g: Guest) => lab.qmp(g, "quit").then(() => undefined);
  await sc.converged(REJOIN_MS);
  const nfsHost = await sc.where("nfs-server");
  if (!nfsHost) throw new LabBroke("no member runs nfs-server");
  await sc.run(`power loss of the member serving NFS (${nfsHost})`, nfsHost, quit, { recoverMs: RECOVER_MS, rejoinMs: REJOIN_MS });
  if (firstOnly) return;
  for (const n of config.nodes.filter((x) => x.drbdDisk && x.guest.name !== nfsHost)) await sc.run(`power loss of diskful member ${n.guest.name}`, n.guest.name, quit, { recoverMs: RECOVER_MS, rejoinMs: REJOIN_MS });
  const svcHost = await sc.where("services-vip");
  if (!svcHost) throw new LabBroke("no member runs services-vip");
  await sc.run(`cable of the services member (${svcHost}) pulled`, svcHost, (g) => lab.qmp(g, "set_link", { name: "net0", up: false }).then(() => undefined), { recoverMs: RECOVER_MS, rejoinMs: REJOIN_MS });
  const verify = await sc.verifyReplicas(10 * 60_000);
  report.checks.push({ name: "both DRBD replicas identical after the failovers (drbdadm verify: 0 out of sync)", ok: verify.ok, evidence: verify.evidence });
}

/** Plan the lab stack (with the lab's own deploy key) in a child process; returns the recorded resources with real secrets. */
async function plan(stackFile: string, log: (s: string) => void): Promise<{ planned: RecordedResource[]; config: HahaConfig }> {
  const key = path.join(OUT, "deploy_key");
  if (!fs.existsSync(key)) await must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lab-vm-deploy", "-f", key]);
  const doc = parseYaml(fs.readFileSync(stackFile, "utf8")) as { config: Record<string, Record<string, unknown>> };
  doc.config["haha:ssh"] = { ...doc.config["haha:ssh"], publicKey: fs.readFileSync(`${key}.pub`, "utf8").trim() };
  if (!overrides) throw new LabBroke("planning before the lab's CA and images exist");
  doc.config["haha:proxmox"] = { ...doc.config["haha:proxmox"], caCert: overrides.caCert };
  withLabImages((doc.config["haha:services"] ?? {}) as Record<string, Record<string, unknown>>, overrides.pinned);
  const planned = path.join(OUT, "Pulumi.lab-vm.yaml");
  fs.writeFileSync(planned, stringify(doc));
  const r = await run(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(__dirname, "plan-child.ts"), planned, OUT], { cwd: ROOT, timeoutMs: 5 * 60_000 });
  if (r.code !== 0) throw new LabBroke(`planning the lab stack failed (exit ${r.code}):\n${excerpt(r.stdout + r.stderr)}`);
  log(r.stdout.trim());
  const stack = readStackFile(planned);
  const config = parseConfig(stack.raw, planned);
  return { planned: JSON.parse(fs.readFileSync(path.join(OUT, "plan.json"), "utf8")) as RecordedResource[], config };
}

async function boot(lab: Lab, vms: RecordedResource[], resources: RecordedResource[], image: Built, report: LabReport, log: (s: string) => void): Promise<void> {
  const mtu = Math.max(1500, ...vms.flatMap((v) => ((v.inputs.networkDevices as { mtu?: number }[] | undefined) ?? []).map((n) => n.mtu ?? 1500)));
  await lab.mtu(mtu);
  await lab.serve(image.repo, REPO_PORT);
  log(`network: namespace ${NS}, bridge ${BRIDGE_ADDR}/24 (no route out), apt repository on http://${BRIDGE_ADDR}/`);
  for (const vm of vms) {
    const g = await lab.boot(vm, resources, image);
    log(`  ${g.shape.name}: qemu ${g.shape.cores} core(s), ${g.shape.memoryMiB} MiB, ${g.shape.nics.length} NIC(s), ${g.shape.hostpcis.length} NVMe, watchdog ${g.shape.watchdog?.model ?? "none"}; console ${g.files.console}`);
  }
  const results = await Promise.all(lab.guests.map(async (g) => ({ g, ok: await lab.waitSsh(g, 15 * 60_000) })));
  for (const { g, ok } of results) {
    if (!ok) {
      const tail = lab.consoleTail(g, 25);
      const booted = /login:|Reached target|cloud-init/.test(tail);
      report.checks.push({ name: `${g.shape.name} answers SSH with the program's key`, ok: false, evidence: tail });
      if (booted) throw new Error(`${g.shape.name} booted but never answered SSH as root with the deploy key within 15 min (console below)\n${tail}`);
      throw new LabBroke(`${g.shape.name} did not boot (qemu ${lab.alive(g) ? "running" : "exited"}):\n${tail}`);
    }
    log(`  ${g.shape.name}: ssh up`);
  }
}

function recordSteps(report: LabReport, r: DeployResult): void {
  report.lab.steps = r.executed.map((e) => ({ ...e }));
  report.lab.failedStep = r.failed ? { n: r.failed.n, host: r.failed.host, name: r.failed.name, exitCode: r.failed.exitCode, output: r.failed.output } : undefined;
}

/**
 * Every resource of the rendered CIB started where the plan's all-up scenario put it, nothing
 * failed: crm_mon on a member, polled until it agrees or the cluster had time enough to settle.
 */
async function placementCheck(lab: Lab, host: string, planned: Map<string, Placed>, log: (s: string) => void, waitMs: number): Promise<CheckResult> {
  const name = "pacemaker: every resource started where the plan's all-up scenario puts it, none failed";
  // A settled cluster agrees at once; 5 min covers the slowest start seen under TCG (Node-RED).
  const deadline = Date.now() + waitMs;
  let problems: string[] = ["no crm_mon answer"];
  for (let i = 0; i === 0 || Date.now() < deadline; i++) {
    const r = await lab.ssh(host, "crm_mon -1 -r --output-as=xml", { timeoutMs: 60_000 });
    try {
      const a = actualPlacement(r.stdout);
      problems = [...placementDiff(planned, a.placed), ...a.failed.map((f) => `${f}: failed`), ...a.failedActions.map((f) => `failed action ${f}`)];
    } catch (e) {
      problems = [(e as Error).message];
    }
    if (problems.length === 0 || Date.now() >= deadline) break;
    if (i % 6 === 0) log(`  placement: ${problems.length} difference(s) from the plan, e.g. ${problems[0]}; waiting for the cluster to settle`);
    await sleep(10_000);
  }
  const text = (await lab.ssh(host, "crm_mon -1 -r", { timeoutMs: 60_000 })).stdout;
  return { name, ok: problems.length === 0, evidence: `${host}$ crm_mon -1 -r\n${excerpt(text, 40)}${problems.length ? `\ndifferences from the plan:\n${problems.map((p) => `- ${p}`).join("\n")}` : `\nas planned: ${[...planned.keys()].join(", ")}`}` };
}

async function check(lab: Lab, name: string, hosts: string[], script: string, redact: (s: string) => string): Promise<CheckResult> {
  const parts: string[] = [];
  let ok = true;
  for (const h of hosts) {
    const r = await lab.ssh(h, script, { timeoutMs: 60_000 });
    ok &&= r.code === 0;
    parts.push(`${h}$ ${script}\n${excerpt(r.stdout + r.stderr, 8)}${r.code === 0 ? "" : `\n(exit ${r.code})`}`);
  }
  return { name, ok, evidence: redact(parts.join("\n")) };
}

/**
 * What `pulumi destroy` would do on the machine running Pulumi: the delete command of every
 * command:local:Command the deployment created (e.g. the docker providers' known_hosts files).
 */
async function destroyLocal(stateFile: string): Promise<string[]> {
  if (!fs.existsSync(stateFile)) return [];
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as Record<string, Record<string, unknown>>;
  const out: string[] = [];
  for (const [urn, inputs] of Object.entries(state)) {
    if (!urn.includes("$command:local:Command::") || typeof inputs.delete !== "string") continue;
    const r = await run("/bin/sh", ["-c", inputs.delete], { timeoutMs: 60_000 });
    out.push(`deleted ${urn.split("::").pop()} (exit ${r.code})`);
  }
  return out;
}

type Snapshot = Record<string, string[]>;

/**
 * Per guest: every running systemd service with its main pid, restart count and start time;
 * every container Pacemaker runs with its start time (the services are containers, not units);
 * every mount with its mount id (a remount of OCFS2 or of the export gets a new one); and the
 * content hash of every file under /etc and /usr/local, and of the service files the program
 * ships to the shared mount.
 */
async function snapshot(lab: Lab, c: HahaConfig): Promise<Snapshot> {
  const out: Snapshot = {};
  // The files the program writes there, not the services' own data (Mosquitto's store, Node-RED's backups).
  const shipped = serviceFiles(c).map((f) => shq(f.path)).join(" ");
  for (const [i, n] of c.nodes.entries()) {
    const script = [
      "for u in $(systemctl list-units --type=service --state=running --no-legend --plain | awk '{print $1}'); do echo \"$u $(systemctl show -p MainPID,NRestarts,ActiveEnterTimestampMonotonic --value \"$u\" | paste -sd' ')\"; done",
      "docker ps -q | xargs -r docker inspect -f 'container {{.Name}} started {{.State.StartedAt}}'",
      "awk '{print \"mount \" $5 \" id \" $1}' /proc/self/mountinfo",
      `{ find /etc /usr/local -xdev -type f -exec md5sum {} + 2>/dev/null; ${i === 0 && shipped ? `md5sum ${shipped};` : ""} } | sed 's/^/changed: /'`,
    ].join("\n");
    const r = await lab.ssh(n.guest.address, script, { timeoutMs: 120_000 });
    out[n.guest.name] = r.stdout.split("\n").filter(Boolean);
  }
  return out;
}

function diffSnapshots(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [host, lines] of Object.entries(b)) {
    const before = new Set(a[host] ?? []);
    for (const l of lines) if (!before.has(l)) out.push(`${host}: ${l.replace(/ActiveEnterTimestampMonotonic=\d+ ?/, "")}`.trim());
  }
  return out;
}

// Allow `tsx labs/vm/main.ts` directly as well as through labs/cli.ts.
if (require.main === module) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      console.log(`lab vm: ${String(e)}`);
      process.exit(3);
    },
  );
}

