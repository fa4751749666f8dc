#!/usr/bin/env bash
# Ingest at real sizes: wall time and peak memory (max RSS) of `orrery replay` on generated Kineto
# traces of 10k, 100k and 1M kernels, an ET + Kineto bundle, a 64-rank bundle, and Chakra traces
# converted from a capture; then the growth exponent k of CPU time ~ N^k between sizes.
#   bench/bench_ingest.sh [ORRERY_BINARY] [SIZES...]     (default: build/orrery 10000 100000 1000000)
# Traces are written once to ${INGEST_DIR:-/tmp/orrery_ingest} (1M kernels: about 1 GB of JSON).
# Per-phase CPU time and memory of one run: ORRERY_PHASES=1 ORRERY_BINARY replay DIR (docs/robustness.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/orrery}
shift || true
SIZES=("$@"); [ ${#SIZES[@]} -eq 0 ] && SIZES=(10000 100000 1000000)
D=${INGEST_DIR:-/tmp/orrery_ingest}
LIMIT=${INGEST_TIMEOUT:-300}
mkdir -p "$D"

measure() {  # label, command...: prints "label  wall_s  cpu_s  max_rss_MB  status"
  # CPU time (user + sys) is reported next to wall time: on a shared machine it is the steadier figure.
  local label=$1; shift
  local t0 t1 st=ok
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$D/rss" timeout "$LIMIT" "$@" >"$D/out" 2>&1 || st="failed($?)"
  t1=$(date +%s.%N)
  local rss cpu; read -r rss u s < <(tail -1 "$D/rss") || true
  cpu=$(echo "${u:-0} + ${s:-0}" | bc)
  printf "%-34s %8.2f s %8.2f s %8.0f MB  %s\n" "$label" "$(echo "$t1 - $t0" | bc)" "$cpu" "$(echo "${rss:-0} / 1024" | bc)" "$st"
  echo "$cpu" >"$D/last_wall"
}

echo "# orrery ingest benchmark: $BIN ($(date -u +%F))"
printf "%-34s %10s %10s %11s  %s\n" "input" "wall" "CPU" "max RSS" "status"
prev_n=""; prev_t=""
for n in "${SIZES[@]}"; do
  [ -f "$D/k$n/kineto.json" ] || python3 bench/gen_trace.py kineto "$n" "$D/k$n"
  measure "kineto-only, $n kernels" "$BIN" replay "$D/k$n" --mode roofline --engine event
  t=$(cat "$D/last_wall")
  if [ -n "$prev_n" ]; then
    printf "  growth exponent %s -> %s kernels: %.2f\n" "$prev_n" "$n" \
      "$(echo "l($t / $prev_t) / l($n / $prev_n)" | bc -l)"
  fi
  prev_n=$n; prev_t=$t
done
if [ -z "${INGEST_QUICK:-}" ]; then
  [ -f "$D/e100000/et.json" ] || python3 bench/gen_trace.py et 100000 "$D/e100000"
  measure "ET + Kineto, 100000 kernels" "$BIN" replay "$D/e100000" --mode roofline --engine event
  [ -f "$D/e100000gz/et.json.gz" ] || python3 bench/gen_trace.py et 100000 "$D/e100000gz" --gz
  measure "ET + Kineto gzip, 100000 kernels" "$BIN" replay "$D/e100000gz" --mode roofline --engine event
  [ -f "$D/r64/kineto.63.json" ] || python3 bench/gen_trace.py ranks 64 5000 "$D/r64"
  measure "64 ranks x 5000 kernels" "$BIN" replay "$D/r64" --mode roofline --system h100-cluster --nodes 8
  if [ ! -d "$D/chakra100k" ]; then
    "$BIN" convert "$D/e100000" -o "$D/chakra100k" >/dev/null 2>&1 || echo "(convert failed: no Chakra row)"
  fi
  [ -d "$D/chakra100k" ] && measure "Chakra, 100000-kernel capture" "$BIN" chakra-run "$D/chakra100k" --system dgx-h100
fi
