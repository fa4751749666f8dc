// `orrery validate BUNDLE... [--hw h100] [--mode measured|roofline|transfer[,...]] [--source-hw h100]
//   [--tolerance PCT] [--report out.html] [--json out.json]`: replays capture bundles and compares the
//   predicted step time with the measured one (measured.json), broken down by kernel class and kernel.
// `orrery validate --nccl-tests LOG --system SYSTEM [--op OP] [--nodes N]`: compares each nccl-tests
//   row with the fabric model (`orrery collective`) on the same system.
// `orrery validate --kernel-transfer SRC_MICRO.json DST_MICRO.json --source-hw h100 --hw h200`: checks the
//   hardware what-if of `replay --mode transfer` kernel by kernel against kernels measured on both GPUs.
// Exit status: 0 all within tolerance, 1 an error above tolerance or a bundle/log that failed, 2 usage.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "sim/data_files.h"
#include "hw_models/accelerator.h"
#include "hw_models/arch.h"
#include "sim/csv.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "tools/command.h"
#include "tools/power_options.h"
#include "validation/kernel_transfer.h"
#include "validation/nccl_tests_log.h"
#include "validation/published_hardware.h"
#include "validation/published_training.h"
#include "validation/report.h"
#include "workloads/collective.h"
#include "workloads/json_io.h"
#include "workloads/replay.h"

