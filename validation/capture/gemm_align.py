#!/usr/bin/env python3
"""What operand alignment costs a 16-bit GEMM: device time (CUDA-graph replay, device_micro.py's
timer) of torch.matmul at shapes whose n or k is not a multiple of 8 elements (16 bytes), next to
the same shape rounded up to a multiple of 8. cuBLAS then cannot use its 16-byte-aligned kernels
(Hopper: TMA + wgmma) and falls back to narrower ones (e.g. cutlass_80_..._align2): a vocabulary of
30522 or 50257 is the classic case. Output: {rows: [{dtype, m, n, k, align_elems, device_ms,
aligned_ms, ratio}], env}; orrery's gemm model reads the median ratio per alignment.

    python3 validation/capture/gemm_align.py -o gemm_align.json
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_micro  # noqa: E402


def align_of(v):
    for a in (8, 4, 2):
        if v % a == 0:
            return a
    return 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    import torch
    shapes = []
    for m, k in ((8192, 768), (4096, 1024), (2048, 2048), (16384, 768)):
        for n in (30522, 50257, 32001, 1001, 30524, 8190, 4094, 4097):
            shapes.append((m, n, k, "n"))
    for m, n in ((8192, 3072), (4096, 4096)):
        for k in (766, 1001, 2050, 4097):
            shapes.append((m, n, k, "k"))
    rows = []
    for dt_name, dt in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        for m, n, k, which in shapes:
            def run(n, k):
                x = torch.randn(m, k, device="cuda", dtype=dt)
                w = torch.randn(k, n, device="cuda", dtype=dt)
                return device_micro.device_ms(torch, lambda: torch.matmul(x, w), trials=5, target_ms=2.0)
            n8, k8 = (n + 7) // 8 * 8, (k + 7) // 8 * 8
            t, t8 = run(n, k), run(n8, k8)
            r = {"dtype": dt_name, "m": m, "n": n, "k": k, "unaligned": which,
                 "align_elems": align_of(n if which == "n" else k), "device_ms": t, "aligned_ms": t8,
                 "aligned_n": n8, "aligned_k": k8, "ratio": t / t8}
            rows.append(r)
            print("gemm_align: %(dtype)s %(m)5d x %(n)5d x %(k)5d (%(unaligned)s align %(align_elems)d) "
                  "%(device_ms).4f ms vs %(aligned_ms).4f ms aligned: x%(ratio).2f" % r, flush=True)
    summary = {}
    for r in rows:
        summary.setdefault("%s/align%d" % (r["dtype"], r["align_elems"]), []).append(r["ratio"])
    out = {"about": __doc__.split("\n\n")[0], "rows": rows,
           "median_ratio": {k: statistics.median(v) for k, v in summary.items()},
           "env": device_micro.env_info(torch)}
    print("gemm_align: median ratio " + json.dumps(out["median_ratio"]))
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
