// Container images built in the lab from software Debian or npm ships, keeping the contract of
// the images the program pins (paths, users, entrypoint, ports, env, the probe commands the CIB
// runs inside them), pushed to a real registry (Debian's docker-registry) inside a lab namespace
// and pulled by digest by the members' Docker daemons, then tagged with the local name the CIB
// starts (as the program's docker.Tag does for the pinned upstream digest).
//
// Interface (shared by labs/ns and labs/vm):
//   const tar = await buildImageTar(cacheDir, RECIPES.mosquitto, log);   // cached rootfs tarball
//   const reg = await LabRegistry.start({ netns, host, port, dir });      // http://host:port
//   const ref = await importAndPush(builderDocker, tar, RECIPES.mosquitto, reg.address);  // repo@sha256:
//   await pullPinned(memberDocker, ref, "localhost/haha/mosquitto:2.0.22-212f89e1eaeb");
//   await reg.stop();
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import YAML from "yaml";

const run = promisify(execFile);
const BIG = { maxBuffer: 64 * 1024 * 1024 };

export interface ImageRecipe {
  /** The service (CIB primitive id) the image stands in for. */
  service: string;
  /** Repository in the lab registry. */
  repo: string;
  /** What upstream image's contract it keeps, for the report. */
  upstream: string;
  /** Debian packages installed into a minbase rootfs. */
  packages: string[];
  /**
   * The upstream image's service user, created before the packages so they adopt its uid (the
   * CIB runs the container as --user=<uid>:<gid>: a uid without a passwd entry breaks initdb).
   */
  user?: { name: string; uid: number; gid: number; home: string };
  /** Files the built image must hold (what the CIB and the entrypoint run): checked after the build. */
  requires: string[];
  /** Shell run in the chroot after the packages (users, paths, npm installs, entrypoints); one command per line. */
  setup: string;
  /** Files written into the rootfs before setup (absolute path -> content; mode 0755 for scripts). */
  files?: Record<string, { content: string; mode?: number }>;
  config: { entrypoint?: string[]; cmd?: string[]; user?: string; env?: Record<string, string>; workdir?: string; expose?: number[] };
}

