#!/usr/bin/env python3
"""The host dispatch table of one machine: wall time per call of back-to-back tiny operations without
the profiler (the GPU work per call is a few microseconds, so the host path decides). The layout is
`host_dispatch` of validation/data/*/host_device_micro.json, what `orrery calibrate` turns into a
preset's `host.dispatch` table and what a bundle's own `host_dispatch.json` holds.

Keys are "OP/DTYPE" for aten operators called from Python (e.g. "aten::mm/bf16"), plus:
    aten::convolution_backward, aten::native_batch_norm_backward   the aten op called directly (the
                                    backward node's own work, without the autograd engine)
    autograd::mul_chain_per_node/fp32   a chain of 32 scalar multiplies, forward and backward, per
                                    multiply (data: it overstates the engine's per-node cost, which
                                    orrery does not take from it; docs/replay.md)
    autograd::record_per_op         what recording the autograd graph adds to an op: the median over
                                    add, mul, relu, gelu, layer_norm, view, transpose of the op on an
                                    input that requires grad minus on one that does not
    autograd::linear_fwd_with_grad, autograd::linear_fwd_bwd_sum    forward with grad recording;
                                    forward, .sum() and backward
    autocast::linear/bf16           F.linear on fp32 tensors under bf16 autocast (casts included)
    autocast::conv2d/bf16           F.conv2d under bf16 autocast: bf16 activations, fp32 weight
    python::module_call             an nn.Module whose forward returns its input
    optim::adamw_fused_step_N_params, optim::sgd_momentum_step_N_params (foreach)
                                    for N = 16 and 128 (per-parameter cost = the slope)
Used by device_micro.py (--host-only writes only this table) and capture.py (into each bundle).
"""
import statistics
import time


def host_us(torch, fn, n=200, sync=None):
    """Wall time per call of fn() back to back, median of 3 runs of n calls."""
    sync = sync or torch.cuda.synchronize
    runs = []
    for _ in range(3):
        sync()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return {"median_us": statistics.median(runs), "min_us": min(runs), "max_us": max(runs)}


def aten_ops(torch, dev, d, other):
    F = torch.nn.functional
    x, y = torch.randn(64, 64, device=dev, dtype=d), torch.randn(64, 64, device=dev, dtype=d)
    b = torch.randn(64, device=dev, dtype=d)
    q = torch.randn(1, 2, 64, 64, device=dev, dtype=d)
    b3 = torch.randn(4, 64, 64, device=dev, dtype=d)
    idx = torch.randint(0, 64, (64,), device=dev)
    return {
        "aten::mm": lambda: torch.mm(x, y), "aten::addmm": lambda: torch.addmm(b, x, y),
        "aten::linear": lambda: F.linear(x, y, b), "aten::bmm": lambda: torch.bmm(b3, b3),
        "aten::add": lambda: x + y, "aten::add_": lambda: x.add_(0), "aten::mul": lambda: x * y,
        "aten::gelu": lambda: F.gelu(x), "aten::silu": lambda: F.silu(x), "aten::relu": lambda: F.relu(x),
        "aten::layer_norm": lambda: F.layer_norm(x, (64,)), "aten::softmax": lambda: torch.softmax(x, -1),
        "aten::sum": lambda: x.sum(), "aten::mean_dim": lambda: x.mean(-1), "aten::rsqrt": lambda: torch.rsqrt(x),
        "aten::copy_": lambda: x.copy_(y), "aten::to_dtype": lambda: x.to(other), "aten::clone": lambda: x.clone(),
        "aten::view": lambda: x.view(-1), "aten::transpose": lambda: x.t(),
        "aten::contiguous_after_transpose": lambda: x.t().contiguous(), "aten::cat": lambda: torch.cat([x, y]),
        "aten::split": lambda: x.split(16), "aten::embedding": lambda: F.embedding(idx, x),
        "aten::scaled_dot_product_attention": lambda: F.scaled_dot_product_attention(q, q, q, is_causal=True),
        "aten::cross_entropy": lambda: F.cross_entropy(x, idx), "aten::zeros_like": lambda: torch.zeros_like(x),
        "aten::empty": lambda: torch.empty(64, 64, device=dev, dtype=d), "aten::fill_": lambda: x.fill_(1.0),
    }


def cnn_ops(torch, dev, d):
    """Convolution, batch norm and pooling at a tiny channels_last shape (cuDNN's host path)."""
    F = torch.nn.functional
    cl = torch.channels_last
    x = torch.randn(2, 16, 8, 8, device=dev, dtype=d).to(memory_format=cl)
    w = torch.randn(16, 16, 3, 3, device=dev, dtype=d).to(memory_format=cl)
    go = torch.randn(2, 16, 8, 8, device=dev, dtype=d).to(memory_format=cl)
    rm, rv = torch.zeros(16, device=dev), torch.ones(16, device=dev)
    g, bb = torch.ones(16, device=dev), torch.zeros(16, device=dev)  # fp32 affine, as under autocast
    _, sm, si = torch.ops.aten.native_batch_norm(x, g, bb, rm.clone(), rv.clone(), True, 0.1, 1e-5)
    return {
        "aten::conv2d": lambda: F.conv2d(x, w, padding=1),
        "aten::convolution_backward": lambda: torch.ops.aten.convolution_backward(
            go, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, False]),
        "aten::batch_norm": lambda: F.batch_norm(x, rm, rv, g, bb, training=True),
        "aten::native_batch_norm_backward": lambda: torch.ops.aten.native_batch_norm_backward(
            go, x, g, rm, rv, sm, si, True, 1e-5, [True, True, True]),
        "aten::max_pool2d": lambda: F.max_pool2d(x, 3, 2, 1),
        "aten::adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d(x, 1),
    }


