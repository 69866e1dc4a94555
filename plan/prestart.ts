// Imported by plan/cli.ts right after lazy-sdk, before the program's modules: when cli.ts is the
// process's entry and will simulate (not the --compare parent, which runs two plans as children),
// the failover worker starts now and loads its modules while this thread loads the program's.
import * as path from "node:path";
import { prestartFailoverWorker } from "./failover";

const entry = require.main?.filename.replace(/\.[cm]?[jt]s$/, "");
if (entry === path.join(__dirname, "cli") && !process.argv.includes("--compare") && !process.argv.includes("--help")) prestartFailoverWorker();
