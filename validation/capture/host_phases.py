#!/usr/bin/env python3
"""Where the host time of a training step goes, without the profiler (the profiler slows the host
1.5-5x, so a captured trace cannot say this itself).

For a workload of capture.py (same model flags), each mode builds the model afresh and times
`--steps` steps after `--warmup`. Every step records, on the host (perf_counter) and on the GPU
(a CUDA event on the current stream), the moments:
    start, fwd0/fwd1 (the model's forward), bwd0/bwd1 (loss.backward() called / returned),
    opt0/opt1 (optimizer.step()), end (the step returned); then sync (torch.cuda.synchronize()).
A GPU mark later than its host mark means the GPU was behind (GPU-bound there); equal means the
GPU waited for the host. Modes:
    plain     the model as is
    ddp       DistributedDataParallel, NCCL (gloo with --cpu), world size 1, --bucket-mb buckets
    ddp_hook  ddp plus a comm hook that only timestamps each bucket (then runs the default
              all-reduce): when, on the host, each bucket became ready
    busy      plain, but each step starts behind a GPU sleep kernel longer than the step
              (torch.cuda._sleep), so the host never waits for the GPU: its marks are the host's
              own cost; if something synchronizes, that phase takes the sleep's length
--micro adds the per-host costs that a model can use without seeing any step (model-independent):
    ddp_linear  forward and backward host time of a stack of small Linear layers, plain and under
                DDP with one bucket and with one bucket per parameter (per-parameter and
                per-bucket DDP cost on this host)
    allreduce   host time per call of a one-rank all_reduce (blocking and async+wait), 4 KiB..64 MiB

Usage (GPU machine):
    python3 validation/capture/host_phases.py --model gpt --out phases.json --micro
    python3 validation/capture/host_phases.py --model mlp --d 64 --batch 8 --cpu --steps 3 --out /tmp/p.json
"""
import argparse
import gc
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture  # noqa: E402  (the workloads, built exactly as the bundles were)
import host_micro  # noqa: E402  (its back-to-back timer)

MARKS = ("start", "fwd0", "fwd1", "bwd0", "bwd1", "opt0", "opt1", "end")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output JSON")
    p.add_argument("--modes", default="plain,ddp,ddp_hook")
    p.add_argument("--busy-ms", type=float, default=150.0, help="busy mode: the GPU sleep before each step")
    p.add_argument("--micro", action="store_true", help="also the model-independent DDP and all_reduce costs")
    p.add_argument("--cpu", action="store_true", help="dry run on the CPU (gloo), to check the script")
    args, rest = p.parse_known_args(argv)
    wargs = capture.parse_args(rest + ["--out", "unused"])
    return args, wargs


class Marks:
    """Host and GPU timestamps of the named moments of one step."""

    def __init__(self, torch, cuda):
        self.torch, self.cuda = torch, cuda
        self.reset()

    def reset(self):
        self.host, self.ev, self.buckets = {}, {}, []

    def mark(self, name):
        if name in self.host:  # a second forward/backward in one step: keep the first call/last return
            if name.endswith("0"):
                return
        self.host[name] = time.perf_counter()
        if self.cuda:
            e = self.torch.cuda.Event(enable_timing=True)
            e.record()
            self.ev[name] = e

    def bucket(self, nbytes):
        self.buckets.append((time.perf_counter(), nbytes))

    def record(self, t_sync):
        t0 = self.host["start"]
        rec = {"host_ms": {k: (v - t0) * 1e3 for k, v in self.host.items()}}
        rec["host_ms"]["sync"] = (t_sync - t0) * 1e3
        if self.cuda:
            e0 = self.ev["start"]
            rec["gpu_ms"] = {k: e0.elapsed_time(e) for k, e in self.ev.items()}
        rec["buckets_host_ms"] = [[(t - t0) * 1e3, n] for t, n in self.buckets]
        return rec


def instrument(torch, marks):
    """Hooks on Tensor.backward and the optimizers' step (the forward is hooked per model)."""
    orig_bwd = torch.Tensor.backward

    def backward(self, *a, **k):
        marks.mark("bwd0")
        r = orig_bwd(self, *a, **k)
        marks.mark("bwd1")
        return r

    torch.Tensor.backward = backward
    for cls in (torch.optim.AdamW, torch.optim.SGD):
        orig = cls.step

        def step(self, *a, _orig=orig, **k):
            marks.mark("opt0")
            r = _orig(self, *a, **k)
            marks.mark("opt1")
            return r

        cls.step = step


