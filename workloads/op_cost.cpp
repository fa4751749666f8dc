#include "workloads/op_cost.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "sim/error.h"

namespace orrery {

namespace {

double tensor_bytes(const EtArg& a) {
  double b = 0;
  if (a.is_tensor) b += static_cast<double>(a.numel) * static_cast<double>(a.elem_bytes);
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
  double m = n * pixels, nn = k / groups, kk = cg * taps;
  // forward: x + w read, y written; backward: dgrad (dy, w -> dx) and wgrad (dy, x -> dw).
  double passes = a.backward ? 2 : 1;
  if (a.backward && op.inputs.size() > 10 && op.inputs[10].value.is_array() && op.inputs[10].value.size() >= 2) {
    const auto& mask = op.inputs[10].value;  // [grad_input, grad_weight, grad_bias]
    passes = (mask[0].is_boolean() && mask[0].get<bool>() ? 1 : 0) + (mask[1].is_boolean() && mask[1].get<bool>() ? 1 : 0);
    if (passes == 0) return false;
  }
  w.matrix = true;
  w.m = m;
  w.n = nn;
  w.k = kk;
  w.batch = groups * passes;
  w.flops = 2 * m * nn * kk * groups * passes;
  double xb = static_cast<double>(x->numel) * eb, wb = static_cast<double>(wt->numel) * eb, yb = m * k * eb;
  w.bytes = passes * (xb + wb + yb);
  w.side_bytes = 2 * xb;  // a layout transform (nchwToNhwc) of the input: read + write
  w.known = true;
  w.model = a.backward ? "conv-bwd (dgrad + wgrad)" : "conv";
  return true;
}

OpWork op_work(const EtOp& op) {
  OpWork w;
  w.dtype = op.first_dtype();
  const std::string& n = op.name;
  double in_bytes = 0, out_bytes = 0, out_numel = 0;
  // In-place and out= ops: an input that is also an output (same storage) is read only when the
  // op reads it (add_, mul_), not when it only writes it (fill_, zero_, copy_'s destination).
  std::set<std::int64_t> out_storages;
  std::function<void(const EtArg&)> collect = [&](const EtArg& a) {
    if (a.is_tensor) out_storages.insert(a.storage_id);
    for (auto& e : a.elems) collect(e);
  };
  for (auto& a : op.outputs) {
    out_bytes += tensor_bytes(a);
    out_numel += numel(a);
    collect(a);
  }
  static const std::set<std::string> write_only = {"aten::fill_", "aten::zero_", "aten::copy_", "aten::normal_",
                                                   "aten::uniform_", "aten::random_", "aten::bernoulli_",
                                                   "aten::exponential_", "aten::index_put_", "aten::masked_fill_"};
  bool reads_self = !write_only.count(n) || n == "aten::masked_fill_" || n == "aten::index_put_";
  std::function<double(const EtArg&)> read_bytes = [&](const EtArg& a) -> double {
    double b = 0;
    if (a.is_tensor && !(out_storages.count(a.storage_id) && !reads_self))
      b += static_cast<double>(a.numel) * static_cast<double>(a.elem_bytes);
    for (auto& e : a.elems) b += read_bytes(e);
    return b;
  };
  for (auto& a : op.inputs) in_bytes += read_bytes(a);
  auto gemm = [&](double m, double nn, double k, double batch, const char* model) {
    w.matrix = true;
    w.m = m;
    w.n = nn;
    w.k = k;
    w.batch = batch;
    w.flops = 2 * m * nn * k * batch;
    int eb = dtype_bytes(w.dtype);
    w.bytes = eb * batch * (m * k + k * nn + m * nn);
    w.known = true;
    w.model = model;
  };
  if (n == "aten::mm") {
    auto* a = nth_tensor(op.inputs, 0);
    auto* b = nth_tensor(op.inputs, 1);
    if (a && b) gemm(dim(a, 0), dim(b, 1), dim(a, 1), 1, "mm");
  } else if (n == "aten::addmm") {
    auto* a = nth_tensor(op.inputs, 1);
    auto* b = nth_tensor(op.inputs, 2);
    if (a && b) gemm(dim(a, 0), dim(b, 1), dim(a, 1), 1, "addmm");
  } else if (n == "aten::bmm" || n == "aten::baddbmm") {
    int off = n == "aten::baddbmm" ? 1 : 0;
    auto* a = nth_tensor(op.inputs, off);
    auto* b = nth_tensor(op.inputs, off + 1);
    if (a && b) gemm(dim(a, 1), dim(b, 2), dim(a, 2), dim(a, 0), "bmm");
  } else if (n == "aten::linear" || n == "aten::matmul") {
    auto* a = nth_tensor(op.inputs, 0);
    auto* b = nth_tensor(op.inputs, 1);
    if (a && b && a->shape.size() >= 1) {
      double k = dim(a, -1);
      double m = prod_leading(a, 1);
      double nn = n == "aten::linear" ? dim(b, 0) : dim(b, -1);
      gemm(m, nn, k, 1, "linear");
    }
  } else if (contains(n, "scaled_dot_product") || contains(n, "flash_attention") ||
             contains(n, "efficient_attention") || contains(n, "cudnn_attention")) {
    // q [b, h, s, d], k [b, hk, sk, d]; forward = 2 GEMMs (QK^T, PV); backward = 5 (incl. recompute).
    auto* q = nth_tensor(op.inputs, 0);
    auto* k = nth_tensor(op.inputs, 1);
    bool bwd = contains(n, "backward");
    if (bwd) {  // backward ops take grad_out first
      q = nth_tensor(op.inputs, 1);
      k = nth_tensor(op.inputs, 2);
    }
    if (q && k && q->shape.size() == 4) {
      double b = dim(q, 0), h = dim(q, 1), s = dim(q, 2), d = dim(q, 3), sk = dim(k, 2);
      double f = 4 * b * h * s * sk * d * (bwd ? 2.5 : 1.0);
      bool causal = has_true_bool(op);
      if (causal) f *= 0.5;
      w.flops = f;
      w.attn = AttentionShape{b * h, s, sk, d, causal, bwd};
      w.bytes = in_bytes + out_bytes;
      w.side_bytes = 2 * static_cast<double>(q->numel) * static_cast<double>(std::max<std::int64_t>(2, q->elem_bytes));
      w.attention = true;
      w.known = true;
      w.model = bwd ? "attention-bwd" : "attention-fwd";
    }
  } else if (conv_work(op, w)) {
    // implicit GEMM (above)
  } else if (contains(n, "batch_norm") && !contains(n, "backward") && !contains(n, "stats") &&
             !contains(n, "elemt") && !contains(n, "gather")) {
    // Training batch norm reads x twice (statistics, then normalize) and writes y; eval reads once.
    // The positional `training` flag sits after the 5 tensors (x, weight, bias, running mean, var).
    const EtArg* x = nth_tensor(op.inputs, 0);
    bool training = op.inputs.size() > 5 && op.inputs[5].value.is_boolean() ? op.inputs[5].value.get<bool>() : true;
    double xb = x ? tensor_bytes(*x) : in_bytes;
    w.bytes = (training ? 2 : 1) * xb + (in_bytes - xb) + (out_bytes > 0 ? out_bytes : xb);
    w.flops = (x ? numel(*x) : out_numel) * 8.0;
    w.known = w.bytes > 0;
    w.model = training ? "batch_norm-train" : "batch_norm-eval";
  } else if (contains(n, "batch_norm") && contains(n, "backward")) {
    // Reads dy and x twice (the reductions for dgamma/dbeta, then dx), writes dx.
    w.bytes = 2 * in_bytes + out_bytes;
    w.flops = out_numel * 10.0;
    w.known = in_bytes > 0;
    w.model = "batch_norm-bwd";
  } else if (contains(n, "convolution") && !contains(n, "backward")) {
    auto* x = nth_tensor(op.inputs, 0);
    auto* wt = nth_tensor(op.inputs, 1);
    auto* y = nth_tensor(op.outputs, 0);
    if (x && wt && y && wt->shape.size() >= 3) {
      double kspatial = 1;
      for (size_t i = 2; i < wt->shape.size(); ++i) kspatial *= static_cast<double>(wt->shape[i]);
      double f = 2.0 * static_cast<double>(y->numel) * dim(wt, 1) * kspatial;
      w.flops = f;
      w.bytes = in_bytes + out_bytes;
      w.matrix = true;
      w.known = true;
      w.model = "conv";
    }
  } else if (contains(n, "fused_adam") || contains(n, "_fused_sgd") || contains(n, "_foreach_")) {
    // Multi-tensor optimizer: reads inputs, writes the updated state (in place).
    w.bytes = in_bytes * (contains(n, "adam") ? 7.0 / 4.0 : 2.0);
    w.flops = 10 * in_bytes / std::max(1, dtype_bytes(w.dtype));
    w.known = true;
    w.model = "optimizer";
  } else if (contains(n, "nll_loss")) {
    // Gathers (forward) or scatters (backward, into a pre-zeroed grad) one element per row:
    // traffic is the targets and the touched elements, not the whole logits tensor.
    const EtArg* self = nth_tensor(op.inputs, contains(n, "backward") ? 1 : 0);
    double rows = self && !self->shape.empty() ? prod_leading(self, 1) : 0;
    double small = 0;
    for (auto& a : op.inputs)
      if (&a != self) small += tensor_bytes(a);
    w.bytes = small + 2 * rows * std::max<double>(4, self ? static_cast<double>(self->elem_bytes) : 4);
    w.flops = rows;
    w.known = true;
    w.model = "nll_loss";
  } else if ((n == "aten::gather" || n == "aten::index_select" || n == "aten::embedding" || n == "aten::take_along_dim") &&
             nth_tensor(op.inputs, 0)) {
    // Gathers read only the elements they pick (one per output element) and the indices, not
    // the whole source tensor (an embedding table, the logits).
    const EtArg* src = nth_tensor(op.inputs, 0);
    auto is_output = [&](const EtArg& a) {  // an out= argument is written, not read
      for (auto& o : op.outputs)
        if (a.is_tensor && o.is_tensor && a.tensor_id >= 0 && a.tensor_id == o.tensor_id) return true;
      return false;
    };
    double small = 0;
    for (auto& a : op.inputs)
      if (&a != src && !is_output(a)) small += tensor_bytes(a);
    w.bytes = small + 2 * out_bytes;
    w.flops = out_numel;
    w.known = out_bytes > 0;
    w.model = "gather";
  } else if (contains(n, "softmax") && !contains(n, "backward")) {
    // Softmax over a long row: one pass for the max, one for the sum of exponentials, one to
    // normalize and write (PyTorch's cunn_SoftMaxForward): 3 reads + 1 write.
    w.bytes = 3 * in_bytes + out_bytes;
    w.flops = out_numel * 8.0;
    w.known = in_bytes > 0;
    w.model = "softmax";
  } else if (contains(n, "softmax") && contains(n, "backward")) {
    // grad and output read twice (row sum of grad*output, then the update), grad_in written.
    w.bytes = 2 * in_bytes + out_bytes;
    w.flops = out_numel * 6.0;
    w.known = in_bytes > 0;
    w.model = "softmax-bwd";
  } else {
    // Elementwise, reductions, norms, copies, embedding: memory traffic of inputs + outputs.
    // In-place ops (outputs alias inputs) still write: count outputs.
    w.bytes = in_bytes + out_bytes;
    w.flops = out_numel * (contains(n, "norm") || contains(n, "softmax") ? 8.0 : 1.0);
    w.known = in_bytes + out_bytes > 0;
    w.model = "memory";
  }
  if (w.dtype == Dtype::UNKNOWN) w.dtype = Dtype::FP32;
  return w;
}

// ---------------- host cost ----------------

HostCostModel::HostCostModel(const CapturedStep& st, const Accelerator& hw) : st_(st), hw_(hw) {
  direct_launches_.assign(st.ops.size(), 0);
  for (auto& d : st.device)
    if (d.op >= 0) direct_launches_[d.op]++;
  memo_.assign(st.ops.size(), -1.0);
}

namespace {
// ET op name -> dispatch table op name (the table names what the microbenchmark called).
std::string table_name(const std::string& n) {
  static const std::map<std::string, std::string> alias = {
      {"aten::to", "aten::to_dtype"},
      {"aten::_to_copy", "aten::to_dtype"},
      {"aten::mean", "aten::mean_dim"},
      {"aten::cross_entropy_loss", "aten::cross_entropy"},
      {"aten::contiguous", "aten::contiguous_after_transpose"},
      {"aten::_softmax", "aten::softmax"},
      {"aten::native_layer_norm", "aten::layer_norm"},
      {"aten::unsafe_view", "aten::view"},
      {"aten::_unsafe_view", "aten::view"},
      {"aten::reshape", "aten::view"},
      {"aten::t", "aten::transpose"},
      {"aten::permute", "aten::transpose"},
      {"aten::expand", "aten::view"},
      {"aten::slice", "aten::view"},
      {"aten::select", "aten::view"},
      {"aten::unsqueeze", "aten::view"},
      {"aten::squeeze", "aten::view"},
      {"aten::as_strided", "aten::view"},
      {"aten::detach", "aten::view"},
      {"aten::alias", "aten::view"},
      {"aten::empty_strided", "aten::empty"},
      {"aten::zero_", "aten::fill_"},
      {"aten::ones_like", "aten::zeros_like"},
      {"aten::split_with_sizes", "aten::split"},
      {"aten::chunk", "aten::split"},
  };
  auto it = alias.find(n);
  return it == alias.end() ? n : it->second;
}
}  // namespace

std::string HostCostModel::table_key(int i) const {
  const EtOp& op = st_.ops[i];
  std::string base = table_name(op.name);
  Dtype d = op.first_dtype();
  std::vector<std::string> dts;
  if (d == Dtype::BF16 || d == Dtype::FP16 || d == Dtype::FP8) dts = {"bf16", "fp32"};
  else dts = {"fp32", "bf16"};
  for (auto& dt : dts) {
    std::string k = base + "/" + dt;
    if (hw_.host_dispatch.count(k)) return k;
  }
  return "";
}

double HostCostModel::op_cost(int i) const {
  if (memo_[i] >= 0) return memo_[i];
  const EtOp& op = st_.ops[i];
  double c = 0;
  std::string key = table_key(i);
  if (!key.empty()) {
    c = hw_.host_dispatch.at(key);
  } else {
    c = hw_.p("op_overhead") + direct_launches_[i] * hw_.p("launch_cost");
    for (int ch : op.children) c += op_cost(ch);
  }
  memo_[i] = c;
  return c;
}

double HostCostModel::item_cost(const HostItem& h) const {
  if (h.op >= 0) return op_cost(h.op);
  // Loose runtime call (outside any op): a sync or a launch by the framework itself.
  double c = 0;
  for (auto& call : h.calls) c += call.kind == CallKind::Launch ? hw_.p("launch_cost") : hw_.p("op_overhead");
  return c;
}

}  // namespace orrery
