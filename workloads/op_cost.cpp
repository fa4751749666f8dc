#include "workloads/op_cost.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "sim/error.h"

namespace orrery {

namespace {

// Bytes a tensor's distinct elements take (a broadcast operand is fetched once, then cached).
double tensor_bytes(const EtArg& a) {
  double b = 0;
  if (a.is_tensor) b += static_cast<double>(a.distinct()) * static_cast<double>(a.elem_bytes);
  for (auto& e : a.elems) b += tensor_bytes(e);
  return b;
}

double numel(const EtArg& a) {
  if (a.is_tensor) return static_cast<double>(a.numel);
  double n = 0;
  for (auto& e : a.elems) n += numel(e);
  return n;
}

const EtArg* nth_tensor(const std::vector<EtArg>& args, int n) {
  int seen = 0;
  for (auto& a : args)
    if (a.is_tensor) {
      if (seen == n) return &a;
      ++seen;
    }
  return nullptr;
}

double dim(const EtArg* a, int i) {
  if (!a) return 0;
  int n = static_cast<int>(a->shape.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return 1;
  return static_cast<double>(a->shape[i]);
}

double prod_leading(const EtArg* a, int drop) {
  double p = 1;
  if (!a) return 0;
  for (int i = 0; i + drop < static_cast<int>(a->shape.size()); ++i) p *= static_cast<double>(a->shape[i]);
  return p;
}

bool has_true_bool(const EtOp& op) {
  for (auto& a : op.inputs)
    if (a.type == "Bool" && a.value.is_boolean() && a.value.get<bool>()) return true;
  return false;
}

bool contains(const std::string& s, const char* t) { return s.find(t) != std::string::npos; }

// Integer list (stride, padding, dilation) at positional input `i`: [v] broadcasts to `dims`.
std::vector<double> int_list(const EtOp& op, size_t i, size_t dims, double dflt) {
  std::vector<double> out(dims, dflt);
  if (i >= op.inputs.size()) return out;
  const nlohmann::json& v = op.inputs[i].value;
  if (v.is_number()) {
    std::fill(out.begin(), out.end(), v.get<double>());
  } else if (v.is_array() && !v.empty()) {
    for (size_t d = 0; d < dims; ++d) {
      const auto& x = v[std::min(d, v.size() - 1)];
      if (x.is_number()) out[d] = x.get<double>();
    }
  }
  return out;
}

double int_at(const EtOp& op, size_t i, double dflt) {
  if (i >= op.inputs.size() || !op.inputs[i].value.is_number()) return dflt;
  return op.inputs[i].value.get<double>();
}

// The largest of 8, 4, 2 elements dividing a leading dimension `v`, else 1 (OpWork::align_elems).
double align_of(double v) {
  for (double a : {8.0, 4.0, 2.0})
    if (std::fmod(v, a) == 0) return a;
  return 1;
}

// Positional layout of a convolution op's arguments: where stride, padding, dilation and groups sit.
struct ConvArgs {
  size_t x = 0, w = 1, stride = 3, padding = 4, dilation = 5, groups = 8;
  bool backward = false;
};

bool conv_layout(const std::string& n, ConvArgs& a) {
  if (n == "aten::convolution" || n == "aten::_convolution") return true;  // x, w, b, stride, pad, dil, transposed, out_pad, groups
  if (n == "aten::conv1d" || n == "aten::conv2d" || n == "aten::conv3d") {
    a.groups = 6;  // x, w, b, stride, pad, dil, groups
    return true;
  }
  if (n == "aten::cudnn_convolution" || n == "aten::miopen_convolution") {
    a = {0, 1, 3, 2, 4, 5, false};  // x, w, pad, stride, dil, groups
    return true;
  }
  if (n == "aten::convolution_backward") {
    a = {1, 2, 4, 5, 6, 9, true};  // grad_out, x, w, bias_sizes, stride, pad, dil, transposed, out_pad, groups, mask
    return true;
  }
  return false;
}

// cuDNN runs fp32 convolutions on the TF32 tensor cores unless told not to: the op's allow_tf32
// argument where it has one (aten::cudnn_convolution's 9th, aten::_convolution's 13th), else
// PyTorch's default, torch.backends.cudnn.allow_tf32 = True (convolution_backward reads the same
// global flag and carries no argument). Unlike matmuls, whose TF32 default is off.
bool conv_allows_tf32(const EtOp& op) {
  size_t at = op.name == "aten::cudnn_convolution" ? 8 : op.name == "aten::_convolution" ? 12 : 0;
  if (at == 0 || at >= op.inputs.size() || !op.inputs[at].value.is_boolean()) return true;
  return op.inputs[at].value.get<bool>();
}

}  // namespace

// Convolution as an implicit GEMM (cuDNN's forward, dgrad and wgrad kernels): per group, M = N x
// output pixels, N = output channels / groups, K = input channels / groups x filter taps. Shapes,
// stride, padding, dilation and groups come from the ET; impossible ones throw (op_work's caller
// names the file and node). Channels-last or not, the FLOPs and the tensors' bytes are the same.
bool conv_work(const EtOp& op, OpWork& w) {
  ConvArgs a;
  if (!conv_layout(op.name, a)) return false;
  const EtArg* x = a.x < op.inputs.size() && op.inputs[a.x].is_tensor ? &op.inputs[a.x] : nullptr;
  const EtArg* wt = a.w < op.inputs.size() && op.inputs[a.w].is_tensor ? &op.inputs[a.w] : nullptr;
  if (!x || !wt) return false;
  size_t sd = wt->shape.size() >= 3 ? wt->shape.size() - 2 : 0;
  if (sd == 0 || x->shape.size() != sd + 2)
    throw Error("input " + std::to_string(x->shape.size()) + "-d and weight " + std::to_string(wt->shape.size()) +
                "-d do not make a convolution (expected N,C,spatial... and K,C/groups,taps...)");
  std::vector<double> stride = int_list(op, a.stride, sd, 1), pad = int_list(op, a.padding, sd, 0),
                      dil = int_list(op, a.dilation, sd, 1);
  double groups = int_at(op, a.groups, 1);
  double n = dim(x, 0), c = dim(x, 1), k = dim(wt, 0), cg = dim(wt, 1);
  if (!(groups >= 1)) throw Error("groups " + std::to_string(static_cast<long long>(groups)) + " must be >= 1");
  if (cg * groups != c || std::fmod(k, groups) != 0)
    throw Error("input has " + std::to_string(static_cast<long long>(c)) + " channels, weight " +
                std::to_string(static_cast<long long>(k)) + "x" + std::to_string(static_cast<long long>(cg)) +
                " with groups " + std::to_string(static_cast<long long>(groups)) +
                ": channels must equal weight.shape[1] x groups and weight.shape[0] divide by groups");
  double pixels = 1, taps = 1;
  for (size_t d = 0; d < sd; ++d) {
    if (!(stride[d] >= 1) || !(dil[d] >= 1) || pad[d] < 0)
      throw Error("stride, dilation must be >= 1 and padding >= 0 (dimension " + std::to_string(d) + ")");
    double in = dim(x, static_cast<int>(d + 2)), r = dim(wt, static_cast<int>(d + 2));
    double out = std::floor((in + 2 * pad[d] - dil[d] * (r - 1) - 1) / stride[d]) + 1;
    if (!(out >= 1))
      throw Error("filter " + std::to_string(static_cast<long long>(r)) + " (dilation " +
                  std::to_string(static_cast<long long>(dil[d])) + ") does not fit input " +
                  std::to_string(static_cast<long long>(in)) + " with padding " +
                  std::to_string(static_cast<long long>(pad[d])) + " (dimension " + std::to_string(d) + ")");
    pixels *= out;
    taps *= r;
  }
  w.dtype = x->dtype != Dtype::UNKNOWN ? x->dtype : w.dtype;
  double eb = std::max(1, dtype_bytes(w.dtype));
  if (w.dtype == Dtype::FP32 && conv_allows_tf32(op)) w.dtype = Dtype::TF32;  // (same bytes: fp32 operands)
  double m = n * pixels, nn = k / groups, kk = cg * taps;
  // forward: x + w read, y written; backward: dgrad (dy, w -> dx) and wgrad (dy, x -> dw).
  double passes = a.backward ? 2 : 1;
  if (a.backward && op.inputs.size() > 10 && op.inputs[10].value.is_array() && op.inputs[10].value.size() >= 2) {
    const auto& mask = op.inputs[10].value;  // [grad_input, grad_weight, grad_bias]
    passes = (mask[0].is_boolean() && mask[0].get<bool>() ? 1 : 0) + (mask[1].is_boolean() && mask[1].get<bool>() ? 1 : 0);
    if (passes == 0) return false;
  }
  double xb = static_cast<double>(x->numel) * eb, wb = static_cast<double>(wt->numel) * eb, yb = m * k * eb;
  w.bytes = passes * (xb + wb + yb);
  w.side_bytes = 2 * xb;  // another side kernel (a layout transform no tensor's tiles match): the input, read + written
  // (the reductions of a backward convolution's kernels sum the weight gradient's partials)
  w.out_elems = a.backward ? static_cast<double>(wt->numel) : m * k;
  w.layout_tensors = {{n, c, static_cast<double>(x->numel) / std::max(1.0, n * c)},
                      {k, cg, taps},
                      {n, k, pixels}};
  w.flops = 2 * m * nn * kk * groups * passes;
  w.known = true;
  if (cg < 8 && nn < 8) {
    // Depthwise (few channels per group): a per-group GEMM narrower than any tensor-core tile.
    // cuDNN runs direct kernels instead (conv2d_c1_k1_nhwc_specialized, dgrad2d_c1_k1,
    // wgrad2d_c1_k1) that stream x, w and y and multiply on the vector units: memory-bound.
    w.in_bytes = passes * (xb + wb);
    w.model = a.backward ? "conv-depthwise-bwd" : "conv-depthwise";
    return true;
  }
  w.matrix = true;
  w.align_elems = std::min(align_of(cg), align_of(nn));
  w.m = m;
  w.n = nn;
  w.k = kk;
  w.batch = groups * passes;
  w.model = a.backward ? "conv-bwd (dgrad + wgrad)" : "conv";
  return true;
}

namespace {

// Bytes an op reads and writes by its tensors, and its output elements. In-place and out= ops:
// an in-place op's input that is also an output (same storage) is read only when the op reads it
// (add_, mul_), not when it only writes it (fill_, zero_, copy_'s destination); an out= op's
// `out` arguments (`mul.out(self, other, *, out)`: EtOp::out_args, from its schema) are written,
// not read. A broadcast (expanded) input is read once per distinct element.
struct OpTraffic {
  double in_bytes = 0, out_bytes = 0, out_numel = 0;
};

void collect_storages(const EtArg& a, std::set<std::int64_t>& out) {
  if (a.is_tensor) out.insert(a.storage_id);
  for (auto& e : a.elems) collect_storages(e, out);
}

double read_bytes(const EtArg& a, const std::set<std::int64_t>& out_storages, bool reads_self) {
  double b = 0;
  if (a.is_tensor && !(out_storages.count(a.storage_id) && !reads_self))
    b += static_cast<double>(a.distinct()) * static_cast<double>(a.elem_bytes);
  for (auto& e : a.elems) b += read_bytes(e, out_storages, reads_self);
  return b;
}

// Whether input i is one of the op's out= arguments (written, not read).
bool is_out_argument(const EtOp& op, size_t i) {
  return std::find(op.out_args.begin(), op.out_args.end(), static_cast<int>(i)) != op.out_args.end();
}

OpTraffic op_traffic(const EtOp& op) {
  OpTraffic t;
  std::set<std::int64_t> out_storages;
  for (auto& a : op.outputs) {
    t.out_bytes += tensor_bytes(a);
    t.out_numel += numel(a);
    collect_storages(a, out_storages);
  }
  static const std::set<std::string> write_only = {"aten::fill_", "aten::zero_", "aten::copy_", "aten::normal_",
                                                   "aten::uniform_", "aten::random_", "aten::bernoulli_",
                                                   "aten::exponential_", "aten::index_put_", "aten::masked_fill_"};
  const std::string& n = op.name;
  bool reads_self = !write_only.count(n) || n == "aten::masked_fill_" || n == "aten::index_put_";
  for (size_t i = 0; i < op.inputs.size(); ++i)
    if (!is_out_argument(op, i)) t.in_bytes += read_bytes(op.inputs[i], out_storages, reads_self);
  return t;
}

void set_gemm(OpWork& w, double m, double nn, double k, double batch, const char* model) {
  w.matrix = true;
  w.align_elems = std::min({align_of(m), align_of(nn), align_of(k)});
  w.m = m;
  w.n = nn;
  w.k = k;
  w.batch = batch;
  w.flops = 2 * m * nn * k * batch;
  int eb = dtype_bytes(w.dtype);
  w.bytes = eb * batch * (m * k + k * nn + m * nn);
  w.out_elems = m * nn * batch;
  w.known = true;
  w.model = model;
}

// Operands a GEMM cannot multiply (a capture whose shapes were edited or corrupted): an error, not
// a GEMM of the first operand's inner size. `ranks`: the dimensions mm and bmm need (0: any).
void check_gemm_operands(const EtArg* a, const EtArg* b, size_t ranks, int a_inner, int b_inner, const std::string& op) {
  auto shape = [](const EtArg* t) {
    std::string s;
    for (auto d : t->shape) s += (s.empty() ? "" : ",") + std::to_string(d);
    return "[" + s + "]";
  };
  for (const EtArg* t : {a, b})  // (no engine rate to take: "Tensor(quantum)" was costed at fp32's)
    if (t->dtype == Dtype::UNKNOWN) throw Error(op + ": operand element type '" + t->type + "' is not one orrery knows");
  bool bad_rank = ranks > 0 && (a->shape.size() != ranks || b->shape.size() != ranks);
  if (bad_rank || dim(a, a_inner) != dim(b, b_inner) || (ranks == 3 && dim(a, 0) != dim(b, 0)))
    throw Error(op + ": operands " + shape(a) + " and " + shape(b) + " cannot be multiplied");
}

// mm, addmm, bmm, baddbmm, linear, matmul: the GEMM shape from the operands (false: not one).
bool gemm_work(const EtOp& op, OpWork& w) {
  const std::string& n = op.name;
  if (n == "aten::mm" || n == "aten::addmm") {
    int off = n == "aten::addmm" ? 1 : 0;
    auto* a = nth_tensor(op.inputs, off);
    auto* b = nth_tensor(op.inputs, off + 1);
    if (a && b) check_gemm_operands(a, b, 2, 1, 0, n);
    if (a && b) set_gemm(w, dim(a, 0), dim(b, 1), dim(a, 1), 1, off ? "addmm" : "mm");
  } else if (n == "aten::bmm" || n == "aten::baddbmm") {
    int off = n == "aten::baddbmm" ? 1 : 0;
    auto* a = nth_tensor(op.inputs, off);
    auto* b = nth_tensor(op.inputs, off + 1);
    if (a && b) check_gemm_operands(a, b, 3, 2, 1, n);
    if (a && b) set_gemm(w, dim(a, 1), dim(b, 2), dim(a, 2), dim(a, 0), "bmm");
  } else if (n == "aten::linear" || n == "aten::matmul") {
    auto* a = nth_tensor(op.inputs, 0);
    auto* b = nth_tensor(op.inputs, 1);
    // (linear's weight is [out, in]; matmul's second operand contracts its second-last dimension)
    if (a && b && !a->shape.empty() && b->shape.size() >= 2) check_gemm_operands(a, b, 0, -1, n == "aten::linear" ? 1 : -2, n);
    if (a && b && a->shape.size() >= 1)
      set_gemm(w, prod_leading(a, 1), n == "aten::linear" ? dim(b, 0) : dim(b, -1), dim(a, -1), 1, "linear");
  } else {
    return false;
  }
  return true;
}

// Fused attention (sdpa, flash, efficient, cuDNN; forward and backward).
// q [b, h, s, d], k [b, hk, sk, d]; forward = 2 GEMMs (QK^T, PV); backward = 5 (incl. recompute).
// Whether an attention op is causal. Every sdpa and attention-kernel op of native_functions.yaml
// puts its mask flag first among the Bool/Int arguments after dropout_p (the op's first float):
// is_causal (Bool) for sdpa's, flash's and cuDNN's ops, custom_mask_type (Int: 1 and 2 are causal
// from the top left or the bottom right) for the memory-efficient kernel's. Flags before dropout_p
// (compute_log_sumexp, true in training) are not it. An op without dropout_p: any true Bool.
bool attention_causal(const EtOp& op) {
  bool after_dropout = false;
  for (auto& a : op.inputs) {
    if (a.type == "Double") after_dropout = true;
    else if (after_dropout && (a.type == "Bool" || a.type == "Int") && !a.is_tensor)
      return a.value.is_boolean() ? a.value.get<bool>() : a.value.is_number() && a.value.get<double>() > 0;
  }
  return !after_dropout && has_true_bool(op);
}

bool attention_op_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  const std::string& n = op.name;
  if (!(contains(n, "scaled_dot_product") || contains(n, "flash_attention") || contains(n, "efficient_attention") ||
        contains(n, "cudnn_attention")))
    return false;
  bool bwd = contains(n, "backward");
  auto* q = nth_tensor(op.inputs, bwd ? 1 : 0);  // backward ops take grad_out first
  auto* k = nth_tensor(op.inputs, bwd ? 2 : 1);
  // The kernels' own ops, which sdpa calls after transposing, take (batch, seq, heads, head dim):
  // aten::_flash_attention_{forward,backward}, aten::_efficient_attention_{forward,backward}
  // (native_functions.yaml; "BMHK" in xFormers' terms). sdpa's own ops and cuDNN's take
  // (batch, heads, seq, head dim).
  bool bshd = contains(n, "_flash_attention_") || contains(n, "_efficient_attention_forward") ||
              contains(n, "_efficient_attention_backward");
  if (q && k && q->shape.size() == 4) {
    int hd = bshd ? 2 : 1, sd = bshd ? 1 : 2;
    double b = dim(q, 0), h = dim(q, hd), s = dim(q, sd), d = dim(q, 3), sk = dim(k, sd);
    double f = 4 * b * h * s * sk * d * (bwd ? 2.5 : 1.0);
    bool causal = attention_causal(op);
    if (causal) f *= 0.5;
    w.flops = f;
    w.attn = AttentionShape{b * h, s, sk, d, causal, bwd};
    w.bytes = t.in_bytes + t.out_bytes;
    w.side_bytes = 2 * static_cast<double>(q->numel) * static_cast<double>(std::max<std::int64_t>(2, q->elem_bytes));
    if (bwd) {
      const double qn = static_cast<double>(q->numel), eb = static_cast<double>(q->elem_bytes);
      w.dq_convert_bytes = qn * (4.0 + eb);
      // FlashAttention-2's flash_bwd_dot_do_o_kernel<Clear_dQaccum=true> (compute_dot_do_o,
      // flash_bwd_preprocess_kernel.h): dO and O in, dP_sum out, and the dQ accumulator the main
      // kernel atomically adds into zeroed; cuDNN's compute_dot_do_o_specialized is its namesake.
      w.dot_do_o_bytes = qn * (2 * eb + 4.0) + 4.0 * qn / std::max(1.0, d);
    }
    w.attention = true;
    w.known = true;
    w.model = bwd ? "attention-bwd" : "attention-fwd";
  }
  return true;
}

// Batch norm, forward and backward (false: not one).
bool batch_norm_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  const std::string& n = op.name;
  if (!contains(n, "batch_norm")) return false;
  if (const EtArg* x0 = nth_tensor(op.inputs, 0); x0 && x0->shape.size() >= 2) {
    w.norm_numel = numel(*x0);
    w.norm_elem_bytes = std::max<double>(1, static_cast<double>(x0->elem_bytes));
    w.norm_channels = dim(x0, 1);
  }
  if (contains(n, "backward")) {
    // Reads dy and x twice (the reductions for dgamma/dbeta, then dx), writes dx.
    w.bytes = 2 * t.in_bytes + t.out_bytes;
    w.flops = t.out_numel * 10.0;
    w.known = t.in_bytes > 0;
    w.model = "batch_norm-bwd";
    return true;
  }
  if (contains(n, "stats") || contains(n, "elemt") || contains(n, "gather")) return false;
  // Training batch norm reads x twice (statistics, then normalize) and writes y; eval reads once.
  // The positional `training` flag sits after the 5 tensors (x, weight, bias, running mean, var).
  const EtArg* x = nth_tensor(op.inputs, 0);
  bool training = op.inputs.size() > 5 && op.inputs[5].value.is_boolean() ? op.inputs[5].value.get<bool>() : true;
  double xb = x ? tensor_bytes(*x) : t.in_bytes;
  w.bytes = (training ? 2 : 1) * xb + (t.in_bytes - xb) + (t.out_bytes > 0 ? t.out_bytes : xb);
  w.flops = (x ? numel(*x) : t.out_numel) * 8.0;
  w.known = w.bytes > 0;
  w.model = training ? "batch_norm-train" : "batch_norm-eval";
  return true;
}

// Loop trip counts of DilatedMaxPool2d.cu along one spatial dimension of size `in` pooled to
// `out`: the forward's window taps inside the input per output position (hstart/hend, negative
// starts stepped up by the dilation), the backward's output windows per input position
// (p_start/p_end: the kernel's loop bounds, which count every window whose span reaches it).
std::vector<double> pool_trips(double in, double out, double k, double s, double p, double d, bool backward) {
  std::vector<double> n(static_cast<size_t>(backward ? in : out));
  for (size_t i = 0; i < n.size(); ++i) {
    double x = static_cast<double>(i);
    if (backward) {
      double span = (k - 1) * d + 1;
      double start = x + p < span ? 0 : std::floor((x + p - span) / s) + 1;
      double end = std::min(std::floor((x + p) / s) + 1, out);
      n[i] = std::max(0.0, end - start);
    } else {
      double start = x * s - p, end = std::min(start + (k - 1) * d + 1, in);
      while (start < 0) start += d;
      n[i] = end > start ? std::ceil((end - start) / d) : 0;
    }
  }
  return n;
}

// Loads per walked element of a max pooling kernel: over the whole plane, and over warps of 32
// consecutive (row-major) positions taking their longest thread's loops.
void pool_loads(const std::vector<double>& rows, const std::vector<double>& cols, double per_trip, OpWork::Serial& p) {
  double sr = 0, sc = 0;
  for (double r : rows) sr += r;
  for (double c : cols) sc += c;
  const size_t w = cols.size(), plane = rows.size() * w;
  if (plane == 0) return;
  p.loads = per_trip * sr * sc / static_cast<double>(plane);
  if (plane > (size_t(1) << 22)) {  // (a large plane: a warp's row segment holds the row's longest loops)
    p.loads_warp = per_trip * sr / static_cast<double>(rows.size()) * *std::max_element(cols.begin(), cols.end());
    return;
  }
  double warps = 0, sum = 0;
  for (size_t at = 0; at < plane; at += 32, ++warps) {
    double longest = 0;
    for (size_t i = at; i < std::min(at + 32, plane); ++i) longest = std::max(longest, rows[i / w] * cols[i % w]);
    sum += longest;
  }
  p.loads_warp = per_trip * sum / warps;
}

// 2-d max pooling with indices, forward and backward (false: not one). Its threads walk windows in
// loops with runtime bounds, one load at a time; the backward's load of dy waits on the compare of
// the index it loaded first (two per window). Bytes: what the kernel moves (the backward never
// reads the forward's input, which the op takes as an argument).
bool pool_work(const EtOp& op, OpWork& w) {
  bool bwd = op.name == "aten::max_pool2d_with_indices_backward";
  if (!bwd && op.name != "aten::max_pool2d_with_indices") return false;
  const EtArg* x = nth_tensor(op.inputs, bwd ? 1 : 0);
  const EtArg* y = bwd ? nth_tensor(op.inputs, 0) : nth_tensor(op.outputs, 0);
  if (!x || !y || x->shape.size() < 3 || y->shape.size() != x->shape.size()) return false;
  size_t a = bwd ? 2 : 1;  // kernel_size, stride, padding, dilation follow the tensor(s)
  std::vector<double> k = int_list(op, a, 2, 1), s = int_list(op, a + 1, 2, 0), p = int_list(op, a + 2, 2, 0),
                      d = int_list(op, a + 3, 2, 1);
  PoolWindow win;
  for (int i = 0; i < 2; ++i) {
    if (!(k[i] >= 1) || !(d[i] >= 1) || p[i] < 0)
      throw Error("kernel_size and dilation must be >= 1, padding >= 0 (dimension " + std::to_string(i) + ")");
    win.k[i] = k[i];
    win.s[i] = s[i] >= 1 ? s[i] : k[i];  // stride [] means the kernel size
    win.p[i] = p[i];
    win.d[i] = d[i];
  }
  double ih = dim(x, -2), iw = dim(x, -1), oh = dim(y, -2), ow = dim(y, -1);
  if (!(ih >= 1 && iw >= 1 && oh >= 1 && ow >= 1) || ih * iw > 1e8) return false;
  w.serial = max_pool_loads(numel(*x) / (ih * iw), ih, iw, oh, ow, win, bwd);
  double xb = tensor_bytes(*x), yb = tensor_bytes(*y), indices = numel(*y) * 8;  // int64 indices
  w.bytes = xb + yb + indices;
  w.in_bytes = bwd ? yb + indices : xb;
  w.dtype = x->dtype != Dtype::UNKNOWN ? x->dtype : w.dtype;
  w.known = true;
  w.model = bwd ? "max_pool-bwd" : "max_pool-fwd";
  return true;
}

// Another forward convolution op (not an implicit-GEMM layout conv_work knows): FLOPs from the
// output and the filter, bytes of its tensors.
bool other_conv_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  if (!contains(op.name, "convolution") || contains(op.name, "backward")) return false;
  auto* x = nth_tensor(op.inputs, 0);
  auto* wt = nth_tensor(op.inputs, 1);
  auto* y = nth_tensor(op.outputs, 0);
  if (x && wt && y && wt->shape.size() >= 3) {
    double kspatial = 1;
    for (size_t i = 2; i < wt->shape.size(); ++i) kspatial *= static_cast<double>(wt->shape[i]);
    w.flops = 2.0 * static_cast<double>(y->numel) * dim(wt, 1) * kspatial;
    w.bytes = t.in_bytes + t.out_bytes;
    w.matrix = true;
    w.known = true;
    w.model = "conv";
  }
  return true;
}

