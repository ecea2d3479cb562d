#!/usr/bin/env bash
# Set up (packages, build, default guest) and boot the default Linux guest.
# Extra arguments go to `vmhive run`, e.g. scripts/boot.sh --cpus 2.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${VMHIVE_BUILD_DIR:-build}/vmhive" run "$@"
