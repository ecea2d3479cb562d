#!/usr/bin/env bash
# Set up (packages, build, default guest) and run the whole test suite:
# unit tests, test-guest integration tests, the Linux boot test, and a short
# slice of every fuzz target (built with clang in build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build_dir=${VMHIVE_BUILD_DIR:-build}
start=$(date +%s)

ctest --test-dir "$build_dir" --output-on-failure -j2 -LE linux
ctest --test-dir "$build_dir" --output-on-failure -L linux

fuzz_dir=${build_dir}-fuzz
cmake -S . -B "$fuzz_dir" -G Ninja -DVMHIVE_FUZZ=ON -DVMHIVE_TESTS=OFF -DVMHIVE_GUESTS=OFF -DVMHIVE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
ninja -C "$fuzz_dir"
ctest --test-dir "$fuzz_dir" --output-on-failure -j2

echo "test.sh: whole suite took $(( $(date +%s) - start )) s"
