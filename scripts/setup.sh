#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs, then the build and the default
# Linux guest. Idempotent: a second run installs nothing and rebuilds only
# what changed. Run as root (apt-get, /dev/kvm).
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${VMHIVE_BUILD_DIR:-build}
packages=(
  cmake ninja-build g++ pkg-config        # the build
  libgtest-dev libgmock-dev               # unit and integration tests
  clang libfuzzer-14-dev libclang-rt-14-dev  # fuzz targets
  libcli11-dev                            # command-line parsing
  nlohmann-json3-dev                      # JSON: control requests, VM configurations, the daemon's API
  libboost-dev                            # Boost.Beast (header-only): HTTP for vmhived's API and the Firecracker API
  zlib1g-dev                              # CRC-32 checksums of snapshot state files
  libseccomp-dev libcap-dev               # confinement: per-thread system-call filters, dropping capabilities
  busybox-static lz4 kmod cpio            # the default Linux guest's initramfs
  dropbear-bin                            # ... and its SSH server (the Linux honeypot's, copied in)
  iproute2                                # network tests: namespaces, bridges, taps
  curl                                    # the Firecracker API tests drive the VMM as its guide does: curl --unix-socket
  iputils-ping nmap hping3                # honeyfarm tests: real scanners against the farm, inside a namespace
  openssh-client                          # ... and a real SSH login to a Linux clone in the farm (bench/farm)
  chromium                                # the farm dashboard's test: a real browser, headless
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S . -B "$build_dir" -G Ninja -DVMHIVE_WERROR=ON >/dev/null
ninja -C "$build_dir"
scripts/prepare-linux-guest.sh "$build_dir/linux-guest"