namespace orrery::cli {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_commas(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (auto& s : v) {
    size_t p = 0;
    while (p <= s.size()) {
      size_t q = s.find(',', p);
      if (q == std::string::npos) q = s.size();
      if (q > p) out.push_back(s.substr(p, q - p));
      p = q + 1;
    }
  }
  return out;
}

std::string short_name(const std::string& s, size_t n) { return s.size() > n ? s.substr(0, n - 3) + "..." : s; }

// ---- nccl-tests comparison ------------------------------------------------------------------------
struct NcclCompare {
  NcclTestsLog log;
  BusbwSeries series;
  int ranks = 0;
  std::string system;
  double worst_pct = 0;
};

// The collective the log measured, checked against --op when given (one of them must name it).
std::string nccl_log_collective(const NcclTestsLog& log, const std::string& path, const std::string& op_flag) {
  std::string coll_name = log.collective;
  if (!op_flag.empty()) {
    coll::Op asked = coll::parse_op(op_flag);
    std::string asked_name = coll::op_name(asked);
    std::string asked_norm = normalize_collective_name(asked_name);
    if (asked_norm.empty()) asked_norm = asked_name;
    if (!coll_name.empty() && coll_name != asked_norm)
      throw make_error(path, "collective",
                       "the log is from " + coll_name + "_perf but --op " + op_flag +
                           " was asked: compare a log with the collective it measured");
    coll_name = asked_norm;
  }
  if (coll_name.empty())
    throw make_error(path, "collective",
                     "the log does not say which collective it measured (no '# Collective test starting' line, no "
                     "*_perf name): pass --op");
  return coll_name;
}

// The simulated result of every row of the log, one after another on one fabric (one rank:
// nothing crosses the fabric; the model is the accelerator's one-rank floor).
std::vector<coll::CollectiveResult> simulate_nccl_rows(const NcclTestsLog& log, const topo::System& sys,
                                                       const coll::CollectiveSpec& base, int n, const std::string& engine) {
  std::vector<coll::CollectiveResult> results(log.rows.size());
  if (n <= 1) {
    Accelerator acc = load_accelerator(sys.accelerator);
    for (size_t k = 0; k < results.size(); ++k) {
      results[k].time_s = acc.p("collective_floor");
      results[k].algbw = log.rows[k].bytes / results[k].time_s;
      results[k].busbw = results[k].algbw * coll::busbw_factor(base.op, n);
    }
    return results;
  }
  auto core = make_engine(engine);
  coll::Fabric fabric(sys, *core);
  {
    coll::CollectiveSpec s = base;
    s.bytes = std::max(1.0, log.rows.front().bytes);
    coll::choose(sys, s);
  }
  std::function<void(size_t)> launch = [&](size_t k) {
    if (k >= results.size()) return;
    coll::CollectiveSpec s = base;
    s.bytes = std::max(1.0, log.rows[k].bytes);
    coll::launch_collective(fabric, s, [&, k](const coll::CollectiveResult& r) {
      results[k] = r;
      launch(k + 1);
    });
  };
  launch(0);
  core->run();
  return results;
}

NcclCompare compare_nccl(const std::string& path, const std::string& system, const std::vector<std::string>& sys_set,
                         const std::string& op_flag, int nodes,
                         const std::string& engine) {
  NcclCompare c;
  c.log = parse_nccl_tests_log(path);
  std::string coll_name = nccl_log_collective(c.log, path, op_flag);
  coll::CollectiveSpec base;
  base.op = coll::parse_op(coll_name);
  topo::System sys = topo::load_system(system, nodes, sys_set);
  c.system = sys.name;
  // Ranks: the log's Rank lines; without them a single process's nThread x nGpus devices when that
  // is more than one, else (one device per MPI process, lines trimmed) the whole system.
  int per_process = std::max(1, c.log.nthreads) * std::max(1, c.log.ngpus_per_thread);
  int n = c.log.ranks > 0 ? c.log.ranks : per_process > 1 ? per_process : sys.topo.num_gpus();
  if (n > sys.topo.num_gpus())
    throw make_error(path, "ranks",
                     "the log ran on " + std::to_string(n) + " GPUs but system " + sys.name + " has " +
                         std::to_string(sys.topo.num_gpus()) + " (use --nodes or a larger system)");
  c.ranks = n;
  for (int r = 0; r < n; ++r) base.ranks.push_back(r);
  std::string type = c.log.rows.front().type;
  base.dtype = parse_dtype(type);
  if (base.dtype == Dtype::UNKNOWN) base.dtype = Dtype::FP32;

  std::vector<coll::CollectiveResult> results = simulate_nccl_rows(c.log, sys, base, n, engine);
  c.series.collective = coll_name;
  c.series.label = coll_name + ", " + std::to_string(n) + " ranks, " + sys.name + " (" + fs::path(path).filename().string() + ")";
  for (size_t k = 0; k < results.size(); ++k) {
    const auto& row = c.log.rows[k];
    BusbwPoint p;
    p.bytes = row.bytes;
    p.measured_busbw = row.busbw;
    p.measured_time_us = row.time_us;
    p.simulated_time_us = results[k].time_s * 1e6;
    // busbw as nccl-tests computes it, from the simulated time.
    double algbw = p.simulated_time_us > 0 ? row.bytes / (p.simulated_time_us * 1e-6) / 1e9 : 0;
    p.simulated_busbw = algbw * nccl_busbw_factor(coll_name, n);
    c.series.points.push_back(p);
  }
  return c;
}

// ---- kernel-level transfer check ------------------------------------------------------------------

// The per-kernel table (unless --quiet), the unmatched kernels and the per-class summary; `bad` are
// the classes above tolerance.
void print_kernel_transfer(const KernelTransferResult& r, const Args& a, const std::vector<const KernelTransferSummary*>& bad) {
  if (!a.has("--quiet")) {
    std::printf("\n%-11s %-31s %12s %12s %12s %9s %12s\n", "class", "kernel", "source us", "target us",
                "predicted us", "error", "no transfer");
    for (auto& k : r.rows)
      std::printf("%-11s %-31s %12.2f %12.2f %12.2f %+8.1f%% %+11.1f%%\n", k.kernel_class.c_str(),
                  short_name(k.key, 31).c_str(), k.source_ms * 1e3, k.target_ms * 1e3, k.predicted_ms * 1e3,
                  k.error_pct(), k.naive_error_pct());
  }
  if (!r.unmatched.empty()) {
    std::printf("\n%zu unmatched kernel(s) (not compared):\n", r.unmatched.size());
    for (auto& u : r.unmatched) std::printf("  %s\n", u.c_str());
  }
  std::printf("\nper class: |error| of single kernels, and error of the summed time\n");
  std::printf("%-11s %-11s %7s %12s %10s %13s %13s %10s\n", "class", "method", "kernels", "median |err|", "max |err|",
              "measured ms", "predicted ms", "sum error");
  for (auto& c : r.summary) {
    bool over = std::find(bad.begin(), bad.end(), &c) != bad.end();
    std::printf("%-11s %-11s %7d %11.1f%% %9.1f%% %13.4f %13.4f %+9.1f%%%s\n", c.kernel_class.c_str(), c.method.c_str(),
                c.count, c.median_abs_error_pct, c.max_abs_error_pct, c.measured_ms, c.predicted_ms, c.sum_error_pct(),
                over ? "  ABOVE TOLERANCE" : "");
  }
}

// --json, --csv and --report of the kernel transfer check; sl/dl: the hardware labels.
void write_kernel_transfer_outputs(const KernelTransferResult& r, const Args& a, double tol, const std::vector<std::string>& files,
                                   const std::string& sl, const std::string& dl) {
  if (a.has("--json")) {
    std::string path = a.get("--json");
    std::ofstream o(path);
    if (!o) throw make_error("--json", path, "cannot write");
    nlohmann::json j = r.to_json();
    j["tolerance_pct"] = tol;
    j["source_overrides"] = a.all("--source-set");
    j["target_overrides"] = a.all("--set");
    o << j.dump(1) << "\n";
  }
  if (a.has("--csv")) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (auto& k : r.rows)
      rows.push_back({{"class", k.kernel_class}, {"kernel", k.key}, {"source_us", k.source_ms * 1e3},
                      {"target_measured_us", k.target_ms * 1e3}, {"predicted_us", k.predicted_ms * 1e3},
                      {"error_pct", k.error_pct()}, {"no_transfer_error_pct", k.naive_error_pct()},
                      {"flops", k.flops}, {"bytes", k.bytes}});
    write_csv_file(a.get("--csv"), rows);
  }
  if (a.has("--report")) {
    std::string path = a.get("--report");
    ReportData report;
    report.title = "orrery kernel transfer check";
    report.tolerance_pct = tol;
    std::string label = "source " + files[0] + " (" + sl + ")";
    for (auto& o : a.all("--source-set")) label += " --source-set " + o;
    label += "; target " + files[1] + " (" + dl + ")";
    for (auto& o : a.all("--set")) label += " --set " + o;
    KernelTransferResult shown = r;
    shown.source_hw = sl;  // "h100+set" when changed on the command line
    shown.target_hw = dl;
    report.kernel_transfer.push_back({label, std::move(shown)});
    std::ofstream o(path);
    if (!o) throw make_error("--report", path, "cannot write");
    o << render_report(report);
    std::printf("\nreport: %s\n", path.c_str());
  }
}