// Multi-tensor optimizer (fused Adam/AdamW, SGD, foreach): reads inputs, writes the updated
// state (in place).
bool optimizer_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  const std::string& n = op.name;
  if (!(contains(n, "fused_adam") || contains(n, "_fused_sgd") || contains(n, "_foreach_"))) return false;
  w.bytes = t.in_bytes * (contains(n, "adam") ? 7.0 / 4.0 : 2.0);
  w.flops = 10 * t.in_bytes / std::max(1, dtype_bytes(w.dtype));
  w.known = true;
  w.model = "optimizer";
  return true;
}

// nll_loss gathers (forward) or scatters (backward, into a pre-zeroed grad) one element per row:
// traffic is the targets and the touched elements, not the whole logits tensor.
bool nll_loss_work(const EtOp& op, OpWork& w) {
  if (!contains(op.name, "nll_loss")) return false;
  const EtArg* self = nth_tensor(op.inputs, contains(op.name, "backward") ? 1 : 0);
  double rows = self && !self->shape.empty() ? prod_leading(self, 1) : 0;
  double small = 0;
  for (auto& a : op.inputs)
    if (&a != self) small += tensor_bytes(a);
  w.bytes = small + 2 * rows * std::max<double>(4, self ? static_cast<double>(self->elem_bytes) : 4);
  w.flops = rows;
  w.known = true;
  w.model = "nll_loss";
  // A reduced 2-d loss (LossNLL.cu nll_loss_{forward,backward}_reduce_cuda_kernel_2d) runs in one
  // block whose threads walk the frames: each loads its target, then (forward) the log-probability
  // that target picks, a load whose address waits on the first; the backward stores (posted).
  if (self && self->shape.size() == 2) {
    w.serial.elems = rows;
    w.serial.loads = w.serial.loads_warp = contains(op.name, "backward") ? 1 : 2;
    w.serial.kernel = "_reduce_cuda_kernel_2d";
  }
  return true;
}

