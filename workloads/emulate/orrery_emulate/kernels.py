"""Which GPU activities an aten op launches on a CUDA build of PyTorch 2.x (H100 class), decided
from its name, dtypes, shapes and strides: the kernels the replay costs in roofline mode.

Rules follow PyTorch's own dispatch (not fitted to any capture):
- view/metadata ops and empty tensors launch nothing;
- GEMMs (mm, addmm, bmm, baddbmm) launch one cuBLAS kernel;
- elementwise ops go through TensorIterator: all operands one shape and one dense layout and one
  dtype -> vectorized_elementwise_kernel; mixed dtypes -> unrolled_elementwise_kernel (the cast
  fp32 -> 16-bit of a copy stays vectorized); broadcasting or differing strides -> the generic
  strided elementwise_kernel;
- a same-dtype copy between two dense tensors of one layout is a cudaMemcpy DtoD;
- reductions one reduce_kernel; norms, softmax, losses, gather, cat, embedding backward the
  kernels of their CUDA implementations;
- multi-tensor ops (_foreach_*, _fused_adam[w]_) launch one kernel per multi_tensor_apply chunk
  (kChunkSize 65536 elements, depth-dependent tensor and block limits of MultiTensorApply.cuh);
- fused attention: cuDNN's SDPA kernels (forward: memset + fprop; backward: memset + dO.O
  rowsum + bprop + dQ conversion, + 2 head reductions for grouped-query attention)."""

NONE = {
    "aten::view", "aten::_unsafe_view", "aten::reshape", "aten::_reshape_alias", "aten::t", "aten::transpose",
    "aten::permute", "aten::expand", "aten::as_strided", "aten::slice", "aten::select", "aten::unsqueeze",
    "aten::squeeze", "aten::detach", "aten::alias", "aten::empty", "aten::empty_strided", "aten::empty_like",
    "aten::split", "aten::split_with_sizes", "aten::chunk", "aten::unbind", "aten::view_as", "aten::resize_",
    "aten::set_", "aten::lift_fresh", "aten::lift", "aten::_to_copy_noop", "aten::unfold", "aten::flatten",
    "aten::narrow", "aten::numpy_T", "aten::new_empty", "aten::new_empty_strided", "aten::diagonal",
    "aten::_has_compatible_shallow_copy_type", "aten::is_same_size", "aten::result_type", "aten::unflatten",
    "aten::expand_as", "aten::broadcast_tensors", "aten::movedim", "aten::swapaxes", "aten::_local_scalar_dense",
    "aten::item", "aten::size", "aten::stride", "aten::lift_fresh_copy_view",
}
GEMM = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::mv", "aten::addmv", "aten::dot"}
FILL = {"aten::zeros", "aten::ones", "aten::full", "aten::zeros_like", "aten::ones_like", "aten::full_like",
        "aten::fill_", "aten::zero_", "aten::new_zeros", "aten::new_ones", "aten::new_full", "aten::scalar_tensor",
        "aten::arange", "aten::linspace", "aten::normal_", "aten::uniform_", "aten::randn", "aten::rand",
        "aten::randint", "aten::bernoulli_", "aten::randn_like", "aten::rand_like", "aten::random_"}
REDUCE = {"aten::sum", "aten::mean", "aten::amax", "aten::amin", "aten::max", "aten::min", "aten::argmax",
          "aten::argmin", "aten::norm", "aten::linalg_vector_norm", "aten::prod", "aten::var", "aten::std",
          "aten::var_mean", "aten::std_mean", "aten::all", "aten::any", "aten::logsumexp", "aten::cumsum"}