def autograd_entries(torch, dev, table, sync):
    F = torch.nn.functional
    out = {}
    for name, d in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        x = torch.randn(64, 64, device=dev, dtype=d)
        w = torch.randn(64, 64, device=dev, dtype=d, requires_grad=True)
        b = torch.randn(64, device=dev, dtype=d, requires_grad=True)
        out["autograd::linear_fwd_with_grad/" + name] = host_us(torch, lambda: F.linear(x, w, b), sync=sync)
        out["autograd::linear_fwd_bwd_sum/" + name] = host_us(torch, lambda: F.linear(x, w, b).sum().backward(),
                                                              sync=sync)
    v = torch.randn(64, device=dev, requires_grad=True)

    def chain(k):
        def run():
            y = v
            for _ in range(k):
                y = y * 1.0001
            y.sum().backward()
        return run

    # Recording the autograd graph: an op on an input that requires grad, minus the same op on one
    # that does not (training forwards pay it on every op; inference does not).
    F = torch.nn.functional
    xs = {False: torch.randn(64, 64, device=dev), True: torch.randn(64, 64, device=dev, requires_grad=True)}
    fns = [lambda a: a + a, lambda a: a * a, lambda a: F.relu(a), lambda a: F.gelu(a),
           lambda a: F.layer_norm(a, (64,)), lambda a: a.view(-1), lambda a: a.t()]
    rec = sorted(host_us(torch, lambda f=f: f(xs[True]), sync=sync)["median_us"] -
                 host_us(torch, lambda f=f: f(xs[False]), sync=sync)["median_us"] for f in fns)
    out["autograd::record_per_op"] = {"median_us": max(0.0, rec[len(rec) // 2]), "min_us": rec[0], "max_us": rec[-1]}
    t32 = host_us(torch, chain(32), n=50, sync=sync)["median_us"]
    t1 = host_us(torch, chain(1), n=50, sync=sync)["median_us"]
    per_node = (t32 - t1) / 31
    out["autograd::mul_chain_per_node/fp32"] = {"median_us": per_node, "min_us": per_node, "max_us": per_node}
    x32, w32, b32 = (torch.randn(64, 64, device=dev), torch.randn(64, 64, device=dev), torch.randn(64, device=dev))
    if dev != "cpu":
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out["autocast::linear/bf16"] = host_us(torch, lambda: F.linear(x32, w32, b32), sync=sync)
            # A convolution inside a network: bf16 activations, the fp32 weight cast each call.
            xb = torch.randn(2, 16, 8, 8, device=dev, dtype=torch.bfloat16).to(memory_format=torch.channels_last)
            wc = torch.randn(16, 16, 3, 3, device=dev).to(memory_format=torch.channels_last)
            out["autocast::conv2d/bf16"] = host_us(torch, lambda: F.conv2d(xb, wc, padding=1), sync=sync)
    mod = torch.nn.Sequential(torch.nn.Identity())
    out["python::module_call"] = host_us(torch, lambda: mod(x32), sync=sync)
    return out


def optimizer_entries(torch, dev, sync):
    out = {}
    for n in (16, 128):
        params = [torch.nn.Parameter(torch.randn(64, 64, device=dev)) for _ in range(n)]
        for p in params:
            p.grad = torch.randn_like(p)
        try:
            adam = torch.optim.AdamW(params, lr=1e-4, fused=True)
            out["optim::adamw_fused_step_%d_params" % n] = host_us(torch, adam.step, n=50, sync=sync)
        except (TypeError, RuntimeError):  # no fused AdamW in this PyTorch/device
            pass
        sgd = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
        out["optim::sgd_momentum_step_%d_params" % n] = host_us(torch, sgd.step, n=50, sync=sync)

    return out


def host_table(torch, dev="cuda"):
    sync = torch.cuda.synchronize if dev != "cpu" else (lambda: None)
    table = {}
    dts = {"bf16": torch.bfloat16, "fp32": torch.float32}
    for name, d in dts.items():
        other = torch.float32 if name == "bf16" else torch.bfloat16
        ops = aten_ops(torch, dev, d, other)
        if dev != "cpu":
            try:
                ops.update(cnn_ops(torch, dev, d))
            except Exception as e:  # cuDNN refuses this dtype/layout here: go on without
                print("host_micro: cnn ops/%s skipped (%s)" % (name, str(e).splitlines()[0]))
        for op, fn in ops.items():
            try:
                table["%s/%s" % (op, name)] = host_us(torch, fn, sync=sync)
            except Exception as e:  # an op this device/dtype/PyTorch lacks: leave it out, say so
                print("host_micro: %s/%s skipped (%s)" % (op, name, str(e).splitlines()[0]))
    table.update(autograd_entries(torch, dev, table, sync))
    table.update(optimizer_entries(torch, dev, sync))
    return table


if __name__ == "__main__":
    import argparse
    import json
    import torch
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--cpu", action="store_true", help="dry run on the CPU")
    a = p.parse_args()
    t = host_table(torch, "cpu" if a.cpu else "cuda")
    with open(a.out, "w") as f:
        json.dump({"about": "host_dispatch: " + __doc__.splitlines()[0], "host_dispatch": t}, f, indent=1)
    print("host_micro: wrote %s (%d entries)" % (a.out, len(t)))
