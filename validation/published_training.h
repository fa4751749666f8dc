#pragma once
// Published end-to-end training iterations (validation/data/published_training.json: each row a
// model, a cluster, a parallel plan and the published iteration times per recompute setting)
// predicted with `orrery train` on the matching system: the scale-side counterpart of replaying
// captured steps. Plain C++ (the pipeline simulation runs on the kernel-free EventCore).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery {

struct PublishedTrainingRow {
  std::string source, model, cluster, system;  // system: the orrery system it runs on
  std::string setting;                         // "full_recompute", "sequence_parallel_plus_selective_recompute"
  std::string plan;                            // "TP8 PP8 v3 DP1, mb 1, gb 64, recompute selective + SP"
  int gpus = 0;
  double published_s = 0, predicted_s = 0;
  double mfu_predicted = 0, mfu_published = 0;  // Megatron's model FLOPs over the dense bf16 peak
  nlohmann::json breakdown_s;                  // compute, exposed_tp, pipeline_bubble, ...
  double error_pct() const { return published_s > 0 ? (predicted_s - published_s) / published_s * 100.0 : 0.0; }
};

// Reads the file (rows with model shape, gpus, tp/pp/dp, virtual_pipeline_stages, micro_batch,
// global_batch and iteration_s per setting; the cluster must be a DGX A100 (or NVIDIA Selene) or DGX H100 one) and
// predicts every (row, setting) with unfused attention (what the published systems ran),
// sequence parallelism with selective recompute, fp32 main gradients. Errors name the file, row
// and field.
// `hw_overrides` (--set, --hw-model) apply to the cluster's accelerator.
std::vector<PublishedTrainingRow> validate_published_training(const std::string& path,
                                                              const std::vector<std::string>& hw_overrides = {});

}  // namespace orrery