int run_kernel_transfer(const Args& a) {
  auto files = a.positional();
  if (files.size() != 2)
    throw make_error("--kernel-transfer", "",
                     "expects two files, SRC_MICRO.json (measured on --source-hw) and DST_MICRO.json (measured on "
                     "--hw), got " + std::to_string(files.size()));
  if (!a.has("--hw")) throw make_error("--hw", "", "--kernel-transfer needs --hw (the target GPU's preset, e.g. h200)");
  if (a.has("--nccl-tests")) throw make_error("--kernel-transfer", "", "cannot be combined with --nccl-tests");
  double tol = a.get_double("--tolerance", 8.0);
  if (tol < 0) throw make_error("--tolerance", a.get("--tolerance"), "must not be negative");
  Accelerator src = load_accelerator(a.get("--source-hw", "h100"), a.all("--source-set"));
  Accelerator dst = load_accelerator(a.get("--hw"), a.all("--set"));
  KernelTransferResult r = validate_kernel_transfer(files[0], files[1], src, dst);

  // Hardware labels: preset name, "+set" when changed on the command line.
  std::string sl = src.name + (a.all("--source-set").empty() ? "" : "+set");
  std::string dl = dst.name + (a.all("--set").empty() ? "" : "+set");
  std::printf("kernel transfer %s -> %s: predicted = source measured x (model time on %s / model time on %s)\n",
              sl.c_str(), dl.c_str(), dl.c_str(), sl.c_str());
  std::printf("  source: measured %s, model %s", files[0].c_str(), src.source_path.c_str());
  for (auto& o : a.all("--source-set")) std::printf(" --source-set %s", o.c_str());
  std::printf("\n  target: measured %s, model %s", files[1].c_str(), dst.source_path.c_str());
  for (auto& o : a.all("--set")) std::printf(" --set %s", o.c_str());
  std::printf("\n");
  auto bad = r.above(tol);
  print_kernel_transfer(r, a, bad);
  write_kernel_transfer_outputs(r, a, tol, files, sl, dl);
  if (!bad.empty()) {
    std::printf("\n%zu class(es) with |summed-time error| above %.1f%%\n", bad.size(), tol);
    return 1;
  }
  return 0;
}

// ---- bundles, nccl-tests logs, published results: one validate run ----------------------------------

// What a validate run accumulates: the report, the --json document, the counts behind the exit status.
struct Validation {
  double tol = 25, nccl_tol = 0;
  ReportData report;
  nlohmann::json out_json;
  int failures = 0, over = 0;
  bool header = false;
  // The bundle table's header, before its first line (a run whose bundles all fail prints only
  // their errors).
  void table_header() {
    if (header) return;
    header = true;
    std::printf("%-16s %-9s %-6s %12s %12s %19s %9s  %s\n", "bundle", "mode", "hw", "predicted ms", "measured ms",
                "measured min-max", "error", "inside min-max");
  }
  // A bundle (and mode) that could not be compared: on stderr, in the report and the JSON, a failure.
  void fail(const std::string& report_line, nlohmann::json skipped) {
    report.skipped.push_back(report_line);
    out_json["skipped"].push_back(std::move(skipped));
    ++failures;
  }
};

