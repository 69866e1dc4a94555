// Pulumi type tokens the pack reads. Raw provider tokens come from the SDKs' `__pulumiType`
// (@muhlba91/pulumi-proxmoxve 8, @pulumi/docker 5); the pack matches strings so it does not
// load those SDKs itself.
export const T = {
  stack: "pulumi:pulumi:Stack",
  declaration: "haha:stack:Declaration",
  host: "haha:proxmox:Host",
  guest: "haha:proxmox:ClusterGuest",
  cib: "haha:pacemaker:Cib",
  storage: "haha:storage:ReplicatedStorage",
  services: "haha:services:ServiceSet",
  proxmoxNfsStorage: "haha:storage:ProxmoxNfsStorage",

  vmLegacy: "proxmoxve:index/vmLegacy:VmLegacy",
  containerLegacy: "proxmoxve:index/containerLegacy:ContainerLegacy",
  usbMapping: "proxmoxve:hardware/mapping/usb:Usb",
  usbMappingLegacy: "proxmoxve:hardware/mapping/usbLegacy:UsbLegacy",
  haResource: "proxmoxve:index/haresource:Haresource",
  haResourceLegacy: "proxmoxve:index/haresourceLegacy:HaresourceLegacy",
  haRule: "proxmoxve:index/harule:Harule",
  haRuleLegacy: "proxmoxve:index/haruleLegacy:HaruleLegacy",
  nfsStorage: "proxmoxve:storage/nfs:Nfs",

  dockerContainer: "docker:index/container:Container",
  dockerRemoteImage: "docker:index/remoteImage:RemoteImage",
} as const;

/** VM types that can carry `hostpcis`, `usbs` and `serialDevices` (the cloned and new `Vm` types cannot). */
export const VM_TYPES: readonly string[] = [T.vmLegacy];
