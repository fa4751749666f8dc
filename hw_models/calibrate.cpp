#include "hw_models/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "hw_models/accelerator.h"
#include "sim/data_files.h"
#include "sim/error.h"

namespace orrery {

const char* micro_layout_name(MicroLayout l) {
  switch (l) {
    case MicroLayout::Orrery: return "orrery-micro/1";
    case MicroLayout::HostDevice: return "host_device";
    case MicroLayout::Legacy: return "legacy micro";
  }
  return "?";
}

MicroLayout detect_micro_layout(const nlohmann::ordered_json& j, const std::string& path) {
  if (!j.is_object()) throw make_error(path, "", "expected a JSON object (a microbenchmark result file)");
  if (j.contains("format")) {
    if (!j["format"].is_string() || j["format"].get<std::string>() != "orrery-micro/1")
      throw make_error(path, "format", "unknown format " + j["format"].dump() + " (expected \"orrery-micro/1\")");
    return MicroLayout::Orrery;
  }
  if (j.contains("device_side") || j.contains("host_dispatch")) return MicroLayout::HostDevice;
  if (j.contains("gemm") || j.contains("copy") || j.contains("sdpa") || j.contains("elementwise"))
    return MicroLayout::Legacy;
  throw make_error(path, "",
                   "unrecognised microbenchmark layout: expected \"format\": \"orrery-micro/1\", "
                   "\"device_side\"/\"host_dispatch\", or legacy \"gemm\"/\"copy\"/\"sdpa\" sections");
}

CurvePoints merge_curve_points(CurvePoints pts, double decades) {
  std::stable_sort(pts.begin(), pts.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  struct Group {
    double sx = 0, sy = 0, last = 0;
    int n = 0;
  };
  std::vector<Group> groups;
  for (auto& [x, y] : pts) {
    if (!groups.empty() && std::log10(x) - std::log10(groups.back().last) <= decades + 1e-12) {
      auto& g = groups.back();
      g.sx += x;
      g.sy += y;
      g.last = x;
      ++g.n;
      continue;
    }
    groups.push_back(Group{x, y, x, 1});
  }
  CurvePoints out;
  for (auto& g : groups) {
    double x = std::round(g.sx / g.n * 10.0) / 10.0;
    double y = std::round(g.sy / g.n * 1e4) / 1e4;
    out.emplace_back(x, y);
  }
  return out;
}

nlohmann::ordered_json read_micro_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw make_error(path, "", "cannot open file");
  try {
    return nlohmann::ordered_json::parse(in, [&path](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
      if (depth > kMaxJsonDepth) throw make_error(path, "", "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
      return true;
    });
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    auto b = what.find("] ");
    throw make_error(path, "", "invalid JSON (" + (what.rfind("[json.", 0) == 0 && b != std::string::npos ? what.substr(b + 2) : what) + ")");
  }
}

double micro_number(const nlohmann::ordered_json& row, const std::string& key, const std::string& path, const std::string& where) {
  if (!row.is_object()) throw make_error(path, where, "expected an object");
  auto it = row.find(key);
  if (it == row.end()) throw make_error(path, where + "." + key, "missing field");
  if (!it->is_number()) throw make_error(path, where + "." + key, "expected a number, got " + it->dump());
  double v = it->get<double>();
  if (!std::isfinite(v)) throw make_error(path, where + "." + key, "not a finite number");
  return v;
}
std::string micro_string(const nlohmann::ordered_json& row, const std::string& key, const std::string& path, const std::string& where) {
  if (!row.is_object()) throw make_error(path, where, "expected an object");
  auto it = row.find(key);
  if (it == row.end()) throw make_error(path, where + "." + key, "missing field");
  if (!it->is_string()) throw make_error(path, where + "." + key, "expected a string, got " + it->dump());
  return it->get<std::string>();
}
const nlohmann::ordered_json& micro_array(const nlohmann::ordered_json& j, const std::string& key, const std::string& path,
                                         const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array())
    throw make_error(path, where.empty() ? key : where + "." + key, "missing field (expected an array)");
  return *it;
}
std::string micro_gemm_dtype(const std::string& s, const std::string& path, const std::string& field) {
  std::string lower = s;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "tf32") return "tf32";
  Dtype d = parse_dtype(s);
  switch (d) {
    case Dtype::BF16: case Dtype::FP16: case Dtype::FP8: case Dtype::FP32: return dtype_name(d);
    default: throw make_error(path, field, "unsupported GEMM dtype '" + s + "' (bf16, fp16, fp8, tf32, fp32)");
  }
}

