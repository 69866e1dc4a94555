// One plan of the lab stack with the real program and the lab's real secrets, in a process of its
// own (the Pulumi runtime's state is global: one program run per process). Writes
// OUT/plan.json (0600: it holds the clear secrets the deployment needs) and OUT/resources.json
// (redacted, for people).
//   tsx labs/vm/plan-child.ts STACK_FILE OUT_DIR
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { runProgram } from "../../plan/mocks";
import { readStackFile } from "../../stacks/config/load";
import { ConfigError, formatProblem } from "../../stacks/config/validate";
import { tlsPrivateKey } from "../common/keys";
import { LabSecrets } from "../common/secrets";

async function main(): Promise<number> {
  const [file, out] = process.argv.slice(2);
  if (!file || !out) {
    console.log("usage: tsx labs/vm/plan-child.ts STACK_FILE OUT_DIR");
    return 2;
  }
  const key = fs.readFileSync(path.join(out, "deploy_key"), "utf8");
  const secretsFile = path.join(out, "secrets.json");
  const prior = fs.existsSync(secretsFile) ? (JSON.parse(fs.readFileSync(secretsFile, "utf8")) as { config?: Record<string, string> }).config : undefined;
  const secrets = new LabSecrets(secretsFile, { sshPrivateKey: key, proxmoxApiToken: prior?.proxmoxApiToken ?? crypto.randomUUID() }, {
    // The guests' SSH host keys (pinned by every connection) are real keys the guests boot with.
    "tls:index/privateKey:PrivateKey": (inputs) => tlsPrivateKey(inputs, "lab-vm"),
  });
  let stack;
  try {
    stack = readStackFile(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.log(e.problems.map((p) => formatProblem(p)).join("\n"));
      return 2;
    }
    throw e;
  }
  const name = path.basename(file).replace(/^Pulumi\.|\.yaml$/g, "");
  const run = await runProgram(name, stack, false, secrets);
  fs.writeFileSync(path.join(out, "plan.json"), JSON.stringify(run.resources, null, 1), { mode: 0o600 });
  fs.writeFileSync(path.join(out, "resources.json"), secrets.redact(JSON.stringify(run.resources, null, 1)));
  console.log(`planned ${run.resources.length} resources`);
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    console.log(`plan: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(3);
  },
);
