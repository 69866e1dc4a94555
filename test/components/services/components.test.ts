// The services layer under Pulumi's mocks, as the offline plan records it: every Pacemaker-placed
// image pulled by digest and tagged as its alias on every member through that member's own
// docker provider, the intent on ServiceSet, the files shipped by one writer after the mount,
// secrets kept secret, and the voice guest with its GPU by mapping.
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import type { GuestConnection } from "../../../components/host/connection";
import { serviceCatalog, serviceFiles, ServiceConfigs, ServiceSet, VoiceAssistant } from "../../../components/services";
import { recordUnderMocks } from "../../../plan/mocks";
import type { RecordedResource } from "../../../plan/types";
import { clusterMembers } from "../../../stacks/config/members";
import type { HahaConfig } from "../../../stacks/config/schema";
import { parseConfig } from "../../../stacks/config/validate";
import { stackCibModel } from "../../../components/pacemaker/cib/stack";
import { primitives } from "../../../components/pacemaker/cib/model";
import { mutatedConfig, prodConfig, TEST_HOST_KEY } from "../../helpers/config";
import { generatedRaw } from "../../helpers/stacks";
import { fileSecret, fileText } from "../../helpers/plan";

async function record(c: HahaConfig): Promise<RecordedResource[]> {
  const members = clusterMembers(c);
  const connections: GuestConnection[] = members.map((m) => ({ host: m.name, address: m.address, user: c.ssh.user, port: c.ssh.port, privateKey: "<secret:sshPrivateKey>", hostKey: TEST_HOST_KEY }));
  const layer = { config: c, members, connections };
  const { resources } = await recordUnderMocks("unit", false, () => undefined, async () => {
    const services = new ServiceSet("services", layer);
    new ServiceConfigs("services-config", { ...layer, services });
    if (c.voice?.enabled) new VoiceAssistant("voice", { ...layer, privateKey: "<secret:sshPrivateKey>" });
    return {};
  });
  return resources;
}

const c = prodConfig();
let resources: RecordedResource[] = [];
const ofType = (t: string) => resources.filter((r) => r.type === t);
const byUrn = () => new Map(resources.map((r) => [r.urn, r]));
/** Every urn a resource waits for, directly or through what it waits for. */
function closure(urns: Map<string, RecordedResource>, r: RecordedResource): Set<string> {
  const seen = new Set<string>();
  const walk = (x: RecordedResource) => {
    for (const d of x.dependencies) if (!seen.has(d)) {
      seen.add(d);
      const next = urns.get(d);
      if (next) walk(next);
    }
  };
  walk(r);
  return seen;
}

before(async () => {
  resources = await record(c);
});

