// Imported first by plan/cli.ts. @pulumi/pulumi loads, at import, three heavy modules the offline
// plan never calls: its Automation API, @npmcli/arborist and the TypeScript compiler (both for
// closure serialization, which only `pulumi.dynamic` providers use). Together they are more
// than a second of every plan. Each is registered here as a stand-in that loads the real module
// on first use, so nothing changes for code that does use them. Only the plan's process does
// this; `pulumi preview` and `pulumi up` load the SDK as it is.
import Module from "node:module";
import * as path from "node:path";

const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const HEAVY = [path.join(sdk, "automation", "index.js"), require.resolve("@npmcli/arborist", { paths: [sdk] }), require.resolve("typescript", { paths: [sdk] })];

const loadModule = Module.createRequire(__filename);

type Cache = Record<string, Module | undefined>;
const cache = (Module as unknown as { _cache: Cache })._cache;

function lazy(file: string): void {
  if (cache[file]) return;
  let real: Record<string | symbol, unknown> | undefined;
  const load = () => {
    if (real === undefined) {
      delete cache[file];
      real = loadModule(file) as Record<string | symbol, unknown>;
    }
    return real;
  };
  // __esModule: the SDK's __importStar then takes the stand-in as is, without enumerating it.
  const proxy = new Proxy({} as Record<string | symbol, unknown>, {
    get: (_t, k) => (k === "__esModule" ? true : load()[k]),
    has: (_t, k) => k in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_t, k) => {
      // tsx probes every module's exports for a "module.exports" getter (its ESM interop); none of
      // these modules has one, and answering must not load them (it did: half a second a plan).
      if (k === "module.exports") return undefined;
      const d = Object.getOwnPropertyDescriptor(load(), k);
      return d ? { ...d, configurable: true } : undefined;
    },
  });
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = proxy;
  cache[file] = m;
}

if (process.env.HAHA_PLAN_EAGER_SDK !== "1") for (const f of HEAVY) lazy(f);

// Source-mapped stack traces cost the plan about a second: the SDK reads `new Error().stack` for
// every resource and every promise it tracks, and tsx turns source maps on. The plan keeps them
// off (its own errors are messages, not traces) unless HAHA_DEBUG asks for traces.
if (!process.env.HAHA_DEBUG && process.env.HAHA_PLAN_SOURCE_MAPS !== "1") process.setSourceMapsEnabled(false);
