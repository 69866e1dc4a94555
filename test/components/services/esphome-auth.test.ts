// The ESPHome dashboard: a generated login that docker reads from a 0600 env file on the member
// (so it is in neither the CIB nor a process list), the listener on the services VIP only, and
// the probe on that address.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serviceCatalog, serviceFiles, servicesCibFragment } from "../../../components/services";
import { ESPHOME_DASHBOARD_USER } from "../../../components/services/files";
import { primitives } from "../../../components/pacemaker/cib/model";
import { renderCib } from "../../../components/pacemaker/cib/serialize";
import { buildCibModel } from "../../../components/pacemaker/cib/build";
import { prodConfig } from "../../helpers/config";
import { renderedAt, testSecrets } from "./broker";

const c = prodConfig();
const spec = serviceCatalog(c).find((s) => s.id === "esphome")!;
const prim = servicesCibFragment(c).resources.flatMap(primitives).find((p) => p.id === "esphome")!;

describe("the ESPHome dashboard login", () => {
  it("is read by docker from an env file holding USERNAME and the generated PASSWORD, secret and 0600", () => {
    const f = serviceFiles(c).find((x) => x.path === spec.envFile)!;
    assert.ok(f, "no env file shipped");
    assert.equal(f.secret, true);
    assert.equal(f.mode, "0600");
    assert.equal(f.uid, 0);
    const sec = testSecrets(c);
    assert.equal(renderedAt(c, f.path, sec), `USERNAME=${ESPHOME_DASHBOARD_USER}\nPASSWORD=${sec.esphomeDashboardPassword}\n`);
    assert.ok(prim.params.run_opts!.split(" ").includes(`--env-file=${spec.envFile}`));
  });

  it("never puts the password in the CIB", () => {
    const sec = testSecrets(c);
    const cib = renderCib(buildCibModel(c, [servicesCibFragment(c)]));
    assert.ok(!cib.includes(sec.esphomeDashboardPassword));
    assert.doesNotMatch(prim.params.run_opts! + (prim.params.run_cmd ?? ""), /PASSWORD|--password/);
  });

  it("listens on the services VIP only, and the probe asks it there", () => {
    const cmd = prim.params.run_cmd!.split(" ");
    assert.equal(cmd[cmd.indexOf("--address") + 1], c.network.vip);
    assert.ok(prim.params.monitor_cmd!.includes(`http://${c.network.vip}:${c.services.esphome!.port}/`));
    assert.doesNotMatch(prim.params.monitor_cmd!, /127\.0\.0\.1|0\.0\.0\.0/);
  });
});