double micro_elementwise_factor(const std::string& op, const std::string& path, const std::string& field) {
  if (op == "add") return 3.0;
  if (op == "mul_scalar") return 2.0;
  throw make_error(path, field, "unknown elementwise op '" + op + "' (add, mul_scalar)");
}

namespace {

struct Input {
  std::string path;
  nlohmann::ordered_json j;
  MicroLayout layout;
};

// Short names for the shared field readers (calibrate.h).
constexpr auto& str = micro_string;
constexpr auto& array_at = micro_array;
constexpr auto& gemm_dtype = micro_gemm_dtype;

std::string idx(const std::string& base, size_t i) { return base + "[" + std::to_string(i) + "]"; }

double positive(double v, const std::string& path, const std::string& field) {
  if (!(v > 0)) throw make_error(path, field, "must be greater than zero");
  return v;
}

// A measured fraction of the datasheet peak above 1.5 is a broken row (the preset loader would
// reject the fitted curve, naming the output file instead of the row).
double plausible(double eff, const std::string& path, const std::string& field) {
  if (!(eff <= 1.5)) {
    char b[128];
    std::snprintf(b, sizeof b, "implies %.4g x the --hw preset's datasheet peak (at most 1.5 is plausible; is --hw the GPU measured?)", eff);
    throw make_error(path, field, b);
  }
  return eff;
}

std::string fmt_ratio(double r) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", r);
  return b;
}

std::string fmt_us(double us) {
  char b[64];
  std::snprintf(b, sizeof b, "%.2f us", us);
  return b;
}

struct Collected {
  std::map<std::string, CurvePoints> gemm_dev;  // device-side points by dtype
  std::vector<std::string> gemm_dev_order;
  std::map<std::string, CurvePoints> gemm_legacy;
  CurvePoints memory_dev, memory_legacy, attention, attention_dev;
  std::map<std::string, double> host_us;  // host_dispatch medians (us) by "op/dtype", numeric
  nlohmann::ordered_json host;  // host dispatch "NN.NN us"
  std::map<std::string, double> launch_params_s;  // derived launch parameters (seconds)
  double host_link_gbps = 0;                        // measured host<->device bandwidth (0 = none)
  nlohmann::ordered_json launch_observed;
  std::vector<std::string> sources;
};

// Host dispatch (ms) of `op` in `dtype` from the host tables read so far (fp16 as bf16, tf32 as
// fp32: same dispatch path); 0 when unknown. Capped so a device time stays positive.
double legacy_dispatch_ms(const std::map<std::string, double>& host_us, const std::string& op, const std::string& dtype) {
  std::string d = dtype == "fp16" ? "bf16" : dtype == "tf32" ? "fp32" : dtype;
  auto it = host_us.find(op + "/" + d);
  return it == host_us.end() ? 0.0 : it->second * 1e-3;
}

void add_gemm(std::map<std::string, CurvePoints>& m, std::vector<std::string>& order, const std::string& dt,
              double x, double y) {
  if (!m.count(dt)) order.push_back(dt);
  m[dt].emplace_back(x, y);
}

// The base preset the calibration starts from: the loaded accelerator (peaks, curves kept where
// nothing is measured) and its raw JSON (key order, host table, architecture description).
using Base = CalibrationBase;

// "P (a; b)" / "P (a, b)": one sources[] line naming what a file contributed.
std::string source_line(const std::string& head, const std::vector<std::string>& used, const char* sep, const std::string& tail) {
  std::string s = head;
  for (size_t i = 0; i < used.size(); ++i) s += (i ? sep : "") + used[i];
  return s + tail;
}

// ---- host_device layout (device_side: CUDA-graph replay; host_dispatch: no profiler) ----

