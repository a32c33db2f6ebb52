#!/usr/bin/env bash
# usage: without_host_btf.sh SOURCE_DIR BUILD_DIR
# Configures fresh build trees of SOURCE_DIR and builds their eBPF object and skeleton:
#   pinned   /sys/kernel/btf hidden (an empty tmpfs over it, in a private mount namespace):
#            must build, and give exactly BUILD_DIR's object, the one BUILD_DIR's netlens runs
#            on every kernel (the kernel matrix boots that binary on 6.1 and runs it on 6.18);
#   linux61  -DNETLENS_VMLINUX_BTF= Debian 12's 6.1 vmlinuz (scripts/kernel/fetch-debian-kernel.sh)
#   host     -DNETLENS_VMLINUX_BTF=/sys/kernel/btf/vmlinux (a newer kernel's types, when present)
#   arm64    -DNETLENS_BPF_ARCH=arm64, the pinned arm64 types
# and checks that touching ebpf/lib/core_fixes.bpf.h (included two levels down) rebuilds the
# object. Exit 77 (skip) without root unless CI=true.
set -euo pipefail
src="$1" main_build="$2"
fail() { echo "build_without_host_btf: FAIL: $*" >&2; exit 1; }
log() { echo "build_without_host_btf: $*"; }
if ((EUID != 0)); then
  [[ ${CI:-} == true ]] && fail "needs root (mount namespace) and CI=true"
  echo "SKIP: build_without_host_btf needs root (mount namespace to hide /sys/kernel/btf)"
  exit 77
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/netlens-build-test.XXXXXX")"
touched=""
cleanup() {
  [[ -n $touched ]] && touch -d "@${touched%% *}" "${touched#* }"
  rm -rf "$work"
}
trap cleanup EXIT

object=bpf/netlens_bpf.bpf.o
build_bpf() {  # tree [cmake options...]
  local tree="$work/$1"
  shift
  cmake -S "$src" -B "$tree" -DBUILD_TESTING=OFF "$@" >"$tree.configure.log" 2>&1 ||
    { tail -n 20 "$tree.configure.log" >&2; fail "configure of $(basename "$tree") failed"; }
  cmake --build "$tree" --target netlens_bpf_skel_gen http_capture_bpf_skel_gen >"$tree.build.log" 2>&1 ||
    { tail -n 30 "$tree.build.log" >&2; fail "eBPF build of $(basename "$tree") failed"; }
  [[ -s $tree/$object && -s $tree/bpf/netlens_bpf.skel.h ]] || fail "$(basename "$tree"): no object or skeleton"
}

t0=$SECONDS
# shellcheck disable=SC2016  # expanded by the inner shell
unshare -m bash -euc '
  mount -t tmpfs -o size=64k netlens-no-btf /sys/kernel/btf
  if [[ -e /sys/kernel/btf/vmlinux ]]; then echo "host BTF still visible" >&2; exit 1; fi
  cmake -S "$1" -B "$2" -DBUILD_TESTING=OFF >"$2.configure.log" 2>&1 || { tail -n 20 "$2.configure.log" >&2; exit 1; }
  cmake --build "$2" --target netlens_bpf_skel_gen >"$2.build.log" 2>&1 || { tail -n 30 "$2.build.log" >&2; exit 1; }
' hidden "$src" "$work/pinned" || fail "build with the host BTF hidden failed"
[[ -e /sys/kernel/btf/vmlinux ]] || log "(this host has no BTF at all)"
cmp -s "$work/pinned/$object" "$main_build/$object" ||
  fail "the object built without host BTF differs from $main_build/$object"
log "pinned types, host BTF hidden: built in $((SECONDS - t0)) s, identical to the tested build's object"

t0=$SECONDS
kernel_dir="$("$src/scripts/kernel/fetch-debian-kernel.sh" amd64)" || fail "cannot fetch Debian's 6.1 kernel"
build_bpf linux61 "-DNETLENS_VMLINUX_BTF=$kernel_dir/vmlinuz"
log "types of $(basename "$kernel_dir"): built in $((SECONDS - t0)) s"

if [[ -e /sys/kernel/btf/vmlinux ]]; then
  t0=$SECONDS
  build_bpf host -DNETLENS_VMLINUX_BTF=/sys/kernel/btf/vmlinux
  log "types of the host kernel $(uname -r): built in $((SECONDS - t0)) s"
fi

t0=$SECONDS
build_bpf arm64 -DNETLENS_BPF_ARCH=arm64
grep -q -- '-D__TARGET_ARCH_arm64' "$work/arm64/CMakeFiles/netlens_bpf_skel_gen.dir/build.make" ||
  fail "arm64 tree not compiled with __TARGET_ARCH_arm64"
log "arm64 pinned types: built in $((SECONDS - t0)) s"

# Header dependencies: a header two includes deep (netlens.bpf.c -> hooks_tracepoint.bpf.h ->
# lib/core_fixes.bpf.h) rebuilds the object. Its time stamp is put back afterwards.
header="$src/ebpf/lib/core_fixes.bpf.h"
touched="$(stat -c %Y "$header") $header"
cmake --build "$work/pinned" --target netlens_bpf_skel_gen >"$work/rebuild-idle.log" 2>&1
grep -q "Compiling eBPF object" "$work/rebuild-idle.log" && fail "an up-to-date object was rebuilt"
touch "$header"
cmake --build "$work/pinned" --target netlens_bpf_skel_gen >"$work/rebuild.log" 2>&1
grep -q "Compiling eBPF object" "$work/rebuild.log" || fail "touching $header did not rebuild the object"
log "touching ebpf/lib/core_fixes.bpf.h rebuilt the object; nothing rebuilt when nothing changed"
log "PASS"