// The eclipse-mosquitto image: broker at /usr/sbin/mosquitto, mosquitto_sub on PATH (the CIB's
// monitor), /mosquitto/{config,data,log}, user mosquitto uid 1883, port 1883.
const mosquitto: ImageRecipe = {
  service: "mosquitto",
  repo: "haha/mosquitto",
  upstream: "eclipse-mosquitto:2.0.22",
  packages: ["mosquitto", "mosquitto-clients"],
  user: { name: "mosquitto", uid: 1883, gid: 1883, home: "/var/lib/mosquitto" },
  requires: ["/usr/sbin/mosquitto", "/usr/bin/mosquitto_sub", "/docker-entrypoint.sh"],
  setup: [
    "mkdir -p /mosquitto/config /mosquitto/data /mosquitto/log",
    "chown -R mosquitto:mosquitto /mosquitto",
  ].join("\n"),
  files: {},
  config: { entrypoint: ["/docker-entrypoint.sh"], cmd: ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto-no-auth.conf"], expose: [1883] },
};
mosquitto.files = {
  "/docker-entrypoint.sh": {
    mode: 0o755,
    // As upstream's: hand the data directory to the broker's user, then run the command.
    content: '#!/bin/sh\nset -e\nuser="$(id -u)"\nif [ "$user" = 0 ]; then find /mosquitto -path /mosquitto/config -prune -o ! -user 1883 -exec chown mosquitto:mosquitto {} + 2>/dev/null || true; fi\nexec "$@"\n',
  },
};

// The postgres image: postgres and pg_isready on PATH, docker-entrypoint.sh initialising PGDATA
// from POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD_FILE, running as postgres (uid 999).
const recorder: ImageRecipe = {
  service: "recorder",
  repo: "haha/recorder",
  upstream: "postgres:17.10 (Debian bookworm ships PostgreSQL 15)",
  packages: ["postgresql-15", "gosu"],
  // The postgres image's user: uid and gid 999.
  user: { name: "postgres", uid: 999, gid: 999, home: "/var/lib/postgresql" },
  requires: ["/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/initdb", "/usr/lib/postgresql/15/bin/pg_isready", "/usr/bin/psql", "/usr/local/bin/docker-entrypoint.sh"],
  setup: ["rm -rf /var/lib/postgresql/15/main", "mkdir -p /var/lib/postgresql/data /var/run/postgresql", "chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql", "chmod 2777 /var/run/postgresql"].join("\n"),
  files: {
    "/usr/local/bin/docker-entrypoint.sh": {
      mode: 0o755,
      content: [
        "#!/bin/sh",
        "# The subset of the postgres image's entrypoint the recorder uses: first start initialises PGDATA.",
        "set -eu",
        ': "${PGDATA:=/var/lib/postgresql/data}"',
        "# As upstream's docker_create_db_directories: PGDATA is made (mode 700) whoever runs it.",
        'mkdir -p "$PGDATA"',
        'chmod 700 "$PGDATA" || :',
        'if [ "$(id -u)" = 0 ]; then',
        '  chown -R postgres:postgres "$PGDATA"',
        '  exec gosu postgres "$0" "$@"',
        "fi",
        'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
        '  pwfile="${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE or a password is required}"',
        '  cp "$pwfile" /tmp/pw && initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 >/dev/null && rm -f /tmp/pw',
        '  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"',
        '  postgres -D "$PGDATA" -c listen_addresses= -k /var/run/postgresql &',
        "  pid=$!",
        "  until pg_isready -q -h /var/run/postgresql; do sleep 0.2; done",
        '  db="${POSTGRES_DB:-${POSTGRES_USER:-postgres}}"',
        '  [ "$db" = postgres ] || psql -q -h /var/run/postgresql -U "${POSTGRES_USER:-postgres}" -d postgres -c "CREATE DATABASE \\"$db\\""',
        '  kill "$pid"; wait "$pid" || true',
        "fi",
        'exec "$@"',
        "",
      ].join("\n"),
    },
  },
  config: {
    entrypoint: ["docker-entrypoint.sh"],
    cmd: ["postgres"],
    env: { PATH: "/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", PGDATA: "/var/lib/postgresql/data", LANG: "C.UTF-8" },
    expose: [5432],
  },
};

// The node-red image: Node-RED in /usr/src/node-red run by user node-red (uid 1000) with
// userDir /data, port 1880, curl (the CIB's monitor asks the editor for a 200 with it) and the
// image's own /healthcheck.js.
const nodered: ImageRecipe = {
  service: "nodered",
  repo: "haha/nodered",
  upstream: "nodered/node-red:4.1.15-22 (Debian's Node.js 18 instead of 22; node-red from the npm registry)",
  packages: ["nodejs", "npm", "ca-certificates", "curl"],
  user: { name: "node-red", uid: 1000, gid: 1000, home: "/usr/src/node-red" },
  requires: ["/usr/src/node-red/node_modules/node-red/red.js", "/usr/src/node-red/entrypoint.sh", "/healthcheck.js", "/usr/bin/node", "/usr/bin/curl"],
  setup: [
    "mkdir -p /usr/src/node-red /data",
    "chown node-red:node-red /usr/src/node-red /data",
    // One command per line: set -e does not stop on a failure inside an && list (an npm install
    // that failed once left an image without Node-RED).
    "cd /usr/src/node-red",
    "printf '{\"name\":\"node-red-docker\",\"private\":true,\"scripts\":{\"start\":\"node $NODE_OPTIONS node_modules/node-red/red.js $FLOWS\"},\"dependencies\":{\"node-red\":\"4.1.8\"}}\\n' > package.json",
    // The registry is reached as this machine reaches it: with the host's CA bundle (build time only).
    "npm --cafile=/haha-build-ca.crt install --omit=dev --no-fund --no-audit --no-update-notifier >/dev/null",
    "test -f node_modules/node-red/red.js",
    "chown -R node-red:node-red /usr/src/node-red",
    "rm -rf /root/.npm",
  ].join("\n"),
  files: {
    "/healthcheck.js": {
      content: [
        "// As the node-red image's healthcheck: the editor answers 200 on its port.",
        'const http = require("http");',
        'const port = Number(process.env.NODE_RED_PORT || 1880);',
        'const req = http.get({ host: "127.0.0.1", port, path: "/", timeout: 4000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));',
        'req.on("error", () => process.exit(1));',
        'req.on("timeout", () => { req.destroy(); process.exit(1); });',
        "",
      ].join("\n"),
    },
    "/usr/src/node-red/entrypoint.sh": { mode: 0o755, content: '#!/bin/sh\ntrap stop TERM INT\nstop() { kill "$child"; wait "$child"; }\nnpm --no-update-notifier --no-fund start --cache /data/.npm -- --userDir /data "$@" &\nchild=$!\nwait "$child"\n' },
  },
  config: { entrypoint: ["./entrypoint.sh"], user: "node-red", workdir: "/usr/src/node-red", env: { NODE_PATH: "/usr/src/node-red/node_modules:/data/node_modules", FLOWS: "flows.json", PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, expose: [1880] },
};

export const RECIPES: Record<string, ImageRecipe> = { mosquitto, recorder, nodered };

function recipeHash(r: ImageRecipe): string {
  // What goes into the rootfs; the image config is applied at import, the requires are a check.
  return crypto.createHash("sha256").update(JSON.stringify({ ...r, config: undefined, requires: undefined })).digest("hex").slice(0, 12);
}

async function sh(cmd: string, log?: (l: string) => void): Promise<void> {
  try {
    await run("sh", ["-c", cmd], BIG);
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    log?.(`${cmd.slice(0, 200)}\n${(err.stderr ?? "").slice(-2000)}`);
    throw new Error(`image build step failed: ${cmd.slice(0, 120)}: ${(err.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`, { cause: e });
  }
}

/** A Debian 12 minbase rootfs (debootstrap from Debian's mirror), built once per cache. */
export async function baseRootfs(cacheDir: string, log: (l: string) => void): Promise<string> {
  const base = path.join(cacheDir, "base");
  if (fs.existsSync(path.join(base, "etc/debian_version"))) return base;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = `${base}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log("images: debootstrap --variant=minbase bookworm (about 1 min)");
  await sh(`debootstrap --variant=minbase bookworm '${tmp}' http://deb.debian.org/debian`, log);
  fs.renameSync(tmp, base);
  return base;
}

/** The image's rootfs as a tarball, built from the base rootfs in a chroot; cached by recipe. */
export async function buildImageTar(cacheDir: string, r: ImageRecipe, log: (l: string) => void): Promise<string> {
  const tar = path.join(cacheDir, `${r.service}-${recipeHash(r)}.tar`);
  if (fs.existsSync(tar)) return tar;
  const base = await baseRootfs(cacheDir, log);
  const dir = path.join(cacheDir, `${r.service}.rootfs`);
  log(`images: building ${r.repo} (${r.packages.join(", ")})`);
  await sh(`rm -rf '${dir}' && cp -a '${base}' '${dir}'`, log);
  const mounts = ["proc", "sys", "dev"];
  try {
    await sh(`mount -t proc proc '${dir}/proc' && mount --rbind /sys '${dir}/sys' && mount --rbind /dev '${dir}/dev' && cp /etc/resolv.conf '${dir}/etc/resolv.conf'`, log);
    const u = r.user;
    if (u) await sh(`chroot '${dir}' sh -c 'groupadd --gid ${u.gid} ${u.name} && useradd --uid ${u.uid} --gid ${u.gid} --system --no-create-home --home-dir ${u.home} --shell /bin/sh ${u.name}'`, log);
    await sh(`chroot '${dir}' sh -c 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${r.packages.join(" ")} >/dev/null'`, log);
    for (const [p, f] of Object.entries(r.files ?? {})) {
      const target = path.join(dir, p);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: f.mode ?? 0o644 });
    }
    fs.writeFileSync(path.join(dir, "haha-setup.sh"), `set -eu\n${r.setup}\n`);
    fs.copyFileSync("/etc/ssl/certs/ca-certificates.crt", path.join(dir, "haha-build-ca.crt"));
    await sh(`chroot '${dir}' sh /haha-setup.sh`, log);
    fs.rmSync(path.join(dir, "haha-setup.sh"));
    fs.rmSync(path.join(dir, "haha-build-ca.crt"));
    await sh(`chroot '${dir}' sh -c 'apt-get clean && rm -rf /var/lib/apt/lists/*'`, log);
    const missing = r.requires.filter((f) => !fs.existsSync(path.join(dir, f)));
    if (missing.length > 0) throw new Error(`image ${r.repo}: the build left no ${missing.join(", ")}`);
  } finally {
    for (const m of mounts.reverse()) await run("umount", ["-R", "-l", path.join(dir, m)]).catch(() => undefined);
  }
  await sh(`tar -C '${dir}' --numeric-owner -cf '${tar}.tmp' . && mv '${tar}.tmp' '${tar}' && rm -rf '${dir}'`, log);
  return tar;
}

