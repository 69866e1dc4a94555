// The installed ocf:heartbeat:docker agent, run for real on each service primitive's parameters,
// with a stand-in `docker` command on PATH (no docker engine runs here) that keeps a little state
// (images, containers) and logs every call. It shows what the agent does with our parameters:
// the words of `docker run` and `docker exec`, that a pre-pulled alias starts without any pull,
// that a missing image is refused without a pull, that a digest reference cannot be used as the
// image parameter at all, and that stop is graceful with the agent's own grace period.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { serviceCatalog, servicesCibFragment } from "../../../components/services";
import { runOptions } from "../../../components/services/catalog";
import { primitives, type Primitive } from "../../../components/pacemaker/cib/model";
import { prodConfig } from "../../helpers/config";

const AGENT = "/usr/lib/ocf/resource.d/heartbeat/docker";
const OCF_ERR_CONFIGURED = 6;

// Images are listed in `docker images` columns: REPOSITORY TAG IMAGE-ID CREATED SIZE.
const FAKE_DOCKER = `#!/bin/sh
state="$FAKE_DOCKER_STATE"
printf '%s\\037' "$@" >> "$state/calls"; printf '\\n' >> "$state/calls"
case "$1" in
  version) echo "Server: fake"; exit 0 ;;
  images) echo "REPOSITORY TAG IMAGE_ID CREATED SIZE"; cat "$state/images" 2>/dev/null; exit 0 ;;
  pull) echo "Error response from daemon: no registry reachable in this test" >&2; exit 1 ;;
  inspect)
    name=""; fmt=""
    for a in "$@"; do case "$a" in --format) ;; {{*) fmt="$a" ;; inspect|--type=container) ;; *) name="$a" ;; esac; done
    if [ ! -e "$state/containers/$name" ]; then echo "Error: No such container: $name" >&2; exit 1; fi
    if [ -n "$fmt" ]; then cat "$state/containers/$name"; fi
    exit 0 ;;
  run)
    for a in "$@"; do case "$a" in --name=*) name="\${a#--name=}" ;; esac; done
    mkdir -p "$state/containers"; echo true > "$state/containers/$name"; exit 0 ;;
  exec)
    if [ "$2" = "--help" ]; then exit 0; fi
    exit "$(cat "$state/exec-rc" 2>/dev/null || echo 0)" ;;
  stop|kill) for a in "$@"; do [ -e "$state/containers/$a" ] && echo false > "$state/containers/$a"; done; exit 0 ;;
  rm) rm -f "$state/containers/$2"; exit 0 ;;
esac
echo "fake docker: unexpected call: $*" >&2
exit 3
`;

const c = prodConfig();
const fragment = servicesCibFragment(c);
const prims = new Map(fragment.resources.flatMap(primitives).map((p) => [p.id, p]));
const specs = serviceCatalog(c);
const dirs: string[] = [];

interface Harness {
  run(action: string, meta?: Record<string, string>): { status: number | null; out: string };
  calls(): string[][];
  /** What `docker exec` (the probe) exits with from now on. */
  probeExits(rc: number): void;
}

