#!/usr/bin/env bash
# CI step for `orrery sweep`: runs examples/sweeps/llama8b_plans.json with two workers, writes
# out/sweep/llama8b.{jsonl,csv,html} and, when Chromium is installed, screenshots the report with
# render_check.sh. Then the Python example, when the module was built (build/python).
#   BUILD_DIR=build validation/sweep_report.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
out=out/sweep
mkdir -p "$out"
rm -f "$out/llama8b.jsonl"
"$BUILD_DIR/orrery" sweep examples/sweeps/llama8b_plans.json -j 2 --no-progress -o "$out/llama8b.jsonl"
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  validation/render_check.sh "$out/llama8b.html" "$out/llama8b.png" 1300,2400
else
  echo "sweep_report: chromium not installed: screenshot check skipped"
fi
if ls "$BUILD_DIR"/python/orrery*.so >/dev/null 2>&1; then
  PYTHONPATH="$BUILD_DIR/python" MPLBACKEND=Agg /usr/bin/python3 examples/python/sweep_hbm.py out/examples
else
  echo "sweep_report: Python module not built (pybind11-dev / python3-dev missing): example skipped"
fi
