#!/usr/bin/env bash
# The real tools the plan and the tests drive (Debian 12 packages, about 25 s). Skips the install
# when they are already there; uses sudo when not root.
set -euo pipefail
TOOLS="pacemaker-cli-utils pacemaker resource-agents fence-agents drbd-utils corosync ocfs2-tools mosquitto mosquitto-clients nfs-common systemd curl python3 cloud-init openssh-client"
if command -v crm_simulate >/dev/null && command -v drbdadm >/dev/null && command -v corosync >/dev/null \
  && command -v mosquitto >/dev/null && command -v mosquitto_pub >/dev/null && [ -x /usr/sbin/fence_pve ] \
  && [ -d /usr/lib/ocf/resource.d/heartbeat ] && command -v mkfs.ocfs2 >/dev/null \
  && command -v nfsconf >/dev/null && command -v systemd-analyze >/dev/null \
  && command -v curl >/dev/null && command -v python3 >/dev/null \
  && command -v cloud-init >/dev/null && command -v ssh-keygen >/dev/null; then
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# cloud-init is here for its schema check and network renderer only: it must never configure this
# machine at its next boot.
$SUDO mkdir -p /etc/cloud && $SUDO touch /etc/cloud/cloud-init.disabled
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $TOOLS
# Debian starts a system broker on install; the tests run their own on loopback.
$SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || $SUDO service mosquitto stop >/dev/null 2>&1 || true
