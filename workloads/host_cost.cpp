// Host cost of a captured step: see workloads/host_cost.h for the model.
#include "workloads/host_cost.h"

#include <algorithm>

#include "hw_models/calibrate.h"

namespace orrery {

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

// Parameters an optimizer step updates: the longest tensor list among the ops below it (the
// fused or foreach kernel's parameter list); 0 when none.
std::size_t step_params(const CapturedStep& st, int i) {
  std::size_t n = 0;
  for (auto& a : st.ops[static_cast<std::size_t>(i)].inputs) n = std::max(n, a.elems.size());
  for (int c : st.ops[static_cast<std::size_t>(i)].children) n = std::max(n, step_params(st, c));
  return n;
}

bool has_descendant(const CapturedStep& st, int i, const std::string& prefix) {
  for (int c : st.ops[static_cast<std::size_t>(i)].children)
    if (st.ops[static_cast<std::size_t>(c)].name.str().rfind(prefix, 0) == 0 || has_descendant(st, c, prefix)) return true;
  return false;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

HostTable host_table_for(const CapturedStep& st, const Accelerator& hw, bool use_bundle) {
  HostTable t;
  t.dispatch = hw.host_dispatch;
  t.op_overhead = hw.p("op_overhead");
  t.launch_cost = hw.p("launch_cost");
  auto rec = [&t] {
    auto it = t.dispatch.find("autograd::record_per_op");
    t.autograd_record = it == t.dispatch.end() ? 0.0 : it->second;
  };
  if (!use_bundle || st.host_dispatch.empty()) {
    rec();
    return t;
  }
  t.speed_ratio = host_speed_ratio(st.host_dispatch, hw.host_dispatch, &t.shared);
  for (auto& [k, v] : t.dispatch) v *= t.speed_ratio;
  for (auto& [k, v] : st.host_dispatch)
    if (!t.dispatch.count(k)) t.dispatch[k] = v;
  t.op_overhead *= t.speed_ratio;
  t.launch_cost *= t.speed_ratio;
  t.source = st.host_dispatch_path;
  rec();
  return t;
}

HostCostModel::HostCostModel(const CapturedStep& st, const Accelerator& hw, bool use_bundle_table)
    : st_(st), table_(host_table_for(st, hw, use_bundle_table)) {
  direct_launches_.assign(st.ops.size(), 0);
  for (auto& d : st.device)  // (a CUDA graph launch is one call, whatever its nodes)
    if (d.op >= 0 && d.graph_node <= 0) direct_launches_[d.op]++;
  memo_.assign(st.ops.size(), -1.0);
  recorded_.assign(st.ops.size(), 0);
  if (table_.autograd_record > 0) find_training_forward();
}

int HostCostModel::count_recorded(int i) const {
  const EtOp& op = st_.ops[static_cast<std::size_t>(i)];
  if (starts_with(op.name.str(), "aten::")) return 1;
  int n = 0;
  for (int c : op.children) n += count_recorded(c);
  return n;
}

void HostCostModel::find_training_forward() {
  // The backward starts at the first autograd engine node (a profiled trace) or, in a trace
  // that records below the engine (orrery emulate), at the first *_backward aten op.
  std::size_t backward = st_.host.size();
  for (std::size_t h = 0; h < st_.host.size(); ++h) {
    if (st_.host[h].op < 0) continue;
    const std::string& n = st_.ops[static_cast<std::size_t>(st_.host[h].op)].name.str();
    if (starts_with(n, "autograd::engine::") || (starts_with(n, "aten::") && n.find("_backward") != std::string::npos)) {
      backward = h;
      break;
    }
  }
  if (backward == st_.host.size()) return;  // no backward pass: inference records nothing
  std::map<std::int64_t, int> last;  // autograd sequence number -> the last top-level op carrying it
  std::vector<int> tops;
  for (std::size_t h = 0; h < backward; ++h) {
    int op = st_.host[h].op;
    if (op < 0 || starts_with(st_.ops[static_cast<std::size_t>(op)].name.str(), "Optimizer.")) continue;
    tops.push_back(op);
    collect_seqs(op, op, last);
  }
  if (last.empty())  // no sequence numbers (orrery emulate's traces): an aten op at Python level each
    for (int op : tops) recorded_[static_cast<std::size_t>(op)] = count_recorded(op);
  for (auto& kv : last) recorded_[static_cast<std::size_t>(kv.second)]++;
}

void HostCostModel::collect_seqs(int i, int top, std::map<std::int64_t, int>& last) const {
  const EtOp& op = st_.ops[static_cast<std::size_t>(i)];
  if (op.autograd_seq >= 0) last[op.autograd_seq] = top;
  for (int c : op.children) collect_seqs(c, top, last);
}

std::string HostCostModel::table_key(int i) const {
  const EtOp& op = st_.ops[i];
  std::string base = table_name(op.name);
  Dtype d = op.first_dtype();
  std::vector<std::string> dts;
  if (d == Dtype::BF16 || d == Dtype::FP16 || d == Dtype::FP8) dts = {"bf16", "fp32"};
  else dts = {"fp32", "bf16"};
  for (auto& dt : dts) {
    std::string k = base + "/" + dt;
    if (table_.dispatch.count(k)) return k;
  }
  return "";
}

double HostCostModel::table_cost(int i) const {
  std::string key = table_key(i);
  return key.empty() ? 0.0 : table_.dispatch.at(key);
}

double HostCostModel::unmeasured_children(int i) const {
  double c = 0;
  // A cast's own _to_copy is what the table's aten::to_dtype entry measured (x.to(dtype) runs it),
  // not an autocast cast on top of it.
  if (table_name(st_.ops[i].name) != "aten::to_dtype")
    for (int ch : st_.ops[i].children) {
      const std::string& n = st_.ops[ch].name.str();
      if (n == "aten::to" || n == "aten::_to_copy") c += op_cost(ch);
    }
  return c + zeroed_scratch(i);
}

double HostCostModel::zeroed_scratch(int i) const {
  double c = 0;
  for (int ch : st_.ops[i].children)
    c += st_.ops[ch].name.str() == "aten::zeros" ? op_cost(ch) : zeroed_scratch(ch);
  return c;
}

double HostCostModel::recursive_cost(int i) const {
  const EtOp& op = st_.ops[i];
  double c = table_.op_overhead + direct_launches_[i] * table_.launch_cost;
  for (int ch : op.children) c += op_cost(ch);
  return c;
}

double HostCostModel::optimizer_cost(int i) const {
  const std::string& n = st_.ops[i].name.str();
  if (!starts_with(n, "Optimizer.step#")) return 0;
  std::string key;
  if (n.find("Adam") != std::string::npos && has_descendant(st_, i, "aten::_fused_adam")) key = "optim::adamw_fused_step_";
  else if (n.find("SGD") != std::string::npos) key = "optim::sgd_momentum_step_";
  else return 0;
  auto t16 = table_.dispatch.find(key + "16_params"), t128 = table_.dispatch.find(key + "128_params");
  if (t16 == table_.dispatch.end()) return 0;
  double per = t16->second / 16, base = 0;  // one measured size: proportional
  if (t128 != table_.dispatch.end() && t128->second > t16->second) {
    per = (t128->second - t16->second) / 112;
    base = t16->second - 16 * per;
  }
  return base + per * static_cast<double>(step_params(st_, i));
}

double HostCostModel::op_cost(int i) const {
  if (memo_[i] >= 0) return memo_[i];
  double t = table_cost(i);
  memo_[i] = t > 0 ? t + unmeasured_children(i) : std::max(recursive_cost(i), optimizer_cost(i));
  return memo_[i];
}

double HostCostModel::item_cost(const HostItem& h) const {
  if (h.op >= 0) return op_cost(h.op) + recorded_[static_cast<std::size_t>(h.op)] * table_.autograd_record;
  // Loose runtime call (outside any op): a sync or a launch by the framework itself.
  double c = 0;
  for (auto& call : h.calls) {
    bool node = call.kind == CallKind::Launch && st_.device[static_cast<std::size_t>(call.device)].graph_node > 0;
    if (!node) c += call.kind == CallKind::Launch ? table_.launch_cost : table_.op_overhead;
  }
  return c;
}

}  // namespace orrery
