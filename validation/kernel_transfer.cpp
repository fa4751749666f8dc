#include "validation/kernel_transfer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "hw_models/calibrate.h"
#include "hw_models/transfer.h"
#include "sim/error.h"

namespace orrery {
namespace {

const char* const kClasses[] = {"gemm", "copy", "elementwise"};

// One device_side row of a micro file.
struct MicroKernel {
  std::string cls, key, field;
  Dtype dtype = Dtype::UNKNOWN;
  double m = 0, n = 0, k = 0;  // gemm
  double bytes = 0;            // bytes read + written (copy, elementwise)
  double device_ms = 0;
};

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

double positive_field(const nlohmann::ordered_json& row, const std::string& key, const std::string& path,
                      const std::string& where) {
  double v = micro_number(row, key, path, where);
  if (!(v > 0)) throw make_error(path, where + "." + key, "must be greater than zero");
  return v;
}

std::vector<MicroKernel> read_kernels(const std::string& path) {
  nlohmann::ordered_json j = read_micro_json(path);
  MicroLayout layout = detect_micro_layout(j, path);
  if (layout != MicroLayout::HostDevice)
    throw make_error(path, "device_side",
                     std::string("missing field: expected a host_device_micro file with a device_side section (this "
                                 "file has the ") +
                         micro_layout_name(layout) + " layout)");
  auto dsi = j.find("device_side");
  if (dsi == j.end()) throw make_error(path, "device_side", "missing field (device-side kernel times)");
  const auto& ds = *dsi;
  if (!ds.is_object()) throw make_error(path, "device_side", "expected an object");
  if (!ds.contains("gemm") && !ds.contains("copy") && !ds.contains("elementwise"))
    throw make_error(path, "device_side", "no gemm, copy or elementwise section");
  std::vector<MicroKernel> out;
  if (ds.contains("gemm")) {
    const auto& rows = micro_array(ds, "gemm", path, "device_side");
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string w = "device_side.gemm[" + std::to_string(i) + "]";
      MicroKernel k;
      k.cls = "gemm";
      k.field = w;
      std::string dt = micro_gemm_dtype(micro_string(rows[i], "dtype", path, w), path, w + ".dtype");
      k.dtype = dt == "tf32" ? Dtype::TF32 : parse_dtype(dt);
      k.m = positive_field(rows[i], "m", path, w);
      k.n = positive_field(rows[i], "n", path, w);
      k.k = positive_field(rows[i], "k", path, w);
      k.device_ms = positive_field(rows[i], "device_ms", path, w);
      k.key = dt + " " + fmt("%.0f", k.m) + "x" + fmt("%.0f", k.n) + "x" + fmt("%.0f", k.k);
      out.push_back(k);
    }
  }
  if (ds.contains("copy")) {
    const auto& rows = micro_array(ds, "copy", path, "device_side");
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string w = "device_side.copy[" + std::to_string(i) + "]";
      MicroKernel k;
      k.cls = "copy";
      k.field = w;
      double b = positive_field(rows[i], "bytes", path, w);
      k.bytes = 2.0 * b;
      k.device_ms = positive_field(rows[i], "device_ms", path, w);
      k.key = fmt("%.0f B", b);
      out.push_back(k);
    }
  }
  if (ds.contains("elementwise")) {
    const auto& rows = micro_array(ds, "elementwise", path, "device_side");
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string w = "device_side.elementwise[" + std::to_string(i) + "]";
      MicroKernel k;
      k.cls = "elementwise";
      k.field = w;
      std::string op = micro_string(rows[i], "op", path, w);
      double b = positive_field(rows[i], "bytes_per_operand", path, w);
      k.bytes = micro_elementwise_factor(op, path, w + ".op") * b;
      k.device_ms = positive_field(rows[i], "device_ms", path, w);
      k.key = op + fmt(" %.0f B/operand", b);
      out.push_back(k);
    }
  }
  return out;
}

