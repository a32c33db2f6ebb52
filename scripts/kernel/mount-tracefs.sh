#!/usr/bin/env bash
# Mounts tracefs at /sys/kernel/tracing when it is not there (as root): classic tracepoints
# attach through it. systemd mounts it at boot; minimal VMs and containers may not.
set -euo pipefail
[[ -d /sys/kernel/tracing/events || -d /sys/kernel/debug/tracing/events ]] && exit 0
if ((EUID != 0)); then
  echo "mount-tracefs: tracefs is not mounted; as root: mount -t tracefs tracefs /sys/kernel/tracing" >&2
  exit 0
fi
mount -t tracefs tracefs /sys/kernel/tracing
echo "mount-tracefs: mounted tracefs at /sys/kernel/tracing"
