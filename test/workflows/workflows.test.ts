// The GitHub Actions workflows, read by GitHub's own workflow parser (@actions/workflow-parser,
// the one behind the Actions language service): they parse and convert without an error, and
// they do what README says: the compare on every pull request as one edited comment with the
// verdict as the check, the real preview only on a runner that reaches the home and never for a
// fork, `pulumi up` on main behind an environment, minimal permissions, no pull_request_target,
// and every command they run is one README documents.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { COMMENT_MARKER } from "../../plan/compare/render";
import { ROOT } from "../helpers/config";

const DIR = path.join(ROOT, ".github/workflows");
const FILES = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  id?: string;
  with?: Record<string, unknown>;
  "continue-on-error"?: boolean;
}
interface Job {
  "runs-on": unknown;
  if?: string;
  permissions?: Record<string, string>;
  environment?: string;
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const raw = (f: string) => fs.readFileSync(path.join(DIR, f), "utf8");
const workflow = (f: string) => parse(raw(f)) as Workflow;

async function errorsOf(name: string, content: string): Promise<string[]> {
  const wp = await import("@actions/workflow-parser");
  const parsed = wp.parseWorkflow({ name, content }, new wp.NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors().map((e) => e.message);
  if (parsed.value === undefined) return [...errors, "no workflow template"];
  const template = await wp.convertWorkflowTemplate(parsed.context, parsed.value);
  return [...errors, ...(template.errors ?? []).map((e) => e.Message)];
}

describe("workflows, by GitHub's workflow parser", () => {
  it("there are the pull-request, preview and deploy workflows", () => {
    assert.deepEqual(FILES, ["deploy.yml", "preview.yml", "pull-request.yml"]);
  });

  for (const f of FILES) {
    it(`${f} parses and converts without an error`, async () => {
      assert.deepEqual(await errorsOf(f, raw(f)), []);
    });
  }

  it("the parser does refuse a malformed workflow (an unknown job key, a step with both run and uses)", async () => {
    const broken = raw("pull-request.yml").replace("    timeout-minutes: 30\n", "    timeout-minutes: 30\n    permisions: {}\n");
    assert.notEqual(broken, raw("pull-request.yml"));
    assert.ok((await errorsOf("broken.yml", broken)).length > 0);
    const both = raw("deploy.yml").replace("      - uses: actions/checkout@v4\n", "      - uses: actions/checkout@v4\n        run: echo both\n");
    assert.ok((await errorsOf("both.yml", both)).length > 0);
  });
});

describe("what the workflows do", () => {
  it("no workflow uses pull_request_target; each denies every permission at the top and grants per job", () => {
    for (const f of FILES) {
      const w = workflow(f);
      assert.ok(!("pull_request_target" in w.on), f);
      assert.deepEqual(w.permissions, {}, `${f}: top-level permissions: {}`);
      for (const [id, job] of Object.entries(w.jobs)) {
        assert.ok(job.permissions, `${f} job ${id} declares its permissions`);
        for (const [scope, level] of Object.entries(job.permissions)) {
          const allowed = scope === "contents" ? level === "read" : scope === "pull-requests" && level === "write" && !!job.steps.find((s) => s.uses?.startsWith("actions/github-script") || s.with?.["comment-on-pr"] === true);
          assert.ok(allowed, `${f} job ${id}: ${scope}: ${level} is more than it needs`);
        }
      }
    }
  });

  it("every pull request: tests, and the compare posted as one comment found by its marker, the verdict as the check", () => {
    const w = workflow("pull-request.yml");
    assert.ok("pull_request" in w.on);
    const runs = Object.values(w.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ""));
    assert.ok(runs.includes("npm test"));
    const compare = w.jobs.compare!;
    const step = compare.steps.find((s) => s.id === "compare")!;
    assert.match(step.run!, /^npm run --silent plan -- --stack prod --compare --format markdown > compare\.md$/);
    assert.equal(step["continue-on-error"], true, "the comment is posted whatever the verdict");
    const post = compare.steps.find((s) => s.uses?.startsWith("actions/github-script@"))!;
    const script = String(post.with?.script);
    assert.ok(script.includes(JSON.stringify(COMMENT_MARKER)), "the script looks for the report's own marker");
    assert.match(script, /updateComment/);
    assert.match(script, /createComment/);
    const verdict = compare.steps.at(-1)!;
    assert.equal(verdict.if, "steps.compare.outcome != 'success'");
    assert.match(verdict.run!, /exit 1$/);
    const checkout = compare.steps.find((s) => s.uses?.startsWith("actions/checkout@"))!;
    assert.equal(checkout.with?.["fetch-depth"], 0, "the merge base must be in the clone");
  });

  it("the real preview: pulumi/actions with the policy pack, on a runner a variable names, never for a fork", () => {
    const w = workflow("preview.yml");
    assert.ok("pull_request" in w.on);
    const job = w.jobs.preview!;
    assert.match(job.if!, /vars\.HAHA_PREVIEW_RUNNER != ''/);
    assert.match(job.if!, /github\.event\.pull_request\.head\.repo\.full_name == github\.repository/);
    assert.equal(job["runs-on"], "${{ fromJSON(vars.HAHA_PREVIEW_RUNNER) }}");
    const p = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    assert.deepEqual({ command: p.with?.command, diff: p.with?.diff, comment: p.with?.["comment-on-pr"], packs: p.with?.policyPacks, stack: p.with?.["stack-name"] }, { command: "preview", diff: true, comment: true, packs: "policies", stack: "prod" });
  });

  it("on push to main: pulumi up behind the prod environment", () => {
    const w = workflow("deploy.yml");
    assert.deepEqual(w.on, { push: { branches: ["main"] } });
    const job = w.jobs.up!;
    assert.equal(job.environment, "prod");
    const p = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
    assert.equal(p.with?.command, "up");
    assert.equal(p.with?.policyPacks, "policies");
  });

  it("every command a workflow runs is one README documents", () => {
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    const documented = new Set(readme.split("\n").map((l) => l.trim()));
    for (const f of FILES) {
      for (const job of Object.values(workflow(f).jobs)) {
        for (const s of job.steps) {
          if (!s.run) continue;
          for (const line of s.run.split("\n").map((l) => l.trim()).filter(Boolean)) assert.ok(documented.has(line), `${f}: README does not document \`${line}\``);
        }
      }
    }
  });
});
