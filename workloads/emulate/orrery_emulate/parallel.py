"""DistributedDataParallel and FullyShardedDataParallel stand-ins that issue the collectives the
real wrappers issue, in their order, on fake tensors.

DDP (torch/nn/parallel/distributed.py + reducer.cpp): gradients are bucketed in the order they
become ready (buckets rebuilt after the first iteration, `bucket_cap_mb` each, 25 MB default);
each ready gradient is scaled by 1/world into its bucket (reducer::mul_out), a full bucket is
all-reduced on the NCCL stream, and at the end of backward the buckets are copied back into the
gradients and the compute stream waits for the last all-reduce.

FSDP (documented approximation, FULL_SHARD): one flat parameter per wrapped module; before the
module's forward and again before its backward, an all-gather of the flat parameter; after its
backward, a reduce-scatter of its gradient.  1.13's own FSDP refuses fake tensors, so the
wrapper is replaced; the compute is the unsharded module's."""
import torch
import torch.nn as nn

from . import fakecuda, fakedist, record, state

_FIRST_BUCKET = 1 << 20


def _buckets(params, caps):
    out, cur, size, k = [], [], 0, 0
    for p in params:
        cur.append(p)
        size += p.numel() * p.element_size()
        if size >= caps[min(k, len(caps) - 1)]:
            out.append(cur)
            cur, size, k = [], 0, k + 1
    if cur:
        out.append(cur)
    return out


class DistributedDataParallel(nn.Module):
    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kw):
        super().__init__()
        self.module = module
        self.group = fakedist._group(process_group)
        self.cap = int((bucket_cap_mb or 25) * 1024 * 1024)
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.buckets = _buckets(list(reversed(self.params)), [_FIRST_BUCKET, self.cap])
        self.ready_order = []
        self.pending = {}
        self.work = []
        self.as_view = gradient_as_bucket_view
        # Parameters and buffers are broadcast from rank 0 at construction (outside any step).
        for p in list(module.parameters()) + list(module.buffers()):
            fakedist.broadcast(p.detach(), 0, process_group)
        for p in self.params:
            p.register_hook(self._make_hook(p))

    def forward(self, *a, **k):
        self._start_iteration()
        with fakecuda.region("DistributedDataParallel.forward"):
            return self.module(*a, **k)

    def _start_iteration(self):
        if self.ready_order and len(self.ready_order) == len(self.params):
            self.buckets = _buckets(self.ready_order, [self.cap])  # rebuilt in readiness order
        self.ready_order = []
        self.pending = {id(b[0]): len(b) for b in self.buckets}
        self.bucket_of = {id(p): b for b in self.buckets for p in b}
        self.flat = {}
        self.work = []

    def _make_hook(self, p):
        def hook(grad):
            if not torch.is_grad_enabled() and False:
                return grad
            self._ready(p, grad)
            return grad
        return hook

    def _ready(self, p, grad):
        if not hasattr(self, "bucket_of"):
            self._start_iteration()
        self.ready_order.append(p)
        b = self.bucket_of[id(p)]
        key = id(b[0])
        if key not in self.flat:
            rec = state.REC
            rec.suspend += 1
            self.flat[key] = torch.empty(sum(q.numel() for q in b), dtype=grad.dtype)
            rec.suspend -= 1
        with fakecuda.region("torch::distributed::reducer::mul_out"):
            view = self.flat[key][:0]
            rec = state.REC
            rec.suspend += 1
            view = torch.empty_like(grad)
            rec.suspend -= 1
            torch.mul(grad, 1.0 / self.group.size(), out=view)
        self.pending[key] -= 1
        if self.pending[key] == 0:
            with fakecuda.region("c10d::allreduce_"):
                w = fakedist.all_reduce(self.flat[key], group=self.group if self.group is not fakedist.world() else None,
                                        async_op=True)
            self.work.append((w, b))
            if all(v == 0 for v in self.pending.values()):
                self._finalize()

    def _finalize(self):
        # The reducer waits for every bucket and copies the averaged bucket back into the grads.
        for w, b in self.work:
            if w is not None:
                w.wait()
            for q in b:
                if q.grad is not None and not self.as_view:
                    q.grad.copy_(q.grad)
        self.work = []

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["module"], name)

    def no_sync(self):
        import contextlib
        return contextlib.nullcontext()


