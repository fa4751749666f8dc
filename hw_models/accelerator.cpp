#include "hw_models/accelerator.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "hw_models/arch.h"
#include "hw_models/mapping.h"
#include "sim/data_files.h"
#include "sim/error.h"

namespace orrery {

namespace {
Dtype parse_dtype_text(const std::string& s0) {
  std::string s = s0;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "fp4" || s == "mxfp4" || s == "nvfp4" || s.find("float4") != std::string::npos) return Dtype::FP4;
  if (s.find("bfloat16") != std::string::npos || s == "bf16") return Dtype::BF16;
  if (s.find("float8") != std::string::npos || s == "fp8" || s.find("e4m3") != std::string::npos ||
      s.find("e5m2") != std::string::npos) return Dtype::FP8;
  if (s.find("half") != std::string::npos || s == "fp16" || s == "float16") return Dtype::FP16;
  if (s == "tf32") return Dtype::TF32;
  if (s.find("double") != std::string::npos || s == "fp64") return Dtype::FP64;
  if (s.find("float") != std::string::npos || s == "fp32" || s == "float32") return Dtype::FP32;
  if (s.find("long") != std::string::npos || s == "int64" || s == "i64") return Dtype::I64;
  if (s == "int8" || s == "i8") return Dtype::I8;
  if (s.find("int") != std::string::npos) return Dtype::I32;
  if (s.find("bool") != std::string::npos) return Dtype::BOOL;
  if (s.find("byte") != std::string::npos || s.find("char") != std::string::npos) return Dtype::I8;
  return Dtype::UNKNOWN;
}
}  // namespace

// A trace names a handful of dtypes millions of times: the last answer is kept per thread.
Dtype parse_dtype(const std::string& s) {
  thread_local std::string last;
  thread_local Dtype last_dtype = parse_dtype_text(last);
  if (s != last) {
    last_dtype = parse_dtype_text(s);
    last = s;
  }
  return last_dtype;
}

Dtype parse_dtype_name(const std::string& s) {
  static const std::set<std::string> names = {
      "fp64", "double", "float64", "fp32", "float", "float32", "tf32", "bf16", "bfloat16", "fp16", "half", "float16",
      "fp8", "e4m3", "e5m2", "fp8_e4m3", "fp8_e5m2", "f8e4m3", "f8e5m2", "fp4", "mxfp4", "nvfp4", "int8", "i8", "char",
      "uint8", "int32", "int", "uint32", "int64", "uint64"};
  if (!names.count(s)) return Dtype::UNKNOWN;
  return parse_dtype(s.rfind("uint", 0) == 0 ? s.substr(1) : s);  // (an unsigned type has its signed one's width)
}

const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::BF16: return "bf16";
    case Dtype::FP16: return "fp16";
    case Dtype::FP8: return "fp8";
    case Dtype::FP4: return "fp4";
    case Dtype::TF32: return "tf32";
    case Dtype::FP32: return "fp32";
    case Dtype::FP64: return "fp64";
    case Dtype::I64: return "i64";
    case Dtype::I32: return "i32";
    case Dtype::I8: return "i8";
    case Dtype::BOOL: return "bool";
    case Dtype::UNKNOWN: return "unknown";
  }
  return "unknown";
}

int dtype_bytes(Dtype d) {
  switch (d) {
    case Dtype::BF16: case Dtype::FP16: return 2;
    case Dtype::FP8: case Dtype::FP4: case Dtype::I8: case Dtype::BOOL: return 1;
    case Dtype::TF32: case Dtype::FP32: case Dtype::I32: return 4;
    case Dtype::FP64: case Dtype::I64: return 8;
    case Dtype::UNKNOWN: return 4;
  }
  return 4;
}

double Curve::at(double x) const {
  if (points.empty()) return 1.0;
  if (x <= points.front().first) return points.front().second;
  if (x >= points.back().first) return points.back().second;
  double lx = std::log10(std::max(x, 1e-30));
  for (size_t i = 1; i < points.size(); ++i) {
    if (x <= points[i].first) {
      double x0 = std::log10(points[i - 1].first), x1 = std::log10(points[i].first);
      double t = x1 > x0 ? (lx - x0) / (x1 - x0) : 0.0;
      return points[i - 1].second + t * (points[i].second - points[i - 1].second);
    }
  }
  return points.back().second;
}