function harness(p: Primitive, images: string[], params: Record<string, string> = p.params): Harness {
  if (!fs.existsSync(AGENT)) throw new Error(`${AGENT} is missing: install the Debian package resource-agents (CI installs it)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "haha-agent-"));
  dirs.push(dir);
  const bin = path.join(dir, "bin");
  const state = path.join(dir, "state");
  fs.mkdirSync(bin);
  fs.mkdirSync(path.join(state, "containers"), { recursive: true });
  fs.writeFileSync(path.join(bin, "docker"), FAKE_DOCKER, { mode: 0o755 });
  fs.writeFileSync(path.join(state, "images"), images.join("\n") + (images.length ? "\n" : ""));
  // mount_points are created by the agent (mkdir -p): keep them inside the test directory.
  const local = { ...params };
  if (local.mount_points) local.mount_points = local.mount_points.split(",").map((m) => path.join(dir, "mnt", m)).join(",");
  return {
    run(action, meta = {}) {
      const env: Record<string, string> = {
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_DOCKER_STATE: state,
        OCF_ROOT: "/usr/lib/ocf",
        OCF_RESOURCE_INSTANCE: p.id,
        HA_LOGFILE: path.join(dir, "agent.log"),
        HA_debug: "0",
      };
      for (const [k, v] of Object.entries(local)) env[`OCF_RESKEY_${k}`] = v;
      for (const [k, v] of Object.entries(meta)) env[`OCF_RESKEY_CRM_meta_${k}`] = v;
      const r = spawnSync(AGENT, [action], { env, encoding: "utf8", timeout: 20000 });
      return { status: r.status, out: r.stdout + r.stderr };
    },
    calls: () =>
      fs
        .readFileSync(path.join(state, "calls"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split("\x1f").filter((_, i, a) => i < a.length - 1)),
    probeExits: (rc) => fs.writeFileSync(path.join(state, "exec-rc"), String(rc)),
  };
}

/** `docker images` lines after a pull by digest and the alias tag, as a member has them. */
function prePulled(spec: (typeof specs)[number], tagged = true): string[] {
  const lines = [`${spec.image.repository} <none> 0123456789ab 2 days ago 500MB`];
  if (tagged) {
    const [repo, tag] = [spec.alias.slice(0, spec.alias.lastIndexOf(":")), spec.alias.slice(spec.alias.lastIndexOf(":") + 1)];
    lines.push(`${repo} ${tag} 0123456789ab 2 days ago 500MB`);
  }
  return lines;
}

after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("the installed docker agent on each service primitive", () => {
  for (const spec of specs) {
    const p = prims.get(spec.id)!;

    it(`${spec.id}: starts the pre-pulled alias with our exact docker run words, probes with our exact words, never pulls`, () => {
      const h = harness(p, prePulled(spec));
      const start = h.run("start");
      assert.equal(start.status, 0, start.out);
      const calls = h.calls();
      assert.ok(!calls.some((c) => c[0] === "pull"), "the agent pulled");
      const run = calls.find((c) => c[0] === "run");
      assert.deepEqual(run, ["run", "-d", `--name=${spec.id}`, ...runOptions(spec), spec.alias, ...(spec.command ?? [])]);
      const exec = calls.find((c) => c[0] === "exec" && c[1] !== "--help");
      assert.deepEqual(exec, ["exec", spec.id, ...spec.probe.command]);
    });

    it(`${spec.id}: the monitor fails when the probe fails though the container runs`, () => {
      const h = harness(p, prePulled(spec));
      assert.equal(h.run("start").status, 0);
      assert.equal(h.run("monitor").status, 0);
      h.probeExits(1);
      const mon = h.run("monitor");
      assert.equal(mon.status, 1, mon.out);
      assert.match(mon.out, /monitor cmd failed/);
    });

    it(`${spec.id}: stops gracefully with docker stop -t (stop timeout - 10 s), then removes the container`, () => {
      const h = harness(p, prePulled(spec));
      assert.equal(h.run("start").status, 0);
      const stopOp = p.ops.find((o) => o.name === "stop")!;
      const stop = h.run("stop", { timeout: String(stopOp.timeoutS * 1000) });
      assert.equal(stop.status, 0, stop.out);
      const calls = h.calls();
      assert.ok(calls.some((c) => c[0] === "stop" && c[1] === `-t=${stopOp.timeoutS - 10}` && c[2] === spec.id), JSON.stringify(calls));
      assert.ok(!calls.some((c) => c[0] === "kill"), "force_kill is off: no docker kill");
      assert.ok(calls.some((c) => c[0] === "rm" && c[1] === spec.id), "reuse is off: the container is removed");
    });

    it(`${spec.id}: without the pre-pulled alias the start is refused as misconfigured, and nothing is pulled`, () => {
      const h = harness(p, prePulled(spec, false));
      const start = h.run("start");
      assert.equal(start.status, OCF_ERR_CONFIGURED, start.out);
      assert.ok(!h.calls().some((c) => c[0] === "pull" || c[0] === "run"));
    });
  }

  it("cannot take a digest reference as its image, even with that image pulled: hence the local alias", () => {
    const spec = specs.find((s) => s.id === "homeassistant")!;
    const p = prims.get(spec.id)!;
    const h = harness(p, prePulled(spec, false), { ...p.params, image: spec.image.pinned });
    assert.equal(h.run("start").status, OCF_ERR_CONFIGURED);
    // ... and with allow_pull it would pull on every start, the failover path included.
    const pulling = harness(p, prePulled(spec, false), { ...p.params, image: spec.image.pinned, allow_pull: "true" });
    pulling.run("start");
    assert.ok(pulling.calls().some((c) => c[0] === "pull" && c[1] === spec.image.pinned));
  });
});
