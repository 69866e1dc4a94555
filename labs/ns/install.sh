#!/bin/sh
# What the namespace lab needs on the machine that runs it, beyond scripts/install-debian-tools.sh
# (corosync, Pacemaker, fence_pve, Docker's CLI and daemon, mosquitto-clients, PostgreSQL's psql):
# debootstrap builds the images' Debian root, Debian's docker-registry serves them by digest,
# util-linux's unshare and nsenter make the members. A fresh CI machine has none of the extras.
set -eu
export DEBIAN_FRONTEND=noninteractive
need=""
for p in corosync pacemaker pacemaker-cli-utils fence-agents resource-agents docker.io docker-registry debootstrap iproute2 util-linux curl openssl ca-certificates mosquitto-clients postgresql-client python3 nftables; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  echo "lab-ns install:$need"
  apt-get install -y -q --no-install-recommends $need >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $need >/dev/null; }
fi
for c in corosync pacemakerd crm_mon cibadmin fence_pve dockerd docker docker-registry debootstrap ip unshare nsenter curl openssl update-ca-certificates mosquitto_sub psql python3 nft; do
  command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] || { echo "lab-ns install: $c is still missing after installing packages" >&2; exit 1; }
done