nlohmann::json Curve::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (auto& [x, y] : points) j.push_back({x, y});
  return j;
}

Curve Curve::from_json(const nlohmann::json& j, const std::string& where) {
  Curve c;
  if (!j.is_array()) throw make_error(where, "", "expected an array of [size, efficiency] pairs");
  for (auto& p : j) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
      throw make_error(where, "", "expected [size, efficiency] pairs");
    double x = p[0].get<double>(), y = p[1].get<double>();
    if (!(x > 0) || !(y > 0) || y > 1.5) throw make_error(where, "", "size must be > 0 and efficiency in (0, 1.5]");
    c.points.emplace_back(x, y);
  }
  std::sort(c.points.begin(), c.points.end());
  return c;
}

const ParamSet& accelerator_params() {
  static const ParamSet set = ParamSet(
      "accelerator", "one GPU/accelerator chip (hw_models/presets/*.json, section \"params\")",
      {
          {"peak_bf16", Unit::FlopRate, "", "dense BF16 tensor-core peak", true},
          {"peak_fp16", Unit::FlopRate, "", "dense FP16 tensor-core peak", true},
          {"peak_fp8", Unit::FlopRate, "", "dense FP8 tensor-core peak (bf16 peak where unsupported)", true},
          {"peak_tf32", Unit::FlopRate, "", "dense TF32 tensor-core peak", true},
          {"peak_fp32", Unit::FlopRate, "", "FP32 (non-tensor) peak", true},
          {"hbm_bandwidth", Unit::Bandwidth, "", "HBM bandwidth (datasheet, read+write)", true},
          {"hbm_capacity", Unit::Bytes, "", "HBM capacity", true},
          {"sm_count", Unit::Count, "", "streaming multiprocessors (compute units)", true},
          {"l2_size", Unit::Bytes, "", "L2 cache size", true},
          {"vector_efficiency", Unit::Ratio, "0.5", "achieved fraction of FP32 peak by non-matrix kernels", true},
          {"unrolled_elementwise_efficiency", Unit::Ratio, "1",
           "memory efficiency of PyTorch's unrolled_elementwise_kernel (no vector loads: dtype casts) relative to the "
           "vectorized kernels of the memory curve (orrery calibrate --kernel-families)", true},
          {"strided_elementwise_efficiency", Unit::Ratio, "1",
           "memory efficiency of PyTorch's generic elementwise_kernel (strided / broadcast operands) relative to the "
           "vectorized kernels (orrery calibrate --kernel-families)", true},
          {"gemm_align2_slowdown", Unit::Ratio, "1",
           "time of a 16-bit GEMM or convolution whose operands' leading dimensions are 2 or 4 elements aligned (not "
           "16 bytes: a vocabulary of 30522) over the aligned one's: cuBLAS/cuDNN's narrower-load kernels "
           "(validation/capture/gemm_align.py; 1: not modelled)", true},
          {"gemm_align1_slowdown", Unit::Ratio, "1",
           "the same for odd leading dimensions (a vocabulary of 50257, a convolution over 3 input channels)", true},
          {"min_kernel_time", Unit::Time, "2 us", "device time of the smallest kernel (graph replay)", true},
          {"kernel_gap", Unit::Time, "1 us", "device-side gap between back-to-back kernels on a stream", false},
          {"graph_node_gap", Unit::Time, "0.5 us",
           "device-side gap between consecutive kernel nodes of one CUDA graph launch (NVIDIA Technical Blog, "
           "'Getting Started with CUDA Graphs', 2019: a 2.9 us kernel takes 3.4 us per node in a graph, 3.8 us "
           "launched on a stream; V100, assumed unchanged)", false},
          {"launch_latency", Unit::Time, "4 us", "host launch call to kernel start on an idle GPU", false},
          {"launch_cost", Unit::Time, "5 us", "host time of one kernel launch inside an op", false},
          {"op_overhead", Unit::Time, "3 us", "host time of an op that launches nothing (view-like)", false},
          {"host_link_bandwidth", Unit::Bandwidth, "55 GB/s", "host<->device copy bandwidth per direction", true},
          {"host_memory_bandwidth", Unit::Bandwidth, "0 B/s",
           "host DRAM bandwidth per GPU: its share of the node's CPU memory channels, peak (the CPU optimizer "
           "step of train --optimizer-offload; 0: not known, offload refused). Sources: docs/training.md", false},
          {"host_link_latency", Unit::Time, "10 us", "host<->device copy latency", false},
          {"sync_cost", Unit::Time, "10 us", "host time to return from a device/stream synchronize", false},
          {"collective_floor", Unit::Time, "30 us", "device time of a one-rank NCCL collective", false},
          {"clock_duty_slowdown", Unit::Ratio, "0", "slowdown of compute-bound kernels per unit of GPU duty-cycle increase (power-limited SM clock); corrects kernel times captured at low duty cycle", false},
          {"power_tdp", Unit::Power, "700 W", "board power at full load", true},
          {"power_idle", Unit::Power, "90 W", "board power when idle", false},
          {"first_principles", Unit::Count, "0",
           "1: cost kernels from the preset's \"arch\" description (hw_models/mapping.h, --hw-model first-principles) "
           "instead of the calibrated curves", false},
      })
      // One namespace: the NVLink speed belongs to the system (nothing read the chip's copy).
      .retire("nvlink_bandwidth",
              "the NVLink speed is the system's: topology nvlink_bandwidth (per lane) in systems/*.json, "
              "what-if --sys-set nvlink_bandwidth=50GB/s; delete it from the preset")
      .retire("memcpy_cost",
              "nothing read it: a copy's host time is its op's (measured host dispatch, else launch_cost); delete it from the preset");
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {
// Listed by `orrery describe` without having been used first.
const bool accelerator_params_registered = (accelerator_params(), true);
}  // namespace

void Accelerator::require_matrix_engine(Dtype d, const std::string& flag, const std::string& value) const {
  const KernelMapper* m = mapper ? mapper.get() : arch_mapper.get();
  if (!m) return;  // (no description: nothing says what the chip lacks)
  try {
    m->arch().require_dtype(d);
  } catch (const Error&) {
    throw make_error(flag, value, "the " + name + " has no " + dtype_name(d) + " matrix engine (" + source_path +
                                      ": arch: " + Arch::mma_param(d) + " is 0)");
  }
}

double Accelerator::peak_flops(Dtype d) const {
  switch (d) {
    case Dtype::BF16: return p("peak_bf16");
    case Dtype::FP16: return p("peak_fp16");
    case Dtype::FP8: return p("peak_fp8");
    case Dtype::TF32: return p("peak_tf32");
    default: return p("peak_fp32");
  }
}

double Accelerator::gemm_efficiency(Dtype d, double flops) const {
  if (mapper) {  // the square GEMM of that many FLOPs
    double n = std::cbrt(std::max(flops, 2.0) / 2.0);
    return std::min(1.0, flops / mapper->gemm(n, n, n, d).time_s / peak_flops(d));
  }
  auto it = gemm_eff.find(dtype_name(d));
  if (it == gemm_eff.end()) {
    // fp16 behaves as bf16; fp8 and tf32 fall back to the bf16 curve's shape.
    it = gemm_eff.find(d == Dtype::FP32 ? "fp32" : "bf16");
    if (it == gemm_eff.end()) return 0.7;
  }
  return it->second.at(flops);
}

double Accelerator::memory_efficiency(double bytes) const {
  if (mapper) return bytes > 0 ? bytes / mapper->memory(bytes).time_s / hbm_bandwidth() : 1.0;
  if (memory_eff.empty()) return 0.8;
  double cap = 0;
  double l2 = params.has("l2_size") ? params.get("l2_size") : 0;
  for (auto& [x, y] : memory_eff.points)
    if (x >= 2 * l2) cap = std::max(cap, y);
  if (cap <= 0) cap = 1.0;
  return std::min(memory_eff.at(bytes), cap);
}

double Accelerator::memory_time(double bytes) const {
  if (mapper) return mapper->memory(bytes).time_s;
  return std::max(p("min_kernel_time"), bytes / (hbm_bandwidth() * memory_efficiency(bytes)));
}

double Accelerator::gemm_time(double m, double n, double k, Dtype d, double batch) const {
  if (mapper) return mapper->gemm(std::max(m, 1.0), std::max(n, 1.0), std::max(k, 1.0), d, std::max(batch, 1.0)).time_s;
  double flops = 2.0 * m * n * k * batch;
  double bytes = dtype_bytes(d) * batch * (m * k + k * n + m * n);
  double tc = flops / (peak_flops(d) * gemm_efficiency(d, flops));
  double tm = bytes / (hbm_bandwidth() * memory_efficiency(bytes));
  return std::max({p("min_kernel_time"), tc, tm});
}

double Accelerator::attention_time(double flops, double bytes, Dtype d, const AttentionShape* shape) const {
  if (mapper && shape && shape->head_dim > 0 && shape->batch_heads > 0 && shape->sq > 0 && shape->skv > 0)
    return mapper->attention_shaped(*shape, d).time_s;
  if (mapper) return mapper->attention_work(flops, bytes, d).time_s;
  double eff = attention_eff.empty() ? 0.5 : attention_eff.at(flops);
  double tc = flops / (peak_flops(d == Dtype::FP32 ? Dtype::TF32 : d) * eff);
  double tm = bytes / (hbm_bandwidth() * memory_efficiency(bytes));
  return std::max({p("min_kernel_time"), tc, tm});
}

double Accelerator::kernel_time(double flops, double bytes, Dtype d, bool matrix) const {
  if (mapper && !matrix) return mapper->memory(bytes, flops).time_s;
  double tc = 0;
  if (flops > 0)
    tc = matrix ? flops / (peak_flops(d) * gemm_efficiency(d, flops))
                : flops / (p("peak_fp32") * p("vector_efficiency"));
  double tm = bytes > 0 ? bytes / (hbm_bandwidth() * memory_efficiency(bytes)) : 0;
  return std::max({p("min_kernel_time"), tc, tm});
}

nlohmann::json Accelerator::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["description"] = description;
  j["source"] = source_path;
  j["params"] = params.to_json(accelerator_params());
  nlohmann::json g = nlohmann::json::object();
  for (auto& [k, c] : gemm_eff) g[k] = c.to_json();
  j["efficiency"] = {{"gemm", g}, {"memory", memory_eff.to_json()}, {"attention", attention_eff.to_json()}};
  nlohmann::json h = nlohmann::json::object();
  for (auto& [k, v] : host_dispatch) h[k] = format_time(v, 6);
  j["host"] = {{"dispatch", h}};
  j["calibration"] = calibration;
  if (!arch_json.is_null()) j["arch"] = arch_json;
  return j;
}

