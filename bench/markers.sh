# Sourced by the benchmarks that time a test guest between its console lines
# "bench: begin" and "bench: end" (bench/virtio, bench/confinement).

# elapsed_us COMMAND...: microseconds between the guest's "bench: begin" and "bench: end".
elapsed_us() {
  local begin= end= line
  while IFS= read -r line; do
    case $line in
      *"bench: begin"*) begin=$(date +%s%N) ;;
      *"bench: end"*) end=$(date +%s%N) ;;
    esac
  done < <("$@" 2>&1)
  if [[ -z $begin || -z $end ]]; then echo "no bench markers from: $*" >&2; echo 0; return; fi
  echo $(((end - begin) / 1000))
}

# best_us COMMAND...: the shortest of $rounds runs (rounds: set by the caller).
best_us() {
  local best=0 us
  for ((round = 0; round < rounds; round++)); do
    us=$(elapsed_us "$@")
    if ((us > 0 && (best == 0 || us < best))); then best=$us; fi
  done
  echo "$best"
}
