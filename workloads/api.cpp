// Keyword API (see api.h): options object -> library call -> result object.
#include "workloads/api.h"

#include <cmath>
#include <limits>
#include <set>

#include "hw_models/power.h"
#include "sim/error.h"
#include "sim/units.h"
#include "workloads/collective.h"
#include "workloads/energy.h"
#include "workloads/plan.h"
#include "workloads/replay.h"
#include "workloads/train.h"

namespace orrery::api {
namespace {

// Reads keyword options; every key must be read by someone (done() names the first unread one).
class Kw {
 public:
  explicit Kw(const nlohmann::json& j, std::string cmd) : j_(j), cmd_(std::move(cmd)) {
    if (!j_.is_object()) throw make_error(cmd_, "options", "expected an object of keyword options");
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      const std::string& k = it.key();
      auto dot = k.find('.');
      if (dot != std::string::npos) {
        std::string ns = k.substr(0, dot);
        if (ns != "set" && ns != "sys_set" && ns != "power_set") throw make_error(cmd_, k, "unknown option");
        lists_[ns].push_back(k.substr(dot + 1) + "=" + text(it.value()));
        dotted_[ns].push_back(k);  // read (used) when the command reads its list
      }
    }
  }
  bool has(const std::string& k) const { return j_.contains(k); }
  std::string str(const std::string& k, const std::string& def) {
    used_.insert(k);
    if (j_.contains(k) && j_[k].is_boolean())  // (none of these options is a switch)
      throw make_error(cmd_, k, std::string(j_[k].get<bool>() ? "true" : "false") + " is not a value of this option");
    return j_.contains(k) ? text(j_[k]) : def;
  }
  double num(const std::string& k, double def) {
    used_.insert(k);
    if (!j_.contains(k)) return def;
    const auto& v = j_[k];
    if (v.is_number()) return v.get<double>();
    if (v.is_boolean())  // (true for a valued option is not its value: minbytes=true ran as 1 byte)
      throw make_error(cmd_, k, std::string(v.get<bool>() ? "true" : "false") + " is not a number");
    try {
      size_t pos = 0;
      std::string s = v.get<std::string>();
      double d = std::stod(s, &pos);
      if (pos != s.size()) throw 1;
      return d;
    } catch (...) {
      throw make_error(cmd_, k, "'" + text(v) + "' is not a number");
    }
  }
  // (every integer keyword lands in an int or a count far below one: 2^32 + 8 ran as 8)
  long integer(const std::string& k, long def) {
    double d = num(k, static_cast<double>(def));
    if (!std::isfinite(d) || d != std::floor(d) || std::abs(d) > 1e15) throw make_error(cmd_, k, text(j_[k]) + " is not an integer");
    if (std::abs(d) > static_cast<double>(std::numeric_limits<int>::max()))
      throw make_error(cmd_, k, text(j_[k]) + " is out of range (at most " + std::to_string(std::numeric_limits<int>::max()) + ")");
    return static_cast<long>(d);
  }
  bool flag(const std::string& k) {
    used_.insert(k);
    if (j_.contains(k) && j_[k].is_boolean()) return j_[k].get<bool>();
    return num(k, 0) != 0;
  }
  // "set": list or object, plus the "set.X" keys.
  std::vector<std::string> list(const std::string& k) {
    used_.insert(k);
    std::vector<std::string> out;
    if (j_.contains(k)) {
      const auto& v = j_[k];
      if (v.is_array()) for (auto& x : v) out.push_back(text(x));
      else if (v.is_object()) for (auto it = v.begin(); it != v.end(); ++it) out.push_back(it.key() + "=" + text(it.value()));
      else out.push_back(text(v));
    }
    for (auto& x : lists_[k]) out.push_back(x);
    for (auto& d : dotted_[k]) used_.insert(d);
    return out;
  }
  void done() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!used_.count(it.key())) throw make_error(cmd_, it.key(), "unknown option");
  }
  static std::string text(const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
    if (v.is_number_integer()) return std::to_string(v.get<long long>());
    return v.dump();
  }

 private:
  const nlohmann::json& j_;
  std::string cmd_;
  std::set<std::string> used_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, std::vector<std::string>> dotted_;  // "set.X" keys by namespace
};

