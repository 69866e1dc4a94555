// The docker providers' SSH: the known_hosts file rendered from a guest's pinned key, read by the
// real OpenSSH tools (ssh-keygen -F finds it, ssh -G takes the options as strict checking against
// that file only).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { dockerSshOpts, knownHostsFile, renderKnownHosts } from "../../../components/services/docker";
import { TEST_HOST_KEY } from "../../helpers/config";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "guest-init-docker-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("docker over ssh: the pinned host key", () => {
  it("renders a known_hosts file OpenSSH finds the guest's key in (port 22 and another port)", () => {
    const file = path.join(dir, "known_hosts");
    fs.writeFileSync(file, renderKnownHosts([{ address: "10.0.181.21", port: 22, key: TEST_HOST_KEY }, { address: "10.0.181.22", port: 2222, key: TEST_HOST_KEY }]));
    const found = execFileSync("ssh-keygen", ["-F", "10.0.181.21", "-f", file], { encoding: "utf8" });
    assert.match(found, new RegExp(`^10\\.0\\.181\\.21 ${TEST_HOST_KEY.split(" ").slice(0, 2).join(" ").replace(/[+/]/g, "\\$&")}$`, "m"));
    assert.equal(spawnSync("ssh-keygen", ["-F", "[10.0.181.22]:2222", "-f", file]).status, 0);
    assert.notEqual(spawnSync("ssh-keygen", ["-F", "10.0.181.23", "-f", file]).status, 0, "an unknown guest is not in the file");
  });

  it("refuses a key that is not an ed25519 public key", () => {
    assert.throws(() => renderKnownHosts([{ address: "10.0.181.21", port: 22, key: "<unknown>" }]), /not an OpenSSH ed25519 public key of|not an OpenSSH ed25519 public key/);
  });

  it("makes ssh check strictly against that guest's file only (as ssh -G resolves the options)", () => {
    const file = knownHostsFile("prod", "nllei01ha01");
    assert.equal(file, ".haha/known_hosts/prod/nllei01ha01");
    const g = execFileSync("ssh", ["-G", ...dockerSshOpts(file), "root@10.0.181.21"], { encoding: "utf8" });
    assert.match(g, /^stricthostkeychecking (yes|true)$/m);
    // ~ is the passwd entry's home (what the known_hosts writer resolves too), not $HOME.
    assert.match(g, new RegExp(`^userknownhostsfile ${os.userInfo().homedir.replace(/[.]/g, "\\.")}/\\.haha/known_hosts/prod/nllei01ha01$`, "m"));
    assert.match(g, /^globalknownhostsfile \/dev\/null$/m);
    assert.match(g, /^hostkeyalgorithms ssh-ed25519$/m);
    assert.match(g, /^batchmode yes$/m);
  });
});
