#!/usr/bin/env bash
# The serving model's prefill kernels against the closest real data in the project: the forward
# kernels of the gpt_b capture (H100; batch 4 x seq 2048 = the same GEMM and causal-attention
# shapes as a 4 x 2048-token prefill of validation/data/serve/gpt-b-shape.json). The capture is a
# training step, so only the forward GEMMs (aten::addmm), flash attention forward and GeLU are
# compared; norms differ (training LayerNorm stores statistics, serving fuses residual + norm).
#   BUILD_DIR=build validation/scripts/serve_prefill_vs_capture.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
O=${BUILD_DIR:-build}/orrery
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$O" replay examples/bundles/gpt_b --mode roofline --engine event --csv "$tmp/k.csv" > /dev/null
"$O" latency --engine event --model validation/data/serve/gpt-b-shape.json --hw h100 --batch 4 --prompt 2047 \
  --output 1 --token-budget 8192 --json "$tmp/s.json" > /dev/null
python3 - "$tmp/k.csv" "$tmp/s.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def measured(op, cls):
    return sum(float(r["measured_us"]) for r in rows if r["op"] == op and r["class"] == cls) / 1e3
k = {x["name"]: x["time_s"] * 1e3 for x in json.load(open(sys.argv[2]))["prefill_step"]["kernels"]}
pairs = [("layer GEMMs (qkv, o, fc1, fc2)", measured("aten::addmm", "gemm"), k["qkv_proj"] + k["o_proj"] + k["mlp_up"] + k["mlp_down"]),
         ("attention (causal, 4 x 2048)", measured("aten::_cudnn_attention_forward", "attention"), k["prefill_attention"]),
         ("GeLU", measured("aten::gelu", "elementwise"), k["gelu"])]
print(f"{'16 layers, 8192 tokens':34s} {'capture (ms)':>12s} {'serve model':>12s} {'error':>7s}")
for name, m, s in pairs:
    print(f"{name:34s} {m:12.3f} {s:12.3f} {100 * (s / m - 1):+6.1f}%")
PY
