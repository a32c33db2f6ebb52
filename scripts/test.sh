#!/usr/bin/env bash
# The one test command: installs dependencies, builds, runs every test.
# Exits with ctest's status; ctest's summary is the last output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/install-deps.sh
./scripts/build.sh
./scripts/kernel/mount-tracefs.sh
exec ctest --test-dir build --output-on-failure
