#pragma once
// LLM serving simulation (`orrery serve`, `orrery latency`): requests arrive (trace or synthetic
// generator), a vLLM-like scheduler per replica does continuous batching with a token budget,
// chunked prefill and a paged KV cache (preemption by recompute or swap, optional prefix
// caching), and every engine step is costed kernel by kernel on the accelerator model
// (hw_models/accelerator.h) with TP all-reduce / EP all-to-all priced by the fabric's NCCL model
// (workloads/collective.h). The serving loop runs on the event engine (sim/engine.h): arrivals,
// step completions and disaggregated prefill->decode KV transfers (real flows on the fabric)
// are events.
//
// Kernel-free core: request parsing/generation, the memory plan and the step cost model are
// plain C++ that tests call directly.
#include <map>
#include <memory>
#include <tuple>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "sim/params.h"
#include "topology/topology.h"
#include "workloads/models.h"

namespace orrery::serve {

// Scheduler and host-side constants ("serve" component in `orrery describe`).
const ParamSet& serve_params();

// ---------------------------------------------------------------- requests
struct Request {
  double arrival = 0;  // seconds
  long prompt = 0;     // prompt tokens
  long output = 0;     // tokens to generate (>= 1)
  long prefix_id = -1;      // shared-prefix group (prefix caching); -1 = none
  long prefix_tokens = 0;   // length of the shared prefix (<= prompt)
};

// JSONL (one object per line: arrival (s), prompt_tokens, output_tokens, optional prefix_id,
// prefix_tokens) or CSV with that header. Arrivals must be sorted; errors name file, line, field.
std::vector<Request> load_requests(const std::string& path);

struct SynthSpec {
  std::string arrivals = "poisson";  // poisson | bursty (gamma inter-arrivals with coefficient of variation cv)
  double rate = 1;                   // requests/s
  double cv = 3;                     // bursty only
  double duration = 60;              // seconds of arrivals (or num_requests when > 0)
  long num_requests = 0;
  std::string lengths = "fixed";     // fixed | uniform (0.5x..1.5x mean) | exponential (mean, >= 1)
  long prompt = 512, output = 128;   // means
  long prefix_groups = 0, prefix_tokens = 0;  // shared prefixes (prefix caching)
  std::uint64_t seed = 1;
};
std::vector<Request> synth_requests(const SynthSpec& s);

// ---------------------------------------------------------------- deployment and costs
enum class Precision { BF16, FP8, INT8, INT4 };  // int8/int4: weight-only (bf16 compute)
Precision parse_precision(const std::string& s);
const char* precision_name(Precision p);
double weight_bytes(Precision p);  // per parameter

struct Deployment {
  int tp = 1, pp = 1, ep = 1;
  int replicas = 1;          // DP replicas (mixed prefill + decode)
  int prefill_replicas = 0;  // > 0: disaggregated: this many prefill-only replicas ...
  int decode_replicas = 0;   // ... and this many decode-only replicas
  int gpus_per_replica() const { return tp * pp; }
  int total_replicas() const { return prefill_replicas > 0 ? prefill_replicas + decode_replicas : replicas; }
  bool disaggregated() const { return prefill_replicas > 0; }
};

struct Kernel {
  std::string name, cls;  // cls: gemm, attention, elementwise, moe, comm, sampling, host
  double flops = 0, bytes = 0, time = 0;
  double util = 0;  // max(compute, memory) utilization of the chip (energy)
};

// What one engine step computes on one replica.
struct StepShape {
  long prefill_tokens = 0;     // tokens of prefill chunks this step
  double prefill_attn_pairs = 0;  // sum over chunks of n * (cached + n/2): causal query-key pairs
  double prefill_ctx_tokens = 0;  // cached context tokens the chunks read (sum of cached per chunk)
  long decodes = 0;            // sequences decoding one token
  double decode_ctx_tokens = 0;   // sum of their context lengths
  long max_decode_ctx = 0;
  long logits = 0;             // rows sampled (decodes + prefills that complete)
  long tokens() const { return prefill_tokens + decodes; }
};

struct StepCost {
  double time = 0;       // seconds, host overhead included
  double device = 0;     // device time (kernels + gaps)
  double energy_dyn = 0; // seconds x utilization (energy model, per GPU)
  bool graph = false;    // replayed as a CUDA graph
  std::vector<Kernel> kernels;  // filled when asked (breakdowns)
};

struct MemoryPlan {
  double weights = 0, activations = 0, runtime = 0, kv = 0;  // bytes per GPU
  double kv_bytes_per_token = 0;  // per GPU
  long blocks = 0, block_size = 16;
  double capacity = 0;            // hbm_capacity x memory_utilization
  long kv_tokens() const { return blocks * block_size; }
  nlohmann::json to_json() const;
};

struct ServeConfig {
  Deployment dep;
  Precision precision = Precision::BF16;
  Dtype kv_dtype = Dtype::BF16;
  bool chunked_prefill = true;
  bool preempt_swap = false;   // else recompute (vLLM V1 default)
  bool prefix_caching = false;
  bool cuda_graphs = true;
  bool split_k = true;         // FlashDecoding split-K for decode attention
  long max_model_len = 0;      // 0 = model's seq
  ParamValues params;          // serve_params() resolved (+ overrides)
  double p(const std::string& n) const { return params.get(n); }
};

class CostModel {
 public:
  // `sys` prices TP/EP/PP collectives (may be null when tp = pp = ep = 1).
  CostModel(const ModelSpec& m, const Accelerator& hw, const ServeConfig& cfg, const topo::System* sys);
  StepCost step(const StepShape& s, bool breakdown = false) const;
  MemoryPlan memory_plan(const std::string& model_file) const;
  double kv_bytes_per_token() const;       // per GPU, per token (all local layers)
  double swap_time(double tokens) const;   // host link, one direction
  double kv_transfer_bytes(long tokens) const;  // whole replica (all GPUs), prompt KV

