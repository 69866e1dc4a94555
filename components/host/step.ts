// An idempotent command on a guest that re-runs only when its triggers change: the building
// block for package installs, `drbdadm adjust`, the CIB push and every other apply step.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HahaComponent } from "../component";
import { GuestConnection, sshConnection } from "./connection";
import { guardedInputs } from "./rerun";

export interface HostStepArgs {
  connection: GuestConnection;
  /** Must be safe to run again: guard every destructive action on the guest's real state. */
  create: pulumi.Input<string>;
  delete?: pulumi.Input<string>;
  triggers?: pulumi.Input<unknown>[];
  /** A secret flows through the command: mark its script secret and log nothing. */
  secret?: boolean;
}

export class HostStep extends HahaComponent {
  readonly command: command.remote.Command;

  constructor(name: string, args: HostStepArgs, opts?: pulumi.ComponentResourceOptions) {
    super("haha:host:Step", name, { host: args.connection.host, create: args.secret ? pulumi.secret(args.create) : args.create, triggers: args.triggers }, opts);
    // A changed connection (rotated key, pinned host key) must not run the script again: see rerun.ts.
    const guarded = guardedInputs(`${name}-run`, args.secret ? pulumi.secret(args.create) : args.create);
    this.command = new command.remote.Command(
      `${name}-run`,
      {
        connection: sshConnection(args.connection),
        create: guarded.create,
        update: guarded.update,
        delete: args.delete,
        triggers: args.triggers,
        logging: args.secret ? "none" : "stdoutAndStderr",
        addPreviousOutputInEnv: false,
      },
      this.child({ deleteBeforeReplace: true }),
    );
    this.registerOutputs({ host: args.connection.host });
  }
}