class FullyShardedDataParallel(nn.Module):
    def __init__(self, module, process_group=None, sharding_strategy=None, auto_wrap_policy=None,
                 mixed_precision=None, device_id=None, use_orig_params=False, **kw):
        super().__init__()
        self.module = module
        self.group = fakedist._group(process_group)
        self.units = []
        if auto_wrap_policy is not None:
            for m in module.modules():
                if m is not module and _wants_wrap(auto_wrap_policy, m):
                    self._wrap(m)
        self._wrap(module, root=True)

    def _wrap(self, m, root=False):
        owned = [p for p in m.parameters() if p.requires_grad and not getattr(p, "_orrery_fsdp", False)]
        if not owned:
            return
        for p in owned:
            p._orrery_fsdp = True
        n = sum(p.numel() for p in owned)
        world = self.group.size()
        shard = (n + world - 1) // world
        dt = owned[0].dtype
        rec = state.REC
        rec.suspend += 1
        flat, part = torch.empty(shard * world, dtype=dt), torch.empty(shard, dtype=dt)
        rec.suspend -= 1
        grp = None if self.group is fakedist.world() else self.group

        def gather(*_):
            with fakecuda.region("FullyShardedDataParallel._pre_forward_unshard"):
                fakedist.all_gather_into_tensor(flat, part, group=grp)

        def pre_backward(*_):
            with fakecuda.region("FullyShardedDataParallel._pre_backward_unshard"):
                fakedist.all_gather_into_tensor(flat, part, group=grp)

        def post_backward(*_):
            with fakecuda.region("FullyShardedDataParallel._post_backward_reduce"):
                fakedist.reduce_scatter_tensor(part, flat, group=grp)

        m.register_forward_pre_hook(gather)
        counter = {"n": 0}

        def grad_hook(g):
            counter["n"] += 1
            if counter["n"] == 1:
                pre_backward()
            if counter["n"] == len(owned):
                counter["n"] = 0
                post_backward()
            return g
        for p in owned:
            p.register_hook(grad_hook)
        self.units.append(m)

    def forward(self, *a, **k):
        return self.module(*a, **k)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["module"], name)


def _wants_wrap(policy, m):
    try:
        return bool(policy(module=m, recurse=False, nonwrapped_numel=sum(p.numel() for p in m.parameters(recurse=False))))
    except TypeError:
        return bool(policy(m, False, sum(p.numel() for p in m.parameters(recurse=False))))


def transformer_auto_wrap_policy(module, recurse, nonwrapped_numel, transformer_layer_cls=()):
    return recurse or isinstance(module, tuple(transformer_layer_cls))


def size_based_auto_wrap_policy(module, recurse, nonwrapped_numel, min_num_params=int(1e8), **kw):
    return recurse or nonwrapped_numel >= min_num_params


class ModuleWrapPolicy:
    def __init__(self, module_classes):
        self.classes = tuple(module_classes)

    def __call__(self, module, recurse, nonwrapped_numel):
        return recurse or isinstance(module, self.classes)


def _fsdp_modules():
    """torch.distributed.fsdp stand-in modules: 1.13's own does not import on Python 3.11 and
    refuses fake tensors; scripts import FSDP, its enums, MixedPrecision and wrap policies."""
    import enum
    import sys
    import types

    fsdp = types.ModuleType("torch.distributed.fsdp")
    wrap = types.ModuleType("torch.distributed.fsdp.wrap")
    fsdp.FullyShardedDataParallel = FullyShardedDataParallel
    fsdp.ShardingStrategy = enum.Enum("ShardingStrategy", "FULL_SHARD SHARD_GRAD_OP NO_SHARD HYBRID_SHARD")
    fsdp.BackwardPrefetch = enum.Enum("BackwardPrefetch", "BACKWARD_PRE BACKWARD_POST")
    fsdp.CPUOffload = lambda *a, **k: None
    fsdp.StateDictType = enum.Enum("StateDictType", "FULL_STATE_DICT LOCAL_STATE_DICT SHARDED_STATE_DICT")

    class MixedPrecision:
        def __init__(self, param_dtype=None, reduce_dtype=None, buffer_dtype=None, **kw):
            self.param_dtype, self.reduce_dtype, self.buffer_dtype = param_dtype, reduce_dtype, buffer_dtype
    fsdp.MixedPrecision = MixedPrecision
    wrap.transformer_auto_wrap_policy = transformer_auto_wrap_policy
    wrap.size_based_auto_wrap_policy = size_based_auto_wrap_policy
    wrap.ModuleWrapPolicy = ModuleWrapPolicy
    fsdp.wrap = wrap
    sys.modules["torch.distributed.fsdp"] = fsdp
    sys.modules["torch.distributed.fsdp.wrap"] = wrap
    torch.distributed.fsdp = fsdp


def install():
    import torch.nn.parallel as par
    par.DistributedDataParallel = DistributedDataParallel
    torch.nn.parallel.distributed.DistributedDataParallel = DistributedDataParallel
    _fsdp_modules()
