#!/usr/bin/env python3
"""Device-side facts about the kernels the first-principles model misses most (docs/codesign.md):
casting and vectorized copies, small scalar multiplies, memcpy and memset, bias-gradient sums,
layer norm forward/backward, fused AdamW, cuDNN attention backward, and the smallest kernel.
Shapes are those of the GPT/Llama bundles (8192 tokens, d 768/1024).

    --mode kineto  runs every case 8 times L2-warm (same buffers back to back) and 8 times L2-cold
                   (a 256 MiB write between runs) under torch.profiler, as the captures were timed,
                   and writes per kernel: case, warm/cold, name, duration, grid, block
    --mode ncu     runs every case once between cudaProfilerStart/Stop, for
                   `ncu --profile-from-start off ... python3 kernel_probe.py --mode ncu`

Usage (GPU machine):  python3 validation/capture/kernel_probe.py --mode kineto --out probe.json
"""
import argparse
import collections
import gzip
import json
import os
import statistics


def cases(torch):
    dev = "cuda"
    F = torch.nn.functional
    bf, f32 = torch.bfloat16, torch.float32
    r = lambda *s, dt=f32: torch.randn(*s, device=dev, dtype=dt)  # noqa: E731
    c = {}
    x32, x16 = r(8192, 1024), r(8192, 1024, dt=bf)
    c["cast_f32_bf16_8Mi"] = lambda: x32.to(bf)  # vectorized bfloat16_copy_kernel
    c["cast_bf16_f32_8Mi"] = lambda: x16.to(f32)  # unrolled casting copy
    w32, w16 = r(3072, 768), r(3072, 768, dt=bf)
    c["cast_f32_bf16_2.4Mi"] = lambda: w32.to(bf)
    c["cast_bf16_f32_2.4Mi"] = lambda: w16.to(f32)
    e32 = r(50304, 768)
    c["cast_f32_bf16_39Mi"] = lambda: e32.to(bf)
    for n in (768, 2304, 12288):
        v = r(n)
        c["mul_scalar_%d" % n] = lambda v=v: v.mul(0.5)
    for n in (768, 2359296, 8388608):
        v = r(n)
        c["memcpy_%d" % n] = lambda v=v: v.clone()
    g16 = r(8192, 1024, dt=bf)
    c["sum0_bf16_8192x1024"] = lambda: g16.sum(0)
    g16b = r(8192, 3072, dt=bf)
    c["sum0_bf16_8192x3072"] = lambda: g16b.sum(0)
    a32, b32 = r(8388608), r(8388608)
    c["add_f32_8Mi"] = lambda: a32.add_(b32)
    for n in (1048576, 4194304):
        a, b = r(n, dt=bf), r(n, dt=bf)
        c["add_bf16_%d" % n] = lambda a=a, b=b: a.add_(b)
    ln_x = r(8192, 1024, dt=f32).requires_grad_()
    ln = torch.nn.LayerNorm(1024).to(dev)
    ln_y = ln(ln_x)
    ln_g = torch.randn_like(ln_y)
    c["layer_norm_fwd_8192x1024"] = lambda: F.layer_norm(ln_x.detach(), (1024,), ln.weight.detach(), ln.bias.detach())
    c["layer_norm_bwd_8192x1024"] = lambda: torch.autograd.grad(ln_y, (ln_x, ln.weight, ln.bias), ln_g,
                                                               retain_graph=True)
    shapes = [(50304, 768), (1024, 768)] + [s for _ in range(12) for s in ((2304, 768), (2304,), (768, 768), (768,),
                                                                            (3072, 768), (3072,), (768, 3072), (768,),
                                                                            (768,), (768,), (768,), (768,))]
    params = [torch.nn.Parameter(r(*s)) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
    c["adamw_fused_gpt_a"] = opt.step
    try:
        c["sdpa_cudnn_bwd_8x12x1024x64"] = sdpa_backward(torch, r(8, 12, 1024, 64, dt=bf))
    except RuntimeError as e:  # no cuDNN attention here: go on without it
        print("kernel_probe: sdpa skipped (%s)" % str(e).splitlines()[0])
    one = r(1)
    c["tiny_add_1"] = lambda: one.add_(1.0)
    try:
        import cupy
        for n in (4096, 65536, 524288, 1048576, 4194304, 67108864):
            buf = torch.empty(n, device=dev, dtype=torch.uint8)
            c["memset_%d" % n] = lambda buf=buf, n=n: cupy.cuda.runtime.memsetAsync(
                buf.data_ptr(), 0, n, torch.cuda.current_stream().cuda_stream)
    except ImportError:
        print("kernel_probe: no cupy: memsets skipped")
    return c


def sdpa_backward(torch, q):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    q.requires_grad_()
    k, v = torch.randn_like(q).requires_grad_(), torch.randn_like(q).requires_grad_()
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    go = torch.randn_like(o)
    return lambda: torch.autograd.grad(o, (q, k, v), go, retain_graph=True)


def tag_events(ev):
    """Case tag of each GPU event: by its launch's correlation id, else by time (the case's range
    holds its GPU work: each run synchronizes inside its range)."""
    import bisect
    ranges = sorted((e["ts"], e["ts"] + e["dur"], e["name"][6:]) for e in ev
                    if e.get("cat") == "user_annotation" and e.get("name", "").startswith("probe:"))
    starts = [a for a, _, _ in ranges]

    def at(ts):
        i = bisect.bisect_right(starts, ts) - 1
        return ranges[i][2] if i >= 0 and ts <= ranges[i][1] else None

    corr = {}
    for e in ev:
        if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in e.get("args", {}):
            t = at(e["ts"])
            if t:
                corr[e["args"]["correlation"]] = t
    out = []
    for e in ev:
        if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"):
            t = corr.get(e.get("args", {}).get("correlation")) or at(e["ts"])
            if t:
                out.append((t, e))
    return out


def kineto(torch, cs, out):
    from torch.profiler import ProfilerActivity, profile, record_function
    flush = torch.empty(256 << 20, device="cuda", dtype=torch.uint8)
    for fn in cs.values():  # warm-up: allocations, cuBLAS/cuDNN plans
        fn()
        fn()
    torch.cuda.synchronize()
    trace = out + ".trace.json"
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for name, fn in cs.items():
            for cond in ("warm", "cold"):
                for _ in range(8):
                    if cond == "cold":
                        flush.fill_(1)
                    torch.cuda.synchronize()
                    with record_function("probe:%s:%s" % (name, cond)):
                        fn()
                        torch.cuda.synchronize()
    prof.export_chrome_trace(trace)
    ev = json.load(open(trace))["traceEvents"]
    rows = collections.defaultdict(list)
    for tag, e in tag_events(ev):
        a = e["args"]
        rows[(tag, e["name"], str(a.get("grid")), str(a.get("block")))].append(e["dur"])
    table = []
    for (tag, name, grid, block), durs in sorted(rows.items()):
        case, cond = tag.rsplit(":", 1)
        table.append({"case": case, "cond": cond, "kernel": name, "grid": grid, "block": block, "n": len(durs),
                      "median_us": statistics.median(durs), "min_us": min(durs)})
    with gzip.open(trace + ".gz", "wt") as f:
        json.dump(ev, f)
    os.remove(trace)
    return table


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["kineto", "ncu"], required=True)
    p.add_argument("--out", default="probe.json")
    args = p.parse_args()
    import torch
    cs = cases(torch)
    if args.mode == "ncu":
        for fn in cs.values():
            fn()
            fn()
        torch.cuda.synchronize()
        torch.cuda.profiler.start()
        for name, fn in cs.items():
            if name.startswith("memset_"):
                continue
            torch.cuda.nvtx.range_push(name)
            fn()
            torch.cuda.synchronize()
            torch.cuda.nvtx.range_pop()
        torch.cuda.profiler.stop()
        return
    table = kineto(torch, cs, args.out)
    with open(args.out, "w") as f:
        json.dump({"env": {"torch": torch.__version__, "device": torch.cuda.get_device_name(0)}, "kernels": table}, f,
                  indent=1)
    for r in table:
        print("%-30s %-4s %8.2f us  %-60s grid %s block %s" % (r["case"], r["cond"], r["median_us"], r["kernel"][:60],
                                                               r["grid"], r["block"]))


if __name__ == "__main__":
    main()
