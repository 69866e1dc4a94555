#!/usr/bin/env bash
# The real tools the plan and the tests drive (Debian 12 packages, about 25 s). Skips the install
# when they are already there; uses sudo when not root.
set -euo pipefail
TOOLS="pacemaker-cli-utils pacemaker resource-agents fence-agents drbd-utils corosync ocfs2-tools mosquitto mosquitto-clients nfs-common systemd curl python3 chromium fonts-dejavu-core cloud-init openssh-client openssl ca-certificates postgresql nftables docker.io libmimalloc2.0"
# chromium: the report test opens build/<stack>/report.html in it (driven by playwright-core);
# fonts-dejavu-core: the monospace face the report's drawings are laid out for (not a hard Depends);
# libmimalloc2.0: the allocator the plan runs crm_simulate on (plan/simulate.ts: 20 to 30 % less CPU).
if command -v crm_simulate >/dev/null && command -v drbdadm >/dev/null && command -v corosync >/dev/null \
  && command -v mosquitto >/dev/null && command -v mosquitto_pub >/dev/null && [ -x /usr/sbin/fence_pve ] \
  && [ -d /usr/lib/ocf/resource.d/heartbeat ] && command -v mkfs.ocfs2 >/dev/null \
  && command -v nfsconf >/dev/null && command -v systemd-analyze >/dev/null \
  && command -v curl >/dev/null && command -v python3 >/dev/null \
  && [ -x /usr/bin/chromium ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] \
  && command -v cloud-init >/dev/null && command -v ssh-keygen >/dev/null \
  && command -v openssl >/dev/null && command -v update-ca-certificates >/dev/null \
  && [ -x /usr/sbin/nft ] && command -v docker >/dev/null && command -v psql >/dev/null \
  && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ls /usr/lib/*/libmimalloc.so.2 >/dev/null 2>&1; then
  exit 0
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# cloud-init is here for its schema check and network renderer only: it must never configure this
# machine at its next boot.
$SUDO mkdir -p /etc/cloud && $SUDO touch /etc/cloud/cloud-init.disabled
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $TOOLS
# Debian starts a system broker and a PostgreSQL cluster on install; the tests run their own on
# loopback (the recorder test initdb's a temp cluster as the postgres user the package creates).
# nftables: `nft -c` validates the rendered firewall rulesets; docker.io: the CLI's option parser
# checks the rendered run_opts (no daemon is needed for that).
$SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || $SUDO service mosquitto stop >/dev/null 2>&1 || true
$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || $SUDO service postgresql stop >/dev/null 2>&1 || true
