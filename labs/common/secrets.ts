// Real secrets for a lab: the lab deploys for real, so the program's generated secrets (random
// passwords, keys) and the stack's haha:* secrets get real values instead of the plan's
// placeholders. They are generated once, kept in the lab's own folder (0600), reused by every
// re-plan (so a re-run sees the same inputs, as Pulumi's state would give), and never printed:
// `redact` scrubs every one of them from any text a lab shows or writes into a report.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import type { SecretSource } from "../../plan/mocks";
import type { SecretKey } from "../../stacks/config/schema";

type Generated = Record<string, string>;

interface Store {
  config: Partial<Record<SecretKey, string>>;
  /** By resource type and name: the outputs it yielded. */
  generated: Record<string, Generated>;
}

const ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
// @pulumi/random's default special characters.
const SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

function randomChars(length: number, alphabet: string): string {
  let out = "";
  while (out.length < length) out += alphabet[crypto.randomInt(alphabet.length)];
  return out;
}

function num(inputs: Record<string, unknown>, key: string, fallback?: number): number {
  const v = inputs[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new Error(`lab secrets: ${key} = ${JSON.stringify(inputs[key])} is not a positive length`);
  return v;
}

/** What @pulumi/random would yield, with real randomness. */
function generateRandom(type: string, inputs: Record<string, unknown>): Generated | undefined {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
    case "random:index/randomString:RandomString": {
      const special = inputs.special !== false;
      const alphabet = (inputs.upper === false ? "" : ALPHA.slice(0, 26)) + (inputs.lower === false ? "" : ALPHA.slice(26)) + (inputs.numeric === false ? "" : DIGITS) + (special ? String(inputs.overrideSpecial ?? SPECIAL) : "");
      const result = randomChars(num(inputs, "length"), alphabet);
      return type.endsWith("RandomPassword") ? { result, bcryptHash: bcrypt.hashSync(result, 10) } : { result };
    }
    case "random:index/randomBytes:RandomBytes": {
      const b = crypto.randomBytes(num(inputs, "length"));
      return { base64: b.toString("base64"), hex: b.toString("hex") };
    }
    case "random:index/randomId:RandomId": {
      const b = crypto.randomBytes(num(inputs, "byteLength"));
      return { b64Std: b.toString("base64"), b64Url: b.toString("base64url"), hex: b.toString("hex"), dec: BigInt(`0x${b.toString("hex")}`).toString() };
    }
    default:
      return undefined;
  }
}

export class LabSecrets implements SecretSource {
  private readonly store: Store;

  /**
   * @param file the lab's secrets file (created 0600 in a 0700 folder when absent)
   * @param config the clear values of the stack's haha:* secrets the lab made (e.g. its deploy key)
   * @param generators extra generators for other providers' key material, by type
   */
  constructor(
    private readonly file: string,
    config: Partial<Record<SecretKey, string>>,
    private readonly generators: Record<string, (inputs: Record<string, unknown>) => Generated> = {},
  ) {
    let store: Store = { config: {}, generated: {} };
    if (fs.existsSync(file)) store = JSON.parse(fs.readFileSync(file, "utf8")) as Store;
    store.config = { ...store.config, ...config };
    this.store = store;
    this.save();
  }

  config(key: SecretKey): string | undefined {
    return this.store.config[key];
  }

  generate(type: string, name: string, inputs: Record<string, unknown>): Generated | undefined {
    const id = `${type}::${name}`;
    const known = this.store.generated[id];
    if (known) return known;
    const made = this.generators[type]?.(inputs) ?? generateRandom(type, inputs);
    if (!made) return undefined;
    this.store.generated[id] = made;
    this.save();
    return made;
  }

  /** What a generated resource yielded, when the plan made it (a lab's client logs in with it). */
  known(type: string, name: string): Generated | undefined {
    return this.store.generated[`${type}::${name}`];
  }

  /** Every clear secret value the lab holds, longest first (so a value inside another is scrubbed after it). */
  values(): string[] {
    const all = [...Object.values(this.store.config), ...Object.values(this.store.generated).flatMap((g) => Object.values(g))];
    return [...new Set(all.filter((v): v is string => typeof v === "string" && v.length >= 6))].sort((a, b) => b.length - a.length);
  }

  /** The text with every secret value (and each line of a multi-line one, e.g. a key) replaced by <secret>. */
  redact(text: string): string {
    let out = text;
    for (const v of this.values()) {
      out = out.split(v).join("<secret>");
      for (const line of v.split("\n")) if (line.trim().length >= 16) out = out.split(line).join("<secret>");
    }
    return out;
  }

  private save(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.store, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
