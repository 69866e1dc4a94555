// The report's model: everything report.html shows, as plain data. The renderer (render.ts) is a
// pure function of it; load.ts gathers it from the plan's own outputs.
import { z } from "zod";

export interface ReportSlave {
  name: string;
  /** Switch and port the slave is cabled to (haha:nodes[*].bond.switchPorts, same position). */
  switch?: string;
  port?: string;
}

export interface PlacedItem {
  /** What a person reads: "services VIP 10.0.181.50", "homeassistant". */
  label: string;
  kind: "vip" | "storage" | "service" | "fencing";
}

export interface ReportHost {
  name: string;
  address: string;
  bond: { name: string; mode: string; slaves: ReportSlave[] };
  member: {
    name: string;
    address: string;
    vmid: number;
    cores: number;
    memoryMiB: number;
    /** The PCI mapping of its DRBD replica's NVMe, or undefined when it holds none. */
    replica?: string;
    /** DRBD's role here with all members up ("Promoted", "diskless tiebreaker", ...). */
    drbd: string;
    /** What runs here with all members up, from the all-up simulation. */
    runs: PlacedItem[];
  };
  voice?: { name: string; address: string; vmid: number; model: string; critical: boolean; gpu: string };
}

export interface ReportDomain {
  name: string;
  kind: "host" | "switch";
  hosts: string[];
  switches: string[];
  /** Members still up with a network path. */
  survivors: string[];
  /** The policy's own words (policies/failure-domains.ts). */
  summary: string;
  breaks: { kind: string; text: string }[];
  /** The haha:waivers entry accepting what this domain breaks, if any. */
  waiver?: { index: number; reason: string };
}

export interface ChainStep {
  action: string;
  seconds: number;
  note: string;
}

export interface ReportScenario {
  id: string;
  title: string;
  kind: string;
  ok: boolean;
  problems: string[];
  detectionS: number;
  detectionNote: string;
  fencingS: number;
  /** Fencing and each start along the critical path, in order (fencing first when there is one). */
  chain: ChainStep[];
  totalS: number;
  targetS?: number;
  guestOnly?: { fencingS: number; totalS: number };
}

/** A lab's build/lab-<name>/report.json. Measured values are seconds (a key ending in `Ms`: milliseconds). */
export const labReportSchema = z.object({
  scenarios: z.array(
    z.object({
      name: z.string().min(1),
      rounds: z.number().int().min(0),
      ok: z.boolean(),
      measured: z.record(z.string(), z.object({ min: z.number(), median: z.number(), max: z.number() })),
    }),
  ),
});
export type LabReportFile = z.infer<typeof labReportSchema>;

export interface LabMeasurement {
  /** "lab-ns" or "lab-vm". */
  lab: string;
  scenario: string;
  rounds: number;
  ok: boolean;
  what: string;
  minS: number;
  medianS: number;
  maxS: number;
}

export interface ReportRule {
  name: string;
  level: string;
  status: string;
  description: string;
  violations: { subject: string; problem: string; fix?: string }[];
  waived: { subject: string; waiver: number }[];
}

export interface ReportModel {
  stack: string;
  ok: boolean;
  network: { subnet: string; vip: string; storageVip: string; bridge: string };
  switches: { name: string; model: string; stackGroup?: string }[];
  hosts: ReportHost[];
  peripherals: { zigbee?: { model: string; host: string; port: number; adapter: string }; bluetooth: { name: string; board: string; address: string }[] };
  domains: ReportDomain[];
  scenarios: ReportScenario[];
  lab: LabMeasurement[];
  /** Lab reports that were present but unreadable: file and what is wrong. */
  labProblems: string[];
  policy: {
    pack: string;
    ok: boolean;
    rules: ReportRule[];
    waivers: { index: number; policy: string; target: string; reason: string }[];
  };
}
