#!/usr/bin/env python3
"""What recording the autograd graph costs the host inside a forward, per op family, without the
profiler. Every forward is enqueued behind a GPU sleep kernel longer than it (torch.cuda._sleep), so
the host never waits for the GPU: the time is the host's own.

  chains    50 ops of one family in a chain (the graph kept until the forward ends, as in training),
            each family with parameters requiring grad (grad) and under torch.no_grad (no_grad):
            conv (3x3, 64 channels, channels_last), batch_norm (training), relu, add, linear,
            layer_norm; small (2x64x8x8 / 64x64) and real (32x64x56x56 / 8192x768) shapes
  resnet    ResNet-50 (fp32, channels_last) forward: no_grad, grad, frozen parameters with an input
            that requires grad, and batch norm in eval mode
  table     this machine's host dispatch table (host_micro.py), first, for comparison
  allocator the caching allocator's counters over ten grad forwards of ResNet-50 (device mallocs,
            retries, segments)

    python3 validation/capture/grad_host.py -o grad_host.json
"""
import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture  # noqa: E402


def host_ms(torch, fn, n=8, warm=3):
    out = []
    for i in range(n + warm):
        torch.cuda.synchronize()
        torch.cuda._sleep(int(200e6))  # ~100 ms of GPU work ahead of the forward
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        if i >= warm:
            out.append(dt * 1e3)
    torch.cuda.synchronize()
    return statistics.median(out)


def chains(torch):
    nn = torch.nn
    cl = torch.channels_last
    fams = {
        "conv": lambda c: nn.Conv2d(c, c, 3, padding=1, bias=False),
        "batch_norm": lambda c: nn.BatchNorm2d(c),
        "relu": lambda c: nn.ReLU(),
        "add": None,
        "linear": lambda c: nn.Linear(c, c),
        "layer_norm": lambda c: nn.LayerNorm(c),
    }
    shapes = {"small": ((2, 64, 8, 8), (64, 64)), "real": ((32, 64, 56, 56), (8192, 768))}
    out = {}
    for size, (img, tok) in shapes.items():
        for fam, make in fams.items():
            seq = fam in ("linear", "layer_norm")
            c = tok[1] if seq else img[1]
            x = torch.randn(*(tok if seq else img), device="cuda")
            if not seq:
                x = x.to(memory_format=cl)
            if fam == "add":
                b = torch.randn_like(x)

                def f(x=x, b=b, grad=True):
                    y = x.requires_grad_(grad) if grad else x
                    for _ in range(50):
                        y = y + b
                    return y
                res = {}
                for grad in (False, True):
                    xx = x.detach().clone()
                    res["grad" if grad else "no_grad"] = host_ms(torch, lambda xx=xx, grad=grad: f(xx, b, grad))
            else:
                m = nn.Sequential(*[make(c) for _ in range(50)]).cuda()
                if not seq:
                    m = m.to(memory_format=cl)
                m.train()
                res = {"grad": host_ms(torch, lambda m=m, x=x: m(x))}
                with torch.no_grad():
                    res["no_grad"] = host_ms(torch, lambda m=m, x=x: m(x))
            res["record_per_op_us"] = (res["grad"] - res["no_grad"]) * 1e3 / 50
            res["no_grad_per_op_us"] = res["no_grad"] * 1e3 / 50
            out["%s/%s" % (fam, size)] = res
            print("grad_host: chain %-10s %-5s no_grad %6.1f us/op, grad adds %6.1f us/op" %
                  (fam, size, res["no_grad_per_op_us"], res["record_per_op_us"]), flush=True)
    return out


def resnet(torch):
    M = capture.build_models(torch)
    cl = torch.channels_last
    model = M["ResNet50"]().cuda().to(memory_format=cl).train()
    x = torch.randn(64, 3, 224, 224, device="cuda").to(memory_format=cl)
    out = {}
    with torch.no_grad():
        out["no_grad"] = host_ms(torch, lambda: model(x))
    out["grad"] = host_ms(torch, lambda: model(x))
    for p in model.parameters():
        p.requires_grad_(False)
    xg = x.detach().clone().requires_grad_(True)
    out["frozen_params_input_grad"] = host_ms(torch, lambda: model(xg))
    for p in model.parameters():
        p.requires_grad_(True)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.eval()
    out["grad_bn_eval"] = host_ms(torch, lambda: model(x))
    with torch.no_grad():
        out["no_grad_bn_eval"] = host_ms(torch, lambda: model(x))
    model.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out["autocast_grad"] = host_ms(torch, lambda: model(x))
        with torch.no_grad():
            out["autocast_no_grad"] = host_ms(torch, lambda: model(x))
    print("grad_host: resnet50 " + " ".join("%s %.2f ms" % kv for kv in out.items()), flush=True)
    torch.cuda.synchronize()
    s0 = torch.cuda.memory_stats()
    for _ in range(10):
        model(x)
    torch.cuda.synchronize()
    s1 = torch.cuda.memory_stats()
    keys = ("num_alloc_retries", "num_device_alloc", "num_device_free", "segment.all.allocated",
            "allocation.all.allocated", "num_sync_all_streams")
    alloc = {k: s1.get(k, 0) - s0.get(k, 0) for k in keys}
    print("grad_host: allocator over 10 grad forwards " + json.dumps(alloc), flush=True)
    return out, alloc


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", required=True)
    a = p.parse_args()
    import torch
    import host_micro
    table = host_micro.host_table(torch)  # the same process and VM: the isolated ops' costs
    print("grad_host: table " + " ".join("%s %.1f" % (k, v["median_us"]) for k, v in table.items()
                                         if k.split("/")[0] in ("aten::conv2d", "aten::batch_norm", "aten::relu",
                                                                "aten::add", "aten::linear", "aten::layer_norm")
                                         or k.startswith("autograd::record") or k == "python::module_call"), flush=True)
    res = {"host_table": table, "chains": chains(torch)}
    res["resnet50"], res["allocator"] = resnet(torch)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
