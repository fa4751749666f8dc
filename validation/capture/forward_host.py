#!/usr/bin/env python3
"""What a training step's forward adds to the host time of its ops. A training forward costs about
36 us of host time per top-level op un-profiled, inference about what the dispatch table says
(docs/replay.md). Two measurements, no profiler:

  forwards  the GPT (gpt_a's shape) and ResNet-50 forward, host time per call (enqueue only; the
            GPU drained between calls), in six contexts: bf16 autocast or not, x recording the
            autograd graph (parameters require grad) or no_grad, and a bf16 model under
            inference_mode
  ops       single ops back to back on tiny tensors (as host_micro.py) in the same contexts:
            what recording the graph and autocast add per op
  --breakdown  the GPT and ResNet-50 training forward (autocast+grad) and fp32+no_grad, each call
            behind a GPU sleep kernel (the host never waits for the GPU): total host time with and
            without module hooks, and per module class the time inside its modules (inclusive) and
            outside its child modules (self: a block's own Python, residual adds, functional calls)
  --modules-only   nn.Module wrappers (Linear, LayerNorm, Embedding, Conv2d, BatchNorm2d, ReLU,
            pooling) against the functional call each makes

    python3 validation/capture/forward_host.py -o forward_host.json
"""
import argparse
import contextlib
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture  # noqa: E402


