// Plan step 6's picture (DESIGN.md section 3): build/<stack>/report.html from the plan's outputs.
import * as fs from "node:fs";
import * as path from "node:path";
import type { PlanContext } from "../types";
import { reportModel } from "./load";
import { renderReport } from "./render";

/** Writes build/<stack>/report.html and returns its path as a person would type it (relative to the working directory when inside it). */
export function writeReport(ctx: PlanContext): string {
  const file = path.join(ctx.outDir, "report.html");
  fs.writeFileSync(file, renderReport(reportModel(ctx)));
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}
