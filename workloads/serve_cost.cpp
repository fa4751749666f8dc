// Serving step cost model and memory plan: the kernels of one engine step (prefill chunks and
// decodes batched together) on one replica, costed with the accelerator model and the fabric.
#include <algorithm>
#include <cmath>
#include <map>

#include "sim/error.h"
#include "workloads/collective.h"
#include "workloads/serve.h"

namespace orrery::serve {

const ParamSet& serve_params() {
  static const ParamSet set(
      "serve", "LLM serving scheduler and host costs (orrery serve / latency; --serve-set name=value)",
      {
          {"block_size", Unit::Count, "16", "KV-cache block (page) size in tokens (vLLM CacheConfig.block_size default)", true},
          {"max_batch", Unit::Count, "256", "most sequences in one step (vLLM max_num_seqs, online-serving default)", true},
          {"token_budget", Unit::Count, "2048",
           "most tokens in one step (vLLM V1 max_num_batched_tokens for the OpenAI server with chunked prefill)", true},
          {"memory_utilization", Unit::Ratio, "0.9", "fraction of device memory the engine may use (vLLM gpu_memory_utilization)", true},
          {"runtime_reserve", Unit::Bytes, "1 GiB",
           "device memory outside weights, activations and KV (CUDA context, NCCL buffers, CUDA graphs); assumption", false},
          {"step_overhead", Unit::Time, "50 us",
           "host time per engine step not hidden behind the GPU (scheduling, input preparation, output processing); assumption", false},
          {"graph_launch", Unit::Time, "10 us", "host time to launch one captured CUDA graph (decode steps)", false},
          {"cuda_graph_max_batch", Unit::Count, "512", "largest decode batch replayed as a CUDA graph (vLLM max capture size)", true},
          {"split_k_chunk", Unit::Count, "256", "fewest KV tokens per split of split-K (FlashDecoding) decode attention", true},
      });
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {
const bool serve_params_registered = (serve_params(), true);
}

Precision parse_precision(const std::string& s) {
  if (s == "bf16") return Precision::BF16;
  if (s == "fp8") return Precision::FP8;
  if (s == "int8") return Precision::INT8;
  if (s == "int4") return Precision::INT4;
  throw make_error("--precision", s, "expected bf16, fp8, int8 or int4 (int8/int4: weight-only)");
}
const char* precision_name(Precision p) {
  switch (p) {
    case Precision::BF16: return "bf16";
    case Precision::FP8: return "fp8";
    case Precision::INT8: return "int8 (weight-only)";
    case Precision::INT4: return "int4 (weight-only)";
  }
  return "?";
}
double weight_bytes(Precision p) {
  switch (p) {
    case Precision::BF16: return 2;
    case Precision::FP8: case Precision::INT8: return 1;
    case Precision::INT4: return 0.5;
  }
  return 2;
}

nlohmann::json MemoryPlan::to_json() const {
  return {{"capacity_bytes", capacity},   {"weights_bytes", weights}, {"activations_bytes", activations},
          {"runtime_bytes", runtime},     {"kv_cache_bytes", kv},     {"kv_bytes_per_token", kv_bytes_per_token},
          {"kv_blocks", blocks},          {"block_size", block_size}, {"kv_tokens", kv_tokens()}};
}

CostModel::CostModel(const ModelSpec& m, const Accelerator& hw, const ServeConfig& cfg, const topo::System* sys)
    : m_(m), hw_(hw), cfg_(cfg), sys_(sys), compute_(cfg.precision == Precision::FP8 ? Dtype::FP8 : Dtype::BF16) {
  if (compute_ == Dtype::FP8) hw.require_matrix_engine(Dtype::FP8, "--precision", "fp8");
}

// Collective time simulated as flows on the fabric (its NCCL algorithm's phases and channels; one
// simulation per distinct size, cached); group = ranks 0..n-1 of the replica (TP inside a node),
// or for op SendRecv the first GPUs of two adjacent pipeline stages.
double CostModel::comm(int op, double bytes, int group) const {
  if (!sys_ || bytes <= 0) return 0;
  auto& cache = comm_cache_;
  auto key = std::make_tuple(op, bytes, group);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  coll::CollectiveSpec spec;
  spec.op = static_cast<coll::Op>(op);
  spec.bytes = bytes;
  spec.dtype = Dtype::BF16;
  if (spec.op == coll::Op::SendRecv) spec.ranks = {0, group};
  else for (int r = 0; r < group; ++r) spec.ranks.push_back(r);
  double t = coll::simulate_collective(*sys_, spec).time_s;
  cache[key] = t;
  return t;
}

Kernel CostModel::gemm(const std::string& name, double M, double N, double K, double wbytes, double per_problem) const {
  double ab = compute_ == Dtype::FP8 ? 1 : 2;
  Kernel k{name, "gemm", 2 * M * N * K, wbytes * N * K + ab * M * K + 2 * M * N, 0, 0};
  double eff = hw_.gemm_efficiency(compute_, per_problem > 0 ? per_problem : k.flops);
  double tc = k.flops / (hw_.peak_flops(compute_) * eff);
  double tm = k.bytes / (hw_.hbm_bandwidth() * hw_.memory_efficiency(k.bytes));
  k.time = std::max({hw_.p("min_kernel_time"), tc, tm});
  k.util = std::min(1.0, std::max(k.flops / hw_.peak_flops(compute_), k.bytes / hw_.hbm_bandwidth()) / k.time);
  return k;
}

Kernel CostModel::mem(const std::string& name, const std::string& cls, double bytes) const {
  Kernel k{name, cls, 0, bytes, hw_.memory_time(bytes), 0};
  k.util = std::min(1.0, bytes / hw_.hbm_bandwidth() / k.time);
  return k;
}

// Decode attention reads every sequence's KV once (KV-read-bound). One CTA per (sequence, KV
// head) leaves SMs idle at small batch; split-K (FlashDecoding) splits each sequence's KV into
// chunks so that the grid covers the SMs, and a small combine kernel merges the partial results.
Kernel CostModel::decode_attention(const StepShape& s) const {
  const double t = cfg_.dep.tp;
  double kvh = std::max(1.0, static_cast<double>(m_.kv_heads) / t), dh = static_cast<double>(m_.head_dim());
  double kvb = dtype_bytes(cfg_.kv_dtype);
  double bytes = s.decode_ctx_tokens * 2 * kvh * dh * kvb + s.decodes * 2 * (m_.heads / t) * dh * 2;
  double flops = 4 * s.decode_ctx_tokens * (m_.heads / t) * dh;
  double sms = hw_.p("sm_count");
  double ctas = s.decodes * kvh;
  if (cfg_.split_k) {
    double chunk = cfg_.p("split_k_chunk");
    double mean_ctx = s.decode_ctx_tokens / std::max<long>(1, s.decodes);
    double splits = std::clamp(std::ceil(sms / std::max(1.0, ctas)), 1.0, std::max(1.0, std::ceil(mean_ctx / chunk)));
    ctas *= splits;
  }
  // A grid smaller than the SM count streams with the SMs it has (the memory curve already
  // holds the small-transfer penalty, so the lower of the two limits applies, not their product).
  double occupancy = std::min(1.0, ctas / sms);
  Kernel k{"decode_attention", "attention", flops, bytes, 0, 0};
  double tm = bytes / (hw_.hbm_bandwidth() * std::min(hw_.memory_efficiency(bytes), occupancy));
  double tc = flops / (hw_.peak_flops(Dtype::BF16) * 0.5);
  k.time = std::max({hw_.p("min_kernel_time"), tm, tc});
  k.util = std::min(1.0, bytes / hw_.hbm_bandwidth() / k.time);
  return k;
}

void CostModel::layer(const StepShape& s, std::vector<Kernel>& out) const {
  const double t = cfg_.dep.tp, T = static_cast<double>(s.tokens()), h = static_cast<double>(m_.hidden);
  const double kvd = std::max(1.0, static_cast<double>(m_.kv_heads) / t) * m_.head_dim() * t;  // replicated when kv_heads < tp
  const double f = static_cast<double>(m_.ffn), f1 = m_.swiglu ? 2 * f : f, wb = weight_bytes(cfg_.precision);
  const double dh = static_cast<double>(m_.head_dim()), heads_l = m_.heads / t;
  out.push_back(mem("input_norm", "elementwise", 2 * T * h * 2));
  out.push_back(gemm("qkv_proj", T, (h + 2 * kvd) / t, h, wb));
  out.push_back(mem("rope_kv_write", "elementwise", T * (h + 4 * kvd) / t * 2));
  if (s.prefill_tokens > 0) {
    double flops = 4 * s.prefill_attn_pairs * heads_l * dh;
    double bytes = 2 * (s.prefill_tokens * (2 * h + 2 * kvd) / t + s.prefill_ctx_tokens * 2 * kvd / t);
    Kernel k{"prefill_attention", "attention", flops, bytes, hw_.attention_time(flops, bytes, Dtype::BF16), 0};
    k.util = std::min(1.0, std::max(flops / hw_.peak_flops(Dtype::BF16), bytes / hw_.hbm_bandwidth()) / k.time);
    out.push_back(k);
  }
  if (s.decodes > 0) {
    out.push_back(decode_attention(s));
    if (cfg_.split_k) out.push_back(mem("decode_attention_combine", "attention", s.decodes * heads_l * dh * 4 * 2));
  }
  out.push_back(gemm("o_proj", T, h, h / t, wb));
  if (t > 1) out.push_back(Kernel{"tp_all_reduce(attn)", "comm", 0, T * h * 2, comm(static_cast<int>(coll::Op::AllReduce), T * h * 2, cfg_.dep.tp), 0.05});
  out.push_back(mem("post_norm_residual", "elementwise", 3 * T * h * 2));
  if (!m_.moe()) {
    out.push_back(gemm("mlp_up", T, f1 / t, h, wb));
    out.push_back(mem(m_.swiglu ? "silu_mul" : "gelu", "elementwise", T * (f1 + f) / t * 2));
    out.push_back(gemm("mlp_down", T, h, f / t, wb));
  } else {
    // Router (bf16), then the experts of this rank: E/ep experts, each sliced tp/ep ways;
    // balanced routing sends T*top_k/ep token copies here; an expert's weights are read when at
    // least one token hits it (expected count for uniform routing).
    const double E = static_cast<double>(m_.experts), ep = cfg_.dep.ep, tpe = t / ep, K = static_cast<double>(m_.top_k);
    Kernel r = gemm("moe_router", T, E, h, 2);
    r.cls = "moe";
    out.push_back(r);
    out.push_back(mem("moe_topk_permute", "moe", T * h * 2 * 2 + T * K * 8));
    double tok = T * K / ep, touched = (E / ep) * (1 - std::pow(1 - 1 / E, T * K));
    if (ep > 1) out.push_back(Kernel{"ep_all_to_all(dispatch)", "comm", 0, tok * h * 2, comm(static_cast<int>(coll::Op::AllToAll), tok * h * 2, cfg_.dep.ep), 0.05});
    for (auto [n, N, Kd] : {std::tuple{"moe_experts_up", f1 / tpe, h}, std::tuple{"moe_experts_down", h, f / tpe}}) {
      Kernel g = gemm(n, tok, N, Kd, 0, 2 * (tok / std::max(1.0, touched)) * N * Kd);
      double wbytes = touched * N * Kd * wb;
      double tm = (g.bytes + wbytes) / (hw_.hbm_bandwidth() * hw_.memory_efficiency(g.bytes + wbytes));
      g.bytes += wbytes;
      g.time = std::max(g.time, tm);
      g.cls = "moe";
      out.push_back(g);
    }
    out.push_back(mem("silu_mul", "elementwise", tok * (f1 + f) / tpe * 2));
    if (ep > 1) out.push_back(Kernel{"ep_all_to_all(combine)", "comm", 0, tok * h * 2, comm(static_cast<int>(coll::Op::AllToAll), tok * h * 2, cfg_.dep.ep), 0.05});
  }
  if (t > 1) out.push_back(Kernel{"tp_all_reduce(mlp)", "comm", 0, T * h * 2, comm(static_cast<int>(coll::Op::AllReduce), T * h * 2, cfg_.dep.tp), 0.05});
}

// Once per step: embedding gather, final norm, LM head for the sampled rows, logits gather,
// sampling; pipeline hand-offs between stages.
void CostModel::once(const StepShape& s, std::vector<Kernel>& out) const {
  const double t = cfg_.dep.tp, T = static_cast<double>(s.tokens()), h = static_cast<double>(m_.hidden);
  const double V = static_cast<double>(m_.vocab), L = static_cast<double>(std::max<long>(1, s.logits));
  out.push_back(mem("embedding", "elementwise", 2 * T * h * 2));
  out.push_back(mem("final_norm", "elementwise", 2 * L * h * 2));
  Kernel head = gemm("lm_head", L, V / t, h, 2);
  out.push_back(head);
  if (t > 1) out.push_back(Kernel{"tp_gather(logits)", "comm", 0, L * V * 2, comm(static_cast<int>(coll::Op::AllGather), L * V * 2, cfg_.dep.tp), 0.05});
  Kernel samp = mem("sampling", "sampling", L * V * 4 * 3);  // fp32 logits: softmax, top-k/top-p, draw
  out.push_back(samp);
  for (int st = 1; st < cfg_.dep.pp; ++st)
    out.push_back(Kernel{"pp_send(activations)", "comm", 0, T * h * 2, comm(static_cast<int>(coll::Op::SendRecv), T * h * 2, cfg_.dep.tp), 0.05});
}

StepCost CostModel::step(const StepShape& s, bool breakdown) const {
  std::vector<Kernel> lk, ok;
  layer(s, lk);
  once(s, ok);
  const double layers = static_cast<double>(m_.layers);  // all stages run in turn for one step
  StepCost c;
  double gap = hw_.p("kernel_gap");
  long kernels = 0;
  for (auto* v : {&lk, &ok})
    for (auto& k : *v) {
      double mult = v == &lk ? layers : 1;
      c.device += mult * (k.time + (k.cls == "comm" ? 0 : gap));
      c.energy_dyn += mult * k.time * k.util;
      if (k.cls != "comm") kernels += static_cast<long>(mult);
      if (breakdown) {
        Kernel x = k;
        x.time *= mult;
        x.flops *= mult;
        x.bytes *= mult;
        c.kernels.push_back(x);
      }
    }
  c.graph = cfg_.cuda_graphs && s.prefill_tokens == 0 && s.decodes <= static_cast<long>(cfg_.p("cuda_graph_max_batch"));
  double host = c.graph ? cfg_.p("graph_launch") : static_cast<double>(kernels) * hw_.p("launch_cost");
  // Eager: the host launches kernel after kernel; the GPU waits when launching is slower.
  c.time = (c.graph ? c.device + host : std::max(c.device, host)) + cfg_.p("step_overhead");
  if (breakdown) {
    c.kernels.push_back(Kernel{c.graph ? "cuda_graph_launch+step_overhead" : "host_launch_excess+step_overhead", "host", 0, 0,
                               c.time - c.device, 0});
  }
  return c;
}

double CostModel::kv_bytes_per_token() const {
  double kvh = std::max(1.0, static_cast<double>(m_.kv_heads) / cfg_.dep.tp);
  double layers = std::ceil(static_cast<double>(m_.layers) / cfg_.dep.pp);
  return layers * 2 * kvh * m_.head_dim() * dtype_bytes(cfg_.kv_dtype);
}

double CostModel::swap_time(double tokens) const {
  return hw_.p("host_link_latency") + tokens * kv_bytes_per_token() / hw_.p("host_link_bandwidth");
}

double CostModel::kv_transfer_bytes(long tokens) const {
  return static_cast<double>(tokens) * kv_bytes_per_token() * cfg_.dep.tp * cfg_.dep.pp;
}

MemoryPlan CostModel::memory_plan(const std::string& model_file) const {
  const double t = cfg_.dep.tp, pp = cfg_.dep.pp, wb = weight_bytes(cfg_.precision);
  const double h = static_cast<double>(m_.hidden), f = static_cast<double>(m_.ffn);
  MemoryPlan mp;
  mp.block_size = static_cast<long>(cfg_.p("block_size"));
  mp.capacity = hw_.p("hbm_capacity") * cfg_.p("memory_utilization");
  double layer = (m_.attention_params() + m_.experts * m_.mlp_params_per_expert()) / t * wb +
                 (m_.router_params() + m_.norm_params()) * 2;
  double emb = m_.embedding_params() / t * 2, outp = m_.output_params() / t * 2;  // embeddings stay bf16
  mp.weights = std::ceil(m_.layers / pp) * layer + (pp == 1 ? emb + outp : std::max(emb, outp));
  double T = cfg_.p("token_budget"), f1 = m_.swiglu ? 2 * f : f;
  mp.activations = T * (4 * h + (f1 + f) / t) * 2 + cfg_.p("max_batch") * m_.vocab / t * 4 * 2;
  mp.runtime = cfg_.p("runtime_reserve");
  mp.kv_bytes_per_token = kv_bytes_per_token();
  mp.kv = std::max(0.0, mp.capacity - mp.weights - mp.activations - mp.runtime);
  mp.blocks = static_cast<long>(std::floor(mp.kv / (mp.kv_bytes_per_token * mp.block_size)));
  if (mp.blocks < 1) {
    char b[400];
    std::snprintf(b, sizeof b,
                  "does not fit at any batch: weights %.1f GB + activations %.1f GB + runtime %.1f GB per GPU "
                  "(%s, tp %d, pp %d) leave no KV cache in %.1f GB (%s hbm_capacity x memory_utilization %.2f); "
                  "use more --tp/--pp or a lower --precision",
                  mp.weights / 1e9, mp.activations / 1e9, mp.runtime / 1e9, precision_name(cfg_.precision), cfg_.dep.tp,
                  cfg_.dep.pp, mp.capacity / 1e9, hw_.source_path.c_str(), cfg_.p("memory_utilization"));
    // (the whole HBM would hold them and a KV block: the share given to the engine is what is short)
    double whole = mp.capacity / cfg_.p("memory_utilization");
    if (whole - mp.weights - mp.activations - mp.runtime >= mp.kv_bytes_per_token * mp.block_size)
      throw make_error("--gpu-mem-util", format_number(cfg_.p("memory_utilization")), b);
    throw make_error(model_file, "layers", b);
  }
  return mp;
}

}  // namespace orrery::serve
