#!/usr/bin/env bash
# Runs the libFuzzer harnesses (fuzz/fuzz_*.cpp) for a given time each.
#   bench/fuzz.sh TARGET SECONDS     one target (kineto, et, chakra, system, preset, model, plan, nccl_log, calibrate)
#   bench/fuzz.sh all SECONDS        every target in turn (FUZZ_JOBS=N: N targets at a time)
# FUZZ_RUNS=N stops a target after N executions (long campaigns: 1000000); FUZZ_TIMEOUT=S (default
# 10) is the wall time one input may take (raise it for low-priority campaigns on a busy machine,
# where a starved process can pass 10 s on a fast input). FUZZ_NO_BUILD=1 uses
# the fuzzers already built in FUZZ_BUILD_DIR.
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

# One target: runs it, writes its summary line to $B/fuzz_$t.summary; 1 when it had a finding.
run_target() {
  local t=$1 corpus=$B/corpus/$1 findings=$B/findings/$1 log=$B/fuzz_$1.log
  mkdir -p "$corpus" "$findings"
  # -rss_limit_mb: a reader that blows up on a small input is a finding; -timeout: so is a hang.
  (cd "$findings" && "$ROOT/$B/fuzz/fuzz_$t" -max_total_time="$SECS" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -timeout="${FUZZ_TIMEOUT:-10}" \
     -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 "$ROOT/$corpus" \
     $(cd "$ROOT" && for s in $(seeds "$t"); do echo "$ROOT/$s"; done)) >"$log" 2>&1 || true
  local execs crashes timeouts ooms
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  crashes=$(ls "$findings" | grep -c '^crash-' || true)
  timeouts=$(ls "$findings" | grep -c '^timeout-' || true)
  ooms=$(ls "$findings" | grep -c '^oom-' || true)
  if grep -q "ERROR: libFuzzer\|SUMMARY: .*Sanitizer\|terminate called" "$log" && [ "$crashes$timeouts$ooms" = "000" ]; then crashes=1; fi
  echo "fuzz $t: ${execs:-0} executions in $SECS s, crashes $crashes, timeouts $timeouts, ooms $ooms (log $log)" >"$B/fuzz_$t.summary"
  [ "$crashes$timeouts$ooms" = "000" ]
}

# FUZZ_JOBS targets at a time (CI: one per core; each target is one single-threaded process).
status=0 running=0 pids=()
for t in "${targets[@]}"; do
  run_target "$t" & pids+=($!)
  running=$((running + 1))
  if [ "$running" -ge "${FUZZ_JOBS:-1}" ]; then wait -n || status=1; running=$((running - 1)); fi
done
while [ "$running" -gt 0 ]; do wait -n || status=1; running=$((running - 1)); done
for t in "${targets[@]}"; do cat "$B/fuzz_$t.summary"; done
exit $status
