"""Records every aten op a fake-tensor run issues (a TorchDispatchMode above FakeTensorMode) and
applies CUDA autocast at the torch-function level (a TorchFunctionMode), because the fake
tensors live on the CPU (PyTorch built without CUDA cannot run autograd on tensors that claim a
CUDA device).  Data-dependent calls (.item(), bool(tensor)) return a documented placeholder."""
import threading
import weakref

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from . import state

# ---------------------------------------------------------------- tensor metadata

_DTYPE_NAME = {
    torch.float32: "float", torch.float64: "double", torch.float16: "c10::Half",
    torch.bfloat16: "c10::BFloat16", torch.int64: "long int", torch.int32: "int",
    torch.int16: "short int", torch.int8: "signed char", torch.uint8: "unsigned char",
    torch.bool: "bool", torch.complex64: "c10::complex<float>",
}
# Tensor and storage ids are counters, never addresses, so the written trace and the tensor
# lifetimes are the same from run to run. A storage is known by its StorageImpl's address only
# while a tensor seen on it lives: when the last one dies the address is forgotten, and a new
# storage that the allocator places at the same address gets a new id (not the old one's lifetime).
_storage_ids = {}  # StorageImpl address -> [storage id, live tensors seen on it]
_tensor_ids = {}   # id(tensor) -> tensor id, while the tensor lives
_next_storage = [1]
_next_tensor = [1]


def dtype_name(dt):
    return _DTYPE_NAME.get(dt, str(dt).replace("torch.", ""))


def _forget_tensor(tkey, skey):
    _tensor_ids.pop(tkey, None)
    entry = _storage_ids.get(skey)
    if entry is not None:
        entry[1] -= 1
        if entry[1] <= 0:
            del _storage_ids[skey]


def _storage_entry(skey):
    entry = _storage_ids.get(skey)
    if entry is None:
        entry = _storage_ids[skey] = [_next_storage[0], 0]
        _next_storage[0] += 1
    return entry


def _ids(t):
    """(tensor id, storage id) of t, deterministic."""
    tkey = id(t)
    try:
        skey = t.untyped_storage()._cdata
    except Exception:  # noqa: BLE001 - undefined storage (sparse, nested): one id per tensor
        skey = ("t", tkey)
    entry = _storage_entry(skey)
    tid = _tensor_ids.get(tkey)
    if tid is None:
        tid = _tensor_ids[tkey] = _next_tensor[0]
        _next_tensor[0] += 1
        entry[1] += 1
        try:
            weakref.finalize(t, _forget_tensor, tkey, skey)
        except TypeError:  # no weak references: its address is never forgotten
            pass
    return tid, entry[0]


def tensor_meta(t):
    # Sizes are plain ints here (no symbolic shapes in the emulator).
    tid, sid = _ids(t)
    return {"t": 1, "shape": list(t.shape), "strides": list(t.stride()), "dtype": dtype_name(t.dtype),
            "esize": t.element_size(), "numel": t.numel(), "sid": sid, "tid": tid,
            "off": t.storage_offset()}


def arg_meta(a):
    if isinstance(a, torch.Tensor):
        return tensor_meta(a)
    if isinstance(a, (list, tuple)):
        if any(isinstance(x, torch.Tensor) for x in a):
            return {"list": [arg_meta(x) for x in a]}
        if all(isinstance(x, (int, float, bool)) or x is None for x in a):
            return {"v": list(a), "type": "GenericList[Int]" if all(isinstance(x, int) for x in a) else "GenericList"}
        return {"v": str(a), "type": "GenericList"}
    if isinstance(a, bool):
        return {"v": a, "type": "Bool"}
    if isinstance(a, int):
        return {"v": a, "type": "Int"}
    if isinstance(a, float):
        return {"v": a, "type": "Double"}
    if a is None:
        return {"v": None, "type": "None"}
    if isinstance(a, torch.dtype):
        return {"v": dtype_name(a), "type": "ScalarType"}
    if isinstance(a, torch.device):
        return {"v": "cuda:%d" % state.REC.rank if a.type in ("cuda", "cpu") else str(a), "type": "Device"}
    return {"v": str(a), "type": type(a).__name__}


def schema_args(func, args, kwargs):
    """Positional + keyword arguments in schema order (ET inputs are positional)."""
    out = list(args)
    try:
        for arg in func._schema.arguments[len(args):]:
            if arg.name in kwargs:
                out.append(kwargs[arg.name])
            elif arg.kwarg_only:
                continue
            else:
                out.append(arg.default_value if arg.has_default_value() else None)
    except Exception:  # noqa: BLE001 - a schema we cannot walk: keyword values as they are
        out += list(kwargs.values())
    return out


def _flat_tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        r = []
        for e in x:
            r += _flat_tensors(e)
        return r
    return []


