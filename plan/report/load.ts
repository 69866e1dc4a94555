// Gathers the report's model from the plan's own outputs (config, recorded resources, the policy
// report, the failover scenarios, the CIB) and from the labs' reports when they exist.
import * as fs from "node:fs";
import * as path from "node:path";
import { CIB_IDS } from "../../components/pacemaker/cib/ids";
import { analyseFailureDomains, domainModel } from "../../policies/failure-domains";
import type { RuleResult } from "../../policies/evaluate";
import { StackView } from "../../policies/view";
import { WAIVED_VIOLATIONS } from "../../policies/waivers";
import { clusterMembers } from "../../stacks/config/members";
import type { HahaConfig } from "../../stacks/config/schema";
import type { ScenarioResult } from "../failover";
import { toOfflineResource } from "../policy";
import { parseCib } from "../simulate-cib";
import type { PlanContext } from "../types";
import { type LabMeasurement, labReportSchema, type PlacedItem, type ReportDomain, type ReportHost, type ReportModel, type ReportRule, type ReportScenario } from "./model";

/** Labs whose build/<lab>/report.json the report shows beside the plan's budget. */
/** Each lab and the folder of build/ its report.json is in (the VM lab's is not build/lab-vm: a plan of stack lab-vm writes there). */
export const LABS = { "lab-ns": "lab-ns", "lab-vm": "lab" } as const;

interface PolicyReportFile {
  pack: { name: string; version: string };
  ok: boolean;
  waivers: { index: number; policy: string; target: string; reason: string }[];
  rules: RuleResult[];
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, "utf8")) as T;
}

/** Members named in a placement such as "Started a" or "on a, b; Promoted on a". */
function placedOn(text: string | undefined): { on: string[]; promoted: string[] } {
  if (!text) return { on: [], promoted: [] };
  const [where = "", promoted = ""] = text.split(";");
  const names = (s: string) => s.replace(/^\s*(Started|on|Promoted on)\s+/, "").split(",").map((x) => x.trim()).filter((x) => x && x !== "none");
  return { on: /^(Started|on)\s/.test(where.trim()) ? names(where) : [], promoted: promoted ? names(promoted) : [] };
}

function placement(config: HahaConfig, cibXml: string | undefined, allUp: ScenarioResult | undefined): { runs: Map<string, PlacedItem[]>; drbd: Map<string, string> } {
  const runs = new Map<string, PlacedItem[]>();
  const drbd = new Map<string, string>();
  if (!cibXml || !allUp) return { runs, drbd };
  const cib = parseCib(cibXml);
  const add = (member: string, item: PlacedItem) => runs.set(member, [...(runs.get(member) ?? []), item]);
  const label = (id: string): PlacedItem => {
    if (id === CIB_IDS.servicesVip) return { label: `services VIP ${config.network.vip}`, kind: "vip" };
    if (id === CIB_IDS.storageVip) return { label: `storage VIP ${config.network.storageVip}`, kind: "vip" };
    if (cib.primitives.get(id)?.class === "stonith") return { label: id, kind: "fencing" };
    return { label: id, kind: "service" };
  };
  for (const top of [...cib.tops.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const { on, promoted } = placedOn(allUp.simulated[top.id]);
    if (top.promotable) {
      for (const m of on) drbd.set(m, promoted.includes(m) ? "Promoted" : "Unpromoted");
      continue;
    }
    for (const m of on) {
      if (top.kind === "clone") add(m, { label: top.primitives.join(", "), kind: "storage" });
      else if (top.kind === "group") for (const p of top.primitives) add(m, p === CIB_IDS.storageVip ? label(p) : { label: p, kind: "storage" });
      else add(m, label(top.id));
    }
  }
  // VIPs first, then services, storage, fencing: the order a person looks for them.
  const rank: Record<PlacedItem["kind"], number> = { vip: 0, service: 1, storage: 2, fencing: 3 };
  for (const [m, items] of runs) runs.set(m, [...items].sort((a, b) => rank[a.kind] - rank[b.kind]));
  return { runs, drbd };
}

function hosts(config: HahaConfig, runs: Map<string, PlacedItem[]>, drbd: Map<string, string>): ReportHost[] {
  const members = new Map(clusterMembers(config).map((m) => [m.host, m]));
  const voice = config.voice?.enabled ? config.voice.ollama : undefined;
  return config.nodes.map((n) => {
    const m = members.get(n.name)!;
    const role = drbd.get(m.name);
    const replica = n.drbdDisk?.pciMapping;
    return {
      name: n.name,
      address: n.address,
      bond: {
        name: n.bond.name,
        mode: n.bond.mode,
        slaves: n.bond.slaves.map((s, i) => {
          const [sw, port] = (n.bond.switchPorts[i] ?? "").split(":");
          return { name: s, switch: sw || undefined, port: port || undefined };
        }),
      },
      member: {
        name: m.name,
        address: n.guest.address,
        vmid: n.guest.vmid,
        cores: n.guest.cores,
        memoryMiB: n.guest.memoryMiB,
        replica,
        drbd: replica ? `DRBD replica (${replica})${role ? `, ${role}` : ""}` : role ? `DRBD diskless tiebreaker, no replica` : "no DRBD replica",
        runs: runs.get(m.name) ?? [],
      },
      voice:
        voice && voice.guest.node === n.name
          ? { name: voice.guest.name, address: voice.guest.address, vmid: voice.guest.vmid, model: voice.model, critical: config.voice!.critical, gpu: voice.guest.gpuMapping }
          : undefined,
    };
  });
}

function domains(ctx: PlanContext, rules: RuleResult[]): ReportDomain[] {
  // Only HAHA's own components carry the intents the analysis reads; the rest would cost time.
  const { model } = domainModel(new StackView(ctx.resources.filter((r) => r.type.startsWith("haha:")).map(toOfflineResource)));
  if (!model) return [];
  const waived = rules.find((r) => r.name === "failure-domains")?.waived ?? [];
  return analyseFailureDomains(model).map((o) => {
    const w = waived.find((v) => v.subject === `failure domain ${o.domain.kind} ${o.domain.name}`)?.waiver;
    return { ...o.domain, survivors: o.survivors, summary: o.summary, breaks: o.breaks, waiver: w ? { index: w.index, reason: w.reason } : undefined };
  });
}

function scenarios(dir: string): ScenarioResult[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+-.*\.json$/.test(f))
    .sort()
    .map((f) => readJson<ScenarioResult>(path.join(dir, f)));
}

