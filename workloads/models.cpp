#include "workloads/models.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sim/data_files.h"
#include "sim/error.h"

namespace orrery {

const ParamSet& model_params() {
  static const ParamSet set(
      "model", "decoder transformer for `orrery train` (workloads/models/*.json or --model model.json)",
      {
          {"layers", Unit::Count, "", "transformer layers", true},
          {"hidden", Unit::Count, "", "hidden size h", true},
          {"heads", Unit::Count, "", "attention heads a", true},
          {"kv_heads", Unit::Count, "0", "key/value heads (GQA); 0 = heads", false},
          {"ffn", Unit::Count, "", "MLP inner size (per expert)", true},
          {"vocab", Unit::Count, "", "vocabulary size", true},
          {"seq", Unit::Count, "", "sequence length (overridden by --seq)", true},
          {"experts", Unit::Count, "1", "MoE experts per layer (1 = dense)", true},
          {"top_k", Unit::Count, "1", "experts each token is routed to", true},
      });
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

double ModelSpec::attention_params() const {
  double h = static_cast<double>(hidden);
  return h * (h + 2.0 * static_cast<double>(kv_dim())) + h * h;
}
double ModelSpec::mlp_params_per_expert() const {
  return (swiglu ? 3.0 : 2.0) * static_cast<double>(hidden) * static_cast<double>(ffn);
}
double ModelSpec::router_params() const {
  return moe() ? static_cast<double>(hidden) * static_cast<double>(experts) : 0.0;
}
double ModelSpec::norm_params() const { return 2.0 * static_cast<double>(hidden); }
double ModelSpec::layer_params() const {
  return attention_params() + static_cast<double>(experts) * mlp_params_per_expert() + router_params() +
         norm_params();
}
double ModelSpec::embedding_params() const { return static_cast<double>(vocab) * static_cast<double>(hidden); }
double ModelSpec::output_params() const { return tied_embeddings ? 0.0 : embedding_params(); }
double ModelSpec::total_params() const {
  return static_cast<double>(layers) * layer_params() + embedding_params() + output_params() +
         static_cast<double>(hidden);
}
double ModelSpec::active_params() const {
  double layer = attention_params() + static_cast<double>(top_k) * mlp_params_per_expert() + router_params() +
                 norm_params();
  return static_cast<double>(layers) * layer + embedding_params() + output_params() + static_cast<double>(hidden);
}

double ModelSpec::model_flops_per_token(long seq_len) const {
  double L = static_cast<double>(layers), h = static_cast<double>(hidden), s = static_cast<double>(seq_len);
  double matmul_params = attention_params() + static_cast<double>(top_k) * mlp_params_per_expert() + router_params();
  double fwd = 2.0 * L * matmul_params       // weight GEMMs
               + 4.0 * L * s * h             // QK^T and AV (full score matrix)
               + 2.0 * h * static_cast<double>(vocab);  // output layer (logits)
  return 3.0 * fwd;
}

nlohmann::json ModelSpec::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  if (!description.empty()) j["description"] = description;
  j["layers"] = layers;
  j["hidden"] = hidden;
  j["heads"] = heads;
  j["kv_heads"] = kv_heads;
  j["ffn"] = ffn;
  j["vocab"] = vocab;
  j["seq"] = seq;
  if (moe()) {
    j["experts"] = experts;
    j["top_k"] = top_k;
  }
  j["activation"] = swiglu ? "swiglu" : "gelu";
  j["tied_embeddings"] = tied_embeddings;
  j["dropout"] = dropout;
  j["position"] = rope ? "rope" : "learned";
  j["params_total"] = total_params();
  j["params_active"] = active_params();
  return j;
}

ModelSpec parse_model(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw make_error(where, "", "expected a JSON object describing the model");
  nlohmann::json numeric = nlohmann::json::object();
  ModelSpec m;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "name") {
      if (!it->is_string()) throw make_error(where, k, "expected a string");
      m.name = it->get<std::string>();
    } else if (k == "description") {
      if (!it->is_string()) throw make_error(where, k, "expected a string");
      m.description = it->get<std::string>();
    } else if (k == "activation") {
      std::string a = it->is_string() ? it->get<std::string>() : "";
      if (a == "gelu") m.swiglu = false;
      else if (a == "swiglu") m.swiglu = true;
      else throw make_error(where, k, "expected \"gelu\" or \"swiglu\" (got " + it->dump() + ")");
    } else if (k == "tied_embeddings") {
      if (!it->is_boolean()) throw make_error(where, k, "expected true or false (got " + it->dump() + ")");
      m.tied_embeddings = it->get<bool>();
    } else if (k == "dropout") {
      if (!it->is_boolean()) throw make_error(where, k, "expected true or false (got " + it->dump() + ")");
      m.dropout = it->get<bool>();
    } else if (k == "position") {
      std::string a = it->is_string() ? it->get<std::string>() : "";
      if (a == "rope") m.rope = true;
      else if (a == "learned") m.rope = false;
      else throw make_error(where, k, "expected \"rope\" or \"learned\" (got " + it->dump() + ")");
    } else if (model_params().find(k)) {
      numeric[k] = *it;
    } else {
      std::string known = "name, description, activation, tied_embeddings, dropout, position";
      for (auto& d : model_params().decls()) known += ", " + d.name;
      throw make_error(where, k, "unknown model key (known: " + known + ")");
    }
  }
  ParamValues v = model_params().resolve(numeric, where);
  auto integer = [&](const std::string& k) -> long {
    double x = v.get(k);
    if (std::floor(x) != x || x > 1e12) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "must be a whole number up to 1e12 (got %.17g)", x);
      throw make_error(where, k, buf);
    }
    return static_cast<long>(x);
  };
  m.layers = integer("layers");
  // Simulation size bound (docs/robustness.md): every layer of every micro-batch is an event.
  if (m.layers > 65536) throw make_error(where, "layers", std::to_string(m.layers) + " is out of range (at most 65536)");
  m.hidden = integer("hidden");
  m.heads = integer("heads");
  m.kv_heads = integer("kv_heads");
  if (m.kv_heads == 0) m.kv_heads = m.heads;
  m.ffn = integer("ffn");
  m.vocab = integer("vocab");
  m.seq = integer("seq");
  m.experts = integer("experts");
  m.top_k = integer("top_k");
  if (m.hidden % m.heads != 0)
    throw make_error(where, "heads", "hidden " + std::to_string(m.hidden) + " is not divisible by heads " + std::to_string(m.heads));
  if (m.heads % m.kv_heads != 0)
    throw make_error(where, "kv_heads", std::to_string(m.kv_heads) + " does not divide heads " + std::to_string(m.heads));
  if (m.top_k > m.experts)
    throw make_error(where, "top_k", std::to_string(m.top_k) + " exceeds experts " + std::to_string(m.experts));
  if (m.name.empty()) m.name = "model";
  return m;
}

std::string models_dir() { return data_dir("ORRERY_MODELS", "workloads/models"); }

std::vector<std::string> list_models() { return json_stems(models_dir()); }

ModelSpec load_model(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  std::string path = find_data_file(name_or_path, models_dir(), "--model", "unknown model preset and no such file", "presets");
  nlohmann::json j = parse_json_path(path);
  ModelSpec m = parse_model(j, path);
  if (!j.contains("name")) m.name = fs::path(path).stem().string();
  m.source_path = path;
  return m;
}

}  // namespace orrery
