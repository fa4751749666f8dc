#!/usr/bin/env python3
"""Derives clock_duty_slowdown (hw_models/presets/h100.json) from kernel-level data only.

For every bf16 GEMM shape that appears both in a capture bundle (Kineto kernel durations under the
profiler, GPU duty cycle ~0.2-0.3) and in the device-side microbenchmark (CUDA-graph replay,
duty ~1.0), the ratio device_ms / trace_ms measures how much slower a compute-bound kernel runs
when the GPU is kept busy. The median ratio over shapes, divided by the duty difference, gives
the slowdown per unit duty. Step times (measured.json) are not read.

usage: validation/scripts/clock_ratio.py [examples/bundles] [validation/data/h100/host_device_micro.json]
"""
import collections, gzip, json, os, statistics, sys

root = sys.argv[1] if len(sys.argv) > 1 else "examples/bundles"
micro = sys.argv[2] if len(sys.argv) > 2 else "validation/data/h100/host_device_micro.json"
dev = {(r["m"], r["n"], r["k"]): r["device_ms"] * 1e3
       for r in json.load(open(micro))["device_side"]["gemm"] if r["dtype"] == "bf16"}
ratios, duties = [], []
for b in sorted(os.listdir(root)):
    d = os.path.join(root, b)
    if not os.path.exists(os.path.join(d, "et.json.gz")):
        continue
    et = json.load(gzip.open(os.path.join(d, "et.json.gz")))
    ev = json.load(gzip.open(os.path.join(d, "kineto.json.gz")))["traceEvents"]
    rf = {a["value"]: n for n in et["nodes"] for a in n["attrs"] if a["name"] == "rf_id"}
    cpu = {e["args"]["External id"]: e for e in ev if e.get("cat") == "cpu_op"}
    rt = {e["args"]["correlation"]: e for e in ev if e.get("cat") in ("cuda_runtime", "cuda_driver")}
    gpu = [e for e in ev if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    span = max(e["ts"] + e["dur"] for e in gpu) - min(e["ts"] for e in gpu)
    duty = sum(e["dur"] for e in gpu) / span
    by_shape = collections.defaultdict(list)
    for e in gpu:
        if e.get("cat") != "kernel" or not any(t in e["name"] for t in ("gemm", "nvjet", "xmma", "cutlass")):
            continue  # the GEMM kernel itself, not side kernels
        r = rt.get(e["args"].get("correlation"))
        c = cpu.get(r["args"].get("External id")) if r else None
        n = rf.get(c["args"].get("Record function id")) if c else None
        if not n or n["name"] not in ("aten::mm", "aten::addmm"):
            continue
        if not any("BFloat16" in t for t in n["inputs"]["types"]):
            continue  # the microbenchmark shapes are bf16
        sh = n["inputs"]["shapes"]
        a, bb = (sh[0], sh[1]) if n["name"] == "aten::mm" else (sh[1], sh[2])
        by_shape[(a[0], bb[1], a[1])].append(e["dur"])
    for key, v in sorted(by_shape.items()):
        if key in dev:
            ratio = dev[key] / statistics.median(v)
            ratios.append(ratio)
            duties.append(duty)
            print(f"{b:10s} {str(key):22s} trace {statistics.median(v):9.2f} us  device {dev[key]:9.2f} us  ratio {ratio:.3f}  capture duty {duty:.2f}")
med = statistics.median(ratios)
dduty = 1.0 - statistics.median(duties)
print(f"median ratio {med:.4f} over {len(ratios)} shapes; duty difference {dduty:.2f}; "
      f"clock_duty_slowdown = {(med - 1) / dduty:.3f}")
