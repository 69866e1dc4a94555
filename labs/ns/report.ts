// The lab's statistics, its report (build/lab-ns/report.json) and the plan's budget table with a
// measured column beside each budget line.
import type { Substitution } from "./cib";

export interface Stat {
  min: number;
  median: number;
  max: number;
}

/** min / median / max in seconds (one decimal); undefined for no values. */
export function stats(values: number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { min: r(s[0] as number), median: r(median), max: r(s[s.length - 1] as number) };
}

export interface RoundResult {
  ok: boolean;
  problems: string[];
  /** Seconds from the fault, per measure (membership, fenced, vip, mosquitto, nodered, recorder, ...). */
  measured: Record<string, number>;
}

/** One line of the plan's budget this scenario measures: the measure's median against the plan's seconds. */
export interface BudgetLine {
  line: string;
  measure: string;
  planS: number;
}

export interface ScenarioReport {
  name: string;
  title: string;
  rounds: number;
  ok: boolean;
  problems: string[];
  measured: Record<string, Stat>;
  budget: (BudgetLine & { measured?: Stat; ok: boolean })[];
}

export interface LabReport {
  stack: string;
  startedAt: string;
  durationS: number;
  clusters: number;
  ok: boolean;
  scenarios: ScenarioReport[];
  substitutions: Substitution[];
  targets: { name: string; target: string; measured: string; met: boolean }[];
  /** Where the time went: the clusters' bring-up, the rounds, per scenario its rounds and their phases (seconds). */
  timing: { bringUpS: number; roundsS: number; perScenario: Record<string, { rounds?: Stat; phases: Record<string, Stat | undefined> }> };
  /** Clusters that could not be brought back to a settled state, with the reason. */
  broken: { cluster: string; reason: string }[];
}

/**
 * Fold a scenario's rounds: min/median/max per measure; a budget line fails when the lab measured
 * it larger than the plan's estimate (the worst round: the plan's figure is a budget, not a mean).
 */
export function scenarioReport(name: string, title: string, rounds: RoundResult[], budget: BudgetLine[], wanted = rounds.length): ScenarioReport {
  const keys = [...new Set(rounds.flatMap((r) => Object.keys(r.measured)))];
  const measured: Record<string, Stat> = {};
  for (const k of keys) {
    const s = stats(rounds.map((r) => r.measured[k]).filter((v): v is number => typeof v === "number"));
    if (s) measured[k] = s;
  }
  const problems = rounds.flatMap((r, i) => r.problems.map((p) => `round ${i + 1}: ${p}`));
  if (rounds.length < wanted) problems.push(`only ${rounds.length} of ${wanted} rounds ran`);
  const lines = budget.map((b) => {
    const m = measured[b.measure];
    const ok = m !== undefined && m.max <= b.planS;
    if (!ok) problems.push(m ? `${b.line}: measured up to ${m.max} s, the plan budgets ${b.planS} s` : `${b.line}: not measured`);
    return { ...b, measured: m, ok };
  });
  return { name, title, rounds: rounds.length, ok: rounds.length > 0 && rounds.length >= wanted && rounds.every((r) => r.ok) && lines.every((l) => l.ok), problems, measured, budget: lines };
}

const fmt = (s?: Stat) => (s ? `${s.min}/${s.median}/${s.max}s` : "-");

/** The plan's table, one row per budget line, with the measured column (min/median/max). */
export function budgetTable(r: LabReport): string[] {
  const rows: string[][] = [["scenario", "result", "budget line", "plan", "measured (min/median/max)"]];
  for (const s of r.scenarios) {
    if (s.budget.length === 0) rows.push([s.title, s.ok ? "ok" : "FAIL", "-", "-", Object.entries(s.measured).map(([k, v]) => `${k} ${fmt(v)}`).join(", ") || "-"]);
    s.budget.forEach((b, i) => rows.push([i === 0 ? s.title : "", i === 0 ? (s.ok ? "ok" : "FAIL") : "", b.line, `${b.planS}s`, `${fmt(b.measured)}${b.ok ? "" : "  <- over budget"}`]));
  }
  const w = rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? "").length))) ?? [];
  return rows.map((row) => row.map((cell, c) => cell.padEnd(w[c] ?? 0)).join("  ").trimEnd());
}
