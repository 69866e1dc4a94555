// Runs the real program in-process under Pulumi's mock runtime and records every resource as
// registered: type, name, parent, dependencies, provider, inputs and which inputs were secret.
import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { isUnknown } from "@pulumi/pulumi/output";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { secretPlaceholder, StackFileConfig } from "../stacks/config/load";
import { SECRET_KEYS, SecretKey } from "../stacks/config/schema";
import type { StackOutputs } from "../stacks/haha";
import { program } from "../stacks/program";
import type { RecordedResource } from "./types";

const SECRET = { [rpc.specialSigKey]: rpc.specialSecretSig };
const isSecret = (v: unknown): v is { value: unknown } =>
  v !== null && typeof v === "object" && (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;

/**
 * Where secret values come from. The plan has none: every secret is a `<secret:NAME>` placeholder.
 * A lab, which deploys for real, hands real values it generated and keeps in its own folder.
 */
export interface SecretSource {
  /** The clear value of a `haha:*` stack secret (e.g. the lab's own deploy key). */
  config(key: SecretKey): string | undefined;
  /**
   * The secret outputs a generating resource yields (@pulumi/random today; any provider that makes
   * key material), each marked secret; undefined: the plan's placeholders (or the inputs echoed).
   */
  generate(type: string, name: string, inputs: Record<string, unknown>): Record<string, string> | undefined;
}

/**
 * Deterministic stand-ins for what providers compute. @pulumi/random yields placeholders
 * named after the resource, never real secrets, and always marked secret (unless a lab's
 * SecretSource hands real values).
 */
function mockState(type: string, name: string, inputs: Record<string, unknown>, source?: SecretSource): Record<string, unknown> {
  // Every generating type (@pulumi/random, @pulumi/tls, ...) goes through the lab's source first.
  const real = source?.generate(type, name, inputs);
  if (real) return { ...inputs, ...Object.fromEntries(Object.entries(real).map(([k, v]) => [k, { ...SECRET, value: v }])) };
  const secret = (suffix = "") => ({ ...SECRET, value: secretPlaceholder(`${name}${suffix}`) });
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      return { ...inputs, result: secret(), bcryptHash: secret(".bcrypt") };
    case "random:index/randomBytes:RandomBytes":
      return { ...inputs, base64: secret(), hex: secret(".hex") };
    case "random:index/randomId:RandomId":
      return { ...inputs, b64Std: secret(), b64Url: secret(".url"), hex: secret(".hex"), dec: secret(".dec") };
    case "random:index/randomString:RandomString":
      return { ...inputs, result: secret() };
    case "docker:index/remoteImage:RemoteImage": {
      // The id the daemon gives the pulled image: a stand-in derived from the name (the real one
      // is the image config's digest, known only after the pull).
      const ref = String(inputs.name ?? name);
      return { ...inputs, imageId: `sha256:${crypto.createHash("sha256").update(`stand-in:${ref}`).digest("hex")}`, repoDigest: ref.includes("@sha256:") ? ref.replace(/:[^:@/]+@/, "@") : ref };
    }
    case "tls:index/privateKey:PrivateKey": {
      // The private halves are placeholders; the public half is a well-formed stand-in derived
      // from the name (so known_hosts files and host key options render as they will for real).
      const pub = standInEd25519(name);
      return {
        ...inputs,
        privateKeyOpenssh: secret(),
        privateKeyPem: secret(".pem"),
        privateKeyPemPkcs8: secret(".pkcs8"),
        publicKeyOpenssh: `${pub}\n`,
        publicKeyPem: `<public:${name}.pem>`,
        publicKeyFingerprintMd5: `<public:${name}.md5>`,
        publicKeyFingerprintSha256: `<public:${name}.sha256>`,
      };
    }
    default:
      return inputs;
  }
}

/** An OpenSSH ed25519 public key line whose 32 key bytes are sha256(name): well-formed, owned by no private key. */
export function standInEd25519(name: string): string {
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from("ssh-ed25519")), str(crypto.createHash("sha256").update(name).digest())]);
  return `ssh-ed25519 ${blob.toString("base64")} stand-in:${name}`;
}

/** Replace secret wrappers by their (placeholder) values; report which top-level keys were secret. */
function unwrap(inputs: Record<string, unknown>): { inputs: Record<string, unknown>; secretInputs: string[] } {
  const secretInputs = new Set<string>();
  const walk = (v: unknown, top: string): unknown => {
    if (isSecret(v)) {
      secretInputs.add(top);
      return walk(v.value, top);
    }
    // Kept by deserializeProperties(…, keepUnknowns): a value a preview cannot know yet.
    if (v === rpc.unknownValue || isUnknown(v)) return "<unknown>";
    if (Array.isArray(v)) return v.map((x) => walk(x, top));
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x, top);
      return out;
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = walk(v, k);
  return { inputs: out, secretInputs: [...secretInputs].sort() };
}

