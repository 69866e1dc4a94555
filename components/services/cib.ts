// The services' contribution to the one CIB: an ocf:heartbeat:docker primitive per container,
// and the orders between services that really need one another; everything else starts in
// parallel.
import type { CibFragment, Constraint, Primitive } from "../pacemaker/cib/model";
import type { HahaConfig } from "../../stacks/config/schema";
import { checkWords, runOptions, serviceCatalog, ServiceSpec } from "./catalog";

/** The agent's own advertised start/stop timeout (crm_resource --show-metadata ocf:heartbeat:docker). */
export const AGENT_DEFAULT_TIMEOUT_S = 90;
/** Seconds the agent keeps back from the stop timeout for kill and removal (docker stop -t = timeout - 10). */
export const AGENT_STOP_RESERVE_S = 10;

/** Start timeout: three times the declared start, never below the agent's own 90 s. */
export function startTimeoutS(s: ServiceSpec): number {
  return Math.max(AGENT_DEFAULT_TIMEOUT_S, 3 * s.expectedStartS);
}

/** The shortest grace the agent gives docker stop whatever the timeout (it raises a smaller one to 10 s). */
export const AGENT_MIN_GRACE_S = 10;

/**
 * Stop timeout: the grace the application needs (the service's declared stopGraceS, with its
 * reason), plus the 10 s the agent keeps back for kill and removal (it runs docker stop -t with
 * the timeout minus those 10 s, and never less than 10 s of grace: below 20 s its own kill could
 * outlast Pacemaker's timeout, the stop would fail, and a failed stop is answered by fencing).
 * Not the 90 s the agent's metadata suggests for an unknown container: whatever the timeout, the
 * agent keeps the same 10 s after the grace, so a longer one buys no margin for the kill, only a
 * longer wait on an application that hangs (it ignores SIGTERM: docker waits the whole grace).
 * The namespace lab measured it: a SIGSTOPped broker took about 100 s to come back with 90 s of
 * grace. A clean stop returns as soon as the application exits, whatever the grace.
 */
export function stopTimeoutS(s: ServiceSpec): number {
  return Math.max(s.stopGraceS, AGENT_MIN_GRACE_S) + AGENT_STOP_RESERVE_S;
}

export function servicePrimitive(s: ServiceSpec): Primitive {
  const opts = runOptions(s);
  checkWords(`${s.id} run_opts`, opts);
  checkWords(`${s.id} monitor_cmd`, s.probe.command);
  if (s.command) checkWords(`${s.id} run_cmd`, s.command);
  const params: Record<string, string> = {
    image: s.alias,
    name: s.id,
    // Never pull: the alias exists only where this program tagged the pre-pulled digest, and a
    // pull on the failover path is what this design exists to avoid.
    allow_pull: "false",
    // A fresh container per start: a changed run_opts or image always takes effect.
    reuse: "false",
    // A graceful stop (docker stop -t <stop timeout - 10>) so state on NFS is flushed; a hung
    // application is killed when that grace runs out, well inside the stop timeout, so a stop
    // never fails and never escalates to fencing.
    force_kill: "false",
    // The monitor_cmd below is the application probe; image HEALTHCHECKs differ and their
    // "starting" phase would eat into the monitor timeout.
    query_docker_health: "false",
    run_opts: opts.join(" "),
    monitor_cmd: s.probe.command.join(" "),
    mount_points: s.volumes.filter((v) => !v.readOnly).map((v) => v.host).join(","),
  };
  if (s.command) params.run_cmd = s.command.join(" ");
  const start = startTimeoutS(s);
  const stop = stopTimeoutS(s);
  return {
    kind: "primitive",
    id: s.id,
    class: "ocf",
    provider: "heartbeat",
    type: "docker",
    description: `${s.title}: ${s.image.pinned}`,
    params,
    ops: [
      {
        name: "start",
        intervalS: 0,
        timeoutS: start,
        reason: `start runs docker run and waits for the probe; 3 x the declared ${s.expectedStartS} s start (cold caches after a failover), never below the agent's 90 s: a start timeout shorter than boot caused needless fencing before`,
      },
      {
        name: "stop",
        intervalS: 0,
        timeoutS: stop,
        reason: `docker stop -t ${stop - AGENT_STOP_RESERVE_S} (${s.stopGraceReason}), then kill and removal; a failed stop is answered by fencing, so it must always finish`,
      },
      {
        name: "monitor",
        intervalS: s.probe.intervalS,
        timeoutS: s.probe.timeoutS,
        onFail: "restart",
        reason: `${s.probe.proves}; every ${s.probe.intervalS} s so a dead application is noticed within about ${s.probe.intervalS} s, not when the container exits`,
      },
    ],
    expectedStartS: { value: s.expectedStartS, reason: s.expectedStartReason },
  };
}

/**
 * The services' primitives and the orders between services. Placement with the services VIP and
 * after the shared mount (all services in one unordered set, started in parallel) is the
 * pacemaker layer's placementFragment (components/pacemaker/cib/build.ts), built from this
 * fragment's resources; only the real dependencies between services are declared here.
 */
export function servicesCibFragment(c: HahaConfig): CibFragment {
  const specs = serviceCatalog(c);
  const constraints: Constraint[] = [];
  for (const s of specs) {
    for (const dep of s.after) {
      constraints.push({
        kind: "order",
        id: `${s.id}-after-${dep}`,
        first: dep,
        then: s.id,
        orderKind: "Optional",
        reason: `${s.title} needs ${dep} when it starts (a failover starts both: ${dep} first); Optional, so a restart of ${dep} alone does not restart ${s.id}, which reconnects`,
      });
    }
  }
  return { source: "services", resources: specs.map(servicePrimitive), constraints };
}