NAMED = {  # op -> kernels of its CUDA implementation
    "aten::native_layer_norm": ["void at::native::(anonymous namespace)::vectorized_layer_norm_kernel"],
    "aten::native_layer_norm_backward": ["void at::native::(anonymous namespace)::layer_norm_grad_input_kernel_vectorized",
                                         "void at::native::(anonymous namespace)::GammaBetaBackwardCUDAKernel"],
    "aten::_log_softmax": ["void at::native::(anonymous namespace)::cunn_SoftMaxForward<LogSoftMaxForwardEpilogue>"],
    "aten::_log_softmax_backward_data": ["void at::native::(anonymous namespace)::cunn_SoftMaxBackward<LogSoftMaxBackwardEpilogue>"],
    "aten::_softmax": ["void at::native::(anonymous namespace)::cunn_SoftMaxForward<SoftMaxForwardEpilogue>"],
    "aten::_softmax_backward_data": ["void at::native::(anonymous namespace)::cunn_SoftMaxBackward<SoftMaxBackwardEpilogue>"],
    "aten::nll_loss_forward": ["void at::native::(anonymous namespace)::nll_loss_forward_reduce_cuda_kernel_2d"],
    "aten::nll_loss_backward": ["void at::native::(anonymous namespace)::nll_loss_backward_reduce_cuda_kernel_2d"],
    "aten::embedding": ["void at::native::vectorized_gather_kernel<16, long>"],
    "aten::index_select": ["void at::native::(anonymous namespace)::indexSelectLargeIndex"],
    "aten::gather": ["void at::native::vectorized_gather_kernel<16, long>"],
    "aten::native_dropout": ["void at::native::(anonymous namespace)::fused_dropout_kernel_vec"],
    "aten::native_dropout_backward": ["void at::native::vectorized_elementwise_kernel<masked_scale>"],
    "aten::mse_loss": ["void at::native::vectorized_elementwise_kernel<mse>", "void at::native::reduce_kernel<mean>"],
    "aten::mse_loss_backward": ["void at::native::vectorized_elementwise_kernel<mse_backward>"],
    "aten::native_group_norm": ["void at::native::RowwiseMomentsCUDAKernel", "void at::native::ComputeFusedParamsCUDAKernel",
                                "void at::native::elementwise_kernel<group_norm>"],
    # cuDNN implicit-GEMM convolutions (the fake tensors see aten::convolution; CUDA runs cudnn_convolution)
    "aten::convolution": ["sm90_xmma_fprop_implicit_gemm (emulated cuDNN)"],
    "aten::cudnn_convolution": ["sm90_xmma_fprop_implicit_gemm (emulated cuDNN)"],
    "aten::convolution_backward": ["sm90_xmma_dgrad_implicit_gemm (emulated cuDNN)",
                                   "sm90_xmma_wgrad_implicit_gemm (emulated cuDNN)"],
    "aten::_cudnn_attention_forward": [("memset", 0), "cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16 (emulated)"],
}
# embedding_dense_backward_cuda: sort the indices (cub radix sort: histogram, exclusive sum,
# one-sweep passes), unique-by-key and scans for the segments, then the per-segment partial sums.
EMB_BWD = [("memset", 0)] * 5 + [
    "void at_cuda_detail::cub::detail::radix_sort::DeviceRadixSortHistogramKernel",
    "void at_cuda_detail::cub::detail::radix_sort::DeviceRadixSortExclusiveSumKernel",
    "void at_cuda_detail::cub::detail::radix_sort::DeviceRadixSortOnesweepKernel",
    "void at_cuda_detail::cub::detail::radix_sort::DeviceRadixSortOnesweepKernel",
    "void at_cuda_detail::cub::detail::scan::DeviceScanInitKernel",
    "void at_cuda_detail::cub::detail::scan::DeviceScanKernel",
    "void at_cuda_detail::cub::detail::unique_by_key::DeviceUniqueByKeySweepKernel",
    "void at::native::(anonymous namespace)::krn_partials_per_segment",
    "void at::native::(anonymous namespace)::compute_grad_weight",
    "void at::native::(anonymous namespace)::sum_and_scatter"]
EMB_FEATURE = "void at::native::(anonymous namespace)::embedding_backward_feature_kernel<emulated>"
VEC = "void at::native::vectorized_elementwise_kernel<4, emulated>"
UNROLLED = "void at::native::unrolled_elementwise_kernel<emulated>"
STRIDED = "void at::native::elementwise_kernel<128, 4, emulated>"


def tensors(args):
    out = []
    for a in args:
        if a.get("t"):
            out.append(a)
        elif "list" in a:
            out += tensors(a["list"])
    return out


