#!/usr/bin/env bash
# bench/confinement: what confining a VM process costs (docs/security.md), measured against the
# same vmhive with the confinement it can turn off (--no-seccomp), in one run:
#   start: the whole life of a VM whose guest exits at once (the hello guest: process start,
#          set-up, confinement, guest run, exit), median wall time of RUNS; and --report-timing's
#          "confinement and thread start" (from dropping privileges to the main thread's filter) of
#          the idle guest; each also with --jail (namespaces, pivot_root, an unprivileged user);
#   I/O:   bench/virtio's workloads (disk at queue depth 1, 60-byte frames) confined and not,
#          best of 3 each, and the ratio confined / unconfined.
# Usage: bench/confinement/run.sh [RUNS]   (default 30; needs root for the jail and the tap)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${VMHIVE_BUILD_DIR:-build}
runs=${1:-30}
cmake -S . -B "$build_dir" -G Ninja >/dev/null
ninja -C "$build_dir" vmhive test_guests >/dev/null
vmhive=$(realpath "$build_dir/vmhive")
guests=$(realpath "$build_dir/guests")
work=$(mktemp -d)
netns=vmhive-bench-confine-$$
cleanup() { ip netns del "$netns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "host: $(uname -r), KVM backend: $("$vmhive" info | awk '/^backend/ {print $2}'), $(nproc) cores"

# start_ms ARGS...: the confinement line's milliseconds for one idle guest (it halts at once;
# one byte of input ends it once it is up).
start_ms() {
  local fifo=$work/in.$RANDOM
  mkfifo "$fifo"
  "$vmhive" run --kernel "$guests/idle.elf" --report-timing "$@" <"$fifo" 2>"$work/err" >"$work/out" &
  local pid=$!
  exec 9>"$fifo"
  while ! grep -q "idle: ready" "$work/out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  printf q >&9
  exec 9>&-
  wait "$pid" || true
  rm -f "$fifo"
  sed -n 's/.*confinement and thread start \([0-9.]*\) ms.*/\1/p' "$work/err"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print v[int((NR + 1) / 2)] }'; }

sample() {  # label ARGS...
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do start_ms "$@"; done | median | xargs printf '%-44s %8s ms\n' "$label"
}

# wall_ms ARGS...: milliseconds from starting vmhive on the hello guest to its exit.
wall_ms() {
  local begin end
  begin=$(date +%s%N)
  "$vmhive" run --kernel "$guests/hello.elf" "$@" >/dev/null 2>&1 || true
  end=$(date +%s%N)
  awk -v d=$((end - begin)) 'BEGIN { printf "%.3f\n", d / 1e6 }'
}
wall() {  # label ARGS...
  local label=$1
  shift
  for ((i = 0; i < runs; i++)); do wall_ms "$@"; done | median | xargs printf '%-44s %8s ms\n' "$label"
}

echo "a whole VM life (hello guest), median of $runs runs:"
wall "confined (seccomp filters, no capabilities)"
wall "--no-seccomp (capabilities still dropped)" --no-seccomp
if [[ $(id -u) == 0 ]]; then wall "confined and jailed (--jail)" --jail "$work/jail-wall"; fi
echo
echo "confinement and thread start (--report-timing), median of $runs runs (idle guest):"
sample "confined (seccomp filters, no capabilities)"
sample "--no-seccomp (capabilities still dropped)" --no-seccomp
if [[ $(id -u) == 0 ]]; then sample "confined and jailed (--jail)" --jail "$work/jail"; fi

# I/O: best of 3 between the guests' "bench: begin" and "bench: end" lines.
rounds=3
source bench/markers.sh
image=$work/disk.img
head -c $((64 << 20)) /dev/urandom >"$image"
ip netns add "$netns"
ip netns exec "$netns" ip tuntap add dev tapb mode tap vnet_hdr
ip netns exec "$netns" ip link set tapb up
disk() { "$vmhive" run --kernel "$guests/disk.elf" --disk "$image" --cmdline "mode=bench $1" "${@:2}"; }
net() { ip netns exec "$netns" "$vmhive" run --kernel "$guests/net.elf" --net tap=tapb --cmdline "$1" "${@:2}"; }
row() {  # name unit amount confined_us free_us
  awk -v n="$1" -v u="$2" -v a="$3" -v c="$4" -v f="$5" 'BEGIN {
    if (c == 0 || f == 0) { printf "%-34s failed\n", n; exit }
    printf "%-34s %10.1f %-5s %10.1f %-5s %7.3f\n", n, a / (c / 1e6), u, a / (f / 1e6), u, (a / (c / 1e6)) / (a / (f / 1e6)) }'
}
echo
echo "I/O, best of 3:"
printf '%-34s %16s %16s %7s\n' workload confined --no-seccomp ratio
row "blk random read, 1 KiB (QD1)" req/s 100000 "$(best_us disk "kind=randread size=1 count=100000")" \
  "$(best_us disk "kind=randread size=1 count=100000" --no-seccomp)"
row "blk sequential write, 64 KiB" MB/s 256 "$(best_us disk "kind=seqwrite size=64 count=4096")" \
  "$(best_us disk "kind=seqwrite size=64 count=4096" --no-seccomp)"
row "net frames guest->host, 60 B" fps 100000 "$(best_us net "role=sender count=100000")" \
  "$(best_us net "role=sender count=100000" --no-seccomp)"
