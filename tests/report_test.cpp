// The validation report: one self-contained HTML page with the four plots and tables.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "validation/report.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace report_test {

using namespace orrery;

namespace {
ReplayResult workload(const std::string& name, double pred_ms, double meas_ms, bool measured = true) {
  ReplayResult r;
  r.bundle = "bundles/" + name;
  r.bundle_name = name;
  r.hw = "h100";
  r.mode = "roofline";
  r.step_time_s = pred_ms * 1e-3;
  r.has_measured = measured;
  r.measured_step_s = meas_ms * 1e-3;
  r.measured_min_s = meas_ms * 0.98e-3;
  r.measured_max_s = meas_ms * 1.1e-3;
  r.error_pct = (pred_ms - meas_ms) / meas_ms * 100;
  r.gpu_busy_s = pred_ms * 0.9e-3;
  const char* classes[] = {"gemm", "attention", "elementwise", "reduction", "optimizer"};
  for (int i = 0; i < 50; ++i) {
    KernelRow k;
    k.name = std::string("sm90_xmma_gemm_<bf16>_kernel_") + std::to_string(i % 7);
    k.kernel_class = classes[i % 5];
    k.measured_s = (5 + i) * 1e-6;
    k.simulated_s = k.measured_s * (0.7 + 0.01 * i);
    r.kernels.push_back(k);
  }
  return r;
}

ReportData sample() {
  ReportData d;
  d.title = "orrery validation <test>";
  d.subtitle = "orrery validate a b --tolerance 15";
  d.tolerance_pct = 15;
  d.workloads = {workload("gpt_b", 48.0, 50.67), workload("mlp_fp32", 60.0, 47.42)};
  d.skipped = {"no_measured: no measured.json"};
  BusbwSeries s;
  s.label = "all_reduce, 8 ranks, dgx_h100";
  s.collective = "all_reduce";
  for (double b = 1024; b <= (1ull << 30); b *= 4) s.points.push_back({b, b / 1e7, b / 1.1e7, 10, 11});
  d.busbw.push_back(s);
  return d;
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(Report, SelfContainedPageWithFourPlots) {
  std::string html = render_report(sample());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(count(html, "<svg"), 4);  // step bars, class errors, kernel scatter, busbw
  EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
  EXPECT_EQ(count(html, "<table>"), count(html, "</table>"));
  // Nothing external: no network references, no scripts, no linked stylesheets or images.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  // Text is escaped.
  EXPECT_NE(html.find("orrery validation &lt;test&gt;"), std::string::npos);
  EXPECT_NE(html.find("sm90_xmma_gemm_&lt;bf16&gt;_kernel_"), std::string::npos);
  EXPECT_EQ(html.find("<bf16>"), std::string::npos);
  // Tables: workloads, errors and the skipped bundle.
  EXPECT_NE(html.find("gpt_b"), std::string::npos);
  EXPECT_NE(html.find("+26.5%"), std::string::npos);  // mlp_fp32: 60 vs 47.42 ms
  EXPECT_NE(html.find("no_measured: no measured.json"), std::string::npos);
  EXPECT_NE(html.find("1 / 2"), std::string::npos);   // within tolerance
  // One scatter point per kernel (100 kernels, each with a tooltip).
  EXPECT_GE(count(html, "<circle"), 100);
}

TEST(Report, Deterministic) { EXPECT_EQ(render_report(sample()), render_report(sample())); }

TEST(Report, ErrorByClassSumsKernelTimes) {
  auto cls = error_by_class(sample().workloads);
  ASSERT_EQ(cls.size(), 5u);
  int n = 0;
  for (auto& c : cls) {
    n += c.kernels;
    EXPECT_GT(c.measured_s, 0);
  }
  EXPECT_EQ(n, 100);
  // Sorted by measured time, largest first.
  for (size_t i = 1; i < cls.size(); ++i) EXPECT_GE(cls[i - 1].measured_s, cls[i].measured_s);
}

TEST(Report, EmptyAndPartialDataStillRender) {
  ReportData d;
  std::string html = render_report(d);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  d.workloads = {workload("unmeasured", 10, 10, false)};
  d.workloads[0].kernels.clear();
  html = render_report(d);
  EXPECT_EQ(count(html, "<svg"), 1);
  EXPECT_NE(html.find("no measurement"), std::string::npos);
  ReportData b;
  BusbwSeries s;
  s.collective = "all_gather";
  s.points.push_back({1 << 20, 100, 90, 10, 11});
  b.busbw.push_back(s);
  EXPECT_EQ(count(render_report(b), "<svg"), 1);
}

// Writes the sample page for validation/render_check.sh when asked (not part of the assertions).
TEST(Report, WritesSampleWhenAsked) {
  const char* out = std::getenv("ORRERY_REPORT_SAMPLE");
  if (!out) GTEST_SKIP() << "set ORRERY_REPORT_SAMPLE=path.html to write the sample page";
  std::ofstream(out) << render_report(sample());
}

// ---- `orrery validate` end to end (runs the CLI binary) -------------------------------------------
namespace {
struct Run {
  int rc;
  std::string out;
};
Run run_cli(const std::string& args) {
  auto dir = std::filesystem::temp_directory_path();
  std::string out = (dir / ("orrery_validate_test_" + std::to_string(::getpid()) + ".txt")).string();
  std::string cmd = std::string(ORRERY_BINARY) + " " + args + " > " + out + " 2>&1";
  int st = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(out);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, ss.str()};
}
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }
std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(ValidateCli, BundleWithinToleranceAndSkipsBundleWithoutMeasurement) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "no_measured");
  for (const char* f : {"et.json.gz", "kineto.json.gz"})
    std::filesystem::copy_file(src("examples/bundles/mlp_fp32/") + f, dir / "no_measured" / f);
  std::string html = (dir / "r.html").string(), json = (dir / "r.json").string();
  auto r = run_cli("validate " + src("examples/bundles/mlp_fp32") + " " + (dir / "no_measured").string() +
                   " --mode roofline --tolerance 30 --report " + html + " --json " + json);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("mlp_fp32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped: no measured.json"), std::string::npos) << r.out;
  std::string page = slurp(html);
  EXPECT_EQ(count(page, "<svg"), 3);  // step bars, class errors, kernel scatter (no nccl log)
  EXPECT_EQ(page.find("http"), std::string::npos);
  auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j["workloads"].size(), 1u);
  EXPECT_TRUE(j["workloads"][0]["within_tolerance"].get<bool>());
  EXPECT_TRUE(j["workloads"][0].contains("error_by_class"));
  EXPECT_EQ(j["skipped"].size(), 1u);
  std::filesystem::remove_all(dir);
}