// The kernel's roofline on one accelerator, as the transfer mode models it.
Roof roof_on(const MicroKernel& k, const Accelerator& hw) {
  if (k.cls == "gemm") {
    double bytes = dtype_bytes(k.dtype) * (k.m * k.k + k.k * k.n + k.m * k.n);
    return gemm_roof(hw, k.m, k.n, k.k, k.dtype, 1.0, bytes);
  }
  return memory_roof(hw, k.bytes);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

std::vector<const KernelTransferSummary*> KernelTransferResult::above(double tolerance_pct) const {
  std::vector<const KernelTransferSummary*> out;
  if (!(tolerance_pct > 0)) return out;
  for (auto& s : summary)
    if (s.method == "transfer" && std::fabs(s.sum_error_pct()) > tolerance_pct) out.push_back(&s);
  return out;
}

nlohmann::json KernelTransferResult::to_json() const {
  nlohmann::json j;
  j["source_micro"] = source_path;
  j["target_micro"] = target_path;
  j["source_hw"] = source_hw;
  j["target_hw"] = target_hw;
  j["method"] =
      "predicted = source measured x (target model time / source model time), the ratio of "
      "`orrery replay --mode transfer`; no transfer: predicted = source measured";
  nlohmann::json k = nlohmann::json::array();
  for (auto& r : rows)
    k.push_back({{"class", r.kernel_class},
                 {"key", r.key},
                 {"source_field", r.source_field},
                 {"target_field", r.target_field},
                 {"flops", r.flops},
                 {"bytes", r.bytes},
                 {"source_ms", r.source_ms},
                 {"target_ms", r.target_ms},
                 {"source_model_ms", r.source_model_ms},
                 {"target_model_ms", r.target_model_ms},
                 {"predicted_ms", r.predicted_ms},
                 {"error_pct", r.error_pct()},
                 {"no_transfer_error_pct", r.naive_error_pct()}});
  j["kernels"] = k;
  j["unmatched"] = unmatched;
  nlohmann::json s = nlohmann::json::array();
  for (auto& c : summary)
    s.push_back({{"class", c.kernel_class},
                 {"method", c.method},
                 {"kernels", c.count},
                 {"median_abs_error_pct", c.median_abs_error_pct},
                 {"max_abs_error_pct", c.max_abs_error_pct},
                 {"measured_ms", c.measured_ms},
                 {"predicted_ms", c.predicted_ms},
                 {"sum_error_pct", c.sum_error_pct()}});
  j["summary"] = s;
  return j;
}

KernelTransferResult validate_kernel_transfer(const std::string& source_micro, const std::string& target_micro,
                                              const Accelerator& source, const Accelerator& target) {
  KernelTransferResult res;
  res.source_path = source_micro;
  res.target_path = target_micro;
  res.source_hw = source.name;
  res.target_hw = target.name;
  std::vector<MicroKernel> src = read_kernels(source_micro);
  std::vector<MicroKernel> dst = read_kernels(target_micro);

  // Target kernels by key, in file order; the k-th source occurrence takes the k-th target one.
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < dst.size(); ++i) by_key[dst[i].cls + "|" + dst[i].key].push_back(i);
  std::map<std::string, size_t> taken;
  std::vector<bool> used(dst.size(), false);
  for (auto& s : src) {
    std::string key = s.cls + "|" + s.key;
    auto it = by_key.find(key);
    size_t& t = taken[key];
    if (it == by_key.end() || t >= it->second.size()) {
      res.unmatched.push_back(source_micro + ": " + s.field + " (" + s.cls + " " + s.key + "): no match in " +
                              target_micro);
      continue;
    }
    const MicroKernel& d = dst[it->second[t]];
    used[it->second[t]] = true;
    ++t;
    Roof rs = roof_on(s, source), rt = roof_on(s, target);
    KernelTransferRow r;
    r.kernel_class = s.cls;
    r.key = s.key;
    r.source_field = s.field;
    r.target_field = d.field;
    r.flops = rs.flops;
    r.bytes = rs.bytes;
    r.source_ms = s.device_ms;
    r.target_ms = d.device_ms;
    r.source_model_ms = rs.total(source) * 1e3;
    r.target_model_ms = rt.total(target) * 1e3;
    r.predicted_ms = s.device_ms * transfer_ratio(rt, target, rs, source, s.cls == "gemm");
    res.rows.push_back(r);
  }
  for (size_t i = 0; i < dst.size(); ++i)
    if (!used[i])
      res.unmatched.push_back(target_micro + ": " + dst[i].field + " (" + dst[i].cls + " " + dst[i].key +
                              "): no match in " + source_micro);

  for (const char* cls : kClasses) {
    for (const char* method : {"transfer", "no transfer"}) {
      KernelTransferSummary s;
      s.kernel_class = cls;
      s.method = method;
      std::vector<double> abs_err;
      bool naive = std::string(method) == "no transfer";
      for (auto& r : res.rows) {
        if (r.kernel_class != cls) continue;
        ++s.count;
        double e = std::fabs(naive ? r.naive_error_pct() : r.error_pct());
        abs_err.push_back(e);
        s.max_abs_error_pct = std::max(s.max_abs_error_pct, e);
        s.measured_ms += r.target_ms;
        s.predicted_ms += naive ? r.source_ms : r.predicted_ms;
      }
      if (s.count == 0) continue;
      s.median_abs_error_pct = median(abs_err);
      res.summary.push_back(s);
    }
  }
  return res;
}

}  // namespace orrery
