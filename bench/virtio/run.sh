#!/usr/bin/env bash
# bench/virtio: vmhive's virtio-blk and virtio-net against QEMU's (-enable-kvm -M pc,
# virtio-blk-pci and virtio-net-pci in modern mode, no vhost), driven by the very same
# test guests (guests/disk.c, guests/net.c) in one run. The disk guest issues its requests
# one at a time (queue depth 1), the net guest keeps up to 8 frames in flight; each works
# between the console lines "bench: begin" and "bench: end";
# the script times those lines and prints throughput and the ratio vmhive / the better QEMU
# (virtio-blk also runs in a QEMU iothread, which busy-polls its queues as vmhive's device
# thread does; virtio-net has no iothread in QEMU).
#
# Usage: bench/virtio/run.sh [ROUNDS]   (default 3; the best round of each is reported)
# Disk: a 256 MiB raw file in $TMPDIR, QEMU with cache=writeback,aio=threads (buffered I/O
# through the host page cache, as vmhive does). Network: frames of 60 bytes from the guest
# into a tap that is up, inside a network namespace of the script's own.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${VMHIVE_BUILD_DIR:-build}
rounds=${1:-3}
command -v qemu-system-x86_64 >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
cmake -S . -B "$build_dir" -G Ninja >/dev/null
ninja -C "$build_dir" vmhive test_guests >/dev/null
vmhive=$(realpath "$build_dir/vmhive")
guests=$(realpath "$build_dir/guests")

work=$(mktemp -d)
netns=vmhive-bench-$$
cleanup() { ip netns del "$netns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
image=$work/disk.img
head -c $((256 << 20)) /dev/urandom >"$image"
ip netns add "$netns"
ip netns exec "$netns" ip tuntap add dev tapb mode tap vnet_hdr
ip netns exec "$netns" ip link set tapb up

qemu_common=(qemu-system-x86_64 -M pc -enable-kvm -cpu host,-arch-capabilities -m 256 -smp 1 -nodefaults
  -no-user-config -nographic -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -no-reboot)

source bench/markers.sh

disk_vmhive() { "$vmhive" run --kernel "$guests/disk.elf" --disk "$image" --cmdline "mode=bench $1"; }
disk_qemu() {  # args [iothread]
  local device=virtio-blk-pci,drive=d0,disable-legacy=on extra=()
  if [[ ${2:-} == iothread ]]; then
    device+=,iothread=io0
    extra=(-object iothread,id=io0)
  fi
  "${qemu_common[@]}" -kernel "$guests/disk.elf" -append "mode=bench $1" "${extra[@]}" \
    -drive "if=none,id=d0,file=$image,format=raw,cache=writeback,aio=threads" -device "$device"
}
net_vmhive() { ip netns exec "$netns" "$vmhive" run --kernel "$guests/net.elf" --net tap=tapb --cmdline "$1"; }
net_qemu() {
  ip netns exec "$netns" "${qemu_common[@]}" -kernel "$guests/net.elf" -append "$1" \
    -netdev tap,id=n0,ifname=tapb,script=no,downscript=no,vhost=off -device virtio-net-pci,netdev=n0,disable-legacy=on
}

echo "host: $(uname -r), KVM backend: $("$vmhive" info | awk '/^backend/ {print $2}'), $(nproc) cores"
echo "qemu: $(qemu-system-x86_64 --version | head -1)"
echo "rounds: $rounds (best of each); disk at queue depth 1, net up to 8 frames in flight"
printf '%-34s %15s %15s %15s %7s\n' workload vmhive qemu qemu-iothread ratio

# report NAME UNIT AMOUNT VMHIVE_US QEMU_US [QEMU_IOTHREAD_US]: amount per second for each, and
# vmhive over the better QEMU.
report() {
  awk -v n="$1" -v u="$2" -v a="$3" -v o="$4" -v t="$5" -v i="${6:-0}" 'BEGIN {
    if (o == 0 || t == 0) { printf "%-34s %15s\n", n, "failed"; exit }
    ro = a / (o / 1e6); rt = a / (t / 1e6); ri = (i > 0) ? a / (i / 1e6) : 0
    best = (ri > rt) ? ri : rt
    printf "%-34s %10.1f %-4s %10.1f %-4s ", n, ro, u, rt, u
    if (ri > 0) printf "%10.1f %-4s ", ri, u; else printf "%15s ", "-"
    printf "%7.2f\n", ro / best }'
}

run_disk() {  # name unit amount args
  local ours theirs threaded
  ours=$(best_us disk_vmhive "$4")
  theirs=$(best_us disk_qemu "$4")
  threaded=$(best_us disk_qemu "$4" iothread)
  report "$1" "$2" "$3" "$ours" "$theirs" "$threaded"
}
run_disk "blk sequential write, 64 KiB" MB/s 1024 "kind=seqwrite size=64 count=16384"
run_disk "blk sequential read, 64 KiB" MB/s 1024 "kind=seqread size=64 count=16384"
run_disk "blk random read, 4 KiB" IOPS 200000 "kind=randread size=4 count=200000"
run_disk "blk random read, 1 KiB (latency)" req/s 200000 "kind=randread size=1 count=200000"

ours=$(best_us net_vmhive "role=sender count=200000")
theirs=$(best_us net_qemu "role=sender count=200000")
report "net frames guest->host, 60 B" fps 200000 "$ours" "$theirs"
