// The failover step's own thread (started by failover.ts): crm_simulate's pool is fed from here,
// so it keeps the cores busy while the main thread runs the program under mocks. Gets one
// FailoverJob (plain data) and answers with its outcome (a report, or why there is none).
import { parentPort } from "node:worker_threads";
import { failoverOutcome, type FailoverJob } from "./failover";
import { toolCounts } from "./timing";

parentPort!.once("message", (job: FailoverJob) => {
  void failoverOutcome(job).then((outcome) => {
    parentPort!.postMessage({ outcome, tools: toolCounts() });
    parentPort!.close();
  });
});