describe("pre-pulled images", () => {
  it("pulls every Pacemaker-placed image by its pinned digest on every member, through that member's docker provider", () => {
    const members = clusterMembers(c);
    const providers = new Map(ofType("pulumi:providers:docker").map((p) => [p.urn, p]));
    const images = ofType("docker:index/remoteImage:RemoteImage").filter((i) => !i.name.startsWith("voice"));
    const specs = serviceCatalog(c);
    assert.equal(images.length, members.length * specs.length);
    for (const m of members) {
      for (const s of specs) {
        const img = images.filter((i) => i.inputs.name === s.image.pinned && providers.get(i.provider!)?.inputs.host === `ssh://${c.ssh.user}@${m.address}:${c.ssh.port}`);
        assert.equal(img.length, 1, `${s.id} on ${m.name}`);
        assert.equal(img[0]!.inputs.keepLocally, true);
      }
    }
  });

  it("tags each pulled digest as the alias the CIB starts, on the same member, after the pull", () => {
    const urns = byUrn();
    const tags = ofType("docker:index/tag:Tag");
    for (const s of serviceCatalog(c)) {
      const mine = tags.filter((t) => t.inputs.targetImage === s.alias);
      assert.equal(mine.length, clusterMembers(c).length, s.id);
      for (const t of mine) {
        assert.equal(t.inputs.sourceImage, `${s.image.repository}@sha256:${s.image.digest}`);
        const pulls = t.dependencies.map((d) => urns.get(d)).filter((r) => r?.type === "docker:index/remoteImage:RemoteImage");
        assert.equal(pulls.length, 1);
        assert.equal(pulls[0]!.provider, t.provider, "tagged where it was pulled");
      }
    }
  });

  it("gives the docker providers no key material: ssh takes the key from the deployer's agent", () => {
    for (const p of ofType("pulumi:providers:docker")) {
      assert.match(String(p.inputs.host), /^ssh:\/\//);
      for (const k of ["keyMaterial", "certMaterial", "caMaterial", "certPath"]) assert.equal(p.inputs[k], undefined, k);
      assert.ok(!JSON.stringify(p.inputs).includes("sshPrivateKey"));
      assert.ok((p.inputs.sshOpts as string[]).includes("BatchMode=yes"));
    }
  });

  it("states its intent on ServiceSet: every service under Pacemaker, pre-pulled on every member; Ollama pinned and not critical", () => {
    const set = ofType("haha:services:ServiceSet")[0]!;
    const intent = set.inputs.intent as { services: { name: string; critical: boolean; image: string; placement: string; pinnedHost?: string; prePulledOn: string[] }[] };
    const names = clusterMembers(c).map((m) => m.name);
    for (const s of serviceCatalog(c)) {
      const i = intent.services.find((x) => x.name === s.id)!;
      assert.deepEqual(i, { name: s.id, critical: s.critical, image: s.image.pinned, placement: "pacemaker", prePulledOn: names });
    }
    assert.deepEqual(intent.services.find((x) => x.name === "ollama"), {
      name: "ollama",
      critical: false,
      image: c.voice!.ollama.image,
      placement: "pinned",
      pinnedHost: c.voice!.ollama.guest.node,
      prePulledOn: [c.voice!.ollama.guest.name],
    });
    assert.ok(intent.services.filter((s) => s.critical).every((s) => s.placement === "pacemaker"));
  });

  it("grows with the cluster: five members, five pulls of each image", async () => {
    const five = parseConfig(generatedRaw(5), "five hosts");
    const r = await record(five);
    const images = r.filter((x) => x.type === "docker:index/remoteImage:RemoteImage" && !x.name.startsWith("voice"));
    assert.equal(images.length, 5 * serviceCatalog(five).length);
  });
});

describe("service files", () => {
  it("ships every shared file once, from the first member, after the shared mount is there", () => {
    const urns = byUrn();
    const files = ofType("haha:host:File").filter((f) => String(f.inputs.path).startsWith(`${c.storage.nfs.mountPoint}/`));
    const specs = serviceFiles(c).filter((f) => !f.local);
    const writer = clusterMembers(c)[0]!.name;
    assert.deepEqual(files.map((f) => f.inputs.path).sort(), specs.map((f) => f.path).sort());
    const await_ = ofType("haha:host:Step").find((s) => s.name === "services-config-await-mount")!;
    assert.match(String(await_.inputs.create), /mountpoint -q/);
    // Pulumi records a dependency on a component as one on its children: the steps' commands.
    const awaitRun = resources.find((r) => r.name === "services-config-await-mount-run")!;
    assert.ok(awaitRun, await_.name);
    for (const f of files) {
      assert.equal((f.inputs.connection as { host: string }).host, writer);
      // its directory step, and through it the mount, come first
      const dirs = f.dependencies.map((d) => urns.get(d)!).find((d) => d?.name.endsWith("-dirs-run"));
      assert.ok(dirs, `${f.name} is not ordered after its directories`);
      assert.ok(dirs.dependencies.includes(awaitRun.urn), `${dirs.name} waits for the mount`);
    }
  });

  it("ships each probe's files to every member's own disk, none to the shared mount, before the service is applied", () => {
    const urns = byUrn();
    const members = clusterMembers(c).map((m) => m.name);
    const probes = serviceFiles(c).filter((f) => f.local);
    assert.ok(probes.length >= serviceCatalog(c).filter((s) => s.volumes.some((v) => v.container === "/haha")).length, "every probe volume has its files");
    for (const p of probes) {
      assert.ok(!p.path.startsWith(`${c.storage.nfs.mountPoint}/`), `${p.path} is on the shared mount: its monitor would hang while the export moves`);
      const copies = ofType("haha:host:File").filter((f) => f.inputs.path === p.path);
      assert.deepEqual(copies.map((f) => (f.inputs.connection as { host: string }).host).sort(), [...members].sort(), `${p.path} on every member`);
      const apply = resources.find((r) => r.name === `services-config-${p.service}-apply-run`)!;
      const writes = copies.map((f) => resources.find((r) => r.name === `${f.name}-write`)!.urn);
      for (const w of writes) assert.ok(closure(urns, apply).has(w), `${p.service}'s apply runs before ${p.path} is written on a member`);
    }
    // The containers mount exactly these directories, read-only.
    for (const s of serviceCatalog(c)) for (const v of s.volumes.filter((x) => x.container === "/haha")) {
      assert.equal(v.readOnly, true);
      assert.ok(probes.some((p) => p.service === s.id && p.path.startsWith(`${v.host}/`)), `${s.id}: nothing shipped to ${v.host}`);
    }
  });

  it("ships secret-bearing files as secret, with their owner and mode", () => {
    const files = new Map(ofType("haha:host:File").map((f) => [f.inputs.path as string, f]));
    for (const s of serviceFiles(c)) {
      const f = files.get(s.path)!;
      assert.equal(f.inputs.mode, s.mode);
      assert.equal(f.inputs.owner, String(s.uid));
      assert.equal(fileSecret(resources, f), s.secret, `${s.path} secret=${s.secret}`);
      if (!s.secret) assert.doesNotMatch(String(fileText(resources, f)), /<secret:/, `${s.path} holds a secret placeholder in clear`);
    }
  });

  it("restarts each service (or clears its failed first start) when its files change", () => {
    const steps = ofType("haha:host:Step");
    for (const s of serviceCatalog(c)) {
      const apply = steps.find((x) => x.name === `services-config-${s.id}-apply`)!;
      assert.match(String(apply.inputs.create), new RegExp(`crm_resource --resource ${s.id} --restart`));
      assert.match(String(apply.inputs.create), new RegExp(`crm_resource --resource ${s.id} --cleanup`));
      // One trigger per copy: a shared file once, a probe's file once per member.
      const files = serviceFiles(c).filter((f) => f.service === s.id).reduce((n, f) => n + (f.local ? clusterMembers(c).length : 1), 0);
      assert.equal((apply.inputs.triggers as unknown[]).length, files);
    }
  });

  it("waits for the shared mount 600 s, and as long again per opTimeoutScale", async () => {
    const wait = (steps: RecordedResource[]) => String(steps.find((s) => s.name === "services-config-await-mount")!.inputs.create).match(/not mounted after (\d+) s/)?.[1];
    assert.equal(wait(resources), "600");
    const slow = mutatedConfig((raw) => (raw.cluster.defaults = { ...(raw.cluster.defaults ?? {}), opTimeoutScale: 3.5 }));
    const script = String((await record(slow)).find((s) => s.name === "services-config-await-mount")!.inputs.create);
    assert.match(script, /\$\(seq 1 480\)/);
    assert.match(script, /not mounted after 2400 s/);
  });

  it("waits in each apply step as long as the CIB's own stop and start timeouts, scaled with opTimeoutScale", async () => {
    const slow = mutatedConfig((raw) => (raw.cluster.defaults = { ...(raw.cluster.defaults ?? {}), opTimeoutScale: 4 }));
    const cibOps = new Map(stackCibModel(slow).fragments.flatMap((f) => f.resources.flatMap(primitives)).map((p) => [p.id, p.ops]));
    const steps = (await record(slow)).filter((r) => r.type === "haha:host:Step");
    for (const s of serviceCatalog(slow)) {
      const script = String(steps.find((x) => x.name === `services-config-${s.id}-apply`)!.inputs.create);
      // crm_resource --restart --timeout=Ns, and the service's own wait: started <id> N.
      const waits = [...script.matchAll(/--timeout=(\d+)s/g), ...script.matchAll(new RegExp(`^\\s*started ${s.id} (\\d+)$`, "gm"))].map((m) => Number(m[1]));
      const ops = cibOps.get(s.id)!;
      const timeout = (name: string) => ops.find((o) => o.name === name)!.timeoutS;
      assert.ok(waits.length >= 2, `${s.id}: the apply step waits`);
      for (const w of waits) assert.ok(w >= timeout("start") + timeout("stop"), `${s.id}: waits ${w} s, the CIB allows ${timeout("stop")} s stop + ${timeout("start")} s start`);
    }
  });

  it("restarts a service only after the services it needs were (re)started", () => {
    const runs = new Map(resources.filter((r) => r.name.endsWith("-apply-run")).map((r) => [r.name, r]));
    for (const s of serviceCatalog(c)) {
      const mine = runs.get(`services-config-${s.id}-apply-run`)!;
      for (const dep of s.after) assert.ok(mine.dependencies.includes(runs.get(`services-config-${dep}-apply-run`)!.urn), `${s.id} after ${dep}`);
    }
  });

  it("declares the generated values with @pulumi/random, never in clear", () => {
    const pw = ofType("random:index/randomPassword:RandomPassword");
    for (const client of c.services.mosquitto.clients) assert.ok(pw.some((p) => p.name === `services-mqtt-${client}`), client);
    for (const p of pw) assert.equal(p.inputs.special, false);
    assert.ok(ofType("random:index/randomBytes:RandomBytes").some((b) => b.name === "services-zigbee-network-key-seed"));
  });
});

describe("the voice guest", () => {
  it("gets its GPU by PCI resource mapping (created from config), no USB, and is bound to the GPU's host", () => {
    const g = c.voice!.ollama.guest;
    const maps = ofType("proxmoxve:hardware/mapping/pci:Pci");
    assert.deepEqual(maps.map((m) => m.inputs.name), [g.gpuMapping]);
    assert.deepEqual(maps[0]!.inputs.maps, [{ node: g.node, path: g.gpuPci!.path, id: g.gpuPci!.id }]);
    const vm = ofType("proxmoxve:index/vmLegacy:VmLegacy")[0]!;
    assert.equal(vm.inputs.nodeName, g.node);
    assert.deepEqual(vm.inputs.hostpcis, [{ device: "hostpci0", mapping: g.gpuMapping, pcie: true, rombar: true, xvga: false }]);
    assert.deepEqual(vm.inputs.usbs, []);
    const guest = byUrn().get(vm.parent!)!;
    assert.equal(guest.type, "haha:services:VoiceGuest");
    assert.equal((guest.inputs.intent as { pciPurpose?: string }).pciPurpose, "non-critical");
  });

  it("runs Ollama with the GPU from the pre-pulled pin, and pulls the model at deploy", () => {
    const o = ofType("docker:index/container:Container").find((x) => x.inputs.name === "ollama")!;
    assert.equal(o.inputs.gpus, "all");
    // The pulled pin's image id (the provider compares ids: a name would replace it on every up).
    const image = ofType("docker:index/remoteImage:RemoteImage").find((x) => x.name === "voice-ollama-image")!;
    assert.equal(image.inputs.name, c.voice!.ollama.image);
    assert.match(o.inputs.image as string, /^sha256:[a-f0-9]{64}$/);
    assert.ok(o.dependencies.includes(image.urn));
    assert.equal(o.inputs.devices, undefined, "no device passthrough into the container");
    const model = ofType("haha:host:Step").find((s) => s.name === "voice-model")!;
    assert.match(String(model.inputs.create), new RegExp(`ollama pull '${c.voice!.ollama.model}'`));
  });

  it("needs no mapping resource when config names an existing mapping only", async () => {
    const raw = generatedRaw(3);
    delete raw.voice.ollama.guest.gpuPci;
    const r = await record(parseConfig(raw, "mapping exists"));
    assert.equal(r.filter((x) => x.type === "proxmoxve:hardware/mapping/pci:Pci").length, 0);
    assert.equal((r.find((x) => x.type === "proxmoxve:index/vmLegacy:VmLegacy")!.inputs.hostpcis as { mapping: string }[])[0]!.mapping, raw.voice.ollama.guest.gpuMapping);
  });
});

describe("component conventions", () => {
  it("parents every child under a services component and derives its name from the component's", () => {
    const urns = byUrn();
    for (const r of resources) {
      if (r.type === "pulumi:pulumi:Stack") continue;
      const parent = r.parent ? urns.get(r.parent) : undefined;
      if (!parent || parent.type === "pulumi:pulumi:Stack") {
        assert.match(r.type, /^haha:services:/, `${r.name} has no services parent`);
        continue;
      }
      assert.ok(r.name.startsWith(parent.name), `${r.name} under ${parent.name}`);
    }
  });
});