// device_side.gemm rows: efficiency = achieved TFLOP/s over the dtype's peak, x = 2mnk.
void collect_device_gemm(const nlohmann::ordered_json& ds, const std::string& P, const Base& base, Collected& c) {
  const auto& rows = array_at(ds, "gemm", P, "device_side");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("device_side.gemm", i);
    std::string dt = gemm_dtype(str(rows[i], "dtype", P, w), P, w + ".dtype");
    double m = positive(micro_number(rows[i], "m", P, w), P, w + ".m"), n = positive(micro_number(rows[i], "n", P, w), P, w + ".n"),
         k = positive(micro_number(rows[i], "k", P, w), P, w + ".k");
    double tf = positive(micro_number(rows[i], "tflops", P, w), P, w + ".tflops");
    add_gemm(c.gemm_dev, c.gemm_dev_order, dt, 2.0 * m * n * k, plausible(tf * 1e12 / base.peak(dt), P, w + ".tflops"));
  }
}

// device_side.copy and .elementwise rows: memory efficiency over HBM bandwidth, x = bytes moved.
void collect_device_memory(const nlohmann::ordered_json& ds, const std::string& P, const Base& base, Collected& c) {
  if (ds.contains("copy")) {
    const auto& rows = array_at(ds, "copy", P, "device_side");
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string w = idx("device_side.copy", i);
      double b = positive(micro_number(rows[i], "bytes", P, w), P, w + ".bytes");
      double g = positive(micro_number(rows[i], "gbps_rw", P, w), P, w + ".gbps_rw");
      c.memory_dev.emplace_back(2.0 * b, plausible(g * 1e9 / base.hbm, P, w + ".gbps_rw"));
    }
  }
  if (ds.contains("elementwise")) {
    const auto& rows = array_at(ds, "elementwise", P, "device_side");
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string w = idx("device_side.elementwise", i);
      std::string op = str(rows[i], "op", P, w);
      double b = positive(micro_number(rows[i], "bytes_per_operand", P, w), P, w + ".bytes_per_operand");
      double g = positive(micro_number(rows[i], "gbps_rw", P, w), P, w + ".gbps_rw");
      double factor = micro_elementwise_factor(op, P, w + ".op");
      c.memory_dev.emplace_back(factor * b, plausible(g * 1e9 / base.hbm, P, w + ".gbps_rw"));
    }
  }
}

// device_side.sdpa: fused attention forward rows (x = FLOPs with the causal half, as the replay
// counts them); one backend: cuDNN (what PyTorch runs on Hopper) when measured, else flash, else
// any. Returns the backend used.
std::string collect_device_sdpa(const nlohmann::ordered_json& ds, const std::string& P, const Base& base, Collected& c) {
  const auto& rows = array_at(ds, "sdpa", P, "device_side");
  std::string pick;
  for (const char* want : {"cudnn", "flash", ""})
    for (size_t i = 0; i < rows.size() && pick.empty(); ++i) {
      std::string be = str(rows[i], "backend", P, idx("device_side.sdpa", i));
      if (std::string(want).empty() || be == want) pick = be;
    }
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("device_side.sdpa", i);
    if (str(rows[i], "backend", P, w) != pick || str(rows[i], "pass", P, w) != "fwd") continue;
    double ms = positive(micro_number(rows[i], "device_ms", P, w), P, w + ".device_ms");
    double tf = positive(micro_number(rows[i], "tflops", P, w), P, w + ".tflops");
    c.attention_dev.emplace_back(tf * 1e12 * ms * 1e-3,
                                 plausible(tf * 1e12 / base.acc.peak_flops(Dtype::BF16), P, w + ".tflops"));
  }
  return pick;
}

// host_dispatch: median host dispatch per "op/dtype" (the first file that has a key wins).
void collect_host_dispatch(const nlohmann::ordered_json& hd, const std::string& P, Collected& c) {
  if (!hd.is_object()) throw make_error(P, "host_dispatch", "expected an object");
  for (auto it = hd.begin(); it != hd.end(); ++it) {
    double us = positive(micro_number(it.value(), "median_us", P, "host_dispatch." + it.key()), P, "host_dispatch." + it.key() + ".median_us");
    if (!c.host.contains(it.key())) c.host[it.key()] = fmt_us(us);
    if (!c.host_us.count(it.key())) c.host_us[it.key()] = us;
  }
}

}  // namespace

std::map<std::string, double> read_host_dispatch_file(const std::string& path) {
  nlohmann::ordered_json j = read_micro_json(path);
  if (!j.is_object() || !j.contains("host_dispatch"))
    throw make_error(path, "host_dispatch", "missing (a host table file holds {\"host_dispatch\": {\"op/dtype\": {\"median_us\": ...}}})");
  Collected c;
  collect_host_dispatch(j["host_dispatch"], path, c);
  std::map<std::string, double> out;
  for (auto& [k, us] : c.host_us) out[k] = us * 1e-6;
  return out;
}

