"""Stand-ins installed before the user's script runs: torch.cuda (devices, streams, events,
synchronize; recorded), Tensor.to/.cuda (the fake tensors stay on the CPU), torch.autocast,
step marks (optimizer.step(), torch.profiler step()), and the PyTorch 2.x calls a 1.13 install
lacks: F.scaled_dot_product_attention, AdamW/Adam(fused=True), torch.compile (runs eager)."""
import contextlib
import functools
import itertools

import torch
import torch.nn.functional as F

from . import record, state

_stream_ids = itertools.count(13)   # side streams get ids after the default stream 7
_event_ids = itertools.count(1)


# ---------------------------------------------------------------- streams and events

class Stream:
    def __init__(self, device=None, priority=0, **kw):
        self.id = next(_stream_ids)
        self.device = torch.device("cuda", state.REC.local_rank)

    def wait_stream(self, other):
        ev = Event()
        ev.record(other)
        self.wait_event(ev)

    def wait_event(self, ev):
        if ev.recorded is not None:
            state.REC.add({"k": "wait", "event": ev.recorded, "stream": self.id})

    def record_event(self, ev=None):
        ev = ev or Event()
        ev.record(self)
        return ev

    def synchronize(self):
        state.REC.add({"k": "sync", "what": "stream", "stream": self.id})

    def query(self):
        return True

    def __eq__(self, o):
        return isinstance(o, Stream) and o.id == self.id

    def __hash__(self):
        return self.id


class Event:
    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self.recorded = None

    def record(self, stream=None):
        stream = stream or current_stream()
        self.recorded = next(_event_ids)
        state.REC.add({"k": "record", "event": self.recorded, "stream": stream.id})

    def wait(self, stream=None):
        (stream or current_stream()).wait_event(self)

    def synchronize(self):
        if self.recorded is not None:
            state.REC.add({"k": "sync", "what": "event", "event": self.recorded})

    def query(self):
        return True

    def elapsed_time(self, other):
        return 0.0


_default = {}


def default_stream(device=None):
    s = _default.get("s")
    if s is None:
        s = _default["s"] = Stream.__new__(Stream)
        s.id = 7
        s.device = torch.device("cuda", state.REC.local_rank)
    return s


_current = []


def current_stream(device=None):
    return _current[-1] if _current else default_stream()


@contextlib.contextmanager
def stream_ctx(s):
    if s is None:
        yield
        return
    _current.append(s)
    state.REC.stream = s.id
    try:
        yield
    finally:
        _current.pop()
        state.REC.stream = current_stream().id


def synchronize(device=None):
    state.REC.add({"k": "sync", "what": "device"})


# ---------------------------------------------------------------- torch.cuda and devices

def _is_cuda(d):
    if isinstance(d, torch.device):
        return d.type == "cuda"
    if isinstance(d, str):
        return d.startswith("cuda")
    return False


def _strip_cuda(args, kwargs):
    args = tuple(torch.device("cpu") if _is_cuda(a) else a for a in args)
    if _is_cuda(kwargs.get("device")):
        kwargs = dict(kwargs, device=torch.device("cpu"))
    return args, kwargs


def install_cuda(local_rank, devices_per_node):
    c = torch.cuda
    c._lazy_init = lambda: None
    c.is_available = lambda: True
    c.is_initialized = lambda: True
    c.device_count = lambda: devices_per_node
    c.current_device = lambda: local_rank
    c.set_device = lambda d: None
    c.is_bf16_supported = lambda *a, **k: True
    c.get_device_name = lambda d=None: "emulated GPU"
    c.get_device_capability = lambda d=None: (9, 0)
    c.synchronize = synchronize
    c.Stream = Stream
    c.Event = Event
    c.current_stream = current_stream
    c.default_stream = default_stream
    c.stream = stream_ctx
    c.set_stream = lambda s: (_current.append(s), setattr(state.REC, "stream", s.id))
    for name in ("manual_seed", "manual_seed_all", "empty_cache", "reset_peak_memory_stats", "set_per_process_memory_fraction"):
        setattr(c, name, lambda *a, **k: None)
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved"):
        setattr(c, name, lambda *a, **k: 0)
    c.mem_get_info = lambda *a, **k: (80 << 30, 80 << 30)
    c.device = _DeviceCtx
    c.amp.autocast = functools.partial(record.Autocast, "cuda")
    if hasattr(c, "nvtx"):
        c.nvtx.range_push = lambda *a, **k: None
        c.nvtx.range_pop = lambda *a, **k: None

    # Tensors stay fake CPU tensors: .to('cuda') / .cuda() are moves onto "the GPU".
    orig_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        args, kwargs = _strip_cuda(args, kwargs)
        kwargs.pop("non_blocking", None)
        return orig_to(self, *args, **kwargs)

    torch.Tensor.to = to
    torch.Tensor.cuda = lambda self, device=None, non_blocking=False, **k: self
    torch.Tensor.pin_memory = lambda self, *a, **k: self
    torch.Tensor.record_stream = lambda self, s: None
    torch.Tensor.is_pinned = lambda self, *a, **k: False
    orig_mod_to = torch.nn.Module.to

    def mod_to(self, *args, **kwargs):
        args, kwargs = _strip_cuda(args, kwargs)
        kwargs.pop("non_blocking", None)
        return orig_mod_to(self, *args, **kwargs)

    torch.nn.Module.to = mod_to
    torch.nn.Module.cuda = lambda self, device=None: self
    torch.autocast = _autocast
    torch.amp.autocast = _autocast
    if hasattr(torch, "cpu") and hasattr(torch.cpu, "amp"):
        pass
    torch.backends.cuda.matmul.allow_tf32 = False


class _DeviceCtx:
    def __init__(self, d):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *e):
        return False


