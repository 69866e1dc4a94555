// Well-known CIB ids that one layer defines and another constrains against.
export const CIB_IDS = {
  /** IPaddr2 of haha:network.vip (pacemaker layer). */
  servicesVip: "services-vip",
  /** IPaddr2 of haha:network.storageVip (storage layer). */
  storageVip: "storage-vip",
  /** Clone of the NFS client mount on every member (storage layer); services start after it. */
  sharedMountClone: "shared-mount-clone",
} as const;
