// docs/pacemaker.md carries the tunables as the model has them, reasons included.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { it } from "node:test";
import { renderTunablesDoc, TUNABLES_BEGIN, TUNABLES_END } from "../../../components/pacemaker/doc";
import { prodConfig, ROOT } from "../../helpers/config";

it("docs/pacemaker.md lists every tunable with the value and reason the prod model has", () => {
  const doc = fs.readFileSync(path.join(ROOT, "docs/pacemaker.md"), "utf8");
  const start = doc.indexOf(TUNABLES_BEGIN);
  const end = doc.indexOf(TUNABLES_END);
  assert.ok(start >= 0 && end > start, "the generated section is in the document");
  assert.equal(doc.slice(start, end + TUNABLES_END.length), renderTunablesDoc(prodConfig()), "regenerate with: npx tsx components/pacemaker/doc.ts");
});
