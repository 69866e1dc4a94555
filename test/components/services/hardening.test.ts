// The containers' confinement as the CIB hands it to the docker agent: every capability dropped
// and only those a service needs given back (each with its reason, NET_RAW only where a raw
// socket is the service's job), no privilege gain, a memory limit, a non-root user where the
// image supports one; and the run_opts words, split as the agent splits them, parsed by the real
// docker CLI (pointed at a socket nobody serves, so it stops after parsing, at "Cannot connect").
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { serviceCatalog, servicesCibFragment } from "../../../components/services";
import { CAPABILITIES, UIDS } from "../../../components/services/catalog";
import { primitives } from "../../../components/pacemaker/cib/model";
import { prodConfig } from "../../helpers/config";
import { renderedAt } from "./broker";

const c = prodConfig();
const specs = serviceCatalog(c);
const prims = new Map(servicesCibFragment(c).resources.flatMap(primitives).map((p) => [p.id, p]));
const words = (id: string) => prims.get(id)!.params.run_opts!.split(/\s+/).filter(Boolean);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "security-hardening-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Services that may keep a raw socket, and why (anything else with NET_RAW fails). */
const NEEDS_NET_RAW = ["homeassistant"];

describe("container hardening in the CIB's run_opts", () => {
  for (const s of specs) {
    it(`${s.id}: drops every capability first, gains no privileges, has a memory limit`, () => {
      const w = words(s.id);
      assert.equal(w.filter((x) => x === "--cap-drop=ALL").length, 1);
      assert.ok(w.includes("--security-opt=no-new-privileges"), w.join(" "));
      const mem = w.find((x) => x.startsWith("--memory="));
      assert.match(mem ?? "", /^--memory=\d+m$/);
      assert.ok(s.hardening.memoryMiB.value >= 128 && s.hardening.memoryMiB.reason.length > 20);
      // only the capabilities the spec gives back, each with its reason, none twice
      const added = w.filter((x) => x.startsWith("--cap-add=")).map((x) => x.slice("--cap-add=".length));
      assert.deepEqual(added, s.hardening.capAdd.map((x) => x.cap));
      assert.equal(new Set(added).size, added.length);
      for (const a of s.hardening.capAdd) {
        assert.ok((CAPABILITIES as readonly string[]).includes(a.cap));
        assert.ok(a.reason.length > 20, `${s.id} ${a.cap}: no reason`);
      }
      assert.ok(s.hardening.user.reason.length > 20);
      assert.ok(!w.some((x) => /^--(privileged|cap-add=ALL|security-opt=(apparmor|seccomp)=unconfined)/.test(x)), w.join(" "));
    });
  }

  it(`keeps NET_RAW only for ${NEEDS_NET_RAW.join(", ")}`, () => {
    const withRaw = specs.filter((s) => words(s.id).includes("--cap-add=NET_RAW")).map((s) => s.id);
    assert.deepEqual(withRaw, NEEDS_NET_RAW);
    assert.match(specs.find((s) => s.id === "homeassistant")!.hardening.capAdd.find((x) => x.cap === "NET_RAW")!.reason, /DHCP/);
  });

  it("runs the broker, the recorder and Node-RED as their images' own users, and their files belong to those users", () => {
    const users: Record<string, number> = { mosquitto: UIDS.mosquitto, recorder: UIDS.postgres, nodered: UIDS.nodered };
    for (const [id, uid] of Object.entries(users)) {
      const s = specs.find((x) => x.id === id)!;
      assert.ok(words(id).includes(`--user=${uid}:${uid}`), id);
      // every directory the container writes or its probe reads belongs to that user
      for (const d of s.dirs.filter((d) => d.path !== s.dataDir)) assert.equal(d.uid, uid, `${id}: ${d.path}`);
    }
  });

  it("gives the real docker CLI only options it parses (split as the agent splits run_opts)", () => {
    const sock = path.join(tmp, "nobody.sock");
    for (const s of specs) {
      // --env-file is read by the CLI itself: point it at the rendered file in the temp dir.
      const opts = words(s.id).map((w) => {
        if (!w.startsWith("--env-file=")) return w;
        const file = path.join(tmp, `${s.id}.env`);
        fs.writeFileSync(file, renderedAt(c, w.slice("--env-file=".length)), { mode: 0o600 });
        return `--env-file=${file}`;
      });
      const r = spawnSync("docker", ["create", `--name=${s.id}`, ...opts, s.alias, ...(s.command ?? [])], { encoding: "utf8", env: { ...process.env, DOCKER_HOST: `unix://${sock}` }, timeout: 20000 });
      assert.ok(r.error === undefined, `docker CLI not runnable (Debian package docker.io; scripts/install-debian-tools.sh installs it): ${r.error?.message}`);
      assert.match(r.stderr, /Cannot connect to the Docker daemon/, `${s.id}: docker refused the options before connecting:\n${r.stderr}`);
    }
  });

  it("the docker CLI does refuse a malformed option (the check above can fail)", () => {
    const r = spawnSync("docker", ["create", "--memory=12x", "alpine"], { encoding: "utf8", env: { ...process.env, DOCKER_HOST: `unix://${path.join(tmp, "nobody.sock")}` } });
    assert.doesNotMatch(r.stderr, /Cannot connect/);
    assert.match(r.stderr, /invalid argument/);
  });
});

describe("files a non-root container reads", () => {
  it("belong to the user the container runs as (docker exec runs the probe as that user too)", async () => {
    const { serviceFiles } = await import("../../../components/services");
    for (const s of specs.filter((x) => x.hardening.user.value)) {
      for (const f of serviceFiles(c).filter((f) => f.service === s.id && !f.path.includes("/seed/"))) assert.equal(f.uid, s.hardening.user.value!.uid, `${s.id}: ${f.path}`);
    }
  });
});