def dense(t):
    """Non-overlapping and dense in some dimension order (TensorIterator can treat it as 1-D)."""
    dims = sorted((s, st) for s, st in zip(t["shape"], t["strides"]) if s != 1)
    expect = 1
    for size, stride in sorted(dims, key=lambda x: x[1]):
        if stride != expect:
            return False
        expect *= size
    return True


def elementwise_family(op):
    ins = [t for t in tensors(op["inputs"]) if t["shape"]]  # 0-dim tensors are passed as scalars
    outs = [t for t in tensors(op["outputs"]) if t["shape"]]
    every = ins + outs
    if not every:
        return VEC
    shape = (outs or ins)[0]["shape"]
    if any(t["shape"] != shape for t in every):
        return STRIDED
    strides = every[0]["strides"]
    if any(t["strides"] != strides for t in every) or not dense(every[0]):
        return STRIDED
    dts = {t["dtype"] for t in every}
    if len(dts) > 1:
        if op["name"] in ("aten::copy_", "aten::_to_copy") and outs and outs[0]["dtype"] != "float" and \
                all(t["dtype"] == "float" for t in ins):
            return VEC  # fp32 -> 16-bit cast: vectorized in PyTorch 2.x's copy kernel
        return UNROLLED
    return VEC


def numel(op):
    ts = tensors(op["outputs"]) or tensors(op["inputs"])
    return max([t["numel"] for t in ts] or [0])


def multi_tensor_launches(sizes, depth):
    """Launches of multi_tensor_apply over tensors of `sizes` elements (MultiTensorApply.cuh):
    kChunkSize 65536, at most depth_to_max_tensors[depth] tensors and 320 blocks per launch; a
    tensor cut by a full launch carries over into the next one."""
    max_tensors = [110, 64, 48, 36, 30][min(depth, 5) - 1]
    launches, lt, lb = 0, 0, 0
    for n in sizes:
        if n == 0:
            continue
        lt += 1
        chunks = (n + 65535) // 65536
        for c in range(chunks):
            lb += 1
            if (lt == max_tensors and c == chunks - 1) or lb == 320:
                launches += 1
                lb = 0
                lt = 0 if c == chunks - 1 else 1
    return launches + (1 if lb else 0) or 1


ZEROED_OUTPUT = {"aten::nll_loss_backward", "aten::embedding_dense_backward"}


def expand(op):
    """The op as the profiler sees it launch work: a backward that zeroes its output first
    (grad_input = zeros_like(self) in nll_loss_backward, grad_weight = zeros in the embedding
    backward) gets that fill_ as a separate op before it."""
    if op["name"] in ZEROED_OUTPUT and tensors(op["outputs"]):
        out = tensors(op["outputs"])[0]
        fill = dict(op, name="aten::fill_", inputs=[out, {"v": 0, "type": "Int"}], outputs=[out])
        return [fill, op]
    return [op]


def channels_last(t):
    """A 4-d tensor laid out N, H, W, C (PyTorch's suggest_memory_format: channels stride 1)."""
    return len(t["shape"]) == 4 and t["shape"][1] > 1 and t["strides"][1] == 1


def max_pool_kernel(op):
    """DilatedMaxPool2d.cu's kernel for the input's memory format: NHWC for channels-last, else NCHW
    (the backward's input is its second tensor, after dy)."""
    ins = tensors(op["inputs"])
    x = ins[1] if op["name"].endswith("_backward") and len(ins) > 1 else ins[0]
    fmt = "nhwc" if channels_last(x) else "nchw"
    part = "backward" if op["name"].endswith("_backward") else "forward"
    return "void at::native::(anonymous namespace)::max_pool_%s_%s<emulated>" % (part, fmt)