function scenarioRow(s: ScenarioResult): ReportScenario {
  const b = s.budget;
  return {
    id: s.id,
    title: s.title,
    kind: s.kind,
    ok: s.ok,
    problems: s.problems,
    detectionS: b?.detectionS ?? 0,
    detectionNote: b?.detectionNote ?? "",
    fencingS: b?.fencingS ?? 0,
    chain: b?.chain ?? [],
    totalS: b?.totalS ?? 0,
    targetS: b?.targetS,
    guestOnly: b?.guestOnly ? { fencingS: b.guestOnly.fencingS, totalS: b.guestOnly.totalS } : undefined,
  };
}

/** Each lab's report.json beside build/<stack>/, read with its schema; absent ones are skipped. */
export function labMeasurements(buildDir: string): { lab: LabMeasurement[]; problems: string[] } {
  const lab: LabMeasurement[] = [];
  const problems: string[] = [];
  for (const [name, folder] of Object.entries(LABS)) {
    const file = path.join(buildDir, folder, "report.json");
    if (!fs.existsSync(file)) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      problems.push(`${file}: not JSON (${(e as Error).message})`);
      continue;
    }
    const parsed = labReportSchema.safeParse(raw);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${file}: ${i.path.join(".") || "(root)"}: ${i.message}`));
      continue;
    }
    for (const s of parsed.data.scenarios) {
      for (const [what, m] of Object.entries(s.measured)) {
        const k = /Ms$/.test(what) ? 1 / 1000 : 1;
        lab.push({ lab: name, scenario: s.name, rounds: s.rounds, ok: s.ok, what, minS: m.min * k, medianS: m.median * k, maxS: m.max * k });
      }
    }
  }
  return { lab, problems };
}

export function reportModel(ctx: PlanContext): ReportModel {
  const c = ctx.config;
  const policyFile = path.join(ctx.outDir, "policy-report.json");
  const policy = fs.existsSync(policyFile) ? readJson<PolicyReportFile>(policyFile) : undefined;
  const rules = policy?.rules ?? [];
  const cibFile = path.join(ctx.outDir, "cib.xml");
  const cibXml = fs.existsSync(cibFile) ? fs.readFileSync(cibFile, "utf8") : undefined;
  const all = scenarios(path.join(ctx.outDir, "failover"));
  const { runs, drbd } = placement(c, cibXml, all.find((s) => s.kind === "all-up"));
  const { lab, problems } = labMeasurements(path.dirname(ctx.outDir));
  const reportRules: ReportRule[] = rules.map((r) => ({
    name: r.name,
    level: r.level,
    status: r.status,
    description: r.description,
    // waived-violations repeats each waived finding for a preview's output; here they sit under their rules (as in the summary).
    violations: (r.name === WAIVED_VIOLATIONS ? r.violations.filter((v) => !/ waived by haha:waivers\[/.test(v.subject ?? "")) : r.violations).map((v) => ({ subject: v.subject ?? v.resource?.name ?? "stack", problem: v.problem ?? v.message, fix: v.fix })),
    waived: r.waived.map((v) => ({ subject: v.subject ?? v.resource?.name ?? "stack", waiver: v.waiver?.index ?? -1 })),
  }));
  return {
    stack: ctx.stack,
    ok: (policy?.ok ?? false) && all.length > 0 && all.every((s) => s.ok),
    network: { subnet: c.network.subnet, vip: c.network.vip, storageVip: c.network.storageVip, bridge: c.network.bridge },
    switches: c.switches.map((s) => ({ name: s.name, model: s.model, stackGroup: s.stackGroup })),
    hosts: hosts(c, runs, drbd),
    peripherals: {
      zigbee: c.peripherals.zigbee ? { model: c.peripherals.zigbee.model, host: c.peripherals.zigbee.host, port: c.peripherals.zigbee.port, adapter: c.peripherals.zigbee.adapter } : undefined,
      bluetooth: (c.peripherals.bluetoothProxies ?? []).map((b) => ({ name: b.name, board: b.board, address: b.address })),
    },
    domains: domains(ctx, rules),
    scenarios: all.map(scenarioRow),
    lab,
    labProblems: problems,
    policy: { pack: policy ? `${policy.pack.name} ${policy.pack.version}` : "(no policy report)", ok: policy?.ok ?? false, rules: reportRules, waivers: policy?.waivers ?? [] },
  };
}