double host_speed_ratio(const std::map<std::string, double>& other, const std::map<std::string, double>& base,
                        int* shared) {
  std::vector<double> r;
  for (auto& [k, v] : other) {
    auto it = base.find(k);
    if (it != base.end() && it->second > 0) r.push_back(v / it->second);
  }
  if (shared) *shared = static_cast<int>(r.size());
  if (r.empty()) return 1.0;
  std::sort(r.begin(), r.end());
  std::size_t m = r.size() / 2;
  return r.size() % 2 ? r[m] : 0.5 * (r[m - 1] + r[m]);
}

namespace {

void collect_host_device_layout(const Input& in, const Base& base, Collected& c) {
  const std::string& P = in.path;
  std::vector<std::string> used;
  if (in.j.contains("device_side")) {
    const auto& ds = in.j["device_side"];
    if (!ds.is_object()) throw make_error(P, "device_side", "expected an object");
    if (ds.contains("gemm")) collect_device_gemm(ds, P, base, c);
    collect_device_memory(ds, P, base, c);
    if (ds.contains("sdpa")) {
      std::string pick = collect_device_sdpa(ds, P, base, c);
      if (!c.attention_dev.empty()) used.push_back("device_side.sdpa: " + pick + " forward");
    }
    used.push_back("device_side: CUDA-graph replay");
  }
  if (in.j.contains("host_dispatch")) {
    collect_host_dispatch(in.j["host_dispatch"], P, c);
    used.push_back("host_dispatch: no profiler");
  }
  c.sources.push_back(source_line(P + " (", used, "; ", ")"));
}

// ---- orrery-micro/1 layout (device times from CUDA-graph replay) ----

// gemm rows: efficiency = FLOPs / device time over the dtype's peak, x = 2mnk x batch.
void collect_orrery_gemm(const Input& in, const Base& base, Collected& c, std::vector<std::string>& used) {
  const std::string& P = in.path;
  const auto& rows = array_at(in.j, "gemm", P, "");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("gemm", i);
    std::string dt = gemm_dtype(str(rows[i], "dtype", P, w), P, w + ".dtype");
    double m = positive(micro_number(rows[i], "m", P, w), P, w + ".m"), n = positive(micro_number(rows[i], "n", P, w), P, w + ".n"),
         k = positive(micro_number(rows[i], "k", P, w), P, w + ".k");
    double ms = positive(micro_number(rows[i], "device_ms", P, w), P, w + ".device_ms");
    double batch = rows[i].contains("batch") ? positive(micro_number(rows[i], "batch", P, w), P, w + ".batch") : 1.0;
    double flops = 2.0 * m * n * k * batch;
    add_gemm(c.gemm_dev, c.gemm_dev_order, dt, flops, plausible(flops / (ms * 1e-3) / base.peak(dt), P, w + ".device_ms"));
  }
  if (!rows.empty()) used.push_back("gemm");
}

// memory rows: efficiency = bytes moved / device time over HBM bandwidth.
void collect_orrery_memory(const Input& in, const Base& base, Collected& c, std::vector<std::string>& used) {
  const std::string& P = in.path;
  const auto& rows = array_at(in.j, "memory", P, "");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("memory", i);
    str(rows[i], "kernel", P, w);
    double moved = positive(micro_number(rows[i], "bytes_moved", P, w), P, w + ".bytes_moved");
    double ms = positive(micro_number(rows[i], "device_ms", P, w), P, w + ".device_ms");
    c.memory_dev.emplace_back(moved, plausible(moved / (ms * 1e-3) / base.hbm, P, w + ".device_ms"));
  }
  if (!rows.empty()) used.push_back("memory");
}

