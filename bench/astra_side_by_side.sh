#!/bin/bash
# orrery chakra-run side by side with ASTRA-sim's analytical backend on the same Chakra files
# (issue 9): a synthetic data-parallel workload (build/chakra_synth: per rank, LAYERS x one compute
# node + one all-reduce over every rank) on H100 servers, 8 GPUs per NVSwitch node (450 GB/s per GPU
# and direction) and one 400 Gb/s NIC per GPU.
#   bench/astra_side_by_side.sh ASTRA_BIN [RANKS...]        (default ranks: 1024 4096)
# ASTRA_BIN: AstraSim_Analytical_Congestion_Unaware (or _Aware) built from ASTRA-sim's public source
# (docs/fabric.md says which commit and how). Prints one row per size: simulated step, wall time and
# peak memory of each, and the ratios. Timings of this machine: a report, not a test.
set -euo pipefail
ASTRA=$(realpath "${1:?usage: bench/astra_side_by_side.sh ASTRA_BIN [RANKS...]}")
shift
RANKS=${*:-1024 4096}
B=${BUILD:-build}
LAYERS=${LAYERS:-8}
COMPUTE_US=${COMPUTE_US:-1000}
BYTES=${BYTES:-67108864}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat > "$W/sys.json" <<J
{"scheduling-policy": "LIFO", "endpoint-delay": 10, "active-chunks-per-dimension": 1,
 "preferred-dataset-splits": 4, "all-reduce-implementation": ["ring", "ring"],
 "all-gather-implementation": ["ring", "ring"], "reduce-scatter-implementation": ["ring", "ring"],
 "all-to-all-implementation": ["direct", "direct"], "collective-optimization": "localBWAware",
 "local-mem-bw": 1600, "boost-mode": 0}
J
echo '{"memory-type": "NO_MEMORY_EXPANSION"}' > "$W/mem.json"
printf "%6s %6s | %12s %9s %8s | %12s %9s %8s | %10s %10s\n" ranks layers "orrery step" wall "peak MB" \
  "astra step" wall "peak MB" "step o/a" "wall a/o"
for N in $RANKS; do
  D="$W/synth$N"
  "$B/chakra_synth" --ranks "$N" --layers "$LAYERS" --compute-us "$COMPUTE_US" --bytes "$BYTES" --involved-dims 2 \
    -o "$D" >/dev/null
  /usr/bin/time -f "%e %M" -o "$W/t_o" "$B/orrery" chakra-run "$D" --system h100-cluster --nodes $((N / 8)) > "$W/o.txt"
  step_o=$(awk '/^makespan_s/ {print $2}' "$W/o.txt")
  printf "topology: [ Switch, Switch ]\nnpus_count: [ 8, %d ]\nbandwidth: [ 450.0, 50.0 ]\nlatency: [ 500.0, 1000.0 ]\n" \
    $((N / 8)) > "$W/net.yml"
  # (in $W: ASTRA-sim writes its log/ folder into the working directory)
  (cd "$W" && /usr/bin/time -f "%e %M" -o "$W/t_a" "$ASTRA" --workload-configuration="$D/synth" \
    --system-configuration="$W/sys.json" --remote-memory-configuration="$W/mem.json" \
    --network-configuration="$W/net.yml" --comm-group-configuration=empty > "$W/a.txt" 2>&1)
  # "sys[R] finished, T cycles" (1 cycle = 1 ns): the step is the last rank's.
  step_a=$(grep -o 'finished, [0-9]* cycles' "$W/a.txt" | awk '{ if ($2 > m) m = $2 } END { printf "%.6f", m / 1e9 }')
  read -r wo mo < "$W/t_o"
  read -r wa ma < "$W/t_a"
  printf "%6d %6d | %10.6f s %7.2f s %8.0f | %10.6f s %7.2f s %8.0f | %10.3f %10.2f\n" "$N" "$LAYERS" "$step_o" "$wo" \
    "$((mo / 1024))" "$step_a" "$wa" "$((ma / 1024))" "$(echo "$step_o / $step_a" | bc -l)" "$(echo "$wa / $wo" | bc -l)"
done
