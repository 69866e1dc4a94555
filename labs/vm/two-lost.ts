// The verdict of "two of three lost" (issue 9 item 5): what the survivor's samples may and may
// not show. Pure, so it is tested on its own (test/labs/vm-two-lost.test.ts).
//
// Until the survivor's own Pacemaker has seen the others go, crm_mon still shows the view from
// before the fault: three members, quorum, everything started wherever it ran. Run 8 judged that
// stale first sample and reported "alone claims quorum; started without quorum" for resources that
// had started long before the fault. So a sample in the first boot counts only once its view has
// the survivor alone; what was active then may still be stopping (no-quorum-policy=stop, or the
// watchdog reset first), and only what becomes active after that is a start. A later boot (the
// survivor reset itself) starts from nothing: anything active or running there started inquorate.
import type { CrmView } from "./scenarios";

export interface TwoLostSample {
  /** 0: the boot the fault found; 1 and on: boots after the survivor reset itself. */
  boot: number;
  /** The survivor's crm_mon (undefined: its Pacemaker did not answer). */
  view?: CrmView;
  drbdPrimary: boolean;
  containers: string[];
  vipUp: boolean;
}

/** The resources a view has active, fencing left out (fence devices and the watchdog run inquorate too). */
export function activeServices(v: CrmView | undefined): string[] {
  return [...(v?.active.keys() ?? [])].filter((k) => !k.startsWith("fence-") && k !== "watchdog");
}

export class TwoLostJudge {
  readonly problems = new Set<string>();
  /** What the current boot's first "alone" sample already ran (stopping, not starting). */
  private baseline?: { boot: number; active: Set<string>; containers: Set<string>; primary: boolean; vip: boolean };
  private quorateAlone = 0;

  constructor(private readonly survivor: string) {}

  observe(s: TwoLostSample): void {
    const v = s.view;
    const alone = v !== undefined && v.online.length > 0 && v.online.every((n) => n === this.survivor);
    // The first boot before the survivor noticed: the pre-fault view, nothing to judge yet.
    if (s.boot === 0 && !alone) return;
    const active = activeServices(v);
    if (!this.baseline || this.baseline.boot !== s.boot)
      this.baseline = s.boot === 0 ? { boot: 0, active: new Set(active), containers: new Set(s.containers), primary: s.drbdPrimary, vip: s.vipUp } : { boot: s.boot, active: new Set(), containers: new Set(), primary: false, vip: false };
    const b = this.baseline;
    // Two samples in a row (5 s apart): the CIB's have-quorum follows the membership by a moment.
    this.quorateAlone = alone && v?.quorate ? this.quorateAlone + 1 : 0;
    if (this.quorateAlone >= 2) this.problems.add(`${this.survivor} alone claims quorum`);
    const started = active.filter((k) => !b.active.has(k));
    if (started.length > 0) this.problems.add(`started without quorum: ${started.join(", ")}`);
    if (s.drbdPrimary && !b.primary) this.problems.add("a DRBD replica is Primary alone");
    const containers = s.containers.filter((c) => !b.containers.has(c));
    if (containers.length > 0) this.problems.add(`containers started without quorum: ${containers.join(", ")}`);
    if (s.vipUp && !b.vip) this.problems.add("a VIP came up on the survivor without quorum");
  }
}