# ---------------------------------------------------------------- the op recorder

_CUDA = ("cuda",)


def _to_cpu_device(v):
    if isinstance(v, torch.device) and v.type in _CUDA:
        return torch.device("cpu")
    if isinstance(v, str) and v.startswith("cuda"):
        return torch.device("cpu")
    return v


class OpRecorder(TorchDispatchMode):
    """Every aten op below autograd and autocast, in issue order, with its inputs and outputs."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        rec = state.REC
        name = func._schema.name
        if name in ("aten::_local_scalar_dense", "aten::is_nonzero", "aten::equal"):
            return placeholder(func, args)
        if "device" in kwargs:
            kwargs["device"] = _to_cpu_device(kwargs["device"])
        if kwargs.get("pin_memory"):
            kwargs["pin_memory"] = False
        try:
            if name.startswith("aten::_foreach_"):
                out = _foreach(func, args)   # no meta kernels for multi-tensor ops on 1.13
            elif name == "aten::convolution_backward":
                out = _convolution_backward(args)  # 1.13's fake kernel takes the overrideable path
            else:
                out = func(*args, **kwargs)
        except state.StopEmulation:
            raise
        except Exception as e:  # noqa: BLE001 - the fake kernel of this op failed
            if isinstance(e, state.EmulationError):
                raise
            msg = str(e).splitlines()[0] if str(e) else ""
            raise state.EmulationError("%s: %s cannot run on fake tensors (%s: %s)" % (
                rec.user_line(), name, type(e).__name__, msg[:160] + ("..." if len(msg) > 160 else ""))) from None
        if rec.suspend:
            return out
        if _in_backward[0] and name == "aten::add" and _same_layout(args):
            name = "aten::add_"  # the autograd engine accumulates a second gradient in place
        rec.add({"k": "op", "name": name, "overload": func._overloadname,
                 "inputs": [arg_meta(a) for a in schema_args(func, args, kwargs)],
                 "outputs": ([arg_meta(args[0])] if out is None and name.startswith("aten::_foreach_") else
                             [arg_meta(o) for o in (out if isinstance(out, (list, tuple)) else [out])]),
                 "bwd": threading.current_thread() is not threading.main_thread() or _in_backward[0] > 0})
        return out


_in_backward = [0]


def _same_layout(args):
    ts = [a for a in args[:2] if isinstance(a, torch.Tensor)]
    return len(ts) == 2 and ts[0].shape == ts[1].shape and ts[0].dtype == ts[1].dtype


def install_backward_flag():
    """Marks ops issued inside torch.autograd.backward (the engine's own accumulation)."""
    orig = torch.autograd.backward

    def backward(*a, **k):
        _in_backward[0] += 1
        try:
            return orig(*a, **k)
        finally:
            _in_backward[0] -= 1
    torch.autograd.backward = backward


def _foreach(func, args):
    """Shapes of a multi-tensor op: in place (name ends in _) returns nothing, else one new
    tensor per element of the first list."""
    if func._schema.name.endswith("_"):
        return None
    return [torch.empty_like(t) for t in args[0]]


def _convolution_backward(args):
    """Shapes of convolution_backward(grad_output, input, weight, bias_sizes, stride, padding,
    dilation, transposed, output_padding, groups, output_mask): the input's and the weight's
    gradients in their layouts, the bias gradient one value per output channel."""
    dy, x, w = args[0], args[1], args[2]
    mask = args[10] if len(args) > 10 else [True, True, True]
    transposed, groups = (args[7], args[9]) if len(args) > 9 else (False, 1)
    channels = w.shape[1] * groups if transposed else w.shape[0]
    return (torch.empty_like(x) if mask[0] else None, torch.empty_like(w) if mask[1] else None,
            dy.new_empty((channels,)) if mask[2] else None)


def placeholder(func, args):
    """Data-dependent value on a fake tensor: documented placeholder (1, 1.0, True) and a note
    naming the script line; --strict-data makes it an error."""
    rec = state.REC
    where = rec.user_line()
    t = args[0] if args else None
    kind = "a tensor's value (.item(), float(), printing or branching on data)"
    if rec.strict_data:
        raise state.EmulationError("%s: the script reads %s; fake tensors have no data "
                                   "(run without --strict-data to use placeholder values)" % (where, kind))
    if getattr(rec, "in_optimizer_step", False):
        pass  # the optimizer's own bookkeeping (1.13's foreach Adam reads its step counts)
    elif len([n for n in rec.notes if n.startswith(where)]) == 0:
        rec.notes.append("%s: reads %s: placeholder value used" % (where, kind))
    if func._schema.name in ("aten::is_nonzero", "aten::equal"):
        return True
    if isinstance(t, torch.Tensor) and (t.dtype.is_floating_point or t.dtype.is_complex):
        return 1.0
    if isinstance(t, torch.Tensor) and t.dtype == torch.bool:
        return True
    return 1


# ---------------------------------------------------------------- CUDA autocast (torch-function level)

# PyTorch's CUDA autocast op lists (aten/src/ATen/autocast_mode.cpp), by Python function name.
LOWER = {"linear", "matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "addmm", "baddbmm", "addbmm", "addmv", "addr",
         "mv", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "prelu",
         "chain_matmul", "matrix_power", "conv_tbc", "scaled_dot_product_attention", "_convolution", "convolution"}
FP32 = {"acos", "asin", "cosh", "erfinv", "exp", "expm1", "log", "log10", "log2", "log1p", "reciprocal", "rsqrt",
        "sinh", "tan", "pow", "softplus", "layer_norm", "group_norm", "norm", "frobenius_norm", "nuclear_norm",
        "cosine_similarity", "poisson_nll_loss", "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss",
        "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss", "margin_ranking_loss",
        "multilabel_margin_loss", "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
        "binary_cross_entropy_with_logits", "dist", "pdist", "cdist", "renorm", "logsumexp", "cross_entropy",
        "softmax", "log_softmax", "cumsum", "cumprod", "prod", "sum"}
FP32_OPT = {"softmax", "log_softmax", "cumsum", "cumprod", "prod", "sum"}  # fp32 unless a dtype is given
PROMOTE = {"addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sampler", "index_put", "scatter_add",
           "tensordot", "cat", "stack"}

_ac = threading.local()


def autocast_state():
    return getattr(_ac, "stack", [])


class Autocast:
    """Stand-in for torch.autocast / torch.cuda.amp.autocast with device_type 'cuda'."""

    def __init__(self, device_type="cuda", dtype=torch.float16, enabled=True, cache_enabled=True):
        self.dtype = dtype if dtype is not None else torch.float16
        self.enabled = enabled
        self.cache = {}

    def __enter__(self):
        if not hasattr(_ac, "stack"):
            _ac.stack = []
        _ac.stack.append(self)
        return self

    def __exit__(self, *exc):
        _ac.stack.pop()
        self.cache.clear()
        return False

    def __call__(self, fn):
        def wrapped(*a, **k):
            with Autocast(dtype=self.dtype, enabled=self.enabled):
                return fn(*a, **k)
        return wrapped


def _active():
    st = autocast_state()
    return st[-1] if st and st[-1].enabled else None


class AutocastMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        ac = _active()
        name = getattr(func, "__name__", "")
        if ac is None or not name or (name not in LOWER and name not in FP32 and name not in PROMOTE):
            return func(*args, **kwargs)
        if name in LOWER:
            args, kwargs = _cast_all(args, kwargs, ac.dtype, ac)
        elif name in FP32:
            if name in FP32_OPT and kwargs.get("dtype") is not None:
                return func(*args, **kwargs)
            args, kwargs = _cast_all(args, kwargs, torch.float32, ac, only_from=(torch.float16, torch.bfloat16))
        else:
            ts = [t for t in _flat_tensors(list(args) + list(kwargs.values())) if t.is_floating_point()]
            if ts:
                widest = torch.float32 if any(t.dtype == torch.float32 for t in ts) else ts[0].dtype
                args, kwargs = _cast_all(args, kwargs, widest, ac)
        with _disabled():
            return func(*args, **kwargs)


class _disabled:
    def __enter__(self):
        _ac.saved = getattr(_ac, "stack", [])
        _ac.stack = []

    def __exit__(self, *e):
        _ac.stack = _ac.saved
        return False


def _cast(t, dtype, ac, only_from=None):
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dtype == dtype or t.dtype == torch.float64:
        return t
    if only_from and t.dtype not in only_from:
        return t
    leaf = t.is_leaf and t.requires_grad  # autocast caches casts of weights within the region
    if leaf and (id(t), dtype) in ac.cache:
        ref, out = ac.cache[(id(t), dtype)]
        if ref() is t:
            return out
    with _disabled():
        out = t.to(dtype)
    if leaf:
        ac.cache[(id(t), dtype)] = (weakref.ref(t), out)
    return out


def _cast_all(args, kwargs, dtype, ac, only_from=None):
    # Last argument first: autocast's C++ wrappers cast a parameter pack, which GCC evaluates
    # right to left (a captured linear casts bias, weight, then input).
    def c(x):
        if isinstance(x, (list, tuple)) and any(isinstance(e, torch.Tensor) for e in x):
            return type(x)(_cast(e, dtype, ac, only_from) for e in x)
        return _cast(x, dtype, ac, only_from)
    kw = {k: c(v) for k, v in reversed(list(kwargs.items()))}
    return tuple(reversed([c(a) for a in reversed(args)])), kw
