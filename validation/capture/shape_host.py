#!/usr/bin/env python3
"""Does an op's host cost depend on its shape? host_micro.py times tiny shapes back to back (the
GPU work per call is a few microseconds, so the host decides). At a real layer's shape the GPU is
the slower side; this times the host's enqueue alone: 30 calls without a sync (the launch queue
holds them), wall time per call from the second call on, the GPU drained afterwards.

    python3 validation/capture/shape_host.py -o shape_host.json
"""
import argparse
import json
import statistics
import time


def enqueue_us(torch, fn, n=30):
    runs = []
    for _ in range(5):
        torch.cuda.synchronize()
        fn()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
        torch.cuda.synchronize()
    return statistics.median(runs)


def cases(torch, shape):
    F = torch.nn.functional
    cl, bf = torch.channels_last, torch.bfloat16
    n, c, hw = shape
    x = torch.randn(n, c, hw, hw, device="cuda", dtype=bf).to(memory_format=cl)
    w = torch.randn(c, c, 3, 3, device="cuda", dtype=bf).to(memory_format=cl)
    go = torch.randn(n, c, hw, hw, device="cuda", dtype=bf).to(memory_format=cl)
    rm, rv = torch.zeros(c, device="cuda"), torch.ones(c, device="cuda")
    g, b = torch.ones(c, device="cuda"), torch.zeros(c, device="cuda")
    _, sm, si = torch.ops.aten.native_batch_norm(x, g, b, rm.clone(), rv.clone(), True, 0.1, 1e-5)
    x32, w32 = x.float(), w.float()
    return {
        "conv2d": lambda: F.conv2d(x, w, padding=1),
        "autocast_conv2d": lambda: autocast_conv(torch, x32, w32),
        "convolution_backward": lambda: torch.ops.aten.convolution_backward(
            go, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, False]),
        "batch_norm": lambda: F.batch_norm(x, rm, rv, g, b, training=True),
        "native_batch_norm_backward": lambda: torch.ops.aten.native_batch_norm_backward(
            go, x, g, rm, rv, sm, si, True, 1e-5, [True, True, True]),
        "relu": lambda: F.relu(x),
    }


def autocast_conv(torch, x, w):
    with torch.autocast("cuda", dtype=torch.bfloat16):
        return torch.nn.functional.conv2d(x, w, padding=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    import torch
    out = {}
    for label, shape in (("tiny 2x16x8x8", (2, 16, 8)), ("resnet 64x64x56x56", (64, 64, 56)),
                         ("resnet 64x256x14x14", (64, 256, 14))):
        out[label] = {k: enqueue_us(torch, fn) for k, fn in cases(torch, shape).items()}
        print("shape_host: %-22s " % label + " ".join("%s %.1f" % (k, v) for k, v in out[label].items()), flush=True)
    m, n, k = 8192, 3072, 768
    A, B = torch.randn(m, k, device="cuda", dtype=torch.bfloat16), torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
    a64 = torch.randn(64, 64, device="cuda", dtype=torch.bfloat16)
    out["mm"] = {"64x64x64": enqueue_us(torch, lambda: torch.mm(a64, a64)), "8192x3072x768": enqueue_us(torch, lambda: torch.mm(A, B))}
    print("shape_host: mm " + json.dumps(out["mm"]))
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