// Gathers read only the elements they pick (one per output element) and the indices, not the
// whole source tensor (an embedding table, the logits).
bool gather_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  const std::string& n = op.name;
  if (!(n == "aten::gather" || n == "aten::index_select" || n == "aten::embedding" || n == "aten::take_along_dim"))
    return false;
  const EtArg* src = nth_tensor(op.inputs, 0);
  if (!src) return false;
  double small = 0;  // the indices (an out= argument is written, not read)
  for (size_t i = 0; i < op.inputs.size(); ++i)
    if (&op.inputs[i] != src && !is_out_argument(op, i)) small += tensor_bytes(op.inputs[i]);
  w.bytes = small + 2 * t.out_bytes;
  w.flops = t.out_numel;
  w.known = t.out_bytes > 0;
  w.model = "gather";
  return true;
}

// The softmax dimension's size: input 0's dimension given by the `dim` argument (the forward's
// second argument, the backward's third, after grad and output); 0 when unknown.
double softmax_dim_size(const EtOp& op) {
  const EtArg* x = nth_tensor(op.inputs, 0);
  size_t at = contains(op.name, "backward") ? 2 : 1;
  if (!x || x->shape.empty() || op.inputs.size() <= at || !op.inputs[at].value.is_number_integer()) return 0;
  long long d = op.inputs[at].value.get<long long>(), r = static_cast<long long>(x->shape.size());
  if (d < 0) d += r;
  return d >= 0 && d < r ? static_cast<double>(x->shape[static_cast<size_t>(d)]) : 0;
}

