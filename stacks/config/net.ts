// IPv4 arithmetic for the cross-field checks and for renderers that need a prefix length.

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function subnetInfo(cidr: string): { network: number; broadcast: number; prefix: number; netmask: string } {
  const [ip, len] = cidr.split("/");
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(ip ?? "0.0.0.0") & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  const netmask = [24, 16, 8, 0].map((s) => (mask >>> s) & 255).join(".");
  return { network, broadcast, prefix, netmask };
}

export function ipInSubnet(ip: string, cidr: string): boolean {
  const { network, prefix } = subnetInfo(cidr);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === network;
}