def summarize(recs):
    out = {}
    for side in ("host_ms", "gpu_ms"):
        if side not in recs[0]:
            continue
        keys = recs[0][side].keys()
        out[side] = {k: statistics.median(r[side][k] for r in recs if k in r[side]) for k in keys}
    h = out["host_ms"]
    out["phases_host_ms"] = {"before_fwd": h.get("fwd0", 0), "fwd": h.get("fwd1", 0) - h.get("fwd0", 0),
                             "loss": h.get("bwd0", 0) - h.get("fwd1", 0), "bwd": h.get("bwd1", 0) - h.get("bwd0", 0),
                             "opt": h.get("opt1", 0) - h.get("opt0", 0), "end": h["end"], "sync": h["sync"]}
    return out


def run_mode(torch, args, wargs, device, mode, marks):
    def wrap(model):
        net = model
        if mode not in ("plain", "busy"):
            from torch.nn.parallel import DistributedDataParallel as DDP
            net = DDP(model, device_ids=None if args.cpu else [device.index], bucket_cap_mb=wargs.bucket_mb)
            if mode == "ddp_hook":
                from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

                def hook(state, bucket):
                    marks.bucket(bucket.buffer().numel() * bucket.buffer().element_size())
                    return default_hooks.allreduce_hook(None, bucket)

                net.register_comm_hook(None, hook)
        net.register_forward_pre_hook(lambda m, i: marks.mark("fwd0"))
        net.register_forward_hook(lambda m, i, o: marks.mark("fwd1"))
        return net

    w = capture.build_builtin(torch, wargs, device, wrap)
    step = w["step"]
    sync = torch.cuda.synchronize if not args.cpu else (lambda: None)
    for _ in range(wargs.warmup):
        step()
    sync()
    recs, gcs = [], []
    gc_t = {}

    def gc_cb(phase, info):
        if phase == "start":
            gc_t["t"] = time.perf_counter()
        elif "t" in gc_t:
            gcs.append(((time.perf_counter() - gc_t.pop("t")) * 1e3, info.get("generation")))

    gc.callbacks.append(gc_cb)
    busy = (lambda: torch.cuda._sleep(int(args.busy_ms * 1e6 * 2))) if mode == "busy" and not args.cpu else None
    for _ in range(wargs.steps):
        if busy:
            busy()  # ~2 cycles per ns at the H100/H200's clocks: longer than the step
        marks.reset()
        marks.mark("start")
        step()
        marks.mark("end")
        sync()
        recs.append(marks.record(time.perf_counter()))
    gc.callbacks.remove(gc_cb)
    res = summarize(recs)
    if not args.cpu:
        res["sync_check"] = sync_check(torch, step)
    res["steps"] = recs
    res["gc"] = {"collections": len(gcs), "total_ms": sum(g[0] for g in gcs)}
    if not args.cpu:
        res["max_mem_allocated"] = torch.cuda.max_memory_allocated()
    del w, step
    gc.collect()
    if not args.cpu:
        torch.cuda.empty_cache()
    return res


def micro_ddp_linear(torch, args, device):
    """Per-parameter and per-bucket DDP cost on this host: a stack of Linear layers (host-bound).

    Variants run interleaved, 5 rounds of 100 iterations each, so that the host's drift in speed
    (seen: +-20% within a minute on a VM) falls on all of them alike; each figure is the median
    over rounds of the round's median. Buckets: DDP's first bucket holds up to 1 MiB, so with
    4 MiB weights `few` has 2 buckets and a 1-byte cap gives one bucket per parameter."""
    from torch.nn.parallel import DistributedDataParallel as DDP
    sync = torch.cuda.synchronize if not args.cpu else (lambda: None)
    width = 64 if args.cpu else 1024
    out = []
    for layers in (8, 32):
        nets = {}
        for variant in ("plain", "ddp_few_buckets", "ddp_bucket_per_param"):
            torch.manual_seed(0)
            model = torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(layers)]).to(device)
            net = model
            if variant != "plain":
                cap = 1000.0 if variant == "ddp_few_buckets" else 1e-6
                net = DDP(model, device_ids=None if args.cpu else [device.index], bucket_cap_mb=cap)
            nets[variant] = net
        x = torch.randn(8, width, device=device)
        rounds = {v: ([], []) for v in nets}
        for r in range(6):
            for variant, net in nets.items():
                fwd_t, bwd_t = [], []
                for _ in range(100):
                    sync()
                    t0 = time.perf_counter()
                    loss = net(x).sum()
                    t1 = time.perf_counter()
                    loss.backward()
                    t2 = time.perf_counter()
                    fwd_t.append((t1 - t0) * 1e6)
                    bwd_t.append((t2 - t1) * 1e6)
                if r:  # round 0 warms up (DDP rebuilds its buckets after the first iteration)
                    rounds[variant][0].append(statistics.median(fwd_t))
                    rounds[variant][1].append(statistics.median(bwd_t))
        for variant in nets:
            f, b = rounds[variant]
            out.append({"layers": layers, "params": 2 * layers, "variant": variant,
                        "buckets": {"plain": 0, "ddp_few_buckets": 2, "ddp_bucket_per_param": 2 * layers}[variant],
                        "fwd_us": statistics.median(f), "bwd_us": statistics.median(b), "bwd_rounds_us": b})
        del nets
    return out


