#!/usr/bin/env bash
# CI step for the validation harness: validates the bundled captures and the sample nccl-tests log,
# writes out/validation/report.html (+ result.json) and, when Chromium is installed, screenshots the
# report with render_check.sh. Exit status: orrery validate's (1 when an error exceeds the tolerance).
#   BUILD_DIR=build validation/ci_report.sh [--tolerance 25]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
out=out/validation
mkdir -p "$out"
status=0
"$BUILD_DIR/orrery" validate examples/bundles/* --mode measured,roofline \
  --nccl-tests tests/data/nccl_tests/all_reduce_perf_8xh100.log --system dgx-h100 \
  --report "$out/report.html" --json "$out/result.json" "$@" || status=$?
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  validation/render_check.sh "$out/report.html" "$out/report.png" 1200,3200
else
  echo "ci_report: chromium not installed: screenshot check skipped (apt-get install -y chromium)"
fi
exit $status
