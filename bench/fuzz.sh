#!/usr/bin/env bash
# Runs the libFuzzer harnesses (fuzz/fuzz_*.cpp) for a given time each.
#   bench/fuzz.sh TARGET SECONDS     one target (kineto, et, chakra, system, preset, model, plan, nccl_log, calibrate)
#   bench/fuzz.sh all SECONDS        every target in turn
# Builds build-fuzz/ with clang (-DORRERY_FUZZ=ON: ASan + UBSan + libFuzzer) when needed. Seeds
# come from the project's own fixtures (systems/, presets, models, tests/data, fuzz/corpus, and
# small generated traces); new inputs go to build-fuzz/corpus/TARGET, findings (crash-*, timeout-*,
# oom-*) to build-fuzz/findings/TARGET. Prints one summary line per target:
#   fuzz TARGET: N executions in S s, crashes C, timeouts T, ooms O
# and exits non-zero when any target had a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${FUZZ_BUILD_DIR:-build-fuzz}
TARGET=${1:?usage: bench/fuzz.sh TARGET|all SECONDS}
SECS=${2:-60}
ALL=(kineto et chakra system preset model plan nccl_log calibrate)

if [ ! -f "$B/build.ninja" ] && [ ! -f "$B/Makefile" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DORRERY_FUZZ=ON >/dev/null
fi
targets=("$TARGET"); [ "$TARGET" = all ] && targets=("${ALL[@]}")
ORRERY=${ORRERY_BINARY:-$B/orrery}  # converts a generated capture into the Chakra seeds
extra=""; [ -x "$ORRERY" ] || extra=orrery
[ -n "${FUZZ_NO_BUILD:-}" ] || cmake --build "$B" -j "${JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}") $extra >/dev/null

seeds() {  # seed directories of a target
  local t=$1 tmp=$B/seeds/$1
  mkdir -p "$tmp"
  case $t in
    kineto) python3 bench/gen_trace.py kineto 3 "$tmp/a" && cp "$tmp/a/kineto.json" "$tmp/k3.json"
            python3 bench/gen_trace.py ranks 2 60 "$tmp/b" && cp "$tmp/b/kineto.0.json" "$tmp/r0.json"
            rm -rf "$tmp/a" "$tmp/b"; echo "$tmp" ;;
    et) python3 bench/gen_trace.py et 3 "$tmp/a" && cp "$tmp/a/et.json" "$tmp/et3.json" && rm -rf "$tmp/a"; echo "$tmp" ;;
    chakra) rm -rf "$tmp/a" "$tmp/x" && python3 bench/gen_trace.py et 3 "$tmp/a"
            "$ORRERY" convert "$tmp/a" -o "$tmp/x" >/dev/null 2>&1 || true
            find "$tmp/x" -name '*.et' -exec cp {} "$tmp/" \; 2>/dev/null || true; rm -rf "$tmp/a" "$tmp/x"; echo "$tmp" ;;
    system) echo systems ;;
    preset) echo hw_models/presets ;;
    model) echo workloads/models ;;
    plan) echo fuzz/corpus/plan ;;
    nccl_log) echo tests/data/nccl_tests ;;
    calibrate) echo tests/data/calibrate ;;
    *) echo "fuzz: unknown target '$t' (known: ${ALL[*]})" >&2; exit 2 ;;
  esac
}

status=0
for t in "${targets[@]}"; do
  corpus=$B/corpus/$t findings=$B/findings/$t
  mkdir -p "$corpus" "$findings"
  log=$B/fuzz_$t.log
  # -rss_limit_mb: a reader that blows up on a small input is a finding; -timeout: so is a hang.
  (cd "$findings" && "$ROOT/$B/fuzz/fuzz_$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
     -print_final_stats=1 "$ROOT/$corpus" $(cd "$ROOT" && for s in $(seeds "$t"); do echo "$ROOT/$s"; done)) >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  crashes=$(ls "$findings" | grep -c '^crash-' || true)
  timeouts=$(ls "$findings" | grep -c '^timeout-' || true)
  ooms=$(ls "$findings" | grep -c '^oom-' || true)
  if grep -q "ERROR: libFuzzer\|SUMMARY: .*Sanitizer\|terminate called" "$log" && [ "$crashes$timeouts$ooms" = "000" ]; then crashes=1; fi
  echo "fuzz $t: ${execs:-0} executions in $SECS s, crashes $crashes, timeouts $timeouts, ooms $ooms (log $log)"
  [ "$crashes$timeouts$ooms" = "000" ] || status=1
done
exit $status