def sync_check(torch, step):
    """Does one step synchronize the host with the GPU anywhere? (CUDA sync debug mode warnings)"""
    import warnings
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            step()
            torch.cuda.synchronize()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    msgs = [str(x.message).splitlines()[0] for x in w]
    return {"warnings": len(msgs), "first": sorted(set(msgs))[:8]}


def micro_allreduce(torch, args, device):
    dist = torch.distributed
    sync = torch.cuda.synchronize if not args.cpu else (lambda: None)
    out = []
    for nbytes in (4 << 10, 1 << 20, 25 << 20, 64 << 20):
        t = torch.zeros(nbytes // 4, device=device)
        blocking = host_micro.host_us(torch, lambda: dist.all_reduce(t), 100, sync)["median_us"]
        asyncw = host_micro.host_us(torch, lambda: dist.all_reduce(t, async_op=True).wait(), 100, sync)["median_us"]
        out.append({"bytes": nbytes, "blocking_us": blocking, "async_wait_us": asyncw})
        del t
    return out


def main(argv=None):
    args, wargs = parse_args(argv)
    import torch
    cuda = not args.cpu
    if cuda and not torch.cuda.is_available():
        sys.exit("host_phases: no CUDA device (use --cpu for a dry run)")
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(0)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    torch.distributed.init_process_group("gloo" if args.cpu else "nccl", rank=0, world_size=1)
    marks = Marks(torch, cuda)
    instrument(torch, marks)
    out = {"workload": {k: v for k, v in vars(wargs).items() if k != "out"}, "modes": {},
           "env": {"torch": torch.__version__, "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                   "nproc": os.cpu_count()}}
    for mode in args.modes.split(","):
        torch.manual_seed(wargs.seed)
        res = run_mode(torch, args, wargs, device, mode, marks)
        out["modes"][mode] = res
        ph = res["phases_host_ms"]
        gpu_end = res.get("gpu_ms", {}).get("end", float("nan"))
        if "sync_check" in res:
            print("             sync_check: %s" % json.dumps(res["sync_check"]))
        print("host_phases: %-8s host: fwd %.2f loss %.2f bwd %.2f opt %.2f end %.2f sync %.2f ms | gpu end %.2f ms "
              "| gc %d (%.2f ms)" % (mode, ph["fwd"], ph["loss"], ph["bwd"], ph["opt"], ph["end"], ph["sync"], gpu_end,
                                      res["gc"]["collections"], res["gc"]["total_ms"]), flush=True)
        if "gpu_ms" in res:
            print("             gpu marks: " + " ".join("%s %.2f" % (k, v) for k, v in res["gpu_ms"].items()))
            print("             host marks: " + " ".join("%s %.2f" % (k, v) for k, v in res["host_ms"].items()))
    if args.micro:
        out["ddp_linear"] = micro_ddp_linear(torch, args, device)
        for r in out["ddp_linear"]:
            print("host_phases: ddp_linear %(layers)3d layers %(params)3d params %(buckets)3d buckets %(variant)-21s fwd %(fwd_us)7.1f us "
                  "bwd %(bwd_us)7.1f us" % r)
        out["allreduce"] = micro_allreduce(torch, args, device)
        for r in out["allreduce"]:
            print("host_phases: all_reduce %(bytes)9d B blocking %(blocking_us)7.1f us async+wait %(async_wait_us)7.1f us"
                  % r)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    torch.distributed.destroy_process_group()
    print("host_phases: wrote " + args.out)


if __name__ == "__main__":
    main()
