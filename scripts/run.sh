#!/usr/bin/env bash
# Quick start: installs dependencies, builds, runs netlens in the foreground.
# Arguments go to netlens unchanged; relative paths (--config FILE) are resolved
# against the directory you run this from.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

"${root}/scripts/install-deps.sh"
"${root}/scripts/build.sh"
"${root}/scripts/kernel/mount-tracefs.sh"
echo "run.sh: starting netlens; in another shell: curl -s localhost:9750/metrics"
exec "${root}/build/netlens" "$@"
