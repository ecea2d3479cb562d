#!/usr/bin/env bash
# Runs every test guest under QEMU and checks the lines it prints and how it ends.
# A stand-in for the vmhive integration tests, to check the guests themselves.
#
#   guests/check-qemu.sh [build-dir]          (default: build-guests)
#   ACCEL=kvm MACHINE=microvm guests/check-qemu.sh
#
# QEMU's isa-debug-exit makes QEMU exit with (v << 1) | 1, so debug-exit 0 is
# status 1 here; with -no-reboot a reset and a triple fault both exit 0.
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-guests}
guests=$build_dir/guests
accel=${ACCEL:-tcg}
machine=${MACHINE:-pc}
case $machine in
  microvm) machine_opts=microvm,rtc=on ;;
  *) machine_opts=$machine ;;
esac
failures=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# run <seconds> <guest> <qemu args...>: output lines of the guest in $out, status in $status.
run() {
  local seconds=$1 guest=$2
  shift 2
  timeout "$seconds" qemu-system-x86_64 -accel "$accel" -M "$machine_opts" -m 128 \
    -display none -serial stdio -no-reboot -net none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$guests/$guest.elf" "$@" 2>/dev/null |
    tr -d '\r' | grep -aE '^(hello|smp|e820|memsize|exits|echo|actions|abc$)' >"$out"
  status=${PIPESTATUS[0]}
}

# check <name> <expected status> <expected lines (extended regexes, one a line)>
check() {
  local name=$1 want_status=$2 want=$3
  if [[ $status -ne $want_status ]]; then
    echo "FAIL $name: status $status, want $want_status"; cat "$out"; failures=$((failures + 1)); return
  fi
  if [[ $(wc -l <"$out") -ne $(printf '%s\n' "$want" | wc -l) ]] ||
     ! paste -d '\n' <(printf '%s\n' "$want") "$out" | while read -r re && read -r line; do
         [[ $line =~ ^$re$ ]] || { echo "  line '$line' !~ '$re'"; exit 1; }
       done; then
    echo "FAIL $name: output"; cat "$out"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

run 30 hello </dev/null
check hello 1 'hello from vmhive test guest'

for cpus in 1 2 4; do
  run 60 smp -smp $cpus </dev/null
  sort -o "$out" "$out"   # the APs check in in any order
  want="smp: $cpus cpus in MADT"$'\n'"smp: all $cpus cpus online"
  for ((id = 1; id < cpus; id++)); do want="smp: cpu $id checked in"$'\n'$want; done
  check "smp -smp $cpus" 1 "$(printf '%s\n' "$want" | sort)"
done

hex='0x[0-9a-f]+'
# One pattern per e820 line the guest printed, then the summary lines.
memsize_lines() {
  local n
  n=$(grep -c '^e820' "$out")
  for ((i = 0; i < n; i++)); do echo "e820: $hex-$hex type [0-9]+"; done
  echo "memsize: ram $1 KiB, top $2"
  echo "memsize: acpi rsdp at $hex, [1-9][0-9]* tables"
}
run 30 memsize </dev/null
check "memsize -m 128" 1 "$(memsize_lines '1[0-9]{5}' '0x[78][0-9a-f]{6}')"
run 30 memsize -m 3G </dev/null
check "memsize -m 3G" 1 "$(memsize_lines '3[0-9]{6}' '0x(b[0-9a-f]{7}|c0000000)')"

run 30 exits -append seconds=3 </dev/null
check "exits seconds=3" 1 'exits: [1-9][0-9]*000 exits/s
exits: [1-9][0-9]*000 exits/s
exits: [1-9][0-9]*000 exits/s
exits: average [1-9][0-9]* exits/s'

run 30 echo < <(sleep 2; printf 'abc'; sleep 1; printf 'q')
check echo 1 'echo: ready
abc
echo: bye'

run 30 actions -append action=debug-exit:5 </dev/null
check "actions debug-exit:5" 11 'actions: debug-exit:5'
run 30 actions -append action=triple-fault </dev/null
check "actions triple-fault" 0 'actions: triple-fault'
run 5 actions -append action=halt-forever </dev/null
check "actions halt-forever" 124 'actions: halt-forever'
run 30 actions -append action=syscall </dev/null
check "actions syscall" 1 'actions: syscall
actions: syscall returned 8, handler cs=0x8 count=1'
run 30 actions -append action=bogus </dev/null
check "actions bogus" 3 'actions: bogus
actions: unknown action'
if [[ $machine == pc ]]; then   # microvm has no i8042
  run 30 actions -append action=reset </dev/null
  check "actions reset" 0 'actions: reset'
fi
if [[ $accel == tcg ]]; then    # KVM-PVM stops with an emulation failure instead
  run 30 actions -append action=ring0-int3 </dev/null
  check "actions ring0-int3" 0 'actions: ring0-int3'
fi

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