std::string presets_dir() { return data_dir("ORRERY_PRESETS", "hw_models/presets"); }

std::vector<std::string> list_presets() { return json_stems(presets_dir()); }

namespace {
// Parses the "arch" section; with first_principles=1 the mapper costs every kernel and the
// calibrated, measurement-derived params give way to the description's (kernel floor = dispatch,
// back-to-back gap = launch_gap, no fitted elementwise-family factors).
void attach_arch(Accelerator& a, const nlohmann::json& arch, const std::string& path,
                 const std::vector<std::string>& overrides) {
  bool fp = a.params.get("first_principles") > 0;
  if (arch.is_null()) {
    if (fp) throw make_error(path, "arch", "first_principles=1 needs the preset's \"arch\" description");
    throw make_error("--set", overrides.front(), "the preset has no \"arch\" description");
  }
  Arch ar = parse_arch(arch, path + ": arch", a.params, overrides);
  a.arch_json = ar.to_json();
  if (!fp && !overrides.empty())  // a key nothing reads is an error
    throw make_error("--set", overrides.front().substr(0, overrides.front().find('=')),
                     "an architecture parameter: it applies with --hw-model first-principles only");
  if (!fp) {
    a.arch_mapper = std::make_shared<const KernelMapper>(ar);
    return;
  }
  // The floor is the dispatch alone: every mapped time adds the memory round trip where the kernel
  // waits on one (loads), and a memset's posted stores do not.
  a.params.set("min_kernel_time", ar.p("dispatch_latency"));
  // Between two kernels of a stream the front end retires one grid and starts the next: the
  // description's launch gap (the kernel's own dispatch and drain are in its mapped time).
  a.params.set("kernel_gap", ar.p("launch_gap"));
  a.params.set("unrolled_elementwise_efficiency", 1);
  a.params.set("strided_elementwise_efficiency", 1);
  a.params.set("clock_duty_slowdown", 0);
  a.params.set("peak_fp32", ar.vector_peak(ar.p("clock_boost")));
  a.params.set("vector_efficiency", 1);
  a.mapper = std::make_shared<const KernelMapper>(std::move(ar));
}
}  // namespace

