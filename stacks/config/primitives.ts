// Reusable zod building blocks for the stack config. Each carries the wording of what was
// expected, because that wording is what a user reads when their config is refused.
import { isIPv4 } from "node:net";
import { z } from "zod";

export const ipv4 = z.string().refine((v) => isIPv4(v), { message: "expected a dotted IPv4 address such as 10.0.181.21" });

export const cidr = z.string().refine(
  (v) => {
    const [ip, len, ...rest] = v.split("/");
    const n = Number(len);
    return rest.length === 0 && isIPv4(ip ?? "") && /^\d{1,2}$/.test(len ?? "") && n >= 8 && n <= 30;
  },
  { message: "expected an IPv4 subnet in CIDR form such as 10.0.181.0/24 (prefix 8 to 30)" },
);

/** A DNS-1123 label: what hostnames, Pacemaker node names and resource ids can all carry. */
export const hostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, { message: "expected a lowercase hostname label (a-z, 0-9, '-', at most 63 characters)" });

export const port = z.number().int({ message: "expected a whole TCP/UDP port number" }).min(1, { message: "expected a port from 1 to 65535" }).max(65535, { message: "expected a port from 1 to 65535" });

export const seconds = (min: number, max: number) =>
  z.number().int({ message: "expected whole seconds" }).min(min, { message: `expected at least ${min} s` }).max(max, { message: `expected at most ${max} s` });

/**
 * A container image pinned by digest: `repo[:tag]@sha256:<64 hex>`. A tag alone can move
 * under a failover, so the pin is part of the contract; policies also check it.
 */
export const imageRef = z
  .string()
  .regex(/^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
    message: "expected an image reference such as ghcr.io/home-assistant/home-assistant:2026.11.2@sha256:<64 hex>",
  });

/** A Proxmox resource-mapping id (PCI or USB). */
export const mappingId = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{1,127}$/, { message: "expected a Proxmox mapping id (letters, digits, '-', '_')" });

/** An absolute POSIX path, no `..` segments. */
export const absPath = z
  .string()
  .regex(/^\/[^\0]*$/, { message: "expected an absolute path starting with '/'" })
  .refine((p) => !p.split("/").includes(".."), { message: "expected a path without '..' segments" });

export { z };