TEST(ValidateCli, ExitsNonZeroAboveTolerance) {
  auto r = run_cli("validate " + src("examples/bundles/mlp_fp32") + " --mode roofline --tolerance 0.001");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("ABOVE TOLERANCE"), std::string::npos) << r.out;
  auto missing = run_cli("validate /nonexistent/bundle_dir");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.out.find("no such bundle folder"), std::string::npos) << missing.out;
}

TEST(ValidateCli, NcclTestsLogAgainstTheFabricModel) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_nccl_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string json = (dir / "n.json").string(), html = (dir / "n.html").string();
  auto r = run_cli("validate --nccl-tests " + src("tests/data/nccl_tests/all_reduce_perf_8xh100.log") +
                   " --system dgx-h100 --json " + json + " --report " + html);
  EXPECT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j["nccl_tests"].size(), 1u);
  EXPECT_EQ(j["nccl_tests"][0]["collective"], "all_reduce");
  EXPECT_EQ(j["nccl_tests"][0]["ranks"], 8);
  ASSERT_EQ(j["nccl_tests"][0]["rows"].size(), 31u);
  for (auto& row : j["nccl_tests"][0]["rows"]) EXPECT_GT(row["simulated_time_us"].get<double>(), 0);
  EXPECT_EQ(count(slurp(html), "<svg"), 1);
  std::filesystem::remove_all(dir);
}

