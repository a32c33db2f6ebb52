#!/bin/busybox sh
# /init of the kernel-matrix initramfs (run_matrix.sh puts it there, with busybox, netlens,
# nl-traffic, integration_tests, their shared libraries, cell.sh and /matrix.conf).
# Mounts what netlens and the tests need, brings up loopback, runs cell.sh for each mode named
# on the kernel command line (netlens_modes=kprobe,fentry,auto: the kernel hands unknown
# parameters to init as environment variables) and powers off. Everything of interest is
# printed on the serial console as MATRIX... lines, which run_matrix.sh parses on the host.
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /sys/fs/bpf /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# No tmpfs on /tmp: the binaries under test may live there (the initramfs keeps each at its
# host path), and the initramfs root is a writable tmpfs already.
mkdir -p /tmp /root
chmod 1777 /tmp
ip link set lo up
echo 0 >/proc/sys/kernel/printk_ratelimit 2>/dev/null

. /matrix.conf
kernel=$(uname -r)
echo "MATRIX-BOOT kernel=${kernel} uptime=$(cut -d' ' -f1 /proc/uptime)"
for need in /sys/kernel/btf/vmlinux /sys/kernel/tracing/events/sock/inet_sock_set_state; do
  [ -e "$need" ] || echo "MATRIX-NOTE kernel=${kernel} missing $need"
done
ip addr show dev lo | grep -q "inet6 ::1" || echo "MATRIX-NOTE kernel=${kernel} lo has no ::1"

# netlens_modes comes from the kernel command line; matrix.conf has the default.
for mode in $(echo "${netlens_modes:-$KM_MODES}" | tr ',' ' '); do
  NETLENS_TEST_SLOWDOWN=10 KM_WORK=/tmp sh /kernel_matrix/cell.sh "$kernel" "$mode" pass
done
echo "MATRIX-DONE kernel=${kernel} uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