 private:
  const ModelSpec& m_;
  const Accelerator& hw_;
  const ServeConfig& cfg_;
  const topo::System* sys_;
  Dtype compute_;
  double comm(int op, double bytes, int group) const;  // op: coll::Op as int
  void layer(const StepShape& s, std::vector<Kernel>& out) const;
  void once(const StepShape& s, std::vector<Kernel>& out) const;
  Kernel gemm(const std::string& name, double M, double N, double K, double wbytes, double per_problem_flops = 0) const;
  Kernel mem(const std::string& name, const std::string& cls, double bytes) const;
  Kernel decode_attention(const StepShape& s) const;
  mutable std::map<std::tuple<int, double, int>, double> comm_cache_;
};

// ---------------------------------------------------------------- simulation
struct ServeOptions {
  std::string model = "llama3-8b";
  std::string hw;                  // GPU preset; "" = the system's accelerator
  std::string system = "dgx-h100";
  int nodes = 0;                   // 0: enough nodes for the deployment
  std::vector<std::string> hw_overrides, sys_overrides;
  ServeConfig cfg;
  std::string trace;               // request file, else synth
  SynthSpec synth;
  double slo_ttft = 0, slo_tpot = 0;  // seconds; 0 = none
  std::string engine = "systemc";
  std::string timeline_path;
  long breakdown_prompts = 1;      // prompts batched in the reported prefill step (--single: the batch)
};

struct RequestRecord {
  Request req;
  int replica = -1, decode_replica = -1;
  double first_token = -1, finish = -1;
  int preemptions = 0;
  long prefix_hit_tokens = 0;
  double ttft() const { return first_token - req.arrival; }
  double tpot() const { return req.output > 1 ? (finish - first_token) / (req.output - 1) : 0; }
  double e2e() const { return finish - req.arrival; }
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
  nlohmann::json to_json_ms() const;
};
Percentiles percentiles(std::vector<double> v);

struct ServeResult {
  ModelSpec model;
  std::string gpu, system;
  ServeConfig cfg;
  MemoryPlan memory;
  std::vector<RequestRecord> requests;
  Percentiles ttft, tpot, e2e;
  double makespan_s = 0, output_tokens_per_s = 0, total_tokens_per_s = 0, requests_per_s = 0;
  double slo_attainment = 1, goodput_rps = 0;
  double energy_j = 0, energy_per_token_j = 0;
  long steps = 0, preemptions = 0, prefix_hit_tokens = 0;
  double mean_batch = 0, mean_kv_occupancy = 0, peak_kv_occupancy = 0;
  struct Sample { double t; double batch; double kv; };
  std::vector<Sample> timeseries;  // bucketed: summed batch, mean KV occupancy over replicas
  std::uint64_t events = 0;
  double wall_s = 0;
  StepCost prefill_step, decode_step;  // breakdowns of a representative prefill and decode step
  nlohmann::json to_json() const;
};

ServeResult run_serving(const ServeOptions& o, const std::vector<Request>& reqs);
// Requests from o.trace or o.synth, validated against the model's context.
std::vector<Request> make_requests(const ServeOptions& o);

}  // namespace orrery::serve
