#!/usr/bin/env bash
# usage: check_format.sh SOURCE_DIR
# Every tracked C/C++ source (the generated ebpf/vmlinux/*/vmlinux.h aside) must be as
# clang-format (.clang-format) writes it. Fix with:
#   git ls-files '*.c' '*.h' '*.cpp' | grep -v '^ebpf/vmlinux/' | xargs clang-format -i
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "check_format: clang-format not found (scripts/install-deps.sh)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' | grep -v '^ebpf/vmlinux/')
((${#files[@]} > 0)) || { echo "check_format: no sources found (not a git checkout?)" >&2; exit 1; }
if ! clang-format --dry-run --Werror "${files[@]}"; then
  echo "check_format: FAIL: the files above differ from clang-format; run clang-format -i on them" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
