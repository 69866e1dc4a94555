// `npm run lab -- <name> [options]`: runs one of the labs that execute HAHA's deployment for real
// (labs/vm: the rehearsal lab on qemu VMs; labs/ns: the native-speed cluster in network namespaces).
// Each lab module exports `main(argv): Promise<number>` (0 passed, 1 a check or scenario failed,
// 2 usage, 3 the lab itself broke) and cleans up after itself, also on failure and Ctrl-C.
import * as path from "node:path";

const LABS: Record<string, { module: string; what: string }> = {
  vm: { module: "./vm/main", what: "rehearsal lab: three Debian 12 VMs under qemu, the program's deployment over SSH, storage failovers" },
  ns: { module: "./ns/main", what: "namespace lab: the rendered cluster on real corosync/Pacemaker at native speed, real fencing and containers, failover measured" },
};

function usage(): string {
  return ["usage: npm run lab -- <lab> [options]   (npm run lab -- <lab> --help for its options)", ...Object.entries(LABS).map(([k, v]) => `  ${k.padEnd(4)} ${v.what}`)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const lab = name ? LABS[name] : undefined;
  if (!lab) {
    if (name && name !== "--help") console.log(`lab: unknown lab "${name}"`);
    console.log(usage());
    return 2;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(__dirname, lab.module)) as { main(argv: string[]): Promise<number> };
  return mod.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.log(`lab: internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.HAHA_DEBUG && e instanceof Error) console.log(e.stack);
    process.exit(3);
  },
);
