// Home Assistant's configuration.yaml and secrets.yaml, the recorder on PostgreSQL, and the
// probe script its monitor runs. Integrations Home Assistant configures only in its UI (MQTT,
// Wyoming, Ollama, the voice pipeline) are the documented manual steps of docs/services.md.
import type { HahaConfig } from "../../stacks/config/schema";
import { IncludeRef, renderYaml, SecretRef } from "./yamlfile";

export interface HaInputs {
  name: string;
  latitude: number;
  longitude: number;
  elevation: number;
  unitSystem: string;
  timeZone: string;
  port: number;
  /** Where users reach it: http://<vip>:<port>. */
  internalUrl: string;
  purgeKeepDays: number;
  /** Loopback only until the owner exists (haha:services.homeassistant.onboarded). */
  loopbackOnly: boolean;
  loginAttemptsThreshold: number;
}

/** Files the UI editors own: created empty once, never overwritten (see ServiceConfigs). */
export const HA_UI_FILES: Record<string, string> = {
  "automations.yaml": "[]\n",
  "scripts.yaml": "{}\n",
  "scenes.yaml": "[]\n",
};

/** The stack config's Home Assistant settings as the renderer's inputs; its URL is the services VIP. */
export function haInputs(c: HahaConfig): HaInputs {
  const h = c.services.homeassistant;
  if (!h) throw new Error("haInputs: haha:services.homeassistant is not declared");
  return {
    name: "Home",
    latitude: h.latitude,
    longitude: h.longitude,
    elevation: h.elevation,
    unitSystem: h.unitSystem,
    timeZone: h.timeZone,
    port: h.port,
    internalUrl: `http://${c.network.vip}:${h.port}`,
    purgeKeepDays: h.recorder.purgeKeepDays,
    loopbackOnly: !h.onboarded,
    loginAttemptsThreshold: h.loginAttemptsThreshold,
  };
}

export function haConfiguration(i: HaInputs): Record<string, unknown> {
  return {
    homeassistant: {
      name: i.name,
      latitude: i.latitude,
      longitude: i.longitude,
      elevation: i.elevation,
      unit_system: i.unitSystem,
      time_zone: i.timeZone,
      internal_url: i.internalUrl,
    },
    // Includes the conversation agent whose built-in intents answer when the LLM is down.
    default_config: null,
    http: {
      server_port: i.port,
      // Until the owner exists, whoever opens the UI first becomes the owner: nobody on the LAN
      // may reach it before then (the probe asks 127.0.0.1 either way).
      ...(i.loopbackOnly ? { server_host: ["127.0.0.1"] } : {}),
      // Ban an address after this many failed logins (Home Assistant's default is never).
      login_attempts_threshold: i.loginAttemptsThreshold,
      ip_ban_enabled: true,
    },
    recorder: {
      // PostgreSQL beside it, never SQLite: SQLite on NFS corrupts.
      db_url: new SecretRef("recorder_db_url"),
      purge_keep_days: i.purgeKeepDays,
      auto_purge: true,
    },
    // The UI editors write these files; without the includes they cannot save.
    automation: new IncludeRef("automations.yaml"),
    script: new IncludeRef("scripts.yaml"),
    scene: new IncludeRef("scenes.yaml"),
  };
}

export interface HaSecrets {
  recorderPassword: string;
  recorderPort: number;
  /** Home Assistant's own MQTT password, kept here for the one manual step (the MQTT integration). */
  mqttPassword: string;
}

export function haSecretFile(s: HaSecrets): Record<string, string> {
  return {
    recorder_db_url: `postgresql://homeassistant:${encodeURIComponent(s.recorderPassword)}@127.0.0.1:${s.recorderPort}/homeassistant`,
    mqtt_password: s.mqttPassword,
  };
}

export function renderHaConfiguration(i: HaInputs): string {
  return renderYaml(haConfiguration(i), "Home Assistant configuration rendered by HAHA from haha:services.homeassistant; changes here are overwritten.");
}

export function renderHaSecrets(s: HaSecrets): string {
  return renderYaml(haSecretFile(s), "Home Assistant secrets rendered by HAHA: the recorder database URL and Home Assistant's MQTT password.");
}

/** A probe that accepts some HTTP status codes from one URL, as a POSIX sh script (curl is in the image). */
export interface HttpProbe {
  url: string;
  accept: number[];
  timeoutS: number;
}

export function renderHttpProbe(p: HttpProbe): string {
  if (!/^http:\/\/[A-Za-z0-9.:[\]/_-]+$/.test(p.url)) throw new Error(`probe URL "${p.url}" must be a plain http URL`);
  if (p.accept.length === 0 || p.accept.some((c) => !Number.isInteger(c) || c < 100 || c > 599)) throw new Error("probe: accepted codes must be HTTP status codes");
  const cases = p.accept.map(String).join("|");
  return [
    "#!/bin/sh",
    "# Monitor probe rendered by HAHA: the application must answer HTTP, not merely run.",
    `code=$(curl --silent --output /dev/null --max-time ${p.timeoutS} --write-out '%{http_code}' ${p.url}) || exit 1`,
    'case "$code" in',
    `  ${cases}) exit 0 ;;`,
    '  *) echo "unexpected HTTP status $code" >&2; exit 1 ;;',
    "esac",
    "",
  ].join("\n");
}
