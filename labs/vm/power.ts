// The VM lab's power backend for the fake Proxmox API (labs/common/fake-pve.ts): fence_pve's
// stop is a power loss (QMP `quit`: qemu exits at once, as a pulled plug), its start boots the
// same VM again from the same disks (the argv the lab launched it with).
import * as fs from "node:fs";
import * as path from "node:path";
import type { PowerBackend } from "../common/fake-pve";
import { must, sleep } from "../common/proc";
import { Guest, Lab, NS } from "./lab";

export class QmpPower implements PowerBackend {
  constructor(private readonly lab: Lab) {}

  private guest(vmid: number): Guest {
    const g = this.lab.guests.find((x) => x.shape.vmid === vmid);
    if (!g) throw new Error(`no lab guest with vmid ${vmid}`);
    return g;
  }

  status(vmid: number): Promise<"running" | "stopped"> {
    return Promise.resolve(this.lab.alive(this.guest(vmid)) ? "running" : "stopped");
  }

  async off(vmid: number): Promise<void> {
    const g = this.guest(vmid);
    if (!this.lab.alive(g)) return;
    await this.lab.qmp(g, "quit").catch(() => undefined);
    for (let i = 0; i < 50 && this.lab.alive(g); i++) await sleep(100);
    if (this.lab.alive(g)) throw new Error(`${g.shape.name}: qemu still running after QMP quit`);
  }

  async on(vmid: number): Promise<void> {
    const g = this.guest(vmid);
    if (this.lab.alive(g)) return;
    const argv = JSON.parse(fs.readFileSync(path.join(g.dir, "qemu.argv"), "utf8")) as string[];
    await must("ip", ["netns", "exec", NS, "qemu-system-x86_64", ...argv, "-daemonize"], { timeoutMs: 60_000 });
  }
}
