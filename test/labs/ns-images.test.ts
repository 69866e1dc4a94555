// The lab's images keep the contract of the upstream images the CIB runs: the uid:gid the
// program starts each container as (--user) exists in the image as the service's own user (a
// uid with no passwd entry made initdb refuse to run: "could not look up effective user ID 999").
import { strict as assert } from "node:assert";
import * as path from "node:path";
import { describe, it } from "node:test";
import { RECIPES } from "../../labs/common/images";
import { serviceCatalog } from "../../components/services/catalog";
import { readStackFile } from "../../stacks/config/load";
import { parseConfig } from "../../stacks/config/validate";

const stack = readStackFile(path.resolve(__dirname, "../../Pulumi.lab-ns.yaml"));
const catalog = serviceCatalog(parseConfig(stack.raw, "Pulumi.lab-ns.yaml"));

describe("lab images", () => {
  for (const [svc, recipe] of Object.entries(RECIPES)) {
    it(`${svc}: the image's user is the uid:gid the program runs it as`, () => {
      const spec = catalog.find((s) => s.id === svc);
      assert.ok(spec, `the program has no service ${svc}`);
      const want = spec.hardening.user.value ?? { uid: spec.uid, gid: spec.gid };
      assert.ok(recipe.user, `${svc}: the recipe declares no user; the CIB runs it as ${want.uid}:${want.gid}`);
      assert.deepEqual({ uid: recipe.user.uid, gid: recipe.user.gid }, want);
    });
    it(`${svc}: its build stops at the first failing command, and checks what it must contain`, () => {
      // set -e does not stop inside an && list: an npm install that failed there once left an image without Node-RED.
      for (const line of recipe.setup.split("\n")) assert.doesNotMatch(line, /&&|\|\|/, `${svc} setup line "${line}": one command per line`);
      assert.ok(recipe.requires.length > 0 && recipe.requires.every((f) => f.startsWith("/")));
    });
  }
});
