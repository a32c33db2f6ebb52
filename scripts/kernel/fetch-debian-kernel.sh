#!/usr/bin/env bash
# Downloads one of Debian 12's kernel packages once into a cache and prints the directory that
# holds its vmlinuz and config (the directory is named after the package).
#
# usage: fetch-debian-kernel.sh ARCH [PACKAGE]
#   ARCH      amd64 (the cloud flavour, which boots under qemu from an initramfs) or arm64
#   PACKAGE   a linux-image-... package name; default: the newest 6.1 one apt knows for ARCH
# Environment: NETLENS_KERNEL_CACHE (default /var/cache/netlens-kernel-matrix).
#
# amd64 packages come from the host's own apt lists. For arm64 a private apt state under the
# cache lists Debian's arm64 archive, so the host's configuration is not changed.
# Offline, the newest package already in the cache is used. Errors go to stderr, exit 1.
set -euo pipefail

arch="${1:-}"
package="${2:-}"
cache="${NETLENS_KERNEL_CACHE:-/var/cache/netlens-kernel-matrix}"
die() { echo "fetch-debian-kernel: $*" >&2; exit 1; }

apt_opts=(-q -o DPkg::Lock::Timeout=300 -o APT::Sandbox::User=root)
case "$arch" in
  amd64) pattern='^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' ;;
  arm64)
    pattern='^linux-image-6\.1\.0-[0-9]+-arm64-unsigned$'
    state="$cache/.apt-arm64"
    mkdir -p "$state/lists/partial" "$state/archives/partial"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    cat >"$state/sources.list" <<SOURCES
deb [arch=arm64 signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [arch=arm64 signed-by=$keyring] http://deb.debian.org/debian-security bookworm-security main
SOURCES
    apt_opts+=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state"
               -o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o APT::Architecture=arm64 -o APT::Architectures=arm64)
    ;;
  *) die "usage: $0 amd64|arm64 [PACKAGE]" ;;
esac

newest() { apt-cache "${apt_opts[@]}" search --names-only "$pattern" 2>/dev/null | awk '{print $1}' | sort -V | tail -n 1; }
if [[ -z $package ]]; then
  package="$(newest)"
  if [[ -z $package ]]; then
    apt-get "${apt_opts[@]}" update >&2 || echo "fetch-debian-kernel: apt-get update failed" >&2
    package="$(newest)"
  fi
  if [[ -z $package ]]; then  # offline: the newest one already in the cache
    package="$(find "$cache" -mindepth 2 -maxdepth 2 -name vmlinuz -printf '%h\n' 2>/dev/null |
               xargs -r -n1 basename | grep -E "${pattern%\$}" | sort -V | tail -n 1 || true)"
  fi
  [[ -n $package ]] || die "no Debian kernel package matches '$pattern' (apt-cache search), none cached"
fi

dir="$cache/$package"
if [[ ! -s $dir/vmlinuz ]]; then
  mkdir -p "$cache"
  echo "fetch-debian-kernel: downloading $package into $cache" >&2
  (cd "$cache" && apt-get "${apt_opts[@]}" download "$package") >&2 || die "apt-get download $package failed"
  deb="$(ls -t "$cache/${package}"_*.deb | head -n 1)"
  # Extracted aside and renamed into place, so that a concurrent run never sees half of it.
  tmp="$(mktemp -d "$cache/.extract.XXXXXX")"
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot || { rm -rf "$tmp"; die "cannot extract /boot from $deb"; }
  mv "$tmp"/boot/vmlinuz-* "$tmp/vmlinuz"
  mv "$tmp"/boot/config-* "$tmp/config"
  rm -rf "$tmp/boot"
  chmod 755 "$tmp"
  rm -rf "$dir"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
echo "$dir"