bool softmax_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  if (!contains(op.name, "softmax")) return false;
  // PyTorch's SoftMax.cu: rows of at most 1024 elements (and 4 KiB) go to the warp kernels
  // (softmax_warp_forward/backward), which hold each row in registers: one pass over the input.
  // Longer rows go to the block kernels: cunn_SoftMaxForward takes the max, the sum of
  // exponentials, then writes the normalized row, each a pass over the input;
  // cunn_SoftMaxBackward sums the incoming gradient (its first input), then reads it again with
  // the output to write the result: the gradient twice, the output once. Their shared-memory
  // variants (a row that fits the block's shared memory) read each input once: smem_row_bytes.
  const EtArg* x = nth_tensor(op.inputs, 0);
  double row = softmax_dim_size(op);
  bool warp = row > 0 && row <= 1024 && x && row * static_cast<double>(x->elem_bytes) <= 4096;
  if (!warp) w.smem_row_bytes = t.in_bytes + t.out_bytes;
  if (!contains(op.name, "backward")) {
    w.bytes = (warp ? 1 : 3) * t.in_bytes + t.out_bytes;
    w.flops = t.out_numel * 8.0;
    w.model = warp ? "softmax (warp)" : "softmax";
  } else {
    w.bytes = t.in_bytes + t.out_bytes + (warp || !x ? 0.0 : tensor_bytes(*x));
    w.flops = t.out_numel * 6.0;
    w.model = warp ? "softmax-bwd (warp)" : "softmax-bwd";
  }
  w.known = t.in_bytes > 0;
  return true;
}