def timed_forward(torch, fn, n=10):
    out = []
    for i in range(n + 3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        if i >= 3:
            out.append(dt * 1e3)
    torch.cuda.synchronize()
    return statistics.median(out)


def contexts(torch):
    ac = lambda: torch.autocast("cuda", dtype=torch.bfloat16)  # noqa: E731
    return {
        "autocast+grad": (ac, contextlib.nullcontext),
        "autocast+no_grad": (ac, torch.no_grad),
        "fp32+grad": (contextlib.nullcontext, contextlib.nullcontext),
        "fp32+no_grad": (contextlib.nullcontext, torch.no_grad),
    }


def forwards(torch):
    M = capture.build_models(torch)
    out = {}
    gpt = M["GPT"](50304, 768, 12, 12, 1024).cuda()
    idx = torch.randint(0, 50304, (8, 1024), device="cuda")
    res = M["ResNet50"]().cuda().to(memory_format=torch.channels_last)
    x = torch.randn(64, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    for name, model, inp in (("gpt_a", gpt, idx), ("resnet50", res, x)):
        model.train()
        for ctx, (ac, grad) in contexts(torch).items():
            def fn(model=model, inp=inp, ac=ac, grad=grad):
                with ac(), grad():
                    model(inp)
            out["%s/%s" % (name, ctx)] = timed_forward(torch, fn)
        m16 = model.to(torch.bfloat16)
        inp16 = inp.to(torch.bfloat16) if inp.is_floating_point() else inp

        def fn16(m16=m16, inp16=inp16):
            with torch.inference_mode():
                m16(inp16)
        out["%s/bf16+inference_mode" % name] = timed_forward(torch, fn16)

        def fn16g(m16=m16, inp16=inp16):
            m16(inp16)
        out["%s/bf16+grad" % name] = timed_forward(torch, fn16g)
        print("forward_host: %s " % name + " ".join("%s %.2f ms" % (k.split("/")[1], v) for k, v in out.items()
                                                    if k.startswith(name)), flush=True)
    return out


def ops(torch):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import host_micro
    F = torch.nn.functional
    out = {}
    x = torch.randn(64, 64, device="cuda")
    w = torch.randn(64, 64, device="cuda")
    b = torch.randn(64, device="cuda")
    cl = torch.channels_last
    xi = torch.randn(2, 16, 8, 8, device="cuda").to(memory_format=cl)
    wc = torch.randn(16, 16, 3, 3, device="cuda").to(memory_format=cl)
    rm, rv, g, bb = (torch.zeros(16, device="cuda"), torch.ones(16, device="cuda"), torch.ones(16, device="cuda"),
                     torch.zeros(16, device="cuda"))
    cases = {"add": lambda a: a + a, "mul": lambda a: a * a, "relu": lambda a: F.relu(a), "gelu": lambda a: F.gelu(a),
             "linear": lambda a: F.linear(a, w, b), "layer_norm": lambda a: F.layer_norm(a, (64,)),
             "view": lambda a: a.view(-1), "transpose": lambda a: a.t(),
             "conv2d": None, "batch_norm": None}
    for grad in (False, True):
        xg = x.clone().requires_grad_(grad)
        xig = xi.clone().requires_grad_(grad)
        for ac in (False, True):
            ctx = torch.autocast("cuda", dtype=torch.bfloat16) if ac else contextlib.nullcontext()
            tag = ("autocast" if ac else "fp32") + ("+grad" if grad else "")
            with ctx:
                for op, fn in cases.items():
                    if op == "conv2d":
                        f = lambda: F.conv2d(xig, wc, padding=1)  # noqa: E731
                    elif op == "batch_norm":
                        f = lambda: F.batch_norm(xig, rm, rv, g, bb, training=True)  # noqa: E731
                    else:
                        f = lambda fn=fn: fn(xg)  # noqa: E731
                    out["%s/%s" % (op, tag)] = host_micro.host_us(torch, f)["median_us"]
    for op in cases:
        print("forward_host: %-10s " % op + " ".join("%s %.1f" % (k.split("/")[1], v) for k, v in out.items()
                                                     if k.split("/")[0] == op), flush=True)
    return out


def modules(torch):
    """nn.Module wrappers' own host cost: module(x) minus the functional call it makes."""
    import host_micro
    nn, F = torch.nn, torch.nn.functional
    cl = torch.channels_last
    x = torch.randn(64, 64, device="cuda")
    xi = torch.randn(2, 16, 8, 8, device="cuda").to(memory_format=cl)
    idx = torch.randint(0, 64, (64,), device="cuda")
    lin, ln, emb = nn.Linear(64, 64).cuda(), nn.LayerNorm(64).cuda(), nn.Embedding(64, 64).cuda()
    conv, bn = nn.Conv2d(16, 16, 3, padding=1, bias=False).cuda().to(memory_format=cl), nn.BatchNorm2d(16).cuda()
    relu, mp, ap = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d(1)
    pairs = {
        "linear": (lambda: lin(x), lambda: F.linear(x, lin.weight, lin.bias)),
        "layer_norm": (lambda: ln(x), lambda: F.layer_norm(x, (64,), ln.weight, ln.bias)),
        "embedding": (lambda: emb(idx), lambda: F.embedding(idx, emb.weight)),
        "conv2d": (lambda: conv(xi), lambda: F.conv2d(xi, conv.weight, padding=1)),
        "batch_norm": (lambda: bn(xi), lambda: F.batch_norm(xi, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                                                            training=True)),
        "relu": (lambda: relu(x), lambda: F.relu(x, inplace=True)),
        "max_pool2d": (lambda: mp(xi), lambda: F.max_pool2d(xi, 3, 2, 1)),
        "adaptive_avg_pool2d": (lambda: ap(xi), lambda: F.adaptive_avg_pool2d(xi, 1)),
    }
    out = {}
    with torch.no_grad():
        for op, (m, f) in pairs.items():
            tm, tf = host_micro.host_us(torch, m)["median_us"], host_micro.host_us(torch, f)["median_us"]
            out[op] = {"module_us": tm, "functional_us": tf, "wrapper_us": tm - tf}
            print("forward_host: module %-20s %.1f us, functional %.1f us, wrapper %.1f us" % (op, tm, tf, tm - tf),
                  flush=True)
    return out


def breakdown(torch):
    M = capture.build_models(torch)
    gpt = M["GPT"](50304, 768, 12, 12, 1024).cuda().train()
    idx = torch.randint(0, 50304, (8, 1024), device="cuda")
    res = M["ResNet50"]().cuda().to(memory_format=torch.channels_last).train()
    x = torch.randn(64, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    ctxs = {k: v for k, v in contexts(torch).items() if k in ("autocast+grad", "fp32+no_grad", "fp32+grad")}
    out = {}
    for name, model, inp in (("gpt_a", gpt, idx), ("resnet50", res, x)):
        for ctx, (ac, grad) in ctxs.items():
            def fn(model=model, inp=inp, ac=ac, grad=grad):
                torch.cuda._sleep(int(200e6))  # ~100 ms: the host never waits for the GPU
                with ac(), grad():
                    model(inp)
            plain = timed_forward(torch, fn, n=8)
            stack, incl, self_t, count = [], {}, {}, {}

            def pre(m, i):
                stack.append([m, time.perf_counter(), 0.0])

            def post(m, i, o):
                mod, t0, child = stack.pop()
                dt = time.perf_counter() - t0
                c = type(mod).__name__
                incl[c] = incl.get(c, 0.0) + dt
                self_t[c] = self_t.get(c, 0.0) + dt - child
                count[c] = count.get(c, 0) + 1
                if stack:
                    stack[-1][2] += dt
            hs = [m.register_forward_pre_hook(pre) for m in model.modules()]
            hs += [m.register_forward_hook(post) for m in model.modules()]
            n = 8
            hooked = timed_forward(torch, fn, n=n)
            for h in hs:
                h.remove()
            calls = n + 3
            out["%s/%s" % (name, ctx)] = {
                "forward_ms": plain, "forward_hooked_ms": hooked,
                "modules": {c: {"count": count[c] // calls, "inclusive_ms": incl[c] * 1e3 / calls,
                                "self_ms": self_t[c] * 1e3 / calls} for c in incl}}
            print("forward_host: breakdown %s/%s forward %.2f ms (hooked %.2f): " % (name, ctx, plain, hooked)
                  + " ".join("%s x%d %.2f/%.2f" % (c, count[c] // calls, incl[c] * 1e3 / calls, self_t[c] * 1e3 / calls)
                             for c in incl), flush=True)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--modules-only", action="store_true")
    p.add_argument("--breakdown", action="store_true")
    a = p.parse_args()
    import torch
    if a.breakdown:
        with open(a.out, "w") as f:
            json.dump({"breakdown": breakdown(torch)}, f, indent=1)
        return
    if a.modules_only:
        with open(a.out, "w") as f:
            json.dump({"modules": modules(torch)}, f, indent=1)
        return
    res = {"ops_us": ops(torch)}
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    res["forward_ms"] = forwards(torch)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