struct PowerKw {
  std::string name;
  std::vector<std::string> overrides;
  PowerModel load(const Accelerator& hw) const { return load_power(name, hw, overrides); }
};

PowerKw power_kw(Kw& k) {
  std::vector<std::string> o = k.list("power_set");
  for (const char* p : {"price_gpu_hour", "price_kwh", "pue"})
    if (k.has(p)) {
      double v = k.num(p, 0);
      if (!(v >= 0)) throw make_error(p, Kw::text(v), "must not be negative");
      o.push_back(std::string(p) + "=" + Kw::text(v));
    }
  return {k.str("power", ""), o};
}

void put_energy(nlohmann::json& j, const EnergyReport& e) {
  nlohmann::json ej = e.to_json();
  for (const char* key : {"energy_j", "kwh_per_mtok", "cost_usd", "cost_usd_per_mtok"}) j[key] = ej[key];
  j["avg_power_w_gpu"] = e.gpu_avg_w;
  j["peak_power_w_gpu"] = e.gpu_peak_w;
  j["avg_power_w_node"] = e.node_avg_w;
  j["peak_power_w_node"] = e.node_peak_w;
  j["node_fraction_of_rated"] = e.node_rated_w > 0 ? e.node_avg_w / e.node_rated_w : 0;
  j["energy"] = ej;
}

TrainOptions train_options(Kw& k) {
  TrainOptions o;
  if (!k.has("model")) throw make_error("train", "model", "required (preset name or model.json)");
  o.model = k.str("model", "");
  o.system = k.str("system", "dgx-h100");
  o.nodes = static_cast<int>(k.integer("nodes", 0));
  TrainPlan& p = o.plan;
  p.tp = static_cast<int>(k.integer("tp", 1));
  p.pp = static_cast<int>(k.integer("pp", 1));
  p.vp = static_cast<int>(k.integer("vp", 1));
  p.cp = static_cast<int>(k.integer("cp", 1));
  p.ep = static_cast<int>(k.integer("ep", 1));
  long gpus = k.integer("gpus", 0);
  if (gpus > 0 && !k.has("nodes")) {
    SystemSpec s = load_system_spec(o.system, 0);
    o.nodes = s.fixed_topology ? 0 : static_cast<int>(std::max<long>(1, gpus / s.gpus_per_node));
    // fewer than one node (or than the fixed topology): the job runs on the first GPUs (train --gpus)
    if (gpus < (s.fixed_topology ? s.gpus() : s.gpus_per_node)) o.gpus = static_cast<int>(gpus);
  }
  long dp_def = gpus > 0 ? gpus / std::max(1L, static_cast<long>(p.tp) * p.pp * p.cp) : 1;
  p.dp = static_cast<int>(k.integer("dp", dp_def));
  p.micro_batch = k.integer("micro_batch", 1);
  if (!k.has("global_batch")) throw make_error("train", "global_batch", "required (sequences per iteration)");
  p.global_batch = k.integer("global_batch", 0);
  p.seq = k.integer("seq", 0);
  std::string prec = k.str("precision", "bf16");
  if (prec != "bf16" && prec != "fp8") throw make_error("train", "precision", "expected bf16 or fp8");
  p.precision = prec == "fp8" ? Dtype::FP8 : Dtype::BF16;
  p.optimizer_offload = k.num("optimizer_offload", 0);
  std::string gp = k.str("grad_precision", "fp32");
  if (gp != "fp32" && gp != "bf16") throw make_error("train", "grad_precision", "expected fp32 or bf16");
  p.grad_precision = gp == "bf16" ? Dtype::BF16 : Dtype::FP32;
  p.recompute = parse_recompute(k.str("recompute", "none"));
  p.recompute_layers = static_cast<int>(k.integer("recompute_layers", 0));
  p.embedding_in_split = k.flag("account_for_embedding_in_pipeline_split");
  p.loss_in_split = k.flag("account_for_loss_in_pipeline_split");
  p.attention = parse_attention(k.str("attention", "flash"));
  p.sequence_parallel = k.flag("sequence_parallel") || k.flag("sp");
  p.zero = static_cast<int>(k.integer("zero", 0));
  o.engine = "event";
  o.comm = k.str("comm", "auto");
  o.check_memory = !k.flag("no_memory_check");
  o.hw_overrides = k.list("set");
  o.sys_overrides = k.list("sys_set");
  return o;
}

}  // namespace