// Layer norm backward runs two kernels that each stream dY and X (PyTorch's layer_norm_grad_input
// kernel for dX, GammaBetaBackward for dgamma/dbeta): dY and X are read twice, dX written once.
bool layer_norm_backward_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  if (!contains(op.name, "layer_norm_backward")) return false;
  const EtArg* dy = nth_tensor(op.inputs, 0);
  const EtArg* x = nth_tensor(op.inputs, 1);
  double reread = (dy ? tensor_bytes(*dy) : 0) + (x ? tensor_bytes(*x) : 0);
  w.bytes = t.in_bytes + t.out_bytes + reread;
  w.in_bytes = t.in_bytes + reread;
  w.flops = t.out_numel * 8.0;
  w.known = t.in_bytes + t.out_bytes > 0;
  w.model = "layer_norm-bwd";
  return true;
}

// Elementwise, reductions, norms, copies: memory traffic of inputs + outputs. In-place ops
// (outputs alias inputs) still write: count outputs.
// Operands of the elementwise kernel (0-dim tensors are scalars the functor captures; a tensor
// list, as aten::cat's, is copied one tensor at a time: two operands) and their dtypes.
void elementwise_shape(const EtOp& op, const OpTraffic& t, OpWork& w) {
  const EtArg* out = nullptr;
  for (auto& a : op.outputs)
    if (a.is_tensor && !a.shape.empty()) { out = &a; break; }
  for (auto& a : op.outputs)  // (else a 0-dim output: a one-element kernel)
    if (!out && a.is_tensor) out = &a;
  if (!out) return;
  double dims = 0, operands = 1;
  for (auto s : out->shape) dims += s > 1 ? 1 : 0;
  bool list = false;
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const EtArg& a = op.inputs[i];
    if (is_out_argument(op, i)) continue;  // (the output)
    if (!a.elems.empty()) list = true;
    if (!a.is_tensor || a.shape.empty()) continue;
    operands += 1;
    if (a.dtype != out->dtype) w.ew_mixed_dtypes = true;
  }
  if (op.name == "aten::copy_") operands -= 1;  // its output is its first input (self)
  w.ew_numel = t.out_numel;
  // (TensorIterator's coalesced dimensions where the trace has strides, else the output's)
  w.ew_dims = op.iter_dims > 0 ? double(op.iter_dims) : std::max(1.0, dims);
  w.ew_operands = list ? 2.0 : std::max(2.0, operands);
  w.ew_access = op.iter_access;
}