// The replay of one bundle in one mode, with --truth's ground truth when given; false (reported
// as a failure) when the replay or the truth file fails.
bool replay_for_validation(const Args& a, const std::string& b, const std::string& name, ReplayMode mode,
                           const std::string& engine, Validation& v, ReplayResult& r) {
  ReplayOptions opt;
  opt.bundle = b;
  opt.hw = a.get("--hw", "h100");
  opt.source_hw = a.get("--source-hw", "h100");
  opt.mode = mode;
  opt.overrides = a.all("--set");
  apply_hw_model(a.get("--hw-model"), opt.overrides);
  opt.engine = engine;
  try {
    r = replay_bundle(opt);
  } catch (const Error& e) {
    std::fprintf(stderr, "orrery validate: error: %s (%s): %s\n", b.c_str(), replay_mode_name(mode), e.what());
    v.fail(b + " (" + replay_mode_name(mode) + "): " + e.what(), {{"bundle", b}, {"mode", replay_mode_name(mode)}, {"reason", e.what()}});
    return false;
  }
  if (r.bundle_name.empty()) r.bundle_name = name;
  if (!a.has("--truth")) return true;
  // Ground truth taken on the target hardware: TRUTH/<bundle name>/measured.json (e.g. the
  // H200 capture of the same workload for an H100 -> H200 transfer).
  std::string truth = (fs::path(a.get("--truth")) / name / "measured.json").string();
  if (!path_exists(truth)) {
    std::fprintf(stderr, "orrery validate: error: %s: no such file (--truth %s has no %s)\n", truth.c_str(),
                 a.get("--truth").c_str(), name.c_str());
    v.fail(b + ": no " + truth, {{"bundle", b}, {"reason", "no " + truth}});
    return false;
  }
  compare_with_measured(r, truth);
  return true;
}

// One bundle in one mode: replayed, compared with its measured step (a what-if without ground
// truth is listed, not compared), one table line, one JSON workload.
void validate_bundle_mode(const Args& a, const std::string& b, const std::string& name, ReplayMode mode,
                          const std::string& engine, Validation& v) {
  ReplayResult r;
  if (!replay_for_validation(a, b, name, mode, engine, v, r)) return;
  v.table_header();
  if (!r.has_measured && r.what_if) {
    std::printf("%-16s %-9s %-6s %12.2f %12s  what-if, no ground truth (%s; --truth DIR gives one)\n",
                short_name(name, 16).c_str(), r.mode.c_str(), short_name(r.hw, 6).c_str(), r.step_time_s * 1e3, "-",
                r.what_if_reason.c_str());
    nlohmann::json j = r.to_json();
    j["bundle_name"] = r.bundle_name;
    v.out_json["workloads"].push_back(j);
    return;
  }
  if (!r.has_measured) {
    std::printf("%-16s %-9s skipped: measured.json has no step_cuda_events.median_ms\n", short_name(name, 16).c_str(),
                r.mode.c_str());
    v.report.skipped.push_back(b + ": measured.json has no step time");
    return;
  }
  bool inside = r.step_time_s >= r.measured_min_s && r.step_time_s <= r.measured_max_s;
  bool bad = v.tol > 0 && std::fabs(r.error_pct) > v.tol;
  if (bad) ++v.over;
  char range[64];
  std::snprintf(range, sizeof range, "%.2f-%.2f", r.measured_min_s * 1e3, r.measured_max_s * 1e3);
  std::printf("%-16s %-9s %-6s %12.2f %12.2f %19s %+8.1f%%  %s%s\n", short_name(r.bundle_name, 16).c_str(),
              r.mode.c_str(), short_name(r.hw, 6).c_str(), r.step_time_s * 1e3, r.measured_step_s * 1e3, range,
              r.error_pct, inside ? "yes" : "no", bad ? "   ABOVE TOLERANCE" : "");
  nlohmann::json j = r.to_json();
  j["bundle_name"] = r.bundle_name;
  j["within_tolerance"] = !bad;
  nlohmann::json cls = nlohmann::json::object();
  for (auto& c : error_by_class({r}))
    cls[c.kernel_class] = {{"measured_ms", c.measured_s * 1e3}, {"simulated_ms", c.simulated_s * 1e3},
                           {"error_pct", c.error_pct()}, {"kernels", c.kernels}};
  j["error_by_class"] = cls;
  v.out_json["workloads"].push_back(j);
  v.report.workloads.push_back(std::move(r));
}

// Every bundle in every mode; a missing folder is a failure, a bundle without measured.json is skipped.
void validate_bundles(const Args& a, const std::vector<std::string>& bundles, const std::vector<ReplayMode>& modes,
                      const std::string& engine, Validation& v) {
  for (auto& b : bundles) {
    std::string name = fs::path(b).filename().string();
    if (name.empty()) name = fs::path(b).parent_path().filename().string();
    if (!is_directory_path(b)) {
      std::fprintf(stderr, "orrery validate: error: %s: no such bundle folder\n", b.c_str());
      v.fail(b + ": no such bundle folder", {{"bundle", b}, {"reason", "no such bundle folder"}});
      continue;
    }
    if (!path_exists(b + "/measured.json")) {
      v.table_header();
      std::printf("%-16s skipped: no measured.json in %s (nothing to compare against; use `orrery replay` to predict)\n",
                  short_name(name, 16).c_str(), b.c_str());
      v.report.skipped.push_back(b + ": no measured.json (nothing to compare against)");
      v.out_json["skipped"].push_back({{"bundle", b}, {"reason", "no measured.json"}});
      continue;
    }
    for (auto mode : modes) validate_bundle_mode(a, b, name, mode, engine, v);
  }
}

