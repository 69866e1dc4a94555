#!/bin/sh
# What `npm run lab -- ns` needs beyond scripts/install-debian-tools.sh: Debian's Docker engine (one
# daemon per lab member), Debian's registry (the lab's own, images pulled by digest), debootstrap
# (the images' rootfs), nftables (a Proxmox API made unreachable) and curl; apparmor, only a
# Recommends of docker.io: under Debian's AppArmor-enabled kernel dockerd starts no container
# without it (found by the rehearsal lab on Debian's own kernel; CI runs on a fresh Debian 12).
set -eu
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends docker.io docker-registry debootstrap nftables curl python3 openssl ca-certificates apparmor iproute2 util-linux
