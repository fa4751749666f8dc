// Published training iterations run through `orrery train`: the row formats (the paper rows of
// shared/reference/published_training.json, and preset rows of framework performance tables),
// the plan each setting implies, and the comparison rows validate prints.
#include "validation/published_training.h"

#include <algorithm>
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
namespace {

using nlohmann::json;

// Runs f; an error it raises (a preset, a system, a plan check: they name the CLI flag) is
// re-raised naming the file, the row and the row's field.
template <class F>
auto in_row(const std::string& where, const char* field, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw make_error(where, field, e.what());
  }
}

// The orrery system a row runs on: its "system" key, else its cluster's name (NVIDIA Selene is a
// DGX A100 SuperPOD).
std::string row_system(const json& row, const std::string& where) {
  std::string system = json_string_field(row, "system", "", where);
  if (!system.empty()) return system;
  std::string cluster = json_string_field(row, "cluster", "", where);
  if (cluster.find("A100") != std::string::npos || cluster.find("Selene") != std::string::npos) return "dgx-a100";
  if (cluster.find("H100") != std::string::npos) return "dgx-h100";
  throw make_error(where, "cluster", "'" + cluster + "': no matching system (DGX A100 or DGX H100; or give \"system\")");
}

// The model: a preset ("model_preset"), or the GPT shape the paper rows give (GeLU, tied embeddings).
ModelSpec row_model(const json& row, const std::string& where) {
  std::string preset = json_string_field(row, "model_preset", "", where);
  if (!preset.empty()) return in_row(where, "model_preset", [&] { return load_model(preset); });
  json mj = {{"name", json_string_field(row, "model", "model", where)},
             {"layers", json_positive_field(row, "layers", where, true, 1e9)},
             {"hidden", json_positive_field(row, "hidden", where, true, 1e9)},
             {"heads", json_positive_field(row, "heads", where, true, 1e9)},
             {"seq", json_positive_field(row, "seq", where, true, 1e9)},
             {"vocab", json_positive_field(row, "vocab", where, true, 1e9)},
             {"activation", "gelu"},
             {"tied_embeddings", true}};
  mj["ffn"] = 4 * mj["hidden"].get<double>();
  return parse_model(mj, where);
}

int optional_count(const json& row, const char* key, int def, const std::string& where) {
  return row.contains(key) ? static_cast<int>(json_positive_field(row, key, where, true, 1e9)) : def;
}

bool optional_bool(const json& row, const char* key, const std::string& where) {
  if (!row.contains(key)) return false;
  if (!row[key].is_boolean()) throw make_error(where, key, "expected true or false");
  return row[key].get<bool>();
}

// The plan the row publishes, before the setting's recompute. Paper rows: unfused attention
// (Megatron 2022 had no flash attention), bf16; preset rows say what they ran.
TrainPlan row_plan(const json& row, const ModelSpec& m, const std::string& where) {
  TrainPlan p;
  p.tp = optional_count(row, "tp", 1, where);
  p.pp = optional_count(row, "pp", 1, where);
  p.dp = static_cast<int>(json_positive_field(row, "dp", where, true, 1e9));
  p.cp = optional_count(row, "cp", 1, where);
  p.vp = optional_count(row, "virtual_pipeline_stages", 1, where);
  p.micro_batch = static_cast<long>(json_positive_field(row, "micro_batch", where, true, 1e9));
  p.global_batch = static_cast<long>(json_positive_field(row, "global_batch", where, true, 1e9));
  p.seq = row.contains("model_preset") ? optional_count(row, "seq", static_cast<int>(m.seq), where) : m.seq;
  p.zero = row.contains("zero") ? static_cast<int>(json_positive_field(row, "zero", where, true, 3)) : 0;
  p.sequence_parallel = optional_bool(row, "sequence_parallel", where);
  p.embedding_in_split = optional_bool(row, "account_for_embedding_in_pipeline_split", where);
  p.loss_in_split = optional_bool(row, "account_for_loss_in_pipeline_split", where);
  p.recompute_layers = optional_count(row, "recompute_num_layers", 0, where);
  std::string att = json_string_field(row, "attention", row.contains("model_preset") ? "flash" : "unfused", where);
  if (att != "flash" && att != "unfused") throw make_error(where, "attention", "expected \"flash\" or \"unfused\"");
  p.attention = att == "flash" ? AttentionImpl::Flash : AttentionImpl::Unfused;
  // (the paper rows' "precision" is prose: "bf16/fp16 mixed")
  std::string prec = row.contains("model_preset") ? json_string_field(row, "precision", "bf16", where) : "bf16";
  if (prec != "bf16" && prec != "fp8") throw make_error(where, "precision", "expected \"bf16\" or \"fp8\"");
  p.precision = prec == "fp8" ? Dtype::FP8 : Dtype::BF16;
  return p;
}

