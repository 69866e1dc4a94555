// haha:services, haha:peripherals and haha:voice: each malformed or inconsistent value is refused
// before anything is declared, with its key path, its value and what was expected.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, formatProblem, parseConfig } from "../../stacks/config/validate";
import { prodConfig, prodRaw } from "../helpers/config";

type Raw = Record<string, any>;

const cases: { name: string; mutate: (r: Raw) => void; path: string; expect: RegExp }[] = [
  { name: "image with a tag only", mutate: (r) => (r.services.mosquitto.image = "eclipse-mosquitto:2.0.22"), path: "haha:services.mosquitto.image", expect: /pinned by digest/ },
  { name: "recorder image with a tag only", mutate: (r) => (r.services.homeassistant.recorder.image = "postgres:17"), path: "haha:services.homeassistant.recorder.image", expect: /pinned by digest/ },
  { name: "voice image with a tag only", mutate: (r) => (r.voice.whisper.image = "rhasspy/wyoming-whisper:latest"), path: "haha:voice.whisper.image", expect: /pinned by digest/ },
  { name: "two services on one port", mutate: (r) => (r.services.nodered.port = 8123), path: "haha:services.nodered.port", expect: /already used by haha:services\.homeassistant\.port/ },
  { name: "a service on a cluster daemon's port", mutate: (r) => (r.services.esphome.port = 2224), path: "haha:services.esphome.port", expect: /pcsd/ },
  { name: "a service on DRBD's port", mutate: (r) => (r.services.mosquitto.port = 7789), path: "haha:services.mosquitto.port", expect: /haha:storage\.drbd\.port/ },
  { name: "voice servers on one port", mutate: (r) => (r.voice.piper.port = r.voice.whisper?.port ?? 10300), path: "haha:voice.piper.port", expect: /already used by haha:voice\.whisper\.port/ },
  { name: "a built-in MQTT client dropped", mutate: (r) => (r.services.mosquitto.clients = ["homeassistant", "zigbee2mqtt"]), path: "haha:services.mosquitto.clients", expect: /built-in clients/ },
  { name: "an MQTT client listed twice", mutate: (r) => (r.services.mosquitto.clients = ["homeassistant", "zigbee2mqtt", "nodered", "monitor", "nodered"]), path: "haha:services.mosquitto.clients[4]", expect: /once/ },
  { name: "an unknown time zone", mutate: (r) => (r.services.homeassistant.timeZone = "Mars/Olympus_Mons"), path: "haha:services.homeassistant.timeZone", expect: /IANA time zone/ },
  { name: "a start time of zero", mutate: (r) => (r.services.homeassistant.expectedStartS = 0), path: "haha:services.homeassistant.expectedStartS", expect: /at least 1 s/ },
  { name: "a start time as text", mutate: (r) => (r.services.zigbee2mqtt.expectedStartS = "20s"), path: "haha:services.zigbee2mqtt.expectedStartS", expect: /number/ },
  { name: "a coordinator that is not an address", mutate: (r) => (r.peripherals.zigbee.host = "tubeszb.local"), path: "haha:peripherals.zigbee.host", expect: /IPv4 address/ },
  { name: "an unknown Zigbee adapter", mutate: (r) => (r.peripherals.zigbee.adapter = "cc2652"), path: "haha:peripherals.zigbee.adapter", expect: /zstack/ },
  { name: "a Zigbee channel out of range", mutate: (r) => (r.services.zigbee2mqtt.channel = 27), path: "haha:services.zigbee2mqtt.channel", expect: /26/ },
  { name: "a Bluetooth proxy outside the subnet", mutate: (r) => (r.peripherals.bluetoothProxies[0].address = "192.168.1.41"), path: "haha:peripherals.bluetoothProxies[0].address", expect: /inside 10\.0\.181\.0\/24/ },
  { name: "a Bluetooth proxy on the VIP", mutate: (r) => (r.peripherals.bluetoothProxies[0].address = r.network.vip), path: "haha:peripherals.bluetoothProxies[0].address", expect: /unique address/ },
  { name: "a data path with a space", mutate: (r) => (r.storage.nfs.mountPoint = "/srv/my haha"), path: "haha:storage.nfs.mountPoint", expect: /plain path/ },
  { name: "an Ollama model with spaces", mutate: (r) => (r.voice.ollama.model = "qwen 2.5"), path: "haha:voice.ollama.model", expect: /Ollama model/ },
  { name: "a Piper voice that is not one", mutate: (r) => (r.voice.piper.voice = "lessac"), path: "haha:voice.piper.voice", expect: /Piper voice/ },
  { name: "the GPU mapping reused from a DRBD disk", mutate: (r) => (r.voice.ollama.guest.gpuMapping = "nvme-pve01"), path: "haha:voice.ollama.guest.gpuMapping", expect: /DRBD disk of nllei01pve01/ },
  { name: "an unknown service key", mutate: (r) => (r.services.grafana = { image: "x" }), path: "haha:services.grafana", expect: /unknown key/ },
];

describe("services, peripherals and voice config", () => {
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      const raw = prodRaw();
      c.mutate(raw);
      try {
        parseConfig(raw, "mutated prod");
        assert.fail("accepted");
      } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        const p = e.problems.find((x) => x.path === c.path);
        assert.ok(p, `no problem at ${c.path}: ${e.problems.map(formatProblem).join("; ")}`);
        assert.match(formatProblem(p), c.expect);
      }
    });
  }

  it("accepts the prod stack with every image pinned by digest", () => {
    const c = prodConfig();
    for (const img of [c.services.mosquitto.image, c.services.zigbee2mqtt!.image, c.services.homeassistant!.image, c.services.homeassistant!.recorder.image, c.services.esphome!.image, c.services.nodered!.image]) {
      assert.match(img, /^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[a-f0-9]{64}$/);
    }
  });
});