// launch: min_kernel_time, kernel_gap and launch_latency from the graph kernel period, the gap
// and the round trip (the first file that has them wins).
void collect_orrery_launch(const Input& in, Collected& c) {
  const std::string& P = in.path;
  const auto& l = in.j["launch"];
  std::string w = "launch";
  double period = micro_number(l, "graph_kernel_period_us", P, w);
  double gap = micro_number(l, "kernel_gap_us", P, w);
  double rt = micro_number(l, "round_trip_us", P, w);
  if (period <= 0 || period > 1e6) throw make_error(P, "launch.graph_kernel_period_us", "must be from 0 to 1e6 us (not 0)");
  // (the gap is part of the period: a gap outside [0, period) measured something else)
  if (!(gap >= 0 && gap < period))
    throw make_error(P, "launch.kernel_gap_us", "must be from 0 to the graph kernel period (" + format_number(period) + " us)");
  if (!(rt >= 0 && rt <= 1e6)) throw make_error(P, "launch.round_trip_us", "must be from 0 to 1e6 us");
  double mkt = std::max(period - gap, 0.1);
  if (!c.launch_params_s.count("min_kernel_time")) {
    c.launch_params_s["min_kernel_time"] = mkt * 1e-6;
    c.launch_params_s["kernel_gap"] = gap * 1e-6;
    c.launch_params_s["launch_latency"] = std::max(rt - period, 0.0) * 1e-6;
    c.launch_observed = l;
  }
}

// host_device: host link bandwidth, the mean of both directions over copies of 64 MiB and more
// (bandwidth plateau); the first file that has some wins.
void collect_orrery_host_link(const Input& in, Collected& c, std::vector<std::string>& used) {
  const std::string& P = in.path;
  const auto& rows = array_at(in.j, "host_device", P, "");
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("host_device", i);
    double b = micro_number(rows[i], "bytes", P, w);
    double h2d = micro_number(rows[i], "h2d_gbps", P, w), d2h = micro_number(rows[i], "d2h_gbps", P, w);
    if (b < 64.0 * (1 << 20)) continue;
    sum += 0.5 * (positive(h2d, P, w + ".h2d_gbps") + positive(d2h, P, w + ".d2h_gbps"));
    ++n;
  }
  if (n > 0 && !c.host_link_gbps) {
    c.host_link_gbps = sum / n;
    used.push_back("host_device");
  }
}

void collect_orrery_layout(const Input& in, const Base& base, Collected& c) {
  std::vector<std::string> used;
  if (in.j.contains("gemm")) collect_orrery_gemm(in, base, c, used);
  if (in.j.contains("memory")) collect_orrery_memory(in, base, c, used);
  if (in.j.contains("launch")) {
    collect_orrery_launch(in, c);
    used.push_back("launch");
  }
  if (in.j.contains("host_device")) collect_orrery_host_link(in, c, used);
  // env.device is informative: anything but a string (null, found by fuzz_calibrate) names no device.
  const bool has_env = in.j.contains("env") && in.j["env"].is_object();
  std::string dev = has_env && in.j["env"].contains("device") && in.j["env"]["device"].is_string()
                        ? in.j["env"]["device"].get<std::string>()
                        : "";
  c.sources.push_back(source_line(in.path + " (orrery-micro/1" + (dev.empty() ? "" : " on " + dev) + ": ", used, ", ",
                                  "; device time from CUDA-graph replay)"));
}

// ---- legacy layout (single-call CUDA events): only where no device-side data exists ----

// gemm rows of dtypes without device-side data, of at least opt.min_legacy_gemm_ms. A call timed
// alone with CUDA events holds its host dispatch (the GPU waits for the launch): the measured
// dispatch of aten::mm in that dtype is taken off when a host table has it. Returns the summary
// for sources[] ("" when no row was used).
std::string collect_legacy_gemm(const Input& in, const CalibrateOptions& opt, const Base& base, Collected& c) {
  const std::string& P = in.path;
  std::vector<std::string> legacy_dtypes;
  const auto& rows = array_at(in.j, "gemm", P, "");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("gemm", i);
    std::string dt = gemm_dtype(str(rows[i], "dtype", P, w), P, w + ".dtype");
    double m = positive(micro_number(rows[i], "m", P, w), P, w + ".m"), n = positive(micro_number(rows[i], "n", P, w), P, w + ".n"),
             k = positive(micro_number(rows[i], "k", P, w), P, w + ".k");
    double ms = positive(micro_number(rows[i], "median_ms", P, w), P, w + ".median_ms");
    double tf = micro_number(rows[i], "tflops", P, w);
    if (c.gemm_dev.count(dt)) continue;
    if (ms < opt.min_legacy_gemm_ms) continue;
    positive(tf, P, w + ".tflops");
    if (std::find(legacy_dtypes.begin(), legacy_dtypes.end(), dt) == legacy_dtypes.end()) legacy_dtypes.push_back(dt);
    double dev_ms = ms - legacy_dispatch_ms(c.host_us, "aten::mm", dt);
    c.gemm_legacy[dt].emplace_back(2.0 * m * n * k, plausible(tf * 1e12 / base.peak(dt) * ms / dev_ms, P, w + ".tflops"));
  }
  if (legacy_dtypes.empty()) return "";
  // Listed in the order the presets use.
  static const std::vector<std::string> order = {"tf32", "fp16", "fp8", "bf16", "fp32"};
  std::string s;
  for (auto& d : order)
    if (std::find(legacy_dtypes.begin(), legacy_dtypes.end(), d) != legacy_dtypes.end()) s += (s.empty() ? "" : "/") + d;
  char thr[32];
  std::snprintf(thr, sizeof thr, "%g", opt.min_legacy_gemm_ms);
  return s + " GEMMs >= " + thr + " ms" + (c.host_us.empty() ? "" : ", minus host dispatch");
}