def kernels(op):
    """[(kind, name, bytes)]: kind 'kernel' | 'memset' | 'memcpy'."""
    n = op["name"]
    if n in NONE or n.startswith("prim::"):
        return []
    if numel(op) == 0 and not n.startswith("aten::_foreach") and not n.startswith("aten::_fused"):
        return []
    if n in GEMM:
        dt = (tensors(op["inputs"]) or [{"dtype": "float"}])[0]["dtype"]
        return [("kernel", "nvjet_sm90_gemm_%s (emulated cuBLAS)" % dt.replace("c10::", ""), 0)]
    if n == "aten::convolution_backward":
        # output_mask [grad_input, grad_weight, grad_bias]: the first layer's input needs no dgrad
        mask = op["inputs"][10].get("v") if len(op["inputs"]) > 10 else None
        mask = mask if isinstance(mask, list) and len(mask) >= 2 else [True, True]
        return [("kernel", k, 0) for k, want in zip(NAMED[n], mask[:2]) if want]
    if n in NAMED:
        return [("memset", "Memset (Device)", 0) if isinstance(k, tuple) else ("kernel", k, 0) for k in NAMED[n]]
    if n == "aten::_cudnn_attention_backward":
        q, k = tensors(op["inputs"])[1:3]
        ks = [("memset", "Memset (Device)", 0),
              ("kernel", "void cudnn::fusion::compute_dot_do_o_specialized (emulated)", 0),
              ("kernel", "cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16 (emulated)", 0),
              ("kernel", "void cudnn::fusion::convert_dq_to_16bits (emulated)", 0)]
        if q["shape"][1] != k["shape"][1]:
            ks += [("kernel", "void cudnn::fusion::fmha_reduce_head (emulated)", 0)] * 2
        return ks
    if n in ("aten::max_pool2d_with_indices", "aten::max_pool2d_with_indices_backward"):
        return [("kernel", max_pool_kernel(op), 0)]
    if n == "aten::embedding_dense_backward":
        # Embedding.cu: up to 3072 indices (and no scale_grad_by_freq) one feature kernel walks
        # them all, a 32 x 32 block per 32 columns; more are sorted first (EMB_BWD)
        ids = tensors(op["inputs"])[1:2]
        scale = op["inputs"][4].get("v") if len(op["inputs"]) > 4 else False
        if ids and numel({"outputs": ids}) <= 3072 and not scale:
            return [("kernel", EMB_FEATURE, 0)]
        return [("memset", "Memset (Device)", 0) if isinstance(k, tuple) else ("kernel", k, 0) for k in EMB_BWD]
    if n in REDUCE:
        k = [("kernel", "void at::native::reduce_kernel<512, 1, emulated>", 0)]
        src = tensors(op["inputs"])
        dims = [a.get("v") for a in op["inputs"][1:2]]
        if src and len(src[0]["shape"]) == 2 and dims and dims[0] in ([0], 0):
            # a column reduction of a tall matrix (bias gradients) splits across blocks and
            # zeroes its global semaphores first
            k.insert(0, ("memset", "Memset (Device)", 0))
        return k
    if n == "aten::arange":
        return [("kernel", STRIDED, 0)]  # gpu_kernel_with_index: the generic kernel
    if n in FILL:
        return [("kernel", VEC, 0)]
    if n in ("aten::cat", "aten::stack"):
        parts = tensors(op["inputs"])
        if all(dense(t) and t["strides"] == parts[0]["strides"] for t in parts) and n == "aten::cat":
            return [("kernel", "void at::native::(anonymous namespace)::CatArrayBatchedCopy", 0)]
        return [("kernel", STRIDED, 0) for _ in parts]
    if n.startswith("aten::_foreach") or n.startswith("aten::_fused_adam"):
        lists = [a["list"] for a in op["inputs"] if "list" in a and a["list"]]
        depth = 4 if n.startswith("aten::_fused_adam") else max(1, min(len(lists), 3))
        sizes = [t["numel"] for t in lists[0]] if lists else [1]
        name = "void at::native::(anonymous namespace)::multi_tensor_apply_kernel<%s>" % n.split("::")[1]
        return [("kernel", name, 0)] * multi_tensor_launches(sizes, depth)
    if n in ("aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous"):
        ins, outs = tensors(op["inputs"]), tensors(op["outputs"])
        src = ins[1] if n == "aten::copy_" and len(ins) > 1 else ins[0]
        dst = outs[0] if outs else ins[0]
        if src["dtype"] == dst["dtype"] and dense(src) and dense(dst) and src["strides"] == dst["strides"]:
            return [("memcpy", "Memcpy DtoD (Device -> Device)", src["numel"] * src["esize"])]
        fam = elementwise_family({"name": n, "inputs": [src], "outputs": [dst]})
        return [("kernel", fam, 0)]
    return [("kernel", elementwise_family(op), 0)]