// Kernel time by class over all compared bundles, simulated vs measured.
void print_class_errors(const std::vector<ReplayResult>& workloads, const std::vector<std::string>& modes, bool by_mode) {
  auto cls = error_by_class(workloads, by_mode);
  if (cls.empty()) return;
  std::printf("\nkernel time by class (all bundles): simulated vs measured (Kineto)\n");
  std::printf("  %-14s %-9s %8s %14s %14s %9s\n", "class", "mode", "kernels", "measured ms", "simulated ms", "error");
  for (auto& c : cls)
    std::printf("  %-14s %-9s %8d %14.3f %14.3f %+8.1f%%\n", c.kernel_class.c_str(),
                (c.mode.empty() ? modes.front() : c.mode).c_str(), c.kernels, c.measured_s * 1e3,
                c.simulated_s * 1e3, c.error_pct());
}

// The kernels whose simulated time misses the measured time by most (absolute time).
void print_largest_misses(const std::vector<ReplayResult>& workloads) {
  struct Miss {
    double diff;
    std::string bundle, mode, name, cls;
    double meas, sim;
  };
  std::vector<Miss> misses;
  for (auto& w : workloads)
    for (auto& k : w.kernels)
      if (k.measured_s > 0) misses.push_back({k.simulated_s - k.measured_s, w.bundle_name, w.mode, k.name, k.kernel_class, k.measured_s, k.simulated_s});
  std::stable_sort(misses.begin(), misses.end(), [](const Miss& x, const Miss& y) { return std::fabs(x.diff) > std::fabs(y.diff); });
  if (misses.empty()) return;
  std::printf("\nkernels with the largest time error (per launch):\n");
  for (size_t i = 0; i < std::min<size_t>(8, misses.size()); ++i) {
    auto& m = misses[i];
    std::printf("  %-12s %-9s %-11s measured %9.1f us  simulated %9.1f us  %+8.1f%%  %s\n",
                short_name(m.bundle, 12).c_str(), m.mode.c_str(), m.cls.c_str(), m.meas * 1e6, m.sim * 1e6,
                (m.sim - m.meas) / m.meas * 100, short_name(m.name, 56).c_str());
  }
}

// Each nccl-tests log against the fabric model: a table per log, rows above --nccl-tolerance.
void validate_nccl_logs(const Args& a, const std::vector<std::string>& logs, const std::string& engine, Validation& v) {
  if (!a.has("--system")) throw make_error("--system", "", "--nccl-tests needs --system (e.g. dgx-h100)");
  long nodes = a.get_int("--nodes", 0);
  if (nodes < 0) throw make_error("--nodes", a.get("--nodes"), "must not be negative");
  for (auto& log_path : logs) {
    NcclCompare c = compare_nccl(log_path, a.get("--system"), a.all("--sys-set"), a.get("--op"), static_cast<int>(nodes), engine);
    std::printf("\n# %s: %s on %s, %d ranks (nccl-tests vs orrery collective)\n", log_path.c_str(),
                c.series.collective.c_str(), c.system.c_str(), c.ranks);
    std::printf("# %12s %12s %12s %10s %10s %9s\n", "size (B)", "meas us", "sim us", "meas busbw", "sim busbw", "error");
    nlohmann::json rows = nlohmann::json::array();
    int bad_rows = 0;
    for (auto& p : c.series.points) {
      double e = p.measured_time_us > 0 ? (p.simulated_time_us - p.measured_time_us) / p.measured_time_us * 100 : 0;
      bool bad = v.nccl_tol > 0 && std::fabs(e) > v.nccl_tol;
      if (bad) ++bad_rows;
      std::printf("  %12.0f %12.2f %12.2f %10.2f %10.2f %+8.1f%%%s\n", p.bytes, p.measured_time_us, p.simulated_time_us,
                  p.measured_busbw, p.simulated_busbw, e, bad ? "  ABOVE TOLERANCE" : "");
      rows.push_back({{"bytes", p.bytes}, {"measured_time_us", p.measured_time_us}, {"simulated_time_us", p.simulated_time_us},
                      {"measured_busbw_gbps", p.measured_busbw}, {"simulated_busbw_gbps", p.simulated_busbw},
                      {"time_error_pct", e}});
    }
    if (bad_rows) {
      std::printf("# %d row(s) with |time error| above %.1f%%\n", bad_rows, v.nccl_tol);
      ++v.over;
    }
    v.out_json["nccl_tests"].push_back({{"log", log_path}, {"collective", c.series.collective}, {"system", c.system},
                                        {"ranks", c.ranks}, {"rows", rows}});
    v.report.busbw.push_back(std::move(c.series));
  }
}

