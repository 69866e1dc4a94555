// Raw provider resources declared for real under Pulumi's mocks and handed to the policies the
// way the plan hands them: inputs with secrets unwrapped, the top-level keys that held a secret,
// and each resource's parent. Independent of the program, so only the resources a test declares
// are recorded. One recording per test process: the Pulumi runtime's state is global.
import * as pulumi from "@pulumi/pulumi";
import { isUnknown } from "@pulumi/pulumi/output";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import type { OfflineResource } from "../../policies/evaluate";

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getObject(): unknown;
}

const isSecret = (v: unknown): v is { value: unknown } => v !== null && typeof v === "object" && (v as Record<string, unknown>)[rpc.specialSigKey] === rpc.specialSecretSig;

function unwrap(inputs: Record<string, unknown>): { props: Record<string, unknown>; secretInputs: string[] } {
  const secret = new Set<string>();
  const walk = (v: unknown, top: string): unknown => {
    if (isSecret(v)) {
      secret.add(top);
      return walk(v.value, top);
    }
    // Preview: what the engine sends policies for a value not known yet.
    if (isUnknown(v)) return rpc.unknownValue;
    if (Array.isArray(v)) return v.map((x) => walk(x, top));
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, top)]));
    return v;
  };
  const props = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, walk(v, k)]));
  return { props, secretInputs: [...secret].sort() };
}

export async function recordRaw(declare: () => void, preview = false): Promise<OfflineResource[]> {
  const recorded: OfflineResource[] = [];
  await pulumi.runtime.setMocks(
    { newResource: (a) => ({ id: a.custom ? `${a.name}-id` : undefined, state: a.inputs }), call: () => ({}) },
    "haha",
    "test",
    preview,
  );
  const monitor = settings.getMonitor() as unknown as { registerResource(req: RegisterRequest, cb: (err: unknown, resp?: { getUrn(): string }) => void): void };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const { props, secretInputs } = unwrap(rpc.deserializeProperties(req.getObject() as never, true) as Record<string, unknown>);
        recorded.push({ urn: resp.getUrn(), type: req.getType(), name: req.getName(), parent: req.getParent() || undefined, dependencies: req.getDependenciesList(), props, secretInputs });
      }
      cb(err, resp);
    });
  await pulumi.runtime.runInPulumiStack(async () => {
    declare();
    return {};
  });
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  const urns = recorded.map((r) => r.urn);
  if (new Set(urns).size !== urns.length) throw new Error(`duplicate URNs recorded: ${urns.join(", ")}`);
  return recorded;
}
