#!/usr/bin/env bash
# bench/linux-boot: the default Linux guest (Debian's cloud kernel as an uncompressed vmlinux
# with PVH entry, and our initramfs) under vmhive, QEMU with TCG (software CPU), and QEMU with
# -enable-kvm, in one run: seconds from process start to the VMHIVE-READY marker and to exit.
#
# Usage: bench/linux-boot/run.sh [CPUS]           (default 2)
#   VMMS="vmhive qemu-tcg qemu-kvm"   which to run (default: all three)
#   KVM_TIMEOUT=900                    seconds before giving up on QEMU -enable-kvm
#   CMDLINE="..."                      base command line (default: vmhive's default and speed
#                                      trade-offs from `vmhive info`, vmhive.modules=none)
#   LOG_DIR=DIR                        keep each VMM's console in DIR/NAME.log
#
# Every VMM gets the same kernel command line: the one vmhive uses on this host (its default,
# or $CMDLINE, plus the CPU template's Linux options that vmhive appends on KVM-PVM), so the
# guest does the same work under each. On KVM-PVM QEMU -enable-kvm stops at the kernel's
# INT3 self-test (docs/pvm.md); the script reports where and when.
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${VMHIVE_BUILD_DIR:-build}
guest=$build_dir/linux-guest
cpus=${1:-2}
vmms=${VMMS:-vmhive qemu-tcg qemu-kvm}
kvm_timeout=${KVM_TIMEOUT:-900}
[[ -r $guest/vmlinux ]] || { echo "no Linux guest in $guest: run scripts/setup.sh first" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
initrd=$(ls "$guest"/initramfs.cpio* | head -1)

# What vmhive boots with by default on this host, read from vmhive itself.
template_args=$("$build_dir/vmhive" info | awk -F': *' '/^linux arguments/ {print $2}')
# The default command line plus the documented speed trade-offs (`vmhive info`, docs/pvm.md)
# and vmhive.modules=none (no virtio devices to drive yet), as the Linux tests boot.
default_cmdline=$("$build_dir/vmhive" info | awk -F': *' '/^default cmdline/ {print $2}')
tradeoffs=$("$build_dir/vmhive" info | awk -F': *' '/^speed trade-offs/ {print $2}' | sed 's/ (opt-in.*//')
base_cmdline=${CMDLINE:-"$default_cmdline $tradeoffs vmhive.modules=none"}
run_command='vmhive.run="uname -r; grep -c ^processor /proc/cpuinfo"'
cmdline="$base_cmdline $template_args $run_command"

# Consoles are kept in $LOG_DIR when it is set (to see where a VMM stopped), else thrown away.
if [[ -n ${LOG_DIR:-} ]]; then
  log_dir=$LOG_DIR
  mkdir -p "$log_dir"
else
  log_dir=$(mktemp -d)
  trap 'rm -rf "$log_dir"' EXIT
fi

# measure NAME TIMEOUT COMMAND...: prints "NAME ready_s exit_s status last_line". A VMM that
# reports a KVM internal error (QEMU pauses the VM and waits) is stopped there, and the time
# of the error is printed.
measure() {
  local name=$1 limit=$2
  shift 2
  local log=$log_dir/$name.log start ready=- stopped=- now
  start=$(date +%s.%N)
  timeout "$limit" "$@" >"$log" 2>&1 </dev/null &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [[ $ready == - ]] && grep -q VMHIVE-READY "$log"; then
      now=$(date +%s.%N)
      ready=$(echo "$now - $start" | bc)
    fi
    if grep -q "KVM internal error" "$log"; then
      now=$(date +%s.%N)
      stopped=$(echo "$now - $start" | bc)
      sleep 1  # let it print the registers
      pkill -TERM -P "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  local status=0
  wait "$pid" || status=$?
  now=$(date +%s.%N)
  if [[ $ready == - ]] && grep -q VMHIVE-READY "$log"; then ready=$(echo "$now - $start" | bc); fi
  local exit_s last
  exit_s=$(echo "$now - $start" | bc)
  last=$(grep -a '^\[' "$log" | tail -1 | tr -d '\r' | cut -c1-100)
  printf '%-9s ready %8s s  exit %8.1f s  status %3d  last console line: %s\n' "$name" "$ready" "$exit_s" "$status" "$last"
  if [[ $stopped != - ]]; then
    printf '%-9s stopped by a KVM internal error after %.1f s: %s\n' "$name" "$stopped" \
      "$(grep -a -A1 'KVM internal error' "$log" | tr -d '\r' | tr '\n' ' ')"
    grep -a -m1 '^Code=' "$log" | sed "s/^/$name           /"
  fi
  echo "$ready" >"$log_dir/$name.ready"
}

echo "host: $(uname -r), KVM backend: $("$build_dir/vmhive" info | awk '/^backend/ {print $2}'), $(nproc) cores"
echo "qemu: $(qemu-system-x86_64 --version | head -1)"
echo "guest: $guest/vmlinux, $initrd, $cpus vCPUs, 256 MiB"
echo "cmdline: $cmdline"
for vmm in $vmms; do
  case $vmm in
    vmhive)
      # vmhive appends the template's options itself.
      measure vmhive 3600 "$build_dir/vmhive" run --kernel "$guest/vmlinux" --initrd "$initrd" --mem 256M \
        --cpus "$cpus" --report-timing --cmdline "$base_cmdline $run_command" ;;
    qemu-tcg)
      measure qemu-tcg 600 qemu-system-x86_64 -accel tcg -M pc -m 256 -smp "$cpus" -nographic -no-reboot \
        -kernel "$guest/vmlinux" -initrd "$initrd" -append "$cmdline" ;;
    qemu-kvm)
      measure qemu-kvm "$kvm_timeout" qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities,-cx16 -M pc \
        -m 256 -smp "$cpus" -nographic -no-reboot -kernel "$guest/vmlinux" -initrd "$initrd" -append "$cmdline" ;;
  esac
done
if [[ -s $log_dir/vmhive.ready && -s $log_dir/qemu-tcg.ready && $(cat "$log_dir/vmhive.ready") != - ]]; then
  echo "ratio time-to-ready vmhive / qemu-tcg: $(echo "scale=2; $(cat "$log_dir/vmhive.ready") / $(cat "$log_dir/qemu-tcg.ready")" | bc)"
fi