TEST(ValidateCli, NcclTestsLogOfAnotherCollectiveIsRefused) {
  auto r = run_cli("validate --nccl-tests " + src("tests/data/nccl_tests/all_gather_perf_8xh100.log") +
                   " --system dgx-h100 --op all_reduce");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("the log is from all_gather_perf but --op all_reduce"), std::string::npos) << r.out;
  auto nosys = run_cli("validate --nccl-tests " + src("tests/data/nccl_tests/all_gather_perf_8xh100.log"));
  EXPECT_EQ(nosys.rc, 1);
  EXPECT_NE(nosys.out.find("--system"), std::string::npos) << nosys.out;
}

TEST(ValidateCli, KernelTransferReportPlotsEveryMatchedKernel) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_kt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string html = (dir / "kt.html").string();
  auto r = run_cli("validate --kernel-transfer " + src("validation/data/h100/host_device_micro.json") + " " +
                   src("validation/data/h200/host_device_micro.json") +
                   " --source-hw h100 --hw h100 --set hbm_bandwidth=4.8TB/s --tolerance 0 --quiet --report " + html);
  EXPECT_EQ(r.rc, 0) << r.out;
  std::string page = slurp(html);
  EXPECT_EQ(count(page, "<svg"), 1);
  EXPECT_NE(page.find("Hardware what-if at kernel level: h100 &rarr; h100+set"), std::string::npos);
  // 70 matched kernels, each drawn twice (transfer, no transfer), plus 5 legend circles.
  EXPECT_EQ(count(page, "<circle"), 2 * 70 + 5);
  EXPECT_EQ(count(page, "<tr>"), 1 + 6);  // header + (gemm, copy, elementwise) x (transfer, no transfer)
  EXPECT_EQ(page.find("http"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(ValidateCli, PublishedHardwareFiguresAgainstChipAndFabric) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_pubhw_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string json = (dir / "h.json").string();
  auto r = run_cli("validate --published " + src("validation/data/published_hardware.json") + " --tolerance 0 --json " + json);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("published GEMM throughput"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("published collective bus bandwidth"), std::string::npos) << r.out;
  auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j["published_hardware"].size(), 1u);
  for (auto& row : j["published_hardware"][0]["gemm"]) EXPECT_GT(row["first_principles_tflops"].get<double>(), 0);
  for (auto& row : j["published_hardware"][0]["collectives"]) EXPECT_GT(row["simulated_busbw_gbps"].get<double>(), 0);
  // a tolerance no model meets fails the run
  EXPECT_EQ(run_cli("validate --published " + src("validation/data/published_hardware.json") + " --tolerance 0.001").rc, 1);
}

TEST(ValidateCli, PublishedTrainingRowsRunThroughTheTrainGenerator) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_pub_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string json = (dir / "p.json").string(), html = (dir / "p.html").string();
  auto r = run_cli("validate --published " + src("validation/data/published_training.json") + " --tolerance 0 --json " +
                   json + " --report " + html);
  EXPECT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(slurp(json));
  ASSERT_EQ(j["published_training"].size(), 1u);
  const auto& rows = j["published_training"][0]["rows"];
  ASSERT_EQ(rows.size(), 4u);  // two models x two recompute settings
  for (auto& row : rows) {
    EXPECT_GT(row["predicted_s"].get<double>(), 0);
    EXPECT_EQ(row["system"], "dgx-a100");
    EXPECT_TRUE(row["breakdown_s"].contains("compute"));
  }
  EXPECT_EQ(count(slurp(html), "<svg"), 1);
  EXPECT_EQ(run_cli("validate --published " + src("validation/data/published_training.json") + " --tolerance 0.001").rc, 1);
  // Bad input names the file, the row and the field.
  std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << R"({"rows": [{"model": "x", "cluster": "TPU pod", "layers": 2, "hidden": 64, "heads": 4,
                            "seq": 128, "vocab": 100, "gpus": 8, "tp": 8, "pp": 1, "dp": 1, "micro_batch": 1,
                            "global_batch": 1, "iteration_s": {"full_recompute": 1}}]})";
  auto e = run_cli("validate --published " + bad);
  EXPECT_EQ(e.rc, 1);
  EXPECT_NE(e.out.find("rows[0]: cluster"), std::string::npos) << e.out;
  std::filesystem::remove_all(dir);
}

