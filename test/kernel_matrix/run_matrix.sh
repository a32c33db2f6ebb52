#!/usr/bin/env bash
# Kernel matrix: the exact-count integration tests on several kernels and attach modes.
#
#   host kernel         every mode it supports (tp_btf, tracepoint, auto); the modes it cannot
#                       run (fentry, kprobe: no kprobes built in, fentry loads fail with EPERM)
#                       must make netlens exit non-zero with a message, not hang or start.
#   Debian 12's 6.1     booted with qemu (TCG) from a busybox initramfs; kprobe, fentry, auto.
#
# usage: run_matrix.sh NETLENS NL_TRAFFIC INTEGRATION_TESTS
# (ctest passes the built binaries; integration_tests has the other two paths compiled in, so
# the initramfs keeps every binary at its path.)
#
# Prints MATRIX result lines as cells finish, then a table kernel x mode -> result.
# Exit: 0 if every cell came out as expected, 1 if not, 77 (skip) without root or without the
# tools, unless CI=true (then 1).
#
# Environment (all optional):
#   NETLENS_KM_CACHE            kernel cache (default /var/cache/netlens-kernel-matrix)
#   NETLENS_KM_KERNEL_PACKAGE   Debian kernel package (default: the newest
#                               linux-image-6.1.0-N-cloud-amd64-unsigned apt knows)
#   NETLENS_KM_HOST_MODES       modes expected to pass on the host (default "tp_btf tracepoint auto")
#   NETLENS_KM_HOST_UNSUPPORTED modes expected to be refused on the host (default "fentry kprobe")
#   NETLENS_KM_QEMU_MODES       modes expected to pass on 6.1 (default "kprobe fentry auto")
#   NETLENS_KM_TESTS            Catch2 test spec (default "[process],[remote],[connection],[churn],[monotonic],[accept-latency],[targets-matrix],[http-hooks]")
#   NETLENS_KM_SKIP_HOST=1, NETLENS_KM_SKIP_QEMU=1   leave out one side
#   NETLENS_KM_QEMU_TIMEOUT     seconds for one boot, i.e. one mode (default 420)
#   NETLENS_KM_HOST_TEST_TIMEOUT, NETLENS_KM_GUEST_TEST_TIMEOUT
#                               seconds for the tests of one cell (default 300 both)
#   NETLENS_KM_TAIL_LINES       lines of output shown for a failed cell (default 40)
#   NETLENS_KM_WORK             work directory (default: a new one under ${TMPDIR:-/tmp}; kept)
#   NETLENS_KM_REPORT           also write the table to this file
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
t_all=${EPOCHREALTIME}

skip_or_fail() {  # message
  if [[ ${CI:-} == true ]]; then
    echo "kernel_matrix: $1 (CI=true: failing)" >&2
    exit 1
  fi
  echo "SKIP: kernel_matrix: $1"
  exit 77
}
die() {
  echo "kernel_matrix: $*" >&2
  exit 1
}
elapsed() {  # start -> seconds since, one decimal
  local now=${EPOCHREALTIME}
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}
log() { echo "kernel_matrix: $*"; }

