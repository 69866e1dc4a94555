#!/bin/sh
# What the rehearsal lab needs on the machine that runs it (a fresh CI machine has none of it):
# qemu (TCG), debootstrap and the apt tooling that builds the guest image and the local apt
# repository, genisoimage for the NoCloud seed (as Proxmox builds it), OpenSSH for the deployment,
# Docker and Debian's docker-registry for the images the guests pull, openssl for the lab CA.
# Kept apart from scripts/install-debian-tools.sh: the unit tests do not need any of this.
set -eu
export DEBIAN_FRONTEND=noninteractive
need=""
for p in qemu-system-x86 qemu-utils debootstrap dpkg-dev apt-utils genisoimage openssh-client e2fsprogs iproute2 python3 socat docker.io docker-registry curl openssl nftables util-linux libnfs-utils mosquitto-clients iputils-ping; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
  echo "lab-vm install:$need"
  apt-get install -y -q --no-install-recommends $need >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $need >/dev/null; }
fi
for c in qemu-system-x86_64 qemu-img debootstrap dpkg-scanpackages apt-ftparchive genisoimage ssh ssh-keygen mke2fs dockerd docker docker-registry curl openssl nsenter nfs-ls mosquitto_pub ping; do
  command -v "$c" >/dev/null || { echo "lab-vm install: $c is still missing after installing packages" >&2; exit 1; }
done