// copy rows (no device-side bandwidth data): large copies only (not host-bound). True if any used.
bool collect_legacy_copies(const Input& in, const CalibrateOptions& opt, const Base& base, Collected& c) {
  const std::string& P = in.path;
  bool any = false;
  const auto& rows = array_at(in.j, "copy", P, "");
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("copy", i);
    double b = positive(micro_number(rows[i], "bytes", P, w), P, w + ".bytes"), ms = positive(micro_number(rows[i], "median_ms", P, w), P, w + ".median_ms");
    double g = micro_number(rows[i], "gbps_rw", P, w);
    if (ms < opt.min_legacy_gemm_ms || !(g > 0)) continue;
    c.memory_legacy.emplace_back(2.0 * b, plausible(g * 1e9 / base.hbm, P, w + ".gbps_rw"));
    any = true;
  }
  return any;
}

// sdpa rows of at least opt.min_legacy_sdpa_ms, minus the measured host dispatch. True if any used.
bool collect_legacy_sdpa(const Input& in, const CalibrateOptions& opt, const Base& base, Collected& c) {
  const std::string& P = in.path;
  const auto& rows = array_at(in.j, "sdpa", P, "");
  bool any = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string w = idx("sdpa", i);
    double ms = positive(micro_number(rows[i], "median_ms", P, w), P, w + ".median_ms");
    double tf = micro_number(rows[i], "tflops", P, w);
    if (ms < opt.min_legacy_sdpa_ms) continue;
    positive(tf, P, w + ".tflops");
    double dev_ms = ms - legacy_dispatch_ms(c.host_us, "aten::scaled_dot_product_attention", "bf16");
    c.attention.emplace_back(tf * 1e12 * ms * 1e-3,
                             plausible(tf * 1e12 / base.acc.peak_flops(Dtype::BF16) * ms / dev_ms, P, w + ".tflops"));
    any = true;
  }
  return any;
}

// The legacy "launch" section is not applied: its graph figure is a per-kernel period that mixes
// kernel time and gap, its eager figure is PyTorch host dispatch (see docs/validation.md).
void collect_legacy_layout(const Input& in, const CalibrateOptions& opt, const Base& base, Collected& c) {
  std::vector<std::string> used;
  if (in.j.contains("gemm")) {
    std::string s = collect_legacy_gemm(in, opt, base, c);
    if (!s.empty()) used.push_back(s);
  }
  if (c.memory_dev.empty() && in.j.contains("copy") && collect_legacy_copies(in, opt, base, c))
    used.push_back("copies >= 0.1 ms");
  if (in.j.contains("sdpa") && collect_legacy_sdpa(in, opt, base, c))
    used.push_back(c.host_us.empty() ? "sdpa" : "sdpa, minus host dispatch");
  c.sources.push_back(source_line(in.path + " (", used, ", ", ")"));
}

// ---- the preset, in the bundled presets' key order ----