/** The docker CLI against one daemon. */
export interface DockerCli {
  host: string;
  docker(args: string[], stdin?: string): Promise<string>;
}

export function dockerCli(socket: string): DockerCli {
  const host = `unix://${socket}`;
  return {
    host,
    docker: async (args, stdin) =>
      new Promise((resolve, reject) => {
        const c = spawn("docker", ["-H", host, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        let out = "";
        let err = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.stderr.on("data", (d: Buffer) => (err += d.toString()));
        c.on("error", (e) => reject(new Error(`docker ${args.slice(0, 3).join(" ")}: ${e.message}`)));
        // "close", not "exit": exit can come before the last of stdout (an empty inspect result).
        c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`docker ${args.slice(0, 3).join(" ")}: ${err.trim() || `exit ${code}`}`))));
        // A docker that exits before reading its stdin (no daemon yet) must not crash the lab (EPIPE).
        c.stdin.on("error", () => undefined);
        c.stdin.end(stdin ?? "");
      }),
  };
}

/** `docker import` of the rootfs with the upstream image's config, pushed; returns repo@sha256:… */
export async function importAndPush(d: DockerCli, tar: string, r: ImageRecipe, registry: string): Promise<string> {
  const tag = `${registry}/${r.repo}:lab-${recipeHash(r)}`;
  const changes: string[] = [];
  const c = r.config;
  if (c.entrypoint) changes.push(`ENTRYPOINT ${JSON.stringify(c.entrypoint)}`);
  if (c.cmd) changes.push(`CMD ${JSON.stringify(c.cmd)}`);
  if (c.user) changes.push(`USER ${c.user}`);
  if (c.workdir) changes.push(`WORKDIR ${c.workdir}`);
  for (const [k, v] of Object.entries(c.env ?? {})) changes.push(`ENV ${k}=${v}`);
  for (const p of c.expose ?? []) changes.push(`EXPOSE ${p}`);
  // A daemon (and registry) kept from an earlier run already holds this build: no second import.
  const have = await d.docker(["image", "inspect", "--format", "{{.Id}}", tag]).then(() => true, () => false);
  if (!have) await d.docker(["import", ...changes.flatMap((x) => ["--change", x]), tar, tag]);
  await d.docker(["push", "--quiet", tag]);
  const digests = JSON.parse(await d.docker(["image", "inspect", "--format", "{{json .RepoDigests}}", tag])) as string[];
  const pinned = digests.find((x) => x.startsWith(`${registry}/${r.repo}@sha256:`));
  if (!pinned) throw new Error(`push of ${tag} left no digest in the registry ${registry}`);
  return pinned;
}

