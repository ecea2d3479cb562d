#!/usr/bin/env bash
# bench/boot: vmhive against Debian's QEMU (microvm and pc, -enable-kvm) on the
# same test guests, same memory (128 MiB) and vCPUs (1), in one run.
# Usage: bench/boot/run.sh [RUNS]   (default 10 runs per VMM)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${VMHIVE_BUILD_DIR:-build}
if ! command -v qemu-system-x86_64 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
fi
cmake -S . -B "$build_dir" -G Ninja >/dev/null
ninja -C "$build_dir" vmhive boot_bench test_guests >/dev/null
echo "host: $(uname -r), KVM backend: $("$build_dir/vmhive" info | awk '/^backend/ {print $2}'), $(nproc) cores"
echo "qemu: $(qemu-system-x86_64 --version | head -1)"
"$build_dir/vmhive" run --kernel "$build_dir/guests/hello.elf" --mem 128M --report-timing 2>&1 >/dev/null | sed 's/^/vmhive start-up: /'
exec "$build_dir/bench/boot_bench" "$(realpath "$build_dir/vmhive")" "$(realpath "$build_dir/guests")" "${1:-10}"
