// Headless Chromium (Debian's chromium package) driven by playwright-core, as a person would open
// a file: a fresh profile per launch, no network, nothing persisted.
import * as fs from "node:fs";
import { type BrowserContext, chromium } from "playwright-core";
import { tempDir } from "./plan";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface Browser {
  context: BrowserContext;
  /** Every request that was not for a file:// URL (each one was aborted). */
  network: string[];
  close(): Promise<void>;
}

export async function launch(viewport: { width: number; height: number }, colorScheme: "light" | "dark" = "light"): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/install-debian-tools.sh (Debian package chromium)`);
  const profile = tempDir("report-chromium-");
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, colorScheme, offline: true });
  const network: string[] = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file://")) return route.continue();
    network.push(url);
    return route.abort();
  });
  return {
    context,
    network,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