nlohmann::json train(const nlohmann::json& kw) {
  Kw k(kw, "train");
  TrainOptions o = train_options(k);
  PowerKw pk = power_kw(k);
  k.done();  // unknown options fail before the run
  TrainResult r = run_training(o);
  Accelerator hw = load_accelerator(r.gpu, o.hw_overrides);
  PowerModel pm = pk.load(hw);
  nlohmann::json full = r.to_json();
  nlohmann::json j;
  j["iteration_time_s"] = r.iteration_time_s;
  j["mfu"] = r.mfu;
  j["hfu"] = r.hfu;
  j["tokens_per_s_per_gpu"] = r.tokens_per_s_per_gpu;
  j["peak_memory_bytes"] = r.peak_memory_bytes;
  j["gpus"] = r.plan.gpus();
  for (auto it = full["breakdown_s"].begin(); it != full["breakdown_s"].end(); ++it) j[it.key() + "_s"] = it.value();
  put_energy(j, train_energy(r, hw, pm));
  j["plan"] = full["plan"];
  j["memory_per_stage"] = full["memory_per_stage"];
  j["layer_kernels"] = full["layer_kernels"]["forward"];
  return j;
}

nlohmann::json replay(const nlohmann::json& kw) {
  Kw k(kw, "replay");
  ReplayOptions o;
  if (!k.has("bundle")) throw make_error("replay", "bundle", "required (capture bundle directory)");
  o.bundle = k.str("bundle", "");
  o.hw = k.str("hw", "h100");
  o.mode = parse_replay_mode(k.str("mode", "measured"));
  o.source_hw = k.str("source_hw", "h100");
  o.overrides = k.list("set");
  o.engine = "event";
  o.system = k.str("system", "dgx-h100");
  o.nodes = static_cast<int>(k.integer("nodes", 0));
  o.scale_dp = static_cast<int>(k.integer("scale_dp", 1));
  o.system_overrides = k.list("sys_set");
  o.gemm_precision = k.str("gemm_precision", "");
  double tokens = k.num("tokens", 0);
  PowerKw pk = power_kw(k);
  k.done();
  ReplayResult r = replay_bundle(o);
  Accelerator hw = load_accelerator(o.hw, o.overrides);
  PowerModel pm = pk.load(hw);
  int gpn = r.ranks > 1 || r.scale_dp > 1 ? load_system_spec(o.system, o.nodes, o.system_overrides).gpus_per_node : 8;
  nlohmann::json full = r.to_json();
  nlohmann::json j;
  for (const char* key : {"step_time_ms", "gpu_busy_ms", "measured_step_time_ms", "error_pct", "peak_memory_bytes"})
    if (full.contains(key)) j[key] = full[key];
  j["step_time_s"] = r.step_time_s;
  j["gpu_energy_j"] = r.energy_j;
  put_energy(j, replay_energy(r, hw, pm, gpn, tokens));
  j["time_by_class_ms"] = full["time_by_class_ms"];
  nlohmann::json rows = nlohmann::json::array();
  for (auto& x : r.kernels)
    rows.push_back({{"name", x.name}, {"class", x.kernel_class}, {"op", x.op}, {"measured_us", x.measured_s * 1e6},
                    {"simulated_us", x.simulated_s * 1e6}, {"flops", x.flops}, {"bytes", x.bytes}, {"bound", x.bound}});
  j["kernels"] = rows;
  return j;
}

