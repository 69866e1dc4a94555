// Mosquitto's own file formats, each rendered from a typed model by a small serializer:
// mosquitto.conf, the ACL file, the password file in mosquitto_passwd's hashed format, and the
// options file mosquitto_sub reads (the broker's authenticated monitor).
import * as crypto from "node:crypto";

/** One line-oriented directive, with the reason it is set. */
interface Directive {
  key: string;
  values: (string | number | boolean)[];
  reason?: string;
}

export interface MosquittoListener {
  port: number;
  /** Omitted: every address (host networking; the services VIP is one of them). */
  bindAddress?: string;
}

export interface MosquittoConf {
  listeners: MosquittoListener[];
  passwordFile: string;
  aclFile: string;
  persistence: { location: string; autosaveIntervalS: number };
}

const WORD = /^[^\s#]+$/;

function directiveLine(d: Directive): string {
  for (const v of d.values) {
    const s = String(v);
    if (!WORD.test(s)) throw new Error(`mosquitto.conf: ${d.key} value "${s}" must be one word without '#'`);
  }
  return [d.key, ...d.values.map(String)].join(" ");
}

function renderDirectives(header: string, ds: Directive[]): string {
  const lines = [`# ${header}`];
  for (const d of ds) {
    if (d.reason) lines.push(`# ${d.reason}`);
    lines.push(directiveLine(d));
  }
  return lines.join("\n") + "\n";
}

/** mosquitto.conf: authentication always on, one ACL per user, persistence on shared storage. */
export function renderMosquittoConf(m: MosquittoConf): string {
  const ds: Directive[] = [
    { key: "per_listener_settings", values: [false], reason: "one password file and one ACL for every listener" },
    { key: "allow_anonymous", values: [false], reason: "every client logs in as its own user" },
    { key: "password_file", values: [m.passwordFile], reason: "hashed ($7$, PBKDF2-SHA512) passwords, one user per client" },
    { key: "acl_file", values: [m.aclFile], reason: "each user reaches only its own topics" },
    { key: "persistence", values: [true], reason: "retained messages and sessions survive a restart and a failover" },
    { key: "persistence_location", values: [m.persistence.location.endsWith("/") ? m.persistence.location : `${m.persistence.location}/`] },
    { key: "autosave_interval", values: [m.persistence.autosaveIntervalS], reason: "save often: a member that dies loses at most this many seconds of retained state" },
    { key: "log_dest", values: ["stdout"], reason: "to the container log (journald on the member)" },
    { key: "log_type", values: ["error"] },
    { key: "log_type", values: ["warning"] },
    { key: "log_type", values: ["notice"] },
    { key: "log_type", values: ["information"] },
    { key: "connection_messages", values: [true] },
  ];
  for (const l of m.listeners) ds.push({ key: "listener", values: l.bindAddress ? [l.port, l.bindAddress] : [l.port], reason: "MQTT (plain TCP on the home network; the VIP is one of this member's addresses)" });
  return renderDirectives("mosquitto.conf rendered by HAHA from haha:services.mosquitto; changes here are overwritten.", ds);
}

export type AclAccess = "read" | "write" | "readwrite" | "deny";

export interface AclUser {
  user: string;
  reason: string;
  rules: { access: AclAccess; topic: string }[];
}

/** The ACL file: one block per user, topics in order. */
export function renderMosquittoAcl(users: AclUser[]): string {
  const lines = ["# Mosquitto ACL rendered by HAHA: one block per MQTT user."];
  for (const u of users) {
    if (!WORD.test(u.user)) throw new Error(`mosquitto ACL: user "${u.user}" must be one word`);
    lines.push("", `# ${u.reason}`, `user ${u.user}`);
    for (const r of u.rules) {
      if (!/^[^\s]+$/.test(r.topic) || r.topic.includes("\0")) throw new Error(`mosquitto ACL: topic "${r.topic}" of ${u.user} must be one word`);
      lines.push(`topic ${r.access} ${r.topic}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** mosquitto_passwd's defaults for the $7$ format. */
export const PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/**
 * The salt is derived from user and password, so the same password always gives the same line
 * and a re-run shows no diff; a new password gets a new salt.
 */
export function deterministicSalt(user: string, password: string): Buffer {
  return crypto.createHmac("sha256", password).update(`haha-mosquitto-salt:${user}`).digest().subarray(0, SALT_BYTES);
}

/** One password file line, `user:$7$<iterations>$<salt b64>$<hash b64>`, as mosquitto_passwd writes it. */
export function mosquittoPasswordLine(user: string, password: string, salt = deterministicSalt(user, password), iterations = PBKDF2_ITERATIONS): string {
  if (!/^[^:\s]+$/.test(user)) throw new Error(`mosquitto password file: user "${user}" must not contain ':' or spaces`);
  if (password.length === 0) throw new Error(`mosquitto password file: empty password for ${user}`);
  const hash = crypto.pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, HASH_BYTES, "sha512");
  return `${user}:$7$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/** The whole password file, users in the given order. */
export function renderMosquittoPasswd(users: { user: string; password: string }[]): string {
  return users.map((u) => mosquittoPasswordLine(u.user, u.password)).join("\n") + "\n";
}

export interface ClientOptions {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * The options file mosquitto_sub reads from $XDG_CONFIG_HOME/mosquitto_sub: one option per
 * line. The monitor logs in from it, so its password never appears in the CIB or a process list.
 */
export function renderClientOptions(o: ClientOptions): string {
  for (const [k, v] of Object.entries({ host: o.host, user: o.user, password: o.password })) {
    if (!/^\S+$/.test(v)) throw new Error(`mosquitto_sub options: ${k} must be one word`);
  }
  return [`-h ${o.host}`, `-p ${o.port}`, `-u ${o.user}`, `-P ${o.password}`].join("\n") + "\n";
}
