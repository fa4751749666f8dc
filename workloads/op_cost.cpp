#include "workloads/op_cost.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

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

}  // namespace

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
      if (has_true_bool(op)) f *= 0.5;  // causal
      w.flops = f;
      w.bytes = in_bytes + out_bytes;
      w.side_bytes = 2 * static_cast<double>(q->numel) * static_cast<double>(std::max<std::int64_t>(2, q->elem_bytes));
      w.attention = true;
      w.known = true;
      w.model = bwd ? "attention-bwd" : "attention-fwd";
    }
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
