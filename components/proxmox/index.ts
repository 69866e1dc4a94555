export { proxmoxProvider } from "./provider";
export { ProxmoxHost } from "./host";
export { ClusterGuest } from "./guest";
export { FencingIdentity } from "./fencing";
