// systemd ordering of the cluster stack on each member. Pacemaker's unit starts after (and wants)
// resource-agents-deps.target, the target resource-agents documents for what its agents need
// running: a drop-in there puts docker.service before Pacemaker's first probes.
export const AGENT_DEPS_PATH = "/etc/systemd/system/resource-agents-deps.target.d/haha-docker.conf";

/** The units every docker primitive's agent needs answering before Pacemaker probes it. */
export const AGENT_DEPS_UNITS = ["docker.service"] as const;

/**
 * The drop-in: Wants= pulls docker in, After= orders it first. Without it a member that boots
 * (a fenced guest coming back) can probe its docker primitives before dockerd answers; the agent
 * reports an error (not "not running"), the stop that follows fails the same way, and the member
 * is fenced again as it rejoins (found by the namespace lab).
 */
export function renderAgentDeps(units: readonly string[] = AGENT_DEPS_UNITS): string {
  for (const u of units) if (!/^[A-Za-z0-9@_.-]+\.(service|socket|target|mount)$/.test(u)) throw new Error(`renderAgentDeps: ${JSON.stringify(u)} is not a systemd unit name`);
  return [
    "# Rendered by HAHA. Do not edit: pulumi up rewrites it.",
    "# Pacemaker starts after resource-agents-deps.target: its first probes of the docker",
    "# primitives must find the daemon answering (a failed probe, then a failed stop, fences the member).",
    "[Unit]",
    `Wants=${units.join(" ")}`,
    `After=${units.join(" ")}`,
    "",
  ].join("\n");
}

/** The units a rendered drop-in orders before Pacemaker (its After= lines). */
export function agentDepsAfter(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => /^After=/.test(l))
    .flatMap((l) => l.slice("After=".length).trim().split(/\s+/))
    .filter(Boolean);
}

export const COROSYNC_ORDER_PATH = "/etc/systemd/system/corosync.service.d/haha-join-late.conf";

/**
 * Corosync joins the membership only when Pacemaker can follow at once. From the moment a booting
 * member is in corosync's membership until its controller joins, the others see it "pending",
 * and Pacemaker starts nothing that still needs a probe there: a fenced member that boots while
 * the survivors recover holds their recovery up for that long. Systemd starts corosync early in
 * boot and Pacemaker only after resource-agents-deps.target (docker above); ordering corosync
 * after the same target shrinks that window to Pacemaker's own start (the rehearsal lab saw the
 * export wait 80 s for a pending member).
 */
export function renderCorosyncOrder(): string {
  return [
    "# Rendered by HAHA. Do not edit: pulumi up rewrites it.",
    "# Corosync joins only when Pacemaker can follow: a member in the membership whose Pacemaker",
    "# is not up yet (\"pending\") holds up every start that needs a probe on it.",
    "[Unit]",
    "After=resource-agents-deps.target",
    "",
  ].join("\n");
}