nlohmann::json collective(const nlohmann::json& kw) {
  Kw k(kw, "collective");
  coll::CollectiveSpec base;
  base.op = coll::parse_op(k.str("op", "all_reduce"));
  base.algo = coll::parse_algo(k.str("algo", "auto"));
  base.proto = coll::parse_proto(k.str("proto", "auto"));
  base.dtype = parse_dtype(k.str("dtype", "float"));
  if (base.dtype == Dtype::UNKNOWN) throw make_error("collective", "dtype", "unknown data type");
  topo::System sys = topo::load_system(k.str("system", "dgx-h100"), static_cast<int>(k.integer("nodes", 0)), k.list("sys_set"));
  std::vector<double> sizes;
  if (k.has("bytes")) {
    sizes.push_back(static_cast<double>(parse_cli_size(k.str("bytes", ""), "bytes")));
  } else {
    double b = static_cast<double>(parse_cli_size(k.str("minbytes", k.str("b", "8")), "minbytes"));
    double e = static_cast<double>(parse_cli_size(k.str("maxbytes", k.str("e", "8G")), "maxbytes"));
    double f = k.num("stepfactor", k.num("f", 2));
    if (!(f > 1)) throw make_error("collective", "stepfactor", "must be greater than 1");
    for (double s = b; s <= e * (1 + 1e-12); s *= f) sizes.push_back(std::floor(s));
  }
  PowerKw pk = power_kw(k);
  k.done();
  Accelerator hw = load_accelerator(sys.accelerator);
  PowerModel pm = pk.load(hw);
  int n = sys.topo.num_gpus();
  int gpn = sys.topo.gpus_per_node > 0 ? sys.topo.gpus_per_node : n;
  nlohmann::json rows = nlohmann::json::array(), j;
  for (double s : sizes) {
    coll::CollectiveSpec spec = base;
    spec.bytes = std::max(s, 4.0 * n);
    coll::CollectiveResult r = coll::simulate_collective(sys, spec);
    nlohmann::json row = {{"bytes", spec.bytes}, {"time_us", r.time_s * 1e6}, {"algbw_gbps", r.algbw / 1e9},
                          {"busbw_gbps", r.busbw / 1e9}, {"algorithm", coll::algo_name(r.algorithm)},
                          {"protocol", coll::proto_name(r.protocol)}, {"ranks", n}};
    put_energy(row, collective_energy(r, n, gpn, hw, pm));
    row.erase("energy");
    rows.push_back(row);
    j = row;
  }
  j["rows"] = rows;
  return j;
}

nlohmann::json plan(const nlohmann::json& kw) {
  Kw k(kw, "plan");
  PlanOptions o;
  o.model = k.str("model", "");
  o.system = k.str("system", "dgx-h100");
  o.gpus = static_cast<int>(k.integer("gpus", 0));
  o.global_batch = k.integer("global_batch", 0);
  o.seq = k.integer("seq", 0);
  o.top = static_cast<int>(k.integer("top", 5));
  o.max_sims = static_cast<int>(k.integer("max_sims", o.max_sims));
  o.comm = k.str("comm", "auto");
  o.hw_overrides = k.list("set");
  o.sys_overrides = k.list("sys_set");
  for (auto& r : k.list("reference")) {
    auto eq = r.find('=');
    if (eq == std::string::npos) throw make_error("plan", "reference", "expected NAME=tp=..,pp=..");
    o.references.push_back({r.substr(0, eq), parse_plan_spec(r.substr(eq + 1), "reference")});
  }
  k.done();
  if (o.model.empty()) throw make_error("plan", "model", "required");
  return search_plans(o).to_json();
}

nlohmann::json run(const std::string& command, const nlohmann::json& kw) {
  if (command == "train") return train(kw);
  if (command == "replay") return replay(kw);
  if (command == "collective") return collective(kw);
  if (command == "plan") return plan(kw);
  throw make_error("command", command, "unknown (known: train, replay, collective, plan)");
}

}  // namespace orrery::api
