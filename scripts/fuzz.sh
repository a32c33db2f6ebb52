#!/usr/bin/env bash
# Builds the libFuzzer targets of test/fuzz/ with clang in their own build directory and runs
# each one after the other for a given time over its seed corpus; any crash, leak, UB, timeout
# or broken invariant is a finding and fails the run.
#
#   scripts/fuzz.sh [--build-dir DIR] [--seconds S] [--seed N] [MINUTES] [TARGET...]
#
# MINUTES (default 2) or --seconds S per target; TARGETs default to all (fuzz_targets.txt).
# --seed fixes libFuzzer's random seed (the ctest test does, so that CI runs the same inputs
# for the same time; a full run explores with a new seed each time).
# Per target, under DIR (default build-fuzz/): results/NAME.log (libFuzzer's output),
# corpus/NAME/ (inputs found this run, seeds excluded: test/fuzz/corpus/NAME/ is read-only here)
# and findings/NAME/ (crash-*, leak-*, timeout-*, oom-* inputs). results/summary.json and the
# table printed at the end: executions, coverage (libFuzzer's final cov: and ft:), corpus size,
# findings. A finding becomes a regression input by copying it into test/fuzz/corpus/NAME/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

build_dir="${root}/build-fuzz"
seconds=120
seed_option=()
targets=()
while (($#)); do
  case "$1" in
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --seed) seed_option=(-seed="$2"); shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    [0-9]*) seconds=$(($1 * 60)); shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Cache hits across build directories and clones (CI builds in a fresh one): paths under the
# repository are hashed relative to it, and -g's compile directory is left out.
export CCACHE_BASEDIR="${root}" CCACHE_NOHASHDIR=1
build_start=${SECONDS}
mkdir -p "${build_dir}"
nice -n 10 cmake -S test/fuzz -B "${build_dir}" -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  >"${build_dir}/configure.log" 2>&1 || { cat "${build_dir}/configure.log"; exit 1; }
nice -n 10 cmake --build "${build_dir}" -j"$(nproc)" >"${build_dir}/build.log" 2>&1 ||
  { tail -50 "${build_dir}/build.log"; exit 1; }
echo "fuzz: built in $((SECONDS - build_start)) s (${build_dir})"

mkdir -p "${build_dir}/results"
summary="${build_dir}/results/summary.json"
printf '[\n' >"${summary}"
failed=0
first=1
printf '%-12s %12s %8s %8s %8s %9s  %s\n' target executions cov ft corpus findings status
while read -r name exe seeds; do
  if ((${#targets[@]})) && [[ ! " ${targets[*]} " == *" ${name} "* ]]; then continue; fi
  work="${build_dir}/corpus/${name}"
  findings="${build_dir}/findings/${name}"
  log="${build_dir}/results/${name}.log"
  rm -rf "${work}" "${findings}"
  mkdir -p "${work}" "${findings}"
  status=0
  # The seeds are the second corpus directory: read, never written. A slow input (25 s) or one
  # over 2 GiB is a finding too. UBSan aborts (built without recovery); LeakSanitizer is on.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    nice -n 10 "${exe}" -max_total_time="${seconds}" "${seed_option[@]}" -print_final_stats=1 -timeout=25 \
    -rss_limit_mb=2048 -artifact_prefix="${findings}/" "${work}" "${seeds}" >"${log}" 2>&1 ||
    status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "${log}" | tail -1)
  stats=$(grep -E '^#[0-9]+' "${log}" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"${stats}")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"${stats}")
  corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"${stats}")
  found=$(find "${findings}" -type f | wc -l)
  result=ok
  if ((status != 0 || found != 0)); then
    result="FAILED (exit ${status}; see ${log})"
    failed=1
  fi
  printf '%-12s %12s %8s %8s %8s %9s  %s\n' "${name}" "${executions:-?}" "${cov:-?}" "${ft:-?}" \
    "${corpus:-?}" "${found}" "${result}"
  ((first)) || printf ',\n' >>"${summary}"
  first=0
  printf '  {"target": "%s", "seconds": %s, "executions": %s, "cov": %s, "ft": %s, "corpus": %s, "seeds": %s, "findings": %s, "exit": %s}' \
    "${name}" "${seconds}" "${executions:-0}" "${cov:-0}" "${ft:-0}" "${corpus:-0}" \
    "$(find "${seeds}" -type f | wc -l)" "${found}" "${status}" >>"${summary}"
  if ((status != 0 || found != 0)); then
    grep -E 'ERROR|SUMMARY|invariant|Test unit written' "${log}" | head -20 || true
  fi
done <"${build_dir}/fuzz_targets.txt"
printf '\n]\n' >>"${summary}"
echo "fuzz: figures in ${summary}"
exit "${failed}"