void memory_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  elementwise_shape(op, t, w);
  if (contains(op.name, "layer_norm") && !contains(op.name, "backward")) {
    const EtArg* x = nth_tensor(op.inputs, 0);
    const EtArg* weight = nth_tensor(op.inputs, 1);  // (normalized_shape is a list, not a tensor)
    if (weight && !weight->shape.empty()) w.norm_row = numel(*weight);
    else if (x && !x->shape.empty()) w.norm_row = static_cast<double>(x->shape.back());
  }
  w.bytes = t.in_bytes + t.out_bytes;
  w.in_bytes = t.in_bytes;
  w.flops = t.out_numel * (contains(op.name, "norm") || contains(op.name, "softmax") ? 8.0 : 1.0);
  w.known = t.in_bytes + t.out_bytes > 0;
  w.model = "memory";
}

// Embedding backward (EmbeddingBackwardKernel.cu, CUDA): after sorting the indices, one thread per
// (partial segment, feature) sums the gradient rows of its segment (compute_grad_weight), then one
// per (segment, feature) adds the partial sums and scatters them into the weight's gradient
// (sum_and_scatter). Each thread's loads wait on one another, in the order of their SASS
// (validation/sass/embedding_backward.cu): compute_grad_weight the segment count, the segment's
// offsets, then per row the index and the gradient element it picks (4, with one row a segment, as
// token ids drawn from a large vocabulary mostly are: the ET holds no ids); sum_and_scatter the
// count, the partial-sum offsets, the partial sum, the segment's first offset and the index there
// (5). Both launch a thread per index and feature (the segments' upper bound), so their elements
// are the launched threads. One reads the gradient rows and writes their fp32 partial sums, the
// other the reverse. The sort, scan and offset kernels keep the op's even share.
// Up to 3072 indices without scale_grad_by_freq (a position embedding), Embedding.cu runs one
// feature kernel instead (embedding_backward_feature_kernel: a 32 x 32 block per 32 columns, each
// walking every index): per chunk of 32 indices a thread loads its row's gradient element, then,
// after the block's barrier, reads and writes the weight gradient's element (2 waits a chunk),
// and per 1024 indices it loads a batch of them (1).
bool embedding_backward_work(const EtOp& op, const OpTraffic& t, OpWork& w) {
  if (!contains(op.name, "embedding_dense_backward")) return false;
  memory_work(op, t, w);
  const EtArg* grad = nth_tensor(op.inputs, 0);
  const EtArg* ids = nth_tensor(op.inputs, 1);
  double n = ids ? numel(*ids) : 0;
  bool scale = op.inputs.size() > 4 && op.inputs[4].value.is_boolean() && op.inputs[4].value.get<bool>();
  if (n > 0 && n <= 3072 && !scale) {
    w.serial.kernel = "embedding_backward_feature_kernel";
    w.serial.loads = w.serial.loads_warp = 2 * std::ceil(n / 32) + std::ceil(n / 1024);
    w.serial.per_launched_thread = true;
    return true;
  }
  w.serial.kernel = "compute_grad_weight";
  w.serial.loads = w.serial.loads_warp = 4;
  w.serial.kernel2 = "sum_and_scatter";
  w.serial.loads2 = 5;
  w.serial.per_launched_thread = true;
  w.serial.bytes = grad ? numel(*grad) * (std::max<double>(1, static_cast<double>(grad->elem_bytes)) + 4) : 0;
  return true;
}

}  // namespace