export class DuplicateUrnError extends Error {}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getDependenciesList(): string[];
  getObject(): unknown;
  getProtect(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getReplaceonchangesList(): string[];
  getIgnorechangesList(): string[];
}

/** The lifecycle options a resource was registered with; undefined when it set none. */
function lifecycleOptions(req: RegisterRequest): RecordedResource["options"] {
  const o: NonNullable<RecordedResource["options"]> = {};
  if (req.getProtect()) o.protect = true;
  if (req.getDeletebeforereplace()) o.deleteBeforeReplace = true;
  if (req.getReplaceonchangesList().length > 0) o.replaceOnChanges = [...req.getReplaceonchangesList()];
  if (req.getIgnorechangesList().length > 0) o.ignoreChanges = [...req.getIgnorechangesList()];
  return Object.keys(o).length > 0 ? o : undefined;
}

export interface ProgramRun {
  resources: RecordedResource[];
  outputs: StackOutputs;
}

/**
 * Run `fn` inside a stack under Pulumi's mocks and record every resource it registers.
 * One run per process: the Pulumi runtime's state is global.
 */
export async function recordUnderMocks<T>(
  stack: string,
  preview: boolean,
  configure: () => void,
  fn: () => Promise<T>,
  source?: SecretSource,
): Promise<{ resources: RecordedResource[]; outputs: T }> {
  const recorded = new Map<string, RecordedResource>();
  const duplicates: string[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args: pulumi.runtime.MockResourceArgs) => ({ id: args.custom ? `${args.name}-id` : undefined, state: mockState(args.type, args.name, args.inputs, source) }),
      call: () => ({}),
    },
    "haha",
    stack,
    preview,
  );

  const monitor = settings.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): void };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const urn = resp.getUrn();
        if (recorded.has(urn)) duplicates.push(urn);
        const { inputs, secretInputs } = unwrap(rpc.deserializeProperties(req.getObject() as never, true) as Record<string, unknown>);
        const provider = req.getProvider();
        const options = lifecycleOptions(req);
        recorded.set(urn, {
          urn,
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          parent: req.getParent() || undefined,
          dependencies: [...new Set(req.getDependenciesList())].sort(),
          provider: provider ? provider.split("::").slice(0, 4).join("::") : undefined,
          inputs,
          secretInputs,
          ...(options ? { options } : {}),
        });
      }
      cb(err, resp);
    });
  configure();
  // The SDK formats a stack trace for every resource (its source position, which the mocks drop)
  // and every promise it tracks (shown only for leaks): most of a plan's program time. While the
  // program runs, traces are not formatted, unless HAHA_DEBUG wants them for an internal error.
  // Nor are their frames captured (stackTraceLimit 0): capturing them was still a quarter of a
  // second of a prod plan.
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  if (!process.env.HAHA_DEBUG) {
    Error.prepareStackTrace = (e: Error) => `${e.name}: ${e.message}`;
    Error.stackTraceLimit = 0;
  }
  let outputs: T;
  try {
    outputs = (await pulumi.runtime.runInPulumiStack(fn)) as T;
    await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  if (duplicates.length > 0) throw new DuplicateUrnError(`duplicate resource URNs (the later silently replaced the earlier): ${duplicates.join(", ")}`);
  // Stable order: by URN, so two plans of one config are byte-identical.
  const resources = [...recorded.values()].sort((a, b) => a.urn.localeCompare(b.urn));
  return { resources, outputs };
}

/** The stack file's config as the Pulumi runtime holds it; secrets are `<secret:KEY>` placeholders (or a lab's real values). */
export function setStackConfig(file: StackFileConfig, source?: SecretSource): void {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(file.raw)) config[`haha:${k}`] = JSON.stringify(v);
  const secretKeys: string[] = [];
  for (const [k, spec] of Object.entries(SECRET_KEYS)) {
    // Required secrets, and optional ones the stack file sets, get a placeholder.
    if (spec.required || file.secretsSet.includes(k as never)) {
      config[`haha:${k}`] = source?.config(k as SecretKey) ?? secretPlaceholder(k);
      secretKeys.push(`haha:${k}`);
    }
  }
  pulumi.runtime.setAllConfig(config, secretKeys);
}

/** Run stacks/program.ts, the real program, under mocks with the stack file's config. */
export function runProgram(stack: string, file: StackFileConfig, preview: boolean, source?: SecretSource): Promise<ProgramRun> {
  return recordUnderMocks(stack, preview, () => setStackConfig(file, source), program, source);
}
