// Home Assistant's doors: a login lockout always on, and, until the owner account exists, the
// HTTP server on loopback only, so nobody on the LAN can win the onboarding race. The rendered
// configuration.yaml is read back with the yaml parser as Home Assistant reads it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { mutatedConfig, prodConfig } from "../../helpers/config";
import { renderedAt } from "./broker";
import { probeDir as probeHostDir } from "../../../components/services/catalog";

const http = (c: ReturnType<typeof prodConfig>) => {
  const doc = parse(renderedAt(c, `${c.storage.nfs.mountPoint}/homeassistant/config/configuration.yaml`), { customTags: [{ tag: "!secret", resolve: (s: string) => s }, { tag: "!include", resolve: (s: string) => s }] });
  return doc.http as Record<string, unknown>;
};

describe("Home Assistant's HTTP doors", () => {
  it("bans an address after 5 failed logins (Home Assistant's default is never)", () => {
    const h = http(prodConfig());
    assert.equal(h.login_attempts_threshold, 5);
    assert.equal(h.ip_ban_enabled, true);
    assert.equal(http(mutatedConfig((raw) => (raw.services.homeassistant.loginAttemptsThreshold = 3))).login_attempts_threshold, 3);
  });

  it("listens on loopback only until haha:services.homeassistant.onboarded says the owner exists", () => {
    assert.deepEqual(http(prodConfig()).server_host, ["127.0.0.1"]);
    const after = http(mutatedConfig((raw) => (raw.services.homeassistant.onboarded = true)));
    assert.equal(after.server_host, undefined, "after onboarding it listens on every address (the VIP among them)");
    assert.equal(after.login_attempts_threshold, 5);
  });

  it("keeps the probe working in both modes: it asks 127.0.0.1", async () => {
    const c = prodConfig();
    const probe = renderedAt(c, `${probeHostDir("homeassistant")}/monitor.sh`);
    assert.match(probe, /http:\/\/127\.0\.0\.1:8123\/api\//);
  });
});