// Published GEMM throughput: the chip's GEMM in both hardware models; the tolerance applies to
// the one --hw-model names (default calibrated).
nlohmann::json print_published_gemms(const Args& a, const std::vector<PublishedGemmRow>& rows, Validation& v) {
  bool fp = a.get("--hw-model") == "first-principles" || a.get("--hw-model") == "first_principles";
  std::printf("%-8s %-20s %-5s %10s %24s %24s\n", "chip", "gemm MxNxK", "dtype", "published", "first-principles",
              "calibrated");
  nlohmann::json jr = nlohmann::json::array();
  for (auto& r : rows) {
    double e = r.error_pct(fp ? r.first_principles_tflops : r.calibrated_tflops);
    bool bad = v.tol > 0 && std::fabs(e) > v.tol;
    v.over += bad;
    char shape[64];
    std::snprintf(shape, sizeof shape, "%.0fx%.0fx%.0f", r.m, r.n, r.k);
    std::printf("%-8s %-20s %-5s %6.1f TF/s %9.1f TF/s (%+6.1f%%) %9.1f TF/s (%+6.1f%%)%s\n", r.hw.c_str(), shape,
                r.dtype.c_str(), r.published_tflops, r.first_principles_tflops, r.error_pct(r.first_principles_tflops),
                r.calibrated_tflops, r.error_pct(r.calibrated_tflops), bad ? "  ABOVE TOLERANCE" : "");
    jr.push_back({{"hw", r.hw}, {"m", r.m}, {"n", r.n}, {"k", r.k}, {"dtype", r.dtype}, {"published_tflops", r.published_tflops},
                  {"first_principles_tflops", r.first_principles_tflops}, {"calibrated_tflops", r.calibrated_tflops},
                  {"error_pct", e}, {"source", r.source}});
  }
  return jr;
}

// Published all-reduce bus bandwidth: the collective simulated on the system's fabric.
nlohmann::json print_published_collectives(const std::vector<PublishedCollectiveRow>& rows, Validation& v) {
  std::printf("%-10s %5s %5s %-10s %9s %-14s %14s %14s %9s\n", "system", "nodes", "ranks", "collective", "bytes",
              "algorithm", "published", "simulated", "error");
  nlohmann::json jr = nlohmann::json::array();
  for (auto& r : rows) {
    bool bad = v.tol > 0 && std::fabs(r.error_pct()) > v.tol;
    v.over += bad;
    std::string algo = r.algorithm == "auto" ? r.chosen + " (auto)" : r.chosen;
    std::printf("%-10s %5d %5d %-10s %8.0fM %-14s %9.1f GB/s %9.1f GB/s %+8.1f%%%s\n", r.system.c_str(), r.nodes, r.ranks,
                r.op.c_str(), r.bytes / (1 << 20), algo.c_str(), r.published_busbw / 1e9, r.predicted_busbw / 1e9,
                r.error_pct(), bad ? "  ABOVE TOLERANCE" : "");
    jr.push_back({{"system", r.system}, {"nodes", r.nodes}, {"ranks", r.ranks}, {"op", r.op}, {"bytes", r.bytes},
                  {"algorithm", r.algorithm}, {"simulated_algorithm", r.chosen}, {"published_busbw_gbps", r.published_busbw / 1e9},
                  {"simulated_busbw_gbps", r.predicted_busbw / 1e9}, {"error_pct", r.error_pct()}, {"source", r.source}});
  }
  return jr;
}

// Published hardware figures (GEMM throughput, all-reduce busbw) against the models.
void validate_published_hardware_file(const Args& a, const std::string& file, Validation& v) {
  PublishedHardware h = validate_published_hardware(file, a.all("--set"));
  nlohmann::json j = {{"file", file}};
  if (!h.gemm.empty()) {
    std::printf("\npublished GEMM throughput (%s): orrery kernel gemm on the chip preset\n", file.c_str());
    j["gemm"] = print_published_gemms(a, h.gemm, v);
  }
  if (!h.collectives.empty()) {
    std::printf("\npublished collective bus bandwidth (%s): orrery collective on the system\n", file.c_str());
    j["collectives"] = print_published_collectives(h.collectives, v);
  }
  v.out_json["published_hardware"].push_back(j);
}

// Each published training result run through orrery train on the matching system (or, for a
// file of hardware figures, those against the chip and fabric models).
void validate_published(const Args& a, const std::string& file, Validation& v) {
  if (is_published_hardware(read_json_file(file))) return validate_published_hardware_file(a, file, v);
  std::vector<std::string> hw_sets;
  apply_hw_model(a.get("--hw-model"), hw_sets);
  auto rows = validate_published_training(file, hw_sets);
  std::printf("\npublished training iterations (%s): orrery train on the matching system\n", file.c_str());
  std::printf("%-10s %-11s %5s  %-48s %12s %12s %9s %13s\n", "model", "system", "GPUs", "plan", "predicted s",
              "published s", "error", "MFU pred/pub");
  nlohmann::json jr = nlohmann::json::array();
  for (auto& r : rows) {
    bool bad = v.tol > 0 && std::fabs(r.error_pct()) > v.tol;
    v.over += bad;
    std::printf("%-10s %-11s %5d  %-48s %12.3f %12.3f %+8.1f%% %6.3f/%5.3f%s\n", short_name(r.model, 10).c_str(),
                r.system.c_str(), r.gpus, short_name(r.plan, 48).c_str(), r.predicted_s, r.published_s, r.error_pct(),
                r.mfu_predicted, r.mfu_published, bad ? "  ABOVE TOLERANCE" : "");
    jr.push_back({{"model", r.model}, {"system", r.system}, {"gpus", r.gpus}, {"setting", r.setting}, {"plan", r.plan},
                  {"predicted_s", r.predicted_s}, {"published_s", r.published_s}, {"error_pct", r.error_pct()},
                  {"mfu_predicted", r.mfu_predicted}, {"mfu_published", r.mfu_published},
                  {"breakdown_s", r.breakdown_s}, {"source", r.source}});
    v.report.published.push_back(r);
  }
  v.out_json["published_training"].push_back({{"file", file}, {"rows", jr}});
}