// Framework throughput tables (Megatron-Bridge: tokens/s/GPU) run as preset rows: the model
// preset, the system, fp8, ZeRO and SP as published, the throughput turned into an iteration time.
TEST(ValidateCli, PublishedThroughputRowsRunPresetsOnTheirSystems) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_validate_mb_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string file = src("validation/data/published_training_megatron_bridge.json"), json = (dir / "m.json").string();
  auto r = run_cli("validate --published " + file + " --json " + json);
  EXPECT_EQ(r.rc, 0) << r.out;
  auto rows = nlohmann::json::parse(slurp(json))["published_training"][0]["rows"];
  auto src_rows = nlohmann::json::parse(slurp(file))["rows"];
  ASSERT_EQ(rows.size(), src_rows.size());
  std::set<std::string> systems;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& s = src_rows[i];
    double tps = s["tokens_per_s_per_gpu"].begin()->get<double>();  // (one setting per row)
    double expect = s["global_batch"].get<double>() * s["seq"].get<double>() / (tps * s["gpus"].get<double>());
    EXPECT_NEAR(rows[i]["published_s"].get<double>(), expect, 1e-9 * expect);
    EXPECT_GT(rows[i]["predicted_s"].get<double>(), 0);
    EXPECT_NE(rows[i]["plan"].get<std::string>().find("fp8"), std::string::npos);
    systems.insert(rows[i]["system"].get<std::string>());
  }
  EXPECT_TRUE(systems.count("dgx-h100") && systems.count("hgx-b200"));
  std::string bad = (dir / "bad.json").string();
  std::ofstream(bad) << R"({"rows": [{"model_preset": "llama3-8b", "system": "dgx-h100", "gpus": 8, "dp": 8,
                            "micro_batch": 1, "global_batch": 8, "precision": "fp4",
                            "tokens_per_s_per_gpu": {"no_recompute": 1000}}]})";
  auto e = run_cli("validate --published " + bad);
  EXPECT_EQ(e.rc, 1);
  EXPECT_NE(e.out.find("rows[0]: precision"), std::string::npos) << e.out;
  // A preset, a system or a plan that fails names the file, the row and the field too.
  std::ofstream(bad) << R"({"rows": [{"model_preset": "nope", "system": "dgx-h100", "gpus": 8, "dp": 8,
                            "micro_batch": 1, "global_batch": 8, "tokens_per_s_per_gpu": {"no_recompute": 1000}}]})";
  e = run_cli("validate --published " + bad);
  EXPECT_NE(e.out.find("bad.json: rows[0]: model_preset: --model: nope"), std::string::npos) << e.out;
  std::ofstream(bad) << R"({"rows": [{"model_preset": "llama3-8b", "system": "dgx-h100", "gpus": 8, "dp": 4,
                            "micro_batch": 1, "global_batch": 8, "tokens_per_s_per_gpu": {"no_recompute": 1000}}]})";
  e = run_cli("validate --published " + bad);
  EXPECT_NE(e.out.find("bad.json: rows[0]: plan: "), std::string::npos) << e.out;
  std::filesystem::remove_all(dir);
}

}  // namespace report_test