bool kernel_model_param(const std::string& name) {
  static const std::set<std::string> kernel_only = {
      "peak_bf16", "peak_fp16", "peak_fp8", "peak_tf32", "peak_fp32", "hbm_bandwidth", "sm_count", "l2_size",
      "vector_efficiency", "unrolled_elementwise_efficiency", "strided_elementwise_efficiency",
      "gemm_align2_slowdown", "gemm_align1_slowdown", "min_kernel_time"};
  return kernel_only.count(name) > 0;
}

Accelerator load_accelerator(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  namespace fs = std::filesystem;
  std::string path = find_data_file(name_or_path, presets_dir(), "--hw", "unknown hardware preset", "known");
  nlohmann::json j = parse_json_path(path);
  if (!j.is_object()) throw make_error(path, "", "expected a JSON object (a hardware preset)");
  static const std::vector<std::string> known_keys = {"name", "description", "params", "efficiency", "host", "calibration", "arch"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (std::find(known_keys.begin(), known_keys.end(), it.key()) == known_keys.end())
      throw make_error(path, it.key(), "unknown key (known: name, description, params, efficiency, host, calibration, arch)");
  Accelerator a;
  a.source_path = path;
  auto text = [&](const char* key, const std::string& def) {  // a string field, or one error line
    if (!j.contains(key)) return def;
    if (!j[key].is_string()) throw make_error(path, key, "expected a string");
    return j[key].get<std::string>();
  };
  a.name = text("name", fs::path(path).stem().string());
  a.description = text("description", "");
  a.params = accelerator_params().resolve(j.value("params", nlohmann::json::object()), path + ": params");
  std::vector<std::string> arch_overrides;
  for (auto& o : overrides) {
    if (arch_params().find(o.substr(0, o.find('='))) && !accelerator_params().find(o.substr(0, o.find('='))))
      arch_overrides.push_back(o);
    else
      a.params.apply_override(accelerator_params(), o);
  }
  for (auto& d : accelerator_params().decls())
    if (d.positive && !(a.params.get(d.name) > 0))
      throw make_error(path, d.name, "must be greater than zero");
  if (j.contains("efficiency")) {
    auto& e = j["efficiency"];
    for (auto it = e.begin(); it != e.end(); ++it) {
      std::string where = path + ": efficiency." + it.key();
      if (it.key() == "gemm") {
        for (auto g = it->begin(); g != it->end(); ++g) a.gemm_eff[g.key()] = Curve::from_json(*g, where + "." + g.key());
      } else if (it.key() == "memory") {
        a.memory_eff = Curve::from_json(*it, where);
      } else if (it.key() == "attention") {
        a.attention_eff = Curve::from_json(*it, where);
      } else {
        throw make_error(path, "efficiency." + it.key(), "unknown curve (known: gemm, memory, attention)");
      }
    }
  }
  if (j.contains("host")) {
    auto& h = j["host"];
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (it.key() != "dispatch") throw make_error(path, "host." + it.key(), "unknown key (known: dispatch)");
      for (auto d = it->begin(); d != it->end(); ++d) {
        double v = d->is_number() ? d->get<double>() : parse_quantity(d->get<std::string>(), Unit::Time, "host.dispatch." + d.key());
        a.host_dispatch[d.key()] = v;
      }
    }
  }
  a.calibration = j.value("calibration", nlohmann::json::object());
  double fp = a.params.get("first_principles");
  if (fp != 0 && fp != 1) throw make_error("--set", "first_principles", "expected 0 (calibrated) or 1 (first-principles)");
  if (j.contains("arch") || !arch_overrides.empty() || a.params.get("first_principles") > 0)
    attach_arch(a, j.value("arch", nlohmann::json()), path, arch_overrides);
  return a;
}

}  // namespace orrery