(($# == 3)) || die "usage: $0 NETLENS NL_TRAFFIC INTEGRATION_TESTS"
netlens="$1"
nl_traffic="$2"
integration_tests="$3"
for binary in "$netlens" "$nl_traffic" "$integration_tests"; do
  [[ -x $binary && $binary == /* ]] || die "not an executable absolute path: $binary"
done

((EUID == 0)) || skip_or_fail "needs root (loads eBPF programs, reads kernel packages)"

cache="${NETLENS_KM_CACHE:-/var/cache/netlens-kernel-matrix}"
host_modes=(${NETLENS_KM_HOST_MODES-tp_btf tracepoint auto})
host_unsupported=(${NETLENS_KM_HOST_UNSUPPORTED-fentry kprobe})
qemu_modes=(${NETLENS_KM_QEMU_MODES-kprobe fentry auto})
tests="${NETLENS_KM_TESTS:-[process],[remote],[connection],[churn],[monotonic],[accept-latency],[targets-matrix],[http-hooks]}"
qemu_timeout="${NETLENS_KM_QEMU_TIMEOUT:-420}"
host_test_timeout="${NETLENS_KM_HOST_TEST_TIMEOUT:-300}"    # per cell
guest_test_timeout="${NETLENS_KM_GUEST_TEST_TIMEOUT:-300}"  # per cell, under TCG (a cell takes 80-90 s here)
tail_lines="${NETLENS_KM_TAIL_LINES:-40}"
[[ ${NETLENS_KM_SKIP_HOST:-0} == 1 ]] && host_modes=() host_unsupported=()
[[ ${NETLENS_KM_SKIP_QEMU:-0} == 1 ]] && qemu_modes=()

if ((${#qemu_modes[@]} > 0)); then
  for tool in qemu-system-x86_64 cpio gzip dpkg-deb apt-get apt-cache ldd busybox strip; do
    command -v "$tool" >/dev/null ||
      skip_or_fail "$tool not found (scripts/install-deps.sh installs qemu-system-x86, busybox-static, cpio)"
  done
fi

work="${NETLENS_KM_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/netlens-kernel-matrix.XXXXXX")}"
mkdir -p "$work"
results="$work/results.txt"  # every MATRIX line, host and guest
: >"$results"
log "work directory $work"

# What the binaries can do. Until netlens has --attach-mode and the integration tests pass
# NETLENS_TEST_ATTACH_MODE on to it, only mode auto can be exercised; the other cells are
# reported as skipped (with the reason), not as passed, and with CI=true they fail.
attach_flag=1
grep -q -a -- 'attach-mode' "$netlens" || attach_flag=0  # not run: an old netlens had no --help
tests_honour_mode=1
grep -q -a NETLENS_TEST_ATTACH_MODE "$integration_tests" || tests_honour_mode=0
skip_reason() {  # mode expect -> reason or nothing
  if ((attach_flag == 0)) && [[ $1 != auto ]]; then
    echo "netlens has no --attach-mode"
  elif ((tests_honour_mode == 0)) && [[ $1 != auto && $2 == pass ]]; then
    echo "integration_tests ignores NETLENS_TEST_ATTACH_MODE"
  fi
}
log "netlens --attach-mode: $( ((attach_flag)) && echo yes || echo no); integration_tests honours NETLENS_TEST_ATTACH_MODE: $( ((tests_honour_mode)) && echo yes || echo no)"
log "test spec: $tests"

cell_env=(KM_NETLENS="$netlens" KM_INTEGRATION_TESTS="$integration_tests" KM_TESTS="$tests"
          KM_ATTACH_FLAG="$attach_flag" KM_TEST_TIMEOUT="$host_test_timeout"
          KM_TAIL_LINES="$tail_lines")

expected=()  # "kernel_label|mode|expect" in table order
timings=()   # lines for the timings section
qemu_note="" # why no qemu cell has a result (no kernel, no initramfs), if so
declare -A qemu_notes # mode -> why that boot gave no result (timeout, qemu's exit status)
declare -A retried    # mode -> the guest kernel failure that cost its first boot
kernel_failure_pattern='BUG: |Oops|Kernel panic|soft lockup|hung_task|general protection fault'
declare -A skipped   # "kernel_label|mode" -> reason

# ---- host cells ---------------------------------------------------------------------------------
host_kernel="$(uname -r)"
host_label="$host_kernel (host)"
run_host_cell() {  # mode expect
  local reason
  expected+=("$host_label|$1|$2")
  reason="$(skip_reason "$1" "$2")"
  if [[ -n $reason ]]; then
    skipped["$host_label|$1"]="$reason"
    log "host $1: skipped ($reason)"
    return
  fi
  log "host $1 (expect $2) ..."
  mkdir -p "$work/host"
  env "${cell_env[@]}" KM_WORK="$work/host" bash "$here/cell.sh" "$host_kernel" "$1" "$2" |
    tee -a "$results"
}
t_host=${EPOCHREALTIME}
for mode in "${host_modes[@]}"; do run_host_cell "$mode" pass; done
for mode in "${host_unsupported[@]}"; do run_host_cell "$mode" unsupported; done
((${#host_modes[@]} + ${#host_unsupported[@]} > 0)) && log "host cells took $(elapsed "$t_host") s"

# ---- Debian 12's 6.1 kernel under qemu ------------------------------------------------------------
# Resolves the kernel package, downloads it once into the cache and extracts /boot from it.
# Sets kernel_dir (vmlinuz, config) and kernel_release.
fetch_kernel() {
  local t0=${EPOCHREALTIME}
  if ! kernel_dir="$(NETLENS_KERNEL_CACHE="$cache" "$here/../../scripts/kernel/fetch-debian-kernel.sh" \
                     amd64 "${NETLENS_KM_KERNEL_PACKAGE:-}" 2>"$work/fetch-kernel.log")"; then
    qemu_note="$(tail -n 2 "$work/fetch-kernel.log" | tr '\n' ' ')"
    return 1
  fi
  timings+=("kernel $(basename "$kernel_dir"): $(elapsed "$t0") s (in $kernel_dir)")
  kernel_release="$(basename "$kernel_dir")"
  kernel_release="${kernel_release#linux-image-}"
  kernel_release="${kernel_release%-unsigned}"
}

# Everything the tests use must be built in: the initramfs has no modules.
check_kernel_config() {
  local option value missing=()
  for option in BPF_SYSCALL BPF_JIT BPF_EVENTS DEBUG_INFO_BTF KPROBES KPROBE_EVENTS \
                FUNCTION_TRACER DYNAMIC_FTRACE_WITH_DIRECT_CALLS INET IPV6 DEVTMPFS TMPFS \
                BLK_DEV_INITRD RD_GZIP SERIAL_8250_CONSOLE CGROUPS; do
    value="$(sed -n "s/^CONFIG_${option}=//p" "$kernel_dir/config")"
    [[ $value == y ]] || missing+=("CONFIG_${option}=${value:-unset}")
  done
  if ((${#missing[@]} > 0)); then
    qemu_note="$kernel_release lacks built-in ${missing[*]} (would need modules in the initramfs)"
    return 1
  fi
  log "$kernel_release config: BPF_SYSCALL, DEBUG_INFO_BTF, KPROBES, DYNAMIC_FTRACE_WITH_DIRECT_CALLS, IPV6 ... all =y"
}

# Copies a file and, for ELF binaries, every shared library ldd names (and the loader) into
# the initramfs at the same paths.
copy_with_libs() {  # root path
  local root="$1" path="$2" lib
  mkdir -p "$root$(dirname "$path")"
  cp -L "$path" "$root$path"
  while read -r lib; do
    [[ -e $root$lib ]] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done < <(ldd "$path" 2>/dev/null | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p')
}

build_initramfs() {  # -> $work/initramfs.cpio.gz
  local root="$work/initramfs" t0=${EPOCHREALTIME} binary
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,kernel_matrix}
  copy_with_libs "$root" "$(command -v busybox)"
  [[ -e $root/bin/busybox ]] || cp "$root$(command -v busybox)" "$root/bin/busybox"
  for binary in "$netlens" "$nl_traffic" "$integration_tests"; do
    copy_with_libs "$root" "$binary"
    strip --strip-debug "$root$binary"
  done
  cp "$here/init.sh" "$root/init"
  cp "$here/cell.sh" "$root/kernel_matrix/cell.sh"
  chmod 755 "$root/init" "$root/kernel_matrix/cell.sh"
  echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
  echo "root:x:0:" >"$root/etc/group"
  {
    printf 'export KM_NETLENS=%q\n' "$netlens"
    printf 'export KM_INTEGRATION_TESTS=%q\n' "$integration_tests"
    printf 'export KM_TESTS=%q\n' "$tests"
    printf 'export KM_ATTACH_FLAG=%q\n' "$attach_flag"
    printf 'export KM_MODES=%q\n' "auto"
    printf 'export KM_TEST_TIMEOUT=%q\n' "$guest_test_timeout"
    printf 'export KM_TAIL_LINES=%q\n' "$tail_lines"
  } >"$root/matrix.conf"
  if ! (cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$work/initramfs.cpio.gz"); then
    qemu_note="cannot build the initramfs"
    return 1
  fi
  rm -rf "$root"
  timings+=("initramfs: $(elapsed "$t0") s ($(du -m "$work/initramfs.cpio.gz" | cut -f1) MiB compressed)")
}

# One boot per mode: a guest that hangs costs that mode's cell, not the others'.
run_qemu() {  # mode attempt
  local mode="$1" t0=${EPOCHREALTIME} line stamp rest status serial="$work/serial-$1-$2"
  log "booting $kernel_release under qemu (TCG) for mode $mode (timeout ${qemu_timeout} s) ..."
  # Each console line gets the host's time, so the boot and the cell can be timed.
  timeout --kill-after=10 "$qemu_timeout" \
    qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot -nic none \
      -kernel "$kernel_dir/vmlinuz" -initrd "$work/initramfs.cpio.gz" \
      -append "console=ttyS0 panic=-1 quiet loglevel=5 netlens_modes=$mode" </dev/null 2>&1 |
    while IFS= read -r line; do
      line="${line%$'\r'}"
      printf '%s %s\n' "${EPOCHREALTIME}" "$line" >>"$serial.log"
      [[ $line == *MATRIX* && $line != *MATRIX-TAIL* ]] && echo "  qemu: MATRIX${line#*MATRIX}"
      # A soft lockup has never ended on its own here: stop the boot instead of waiting for
      # its deadline (the retry gets the time).
      if [[ $line == *"soft lockup"* ]]; then
        echo "  qemu: $mode: guest soft lockup, stopping this boot"
        pkill -f "initrd $work/initramfs.cpio.gz -append .*netlens_modes=$mode"
      fi
    done
  status=${PIPESTATUS[0]}
  # Without the terminal escapes SeaBIOS and the kernel print.
  sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|c)//g' "$serial.log" >"$serial.clean"
  timings+=("qemu $mode: $(elapsed "$t0") s")
  ((status == 124 || status == 137)) && qemu_notes[$mode]="qemu timed out after ${qemu_timeout} s"
  ((status != 0 && status != 124 && status != 137)) && qemu_notes[$mode]="qemu exited with status $status"
  # Host-side timing: from qemu's start to the guest's init.
  while read -r stamp rest; do
    case "$rest" in
      MATRIX-BOOT*) timings+=("qemu $mode boot to init: $(awk -v a="$t0" -v b="$stamp" 'BEGIN{printf "%.1f", b-a}') s") ;;
    esac
  done <"$serial.clean"
  # The guest kernel itself failed (an oops, a soft lockup): seen under TCG with 6.1, see
  # docs/kernels.md. Its first report line, for the table; its trace, for the log.
  guest_kernel_failure=""
  if grep -qE "$kernel_failure_pattern" "$serial.clean"; then
    guest_kernel_failure="$(grep -m1 -E "$kernel_failure_pattern" "$serial.clean" | cut -d' ' -f2- |
      sed 's/^\[ *[0-9.]*\] //' | cut -c1-120)"
    {
      echo "$mode, boot $2: $guest_kernel_failure (console: $serial.clean)"
      grep -m1 -A40 -E "$kernel_failure_pattern" "$serial.clean" | cut -d' ' -f2- | grep -vE '^ *$' |
        grep -E 'BUG|Oops|RIP|Comm:|lockup|\+0x' | head -n 20 | sed 's/^/    /'
    } >>"$work/guest-kernel-failures.txt"
  fi
  sed -n 's/^[0-9.]* \(MATRIX.*\)$/\1/p' "$serial.clean" >>"$results"
  # A guest that gave no result: its console's last lines say why (a failed kernel has its
  # trace printed in the guest kernel failures section instead).
  if [[ -z $guest_kernel_failure ]] && ! grep -q "^MATRIX kernel=$kernel_release mode=$mode " "$results"; then
    tail -n "$tail_lines" "$serial.clean" | cut -d' ' -f2- |
      sed -e "s/^/MATRIX-TAIL kernel=$kernel_release mode=$mode | console: /" >>"$results"
  fi
}

qemu_label=""
if ((${#qemu_modes[@]} > 0)); then
  kernel_release="6.1 cloud"
  kernel_ok=0
  fetch_kernel && check_kernel_config && kernel_ok=1
  qemu_label="$kernel_release (qemu)"
  guest_modes=()
  for mode in "${qemu_modes[@]}"; do
    expected+=("$qemu_label|$mode|pass")
    reason="$(skip_reason "$mode" pass)"
    if [[ -n $reason ]]; then
      skipped["$qemu_label|$mode"]="$reason"
    else
      guest_modes+=("$mode")
    fi
  done
  if ((${#guest_modes[@]} > 0 && kernel_ok)) && build_initramfs; then
    for mode in "${guest_modes[@]}"; do
      run_qemu "$mode" 1
      # A boot whose kernel failed gets one more boot: that cell then counts only if the
      # second boot's tests pass in full, and the table says that it took two. A test that
      # fails on a healthy kernel is never retried.
      if [[ -n $guest_kernel_failure ]]; then
        retried[$mode]="$guest_kernel_failure"
        log "qemu $mode: the guest kernel failed ($guest_kernel_failure); booting once more"
        unset "qemu_notes[$mode]"
        run_qemu "$mode" 2
      fi
    done
  fi
  [[ -n $qemu_note ]] && log "qemu: $qemu_note"
  for mode in "${!qemu_notes[@]}"; do log "qemu $mode: ${qemu_notes[$mode]}"; done
fi

# ---- the table ----------------------------------------------------------------------------------
field() {  # line name -> value (detail="..." may hold spaces)
  if [[ $2 == detail ]]; then
    sed -n 's/.* detail="\(.*\)"$/\1/p' <<<"$1"
  else
    sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" ${1%% detail=*}"
  fi
}
passed=0 failed=0 skipped_count=0
table="$(printf '%-28s %-11s %-12s %s\n' kernel mode result detail)"
for cell in "${expected[@]}"; do
  IFS='|' read -r label mode expect <<<"$cell"
  kernel="${label% (*}"
  line="$(awk -v p="MATRIX kernel=$kernel mode=$mode " 'index($0, p) == 1' "$results" | tail -n 1)"
  if [[ -n ${skipped["$label|$mode"]:-} ]]; then
    # As everywhere in this project's tests: CI=true never skips.
    detail="${skipped["$label|$mode"]}"
    if [[ ${CI:-} == true ]]; then
      result="FAIL (skipped)"
      failed=$((failed + 1))
    else
      result="skipped"
      skipped_count=$((skipped_count + 1))
    fi
  elif [[ -z $line ]]; then
    result="FAIL"
    note="${qemu_note:-${qemu_notes[$mode]:-}}"
    [[ $label == "$qemu_label" ]] || note=""
    detail="no result${note:+ ($note)}"
    failed=$((failed + 1))
  else
    result="$(field "$line" result)"
    detail="$(field "$line" detail)"
    hooks="$(field "$line" hooks)"
    seconds="$(field "$line" seconds)"
    case "$result" in
      pass)
        detail="$(field "$line" cases) cases, $(field "$line" assertions) assertions, ${seconds} s (netlens start $(field "$line" probe))"
        [[ $mode == auto ]] && detail+=", chose ${hooks}"
        ;;
      unsupported) detail="netlens $detail" ;;
      *)
        result="FAIL"
        cases="$(field "$line" cases)"
        [[ -n $cases && $cases != "?" ]] && detail+=" [$cases cases, $(field "$line" assertions) assertions]"
        ;;
    esac
    [[ $label == "$qemu_label" && -n ${retried[$mode]:-} ]] &&
      detail+="; second boot: the first one's kernel failed (${retried[$mode]})"
    if [[ $result == "$expect" ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    [[ $result != "$expect" && $result != FAIL ]] && result="FAIL ($result)"
  fi
  table+=$'\n'"$(printf '%-28s %-11s %-12s %s' "$label" "$mode" "$result" "$detail")"
done

echo
if grep -q '^MATRIX-TAIL' "$results"; then
  echo "---- output of the cells that did not come out as expected (tails) ----"
  grep '^MATRIX-TAIL' "$results" | sed 's/^MATRIX-TAIL //'
  echo
fi
if grep -q '^MATRIX-NOTE' "$results"; then grep '^MATRIX-NOTE' "$results"; fi
if [[ -s $work/guest-kernel-failures.txt ]]; then
  echo "---- guest kernel failures (the kernel under test, not netlens' tests; docs/kernels.md) ----"
  cat "$work/guest-kernel-failures.txt"
  echo
fi
if ((${#timings[@]} > 0)); then
  echo "---- timings ----"
  printf '%s\n' "${timings[@]}"
fi
echo "total: $(elapsed "$t_all") s; logs in $work"
echo
echo "---- kernel matrix (tests: $tests) ----"
echo "$table"
[[ -n ${NETLENS_KM_REPORT:-} ]] && echo "$table" >"$NETLENS_KM_REPORT"
echo "kernel matrix cells: $passed as expected, $failed not, $skipped_count skipped"
# The initramfs is the one large file of the work directory: keep it only to debug a failure.
((failed == 0)) && rm -f "$work/initramfs.cpio.gz"
((failed == 0))
