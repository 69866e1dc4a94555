// One rendered file shipped to one guest, plus an optional idempotent command that applies it.
// The content is an input of the write command (stdin), so `pulumi preview` diffs the real file;
// the apply command is triggered by the content hash and only runs when the file changed.
import * as crypto from "node:crypto";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection, shq, sshConnection } from "./connection";
import { guardedInputs } from "./rerun";

const guardedCommandsOf = (name: string, script: string) => {
  const g = guardedInputs(name, script);
  return { create: g.create, update: g.update };
};

export interface HostFileArgs {
  connection: GuestConnection;
  /** Absolute path on the guest. */
  path: string;
  /** The rendered text, from a pure renderer. */
  content: pulumi.Input<string>;
  /** Octal mode, e.g. "0644"; files holding secrets should be "0600" or "0640". */
  mode?: string;
  owner?: string;
  group?: string;
  /** The content carries a secret: it is marked secret and no command output is logged. */
  secret?: boolean;
  /** Idempotent command run on the guest after the file changed (reload, adjust, ...). */
  onChange?: string;
}

export class HostFile extends HahaComponent {
  readonly write: command.remote.Command;
  readonly apply?: command.remote.Command;
  /** sha256 of the content (secret when the content is). */
  readonly contentHash: pulumi.Output<string>;

  constructor(name: string, args: HostFileArgs, opts?: pulumi.ComponentResourceOptions) {
    if (!path.posix.isAbsolute(args.path)) throw new Error(`HostFile ${name}: path "${args.path}" is not absolute`);
    const mode = args.mode ?? "0644";
    if (!/^0[0-7]{3}$/.test(mode)) throw new Error(`HostFile ${name}: mode "${mode}" is not an octal mode such as 0644`);
    const content = args.secret ? pulumi.secret(args.content) : pulumi.output(args.content);
    super("haha:host:File", name, { ...args, content, mode }, opts);

    const owner = `${args.owner ?? "root"}:${args.group ?? args.owner ?? "root"}`;
    const dir = path.posix.dirname(args.path);
    const logging = args.secret ? "none" : "stdoutAndStderr";
    // Write to a temporary file beside the target, then rename: readers never see half a file.
    const write = [
      "set -eu",
      `mkdir -p ${shq(dir)}`,
      `tmp=$(mktemp ${shq(dir)}/.haha.XXXXXX)`,
      `cat > "$tmp"`,
      `chown ${shq(owner)} "$tmp"`,
      `chmod ${mode} "$tmp"`,
      `mv -f "$tmp" ${shq(args.path)}`,
    ].join("\n");
    // Re-written when the content changes, never because only the connection did (rerun.ts).
    const guardedWrite = guardedInputs(`${name}-write`, write, content);
    this.write = new command.remote.Command(
      `${name}-write`,
      { connection: sshConnection(args.connection), create: guardedWrite.create, update: guardedWrite.update, delete: `rm -f ${shq(args.path)}`, stdin: content, logging, addPreviousOutputInEnv: false },
      this.child(),
    );
    this.contentHash = content.apply((c) => crypto.createHash("sha256").update(c).digest("hex"));
    if (args.onChange) {
      this.apply = new command.remote.Command(
        `${name}-apply`,
        { connection: sshConnection(args.connection), ...guardedCommandsOf(`${name}-apply`, args.onChange), triggers: [this.contentHash], logging, addPreviousOutputInEnv: false },
        // Replacing host config must not run the new apply before the old one is gone.
        this.child({ dependsOn: [this.write], deleteBeforeReplace: true }),
      );
    }
    this.registerOutputs({ path: args.path, host: args.connection.host, contentHash: this.contentHash });
  }
}
