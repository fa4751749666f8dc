#include "validation/published_training.h"

#include <cmath>
#include <cstdio>

#include "hw_models/accelerator.h"
#include "sim/data_files.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "workloads/json_io.h"
#include "workloads/models.h"
#include "workloads/train.h"

namespace orrery {

std::vector<PublishedTrainingRow> validate_published_training(const std::string& path, const std::vector<std::string>& hw_overrides) {
  nlohmann::json j = read_json_file(path);
  if (!j.is_object() || !j.contains("rows") || !j["rows"].is_array())
    throw make_error(path, "rows", "missing: not a published-training file");
  std::vector<PublishedTrainingRow> out;
  for (size_t i = 0; i < j["rows"].size(); ++i) {
    const auto& row = j["rows"][i];
    const std::string where = path + ": rows[" + std::to_string(i) + "]";
    if (!row.is_object()) throw make_error(where, "", "expected an object");
    std::string cluster = json_string_field(row, "cluster", "", where);
    // NVIDIA Selene is a DGX A100 SuperPOD.
    std::string system = cluster.find("A100") != std::string::npos || cluster.find("Selene") != std::string::npos ? "dgx-a100"
                         : cluster.find("H100") != std::string::npos ? "dgx-h100"
                                                                     : "";
    if (system.empty()) throw make_error(where, "cluster", "'" + cluster + "': no matching system (DGX A100 or DGX H100)");
    nlohmann::json mj = {{"name", json_string_field(row, "model", "model", where)},
                         {"layers", json_positive_field(row, "layers", where, true, 1e9)},
                         {"hidden", json_positive_field(row, "hidden", where, true, 1e9)},
                         {"heads", json_positive_field(row, "heads", where, true, 1e9)},
                         {"seq", json_positive_field(row, "seq", where, true, 1e9)},
                         {"vocab", json_positive_field(row, "vocab", where, true, 1e9)},
                         {"activation", "gelu"},
                         {"tied_embeddings", true}};
    mj["ffn"] = 4 * mj["hidden"].get<double>();
    ModelSpec m = parse_model(mj, where);
    const int gpus = static_cast<int>(json_positive_field(row, "gpus", where, true, 1e9));
    if (gpus % 8) throw make_error(where, "gpus", std::to_string(gpus) + " is not a whole number of 8-GPU nodes");
    SystemSpec sys = load_system_spec(system, gpus / 8);
    Accelerator hw = load_accelerator(sys.gpu, hw_overrides);
    auto comm = make_comm_model(sys, "auto");
    if (!row.contains("iteration_s") || !row["iteration_s"].is_object())
      throw make_error(where, "iteration_s", "missing: the published times per setting");
    for (auto it = row["iteration_s"].begin(); it != row["iteration_s"].end(); ++it) {
      const std::string setting = it.key();
      if (!it->is_number() || !(it->get<double>() > 0))
        throw make_error(where, "iteration_s." + setting, "expected a positive time in seconds");
      TrainPlan p;
      p.tp = static_cast<int>(json_positive_field(row, "tp", where, true, 1e9));
      p.pp = static_cast<int>(json_positive_field(row, "pp", where, true, 1e9));
      p.dp = static_cast<int>(json_positive_field(row, "dp", where, true, 1e9));
      p.vp = row.contains("virtual_pipeline_stages") ? static_cast<int>(json_positive_field(row, "virtual_pipeline_stages", where, true, 1e9)) : 1;
      p.micro_batch = static_cast<long>(json_positive_field(row, "micro_batch", where, true, 1e9));
      p.global_batch = static_cast<long>(json_positive_field(row, "global_batch", where, true, 1e9));
      p.seq = m.seq;
      p.attention = AttentionImpl::Unfused;
      if (setting == "full_recompute") {
        p.recompute = Recompute::Full;
      } else if (setting == "sequence_parallel_plus_selective_recompute") {
        p.recompute = Recompute::Selective;
        p.sequence_parallel = true;
      } else if (setting == "selective_recompute") {
        p.recompute = Recompute::Selective;
      } else if (setting == "no_recompute") {
        p.recompute = Recompute::None;
      } else {
        throw make_error(where, "iteration_s." + setting,
                         "unknown setting (full_recompute, selective_recompute, "
                         "sequence_parallel_plus_selective_recompute, no_recompute)");
      }
      validate_plan(m, p, sys);
      EventCore core;
      TrainResult r = run_training(m, sys, p, hw, *comm, core);
      PublishedTrainingRow o;
      o.source = json_string_field(row, "source", "", where);
      o.model = m.name;
      o.cluster = cluster;
      o.system = sys.name;
      o.setting = setting;
      o.gpus = gpus;
      char buf[160];
      std::snprintf(buf, sizeof buf, "TP%d PP%d%s DP%d, mb %ld, gb %ld, recompute %s%s", p.tp, p.pp,
                    p.vp > 1 ? (" v" + std::to_string(p.vp)).c_str() : "", p.dp, p.micro_batch, p.global_batch,
                    recompute_name(p.recompute), p.sequence_parallel ? " + SP" : "");
      o.plan = buf;
      o.published_s = it->get<double>();
      o.predicted_s = r.iteration_time_s;
      o.mfu_predicted = r.mfu;
      o.mfu_published = r.mfu * r.iteration_time_s / o.published_s;
      o.breakdown_s = r.to_json()["breakdown_s"];
      out.push_back(std::move(o));
    }
  }
  return out;
}

}  // namespace orrery