// params: the base's, with the measured launch parameters and host link bandwidth (key order kept).
nlohmann::ordered_json preset_params(const Base& base, const Collected& c) {
  nlohmann::ordered_json params = base.raw.contains("params") ? base.raw["params"] : nlohmann::ordered_json::object();
  for (auto& [k, v] : c.launch_params_s) params[k] = fmt_us(v * 1e6);
  if (c.host_link_gbps > 0) {
    char b[64];
    std::snprintf(b, sizeof b, "%.1f GB/s", c.host_link_gbps);
    params["host_link_bandwidth"] = b;
  }
  return params;
}

nlohmann::ordered_json curve_json(const CurvePoints& pts) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (auto& [x, y] : pts) a.push_back({x, y});
  return a;
}

// GEMM curves by dtype: device-side first, then legacy, then the base's (recorded in `kept`).
nlohmann::ordered_json gemm_curves(const Base& base, Collected& c, std::vector<std::string>& kept) {
  std::vector<std::pair<std::string, CurvePoints>> gemm;
  auto has = [&](const std::string& dt) {
    for (auto& g : gemm)
      if (g.first == dt) return true;
    return false;
  };
  for (auto& dt : c.gemm_dev_order) gemm.emplace_back(dt, merge_curve_points(c.gemm_dev[dt]));
  for (const char* dt : {"tf32", "fp16", "fp8", "bf16", "fp32"})
    if (c.gemm_legacy.count(dt) && !has(dt)) gemm.emplace_back(dt, merge_curve_points(c.gemm_legacy[dt]));
  for (auto& [dt, curve] : base.acc.gemm_eff)
    if (!has(dt)) {
      gemm.emplace_back(dt, curve.points);
      kept.push_back("gemm." + dt);
    }
  nlohmann::ordered_json g2 = nlohmann::ordered_json::object();
  for (auto& [dt, pts] : gemm) g2[dt] = curve_json(pts);
  return g2;
}

// efficiency: gemm, memory, attention; device-side rows win over legacy calls, the base's curve
// where neither exists (recorded in `kept`).
nlohmann::ordered_json preset_efficiency(const Base& base, Collected& c, std::vector<std::string>& kept) {
  nlohmann::ordered_json eff;
  eff["gemm"] = gemm_curves(base, c, kept);
  if (!c.memory_dev.empty()) {
    eff["memory"] = curve_json(merge_curve_points(c.memory_dev));
  } else if (!c.memory_legacy.empty()) {
    eff["memory"] = curve_json(merge_curve_points(c.memory_legacy));
  } else {
    eff["memory"] = curve_json(base.acc.memory_eff.points);
    kept.push_back("memory");
  }
  if (!c.attention_dev.empty()) {
    eff["attention"] = curve_json(merge_curve_points(c.attention_dev));
  } else if (!c.attention.empty()) {
    eff["attention"] = curve_json(merge_curve_points(c.attention));
  } else {
    eff["attention"] = curve_json(base.acc.attention_eff.points);
    kept.push_back("attention");
  }
  return eff;
}

// host: the measured dispatch table, else the base's (recorded in `kept`), else empty. Entries
// the base has and the files do not measure stay, scaled by the median ratio measured / base over
// the entries both have (another host is uniformly faster or slower; workloads/host_cost.h does
// the same for a bundle's own table), and are recorded in `kept`.
nlohmann::ordered_json preset_host(const Base& base, const Collected& c, std::vector<std::string>& kept) {
  nlohmann::ordered_json host;
  if (!c.host.empty()) {
    host["dispatch"] = c.host;
    std::map<std::string, double> measured;
    for (auto& [k, us] : c.host_us) measured[k] = us * 1e-6;
    int shared = 0;
    double r = host_speed_ratio(measured, base.acc.host_dispatch, &shared);
    if (shared == 0) return host;
    // The base's own order and text; within 0.5% of 1 the ratio is the rounding of the base's
    // "NN.NN us" entries against the same measurements, and the entries stay as written.
    const bool same_host = std::fabs(r - 1) < 0.005;
    int n = 0;
    if (base.raw.contains("host") && base.raw["host"].contains("dispatch"))
      for (auto it = base.raw["host"]["dispatch"].begin(); it != base.raw["host"]["dispatch"].end(); ++it) {
        if (c.host_us.count(it.key()) || !base.acc.host_dispatch.count(it.key())) continue;
        host["dispatch"][it.key()] = same_host ? it.value() : nlohmann::ordered_json(fmt_us(base.acc.host_dispatch.at(it.key()) * r * 1e6));
        ++n;
      }
    if (n) kept.push_back("host.dispatch: " + std::to_string(n) + " entries not measured (x " + fmt_ratio(r) + ")");
  } else if (base.raw.contains("host")) {
    host = base.raw["host"];
    kept.push_back("host.dispatch");
  } else {
    host["dispatch"] = nlohmann::ordered_json::object();
  }
  return host;
}

