#!/usr/bin/env python3
"""Host dispatch and device-side kernel times of one GPU, in the layout of
validation/data/h100/host_device_micro.json (what `orrery calibrate` and
`orrery validate --kernel-transfer` read):

    host_dispatch  wall time per call of back-to-back tiny ops, no profiler (host-bound): per aten op
                   and dtype, "aten::mm/bf16": {"median_us", "min_us", "max_us"}
    device_side    device time per kernel from CUDA-graph replay (no host dispatch in the timing):
      gemm         {dtype, m, n, k, device_ms, tflops}: bf16 and fp32 squares and transformer shapes
      copy         {bytes, device_ms, gbps_rw}: device-to-device copy, 1 KiB .. 1 GiB
      elementwise  {op: add | mul_scalar, bytes_per_operand, device_ms, gbps_rw}
      sdpa         {b, h, s, d, causal, backend, pass: fwd | bwd, device_ms, tflops}: fused attention
                   per PyTorch SDPA backend (cudnn, flash, efficient) that runs on this GPU; tflops
                   with the causal half of the score FLOPs (4bhs^2d x 0.5; backward x 2.5), as orrery
                   counts them
    env            torch, device, clocks where nvidia-smi answers, cpu

CUDA-graph replay: each operation is captured `reps` times back to back into one graph (reps chosen
so one replay takes ~2 ms), the graph is replayed `trials` times between two CUDA events, and the
median over trials of (elapsed / reps) is the device time. Buffers are reused across replays, so
sizes that fit in L2 measure L2 (orrery caps the memory curve at its streaming value for that).

Usage (on the GPU machine, PyTorch >= 2.4 with CUDA):
    python3 validation/capture/device_micro.py -o validation/data/h200/host_device_micro.json
    python3 validation/capture/device_micro.py --quick -o /tmp/hdm.json     # fewer sizes
then:
    orrery calibrate validation/data/h200/host_device_micro.json --hw h200 -o h200-new.json
    orrery validate --kernel-transfer validation/data/h100/host_device_micro.json \
        validation/data/h200/host_device_micro.json --source-hw h100 --hw h200
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True, help="output JSON")
    p.add_argument("--quick", action="store_true", help="fewer sizes (a smoke run)")
    p.add_argument("--host-only", action="store_true", help="only the host dispatch table (seconds)")
    p.add_argument("--trials", type=int, default=15)
    p.add_argument("--target-ms", type=float, default=2.0, help="duration of one graph replay")
    return p.parse_args(argv)


def env_info(torch):
    info = {"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "cpu": platform.processor() or
            platform.machine(), "nproc": __import__("os").cpu_count()}
    try:
        q = "name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit"
        out = subprocess.run(["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip().splitlines()
        info["nvidia_smi"] = dict(zip(q.split(","), [x.strip() for x in out[0].split(",")])) if out else {}
    except Exception as e:  # no nvidia-smi: keep going, say why
        info["nvidia_smi"] = {"error": str(e)}
    return info


def device_ms(torch, fn, trials, target_ms):
    """Median device time of fn() from CUDA-graph replay (ms per call)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):  # warm-up outside the graph (allocations, autotuning)
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    # One call timed with events to size the graph.
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    fn()
    b.record()
    torch.cuda.synchronize()
    one = max(a.elapsed_time(b), 1e-3)
    reps = int(min(1000, max(2, target_ms / one)))
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    g.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(trials):
        a.record()
        g.replay()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / reps)
    return statistics.median(times)


