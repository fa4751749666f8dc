#pragma once
// Decoder-transformer model descriptions for `orrery train`: presets (workloads/models/*.json)
// or a user model.json. Kernel-free: parameter counts and per-token FLOPs tests call directly.
//
// model.json keys (numbers; "model" component in `orrery describe`):
//   layers, hidden, heads, kv_heads, ffn, vocab, seq, [experts, top_k]
// and optional non-numeric keys: name, description, activation ("gelu" | "swiglu"),
// tied_embeddings (bool), dropout (bool), position ("learned" | "rope"). Unknown keys are an error naming the file and the key.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/params.h"

namespace orrery {

const ParamSet& model_params();

struct ModelSpec {
  std::string name;
  std::string description;
  std::string source_path;     // preset/model file ("" when built in code)
  long layers = 0;
  long hidden = 0;
  long heads = 0;
  long kv_heads = 0;           // = heads for multi-head attention, fewer for GQA
  long ffn = 0;                // MLP inner size (per expert for MoE)
  long vocab = 0;
  long seq = 0;                // default training sequence length
  long experts = 1;            // 1 = dense
  long top_k = 1;              // experts per token (MoE)
  bool swiglu = false;         // gated MLP (3 matrices) instead of GeLU (2 matrices)
  bool tied_embeddings = true; // output layer shares the input embedding
  bool dropout = true;         // hidden/attention dropout while training (masks are stored for
                               // backward); false for recipes without dropout (Llama, Mixtral)
  bool rope = false;           // rotary position embedding applied to Q and K in every layer
                               // ("position": "rope"); learned absolute positions otherwise

  bool moe() const { return experts > 1; }
  long head_dim() const { return hidden / heads; }
  long kv_dim() const { return kv_heads * head_dim(); }

  // Parameter counts (elements). Biases are ignored (< 0.1% of any preset).
  double attention_params() const;       // QKV + output projection, one layer
  double mlp_params_per_expert() const;  // one expert's (or the dense) MLP, one layer
  double router_params() const;          // MoE router, one layer (0 if dense)
  double norm_params() const;            // two norms, one layer
  double layer_params() const;           // all experts included
  double embedding_params() const;       // vocab x hidden
  double output_params() const;          // 0 when tied
  double total_params() const;
  // Parameters touched per token (MoE counts top_k experts): the "active" count.
  double active_params() const;

  // Model FLOPs of one training step per token (forward + backward = 3 x forward, no
  // recomputation, full (non-causal) attention score matrix as in Megatron's MFU formula).
  double model_flops_per_token(long seq_len) const;

  nlohmann::json to_json() const;
};

// Preset name (workloads/models/NAME.json) or path to a model JSON. Throws Error naming the
// file and the field for unknown keys, missing keys, non-integer or inconsistent values.
ModelSpec load_model(const std::string& name_or_path);
ModelSpec parse_model(const nlohmann::json& j, const std::string& where);
std::string models_dir();
std::vector<std::string> list_models();

}  // namespace orrery
