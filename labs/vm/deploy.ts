// Executes the plan's guest-side steps over SSH as Pulumi's engine would (see engine.ts): each
// step starts when the steps it depends on are done; a failure lets running steps finish and
// starts nothing more. The engine state (inputs per step) is written after every success.
import * as fs from "node:fs";
import { excerpt, RunResult } from "../common/proc";
import { Action, actionFor, commandFor, outputShown, Step } from "./engine";

export interface StepRecord {
  n: number;
  host: string;
  name: string;
  action: Exclude<Action, "same">;
  seconds: number;
  /** When it ran (ms since the epoch): whether two steps overlapped. */
  startedAt?: number;
  endedAt?: number;
  exitCode: number;
  output: string;
}

export interface DeployResult {
  planned: number;
  executed: StepRecord[];
  failed?: StepRecord;
}

export type State = Record<string, Record<string, unknown>>;

export function readState(file: string): State {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as State) : {};
}

export interface Runner {
  (step: Step, script: string, stdin: string | undefined): Promise<RunResult>;
}

/**
 * @param force run every step's create command again, whatever the state: a proof that the scripts
 * are idempotent. Not its update: an update is the marker-guarded skip (components/host/rerun.ts),
 * which would prove only that the markers are there.
 */
export async function deploy(steps: Step[], stateFile: string, runner: Runner, redact: (s: string) => string, log: (s: string) => void, opts: { force?: boolean; parallel?: number } = {}): Promise<DeployResult> {
  const state = readState(stateFile);
  const actions = new Map(steps.map((s) => [s.urn, opts.force ? ("create" as const) : actionFor(s, state[s.urn])]));
  const todo = steps.filter((s) => actions.get(s.urn) !== "same");
  const planned = todo.length;
  const done = new Set(steps.filter((s) => actions.get(s.urn) === "same").map((s) => s.urn));
  const pending = new Map(todo.map((s) => [s.urn, s]));
  const executed: StepRecord[] = [];
  let failed: StepRecord | undefined;
  let n = 0;
  const limit = opts.parallel ?? 16;
  const running = new Set<Promise<void>>();
  const save = () => fs.writeFileSync(stateFile, JSON.stringify(state), { mode: 0o600 });

  const exec = async (s: Step): Promise<void> => {
    const action = actions.get(s.urn) as Exclude<Action, "same">;
    const my = ++n;
    log(`step ${my}/${planned} ${s.host} ${s.name} (${action})`);
    const started = Date.now();
    let last: RunResult | undefined;
    for (const c of commandFor(s, action, state[s.urn])) {
      last = await runner(s, c.script, c.stdin);
      if (last.code !== 0) break;
    }
    const shown = outputShown(s);
    const out = last ? `${shown.stdout ? last.stdout : ""}${shown.stderr ? last.stderr : ""}` : "";
    const rec: StepRecord = {
      n: my,
      host: s.host,
      name: s.name,
      action,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      startedAt: started,
      endedAt: Date.now(),
      exitCode: last?.code ?? 0,
      // A failure keeps more of its output: the cause is often above the last line.
      output: shown.stdout || shown.stderr ? redact(last && last.code !== 0 ? excerpt(out, 40, 2000) : excerpt(out)) : "(not shown: the resource's logging is none)",
    };
    executed.push(rec);
    if (rec.exitCode !== 0) {
      failed ??= rec;
      log(`step ${my}/${planned} ${s.host} ${s.name} FAILED (exit ${rec.exitCode}${last?.timedOut ? ", timed out" : ""}) after ${rec.seconds} s:\n${rec.output.replace(/^/gm, "    ")}`);
      return;
    }
    state[s.urn] = s.inputs;
    save();
    done.add(s.urn);
    log(`step ${my}/${planned} ${s.host} ${s.name} ok (${rec.seconds} s)`);
  };

  for (;;) {
    if (!failed) {
      for (const s of [...pending.values()]) {
        if (running.size >= limit) break;
        if (!s.after.every((d) => done.has(d))) continue;
        pending.delete(s.urn);
        const p: Promise<void> = exec(s).finally(() => running.delete(p));
        running.add(p);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (!failed && pending.size > 0) throw new Error(`steps never became ready (a dependency outside the plan?): ${[...pending.values()].map((s) => s.name).slice(0, 5).join(", ")}`);
  save();
  return { planned, executed, failed };
}
