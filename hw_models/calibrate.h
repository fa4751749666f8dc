#pragma once
// Calibration of an accelerator preset from microbenchmark files (`orrery calibrate`).
// Reads three layouts (see docs/validation.md):
//   orrery   : the JSON written by validation/cuda/orrery_micro ("format": "orrery-micro/1"),
//              device-side timings (CUDA events around CUDA-graph replay) plus launch data;
//   host_device : {"host_dispatch": {...}, "device_side": {"gemm", "copy", "elementwise"}};
//   legacy   : {"gemm": [...median_ms, tflops], "copy", "elementwise", "sdpa", "launch", ...}
//              (CUDA events around single calls: small sizes are host-bound).
// Output: a full preset (same schema as hw_models/presets/*.json) that keeps the base preset's
// datasheet parameters and replaces the efficiency curves / host dispatch that were measured.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"

namespace orrery {

enum class MicroLayout { Orrery, HostDevice, Legacy };
const char* micro_layout_name(MicroLayout l);
// Detects the layout of a parsed micro file; Error naming `path` when none matches.
MicroLayout detect_micro_layout(const nlohmann::ordered_json& j, const std::string& path);

// Field readers shared by the readers of microbenchmark files (calibration, kernel-level transfer
// validation): every error is one orrery::Error "PATH: WHERE.KEY: what" (e.g.
// "h100.json: device_side.gemm[1].k: missing field").
nlohmann::ordered_json read_micro_json(const std::string& path);  // "cannot open file", "invalid JSON"
double micro_number(const nlohmann::ordered_json& row, const std::string& key, const std::string& path,
                    const std::string& where);  // a finite number
std::string micro_string(const nlohmann::ordered_json& row, const std::string& key, const std::string& path,
                         const std::string& where);
const nlohmann::ordered_json& micro_array(const nlohmann::ordered_json& j, const std::string& key,
                                          const std::string& path, const std::string& where);
// Canonical GEMM dtype name ("bf16", "fp16", "fp8", "tf32", "fp32"), the key of efficiency.gemm.
std::string micro_gemm_dtype(const std::string& s, const std::string& path, const std::string& field);
// Bytes read + written per byte of operand of a device_side.elementwise op: add 3 (a + b -> c),
// mul_scalar 2 (a * s -> b); an unknown op is an error naming `field`.
double micro_elementwise_factor(const std::string& op, const std::string& path, const std::string& field);

// The "host_dispatch" object of a host table file (host_micro.py's output, a bundle's
// host_dispatch.json, or a host_device_micro.json): seconds per call by "op/dtype", every median
// finite and positive; errors name the file and key.
std::map<std::string, double> read_host_dispatch_file(const std::string& path);
// How much slower (> 1) or faster a host is than another: the median of other / base over the
// host dispatch entries both tables have (1 when none; their count in *shared).
double host_speed_ratio(const std::map<std::string, double>& other, const std::map<std::string, double>& base,
                        int* shared = nullptr);

using CurvePoints = std::vector<std::pair<double, double>>;
// Sorts by x and merges points within `decades` (log10) of the previous merged group's last
// raw x (group value: mean x, mean y); rounds x to 0.1 and y to 4 decimals.
CurvePoints merge_curve_points(CurvePoints pts, double decades = 0.1);

struct CalibrateOptions {
  std::vector<std::string> micro_paths;  // in priority order: device-side files first
  std::string hw = "h100";               // base preset (name or path)
  std::string note;                      // free text recorded in calibration.note
  double min_legacy_gemm_ms = 0.1;       // legacy GEMM rows faster than this are host-bound
  double min_legacy_sdpa_ms = 0.05;      // legacy SDPA rows faster than this are host-bound
};

// The base preset a calibration starts from: the parsed preset, its file as written, its HBM
// bandwidth.
struct CalibrationBase {
  Accelerator acc;
  nlohmann::ordered_json raw;
  double hbm = 0;
  double peak(const std::string& dtype) const;  // FLOP/s of a GEMM dtype name ("tf32", "bf16", ...)
};
CalibrationBase load_calibration_base(const std::string& hw);  // preset name or path

// Builds the calibrated preset (key order as in the bundled presets). Errors (unreadable file,
// unknown layout, missing fields) throw orrery::Error naming the file and the field.
nlohmann::ordered_json calibrate_preset(const CalibrateOptions& opt);
// The same from a base loaded once (opt.hw is not read): the fuzz harness calibrates thousands of
// files against one base, whose loading was nine tenths of each run.
nlohmann::ordered_json calibrate_preset(const CalibrateOptions& opt, const CalibrationBase& base);

// Writes `preset` as the bundled presets are written (1-space indent, trailing newline).
void write_preset(const nlohmann::ordered_json& preset, const std::string& path);

}  // namespace orrery
