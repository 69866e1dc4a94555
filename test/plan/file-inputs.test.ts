// What a reviewer sees in a real `pulumi preview --diff`: each rendered file's text in exactly one
// input (its write command's `stdin`, shown as a line diff), not repeated in the HostFile
// component's args or any parent's. Checked over every resource the prod plan records, inputs
// of components included (the Node SDK sends a component's args to the engine, which diffs them).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { hostFiles } from "../../plan/files";
import type { RecordedResource } from "../../plan/types";
import { PROD_STACK_FILE } from "../helpers/config";
import { runPlanCli, tempDir } from "../helpers/plan";

/** Every string anywhere in a value. */
function strings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v !== null && typeof v === "object") for (const x of Object.values(v)) strings(x, out);
  return out;
}

let resources: RecordedResource[];
before(() => {
  const out = tempDir("compare-test-inputs-");
  const r = runPlanCli(["--config", PROD_STACK_FILE, "--out", out]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  resources = (JSON.parse(fs.readFileSync(path.join(out, "prod", "resources.json"), "utf8")) as { resources: RecordedResource[] }).resources;
});

describe("each rendered file's text is in exactly one input", () => {
  it("held by its write command's stdin and by no other input of any resource", () => {
    const files = hostFiles(resources);
    assert.ok(files.length > 30, `${files.length} files`);
    const inputs = resources.flatMap((r) => Object.entries(r.inputs).map(([key, v]) => ({ r, key, text: strings(v) })));
    for (const f of files) {
      // The same text shipped to several members is one input per member's write command.
      const receivers = files.filter((g) => g.content === f.content).length;
      const holders = inputs.filter((i) => i.text.some((s) => s.includes(f.content)));
      const where = holders.map((h) => `${h.r.type} "${h.r.name}".${h.key}`);
      const commands = holders.filter((h) => h.r.type === "command:remote:Command" && h.key === "stdin" && h.r.name.endsWith("-write"));
      assert.equal(commands.length, receivers, `${f.host}:${f.path} in ${where.join(", ")}`);
      if (!f.secret) {
        assert.deepEqual(where.sort(), commands.map((h) => `${h.r.type} "${h.r.name}".${h.key}`).sort(), `${f.host}:${f.path}: also in other inputs`);
      } else {
        // A one-line secret file (a password) equals the secret itself, which other resources hold too; never in clear.
        for (const h of holders) assert.ok(h.r.secretInputs.includes(h.key), `${f.host}:${f.path}: in the non-secret input ${h.r.type} "${h.r.name}".${h.key}`);
      }
    }
  });

  it("the HostFile components carry no content input", () => {
    const components = resources.filter((r) => r.type === "haha:host:File");
    assert.ok(components.length > 0);
    for (const c of components) assert.ok(!("content" in c.inputs), c.name);
  });
});