// --csv: one row per comparison: a step (bundle x mode), a published result or an nccl-tests row (log x size).
nlohmann::ordered_json comparison_rows(const ReportData& report) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (auto& w : report.workloads)
    rows.push_back({{"kind", "step"}, {"name", w.bundle_name}, {"hardware", w.hw}, {"mode", w.mode}, {"bytes", nullptr},
                    {"predicted_ms", w.step_time_s * 1e3},
                    {"measured_ms", w.has_measured ? nlohmann::ordered_json(w.measured_step_s * 1e3) : nlohmann::ordered_json()},
                    {"measured_min_ms", w.has_measured ? nlohmann::ordered_json(w.measured_min_s * 1e3) : nlohmann::ordered_json()},
                    {"measured_max_ms", w.has_measured ? nlohmann::ordered_json(w.measured_max_s * 1e3) : nlohmann::ordered_json()},
                    {"error_pct", w.has_measured ? nlohmann::ordered_json(w.error_pct) : nlohmann::ordered_json()}});
  for (auto& r : report.published)
    rows.push_back({{"kind", "train"}, {"name", r.model + " " + r.setting}, {"hardware", r.system}, {"mode", r.plan},
                    {"bytes", nullptr}, {"predicted_ms", r.predicted_s * 1e3}, {"measured_ms", r.published_s * 1e3},
                    {"measured_min_ms", nullptr}, {"measured_max_ms", nullptr}, {"error_pct", r.error_pct()}});
  for (auto& sr : report.busbw)
    for (auto& p : sr.points)
      rows.push_back({{"kind", "nccl"}, {"name", sr.label}, {"hardware", nullptr}, {"mode", sr.collective}, {"bytes", p.bytes},
                      {"predicted_ms", p.simulated_time_us * 1e-3}, {"measured_ms", p.measured_time_us * 1e-3},
                      {"measured_min_ms", nullptr}, {"measured_max_ms", nullptr},
                      {"error_pct", p.measured_time_us > 0 ? nlohmann::ordered_json((p.simulated_time_us / p.measured_time_us - 1) * 100)
                                                           : nlohmann::ordered_json()},
                      {"predicted_busbw_gbps", p.simulated_busbw}, {"measured_busbw_gbps", p.measured_busbw}});
  return rows;
}

// --report, --json and --csv of a validate run.
void write_validation_outputs(const Args& a, const Validation& v) {
  if (a.has("--report")) {
    std::string path = a.get("--report");
    std::ofstream o(path);
    if (!o) throw make_error("--report", path, "cannot write");
    o << render_report(v.report);
    std::printf("\nreport: %s\n", path.c_str());
  }
  if (a.has("--json")) {
    std::string path = a.get("--json");
    std::ofstream o(path);
    if (!o) throw make_error("--json", path, "cannot write");
    o << v.out_json.dump(1) << "\n";
  }
  if (a.has("--csv")) write_csv_file(a.get("--csv"), comparison_rows(v.report));
}

Spec validate_spec();

