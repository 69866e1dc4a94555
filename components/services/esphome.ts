// The ESPHome device configuration of each Bluetooth proxy, in the ESPHome dashboard's config
// directory, and the secrets.yaml its `!secret` tags name.
import { subnetInfo } from "../../stacks/config/net";
import { renderYaml, SecretRef } from "./yamlfile";

/** The Olimex ESP32-POE-ISO: LAN8720 PHY, RMII clock out on GPIO17, PHY power on GPIO12. */
export const OLIMEX_ESP32_POE_ISO = {
  board: "esp32-poe-iso",
  ethernet: {
    type: "LAN8720",
    mdc_pin: "GPIO23",
    mdio_pin: "GPIO18",
    clk: { pin: "GPIO17", mode: "CLK_OUT" },
    phy_addr: 0,
    power_pin: "GPIO12",
  },
} as const;

/**
 * How long a device waits without any API client before it reboots itself. A failover is
 * budgeted at 90 s and the anchor setup once needed 3.5 min; 30 min stays far from both while a
 * wedged network stack still recovers on its own within the hour.
 */
export const API_REBOOT_TIMEOUT = "30min";

export interface BtProxyInputs {
  name: string;
  address: string;
  subnet: string;
  gateway: string;
  dns: string[];
}

export const apiKeySecret = (name: string) => `${name.replace(/-/g, "_")}_api_key`;
export const otaPasswordSecret = (name: string) => `${name.replace(/-/g, "_")}_ota_password`;

export function btProxyConfig(p: BtProxyInputs): Record<string, unknown> {
  const manualIp: Record<string, string> = { static_ip: p.address, gateway: p.gateway, subnet: subnetInfo(p.subnet).netmask };
  if (p.dns[0]) manualIp.dns1 = p.dns[0];
  if (p.dns[1]) manualIp.dns2 = p.dns[1];
  return {
    esphome: { name: p.name, friendly_name: `Bluetooth proxy ${p.name}` },
    esp32: {
      board: OLIMEX_ESP32_POE_ISO.board,
      // ESP-IDF is what the Bluetooth proxy is built and tested on.
      framework: { type: "esp-idf" },
    },
    ethernet: { ...OLIMEX_ESP32_POE_ISO.ethernet, clk: { ...OLIMEX_ESP32_POE_ISO.ethernet.clk }, manual_ip: manualIp },
    logger: null,
    api: {
      encryption: { key: new SecretRef(apiKeySecret(p.name)) },
      reboot_timeout: API_REBOOT_TIMEOUT,
    },
    ota: [{ platform: "esphome", password: new SecretRef(otaPasswordSecret(p.name)) }],
    esp32_ble_tracker: { scan_parameters: { active: true } },
    bluetooth_proxy: { active: true },
  };
}

export function renderBtProxy(p: BtProxyInputs): string {
  return renderYaml(btProxyConfig(p), `ESPHome Bluetooth proxy ${p.name} (Olimex ESP32-POE-ISO) rendered by HAHA from haha:peripherals.bluetoothProxies; changes here are overwritten.`);
}

export interface BtProxySecrets {
  name: string;
  /** 32 bytes, base64: the native API's Noise encryption key. */
  apiKey: string;
  otaPassword: string;
}

export function renderEsphomeSecrets(devices: BtProxySecrets[]): string {
  const out: Record<string, string> = {};
  for (const d of devices) {
    out[apiKeySecret(d.name)] = d.apiKey;
    out[otaPasswordSecret(d.name)] = d.otaPassword;
  }
  return renderYaml(out, "ESPHome secrets rendered by HAHA: API encryption keys and OTA passwords of the devices.");
}
