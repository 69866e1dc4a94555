#!/bin/bash
# The rehearsal lab's guest image and local apt repository, from Debian's own mirror.
#   build-image.sh rootfs ROOTFS KERNEL_PKG "BASE PKGS"       debootstrap the guest's root filesystem
#   build-image.sh disk ROOTFS OUTDIR REPO_URL                 ext4 image (qcow2) + kernel + initrd
#   build-image.sh repo ROOTFS REPODIR "APT FLAGS" "PKGS"      the packages the program's package step installs
#   build-image.sh bake ROOTFS BAKED REPODIR STEPFILE [NETNS REGISTRY IMAGES]
#                                                              the program's package step, run in a chroot copy,
#                                                              then its image pulls into the copy's Docker store
# The image carries the base packages of Debian's cloud images and no cluster package: the
# program's own package step installs those, from REPODIR served on the lab bridge.
set -euo pipefail
MIRROR=http://deb.debian.org/debian
SUITE=bookworm
cmd=$1; shift
# apt-get in a chroot of the image, with /proc, /sys and /dev mounted and no service started.
chroot_apt() {
  local r=$1 flags=$2 pkgs=$3 rc=0
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  mount -t proc proc "$r/proc"; mount --rbind /sys "$r/sys"; mount --rbind /dev "$r/dev"
  echo "deb $MIRROR $SUITE main" > "$r/etc/apt/sources.list"
  # shellcheck disable=SC2086
  { chroot "$r" apt-get update -q && chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $flags $pkgs; } || rc=$?
  umount -R "$r/dev" "$r/sys" "$r/proc" || umount -Rl "$r/dev" "$r/sys" "$r/proc"
  rm -f "$r/usr/sbin/policy-rc.d"
  return $rc
}
case "$cmd" in
rootfs)
  root=$1 kernel=$2 base=$3
  rm -rf "$root.tmp"
  # debootstrap's own resolver cannot follow virtual packages (cloud-init's python3 stack): it lays
  # down minbase, and apt in a chroot installs the kernel and the cloud image's base packages.
  debootstrap --variant=minbase "$SUITE" "$root.tmp" "$MIRROR" > "$root.debootstrap.log" 2>&1 || { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  chroot_apt "$root.tmp" "--no-install-recommends" "$kernel $base" >> "$root.debootstrap.log" 2>&1 || { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  r=$root.tmp
  # Debian's cloud images are preseeded with the en_US.UTF-8 locale (generated, the default):
  # cloud-init's locale module then has nothing to do (else update-locale fails and cloud-init ends in error).
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' "$r/etc/locale.gen"
  chroot "$r" locale-gen >/dev/null
  echo "LANG=en_US.UTF-8" > "$r/etc/default/locale"
  echo "/dev/vda / ext4 defaults,discard 0 1" > "$r/etc/fstab"
  # As Debian's cloud images: cloud-init owns hostname, users, keys and network; Proxmox's seed is NoCloud.
  printf 'datasource_list: [ NoCloud, None ]\n' > "$r/etc/cloud/cloud.cfg.d/99_lab-vm-datasource.cfg"
  : > "$r/etc/hostname"
  rm -f "$r"/etc/ssh/ssh_host_*   # each guest makes its own at first boot (cloud-init), as a cloud image does
  chroot "$r" systemctl enable ssh.service >/dev/null 2>&1 || true
  mv "$r" "$root"
  ;;
disk)
  root=$1 out=$2 repo=$3
  echo "deb [trusted=yes] $repo ./" > "$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  mkdir -p "$out"
  cp -L "$root/vmlinuz" "$out/vmlinuz"; cp -L "$root/initrd.img" "$out/initrd.img"
  ls "$root/lib/modules" > "$out/kernel-release"
  rm -f "$out/base.raw"
  mke2fs -q -t ext4 -L root -d "$root" "$out/base.raw" 5G
  qemu-img convert -O qcow2 "$out/base.raw" "$out/base.qcow2"
  rm -f "$out/base.raw"
  ;;
repo)
  root=$1 repodir=$2 flags=$3 pkgs=$4
  saved=$(cat "$root/etc/apt/sources.list" 2>/dev/null || true)
  rm -rf "$root"/var/cache/apt/archives/*.deb
  chroot_apt "$root" "--download-only $flags" "$pkgs" > "$repodir.log" 2>&1 || { tail -20 "$repodir.log" >&2; exit 1; }
  rm -rf "$repodir.tmp"; mkdir -p "$repodir.tmp"
  mv "$root"/var/cache/apt/archives/*.deb "$repodir.tmp/"
  (cd "$repodir.tmp" && dpkg-scanpackages -m . /dev/null 2>/dev/null > Packages && gzip -9k Packages && apt-ftparchive release . > Release)
  printf '%s\n' "$saved" > "$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/*
  rm -rf "$repodir"; mv "$repodir.tmp" "$repodir"
  ;;
bake)
  # The program's own package step (its script, verbatim, from the plan) run in a chroot copy of
  # the image against the lab repository: apt under TCG takes about 8 minutes per guest, here
  # seconds. The guests run the same step again for real; the lab compares their package lists.
  root=$1 baked=$2 repodir=$3 step=$4 rc=0
  rm -rf "$baked.tmp"; cp -a "$root" "$baked.tmp"; r=$baked.tmp
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
  mkdir -p "$r/run/lab-repo"
  mount -t proc proc "$r/proc"; mount --rbind /sys "$r/sys"; mount --rbind /dev "$r/dev"; mount --bind "$repodir" "$r/run/lab-repo"
  echo "deb [trusted=yes] file:/run/lab-repo ./" > "$r/etc/apt/sources.list"
  # No service can run in a chroot (policy-rc.d above denies starts, as Debian's chroot builders do);
  # systemctl's --now would need a running systemd: here it enables only. The guests' own run of
  # the step starts what it starts.
  printf '#!/bin/sh\nargs=""\nfor a in "$@"; do case "$a" in --now) ;; start|stop|restart|reload|try-restart|kill) echo "lab chroot: systemctl $a skipped (no systemd here)"; exit 0 ;; *) args="$args $a" ;; esac; done\n# shellcheck disable=SC2086\nexec /usr/bin/systemctl $args\n' > "$r/usr/local/sbin/systemctl"; chmod +x "$r/usr/local/sbin/systemctl"
  # As the command provider runs it: the remote user's shell (root: bash) reading the script.
  chroot "$r" /bin/bash -c "$(cat "$step")" > "$baked.log" 2>&1 || rc=$?
  umount -R "$r/run/lab-repo" "$r/dev" "$r/sys" "$r/proc" || umount -Rl "$r/run/lab-repo" "$r/dev" "$r/sys" "$r/proc"
  rm -f "$r/usr/sbin/policy-rc.d" "$r/usr/local/sbin/systemctl"
  if [ "$rc" -ne 0 ]; then tail -20 "$baked.log" >&2; echo "the package step failed in the chroot (exit $rc)" >&2; exit "$rc"; fi
  chroot "$r" dpkg-query -W -f '${Package} ${Version}\n' | sort > "$baked.packages"
  if [ -n "${7:-}" ]; then
    # The program's image pulls (docker pull by digest, as its RemoteImage does) into the copy's own
    # /var/lib/docker, by a Docker daemon of the same Debian package on the lab bridge: under TCG a
    # guest extracts layers at a fraction of a MB/s. The guests pull again for real (up to date).
    ns=$5 registry=$6 images=$7 sock=/run/lab-vm-bake-docker.sock
    nsenter --net="/run/netns/$ns" dockerd --data-root "$r/var/lib/docker" --exec-root /run/lab-vm-bake-docker -H "unix://$sock" \
      --pidfile /run/lab-vm-bake-docker.pid --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
      --insecure-registry "$registry" --log-level=warn >> "$baked.log" 2>&1 &
    for _ in $(seq 150); do docker -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.2; done
    prc=0
    while read -r ref; do
      [ -n "$ref" ] || continue
      docker -H "unix://$sock" pull -q "$ref" >> "$baked.log" 2>&1 || { prc=$?; echo "docker pull $ref failed in the bake" >&2; break; }
    done < "$images"
    kill "$(cat /run/lab-vm-bake-docker.pid)" 2>/dev/null || true
    for _ in $(seq 100); do [ -e /run/lab-vm-bake-docker.pid ] || break; sleep 0.1; done
    rm -rf /run/lab-vm-bake-docker "$r/var/lib/docker/network" "$r/var/lib/docker/runtimes"
    if [ "$prc" -ne 0 ]; then tail -5 "$baked.log" >&2; exit "$prc"; fi
  fi
  # Each guest's own run of the step writes its own marker.
  rm -rf "$r/var/lib/haha" "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb
  rm -rf "$baked"; mv "$r" "$baked"
  ;;
*) echo "usage: build-image.sh rootfs|disk|repo|bake ..." >&2; exit 2 ;;
esac
