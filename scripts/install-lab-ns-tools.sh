#!/bin/sh
# What `npm run lab -- ns` needs beyond scripts/install-debian-tools.sh: Debian's Docker engine (one
# daemon per lab member), Debian's registry (the lab's own, images pulled by digest), debootstrap
# (the images' rootfs), nftables (a Proxmox API made unreachable) and curl.
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends docker.io docker-registry debootstrap nftables curl python3 openssl ca-certificates