OpWork op_work(const EtOp& op) {
  OpWork w;
  w.dtype = op.first_dtype();
  OpTraffic t = op_traffic(op);
  bool done = gemm_work(op, w) || attention_op_work(op, t, w) || conv_work(op, w) || batch_norm_work(op, t, w) || pool_work(op, w) ||
              other_conv_work(op, t, w) || optimizer_work(op, t, w) || nll_loss_work(op, w) ||
              gather_work(op, t, w) || softmax_work(op, t, w) || layer_norm_backward_work(op, t, w) ||
              embedding_backward_work(op, t, w);
  if (!done) memory_work(op, t, w);
  if (w.dtype == Dtype::UNKNOWN) w.dtype = Dtype::FP32;
  return w;
}

void softmax_kernel_bytes(OpWork& w, const std::string& kernel) {
  if (w.smem_row_bytes > 0 && kernel.find("cunn_SoftMax") != std::string::npos &&
      kernel.find("Smem<") != std::string::npos)
    w.bytes = w.smem_row_bytes;
}

OpWork::Serial max_pool_loads(double planes, double ih, double iw, double oh, double ow, const PoolWindow& w,
                            bool backward) {
  OpWork::Serial p;
  p.kernel = "max_pool_";
  pool_loads(pool_trips(ih, oh, w.k[0], w.s[0], w.p[0], w.d[0], backward),
             pool_trips(iw, ow, w.k[1], w.s[1], w.p[1], w.d[1], backward), backward ? 2 : 1, p);
  p.elems = planes * (backward ? ih * iw : oh * ow);
  return p;
}