int validate_main(Args& a) {
  if (a.has("--kernel-transfer")) return run_kernel_transfer(a);
  if (a.has("--source-set")) throw make_error("--source-set", "", "only with --kernel-transfer");
  auto bundles = a.positional();
  auto logs = a.all("--nccl-tests");
  auto published = a.all("--published");
  if (bundles.empty() && logs.empty() && published.empty())
    throw Error("nothing to validate: give bundle directories, --nccl-tests LOG or --published FILE (orrery validate --help)");
  Validation v;
  v.tol = a.get_double("--tolerance", 25.0);
  if (v.tol < 0) throw make_error("--tolerance", a.get("--tolerance"), "must not be negative");
  v.nccl_tol = a.get_double("--nccl-tolerance", 0.0);
  if (v.nccl_tol < 0) throw make_error("--nccl-tolerance", a.get("--nccl-tolerance"), "must not be negative");
  std::vector<std::string> modes = split_commas(a.all("--mode"));
  if (modes.empty()) modes.push_back("measured");
  std::vector<ReplayMode> parsed_modes;
  for (auto& m : modes) parsed_modes.push_back(parse_replay_mode(m));
  std::string engine = a.get("--engine", "event");
  size_t replays = bundles.size() * parsed_modes.size() + (logs.empty() ? 0 : 1);
  if (engine == "systemc" && replays > 1)
    throw make_error("--engine", engine, "one SystemC simulation per process: validate several runs with --engine event");

  v.report.tolerance_pct = v.tol;
  {
    std::string cmd = "orrery validate";
    for (auto& s : a.raw()) cmd += " " + s;
    v.report.subtitle = cmd;
  }
  v.out_json["tolerance_pct"] = v.tol;
  v.out_json["workloads"] = nlohmann::json::array();
  v.out_json["skipped"] = nlohmann::json::array();

  validate_bundles(a, bundles, parsed_modes, engine, v);
  if (!v.report.workloads.empty() && !a.has("--quiet")) {
    print_class_errors(v.report.workloads, modes, parsed_modes.size() > 1);
    print_largest_misses(v.report.workloads);
  }
  v.out_json["nccl_tests"] = nlohmann::json::array();
  if (!logs.empty()) validate_nccl_logs(a, logs, engine, v);
  for (auto& file : published) validate_published(a, file, v);
  write_validation_outputs(a, v);
  if (v.over > 0 && v.tol > 0)
    std::printf("\n%d comparison(s) above tolerance (step time %.1f%%%s)\n", v.over, v.tol,
                v.nccl_tol > 0 ? (", nccl time " + std::to_string(v.nccl_tol) + "%").c_str() : "");
  return (v.over > 0 || v.failures > 0) ? 1 : 0;
}

Spec validate_spec() {
  Spec s;
  s.name = "validate";
  s.summary = "replay bundles / nccl-tests logs and compare with their measurements (report, tolerance)";
  s.usage = "BUNDLE... [--hw h100] [--mode measured|roofline|transfer[,MODE...]] [--report out.html] [options]\n"
            "       orrery validate --published validation/data/published_training.json|published_hardware.json [--tolerance PCT]\n"
            "       orrery validate --nccl-tests LOG [--nccl-tests LOG...] --system SYSTEM [--op OP] [--nodes N]\n"
            "       orrery validate --kernel-transfer SRC_MICRO.json DST_MICRO.json --source-hw h100 --hw h200";
  s.example = "validate examples/bundles/* --mode measured,roofline --report report.html";
  s.flags = {
      {"--hw", "NAME|FILE", "", "", "GPU preset of the replay (default h100; with --kernel-transfer: the target, required)"},
      {"--mode", "MODE[,MODE]", "", "", "replay modes to compare (default measured)", Flag::Repeat},
      {"--source-hw", "NAME|FILE", "h100", "", "GPU the capture was taken on (transfer mode, --kernel-transfer)"},
      set_flag(),
      {"--source-set", "NAME=VALUE", "", "", "--kernel-transfer: parameter of --source-hw", Flag::Repeat},
      {"--tolerance", "PCT", "", "%", "allowed |error| (default 25; 8 with --kernel-transfer; 0 = do not check)"},
      {"--truth", "DIR", "", "", "ground truth measured on the target hardware: DIR/<bundle name>/measured.json (without it a what-if "
       "(transfer, --set) prints \"what-if, no ground truth\")"},
      hw_model_flag(),
      {"--published", "FILE", "", "", "published results: training iterations (run through orrery train) or hardware figures (GEMM, all-reduce busbw; validation/data/published_hardware.json)", Flag::Repeat},
      {"--nccl-tests", "LOG", "", "", "nccl-tests output (all_reduce_perf ...) or an orrery collective table", Flag::Repeat},
      {"--system", "NAME|FILE", "", "", "system of the nccl-tests run (required with --nccl-tests)"},
      {"--op", "OP", "", "", "collective of the log when the log does not name it"},
      {"--nodes", "N", "", "", "nodes of the nccl-tests system"},
      sys_set_flag(),
      {"--nccl-tolerance", "PCT", "0", "%", "allowed |busbw error| per size (0 = do not check)"},
      {"--kernel-transfer", "", "", "", "check replay --mode transfer kernel by kernel: SRC_MICRO.json DST_MICRO.json"},
      {"--engine", "event|systemc", "event", "", "event engine (systemc: one run per process)"},
      {"--report", "FILE", "", "", "HTML report"},
      {"--json", "FILE", "", "", "results as JSON"},
      {"--csv", "FILE", "", "", "one row per comparison"},
      {"--quiet", "", "", "", "no per-kernel table"},
  };
  s.notes = "BUNDLE: capture folder with measured.json (bundles without it are skipped with a message).\n"
            "Exit status: 0 all within tolerance, 1 an error above tolerance or a failed input, 2 usage.";
  return s;
}
Register validate_reg(validate_spec(), validate_main);

}  // namespace
}  // namespace orrery::cli
