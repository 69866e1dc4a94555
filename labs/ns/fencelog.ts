// Fencing confirmed, read where Pacemaker states it: each fencer logs the result of every fence
// operation it hears of ("Operation 'reboot' targeting V by X for C: OK"), with the time. The
// lab's earlier count of stonith_admin --history entries could not see a second fencing of the
// same member: without --verbose it prints only the latest successful one per target.
import * as fs from "node:fs";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The local time (ms since the epoch) of a Pacemaker log line ("Dec 02 18:24:52.178 host daemon ..."), in the year of `near`. */
export function logLineTime(line: string, near: number): number | undefined {
  const m = /^(\w{3}) (\d{1,2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) /.exec(line);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1] as string);
  if (month < 0) return undefined;
  const year = new Date(near).getFullYear();
  const at = (y: number) => new Date(y, month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
  // A line logged on Dec 31 read on Jan 1 belongs to the year before.
  const t = at(year);
  return t - near > 180 * 86400000 ? at(year - 1) : t;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Times of the successful fencings of `target` in these log lines (the fencer's own result lines). */
export function fenceConfirmations(lines: string[], target: string, near: number): number[] {
  const re = new RegExp(`pacemaker-fenced.*\\bOperation '(?:reboot|off)' targeting ${esc(target)} by \\S+ for \\S+: OK\\b`);
  return lines.filter((l) => re.test(l)).map((l) => logLineTime(l, near)).filter((t): t is number => t !== undefined);
}

/**
 * Times the controller asked its fencer to fence `target` ("Requesting fencing (reboot) of node V"):
 * what comes before (detection, the new membership's scheduler run) and what after (the fencer's
 * query of its peers and the agent itself) split a fencing's time.
 */
export function fenceRequests(lines: string[], target: string, near: number): number[] {
  const re = new RegExp(`pacemaker-controld.*\\bRequesting fencing \\(\\w+\\) of node ${esc(target)}(?:\\s|$)`);
  return lines.filter((l) => re.test(l)).map((l) => logLineTime(l, near)).filter((t): t is number => t !== undefined);
}

/** Times of the failed fence attempts of `target` the controller logged in these lines. */
export function fenceFailures(lines: string[], target: string, near: number): number[] {
  const re = new RegExp(`Fence operation \\d+ for ${esc(target)} failed`);
  return lines.filter((l) => re.test(l)).map((l) => logLineTime(l, near)).filter((t): t is number => t !== undefined);
}

/** New complete lines of a growing file, from where it ended when the tail was made. */
export class LogTail {
  private offset: number;
  private partial = "";
  readonly lines: string[] = [];
  /** @param keep only lines matching this are kept (a round's Pacemaker log is hundreds of KB) */
  constructor(
    readonly file: string,
    readonly keep: RegExp = /./,
  ) {
    this.offset = LogTail.size(file);
  }
  static size(file: string): number {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  }
  /** Reads what was appended since the last read; returns every line read so far. */
  read(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, "r");
    } catch {
      return this.lines;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0;
      if (size > this.offset) {
        const buf = Buffer.alloc(size - this.offset);
        fs.readSync(fd, buf, 0, buf.length, this.offset);
        this.offset = size;
        const parts = (this.partial + buf.toString("utf8")).split("\n");
        this.partial = parts.pop() ?? "";
        for (const l of parts) if (this.keep.test(l)) this.lines.push(l);
      }
    } finally {
      fs.closeSync(fd);
    }
    return this.lines;
  }
}