// calibration: sources, peaks (the base's note, else datasheet), method, what was kept, launch
// observations, the user's note.
nlohmann::ordered_json preset_calibration(const Base& base, const Collected& c, const std::vector<std::string>& kept,
                                          const CalibrateOptions& opt) {
  nlohmann::ordered_json cal;
  cal["source"] = c.sources;
  std::string peaks = "datasheet (base preset " + base.acc.name + ")";
  if (base.raw.contains("calibration") && base.raw["calibration"].is_object() &&
      base.raw["calibration"].contains("peaks") && base.raw["calibration"]["peaks"].is_string())
    peaks = base.raw["calibration"]["peaks"].get<std::string>();
  cal["peaks"] = peaks;
  cal["method"] =
      "orrery calibrate (base preset " + base.acc.name +
      "): y = achieved / datasheet peak; gemm x = 2mnk FLOPs, memory x = bytes read + written, attention x = "
      "FLOPs over the bf16 peak; points within 0.1 decade merged";
  if (!kept.empty()) cal["kept_from_base"] = kept;
  if (!c.launch_params_s.empty()) cal["launch"] = c.launch_observed;
  if (!opt.note.empty()) cal["note"] = opt.note;
  return cal;
}

}  // namespace

double CalibrationBase::peak(const std::string& dt) const {
  return acc.peak_flops(dt == "tf32" ? Dtype::TF32 : parse_dtype(dt));
}

CalibrationBase load_calibration_base(const std::string& hw) {
  CalibrationBase b{load_accelerator(hw), {}, 0};
  {
    std::ifstream in(b.acc.source_path);
    b.raw = nlohmann::ordered_json::parse(in);
  }
  b.hbm = b.acc.hbm_bandwidth();
  return b;
}

nlohmann::ordered_json calibrate_preset(const CalibrateOptions& opt) {
  if (opt.micro_paths.empty()) throw Error("calibrate: no microbenchmark file given");
  return calibrate_preset(opt, load_calibration_base(opt.hw));
}

nlohmann::ordered_json calibrate_preset(const CalibrateOptions& opt, const CalibrationBase& base) {
  if (opt.micro_paths.empty()) throw Error("calibrate: no microbenchmark file given");
  std::vector<Input> inputs;
  for (auto& p : opt.micro_paths) {
    nlohmann::ordered_json j = read_micro_json(p);
    inputs.push_back(Input{p, j, detect_micro_layout(j, p)});
  }
  Collected c;
  // Pass 1: device-side data (orrery layout, host_device layout).
  for (auto& in : inputs) {
    if (in.layout == MicroLayout::HostDevice) collect_host_device_layout(in, base, c);
    else if (in.layout == MicroLayout::Orrery) collect_orrery_layout(in, base, c);
  }
  // Pass 2: legacy (single-call CUDA events) rows, only where no device-side data exists.
  for (auto& in : inputs)
    if (in.layout == MicroLayout::Legacy) collect_legacy_layout(in, opt, base, c);

  nlohmann::ordered_json out;
  out["name"] = base.raw.value("name", base.acc.name);
  out["description"] = base.raw.value("description", base.acc.description);
  out["params"] = preset_params(base, c);
  std::vector<std::string> kept;
  out["efficiency"] = preset_efficiency(base, c, kept);
  out["host"] = preset_host(base, c, kept);
  out["calibration"] = preset_calibration(base, c, kept, opt);
  // The architecture description (first-principles mode) is datasheet input, not calibrated: kept.
  if (base.raw.contains("arch")) out["arch"] = base.raw["arch"];
  return out;
}

void write_preset(const nlohmann::ordered_json& preset, const std::string& path) {
  std::string text = preset.dump(1) + "\n";
  std::ofstream o(path, std::ios::binary);
  if (!o) throw make_error(path, "", "cannot write file");
  o << text;
  if (!o) throw make_error(path, "", "write failed");
}

}  // namespace orrery
