#!/usr/bin/env bash
# CI step for the validation harness: validates the bundled captures and the sample nccl-tests log,
# writes out/validation/report.html (+ result.json) and kernel_transfer.html (+ .json) and, when Chromium is installed, screenshots the
# report with render_check.sh. Exit status: orrery validate's (1 when an error exceeds the tolerance).
#   BUILD_DIR=build validation/ci_report.sh [--tolerance 25]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
out=out/validation
mkdir -p "$out"
status=0
# The four captured workloads written as scripts (examples/emulate/), emulated with no GPU: their
# bundles carry the real run's measured.json, so the report compares the emulated step with it.
emulated=()
if [ -f /usr/lib/python3/dist-packages/torch/__init__.py ] || [ -n "${ORRERY_PYTHON:-}" ]; then
  for b in mlp_fp32 gpt_a_ddp gpt_b llama_s; do
    "$BUILD_DIR/orrery" emulate examples/emulate/$b.py --hw h100 --quiet \
      --measured examples/bundles/$b/measured.json --write-bundle "$out/emulated/emulated_$b" &&
      emulated+=("$out/emulated/emulated_$b") || status=$?
  done
else
  echo "ci_report: PyTorch not installed: emulated workloads left out of the report (apt-get install python3-torch)"
fi
"$BUILD_DIR/orrery" validate examples/bundles/* "${emulated[@]}" --mode measured,roofline \
  --nccl-tests tests/data/nccl_tests/all_reduce_perf_8xh100.log --system dgx-h100 \
  --published validation/data/published_training.json \
  --published validation/data/published_training_megatron_bridge.json \
  --report "$out/report.html" --json "$out/result.json" "$@" || status=$?
# Hardware what-if checked kernel by kernel against real H200 measurements: the H100 preset changed
# only by H200 datasheet figures (out-of-sample). Reported, not gated (--tolerance 0): the copy class
# misses 8% (docs/validation.md section 5).
"$BUILD_DIR/orrery" validate --kernel-transfer validation/data/h100/host_device_micro.json \
  validation/data/h200/host_device_micro.json --source-hw h100 --hw h100 \
  --set hbm_bandwidth=4.8TB/s --set l2_size=60MB --set hbm_capacity=141GB --tolerance 0 --quiet \
  --report "$out/kernel_transfer.html" --json "$out/kernel_transfer.json" || status=$?
# Published GEMM and all-reduce figures of other chips and fabrics (docs/codesign.md): reported,
# not gated (--tolerance 0): the MI300X rows miss by 21-54% for want of sourced figures.
"$BUILD_DIR/orrery" validate --published validation/data/published_hardware.json --tolerance 0 \
  --json "$out/published_hardware.json" || status=$?
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  validation/render_check.sh "$out/report.html" "$out/report.png" 1200,4200
  validation/render_check.sh "$out/kernel_transfer.html" "$out/kernel_transfer.png" 1200,1400
else
  echo "ci_report: chromium not installed: screenshot check skipped (apt-get install -y chromium)"
fi
exit $status
