#include "workloads/train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <tuple>

#include "sim/components/plugin.h"
#include "sim/limits.h"
#include "sim/data_files.h"
#include "sim/error.h"
#include "sim/cluster_options.h"
#include "sim/timeline.h"
#include "topology/topology.h"
#include "workloads/collective.h"

namespace orrery {

// ======================================================================== system
const ParamSet& train_system_params() {
  static const ParamSet set(
      "train_system",
      "cluster for `orrery train` (--system dgx-a100|dgx-h100|system.json, section \"params\")",
      {
          {"gpus_per_node", Unit::Count, "8", "GPUs per node (one NVLink domain)", true},
          {"nvlink_busbw", Unit::Bandwidth, "", "achievable NCCL ring bus bandwidth inside a node", true},
          {"nvlink_p2p", Unit::Bandwidth, "", "achievable point-to-point bandwidth inside a node", true},
          {"nic_bandwidth", Unit::Bandwidth, "", "achievable bandwidth of one GPU's NIC (rail-optimized fat tree)", true},
          {"coll_base_latency", Unit::Time, "8.4 us", "per-collective base latency (NCCL ring, Simple)", false},
          {"intra_hop_latency", Unit::Time, "3.4 us", "per ring step inside a node (NVLink)", false},
          {"inter_hop_latency", Unit::Time, "14 us", "per ring step across nodes (InfiniBand)", false},
      });
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {
// Built-in presets (documented public figures; see docs/training.md):
//  dgx-h100: 8 x H100 SXM, NVLink4/NVSwitch: NCCL ring busbw ~370 GB/s (nccl-tests #212);
//            8 x NDR 400 Gb/s, NCCL reaches ~46-48 GB/s per NIC (nccl-tests #290) -> 47 GB/s.
//  dgx-a100: 8 x A100 SXM4 80GB, NVLink3/NVSwitch 300 GB/s per direction: ring busbw ~230 GB/s;
//            8 x HDR 200 Gb/s: ~23 GB/s per NIC.
nlohmann::json builtin_system(const std::string& name) {
  if (name == "dgx-h100")
    return {{"name", "dgx-h100"},
            {"description", "DGX H100: 8 x H100 SXM5, NVSwitch gen3, 8 x NDR 400 Gb/s InfiniBand fat tree"},
            {"gpu", "h100"},
            {"params", {{"gpus_per_node", 8}, {"nvlink_busbw", "370 GB/s"}, {"nvlink_p2p", "370 GB/s"},
                        {"nic_bandwidth", "47 GB/s"}}}};
  if (name == "dgx-a100")
    return {{"name", "dgx-a100"},
            {"description", "DGX A100 80GB: 8 x A100 SXM4, NVSwitch, 8 x HDR 200 Gb/s InfiniBand fat tree"},
            {"gpu", "a100"},
            {"params", {{"gpus_per_node", 8}, {"nvlink_busbw", "230 GB/s"}, {"nvlink_p2p", "230 GB/s"},
                        {"nic_bandwidth", "23 GB/s"}}}};
  return nullptr;
}
}  // namespace

nlohmann::json SystemSpec::to_json() const {
  return {{"name", name},
          {"source", source},
          {"gpu", gpu},
          {"nodes", nodes},
          {"gpus_per_node", gpus_per_node},
          {"fixed_topology", fixed_topology},
          {"nvlink_busbw", format_quantity(nvlink_busbw, Unit::Bandwidth)},
          {"nvlink_p2p", format_quantity(nvlink_p2p, Unit::Bandwidth)},
          {"nic_bandwidth", format_quantity(nic_bandwidth, Unit::Bandwidth)},
          {"coll_base_latency", format_time(coll_base_latency)},
          {"intra_hop_latency", format_time(intra_hop_latency)},
          {"inter_hop_latency", format_time(inter_hop_latency)}};
}

namespace {
// A fabric description (systems/*.json of the topology builders: {"accelerator", "topology":
// {"gpus_per_node", "nvlinks_per_gpu", "nvlink_bandwidth", "nic_bandwidth", ...}}): per-node
// GPU count and GPU preset from it; the built-in comm model's achievable bandwidths from the
// built-in preset of the same name, else derived from the link rates with NCCL's documented
// efficiencies (SM90 NVLink: 20.6 of 25 GB/s per link; NDR NIC: ~47 of 50 GB/s).
SystemSpec from_fabric_json(const nlohmann::json& j, const std::string& where, const std::string& name) {
  SystemSpec s;
  const nlohmann::json& t = j.at("topology");
  s.gpu = j.value("accelerator", "h100");
  s.gpus_per_node = t.contains("gpus_per_node") ? static_cast<int>(parse_quantity(t["gpus_per_node"].is_string() ? t["gpus_per_node"].get<std::string>() : t["gpus_per_node"].dump(), Unit::Count, "gpus_per_node")) : 8;
  nlohmann::json builtin = builtin_system(name);
  nlohmann::json params;
  if (!builtin.is_null()) {
    params = builtin["params"];
  } else {
    auto q = [&](const char* k, Unit u, const char* def) {
      return t.contains(k) ? (t[k].is_number() ? t[k].get<double>() : parse_quantity(t[k].get<std::string>(), u, k))
                           : parse_quantity(def, u, k);
    };
    double link = q("nvlink_bandwidth", Unit::Bandwidth, "25 GB/s");
    double links = q("nvlinks_per_gpu", Unit::Count, "18");
    double nic = q("nic_bandwidth", Unit::Bandwidth, "400 Gb/s");
    params = {{"gpus_per_node", s.gpus_per_node}, {"nvlink_busbw", links * link * (20.6 / 25.0)},
              {"nvlink_p2p", links * link * (20.6 / 25.0)}, {"nic_bandwidth", nic * 0.94}};
  }
  params["gpus_per_node"] = s.gpus_per_node;
  ParamValues v = train_system_params().resolve(params, where + ": derived train_system params");
  s.nvlink_busbw = v.get("nvlink_busbw");
  s.nvlink_p2p = v.get("nvlink_p2p");
  s.nic_bandwidth = v.get("nic_bandwidth");
  s.coll_base_latency = v.get("coll_base_latency");
  s.intra_hop_latency = v.get("intra_hop_latency");
  s.inter_hop_latency = v.get("inter_hop_latency");
  return s;
}
}  // namespace

SystemSpec load_system_spec(const std::string& name_or_path, int nodes, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  if (nodes < 0) throw make_error("--nodes", std::to_string(nodes), "must be at least 1");
  std::string name = fs::path(name_or_path).stem().string();
  // 1. systems/NAME.json of the fabric (or a path to such a file): topology-backed.
  std::string fabric_path;
  if (path_exists(name_or_path) && !is_directory_path(name_or_path)) fabric_path = name_or_path;
  else if (path_exists(topo::systems_dir() + "/" + name_or_path + ".json")) fabric_path = topo::systems_dir() + "/" + name_or_path + ".json";
  nlohmann::json j;
  if (!fabric_path.empty()) {
    j = parse_json_path(fabric_path);
    if (j.is_object() && j.contains("topology")) {
      // Checks every field: one error naming the file and field.
      topo::System built = topo::system_from_json(j, fabric_path, nodes, overrides);
      coll::collective_params().resolve(built.collective, fabric_path + ": collective");  // unknown keys
      SystemSpec s = from_fabric_json(j, fabric_path, json_string_field(j, "name", name, fabric_path));
      s.name = json_string_field(j, "name", name, fabric_path);
      s.source = fabric_path;
      s.fabric = fabric_path;
      s.overrides = overrides;
      const std::string type = j["topology"].value("type", "");
      if (type == "nvswitch") {
        s.nodes = nodes > 0 ? nodes : std::max(1, built.topo.nodes);
      } else {
        s.fixed_topology = true;
        s.nodes = 1;
        s.gpus_per_node = built.topo.num_gpus();
      }
      return s;
    }
  }
  // 2. built-in table, 3. a train-system JSON {"name", "gpu", "params"}.
  if (!overrides.empty())
    throw make_error("--sys-set", overrides.front(),
                     "applies to fabric systems (systems/*.json); " + name_or_path + " is a built-in table or train-system file");
  SystemSpec s;
  s.source = "built-in";
  std::string where = name_or_path;
  if (j.is_null()) j = builtin_system(name_or_path);
  else s.source = fabric_path;
  if (j.is_null())
    throw make_error("--system", name_or_path, "unknown system (built-in: dgx-a100, dgx-h100; systems/*.json; or a system.json path)");
  if (!j.is_object()) throw make_error(where, "", "expected a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "name" && it.key() != "description" && it.key() != "gpu" && it.key() != "params")
      throw make_error(where, it.key(), "unknown system key (known: name, description, gpu, params; or a fabric system with \"topology\")");
  s.name = json_string_field(j, "name", name, where);
  s.gpu = json_string_field(j, "gpu", "h100", where);
  ParamValues v = train_system_params().resolve(j.value("params", nlohmann::json::object()), where + ": params");
  s.gpus_per_node = static_cast<int>(v.get("gpus_per_node"));
  s.nvlink_busbw = v.get("nvlink_busbw");
  s.nvlink_p2p = v.get("nvlink_p2p");
  s.nic_bandwidth = v.get("nic_bandwidth");
  s.coll_base_latency = v.get("coll_base_latency");
  s.intra_hop_latency = v.get("intra_hop_latency");
  s.inter_hop_latency = v.get("inter_hop_latency");
  s.nodes = std::max(1, nodes);
  return s;
}

// ======================================================================== communication
double AlphaBetaComm::time(coll::Op op, double bytes, const CommGroup& g) const {
  if (bytes <= 0) return 0;
  int n = g.size;
  bool inter = g.inter_node();
  if (op == coll::Op::SendRecv) {
    double bw = inter ? s_.nic_bandwidth : s_.nvlink_p2p;
    return s_.coll_base_latency + (inter ? s_.inter_hop_latency : s_.intra_hop_latency) + bytes / bw;
  }
  if (n <= 1) return 0;
  // Bus bandwidth: NVLink inside a node; across nodes each node's ranks of this group drive
  // that many NICs (one per GPU, rail-optimized), capped by NVLink.
  double busbw = s_.nvlink_busbw;
  if (inter) busbw = std::min(s_.nvlink_busbw, s_.nic_bandwidth * std::max(1, g.per_node));
  double hop = inter ? s_.inter_hop_latency : s_.intra_hop_latency;
  double frac = static_cast<double>(n - 1) / n;
  switch (op) {
    case coll::Op::AllReduce: return s_.coll_base_latency + 2.0 * (n - 1) * hop + 2.0 * frac * bytes / busbw;
    case coll::Op::AllGather:
    case coll::Op::ReduceScatter: return s_.coll_base_latency + (n - 1) * hop + frac * bytes / busbw;
    case coll::Op::AllToAll: {
      // Pairwise exchange: intra-node share over NVLink, the rest over the NICs.
      double bw = inter ? std::min(s_.nvlink_busbw, s_.nic_bandwidth) : s_.nvlink_busbw;
      if (inter) {
        double intra_frac = static_cast<double>(g.per_node - 1) / n, inter_frac = static_cast<double>(n - g.per_node) / n;
        return s_.coll_base_latency + hop + std::max(intra_frac * bytes / s_.nvlink_busbw, inter_frac * bytes / bw);
      }
      return s_.coll_base_latency + hop + frac * bytes / bw;
    }
    default: return 0;
  }
}

namespace {
// Adapter onto the fabric's NCCL-style closed-form estimate (workloads/collective.h):
// the group's global ranks follow the Megatron layout (members `stride` apart).
class FabricComm : public CommModel {
 public:
  FabricComm(const SystemSpec& s) : sys_(coll::load_system(s.fabric, s.fixed_topology ? 0 : s.nodes, s.overrides)) {}
  double time(coll::Op op, double bytes, const CommGroup& g) const override {
    if (bytes <= 0) return 0;
    if (op != coll::Op::SendRecv && g.size <= 1) return 0;
    auto key = std::make_tuple(static_cast<int>(op), bytes, g.size, g.stride);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    coll::CollectiveSpec spec;
    spec.op = op;
    spec.bytes = bytes;
    spec.dtype = Dtype::BF16;
    int n = op == coll::Op::SendRecv ? 2 : g.size;
    for (int k = 0; k < n; ++k) spec.ranks.push_back(k * std::max(1, g.stride));
    double t = coll::collective_time_estimate(sys_, spec);
    cache_[key] = t;
    return t;
  }
  std::string name() const override { return "fabric NCCL model (workloads/collective.h, " + sys_.name + ")"; }

 private:
  coll::System sys_;
  mutable std::map<std::tuple<int, double, int, int>, double> cache_;
};
}  // namespace

std::unique_ptr<CommModel> make_comm_model(const SystemSpec& s, const std::string& which) {
  // --sys-set edits the fabric description, which only the fabric model reads: with the built-in
  // table the what-if would silently change nothing.
  auto builtin = [&]() -> std::unique_ptr<CommModel> {
    if (!s.overrides.empty())
      throw make_error("--sys-set", s.overrides.front(),
                       "changes the fabric description, but " + s.name +
                           " is costed by the built-in comm model, which does not read it: add --comm fabric");
    return std::make_unique<AlphaBetaComm>(s);
  };
  if (which == "builtin") return builtin();
  if (which == "fabric") {
    if (s.fabric.empty()) throw make_error("--comm", which, "system " + s.name + " has no fabric description (systems/" + s.name + ".json)");
    return std::make_unique<FabricComm>(s);
  }
  if (which != "auto") throw make_error("--comm", which, "unknown communication model (auto, fabric, builtin)");
  // The fabric's tuner is NCCL's SM90 cost model (NVLink4/NVLS, Hopper ceilings): use it for
  // Hopper GPUs; other GPUs (A100: no NVLS, SM80 ceilings) keep the built-in model.
  bool hopper = s.gpu == "h100" || s.gpu == "h200";
  // A fixed topology (torus, ring, ...) has no NVLink/NIC figures for the built-in model: the
  // fabric prices its groups on the real links.
  if (!s.fabric.empty() && (hopper || s.fixed_topology)) return std::make_unique<FabricComm>(s);
  return builtin();
}

// ======================================================================== plan
Recompute parse_recompute(const std::string& s) {
  if (s == "none") return Recompute::None;
  if (s == "selective") return Recompute::Selective;
  if (s == "full") return Recompute::Full;
  throw make_error("--recompute", s, "expected none, selective or full");
}
const char* recompute_name(Recompute r) {
  switch (r) {
    case Recompute::None: return "none";
    case Recompute::Selective: return "selective";
    case Recompute::Full: return "full";
  }
  return "?";
}
AttentionImpl parse_attention(const std::string& s) {
  if (s == "flash") return AttentionImpl::Flash;
  if (s == "unfused") return AttentionImpl::Unfused;
  throw make_error("--attention", s, "expected flash or unfused");
}
const char* attention_name(AttentionImpl a) { return a == AttentionImpl::Flash ? "flash" : "unfused"; }

nlohmann::json TrainPlan::to_json() const {
  return {{"tp", tp}, {"pp", pp}, {"vp", vp}, {"dp", dp}, {"cp", cp}, {"ep", ep},
          {"sequence_parallel", sequence_parallel}, {"zero", zero}, {"micro_batch", micro_batch},
          {"global_batch", global_batch}, {"seq", seq}, {"micro_batches", micro_batches()},
          {"precision", dtype_name(precision)}, {"grad_precision", dtype_name(grad_precision)}, {"recompute", recompute_name(recompute)},
          {"attention", attention_name(attention)}, {"embedding_in_pipeline_split", embedding_in_split},
          {"loss_in_pipeline_split", loss_in_split}, {"recompute_layers", recompute_layers},
          {"optimizer_offload", optimizer_offload}, {"gpus", gpus()}};
}

double chunk_layers(const ModelSpec& m, const TrainPlan& p, int vs) {
  const int P = p.pp * p.vp;
  double units = static_cast<double>(m.layers) + p.embedding_in_split + p.loss_in_split;
  return units / P - (vs == 0 && p.embedding_in_split) - (vs == P - 1 && p.loss_in_split);
}

double recomputed_layers(const ModelSpec& m, const TrainPlan& p, int vs) {
  double n = chunk_layers(m, p, vs);
  return p.recompute == Recompute::Full && p.recompute_layers > 0 ? std::min<double>(n, p.recompute_layers) : n;
}

namespace {
// Sum of per-virtual-stage counts over pipeline rank `stage`'s chunks (vs = c x PP + stage).
template <class PerChunk>
double over_stage_chunks(const TrainPlan& p, int stage, PerChunk per_vs) {
  double n = 0;
  for (int c = 0; c < p.vp; ++c) n += per_vs(c * p.pp + stage);
  return n;
}
}  // namespace

double stage_layers(const ModelSpec& m, const TrainPlan& p, int stage) {
  return over_stage_chunks(p, stage, [&](int vs) { return chunk_layers(m, p, vs); });
}

double stage_recomputed_layers(const ModelSpec& m, const TrainPlan& p, int stage) {
  return over_stage_chunks(p, stage, [&](int vs) { return recomputed_layers(m, p, vs); });
}

void validate_plan(const ModelSpec& m, const TrainPlan& p, const SystemSpec& s) {
  auto S = [](long x) { return std::to_string(x); };
  auto pos = [&](const char* flag, long v) {
    if (v < 1) throw make_error(flag, S(v), "must be at least 1");
  };
  pos("--tp", p.tp); pos("--pp", p.pp); pos("--vp", p.vp); pos("--dp", p.dp); pos("--cp", p.cp); pos("--ep", p.ep);
  pos("--micro-batch", p.micro_batch); pos("--global-batch", p.global_batch); pos("--seq", p.seq);
  if (p.zero < 0 || p.zero > 3) throw make_error("--zero", S(p.zero), "expected 0, 1, 2 or 3");
  if (!(p.optimizer_offload >= 0 && p.optimizer_offload <= 1))
    throw make_error("--optimizer-offload", format_number(p.optimizer_offload), "a fraction from 0 to 1");
  if (p.recompute_layers < 0 || (p.recompute_layers > 0 && p.recompute != Recompute::Full))
    throw make_error("--recompute-layers", S(p.recompute_layers), "needs --recompute full (and is at least 1)");
  if (p.precision != Dtype::BF16 && p.precision != Dtype::FP8)
    throw make_error("--precision", dtype_name(p.precision), "expected bf16 or fp8");
  long gpus = static_cast<long>(p.tp) * p.pp * p.dp * p.cp;
  // --gpus N: the job runs on the first N GPUs of one node or of a fixed topology (an NVLink
  // domain, a torus...); without it the plan fills the system.
  if (s.job_gpus > 0) {
    if (!(s.fixed_topology || s.nodes == 1))
      throw make_error("--gpus", S(s.job_gpus), "runs a job on part of one node or fixed topology, not of " + S(s.nodes) +
                                                    " nodes (whole nodes: --nodes)");
    if (s.job_gpus > s.gpus()) throw make_error("--gpus", S(s.job_gpus), "exceeds the system's " + S(s.gpus()) + " GPUs");
    if (gpus != s.job_gpus)
      throw make_error("--tp/--pp/--dp/--cp", "TP*PP*DP*CP = " + S(p.tp) + "*" + S(p.pp) + "*" + S(p.dp) + "*" + S(p.cp) + " = " + S(gpus),
                       "does not match --gpus " + S(s.job_gpus));
  } else if (gpus != s.gpus()) {
    throw make_error("--tp/--pp/--dp/--cp", "TP*PP*DP*CP = " + S(p.tp) + "*" + S(p.pp) + "*" + S(p.dp) + "*" + S(p.cp) + " = " + S(gpus),
                     "does not match the GPU count " + S(s.gpus()) + " (" + S(s.nodes) + " nodes x " + S(s.gpus_per_node) +
                         " GPUs; --gpus N runs on part of one node)");
  }
  if (m.heads % p.tp != 0)
    throw make_error("--tp", S(p.tp), "attention heads " + S(m.heads) + " of " + m.name + " are not divisible by TP");
  if (m.kv_heads % p.tp != 0 && p.tp % m.kv_heads != 0)
    throw make_error("--tp", S(p.tp), "kv_heads " + S(m.kv_heads) + " of " + m.name + " neither divides nor is divisible by TP");
  if (m.ffn % p.tp != 0) throw make_error("--tp", S(p.tp), "ffn " + S(m.ffn) + " of " + m.name + " is not divisible by TP");
  const long P = static_cast<long>(p.pp) * p.vp, units = m.layers + p.embedding_in_split + p.loss_in_split;
  if (units % P != 0)
    throw make_error("--pp/--vp", S(p.pp) + "*" + S(p.vp),
                     "does not divide the " + S(m.layers) + " layers of " + m.name +
                         (units != m.layers ? " plus the " + S(units - m.layers) + " accounted for embedding/loss"
                                            : std::string(" (Megatron's --account-for-embedding-in-pipeline-split and "
                                                          "--account-for-loss-in-pipeline-split count them as layers)")));
  if (p.global_batch % (p.micro_batch * p.dp) != 0)
    throw make_error("--global-batch", S(p.global_batch),
                     "not divisible by micro-batch x DP = " + S(p.micro_batch) + " x " + S(p.dp));
  // Simulation size bound (docs/robustness.md): the schedule holds every micro-batch of every stage.
  if (p.micro_batches() * p.vp > 65536)
    throw make_error("--global-batch", S(p.global_batch),
                     S(p.micro_batches()) + " micro-batches per iteration (global batch / (micro-batch x DP)); at most 65536 are simulated");
  if (p.vp > 1) {
    if (p.pp < 2) throw make_error("--vp", S(p.vp), "interleaved virtual stages need --pp >= 2");
    if (p.micro_batches() % p.pp != 0)
      throw make_error("--vp", S(p.vp), "interleaved schedule needs micro-batches (" + S(p.micro_batches()) +
                                            ") divisible by PP (" + S(p.pp) + ")");
  }
  if (p.seq % p.cp != 0) throw make_error("--cp", S(p.cp), "does not divide the sequence length " + S(p.seq));
  if (p.sequence_parallel && (p.seq / p.cp) % p.tp != 0)
    throw make_error("--sequence-parallel", S(p.seq / p.cp), "sequence per CP rank not divisible by TP " + S(p.tp));
  if (p.ep > 1) {
    if (!m.moe()) throw make_error("--ep", S(p.ep), m.name + " is not a mixture-of-experts model");
    if (m.experts % p.ep != 0) throw make_error("--ep", S(p.ep), "does not divide the " + S(m.experts) + " experts");
    if (p.dp % p.ep != 0) throw make_error("--ep", S(p.ep), "must divide DP " + S(p.dp) + " (experts are sharded inside DP)");
  }
}

Groups make_groups(const TrainPlan& p, int gpn) {
  Groups g;
  auto in_node = [&](int size, int stride) { return std::max(1, std::min(size, gpn / std::max(1, stride))); };
  g.tp = {p.tp, std::min(p.tp, gpn), 1};
  g.cp = {p.cp, in_node(p.cp, p.tp), p.tp};
  // Gradients reduce, and ZeRO / the distributed optimizer shard, over DP x CP: the CP ranks hold
  // the same weights and each sees part of every sequence (Megatron's data-parallel group with
  // context parallelism). TP innermost, then CP and DP: one stride-TP group.
  g.dp = {p.dp * p.cp, in_node(p.dp * p.cp, p.tp), p.tp};
  g.ep = {p.ep, in_node(p.ep, p.tp * p.cp), p.tp * p.cp};
  g.expert_dp = {p.dp / p.ep, in_node(p.dp / p.ep, p.tp * p.cp * p.ep), p.tp * p.cp * p.ep};
  int stride = p.tp * p.cp * p.dp;
  g.pp = {2, stride >= gpn ? 1 : 2, stride};
  return g;
}

// ======================================================================== per-layer costs
double LayerCosts::total(const std::vector<Kernel>& ks, double gap) {
  double t = 0;
  for (auto& k : ks) t += k.time + (k.comm() ? 0.0 : gap);
  return t;
}

namespace {
// The kernels of one rank's share of a transformer layer, the embedding and the output layer,
// from the model's shapes and the plan's parallelism. Owns the per-rank shapes (tokens, heads,
// widths) and one builder per block; each appends its kernels, in issue order, to a list.
struct CostBuilder {
  const ModelSpec& m;
  const TrainPlan& p;
  const Accelerator& hw;
  const CommModel& comm;
  const Groups& g;
  Dtype gd;  // GEMM dtype
  const double e = 2;  // activation bytes
  const double t, b, sl, s, h, a, dh, kvd, f, V;
  const double T;          // tokens of this rank's micro-batch
  const bool sp;           // sequence parallelism
  const double Tn;         // tokens seen by norms / residual
  const double qkv_n, f1;  // QKV and first MLP GEMM widths per rank
  const double act_bytes;  // one full activation tensor

  CostBuilder(const ModelSpec& m_, const TrainPlan& p_, const Accelerator& hw_, const CommModel& comm_, const Groups& g_)
      : m(m_), p(p_), hw(hw_), comm(comm_), g(g_), gd(p_.precision == Dtype::FP8 ? Dtype::FP8 : Dtype::BF16),
        t(p_.tp), b(static_cast<double>(p_.micro_batch)), sl(static_cast<double>(p_.seq / p_.cp)),
        s(static_cast<double>(p_.seq)), h(static_cast<double>(m_.hidden)), a(static_cast<double>(m_.heads)),
        dh(static_cast<double>(m_.head_dim())), kvd(static_cast<double>(m_.kv_dim())), f(static_cast<double>(m_.ffn)),
        V(static_cast<double>(m_.vocab)), T(b * sl), sp(p_.sequence_parallel && p_.tp > 1), Tn(sp ? T / t : T),
        qkv_n((h + 2 * kvd) / t), f1((m_.swiglu ? 2 * f : f) / t), act_bytes(T * h * e) {}

  Kernel gemm(const std::string& name, double M, double N, double K, double batch = 1) const {
    return gemm_as(gd, name, M, N, K, batch);
  }
  Kernel gemm_as(Dtype d, const std::string& name, double M, double N, double K, double batch = 1) const {
    Kernel k{name, "gemm", 2 * M * N * K * batch, dtype_bytes(d) * batch * (M * K + K * N + M * N), 0};
    k.time = hw.gemm_time(M, N, K, d, batch);
    return k;
  }
  // fp8 (Transformer Engine): a GEMM operand that is an activation or a gradient is quantized by
  // its own kernels first. Per-tensor current scaling (Megatron-Bridge's FP8-CS recipes): an amax
  // pass reads the bf16 tensor, then a cast-transpose reads it again and writes the fp8 copy and
  // its transpose (Hopper's fp8 GEMMs take one layout; the other GEMM of the pair needs the
  // transpose): 2e + 2 bytes per element. A gradient is quantized once for its dgrad and wgrad
  // GEMMs. Weights are quantized once per step (TE keeps them across micro-batches): not counted.
  void quantize(std::vector<Kernel>& v, const std::string& what, double elements) const {
    if (gd == Dtype::FP8) v.push_back(mem("fp8_quantize(" + what + ")", "elementwise", elements * (2 * e + 2)));
  }
  // Megatron keeps main gradients (fp32 by default) and accumulates each micro-batch's weight
  // gradients into them (gradient_accumulation_fusion: the wgrad GEMM's epilogue adds into the
  // buffer): a read and a write of this rank's main gradient per weight element, per micro-batch.
  void accumulate_grads(std::vector<Kernel>& v, const std::string& what, double weights) const {
    v.push_back(mem("main_grad_accumulate(" + what + ")", "elementwise", weights * 2 * p.grad_bytes()));
  }
  // Rotary position embedding (Megatron's fused RoPE kernel): reads and writes this rank's Q and K.
  void rope(std::vector<Kernel>& v, const std::string& name) const {
    if (m.rope) v.push_back(mem(name, "elementwise", 2 * T * (h + kvd) / t * e));
  }
  Kernel mem(const std::string& name, const std::string& cls, double bytes, double flops = 0) const {
    Kernel k{name, cls, flops, bytes, 0};
    k.time = hw.memory_time(bytes);
    return k;
  }
  Kernel coll(const std::string& name, const std::string& cls, coll::Op op, double bytes, const CommGroup& grp) const {
    Kernel k{name, cls, 0, bytes, 0};
    k.op = op;
    k.time = comm.time(op, bytes, grp);
    return k;
  }
  // A batched attention GEMM, always bf16 (the scores and values products).
  Kernel attn_bmm(const std::string& name, double M, double N, double K, double batch) const {
    Kernel k = gemm(name, M, N, K, batch);
    k.cls = "attention";
    k.time = hw.gemm_time(M, N, K, Dtype::BF16, batch);
    return k;
  }

  void tp_in(std::vector<Kernel>& v, const std::string& what) const {  // before a column-parallel GEMM
    if (p.tp > 1 && sp) v.push_back(coll("tp_all_gather(" + what + ")", "tp", coll::Op::AllGather, act_bytes, g.tp));
  }
  void tp_out(std::vector<Kernel>& v, const std::string& what) const {  // after a row-parallel GEMM
    if (p.tp <= 1) return;
    if (sp) v.push_back(coll("tp_reduce_scatter(" + what + ")", "tp", coll::Op::ReduceScatter, act_bytes, g.tp));
    else v.push_back(coll("tp_all_reduce(" + what + ")", "tp", coll::Op::AllReduce, act_bytes, g.tp));
  }
  // Backward of a row-parallel GEMM's output collective: SP all-gathers the gradient (the mirror
  // of the reduce-scatter); without SP nothing (identity).
  void tp_bwd_in(std::vector<Kernel>& v, const std::string& what) const {
    if (p.tp > 1 && sp) v.push_back(coll("tp_all_gather(" + what + "_grad)", "tp", coll::Op::AllGather, act_bytes, g.tp));
  }
  // Backward of a column-parallel GEMM's input: all-reduce (or reduce-scatter with SP) the input
  // gradient. With SP the forward all-gather of the input is repeated for the weight gradient;
  // Megatron overlaps it with the data-gradient GEMM (not on the critical path).
  void tp_bwd_out(std::vector<Kernel>& v, const std::string& what) const {
    if (p.tp <= 1) return;
    if (sp) v.push_back(coll("tp_reduce_scatter(" + what + "_input_grad)", "tp", coll::Op::ReduceScatter, act_bytes, g.tp));
    else v.push_back(coll("tp_all_reduce(" + what + "_input_grad)", "tp", coll::Op::AllReduce, act_bytes, g.tp));
  }
  Kernel norm(const std::string& name) const { return mem(name, "norm", 2 * Tn * h * e, 5 * Tn * h); }
  Kernel norm_bwd(const std::string& name) const { return mem(name, "norm", 4 * Tn * h * e, 10 * Tn * h); }
  Kernel residual(const std::string& name) const { return mem(name, "elementwise", Tn * h * (3 * e + 1)); }
  Kernel residual_bwd(const std::string& name) const { return mem(name, "elementwise", Tn * h * (2 * e + 1)); }

  static double attn_time(const std::vector<Kernel>& v) {
    double x = 0;
    for (auto& k : v) if (k.cls == "attention") x += k.time;
    return x;
  }
  void attn_core_fwd(std::vector<Kernel>& v) const;
  void attn_core_bwd(std::vector<Kernel>& v) const;
  void cp_exchange(std::vector<Kernel>& v, double mult, double overlap_with) const;
  void mlp_fwd(std::vector<Kernel>& v) const;
  void mlp_bwd(std::vector<Kernel>& v) const;
  void layer_fwd(std::vector<Kernel>& F) const;
  void layer_bwd(std::vector<Kernel>& Bw) const;
  void recompute(LayerCosts& c) const;
  void embedding_and_head(LayerCosts& c) const;
};

// Attention core (forward), per rank: a/t heads, local queries sl, keys s (CP: all keys).
void CostBuilder::attn_core_fwd(std::vector<Kernel>& v) const {
  double heads_l = a / t;
  if (p.attention == AttentionImpl::Flash) {
    double flops = 4 * b * sl * s * dh * heads_l * 0.5;  // causal: half of the score matrix
    double bytes = e * T * (2 * h + 2 * kvd) / t;
    AttentionShape shape{b * heads_l, sl, s, dh, true, false};
    Kernel k{"flash_attention_fwd", "attention", flops, bytes, hw.attention_time(flops, bytes, Dtype::BF16, &shape)};
    v.push_back(k);
    return;
  }
  v.push_back(attn_bmm("attn_scores_bmm", sl, s, dh, b * heads_l));
  // Megatron: fused causal scale+mask+softmax (reads the lower triangle, writes the whole
  // row), then a separate dropout (reads probs, writes output and a 1-byte mask).
  const double sc = b * heads_l * sl * s;
  v.push_back(mem("scaled_masked_softmax", "elementwise", sc * (0.5 * e + e)));
  v.push_back(mem("attention_dropout", "elementwise", sc * (2 * e + 1)));
  v.push_back(attn_bmm("attn_values_bmm", sl, dh, s, b * heads_l));
}

// Attention core (backward): flash's one kernel, or the unfused GEMMs, dropout and softmax.
void CostBuilder::attn_core_bwd(std::vector<Kernel>& core) const {
  double heads_l = a / t;
  if (p.attention == AttentionImpl::Flash) {
    double flops = 2.5 * 4 * b * sl * s * dh * heads_l * 0.5;
    double bytes = 2 * e * T * (2 * h + 2 * kvd) / t;
    AttentionShape shape{b * heads_l, sl, s, dh, true, true};
    core.push_back(Kernel{"flash_attention_bwd", "attention", flops, bytes, hw.attention_time(flops, bytes, Dtype::BF16, &shape)});
    return;
  }
  for (const char* n : {"attn_values_bmm_dgrad", "attn_values_bmm_wgrad"}) core.push_back(attn_bmm(n, sl, s, dh, b * heads_l));
  const double sc = b * heads_l * sl * s;
  core.push_back(mem("attention_dropout_bwd", "elementwise", sc * (2 * e + 1)));      // grad, mask -> grad
  core.push_back(mem("scaled_masked_softmax_bwd", "elementwise", sc * (0.5 * e + 0.5 * e + e)));  // grad, probs (lower triangle) -> grad
  for (const char* n : {"attn_scores_bmm_dgrad_q", "attn_scores_bmm_dgrad_k"}) core.push_back(attn_bmm(n, sl, dh, s, b * heads_l));
}

// Ring attention: K and V chunks pass around the CP ring (cp-1 steps), overlapped with the
// attention kernels; only the excess is on the critical path.
void CostBuilder::cp_exchange(std::vector<Kernel>& v, double mult, double overlap_with) const {
  if (p.cp <= 1) return;
  double bytes = (p.cp - 1) * mult * T * 2 * kvd / t * e;
  double tc = (p.cp - 1) * comm.time(coll::Op::SendRecv, bytes / (p.cp - 1), g.cp);
  Kernel k{"cp_ring_kv_exchange", "cp", 0, bytes, std::max(0.0, tc - overlap_with)};
  k.op = coll::Op::AllGather;
  v.push_back(k);
}

// MLP (dense or MoE), forward.
void CostBuilder::mlp_fwd(std::vector<Kernel>& v) const {
  if (!m.moe()) {
    quantize(v, "mlp_fc1_input", Tn * h);
    v.push_back(gemm("mlp_fc1_gemm", T, f1, h));
    v.push_back(mem(m.swiglu ? "swiglu" : "gelu", "elementwise", T * (f1 + f / t) * e));
    quantize(v, "mlp_fc2_input", T * f / t);
    v.push_back(gemm("mlp_fc2_gemm", T, h, f / t));
    return;
  }
  double E = static_cast<double>(m.experts), k = static_cast<double>(m.top_k);
  double El = E / p.ep;
  double me = T * k / El;  // tokens per local expert (balanced routing)
  v.push_back(gemm("router_gemm", T, E, h));
  v.push_back(mem("router_topk", "elementwise", T * E * 4 * 2));
  if (p.ep > 1) v.push_back(coll("ep_all_to_all(dispatch)", "ep", coll::Op::AllToAll, T * k * h * e, g.ep));
  quantize(v, "expert_fc1_input", T * k * h);
  v.push_back(gemm("expert_fc1_grouped_gemm", me, f1, h, El));
  v.push_back(mem(m.swiglu ? "expert_swiglu" : "expert_gelu", "elementwise", T * k * (f1 + f / t) * e));
  quantize(v, "expert_fc2_input", T * k * f / t);
  v.push_back(gemm("expert_fc2_grouped_gemm", me, h, f / t, El));
  if (p.ep > 1) v.push_back(coll("ep_all_to_all(combine)", "ep", coll::Op::AllToAll, T * k * h * e, g.ep));
  v.push_back(mem("expert_combine", "elementwise", T * k * h * e + T * h * e));
}

// MLP (dense or MoE), backward.
void CostBuilder::mlp_bwd(std::vector<Kernel>& v) const {
  if (!m.moe()) {
    quantize(v, "mlp_fc2_output_grad", T * h);
    v.push_back(gemm("mlp_fc2_dgrad", T, f / t, h));
    v.push_back(gemm("mlp_fc2_wgrad", f / t, h, T));
    v.push_back(mem(m.swiglu ? "swiglu_bwd" : "gelu_bwd", "elementwise", T * (2 * f1 + f / t) * e));
    quantize(v, "mlp_fc1_output_grad", T * f1);
    v.push_back(gemm("mlp_fc1_dgrad", T, h, f1));
    v.push_back(gemm("mlp_fc1_wgrad", h, f1, T));
    return;
  }
  double E = static_cast<double>(m.experts), k = static_cast<double>(m.top_k);
  double El = E / p.ep, me = T * k / El;
  v.push_back(mem("expert_combine_bwd", "elementwise", 2 * T * k * h * e));
  if (p.ep > 1) v.push_back(coll("ep_all_to_all(combine_bwd)", "ep", coll::Op::AllToAll, T * k * h * e, g.ep));
  quantize(v, "expert_fc2_output_grad", T * k * h);
  v.push_back(gemm("expert_fc2_dgrad", me, f / t, h, El));
  v.push_back(gemm("expert_fc2_wgrad", f / t, h, me, El));
  v.push_back(mem(m.swiglu ? "expert_swiglu_bwd" : "expert_gelu_bwd", "elementwise", T * k * (2 * f1 + f / t) * e));
  quantize(v, "expert_fc1_output_grad", T * k * f1);
  v.push_back(gemm("expert_fc1_dgrad", me, h, f1, El));
  v.push_back(gemm("expert_fc1_wgrad", h, f1, me, El));
  if (p.ep > 1) v.push_back(coll("ep_all_to_all(dispatch_bwd)", "ep", coll::Op::AllToAll, T * k * h * e, g.ep));
  v.push_back(gemm("router_dgrad", T, h, E));
  v.push_back(gemm("router_wgrad", h, E, T));
}

// One transformer layer, forward.
void CostBuilder::layer_fwd(std::vector<Kernel>& F) const {
  F.push_back(norm("attn_norm"));
  tp_in(F, "attn");
  quantize(F, "qkv_input", Tn * h);
  F.push_back(gemm("qkv_gemm", T, qkv_n, h));
  rope(F, "rope");
  {
    std::vector<Kernel> core;
    attn_core_fwd(core);
    double at = attn_time(core);
    F.insert(F.end(), core.begin(), core.end());
    cp_exchange(F, 1.0, at);
  }
  quantize(F, "attn_out_input", T * h / t);
  F.push_back(gemm("attn_out_gemm", T, h, h / t));
  tp_out(F, "attn");
  F.push_back(residual("dropout_residual_attn"));
  F.push_back(norm("mlp_norm"));
  tp_in(F, "mlp");
  mlp_fwd(F);
  tp_out(F, "mlp");
  F.push_back(residual("dropout_residual_mlp"));
}

// Recomputation before the backward of a layer: the whole forward (full), or the attention core
// (selective, Korthikanti et al.: QK^T, softmax, dropout, AV); flash attention already recomputes
// the score matrix inside its backward kernel.
void CostBuilder::recompute(LayerCosts& c) const {
  if (p.recompute == Recompute::Full) {
    c.layer_recompute = c.layer_fwd;
    for (auto& k : c.layer_recompute) k.name = "recompute:" + k.name;
  } else if (p.recompute == Recompute::Selective && p.attention == AttentionImpl::Unfused) {
    attn_core_fwd(c.layer_recompute);
    for (auto& k : c.layer_recompute) k.name = "recompute:" + k.name;
  }
}

// One transformer layer, backward (reverse order).
void CostBuilder::layer_bwd(std::vector<Kernel>& Bw) const {
  Bw.push_back(residual_bwd("dropout_residual_mlp_bwd"));
  tp_bwd_in(Bw, "mlp");
  mlp_bwd(Bw);
  tp_bwd_out(Bw, "mlp");
  Bw.push_back(norm_bwd("mlp_norm_bwd"));
  Bw.push_back(residual_bwd("dropout_residual_attn_bwd"));
  tp_bwd_in(Bw, "attn");
  quantize(Bw, "attn_out_output_grad", T * h);
  Bw.push_back(gemm("attn_out_dgrad", T, h / t, h));
  Bw.push_back(gemm("attn_out_wgrad", h / t, h, T));
  {
    std::vector<Kernel> core;
    attn_core_bwd(core);
    double at = attn_time(core);
    Bw.insert(Bw.end(), core.begin(), core.end());
    cp_exchange(Bw, 2.0, at);  // dK, dV travel back around the ring
  }
  rope(Bw, "rope_bwd");
  quantize(Bw, "qkv_output_grad", T * qkv_n);
  Bw.push_back(gemm("qkv_dgrad", T, h, qkv_n));
  Bw.push_back(gemm("qkv_wgrad", h, qkv_n, T));
  tp_bwd_out(Bw, "attn");
  Bw.push_back(norm_bwd("attn_norm_bwd"));
  double experts_local = m.moe() ? static_cast<double>(m.experts) / p.ep : 1.0;
  accumulate_grads(Bw, "layer", (m.attention_params() + experts_local * m.mlp_params_per_expert()) / t + m.router_params());
}

// Embedding (first virtual stage) and output layer with the loss (last), forward and backward.
void CostBuilder::embedding_and_head(LayerCosts& c) const {
  c.embed_fwd.push_back(mem("embedding_lookup", "elementwise", 2 * T * h * e / t));
  tp_out(c.embed_fwd, "embedding");
  c.embed_bwd.push_back(mem("embedding_grad", "elementwise", 2 * T * h * e / t + T * h * e));

  c.head_fwd.push_back(norm("final_norm"));
  tp_in(c.head_fwd, "lm_head");
  // Megatron's output layer is a plain ColumnParallelLinear, outside Transformer Engine's fp8
  // autocast: bf16 whatever --precision says.
  c.head_fwd.push_back(gemm_as(Dtype::BF16, "lm_head_gemm", T, V / t, h));
  c.head_fwd.push_back(mem("cross_entropy", "elementwise", T * V / t * (e + 4)));
  if (p.tp > 1) c.head_fwd.push_back(coll("tp_all_reduce(loss)", "tp", coll::Op::AllReduce, 3 * T * 4, g.tp));
  c.head_bwd.push_back(mem("cross_entropy_bwd", "elementwise", T * V / t * (4 + e)));
  c.head_bwd.push_back(gemm_as(Dtype::BF16, "lm_head_dgrad", T, h, V / t));
  c.head_bwd.push_back(gemm_as(Dtype::BF16, "lm_head_wgrad", h, V / t, T));
  accumulate_grads(c.head_bwd, "lm_head", V / t * h);
  tp_bwd_out(c.head_bwd, "lm_head");
  c.head_bwd.push_back(norm_bwd("final_norm_bwd"));
}
}  // namespace

LayerCosts layer_costs(const ModelSpec& m, const TrainPlan& p, const Accelerator& hw, const CommModel& comm,
                       const Groups& g) {
  const CostBuilder B(m, p, hw, comm, g);
  LayerCosts c;
  c.kernel_gap = hw.p("kernel_gap");
  B.layer_fwd(c.layer_fwd);
  B.recompute(c);
  B.layer_bwd(c.layer_bwd);
  B.embedding_and_head(c);
  return c;
}

// ======================================================================== memory
nlohmann::json MemoryBreakdown::to_json() const {
  return {{"params", params},
          {"weights_bytes", weights},
          {"gradients_bytes", gradients},
          {"optimizer_bytes", optimizer},
          {"optimizer_host_bytes", optimizer_host},
          {"activations_bytes", activations},
          {"transient_bytes", transient},
          {"inflight_layers", inflight_layers},
          {"total_bytes", total()},
          {"total", format_bytes(total())}};
}

void model_state_bytes(double P, int dp, int zero, double grad_bytes, double* w, double* gr, double* o) {
  double d = std::max(1, dp);
  *w = 2 * P / (zero >= 3 ? d : 1);
  *gr = grad_bytes * P / (zero >= 2 ? d : 1);
  *o = 12 * P / (zero >= 1 ? d : 1);
}

double activation_bytes_per_layer(const ModelSpec& m, const TrainPlan& p) {
  const double t = p.tp, b = static_cast<double>(p.micro_batch), s = static_cast<double>(p.seq / p.cp);
  const double sk = static_cast<double>(p.seq);  // keys per query (CP: the whole sequence)
  const double h = static_cast<double>(m.hidden), a = static_cast<double>(m.heads), f = static_cast<double>(m.ffn);
  const double r = static_cast<double>(m.kv_dim()) / h, k = static_cast<double>(m.top_k);
  const bool sp = p.sequence_parallel && p.tp > 1;
  const double sbh = s * b * h;
  if (p.recompute == Recompute::Full) return 2 * sbh / (sp ? t : 1);  // the layer's input only
  // Korthikanti et al. eq. (1)-(2): replicated part 10sbh (norm inputs, GEMM inputs, dropout
  // masks), TP-split part: Q, K, V, attention output (4 + 4r) sbh, MLP 4sbf (GeLU) / 6sbf
  // (SwiGLU) per routed expert, and 5as^2b for the unfused score matrix (softmax output,
  // dropout mask and output) unless recomputed (selective) or never stored (flash).
  double repl = 10 * sbh;
  double split = (4 + 4 * r) * sbh + (m.swiglu ? 6 : 4) * s * b * f * k;
  // Without dropout (Llama recipes) no masks are stored: 1 byte per element after attention and
  // after the MLP (2sbh of the replicated part).
  if (!m.dropout) repl -= 2 * sbh;
  // fp8 (Transformer Engine): the inputs of the four GEMMs are saved for backward as fp8 copies,
  // 1 byte instead of 2: QKV and FC1 inputs (replicated part, 2 x sbh saved), the attention
  // output into the projection (sbh) and the MLP output into FC2 (sbf per routed expert).
  if (p.precision == Dtype::FP8) {
    repl -= 2 * sbh;
    split -= sbh + s * b * f * k;
  }
  if (p.attention == AttentionImpl::Unfused && p.recompute == Recompute::None) split += 5 * a * s * sk * b;
  if (p.attention == AttentionImpl::Flash) split += 4 * a * s * b;  // softmax statistics (fp32)
  return (sp ? repl / t : repl) + split / t;
}

long inflight_chunks(const TrainPlan& p, int stage) {
  long m = p.micro_batches();
  if (p.vp <= 1) return std::min<long>(p.pp - stage, m);
  long warm = static_cast<long>(p.pp - stage - 1) * 2 + static_cast<long>(p.vp - 1) * p.pp;
  return std::min<long>(warm + 1, m * p.vp);
}

MemoryBreakdown stage_memory(const ModelSpec& m, const TrainPlan& p, int stage, long chunks) {
  MemoryBreakdown mb;
  const double t = p.tp;
  const double lps = stage_layers(m, p, stage);
  double dense_layer = m.attention_params() + m.router_params() + m.norm_params();
  double expert_layer = static_cast<double>(m.experts) * m.mlp_params_per_expert();
  if (!m.moe()) { dense_layer += expert_layer; expert_layer = 0; }
  double dense = lps * dense_layer / t;
  bool first = stage == 0, last = stage == p.pp - 1;
  if (first) dense += m.embedding_params() / t;
  if (last) dense += (m.tied_embeddings ? (p.pp > 1 ? m.embedding_params() : 0.0) : m.output_params()) / t +
                     static_cast<double>(m.hidden) / t;
  double experts = lps * expert_layer / (t * p.ep);
  mb.params = dense + experts;
  double w, gr, o, w2 = 0, g2 = 0, o2 = 0;
  model_state_bytes(dense, p.dp * p.cp, p.zero, p.grad_bytes(), &w, &gr, &o);  // (sharded over DP x CP)
  if (experts > 0) model_state_bytes(experts, p.dp * p.cp / p.ep, p.zero, p.grad_bytes(), &w2, &g2, &o2);
  mb.weights = w + w2;
  mb.gradients = gr + g2;
  mb.optimizer_host = (o + o2) * p.optimizer_offload;
  mb.optimizer = (o + o2) - mb.optimizer_host;
  double layers_per_chunk = lps / p.vp;
  mb.inflight_layers = static_cast<double>(chunks) * layers_per_chunk;
  mb.activations = mb.inflight_layers * activation_bytes_per_layer(m, p);
  if (p.recompute == Recompute::Full && p.recompute_layers > 0) {  // the rest of each chunk stores all
    TrainPlan q = p;
    q.recompute = Recompute::None;
    double rc = std::min<double>(layers_per_chunk, p.recompute_layers);
    mb.activations = static_cast<double>(chunks) *
                     (rc * activation_bytes_per_layer(m, p) + (layers_per_chunk - rc) * activation_bytes_per_layer(m, q));
  }
  // Transients: the fp32 logits of the output layer (last stage), one layer's full activations
  // while it is recomputed (full recompute), ZeRO-3 gathered parameters of two layers (current
  // and prefetched, as FSDP gathers layer by layer; the schedule charges a chunk's gather per op).
  const double b = static_cast<double>(p.micro_batch), s = static_cast<double>(p.seq / p.cp);
  double tr = 0;
  if (last) tr += 4 * s * b * static_cast<double>(m.vocab) / t;
  if (p.recompute == Recompute::Full) {
    TrainPlan q = p;
    q.recompute = Recompute::Selective;
    tr += activation_bytes_per_layer(m, q);
  }
  if (p.zero >= 3) tr += 2 * 2 * (dense_layer + expert_layer / p.ep) / t;  // current + prefetched layer
  mb.transient = tr;
  return mb;
}

// ======================================================================== schedule
std::vector<PipelineOp> stage_op_order(int p, int v, long m, int stage) {
  std::vector<PipelineOp> ops;
  if (v <= 1) {
    long warm = std::min<long>(p - stage - 1, m);
    long f = 0, bk = 0;
    for (; f < warm; ++f) ops.push_back({stage, 0, f, true});
    while (f < m) {
      ops.push_back({stage, 0, f++, true});
      ops.push_back({stage, 0, bk++, false});
    }
    while (bk < m) ops.push_back({stage, 0, bk++, false});
    return ops;
  }
  // Megatron interleaved 1F1B: groups of p micro-batches cycle through the v chunks.
  long total = m * v;
  auto chunk_of = [&](long k, bool fwd) {
    long c = (k % (static_cast<long>(p) * v)) / p;
    return static_cast<int>(fwd ? c : v - 1 - c);
  };
  auto mb_of = [&](long k) { return (k / (static_cast<long>(p) * v)) * p + k % p; };
  long warm = std::min<long>(static_cast<long>(p - stage - 1) * 2 + static_cast<long>(v - 1) * p, total);
  long f = 0, bk = 0;
  for (; f < warm; ++f) ops.push_back({stage, chunk_of(f, true), mb_of(f), true});
  while (f < total) {
    ops.push_back({stage, chunk_of(f, true), mb_of(f), true});
    ++f;
    ops.push_back({stage, chunk_of(bk, false), mb_of(bk), false});
    ++bk;
  }
  while (bk < total) {
    ops.push_back({stage, chunk_of(bk, false), mb_of(bk), false});
    ++bk;
  }
  return ops;
}

namespace {
// One pipeline-parallel step on the event core. Each pipeline rank's compute stream runs its ops
// in schedule order (stage_op_order) once their input has arrived (activations forward, gradients
// backward, p2p latency between ranks); its DP stream runs gradient reductions and ZeRO-3 parameter
// gathers in FIFO order. Owns the per-rank state and the arrival flags; fills a PipelineRun.
class PipelineSim {
 public:
  PipelineSim(const PipelineSpec& sp, EventCore& core)
      : sp_(sp), core_(core), p_(sp.p), m_(sp.m), P_(sp.p * sp.v), st_(sp.p),
        f_arr_(static_cast<size_t>(P_) * m_, 0), b_arr_(static_cast<size_t>(P_) * m_, 0),
        zero3_(!sp.gather_s.empty()), p2p_(to_ps(sp.p2p_s)) {
    run_.stages.resize(p_);
    for (int i = 0; i < p_; ++i) {
      st_[i].order = stage_op_order(p_, sp.v, m_, i);
      st_[i].bwd_done_per_chunk.assign(sp.v, 0);
      st_[i].gather_ready.assign(st_[i].order.size(), -1);
    }
    for (long j = 0; j < m_; ++j) f_arr_[idx(0, j)] = 1;
  }

  PipelineRun simulate() {
    for (int i = 0; i < p_; ++i) core_.at(0, [this, i] { try_start(i); });
    core_.run();
    finish_stages();
    run_.events = core_.events_processed();
    return std::move(run_);
  }

 private:
  struct StageState {
    std::vector<PipelineOp> order;
    size_t next = 0;
    bool busy = false;
    long inflight = 0;
    Ps last_end = 0;
    // DP stream
    Ps dp_free = 0;
    std::vector<Ps> gather_ready;  // per op index (ZeRO-3)
    std::vector<long> bwd_done_per_chunk;
  };

  size_t idx(int vs, long mb) const { return static_cast<size_t>(vs) * m_ + mb; }

  // DP stream: FIFO per stage; returns the end time of a task issued now.
  Ps dp_issue(int i, int chunk, double dur, const std::string& name) {
    Ps start = std::max(core_.now(), st_[i].dp_free);
    Ps end = add_ps(start, to_ps(dur));
    st_[i].dp_free = end;
    if (sp_.record) run_.dp_tasks.push_back({i, chunk, name, to_s(start), to_s(end)});
    return end;
  }

  void issue_gather(int i, size_t k) {  // ZeRO-3 prefetch of op k's parameters
    if (!zero3_ || k >= st_[i].order.size() || st_[i].gather_ready[k] >= 0) return;
    const PipelineOp& op = st_[i].order[k];
    int vs = op.chunk * p_ + i;
    Ps end = dp_issue(i, op.chunk, sp_.gather_s[vs], "zero3_param_all_gather");
    st_[i].gather_ready[k] = end;
    core_.at(end, [this, i] { try_start(i); });
  }

  // Starts stage i's next op when it is free, the op's input has arrived and (ZeRO-3) its
  // parameters are gathered.
  void try_start(int i) {
    StageState& S = st_[i];
    if (S.busy || S.next >= S.order.size()) return;
    const PipelineOp& op = S.order[S.next];
    int vs = op.chunk * p_ + i;
    bool ready = op.fwd ? f_arr_[idx(vs, op.mb)] : b_arr_[idx(vs, op.mb)];
    if (!ready) return;
    if (zero3_) {
      issue_gather(i, S.next);
      if (S.gather_ready[S.next] > core_.now()) return;  // woken by the gather's completion
    }
    S.busy = true;
    Ps start = core_.now();
    if (start > S.last_end) run_.stages[i].idle += to_s(start - S.last_end);
    double dur = op.fwd ? sp_.fwd_s[vs] : sp_.bwd_s[vs];
    if (op.fwd) {
      S.inflight++;
      run_.stages[i].peak_inflight = std::max(run_.stages[i].peak_inflight, S.inflight);
    }
    size_t k = S.next;
    if (zero3_) issue_gather(i, k + 1);  // prefetch the next op's parameters
    core_.at(add_ps(start, to_ps(dur)), [this, i, k, start, vs] { op_done(i, k, start, vs); });
  }

  // Op k of stage i (virtual stage vs) has finished: its output goes to the next (forward) or
  // previous (backward) virtual stage, its gradients to the DP stream; the stage starts its next op.
  void op_done(int i, size_t k, Ps start, int vs) {
    StageState& S2 = st_[i];
    PipelineOp done = S2.order[k];
    Ps now = core_.now();
    S2.busy = false;
    S2.next = k + 1;
    S2.last_end = now;
    run_.stages[i].busy += to_s(now - start);
    if (sp_.record) {
      done.start = to_s(start);
      done.end = to_s(now);
      run_.ops.push_back(done);
    }
    if (done.fwd) {
      if (vs + 1 < P_) {
        int ni = (vs + 1) % p_;
        Ps lat = (ni == i) ? 0 : p2p_;
        core_.at(now + lat, [this, vs, ni, mb = done.mb] {
          f_arr_[idx(vs + 1, mb)] = 1;
          try_start(ni);
        });
      } else {
        b_arr_[idx(vs, done.mb)] = 1;  // loss computed: this virtual stage's backward may start
      }
    } else {
      S2.inflight--;
      if (vs > 0) {
        int ni = (vs - 1) % p_;
        Ps lat = (ni == i) ? 0 : p2p_;
        core_.at(now + lat, [this, vs, ni, mb = done.mb] {
          b_arr_[idx(vs - 1, mb)] = 1;
          try_start(ni);
        });
      }
      // Gradient reduction over DP.
      if (!sp_.dp_reduce_s.empty()) {
        if (sp_.reduce_every_microbatch) {
          dp_issue(i, done.chunk, sp_.dp_reduce_s[vs], "dp_reduce_scatter(grads)");
        } else if (++S2.bwd_done_per_chunk[done.chunk] == m_) {
          dp_issue(i, done.chunk, sp_.dp_reduce_s[vs], "dp_reduce(grads)");
        }
      }
    }
    try_start(i);
  }

  // Per stage: compute end, DP end, optimizer and post-step parameter gather; the makespan. A
  // stage with ops left is a deadlocked schedule (an error).
  void finish_stages() {
    for (int i = 0; i < p_; ++i) {
      if (st_[i].next != st_[i].order.size()) throw Error("simulate_pipeline: schedule deadlocked at stage " + std::to_string(i));
      StageStats& S = run_.stages[i];
      S.compute_end = to_s(st_[i].last_end);
      S.dp_end = std::max(S.compute_end, to_s(st_[i].dp_free));
      double opt = sp_.optimizer_s.empty() ? 0 : sp_.optimizer_s[i];
      double pg = sp_.post_gather_s.empty() ? 0 : sp_.post_gather_s[i];
      S.end = S.dp_end + opt + pg;
      if (sp_.record && opt > 0) run_.dp_tasks.push_back({i, -1, "optimizer_step", S.dp_end, S.dp_end + opt});
      if (sp_.record && pg > 0) run_.dp_tasks.push_back({i, -1, "dp_all_gather(params)", S.dp_end + opt, S.end});
      run_.makespan = std::max(run_.makespan, S.end);
    }
  }

  const PipelineSpec& sp_;
  EventCore& core_;
  const int p_;
  const long m_;
  const int P_;
  PipelineRun run_;
  std::vector<StageState> st_;
  // arrival flags: activations for F(vs, mb) / gradients for B(vs, mb)
  std::vector<char> f_arr_, b_arr_;
  const bool zero3_;
  const Ps p2p_;
};
}  // namespace

PipelineRun simulate_pipeline(const PipelineSpec& sp, EventCore& core) {
  const int P = sp.p * sp.v;
  if (static_cast<int>(sp.fwd_s.size()) != P || static_cast<int>(sp.bwd_s.size()) != P)
    throw Error("simulate_pipeline: fwd_s/bwd_s must have p*v entries");
  return PipelineSim(sp, core).simulate();
}

// ======================================================================== the whole run
nlohmann::json TrainResult::to_json() const {
  nlohmann::json j;
  j["model"] = model.to_json();
  j["system"] = system.to_json();
  j["plan"] = plan.to_json();
  j["gpu"] = gpu;
  j["comm_model"] = comm_model;
  j["iteration_time_s"] = iteration_time_s;
  j["tokens_per_s_per_gpu"] = tokens_per_s_per_gpu;
  j["mfu"] = mfu;
  j["hfu"] = hfu;
  j["model_flops_per_iteration"] = model_flops;
  j["hardware_flops_per_iteration"] = hardware_flops;
  j["breakdown_s"] = {{"compute", compute_s},       {"exposed_tp", tp_exposed_s}, {"exposed_cp", cp_exposed_s},
                      {"exposed_ep", ep_exposed_s}, {"exposed_pp", pp_exposed_s}, {"pipeline_bubble", bubble_s},
                      {"exposed_dp", dp_exposed_s}, {"optimizer", optimizer_s}};
  j["bubble_fraction"] = bubble_fraction;
  j["peak_memory_bytes"] = peak_memory_bytes;
  j["peak_memory"] = format_bytes(peak_memory_bytes);
  j["hbm_capacity_bytes"] = hbm_capacity;
  nlohmann::json mem = nlohmann::json::array();
  for (auto& m : memory) mem.push_back(m.to_json());
  j["memory_per_stage"] = mem;
  j["micro_batches"] = micro_batches;
  j["sim_events"] = sim_events;  // (wall time stays out: the JSON is deterministic)
  if (simulated_ranks > 0) {
    nlohmann::json e = exec.to_json();
    e["symmetric"] = symmetric;
    j["cluster"] = e;
  }
  auto ks = [&](const std::vector<Kernel>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (auto& k : v) a.push_back({{"name", k.name}, {"class", k.cls}, {"flops", k.flops}, {"bytes", k.bytes}, {"time_s", k.time}});
    return a;
  };
  j["layer_kernels"] = {{"forward", ks(costs.layer_fwd)}, {"recompute", ks(costs.layer_recompute)}, {"backward", ks(costs.layer_bwd)}};
  return j;
}

namespace {

// What both executions of a plan share: validated plan, memory (rejecting plans that don't fit),
// per-layer costs, the parameters each virtual stage reduces over DP and each pipeline rank's
// optimizer time.
struct Prepared {
  TrainPlan p;
  Groups g;
  int P = 1;
  std::vector<double> lpc;            // per virtual stage: transformer layers
  std::vector<double> dense, expert;  // per virtual stage: parameters reduced over DP / expert DP
  std::vector<double> optimizer_s, post_gather_params;  // per pipeline rank
};

// A pipeline rank's micro-batches through its layers alone must fit the simulator's time base: a
// model file whose sizes make a step last months is an error naming it, not a graph node's range.
void check_step_in_range(const ModelSpec& m, const TrainPlan& p, const LayerCosts& c) {
  double layer = LayerCosts::total(c.layer_fwd, c.kernel_gap) + LayerCosts::total(c.layer_bwd, c.kernel_gap) +
                 LayerCosts::total(c.layer_recompute, c.kernel_gap);
  double step = layer * std::ceil(static_cast<double>(m.layers) / p.pp) * static_cast<double>(p.micro_batches());
  if (step < kMaxSimSeconds) return;
  throw make_error(m.source_path.empty() ? "--model " + m.name : m.source_path, "layers",
                   std::to_string(m.layers) + " layers of this size take " + format_time(step, 3) +
                       " a step, beyond the simulator's range (about 104 days): a size (layers, hidden, ffn, seq) "
                       "or the batch is implausibly large");
}

double peak_stage_memory(const ModelSpec& m, const TrainPlan& p) {
  double peak = 0;
  for (int i = 0; i < p.pp; ++i) peak = std::max(peak, stage_memory(m, p, i, inflight_chunks(p, i)).total());
  return peak;
}

// What a plan that does not fit can change without touching its parallel layout or its global
// batch, cheapest first (sequence parallelism and the distributed optimizer cost little time, a
// smaller micro-batch some GEMM efficiency, the optimizer offload a host step, recomputation a
// share of the forward): the cheapest set of them that makes it fit, with the peak it gives, or a
// pointer to `orrery plan` when none does.
std::string memory_remedy(const ModelSpec& m, const TrainPlan& p, const SystemSpec& s, const Accelerator& hw) {
  const double capacity = hw.p("hbm_capacity");
  struct Change {
    std::string flags;
    int cost;  // rank of the step time it adds (sequence parallelism ~nothing, full recomputation ~a third)
    std::function<void(TrainPlan&)> apply;
    bool recompute = false;  // (one recomputation granularity at a time)
  };
  std::vector<Change> changes;
  if (p.tp > 1 && !p.sequence_parallel)
    changes.push_back({"--sequence-parallel", 1, [](TrainPlan& q) { q.sequence_parallel = true; }});
  if (p.zero < 1 && p.dp * p.cp > 1) changes.push_back({"--zero 1", 1, [](TrainPlan& q) { q.zero = 1; }});
  if (p.micro_batch > 1) changes.push_back({"--micro-batch 1", 2, [](TrainPlan& q) { q.micro_batch = 1; }});
  if (p.recompute == Recompute::None)
    changes.push_back({"--recompute selective", 3, [](TrainPlan& q) { q.recompute = Recompute::Selective; }, true});
  if (p.optimizer_offload < 1 && hw.p("host_memory_bandwidth") > 0)  // (a chip with no host figure refuses it)
    changes.push_back({"--optimizer-offload 1", 5, [](TrainPlan& q) { q.optimizer_offload = 1; }});
  if (p.recompute != Recompute::Full || p.recompute_layers != 0)
    changes.push_back({p.recompute == Recompute::Full ? "--recompute full without --recompute-layers" : "--recompute full", 8,
                       [](TrainPlan& q) {
                         q.recompute = Recompute::Full;
                         q.recompute_layers = 0;
                       },
                       true});
  const int n = static_cast<int>(changes.size());
  std::vector<std::pair<int, int>> tries;  // (cost, mask), cheapest first
  for (int mask = 1; mask < (1 << n); ++mask) {
    int cost = 0, recomputes = 0;
    for (int i = 0; i < n; ++i)
      if (mask >> i & 1) cost += changes[i].cost, recomputes += changes[i].recompute;
    if (recomputes <= 1) tries.emplace_back(cost, mask);
  }
  std::sort(tries.begin(), tries.end());
  for (auto [cost, mask] : tries) {
    TrainPlan q = p;
    std::string flags;
    for (int i = 0; i < n; ++i)
      if (mask >> i & 1) {
        changes[i].apply(q);
        flags += (flags.empty() ? "" : " ") + changes[i].flags;
      }
    try {
      validate_plan(m, q, s);
    } catch (const std::exception&) {
      continue;
    }
    double peak = peak_stage_memory(m, q);
    if (peak <= capacity) return "; it fits with " + flags + " (" + format_bytes(peak) + ")";
  }
  return "; no change of --sequence-parallel, --zero, --recompute, --optimizer-offload or --micro-batch makes it fit: more TP/PP, "
         "or `orrery plan` searches the layouts that do";
}

// The host's share of an offloaded optimizer step for `params` parameters of one GPU: their
// gradients down the host link, Adam on the CPU (memory-bound: read the gradient and master/m/v,
// write master/m/v, at the GPU's share of its node's host memory bandwidth), the updated weights
// back up in the model's 2 bytes. Megatron-core overlaps the copies with the CPU step parameter
// group by group (--overlap-cpu-optimizer-d2h-h2d): the slowest of the three, plus one round trip.
double offload_step_time(const Accelerator& hw, double params, double grad_bytes) {
  if (!(params > 0)) return 0;
  double down = params * grad_bytes / hw.p("host_link_bandwidth"), up = params * 2 / hw.p("host_link_bandwidth");
  double cpu = params * (grad_bytes + 12 + 12) / hw.p("host_memory_bandwidth");
  return std::max({down, cpu, up}) + 2 * hw.p("host_link_latency");
}

Prepared prepare(TrainResult& r, const ModelSpec& m, const SystemSpec& s, const TrainPlan& p0, const Accelerator& hw,
                 const CommModel& comm, bool check_memory) {
  Prepared x;
  x.p = p0;
  TrainPlan& p = x.p;
  if (p.seq == 0) p.seq = m.seq;
  // Sequence parallelism splits activations over the TP group: at TP 1 it is off, as Megatron-LM
  // turns it off, so the result's plan (printed, and in its config) says what ran.
  if (p.tp == 1) p.sequence_parallel = false;
  validate_plan(m, p, s);
  if (p.precision != Dtype::BF16) hw.require_matrix_engine(p.precision, "--precision", dtype_name(p.precision));
  if (p.optimizer_offload > 0 && !(hw.p("host_memory_bandwidth") > 0))
    throw make_error("--optimizer-offload", format_number(p.optimizer_offload),
                     "host_memory_bandwidth is 0 for the " + hw.name + " (" + hw.source_path +
                         " gives no figure, or --set zeroed it): the CPU step would never end");
  r.model = m;
  r.system = s;
  r.plan = p;
  r.gpu = hw.name;
  r.comm_model = comm.name();
  r.hbm_capacity = hw.p("hbm_capacity");
  r.micro_batches = p.micro_batches();
  x.g = make_groups(p, s.gpus_per_node);
  for (int i = 0; i < p.pp; ++i) {
    r.memory.push_back(stage_memory(m, p, i, inflight_chunks(p, i)));
    r.peak_memory_bytes = std::max(r.peak_memory_bytes, r.memory.back().total());
  }
  if (check_memory && r.peak_memory_bytes > r.hbm_capacity) {
    int worst = 0;
    for (int i = 0; i < p.pp; ++i) if (r.memory[i].total() > r.memory[worst].total()) worst = i;
    const MemoryBreakdown& w = r.memory[worst];
    throw make_error("plan", "memory",
                     "does not fit: pipeline stage " + std::to_string(worst) + " needs " + format_bytes(w.total()) +
                         " per GPU (weights " + format_bytes(w.weights) + ", gradients " + format_bytes(w.gradients) +
                         ", optimizer " + format_bytes(w.optimizer) + ", activations " + format_bytes(w.activations) +
                         " for " + std::to_string(static_cast<long>(w.inflight_layers)) + " layers in flight, transient " +
                         format_bytes(w.transient) + ") > " + format_bytes(r.hbm_capacity) + " HBM of " + hw.name +
                         memory_remedy(m, p, s, hw));
  }
  r.costs = layer_costs(m, p, hw, comm, x.g);
  check_step_in_range(m, p, r.costs);
  x.P = p.pp * p.vp;
  double dense_layer = m.attention_params() + m.router_params() + m.norm_params();
  double expert_layer = m.moe() ? static_cast<double>(m.experts) * m.mlp_params_per_expert() : 0;
  if (!m.moe()) dense_layer += m.mlp_params_per_expert();
  for (int vs = 0; vs < x.P; ++vs) {
    x.lpc.push_back(chunk_layers(m, p, vs));
    double chunk_dense = x.lpc[vs] * dense_layer / p.tp, chunk_expert = x.lpc[vs] * expert_layer / (p.tp * p.ep);
    double extra = 0;
    if (vs == 0) extra += m.embedding_params() / p.tp;
    if (vs == x.P - 1) extra += (m.tied_embeddings ? (p.pp > 1 ? m.embedding_params() : 0.0) : m.output_params()) / p.tp;
    x.dense.push_back(chunk_dense + extra);
    x.expert.push_back(chunk_expert);
  }
  for (int i = 0; i < p.pp; ++i) {
    const MemoryBreakdown& mb = r.memory[i];
    const double local = (mb.optimizer + mb.optimizer_host) / 12.0;  // parameters this GPU updates
    const double f = p.optimizer_offload, gb = p.grad_bytes();
    // Megatron's mixed-precision step, pass by pass, per updated parameter: grad-norm (read
    // grad), Adam (read grad + master/m/v 12, write master/m/v 12), copy of the fp32 master into
    // the bf16 model weights (read 4, write 2); then the whole local gradient buffer is zeroed
    // for the next iteration (write grad). The offloaded fraction's Adam and copy run on the host
    // (offload_step_time), beside the GPU's own share.
    double bytes = local * gb + local * (1 - f) * ((gb + 24) + 6) + mb.gradients;
    x.optimizer_s.push_back(std::max(hw.memory_time(bytes), offload_step_time(hw, local * f, gb)));
    // ZeRO-1/2 post-step gather: all of this rank's parameters over DP (MoE expert part
    // approximated with the dense DP group).
    x.post_gather_params.push_back((p.zero == 1 || p.zero == 2) ? mb.params : 0);
  }
  return x;
}

// Throughput and utilization from the iteration time.
void finish_result(TrainResult& r, const ModelSpec& m, const Accelerator& hw) {
  const TrainPlan& p = r.plan;
  double tokens = static_cast<double>(p.global_batch) * static_cast<double>(p.seq);
  r.tokens_per_s_per_gpu = tokens / r.iteration_time_s / p.gpus();
  r.model_flops = m.model_flops_per_token(p.seq) * tokens;
  double extra = 0;  // recomputation FLOPs (whole job)
  for (auto& k : r.costs.layer_recompute) extra += k.flops;
  double rc_layers = 0;
  for (int i = 0; i < p.pp; ++i) rc_layers += stage_recomputed_layers(m, p, i);
  r.hardware_flops = r.model_flops + extra * rc_layers * p.tp * p.cp *
                                         (static_cast<double>(p.global_batch) / p.micro_batch);
  double peak = hw.peak_flops(Dtype::BF16);
  r.mfu = r.model_flops / (r.iteration_time_s * p.gpus() * peak);
  r.hfu = r.hardware_flops / (r.iteration_time_s * p.gpus() * peak);
}

// The pipeline schedule's inputs: per virtual stage the forward / backward time of one micro-batch
// (layers, plus embedding on the first and head on the last), the p2p transfer, and the DP
// stream's gradient reductions, ZeRO-3 gathers, optimizer and post-step parameter gathers.
PipelineSpec pipeline_spec(const ModelSpec& m, const Prepared& x, const LayerCosts& c, const CommModel& comm, bool record) {
  const TrainPlan& p = x.p;
  const Groups& g = x.g;
  const double gap = c.kernel_gap;
  const int P = x.P;
  double lf = LayerCosts::total(c.layer_fwd, gap), lb = LayerCosts::total(c.layer_bwd, gap),
         lr = LayerCosts::total(c.layer_recompute, gap);
  PipelineSpec ps;
  ps.p = p.pp;
  ps.v = p.vp;
  ps.m = p.micro_batches();
  for (int vs = 0; vs < P; ++vs) {
    ps.fwd_s.push_back(x.lpc[vs] * lf);
    ps.bwd_s.push_back(x.lpc[vs] * lb + recomputed_layers(m, p, vs) * lr);
  }
  ps.fwd_s[0] += LayerCosts::total(c.embed_fwd, gap);
  ps.bwd_s[0] += LayerCosts::total(c.embed_bwd, gap);
  ps.fwd_s[P - 1] += LayerCosts::total(c.head_fwd, gap);
  ps.bwd_s[P - 1] += LayerCosts::total(c.head_bwd, gap);
  // Megatron scatter-gather: each TP rank sends 1/TP of the activation to the next stage.
  double p2p_bytes = static_cast<double>(p.micro_batch) * (p.seq / p.cp) * m.hidden * 2.0 / p.tp;
  ps.p2p_s = p.pp > 1 ? comm.time(coll::Op::SendRecv, p2p_bytes, g.pp) : 0;

  // ---- DP: gradient reduction per chunk, optimizer, parameter gathers
  auto reduce_time = [&](double params_dense, double params_expert) {
    const double gb = p.grad_bytes();  // main gradients are reduced in their own precision
    double t = 0;
    coll::Op op = p.zero == 0 ? coll::Op::AllReduce : coll::Op::ReduceScatter;
    if (p.dp * p.cp > 1) t += comm.time(op, params_dense * gb, g.dp);
    if (params_expert > 0 && g.expert_dp.size > 1) t += comm.time(op, params_expert * gb, g.expert_dp);
    return t;
  };
  auto gather_time = [&](double params_dense, double params_expert) {
    double t = 0;
    if (p.dp * p.cp > 1) t += comm.time(coll::Op::AllGather, params_dense * 2, g.dp);
    if (params_expert > 0 && g.expert_dp.size > 1) t += comm.time(coll::Op::AllGather, params_expert * 2, g.expert_dp);
    return t;
  };
  ps.dp_reduce_s.assign(P, 0);
  for (int vs = 0; vs < P; ++vs) {
    ps.dp_reduce_s[vs] = reduce_time(x.dense[vs], x.expert[vs]);
    if (p.zero >= 3) ps.gather_s.push_back(gather_time(x.dense[vs], x.expert[vs]));
  }
  ps.reduce_every_microbatch = p.zero >= 2;
  ps.optimizer_s = x.optimizer_s;
  for (int i = 0; i < p.pp; ++i) ps.post_gather_s.push_back(x.post_gather_params[i] > 0 ? gather_time(x.post_gather_params[i], 0) : 0);
  ps.record = record;
  return ps;
}

// Idle time of pipeline rank `crit` in an ideal run (no p2p latency, no DP traffic): the pure
// bubble, which separates it from exposed PP communication. Adds the run's events to r.
double ideal_idle(const PipelineSpec& ps, int crit, TrainResult& r) {
  PipelineSpec ideal = ps;
  ideal.p2p_s = 0;
  ideal.record = false;
  ideal.gather_s.clear();
  ideal.dp_reduce_s.clear();
  EventCore plain;
  PipelineRun ir = simulate_pipeline(ideal, plain);
  r.sim_events += ir.events;
  return ir.stages[crit].idle;
}

// The iteration's breakdown on the critical pipeline rank `crit`: compute, exposed TP / CP / EP
// communication (their kernels on this rank), bubble, exposed PP and DP time, optimizer.
void critical_rank_breakdown(TrainResult& r, const Prepared& x, int crit, double ideal_idle_crit, const PipelineSpec& ps) {
  const TrainPlan& p = x.p;
  const LayerCosts& c = r.costs;
  r.iteration_time_s = r.run.makespan;
  const StageStats& cs = r.run.stages[crit];
  long nops = p.micro_batches() * p.vp;  // forward (and backward) ops of this rank
  double tp_c = 0, cp_c = 0, ep_c = 0;
  auto add = [&](const std::vector<Kernel>& ks, double mult) {
    for (auto& k : ks) {
      if (k.cls == "tp") tp_c += mult * k.time;
      if (k.cls == "cp") cp_c += mult * k.time;
      if (k.cls == "ep") ep_c += mult * k.time;
    }
  };
  double layers_here = stage_layers(r.model, p, crit) / p.vp * static_cast<double>(nops);
  double rc_here = stage_recomputed_layers(r.model, p, crit) * static_cast<double>(p.micro_batches());
  add(c.layer_fwd, layers_here);
  add(c.layer_bwd, layers_here);
  add(c.layer_recompute, rc_here);
  if (crit == 0) { add(c.embed_fwd, static_cast<double>(p.micro_batches())); add(c.embed_bwd, static_cast<double>(p.micro_batches())); }
  if (crit == p.pp - 1) { add(c.head_fwd, static_cast<double>(p.micro_batches())); add(c.head_bwd, static_cast<double>(p.micro_batches())); }
  r.tp_exposed_s = tp_c;
  r.cp_exposed_s = cp_c;
  r.ep_exposed_s = ep_c;
  r.compute_s = cs.busy - tp_c - cp_c - ep_c;
  r.bubble_s = std::min(ideal_idle_crit, cs.idle);
  r.pp_exposed_s = cs.idle - r.bubble_s;
  r.optimizer_s = ps.optimizer_s[crit];
  r.dp_exposed_s = std::max(0.0, r.iteration_time_s - cs.compute_end - r.optimizer_s);  // DP tail + parameter gather
  r.bubble_fraction = r.iteration_time_s > 0 ? r.bubble_s / r.iteration_time_s : 0;
}

}  // namespace

TrainResult run_training(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p0, const Accelerator& hw,
                         const CommModel& comm, EventCore& core, bool check_memory, bool record) {
  auto wall0 = std::chrono::steady_clock::now();
  TrainResult r;
  Prepared x = prepare(r, m, s, p0, hw, comm, check_memory);
  PipelineSpec ps = pipeline_spec(m, x, r.costs, comm, record);
  r.run = simulate_pipeline(ps, core);
  r.sim_events = r.run.events;
  double ideal_idle_crit = 0;
  int crit = 0;
  for (int i = 0; i < x.p.pp; ++i) if (r.run.stages[i].end > r.run.stages[crit].end) crit = i;
  if (x.p.pp > 1) ideal_idle_crit = ideal_idle(ps, crit, r);
  critical_rank_breakdown(r, x, crit, ideal_idle_crit, ps);
  finish_result(r, m, hw);
  r.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

TrainJob train_job(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p0, const ClusterHardware& chw,
                   const topo::System& fabric, bool symmetric, bool check_memory) {
  TrainJob job;
  TrainResult& r = job.result;
  const Accelerator& hw = chw.base();
  // Communication kernels keep the fabric's closed-form time in the per-layer cost table (reported,
  // not used: the executor runs them as flows).
  auto note_ptr = make_comm_model(s, "fabric");
  const CommModel& note = *note_ptr;
  Prepared x = prepare(r, m, s, p0, hw, note, check_memory);
  const TrainPlan& p = x.p;
  r.comm_model = "fabric (every collective as flows on " + fabric.name + ")";
  TrainGraphInput in{m, p, {}, {}, {}, {}, {}, {}, 0, false, 0, false};
  for (auto& acc : chw.distinct()) in.costs.push_back(acc.get() == &hw ? r.costs : layer_costs(m, p, *acc, note, x.g));
  if (chw.distinct().size() > 1)
    for (int rk = 0; rk < p.gpus(); ++rk) in.cost_class.push_back(chw.class_of(rk));
  in.dp_dense_params = x.dense;
  in.dp_expert_params = x.expert;
  in.optimizer_s = x.optimizer_s;
  in.post_gather_params = x.post_gather_params;
  in.hbm_bandwidth = hw.hbm_bandwidth();
  in.symmetric = symmetric;
  in.gpus_per_node = fabric.topo.gpus_per_node;
  in.node_isolated = fabric.topo.type == "nvswitch";
  job.workload = train_workload(in);
  job.workload.validate("train");
  r.symmetric = job.workload.symmetric;
  r.simulated_ranks = static_cast<int>(job.workload.ranks.size());
  return job;
}

void apply_execution(TrainResult& r, const ExecResult& e, int first, const Accelerator& hw) {
  const TrainPlan& p = r.plan;
  r.iteration_time_s = 0;
  const RankStats* crit = nullptr;
  for (auto& rs : e.ranks)
    if (rs.rank >= first && rs.rank < first + p.gpus()) {
      if (!crit || rs.end_s > crit->end_s) crit = &rs;
      r.iteration_time_s = std::max(r.iteration_time_s, rs.end_s);
    }
  if (!crit) throw Error("internal: no rank of the training job was simulated");
  r.sim_events = e.events;
  // ---- breakdown on the critical rank (the last to finish)
  auto busy = [&](const char* cls) {
    auto it = crit->busy_by_class.find(cls);
    return it == crit->busy_by_class.end() ? 0.0 : it->second;
  };
  double stream_end = crit->stream_end_s.count(0) ? crit->stream_end_s.at(0) : 0.0;
  double stream_busy = crit->stream_busy_s.count(0) ? crit->stream_busy_s.at(0) : 0.0;
  r.compute_s = busy("compute");
  r.tp_exposed_s = busy("tp");
  r.ep_exposed_s = busy("ep");
  r.cp_exposed_s = 0;  // CP exchanges overlap the pass on their own stream; waits count as PP/CP below
  double idle = std::max(0.0, stream_end - stream_busy);
  double per_mb = stream_busy / static_cast<double>(std::max<long>(1, p.micro_batches()));
  r.bubble_s = std::min(idle, (p.pp - 1) * per_mb / p.vp);
  // Compute-stream waits beyond the ideal bubble: pipeline transfers (and CP exchanges) when there
  // is a pipeline; without one they can only be CP exchanges or ZeRO-3's parameter gathers.
  double waits = idle - r.bubble_s, zero3_waits = 0;
  if (p.pp > 1) r.pp_exposed_s = waits;
  else if (p.zero >= 3) zero3_waits = waits;
  else r.cp_exposed_s = waits;
  r.optimizer_s = busy("optimizer");
  r.dp_exposed_s = std::max(0.0, r.iteration_time_s - stream_end - r.optimizer_s) + zero3_waits;
  r.bubble_fraction = r.iteration_time_s > 0 ? r.bubble_s / r.iteration_time_s : 0;
  finish_result(r, r.model, hw);
}

TrainResult execute_training_job(TrainJob job, const topo::System& fabric, const ClusterHardware& chw,
                                 const ClusterOptions& copt, EventCore& core, Timeline* timeline) {
  auto wall0 = std::chrono::steady_clock::now();
  const wg::Workload& w = job.workload;
  std::vector<int> place = load_placement(copt, w.world, fabric.topo.num_gpus());
  check_connected(w, fabric, place);
  std::vector<RankHardware> rh;
  for (auto& g : w.ranks) rh.push_back(chw.of(g.rank));
  ExecOptions eo;
  eo.timeline = timeline;
  eo.placement = place;
  eo.components = comp::load_plugins(copt.components);
  TrainResult r = std::move(job.result);
  r.exec = execute(w, fabric, rh, core, eo);
  apply_execution(r, r.exec, 0, chw.base());
  r.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

TrainResult run_training_fabric(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p0, const ClusterHardware& chw,
                                const topo::System& fabric, const ClusterOptions& copt, EventCore& core,
                                bool check_memory, Timeline* timeline) {
  auto wall0 = std::chrono::steady_clock::now();
  TrainJob job = train_job(m, s, p0, chw, fabric, !copt.no_symmetry && !copt.breaks_symmetry(), check_memory);
  TrainResult r = execute_training_job(std::move(job), fabric, chw, copt, core, timeline);
  r.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

TrainResult run_training(const TrainOptions& opt) {
  ModelSpec m = load_model(opt.model);
  SystemSpec s = load_system_spec(opt.system, opt.nodes, opt.sys_overrides);
  s.job_gpus = opt.gpus;
  auto core = make_engine(opt.engine);
  std::string comm_kind = opt.comm == "auto" ? "fabric" : opt.comm;
  if (comm_kind == "fabric" && s.fabric.empty()) {
    if (opt.comm == "fabric")
      throw make_error("--comm", "fabric", "system " + s.name + " has no topology description (use --comm analytical)");
    comm_kind = "analytical";  // a table-only system: nothing to simulate flows on
  }
  if (comm_kind != "fabric" && opt.cluster.breaks_symmetry())
    throw make_error("--comm", comm_kind, "--gpu-speed, --gpu-set, --fail, --degrade, --rank-map and --component need --comm fabric");
  if (comm_kind == "fabric") {
    topo::System fabric = topo::load_system(s.fabric, s.fixed_topology ? 0 : s.nodes, s.overrides);
    apply_faults(fabric, opt.cluster);
    ClusterHardware chw(s.gpu, opt.hw_overrides, opt.cluster, s.gpus());
    std::unique_ptr<Timeline> tl;
    if (!opt.timeline_path.empty()) tl = std::make_unique<Timeline>();
    if (tl) tl->link_counters = opt.timeline_links;
    TrainResult r = run_training_fabric(m, s, opt.plan, chw, fabric, opt.cluster, *core, opt.check_memory, tl.get());
    if (tl) tl->write(opt.timeline_path);
    return r;
  }
  if (comm_kind != "analytical" && comm_kind != "builtin")
    throw make_error("--comm", opt.comm, "expected fabric (default), analytical or builtin");
  Accelerator hw = load_accelerator(s.gpu, opt.hw_overrides);
  auto comm = make_comm_model(s, comm_kind == "builtin" ? "builtin" : "auto");
  TrainResult r = run_training(m, s, opt.plan, hw, *comm, *core, opt.check_memory, !opt.timeline_path.empty());
  if (!opt.timeline_path.empty()) write_train_timeline(r, opt.timeline_path);
  return r;
}

namespace {
// The Chrome/Perfetto trace of the closed-form pipeline run: one process per pipeline stage (its
// TP-rank 0), threads compute / tp / cp / ep / pp / dp; every op's kernels laid end to end from
// the op's start, p2p sends as instants, activation memory as a counter, DP tasks. Owns the
// output stream and the comma between events.
class TrainTimelineWriter {
 public:
  TrainTimelineWriter(const TrainResult& r, std::ofstream& out)
      : r_(r), p_(r.plan), c_(r.costs), out_(out), P_(p_.pp * p_.vp),
        stride_(static_cast<long>(p_.tp) * p_.cp * p_.dp) {}

  void write() {
    out_ << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
    names();
    for (auto& op : r_.run.ops) pipeline_op(op);
    memory_counters();
    dp_tasks();
    out_ << "\n]}\n";
  }

 private:
  enum { kCompute = 1, kTP = 2, kCP = 3, kEP = 4, kPP = 5, kDP = 6 };
  static double us(double s) { return s * 1e6; }
  static std::string esc(const std::string& s) {
    std::string o;
    for (char ch : s) {
      if (ch == '"' || ch == '\\') o += '\\';
      o += ch;
    }
    return o;
  }
  static int tid_of(const Kernel& k) {
    if (k.cls == "tp") return static_cast<int>(kTP);
    if (k.cls == "cp") return static_cast<int>(kCP);
    if (k.cls == "ep") return static_cast<int>(kEP);
    return static_cast<int>(kCompute);
  }
  void emit(const std::string& line) {
    if (!first_) out_ << ",\n";
    out_ << line;
    first_ = false;
  }

  // Process and thread names of each stage.
  void names() {
    for (int i = 0; i < p_.pp; ++i) {
      long rank = i * stride_;
      std::snprintf(buf_, sizeof buf_, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%ld,\"args\":{\"name\":\"rank %ld (pipeline stage %d)\"}}", rank, rank, i);
      emit(buf_);
      const char* names[] = {"", "compute", "tp", "cp", "ep", "pp", "dp"};
      for (int tid = 1; tid <= 6; ++tid) {
        std::snprintf(buf_, sizeof buf_, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%ld,\"tid\":%d,\"args\":{\"name\":\"%s\"}}", rank, tid, names[tid]);
        emit(buf_);
      }
    }
  }

  // Kernels ks one after another from t (advanced past them, with the kernel gap after compute).
  void emit_kernels(long rank, const std::vector<Kernel>& ks, double& t, long layer, long mb, int chunk) {
    for (auto& k : ks) {
      double d = k.time;
      std::snprintf(buf_, sizeof buf_,
                    "{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"%s\",\"pid\":%ld,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,"
                    "\"args\":{\"layer\":%ld,\"micro_batch\":%ld,\"chunk\":%d,\"flops\":%.6g,\"bytes\":%.6g}}",
                    esc(k.name).c_str(), k.cls.c_str(), rank, tid_of(k), us(t), us(d), layer, mb, chunk, k.flops, k.bytes);
      emit(buf_);
      t += d + (k.comm() ? 0.0 : c_.kernel_gap);
    }
  }

  void pp_send(const char* what, long rank, const PipelineOp& op) {
    std::snprintf(buf_, sizeof buf_, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"pp_send(%s)\",\"cat\":\"pp\",\"pid\":%ld,\"tid\":%d,\"ts\":%.3f,\"args\":{\"micro_batch\":%ld}}", what, rank, static_cast<int>(kPP), us(op.end), op.mb);
    emit(buf_);
  }

  // One forward or backward op of a virtual stage: embedding / layers / head kernels, the p2p send.
  void pipeline_op(const PipelineOp& op) {
    long rank = op.stage * stride_;
    int vs = op.chunk * p_.pp + op.stage;
    double t = op.start;
    long layer0 = 0, lpc = std::lround(chunk_layers(r_.model, p_, vs));
    for (int v = 0; v < vs; ++v) layer0 += std::lround(chunk_layers(r_.model, p_, v));
    if (op.fwd) {
      if (vs == 0) emit_kernels(rank, c_.embed_fwd, t, -1, op.mb, op.chunk);
      for (long l = 0; l < lpc; ++l) emit_kernels(rank, c_.layer_fwd, t, layer0 + l, op.mb, op.chunk);
      if (vs == P_ - 1) emit_kernels(rank, c_.head_fwd, t, r_.model.layers, op.mb, op.chunk);
      if (vs + 1 < P_ && p_.pp > 1) pp_send("activations", rank, op);
    } else {
      if (vs == P_ - 1) emit_kernels(rank, c_.head_bwd, t, r_.model.layers, op.mb, op.chunk);
      const long rc = std::lround(recomputed_layers(r_.model, p_, vs));
      for (long l = lpc - 1; l >= 0; --l) {
        if (l < rc) emit_kernels(rank, c_.layer_recompute, t, layer0 + l, op.mb, op.chunk);
        emit_kernels(rank, c_.layer_bwd, t, layer0 + l, op.mb, op.chunk);
      }
      if (vs == 0) emit_kernels(rank, c_.embed_bwd, t, -1, op.mb, op.chunk);
      if (vs > 0 && p_.pp > 1) pp_send("gradients", rank, op);
    }
  }

  // Activation memory of each rank (counter track): stored micro-batch chunks x layer bytes.
  void memory_counters() {
    double per_chunk = static_cast<double>(r_.model.layers) / P_ * activation_bytes_per_layer(r_.model, p_);
    std::vector<std::vector<std::pair<double, int>>> by_stage(p_.pp);
    for (auto& op : r_.run.ops) {
      if (op.fwd) by_stage[op.stage].push_back({op.start, +1});
      else by_stage[op.stage].push_back({op.end, -1});
    }
    for (int i = 0; i < p_.pp; ++i) {
      auto& v = by_stage[i];
      std::stable_sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.first < y.first; });
      long n = 0;
      long rank = i * stride_;
      double model_states = r_.memory[i].weights + r_.memory[i].gradients + r_.memory[i].optimizer;
      for (auto& [t, d] : v) {
        n += d;
        std::snprintf(buf_, sizeof buf_,
                      "{\"ph\":\"C\",\"name\":\"memory_GB\",\"pid\":%ld,\"ts\":%.3f,\"args\":{\"model_states\":%.3f,\"activations\":%.3f}}",
                      rank, us(t), model_states / 1e9, static_cast<double>(n) * per_chunk / 1e9);
        emit(buf_);
      }
    }
  }

  // DP stream tasks (the optimizer step on the compute thread).
  void dp_tasks() {
    for (auto& d : r_.run.dp_tasks) {
      long rank = d.stage * stride_;
      std::snprintf(buf_, sizeof buf_, "{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"dp\",\"pid\":%ld,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"args\":{\"chunk\":%d}}",
                    esc(d.name).c_str(), rank, d.name == "optimizer_step" ? static_cast<int>(kCompute) : static_cast<int>(kDP), us(d.start), us(d.end - d.start), d.chunk);
      emit(buf_);
    }
  }

  const TrainResult& r_;
  const TrainPlan& p_;
  const LayerCosts& c_;
  std::ofstream& out_;
  const int P_;

  const long stride_;  // global rank of stage i's TP-rank 0: i * stride
  bool first_ = true;
  char buf_[512];
};
}  // namespace

void write_train_timeline(const TrainResult& r, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw make_error(path, "", "cannot write the timeline");
  TrainTimelineWriter(r, out).write();
}

}  // namespace orrery
