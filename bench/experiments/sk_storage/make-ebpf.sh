#!/usr/bin/env bash
# Writes a copy of ebpf/ with sk_storage.patch applied (socket-local storage on the
# send/receive path) to DIR, for bench/run.sh --profile-alt-ebpf DIR. See README.md.
#
#   bench/experiments/sk_storage/make-ebpf.sh [DIR]   (default: build/ebpf-sk-storage)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../../.." && pwd)"
dir="${1:-${repo}/build/ebpf-sk-storage}"

rm -rf "${dir}"
mkdir -p "${dir}"
cp "${repo}"/ebpf/* "${dir}/"
# The patch names a/ebpf/FILE: strip "a/ebpf/" to apply it inside the copy.
patch --quiet --forward -p2 -d "${dir}" <"${here}/sk_storage.patch"
echo "${dir}"
