#pragma once
// Accelerator (GPU) hardware model: datasheet peaks per dtype, HBM, host link, launch costs, and
// achieved-efficiency curves calibrated from device-side microbenchmarks. Kernel-free cost model:
// plain functions tests call directly. Loaded from hw_models/presets/<name>.json.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/params.h"

namespace orrery {

enum class Dtype { BF16, FP16, FP8, FP4, TF32, FP32, FP64, I64, I32, I8, BOOL, UNKNOWN };
Dtype parse_dtype(const std::string& s);  // "bf16", "float", "c10::BFloat16", "Tensor(c10::BFloat16)", "fp4"...
// A dtype a user typed (-d, a kernel's DTYPE): one of the names nccl-tests and orrery use, exactly
// (parse_dtype, lenient for trace strings, reads "float17" as fp32); UNKNOWN for anything else.
Dtype parse_dtype_name(const std::string& s);
const char* dtype_name(Dtype d);
int dtype_bytes(Dtype d);  // fp4 (half a byte) reports 1; hw_models/mapping.h uses exact sizes

// Piecewise-linear curve in log10(x): efficiency (0..1] as a function of size (FLOPs or bytes).
struct Curve {
  std::vector<std::pair<double, double>> points;  // (x, y), x ascending
  double at(double x) const;                       // clamps outside the range
  bool empty() const { return points.empty(); }
  nlohmann::json to_json() const;
  static Curve from_json(const nlohmann::json& j, const std::string& where);
};

const ParamSet& accelerator_params();

class KernelMapper;  // hw_models/mapping.h

// Shape of a fused-attention kernel when the caller knows it (replay from the ET op, train from the
// model): batch x query heads, query/key lengths, head dim, causal mask, backward pass. The
// first-principles model maps it block by block (KernelMapper::attention); without it (head_dim 0)
// only FLOPs and bytes are known.
struct AttentionShape {
  double batch_heads = 0, sq = 0, skv = 0, head_dim = 0;
  bool causal = false, backward = false;
};
struct Arch;         // hw_models/arch.h

struct Accelerator {
  std::string name;
  std::string description;
  std::string source_path;      // preset file it came from
  ParamValues params;           // resolved, with units (see accelerator_params())
  std::map<std::string, Curve> gemm_eff;  // by dtype name ("bf16", "fp32", ...), x = FLOPs
  Curve memory_eff;             // x = bytes moved (read + write), y = fraction of hbm_bandwidth
  Curve attention_eff;          // x = FLOPs of a fused attention kernel, y = fraction of bf16 peak
  std::map<std::string, double> host_dispatch;  // "aten::mm/bf16" -> seconds per call (no profiler)
  nlohmann::json calibration;   // where the curves came from
  // first_principles=1 (--hw-model first-principles): every kernel is costed by mapping it onto the
  // preset's "arch" description (hw_models/mapping.h) instead of the calibrated curves.
  std::shared_ptr<const KernelMapper> mapper;
  // Calibrated mode with an "arch" description: its mapper, for the lower bounds the curves cannot
  // see (instruction issue, memory round trips; replay's roof_of). Null otherwise.
  std::shared_ptr<const KernelMapper> arch_mapper;
  nlohmann::json arch_json;     // the "arch" section as loaded (values with sources)

  double p(std::string_view name) const { return params.get(name); }
  double peak_flops(Dtype d) const;
  // A run that asks for dtype d's matrix engine (`flag value`, e.g. --precision fp8) on a chip whose
  // "arch" description has none (mma_<dtype> 0: fp8 on the A100) is an error naming the flag and
  // the preset's field, in either hardware model (calibrated peaks fall back to the bf16 rate).
  void require_matrix_engine(Dtype d, const std::string& flag, const std::string& value) const;
  double hbm_bandwidth() const { return p("hbm_bandwidth"); }
  double gemm_efficiency(Dtype d, double flops) const;
  // Fraction of HBM bandwidth a kernel moving `bytes` achieves. The microbenchmarks replay the
  // same buffers, so sizes that fit in L2 measure L2, not HBM (efficiency > 1); in a step,
  // tensors stream from HBM: the curve is capped at its streaming value (sizes >= 2 x L2).
  double memory_efficiency(double bytes) const;

  // Roofline times (seconds) with calibrated efficiencies; each includes min_kernel_time floor.
  double gemm_time(double m, double n, double k, Dtype d, double batch = 1) const;
  // `shape` (optional) lets the first-principles model map the kernel block by block; the
  // calibrated curve sees only its FLOPs.
  double attention_time(double flops, double bytes, Dtype d, const AttentionShape* shape = nullptr) const;
  double memory_time(double bytes) const;
  // Generic kernel: max(compute, memory) with efficiencies. `matrix` selects tensor-core peak.
  double kernel_time(double flops, double bytes, Dtype d, bool matrix) const;

  // Whole resolved configuration (for config.json next to results).
  nlohmann::json to_json() const;
};

// A parameter only the kernel models read (a peak, the HBM bandwidth, an efficiency, a kernel
// floor): measured-mode replay, which keeps the captured kernel times, cannot use it.
bool kernel_model_param(const std::string& name);

// Loads a preset by name (hw_models/presets/NAME.json) or by path; applies "name=value"
// overrides (--set). Errors name the file and the field.
Accelerator load_accelerator(const std::string& name_or_path, const std::vector<std::string>& overrides = {});
std::string presets_dir();
std::vector<std::string> list_presets();

}  // namespace orrery