// (CUDA's limits: 1024 threads per block, block dimensions 1024 x 1024 x 64, grid y and z 65535;
// the NHWC kernels put channels in x, width in y, height in z, BLOCK_STRIDE 2 positions per thread)
std::pair<double, double> max_pool_launch(double n, double c, double ih, double iw, double oh, double ow, bool backward,
                                          bool channels_last) {
  auto last_pow2 = [](double v) { return v >= 1 ? std::exp2(std::floor(std::log2(v))) : 1.0; };
  if (!channels_last) {
    if (backward) return {std::ceil(ih * iw / 256) * std::min(n, 65535.0) * std::min(c, 65535.0), 256};
    return {std::ceil(n * c * oh * ow / 256), 256};
  }
  double h = backward ? ih : oh, w = backward ? iw : ow;
  double bx = std::min(last_pow2(c), 32.0);
  double by = std::min(last_pow2(w), 1024 / bx);
  double bz = std::min({64.0, last_pow2(h), std::floor(1024 / bx / by)});
  bz = std::max(bz, 1.0);
  bx = std::min(last_pow2(c), std::floor(1024 / by / bz));
  double stride_c = std::ceil(c / (bx * 4));
  double grid = n * stride_c * std::min(65535.0, std::ceil(w / (by * 2))) * std::min(65535.0, std::ceil(h / (bz * 2)));
  return {grid, bx * by * bz};
}

}  // namespace orrery