void apply_setting(TrainPlan& p, const std::string& setting, const std::string& where, const std::string& field) {
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
    throw make_error(where, field, "unknown setting (full_recompute, selective_recompute, "
                                     "sequence_parallel_plus_selective_recompute, no_recompute)");
  }
}

// Published iteration times per setting: "iteration_s" directly, or "tokens_per_s_per_gpu" (a
// framework table's throughput: global batch x sequence / (throughput x GPUs)).
std::vector<std::pair<std::string, double>> published_times(const json& row, const TrainPlan& p, int gpus,
                                                            const std::string& where) {
  const char* key = row.contains("tokens_per_s_per_gpu") ? "tokens_per_s_per_gpu" : "iteration_s";
  if (!row.contains(key) || !row[key].is_object())
    throw make_error(where, "iteration_s", "missing: the published times (or tokens_per_s_per_gpu) per setting");
  std::vector<std::pair<std::string, double>> out;
  for (auto it = row[key].begin(); it != row[key].end(); ++it) {
    if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>()))
      throw make_error(where, std::string(key) + "." + it.key(), "expected a positive number");
    double x = it->get<double>();
    out.emplace_back(it.key(), key == std::string("iteration_s") ? x : double(p.global_batch) * p.seq / (x * gpus));
  }
  return out;
}

std::string plan_text(const TrainPlan& p) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "TP%d PP%d%s DP%d%s, mb %ld, gb %ld, recompute %s%s%s%s%s", p.tp, p.pp,
                p.vp > 1 ? (" v" + std::to_string(p.vp)).c_str() : "", p.dp,
                p.cp > 1 ? (" CP" + std::to_string(p.cp)).c_str() : "", p.micro_batch, p.global_batch,
                recompute_name(p.recompute), p.recompute_layers ? (" " + std::to_string(p.recompute_layers) + " layers").c_str() : "",
                p.sequence_parallel ? " + SP" : "",
                p.zero ? (", ZeRO-" + std::to_string(p.zero)).c_str() : "", p.precision == Dtype::FP8 ? ", fp8" : "");
  return buf;
}

}  // namespace

std::vector<PublishedTrainingRow> validate_published_training(const std::string& path, const std::vector<std::string>& hw_overrides) {
  json j = read_json_file(path);
  if (!j.is_object() || !j.contains("rows") || !j["rows"].is_array())
    throw make_error(path, "rows", "missing: not a published-training file");
  std::vector<PublishedTrainingRow> out;
  for (size_t i = 0; i < j["rows"].size(); ++i) {
    const auto& row = j["rows"][i];
    const std::string where = path + ": rows[" + std::to_string(i) + "]";
    if (!row.is_object()) throw make_error(where, "", "expected an object");
    ModelSpec m = row_model(row, where);
    const int gpus = static_cast<int>(json_positive_field(row, "gpus", where, true, 1e9));
    const std::string system = row_system(row, where);
    SystemSpec sys = in_row(where, "system", [&] { return load_system_spec(system, 1); });
    if (gpus > sys.gpus_per_node && gpus % sys.gpus_per_node)
      throw make_error(where, "gpus", std::to_string(gpus) + " is not a whole number of " + std::to_string(sys.gpus_per_node) + "-GPU nodes");
    sys = load_system_spec(sys.name, std::max(1, gpus / sys.gpus_per_node));
    if (gpus < sys.gpus_per_node) sys.job_gpus = gpus;  // the first GPUs of one node (or NVLink domain)
    Accelerator hw = load_accelerator(sys.gpu, hw_overrides);
    auto comm = make_comm_model(sys, "auto");
    const TrainPlan base = row_plan(row, m, where);
    for (auto& [setting, published] : published_times(row, base, gpus, where)) {
      TrainPlan p = base;
      apply_setting(p, setting, where, (row.contains("tokens_per_s_per_gpu") ? "tokens_per_s_per_gpu." : "iteration_s.") + setting);
      in_row(where, "plan", [&] { validate_plan(m, p, sys); });
      EventCore core;
      TrainResult r = in_row(where, "plan", [&] { return run_training(m, sys, p, hw, *comm, core); });
      PublishedTrainingRow o;
      o.source = json_string_field(row, "source", "", where);
      o.model = m.name;
      o.cluster = json_string_field(row, "cluster", "", where);
      o.system = sys.name;
      o.setting = setting;
      o.gpus = gpus;
      o.plan = plan_text(p);
      o.published_s = published;
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