def _autocast(device_type="cuda", dtype=None, enabled=True, cache_enabled=None):
    if device_type == "cuda":
        return record.Autocast(device_type, dtype if dtype is not None else torch.float16, enabled)
    return contextlib.nullcontext()


# ---------------------------------------------------------------- steps and regions

@contextlib.contextmanager
def region(name):
    rec = state.REC
    rec.scopes.append(name)
    try:
        yield
    finally:
        rec.scopes.pop()


def install_step_marks():
    def wrap_step(cls):
        if "step" not in cls.__dict__ or getattr(cls.step, "_orrery", False):
            return
        orig = cls.step

        @functools.wraps(orig)
        def step(self, *a, **k):
            rec = state.REC
            if getattr(rec, "in_optimizer_step", False):  # a subclass's step calling its base's
                return orig(self, *a, **k)
            rec.in_optimizer_step = True
            try:
                with region("Optimizer.step#%s.step" % type(self).__name__), torch.no_grad():
                    out = orig(self, *a, **k)
            finally:
                rec.in_optimizer_step = False
            rec.mark_step("optimizer")
            return out
        step._orrery = True
        cls.step = step

    def wrap_zero(cls):
        if "zero_grad" not in cls.__dict__ or getattr(cls.zero_grad, "_orrery", False):
            return
        orig = cls.zero_grad

        @functools.wraps(orig)
        def zero_grad(self, *a, **k):
            with region("Optimizer.zero_grad#%s.zero_grad" % type(self).__name__):
                return orig(self, *a, **k)
        zero_grad._orrery = True
        cls.zero_grad = zero_grad

    def walk(cls):
        for sub in cls.__subclasses__():
            wrap_step(sub)
            wrap_zero(sub)
            walk(sub)
    wrap_zero(torch.optim.Optimizer)
    walk(torch.optim.Optimizer)
    # Optimizers defined later by the script are wrapped when constructed.
    orig_init = torch.optim.Optimizer.__init__

    def init(self, *a, **k):
        orig_init(self, *a, **k)
        for c in type(self).__mro__:
            if c is not torch.optim.Optimizer and issubclass(c, torch.optim.Optimizer):
                wrap_step(c)
                wrap_zero(c)
    torch.optim.Optimizer.__init__ = init


class _Profiler:
    """torch.profiler.profile stand-in: its step() marks a training step."""

    def __init__(self, *a, **k):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *e):
        return False

    def start(self):
        pass

    def stop(self):
        pass

    def step(self):
        state.REC.mark_step("profiler")

    def export_chrome_trace(self, *a, **k):
        pass

    def key_averages(self, *a, **k):
        return []


def install_profiler():
    import torch.profiler as tp
    tp.profile = _Profiler
    tp.record_function = _record_function
    torch.autograd.profiler.record_function = _record_function
    torch.autograd.profiler.profile = _Profiler


class _record_function(contextlib.ContextDecorator):
    def __init__(self, name, args=None):
        self.name = name

    def __enter__(self):
        state.REC.scopes.append(self.name)
        return self

    def __exit__(self, *e):
        state.REC.scopes.pop()
        return False


# ---------------------------------------------------------------- PyTorch 2.x stand-ins

def synthetic_op(name, inputs, outputs, **extra):
    """Records one op that the emulator computes itself (shapes only)."""
    ev = {"k": "op", "name": name, "overload": "", "inputs": [record.arg_meta(a) for a in inputs],
          "outputs": [record.arg_meta(o) for o in outputs], "bwd": False}
    ev.update(extra)
    return state.REC.add(ev)


class _Sdpa(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, scale, dropout_p):
        rec = state.REC
        rec.suspend += 1
        try:
            b, h, sq, d = q.shape  # cuDNN writes the output as [b, s, h, d]
            out = q.new_empty((b, sq, h, v.shape[-1])).transpose(1, 2)
            lse = q.new_empty((b, h, sq, 1), dtype=torch.float32)
        finally:
            rec.suspend -= 1
        seq = q.shape[-2]
        synthetic_op("aten::_cudnn_attention_forward",
                     [q, k, v, None, None, None, seq, k.shape[-2], True, float(dropout_p), bool(causal), False, scale],
                     [out, lse])
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.scale, ctx.dropout_p = causal, scale, dropout_p
        return out

    @staticmethod
    def backward(ctx, gout):
        q, k, v, out, lse = ctx.saved_tensors
        rec = state.REC
        rec.suspend += 1
        try:
            gq, gk, gv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        finally:
            rec.suspend -= 1
        synthetic_op("aten::_cudnn_attention_backward",
                     [gout.contiguous() if False else gout, q, k, v, out, lse, None, None, None, None,
                      q.shape[-2], k.shape[-2], float(ctx.dropout_p), bool(ctx.causal), ctx.scale],
                     [gq, gk, gv])
        return gq, gk, gv, None, None, None


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Recorded as the fused attention kernel PyTorch 2.x runs on an H100 (cuDNN SDPA)."""
    if attn_mask is not None:
        # A masked SDPA runs the memory-efficient kernel; recorded with the same cost model.
        is_causal = False
    if scale is None:
        scale = 1.0 / (query.shape[-1] ** 0.5)
    ac = record._active()
    if ac is not None:
        query, key, value = (record._cast(t, ac.dtype, ac) for t in (query, key, value))
    with record._disabled():
        return _Sdpa.apply(query, key, value, bool(is_causal), float(scale), float(dropout_p))


def _compile(model=None, *a, **k):
    if model is None:
        return lambda m: m
    return model


def install_2x():
    F.scaled_dot_product_attention = scaled_dot_product_attention
    torch.compile = _compile
    if not hasattr(torch, "_dynamo"):
        pass
    from . import optim
    optim.install()