/** Pull by digest only (as the program's RemoteImage does) and tag it with the name the CIB starts. */
export async function pullPinned(d: DockerCli, pinned: string, localTag: string): Promise<void> {
  await d.docker(["pull", "--quiet", pinned]);
  await d.docker(["tag", pinned, localTag]);
}

export interface RegistryOptions {
  /** The lab namespace the registry listens in. */
  netns: string;
  host: string;
  port: number;
  /** Storage and config folder (kept: a cache of pushed layers for the next run). */
  dir: string;
  /** Serve HTTPS with this certificate (clients then verify it against its CA); plain HTTP without. */
  tls?: { certFile: string; keyFile: string; caCertFile: string };
}

/** Debian's docker-registry (distribution), listening inside a lab namespace. */
export class LabRegistry {
  private constructor(
    private readonly proc: ChildProcess,
    readonly address: string,
    readonly dir: string,
  ) {}

  static async start(o: RegistryOptions): Promise<LabRegistry> {
    fs.mkdirSync(path.join(o.dir, "data"), { recursive: true });
    const cfg = path.join(o.dir, "config.yml");
    const http = { addr: `${o.host}:${o.port}`, ...(o.tls ? { tls: { certificate: o.tls.certFile, key: o.tls.keyFile } } : {}) };
    fs.writeFileSync(cfg, YAML.stringify({ version: 0.1, log: { level: "warn" }, storage: { filesystem: { rootdirectory: path.join(o.dir, "data") }, delete: { enabled: true } }, http }));
    const logFd = fs.openSync(path.join(o.dir, "registry.log"), "a");
    const proc = spawn("ip", ["netns", "exec", o.netns, "docker-registry", "serve", cfg], { stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    const address = `${o.host}:${o.port}`;
    const deadline = Date.now() + 20000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}); see ${path.join(o.dir, "registry.log")}`);
      const probe = o.tls ? ["--cacert", o.tls.caCertFile, `https://${address}/v2/`] : [`http://${address}/v2/`];
      const ok = await run("ip", ["netns", "exec", o.netns, "curl", "-fsS", "-o", "/dev/null", ...probe]).then(() => true, () => false);
      if (ok) return new LabRegistry(proc, address, o.dir);
      if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${address} within 20 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      await new Promise((r) => this.proc.once("exit", r));
    }
  }
}
