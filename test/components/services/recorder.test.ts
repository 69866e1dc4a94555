// The recorder database as the postgres image initialises it, on a real PostgreSQL (Debian's
// postgresql package): initdb with the image's arguments and the catalog's POSTGRES_INITDB_ARGS,
// the host line the image's entrypoint appends, then the server on loopback and a unix socket in
// a temp dir, run as a non-root user. A client without the password is refused on both; with it,
// it is let in.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { serviceCatalog } from "../../../components/services";
import { prodConfig } from "../../helpers/config";
import { freePort, testSecrets } from "./broker";

const c = prodConfig();
const spec = serviceCatalog(c).find((s) => s.id === "recorder")!;
const password = testSecrets(c).recorderPassword;
const USER = "postgres"; // created by Debian's postgresql package: initdb refuses to run as root
let dir = "";
let port = 0;
let bin = "";

function pgBin(): string {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))) : [];
  if (versions.length === 0) throw new Error("PostgreSQL is not installed: the Debian package postgresql is needed (scripts/install-debian-tools.sh installs it)");
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, "bin");
}

function asUser(cmd: string, args: string[]) {
  return spawnSync("runuser", ["-u", USER, "--", path.join(bin, cmd), ...args], { encoding: "utf8", timeout: 60000 });
}

function psql(host: string, withPassword: boolean) {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), PGCONNECT_TIMEOUT: "5" };
  delete env.PGPASSWORD;
  if (withPassword) env.PGPASSWORD = password;
  // -w: never prompt; a server that wants a password and gets none refuses the connection.
  return spawnSync("psql", ["-w", "-h", host, "-p", String(port), "-U", "homeassistant", "-d", "postgres", "-tAc", "select current_user"], { encoding: "utf8", env, timeout: 20000 });
}

before(async () => {
  bin = pgBin();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "security-recorder-"));
  execFileSync("chown", [USER, dir]);
  fs.chmodSync(dir, 0o700);
  const pwfile = path.join(dir, "pwfile");
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  execFileSync("chown", [USER, pwfile]);
  const data = path.join(dir, "pgdata");
  // The image's entrypoint: initdb --username="$POSTGRES_USER" --pwfile=<(password) $POSTGRES_INITDB_ARGS (eval'd: split on spaces).
  const initdbArgs = (spec.env.POSTGRES_INITDB_ARGS ?? "").split(/\s+/).filter(Boolean);
  const init = asUser("initdb", [`--username=${spec.env.POSTGRES_USER}`, `--pwfile=${pwfile}`, ...initdbArgs, "-D", data]);
  assert.equal(init.status, 0, init.stdout + init.stderr);
  // ...then it appends one line for every other host, with POSTGRES_HOST_AUTH_METHOD or the
  // server's password_encryption (scram-sha-256 since PostgreSQL 14).
  fs.appendFileSync(path.join(data, "pg_hba.conf"), `\nhost all all all ${spec.env.POSTGRES_HOST_AUTH_METHOD ?? "scram-sha-256"}\n`);
  port = await freePort();
  // The catalog's own server options, with the test's port and a socket directory in the temp dir.
  const cmd = spec.command!;
  const settings = cmd.slice(1).filter((_, i, a) => a[i - 1] === "-c" && !a[i]!.startsWith("port=")).concat([`port=${port}`, `unix_socket_directories=${dir}`]);
  assert.ok(settings.includes("listen_addresses=127.0.0.1"));
  const start = asUser("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "30", "-o", settings.map((s) => `-c ${s}`).join(" "), "start"]);
  assert.equal(start.status, 0, start.stdout + start.stderr + (fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : ""));
});

after(() => {
  if (dir && fs.existsSync(path.join(dir, "pgdata", "postmaster.pid"))) asUser("pg_ctl", ["-D", path.join(dir, "pgdata"), "-m", "immediate", "-w", "stop"]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe("the recorder database as the image initialises it", () => {
  it("refuses a client without the password on loopback (host networking makes every container local)", () => {
    const r = psql("127.0.0.1", false);
    assert.notEqual(r.status, 0, `connected without a password: ${r.stdout}`);
    assert.match(r.stderr, /password/i);
  });

  it("refuses a client without the password on the unix socket", () => {
    const r = psql(dir, false);
    assert.notEqual(r.status, 0, `connected without a password: ${r.stdout}`);
    assert.match(r.stderr, /password/i);
  });

  it("lets Home Assistant in with the password, on both", () => {
    for (const host of ["127.0.0.1", dir]) {
      const r = psql(host, true);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), "homeassistant");
    }
  });

  it("refuses a wrong password", () => {
    const env = { ...process.env, PGPASSWORD: "not-the-password" };
    const r = spawnSync("psql", ["-w", "-h", "127.0.0.1", "-p", String(port), "-U", "homeassistant", "-d", "postgres", "-c", "select 1"], { encoding: "utf8", env });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /password authentication failed/);
  });
});
