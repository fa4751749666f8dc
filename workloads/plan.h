#pragma once
// Parallel-plan search (`orrery plan`): enumerates TP (+SP), PP, VP, DP, CP, EP, micro-batch,
// recompute policy and ZeRO stage for a model on N GPUs at a global batch and sequence length;
// rejects invalid plans (validate_plan) and plans over the HBM limit (the memory closed forms,
// stage_memory); orders the rest by an analytical estimate and prunes with two lower bounds on
// the step time (compute only; compute + the TP/CP/EP collectives on the critical path, both
// plus the pipeline fill), then simulates the survivors with run_training(TrainOptions).
// Kernel-free: plain C++ that tests call directly.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/train.h"

namespace orrery {

struct PlanOptions {
  std::string model, system = "dgx-h100";
  int gpus = 0;
  long global_batch = 0, seq = 0;  // seq 0 = the model's
  int top = 5;
  std::string comm = "auto";       // TrainOptions::comm of the answer (auto = every rank on the fabric)
  // Two stages: every surviving plan is screened with this comm model (the closed form, fast),
  // then the best `verify` of them (0 = top) and the references run again with `comm` on the
  // cluster executor and are ranked by that. screen = "fabric": every survivor on the executor.
  std::string screen = "analytical";
  int verify = 0;
  std::vector<std::string> hw_overrides, sys_overrides;
  Dtype precision = Dtype::BF16;
  // Search space (empty = the defaults: TP divisors of the node up to 8, PP dividing the layers,
  // VP up to 8, CP 1..8, EP dividing the experts, micro-batch 1..8, every recompute policy and
  // ZeRO stage, SP on and off).
  std::vector<int> tp, pp, vp, cp, ep, zero;
  std::vector<long> micro_batch;
  std::vector<Recompute> recompute;
  double memory_fraction = 1.0;    // of the HBM capacity a plan may use (headroom for fragmentation)
  int rank_sims = 0;               // more simulations to rank the references exactly
  int max_sims = 2000;             // cap on simulations (the search says when it stopped early)
  // Plans to place in the ranking (published recipes), simulated whatever their bound.
  std::vector<std::pair<std::string, TrainPlan>> references;
};

struct PlanCandidate {
  TrainPlan plan;
  std::string label;               // reference name, or ""
  double compute_bound_s = 0;      // compute only + pipeline fill
  double bound_s = 0;              // + TP/CP/EP collectives on the critical path
  double peak_memory_bytes = 0;
  bool simulated = false;
  std::string error;               // simulation failure (one line)
  double iteration_time_s = 0, mfu = 0, tokens_per_s_per_gpu = 0;
  nlohmann::json breakdown_s;      // TrainResult breakdown
  double estimate_s = 0;           // the screening simulation's iteration time
  bool verified = false;           // iteration_time_s comes from the verification run (comm)
  int rank = 0;                    // 1 = best among simulated; 0 = not ranked
  int rank_max = 0;                // references: worst possible rank (plans left unsimulated)
  nlohmann::json to_json() const;
};

struct PlanSearch {
  PlanOptions options;
  std::string model, system, gpu, comm_model;
  long seq = 0;
  double hbm_capacity = 0;
  long enumerated = 0, invalid = 0, over_memory = 0, pruned_compute = 0, pruned_bound = 0, simulated = 0,
       failed = 0;
  long over_budget = 0;  // not simulated: --max-sims reached
  long twins = 0;  // not simulated: same kernels and memory as a simulated plan (recompute no-op)
  long verified = 0;             // plans re-simulated with options.comm
  std::string screen_model;      // comm of the screening stage ("" = no separate stage)
  double verify_wall_s = 0;
  bool budget_exhausted = false;
  std::map<std::string, long> invalid_reasons;  // by flag
  std::vector<PlanCandidate> ranked;            // simulated, best first
  std::vector<PlanCandidate> references;        // with their rank in `ranked`
  double wall_s = 0, enumerate_wall_s = 0, simulate_wall_s = 0;
  std::string why;                              // why the best wins (vs the runner-up / references)
  nlohmann::json to_json() const;               // "plans" best first (top k), counts, references
};

PlanSearch search_plans(const PlanOptions& opt);

// "tp=4,pp=4,vp=5,cp=2,sp=1,mb=1,zero=1,recompute=selective" -> plan fields (others default);
// unknown keys are an Error naming `where` and the key.
TrainPlan parse_plan_spec(const std::string& spec, const std::string& where);
std::string plan_label(const TrainPlan& p);

}  // namespace orrery
