// Zigbee2MQTT monitor probe, shipped by HAHA and run inside the zigbee2mqtt container by the
// cluster's docker agent (monitor_cmd): node and the mqtt package are in the image. It logs in
// as the MQTT monitor user and passes only when the bridge's retained state is online AND the
// bridge answers a health_check request: the application, not just its container, is alive.
// Usage: node z2m-health.js <probe.json>   (exit 0 healthy, 1 not)
"use strict";
const fs = require("fs");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const mqtt = require(cfg.mqttModule || "/app/node_modules/mqtt");
const base = cfg.baseTopic;
const stateTopic = `${base}/bridge/state`;
const responseTopic = `${base}/bridge/response/health_check`;
const transaction = `haha-probe-${process.pid}-${Date.now()}`;

let client;
let online = false;
let healthy = false;

function finish(code, message) {
  if (message) process.stderr.write(`z2m probe: ${message}\n`);
  if (client) client.end(true);
  process.exit(code);
}

setTimeout(() => finish(1, `no answer within ${cfg.timeoutMs} ms (bridge online: ${online}, health_check answered: ${healthy})`), cfg.timeoutMs).unref();

client = mqtt.connect(cfg.url, {
  username: cfg.username,
  password: cfg.password,
  clientId: `haha-probe-${process.pid}`,
  clean: true,
  reconnectPeriod: 0,
  connectTimeout: cfg.timeoutMs,
});
client.on("error", (e) => finish(1, `MQTT: ${e.message}`));
client.on("connect", () => {
  client.subscribe([stateTopic, responseTopic], { qos: 0 }, (err, granted) => {
    if (err) return finish(1, `subscribe: ${err.message}`);
    const denied = (granted || []).filter((g) => g.qos === 128);
    if (denied.length > 0) return finish(1, `subscription denied: ${denied.map((g) => g.topic).join(", ")}`);
    client.publish(`${base}/bridge/request/health_check`, JSON.stringify({ transaction }));
  });
});
client.on("message", (topic, payload) => {
  const text = payload.toString("utf8");
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (topic === stateTopic) {
    const state = typeof body === "object" && body !== null ? body.state : body;
    if (state !== "online") return finish(1, `bridge state is ${JSON.stringify(state)}`);
    online = true;
  } else if (topic === responseTopic) {
    if (typeof body !== "object" || body === null || body.transaction !== transaction) return;
    if (body.status !== "ok" || !body.data || body.data.healthy !== true) return finish(1, `health_check answered ${text}`);
    healthy = true;
  }
  if (online && healthy) finish(0);
});
