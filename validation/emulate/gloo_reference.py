"""Records the collectives and point-to-point ops a script really issues: runs it on N CPU
processes with torch.distributed gloo, logging every call (op, group ranks, elements, peer) per
rank and training step. The log is the reference `orrery emulate` is checked against
(tests/data/emulate/gpt_tp_pp_gloo8.json was made with:
  /usr/bin/python3 validation/emulate/gloo_reference.py examples/emulate/gpt_tp_pp.py 8 \
      tests/data/emulate/gpt_tp_pp_gloo8.json -- --tp 2 --pp 2 --fp32 --steps 2)."""
import json
import os
import runpy
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _ranks(group):
    if group is None or group is dist.group.WORLD:
        return list(range(dist.get_world_size()))
    return sorted(dist.distributed_c10d._pg_group_ranks[group].keys())


def worker(rank, world, script, script_args, port, out):
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(port)})
    log, step = [], [0]

    def wrap(name, fn, tensor_arg, peer_arg=None, group_arg="group"):
        def w(*a, **k):
            import inspect
            b = inspect.signature(fn).bind(*a, **k)
            b.apply_defaults()
            t = b.arguments[tensor_arg]
            log.append({"step": step[0], "op": name, "group": _ranks(b.arguments.get(group_arg)),
                        "nelems": t.numel(), "peer": b.arguments[peer_arg] if peer_arg else None})
            return fn(*a, **k)
        return w
    dist.all_reduce = wrap("all_reduce", dist.all_reduce, "tensor")
    dist.broadcast = wrap("broadcast", dist.broadcast, "tensor")
    dist.send = wrap("send", dist.send, "tensor", "dst")
    dist.recv = wrap("recv", dist.recv, "tensor", "src")
    orig_step = torch.optim.Optimizer.__init__

    def init(self, *a, **k):
        orig_step(self, *a, **k)
        cls_step = type(self).step

        def stepped(*sa, **sk):
            r = cls_step(self, *sa, **sk)
            step[0] += 1
            return r
        self.step = stepped
    torch.optim.Optimizer.__init__ = init
    sys.argv = [script] + script_args
    runpy.run_path(script, run_name="__main__")
    with open("%s.%d" % (out, rank), "w") as f:
        json.dump(log, f)


def main():
    argv = sys.argv[1:]
    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    script, world, out = argv[0], int(argv[1]), argv[2]
    mp.spawn(worker, args=(world, os.path.abspath(script), script_args, 29617, out), nprocs=world, join=True)
    ranks = {}
    for r in range(world):
        with open("%s.%d" % (out, r)) as f:
            ranks[str(r)] = json.load(f)
        os.remove("%s.%d" % (out, r))
    last = max(e["step"] for r in ranks.values() for e in r) + 1  # steps completed
    doc = {"source": "torch.distributed gloo, %d CPU processes, torch %s" % (world, torch.__version__),
           "script": os.path.relpath(script), "args": script_args, "world_size": world,
           "step": last - 1, "ranks": {r: [e for e in log if e["step"] == last - 1] for r, log in ranks.items()}}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