def host_us(torch, fn, n=200):
    """Wall time per call of fn() back to back (host-bound: tiny GPU work), median of 3 runs."""
    runs = []
    for _ in range(3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return {"median_us": statistics.median(runs), "min_us": min(runs), "max_us": max(runs)}


def main(argv=None):
    args = parse_args(argv)
    import torch
    import torch.nn.functional as F
    if not torch.cuda.is_available():
        sys.exit("device_micro: no CUDA device")
    dev = "cuda"
    dt = {"bf16": torch.bfloat16, "fp32": torch.float32}
    torch.backends.cuda.matmul.allow_tf32 = False
    T, tgt = args.trials, args.target_ms
    out = {"about": "host_dispatch: wall time per call of back-to-back tiny ops with no profiler (host-bound: GPU "
                    "work per call is a few us); device_side: per-kernel device time from CUDA-graph replay (no host "
                    "dispatch in the timing); written by validation/capture/device_micro.py",
           "env": env_info(torch), "host_dispatch": {}, "device_side": {"gemm": [], "copy": [], "elementwise": [],
                                                                        "sdpa": []}}
    ds = out["device_side"]

    # ---- host dispatch (tiny tensors: the host path dominates): host_micro.py's table
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import host_micro
    out["host_dispatch"] = host_micro.host_table(torch, dev)
    if args.host_only:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        print(f"device_micro: wrote {args.out}: host dispatch only")
        return

    # ---- GEMMs
    shapes = [(s, s, s) for s in ([256, 1024, 4096, 8192] if args.quick else [128, 256, 512, 1024, 2048, 4096, 8192,
                                                                                16384])]
    shapes += [(8192, 2304, 768), (8192, 768, 768), (8192, 3072, 768), (8192, 768, 3072), (4096, 4096, 1024),
               (16384, 4096, 4096), (4096, 11008, 4096), (4096, 4096, 11008)]
    for name, d in dt.items():
        for m, n, k in shapes:
            if name == "fp32" and m * n * k > 8192 ** 3:
                continue
            a = torch.randn(m, k, device=dev, dtype=d)
            b = torch.randn(k, n, device=dev, dtype=d)
            ms = device_ms(torch, lambda: torch.mm(a, b), T, tgt)
            ds["gemm"].append({"dtype": name, "m": m, "n": n, "k": k, "device_ms": ms, "tflops": 2 * m * n * k / ms / 1e9})
            del a, b

    # ---- copies and elementwise, 1 KiB .. 1 GiB
    sizes = [1 << p for p in (range(10, 31, 4) if args.quick else range(10, 31, 2))]
    for nb in sizes:
        src = torch.empty(nb // 4, device=dev, dtype=torch.float32).uniform_()
        dst = torch.empty_like(src)
        ms = device_ms(torch, lambda: dst.copy_(src), T, tgt)
        ds["copy"].append({"bytes": nb, "device_ms": ms, "gbps_rw": 2 * nb / ms / 1e6})
        other = torch.empty_like(src).uniform_()
        res = torch.empty_like(src)
        ms = device_ms(torch, lambda: torch.add(src, other, out=res), T, tgt)
        ds["elementwise"].append({"op": "add", "bytes_per_operand": nb, "device_ms": ms, "gbps_rw": 3 * nb / ms / 1e6})
        ms = device_ms(torch, lambda: torch.mul(src, 1.5, out=res), T, tgt)
        ds["elementwise"].append({"op": "mul_scalar", "bytes_per_operand": nb, "device_ms": ms,
                                  "gbps_rw": 2 * nb / ms / 1e6})
        del src, dst, other, res

    # ---- fused attention per SDPA backend, forward and backward (causal, bf16)
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION}
    att = [(8, 12, 1024, 64), (4, 16, 2048, 64), (2, 16, 2048, 128), (2, 32, 4096, 128), (1, 32, 8192, 128)]
    if args.quick:
        att = att[1:3]
    for bname, backend in backends.items():
        for b_, h, s, d in att:
            q = torch.randn(b_, h, s, d, device=dev, dtype=torch.bfloat16, requires_grad=True)
            k = torch.randn_like(q, requires_grad=True)
            v = torch.randn_like(q, requires_grad=True)
            flops = 4 * b_ * h * s * s * d * 0.5  # causal half, as orrery counts
            try:
                with sdpa_kernel([backend]):
                    o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                    go = torch.randn_like(o)

                    def fwd():
                        with torch.no_grad():
                            F.scaled_dot_product_attention(q, k, v, is_causal=True)

                    ms_f = device_ms(torch, fwd, T, tgt)

                    def bwd():
                        torch.autograd.grad(o, (q, k, v), go, retain_graph=True)

                    ms_b = device_ms(torch, bwd, T, tgt)
            except RuntimeError as e:  # backend unavailable for this shape / GPU: say so, go on
                print(f"device_micro: sdpa {bname} {b_}x{h}x{s}x{d}: skipped ({str(e).splitlines()[0]})")
                continue
            for pas, ms, f in (("fwd", ms_f, flops), ("bwd", ms_b, 2.5 * flops)):
                ds["sdpa"].append({"b": b_, "h": h, "s": s, "d": d, "causal": True, "backend": bname, "pass": pas,
                                   "device_ms": ms, "tflops": f / ms / 1e9})
            del q, k, v, o, go

    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"device_micro: wrote {args.out}: {len(ds['gemm'])} gemm, {len(ds['copy'])} copy, "
          f"{len(ds['elementwise'])} elementwise, {len(ds['sdpa'])} sdpa rows")


if __name__ == "__main__":
    main()
