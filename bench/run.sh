#!/usr/bin/env bash
# netlens benchmark: the one command. Builds the bench helpers, then runs every part and prints
# the table; the JSON (and the table as Markdown) go to bench/results/<timestamp>.json.
#
#   bench/run.sh [--smoke] [--duration S] [--repeats N] [--parts LIST] [--netlens PATH]
#                [--out-dir DIR] [--note TEXT] [--wait-quiet S] [--baseline-netlens PATH]
#                [--profile-alt-ebpf DIR] [--profile-programs LIST] [--keep-work]
#
#   --smoke        a few seconds per part (CI): checks the harness, not the numbers
#   --duration S   seconds per wrk run / load window (default 10; smoke 2)
#   --repeats N    rounds of the interleaved comparisons (default 3; smoke 1)
#   --parts LIST   comma-separated subset of per_event,variants,profile,syscall_tp,end_to_end,
#                  scrape,daemon_load,open_conns (default: all but profile and syscall_tp;
#                  smoke: all)
#   --netlens PATH the daemon to measure (default: build/netlens, built if missing)
#   --baseline-netlens PATH
#                  per_request, per_event and end_to_end: measure this daemon too (e.g. built from the
#                  commit before a change), interleaved with --netlens, as "before" rows
#                  (end_to_end: config D)
#   --profile-alt-ebpf DIR
#                  profile: also build bench/bpf/profile.bpf.c against DIR instead of ebpf/
#                  (a modified copy) and measure both, interleaved, as "alt" columns
#   --profile-programs LIST
#                  profile: only these programs of bench/bpf/profile.bpf.c
#   --out-dir DIR  where the JSON goes (default: bench/results)
#   --note TEXT    free text stored in the JSON (e.g. what was changed)
#   --wait-quiet S before each measurement wait up to S seconds (default 120; smoke 0) for a quiet
#                  host: no other process's tracing programs loaded, CPU <= 25% busy
#
# Needs root (bpf, bpf_stats, nginx workers); without root it exits 77 (skipped), unless CI=true.
# Everything runs on 127.0.0.1; every helper is bounded in time. See docs/performance.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "${here}")"
netlens=""
out_dir="${here}/results"
keep_work=0
alt_ebpf=""
pass=()
while (($#)); do
  case "$1" in
    --smoke) pass+=(--smoke); shift ;;
    --duration|--repeats|--parts|--note|--wait-quiet) pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --netlens) netlens="${2:?--netlens needs a path}"; shift 2 ;;
    --profile-alt-ebpf) alt_ebpf="$(realpath "${2:?$1 needs a directory}")"; shift 2 ;;
    --profile-programs) pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --baseline-netlens) pass+=(--baseline-netlens "$(realpath "${2:?$1 needs a path}")"); shift 2 ;;
    --out-dir) out_dir="${2:?--out-dir needs a directory}"; shift 2 ;;
    --keep-work) keep_work=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

if ((EUID != 0)); then
  if [[ "${CI:-}" == "true" ]]; then
    echo "run.sh: needs root (bpf programs, bpf_stats)" >&2
    exit 1
  fi
  echo "run.sh: skipped: needs root (bpf programs, bpf_stats); CI=true makes this a failure" >&2
  exit 77
fi

missing=()
for tool in clang cc bpftool pkg-config nginx wrk bpftrace python3 curl; do
  command -v "${tool}" >/dev/null || missing+=("${tool}")
done
if ((${#missing[@]})); then
  echo "run.sh: missing tools: ${missing[*]}; run scripts/install-deps.sh" >&2
  exit 1
fi

if [[ -z "${netlens}" ]]; then
  netlens="${repo}/build/netlens"
  if [[ ! -x "${netlens}" ]]; then
    echo "run.sh: building ${netlens}" >&2
    cmake -S "${repo}" -B "${repo}/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
    cmake --build "${repo}/build" --target netlens -j"$(nproc)" >&2
  fi
fi
[[ -x "${netlens}" ]] || { echo "run.sh: no netlens binary at ${netlens}" >&2; exit 1; }
netlens="$(cd "$(dirname "${netlens}")" && pwd)/$(basename "${netlens}")"

work="$(mktemp -d /tmp/netlens-bench.XXXXXX)"
cleanup() {
  if ((keep_work)); then
    echo "run.sh: work directory kept: ${work}" >&2
  else
    rm -rf "${work}"
  fi
}
trap cleanup EXIT

# Helpers: empty and variant eBPF programs, their loader, the traffic generator.
# Compiled like netlens' own programs: against the pinned kernel types of this architecture
# (cmake/BpfObject.cmake), never the host's.
arch_file="$(grep -lw -- "$(uname -m)" "${repo}"/ebpf/vmlinux/*/arch.cmake | head -n 1)"
[[ -n "${arch_file}" ]] || { echo "run.sh: no ebpf/vmlinux/*/arch.cmake lists $(uname -m)" >&2; exit 1; }
arch="$(basename "$(dirname "${arch_file}")")"
bpf_cflags=(-g -O2 -Wall -Werror -target bpf "-D__TARGET_ARCH_${arch}" -I"${repo}/ebpf/vmlinux/${arch}")
for obj in empty variants profile; do
  clang "${bpf_cflags[@]}" -I"${repo}/ebpf" -c "${here}/bpf/${obj}.bpf.c" -o "${work}/${obj}.bpf.o"
done
if [[ -n "${alt_ebpf}" ]]; then
  clang "${bpf_cflags[@]}" -I"${alt_ebpf}" \
    -c "${here}/bpf/profile.bpf.c" -o "${work}/profile-alt.bpf.o"
  pass+=(--profile-alt "${work}/profile-alt.bpf.o")
fi
# shellcheck disable=SC2046  # pkg-config output is a list of flags
cc -O2 -Wall -Wextra "${here}/loader.c" -o "${work}/nl-bench-loader" $(pkg-config --cflags --libs libbpf)
cc -O2 -Wall -Wextra "${here}/traffic.c" -o "${work}/nl-bench-traffic"
cc -O2 -Wall -Wextra "${here}/syscall_loop.c" -o "${work}/nl-bench-syscalls"

python3 "${here}/bench.py" --work "${work}" --netlens "${netlens}" --out-dir "${out_dir}" \
  "${pass[@]+"${pass[@]}"}"
