// What decides that a step runs again. @pulumi/command 1.x (remote.Command, provider
// pulumi-command v1.2.1): `triggers` is its only replaceOnChanges input; a change of any other
// input, the `connection` included, is an update, and an update runs `update` when set, else
// `create` again (provider/pkg/provider/common/inputs.go and remote/commandController.go at tag
// v1.2.1; the SDK declares replaceOnChanges ["triggers[*]"] only). So a rotated deploy key or a
// newly pinned host key would re-run every script and restart every service.
//
// The connection stays an input (the new key must be what later runs and deletes use), and the
// decision moves to the guest: each run leaves a marker named after the step and the exact text it
// ran (script and stdin); the update command is the same script guarded by that marker. A change
// of the connection alone finds the marker and only refreshes the state; a changed script or
// content finds none and runs; a fresh guest at that address has no markers and gets everything.
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** Where the guest keeps the markers of the steps it has run (one empty file per step version). */
export const APPLIED_DIR = "/var/lib/haha/applied";

/** sha256 of the step's name, script and stdin: the marker's file name. */
export function runKey(name: string, script: string, stdin = ""): string {
  return crypto.createHash("sha256").update(`${name}\0${script}\0${stdin}`).digest("hex");
}

/**
 * The create and update commands of a step. The script runs unchanged in a subshell (its own
 * `exit`, `set -e` and EXIT traps stay its own; stdin passes through), and the marker is written
 * only when it succeeded. `update` skips the run when the marker of this very text exists.
 */
export function guardedCommands(key: string, script: string, dir = APPLIED_DIR): { create: string; update: string } {
  if (!/^[a-f0-9]{64}$/.test(key)) throw new Error(`guardedCommands: key "${key}" is not a sha256 hex digest`);
  const marker = `${dir}/${key}`;
  const create = [
    "(",
    script,
    ")",
    "rc=$?",
    '[ "$rc" -eq 0 ] || exit "$rc"',
    `mkdir -p '${dir}' && : > '${marker}'`,
  ].join("\n");
  const update = [
    `if [ -e '${marker}' ]; then echo 'haha: this step already ran with this exact script and input on this guest; not run again'; exit 0; fi`,
    create,
  ].join("\n");
  return { create, update };
}

/** guardedCommands over pulumi inputs; secret when the script or stdin is (the key hashes them). */
export function guardedInputs(name: string, script: pulumi.Input<string>, stdin?: pulumi.Input<string>): pulumi.Output<{ create: string; update: string }> {
  return pulumi.all([script, stdin ?? ""]).apply(([s, i]) => guardedCommands(runKey(name, s, i), s));
}

/** The script a guarded create command runs (the inverse of guardedCommands' wrapping); unguarded text as is. */
export function guardedScript(create: string): string {
  const m = /^\(\n([\s\S]*)\n\)\nrc=\$\?\n/.exec(create);
  return m ? m[1]! : create;
}
