// Kernel-level validation of the hardware transfer (validation/kernel_transfer.h): matching, the
// prediction and error arithmetic on hand-made fixtures, bad input, and the structure of the real
// H100/H200 files. No test asserts an accuracy threshold on the real data.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "hw_models/accelerator.h"
#include "hw_models/transfer.h"
#include "sim/error.h"
#include "support/errors.h"
#include "validation/kernel_transfer.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace kernel_transfer_test {

using namespace orrery;
namespace fs = std::filesystem;

namespace {

std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }

// A fresh folder per test (tests run in parallel processes), removed when the test ends.
struct TestDir {
  fs::path path;
  TestDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::temp_directory_path() /
           ("orrery_kernel_transfer_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TestDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string write(const TestDir& dir, const std::string& name, const std::string& text) {
  fs::path p = dir / name;
  std::ofstream o(p);
  o << text;
  return p.string();
}

// Tiny preset: flat efficiencies (GEMM 0.5 of 1000 TFLOP/s, memory 0.5 of 1 TB/s), 1 us floor.
const char* kTinyPreset = R"({
 "name": "tiny",
 "params": {"peak_bf16": "1000 TFLOP/s", "peak_fp16": "1000 TFLOP/s", "peak_fp8": "2000 TFLOP/s",
            "peak_tf32": "500 TFLOP/s", "peak_fp32": "50 TFLOP/s", "hbm_bandwidth": "1 TB/s",
            "hbm_capacity": "80 GB", "sm_count": 100, "l2_size": "50 MB", "min_kernel_time": "1 us"},
 "efficiency": {"gemm": {"bf16": [[1e6, 0.5], [1e15, 0.5]]}, "memory": [[1e3, 0.5], [1e12, 0.5]]}
})";

// Source: a compute-bound GEMM (8192^3 bf16: 2.2 ms of compute, 0.8 ms of memory on tiny), a
// memory-bound copy (1e9 B: 2e9 B moved, 4 ms), a latency-bound copy (1 KiB), an add, and a GEMM
// that the target file lacks.
const char* kSource = R"({"device_side": {
 "gemm": [{"dtype": "bf16", "m": 8192, "n": 8192, "k": 8192, "device_ms": 2.5},
          {"dtype": "bf16", "m": 64, "n": 64, "k": 64, "device_ms": 0.002}],
 "copy": [{"bytes": 1000000000, "device_ms": 4.0}, {"bytes": 1024, "device_ms": 0.0015}],
 "elementwise": [{"op": "add", "bytes_per_operand": 1000000000, "device_ms": 6.5}]}})";

// Target: same kernels in another order, the 64^3 GEMM missing, an extra mul_scalar.
const char* kTarget = R"({"device_side": {
 "elementwise": [{"op": "mul_scalar", "bytes_per_operand": 4096, "device_ms": 0.0013},
                 {"op": "add", "bytes_per_operand": 1000000000, "device_ms": 3.0}],
 "copy": [{"bytes": 1024, "device_ms": 0.0012}, {"bytes": 1000000000, "device_ms": 2.2}],
 "gemm": [{"dtype": "bf16", "m": 8192, "n": 8192, "k": 8192, "device_ms": 2.4}]}})";

const KernelTransferRow* row(const KernelTransferResult& r, const std::string& cls, const std::string& key) {
  for (auto& k : r.rows)
    if (k.kernel_class == cls && k.key == key) return &k;
  return nullptr;
}
const KernelTransferSummary* summary(const KernelTransferResult& r, const std::string& cls, const std::string& method) {
  for (auto& s : r.summary)
    if (s.kernel_class == cls && s.method == method) return &s;
  return nullptr;
}

std::pair<int, std::string> run_cli(const std::string& args) {
  std::string cmd = std::string(ORRERY_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int st = p ? pclose(p) : -1;
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

}  // namespace

TEST(KernelTransfer, IdenticalPresetsPredictTheSourceTime) {
  TestDir d;
  std::string preset = write(d, "tiny.json", kTinyPreset);
  auto s = write(d, "src.json", kSource), t = write(d, "dst.json", kTarget);
  Accelerator a = load_accelerator(preset), b = load_accelerator(preset);
  auto r = validate_kernel_transfer(s, t, a, b);
  ASSERT_EQ(r.rows.size(), 4u);
  for (auto& k : r.rows) {
    EXPECT_EQ(k.predicted_ms, k.source_ms) << k.key;
    EXPECT_DOUBLE_EQ(k.error_pct(), k.naive_error_pct()) << k.key;
  }
}

TEST(KernelTransfer, MatchesByKeyAndListsTheUnmatched) {
  TestDir d;
  std::string preset = write(d, "tiny.json", kTinyPreset);
  auto s = write(d, "src.json", kSource), t = write(d, "dst.json", kTarget);
  Accelerator a = load_accelerator(preset);
  auto r = validate_kernel_transfer(s, t, a, a);
  // Rows in source order, each paired with its target row wherever it sits in the target file.
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].key, "bf16 8192x8192x8192");
  EXPECT_EQ(r.rows[0].target_field, "device_side.gemm[0]");
  EXPECT_EQ(r.rows[1].key, "1000000000 B");
  EXPECT_EQ(r.rows[1].source_field, "device_side.copy[0]");
  EXPECT_EQ(r.rows[1].target_field, "device_side.copy[1]");
  EXPECT_DOUBLE_EQ(r.rows[1].target_ms, 2.2);
  EXPECT_EQ(r.rows[2].key, "1024 B");
  EXPECT_EQ(r.rows[3].key, "add 1000000000 B/operand");
  EXPECT_EQ(r.rows[3].target_field, "device_side.elementwise[1]");
  // Bytes read + written: copy 2 x, add 3 x.
  EXPECT_DOUBLE_EQ(r.rows[1].bytes, 2e9);
  EXPECT_DOUBLE_EQ(r.rows[3].bytes, 3e9);
  EXPECT_DOUBLE_EQ(r.rows[0].flops, 2.0 * 8192.0 * 8192.0 * 8192.0);
  ASSERT_EQ(r.unmatched.size(), 2u);
  EXPECT_NE(r.unmatched[0].find(s + ": device_side.gemm[1] (gemm bf16 64x64x64): no match in " + t),
            std::string::npos) << r.unmatched[0];
  EXPECT_NE(r.unmatched[1].find(t + ": device_side.elementwise[0] (elementwise mul_scalar 4096 B/operand)"),
            std::string::npos) << r.unmatched[1];
  // Classes with matched kernels only, transfer then the no-transfer baseline.
  ASSERT_EQ(r.summary.size(), 6u);
  EXPECT_EQ(summary(r, "gemm", "transfer")->count, 1);
  EXPECT_EQ(summary(r, "copy", "no transfer")->count, 2);
  EXPECT_EQ(summary(r, "elementwise", "transfer")->count, 1);
}

TEST(KernelTransfer, DoubledBandwidthHalvesAMemoryBoundCopyOnly) {
  TestDir d;
  std::string preset = write(d, "tiny.json", kTinyPreset);
  auto s = write(d, "src.json", kSource), t = write(d, "dst.json", kTarget);
  Accelerator a = load_accelerator(preset);
  Accelerator b = load_accelerator(preset, {"hbm_bandwidth=2TB/s"});
  auto r = validate_kernel_transfer(s, t, a, b);
  // Copy of 1e9 B: 2e9 B at 0.5 x 1 TB/s = 4 ms on the source model, 2 ms on the target: x 0.5.
  const auto* big = row(r, "copy", "1000000000 B");
  ASSERT_NE(big, nullptr);
  EXPECT_DOUBLE_EQ(big->source_model_ms, 4.0);
  EXPECT_DOUBLE_EQ(big->target_model_ms, 2.0);
  EXPECT_DOUBLE_EQ(big->predicted_ms, 2.0);
  EXPECT_NEAR(big->error_pct(), (2.0 - 2.2) / 2.2 * 100, 1e-9);
  EXPECT_NEAR(big->naive_error_pct(), (4.0 - 2.2) / 2.2 * 100, 1e-9);
  // Add of 1e9 B per operand: 3e9 B, also halved.
  EXPECT_DOUBLE_EQ(row(r, "elementwise", "add 1000000000 B/operand")->predicted_ms, 3.25);
  // 1 KiB copy sits on the 1 us floor on both: unchanged. The compute-bound GEMM: unchanged.
  EXPECT_DOUBLE_EQ(row(r, "copy", "1024 B")->predicted_ms, 0.0015);
  const auto* g = row(r, "gemm", "bf16 8192x8192x8192");
  EXPECT_DOUBLE_EQ(g->predicted_ms, 2.5);
  EXPECT_NEAR(g->source_model_ms, 2.0 * 8192.0 * 8192.0 * 8192.0 / 5e14 * 1e3, 1e-12);
  // Summary arithmetic for copy: |errors| 9.09% (big) and 25% (1 KiB: 1.5 vs 1.2 us).
  const auto* c = summary(r, "copy", "transfer");
  double e_big = std::fabs((2.0 - 2.2) / 2.2 * 100), e_small = std::fabs((0.0015 - 0.0012) / 0.0012 * 100);
  EXPECT_NEAR(c->median_abs_error_pct, 0.5 * (e_big + e_small), 1e-9);
  EXPECT_NEAR(c->max_abs_error_pct, e_small, 1e-9);
  EXPECT_NEAR(c->measured_ms, 2.2 + 0.0012, 1e-12);
  EXPECT_NEAR(c->predicted_ms, 2.0 + 0.0015, 1e-12);
  EXPECT_NEAR(c->sum_error_pct(), (2.0015 - 2.2012) / 2.2012 * 100, 1e-9);
  const auto* n = summary(r, "copy", "no transfer");
  EXPECT_NEAR(n->predicted_ms, 4.0 + 0.0015, 1e-12);
  // Tolerance: copy -9.1%, elementwise +8.3%, gemm +4.2% (summed).
  EXPECT_EQ(r.above(0).size(), 0u);
  EXPECT_EQ(r.above(8.0).size(), 2u);
  EXPECT_EQ(r.above(10.0).size(), 0u);
}

TEST(KernelTransfer, TheSharedRatioIsTheRooflineRatio) {
  TestDir d;
  Accelerator a = load_accelerator(write(d, "tiny.json", kTinyPreset));
  Accelerator b = load_accelerator(write(d, "tiny.json", kTinyPreset), {"hbm_bandwidth=4TB/s", "peak_bf16=2000TFLOP/s"});
  Roof ra = memory_roof(a, 1e9), rb = memory_roof(b, 1e9);
  EXPECT_DOUBLE_EQ(transfer_ratio(rb, b, ra, a, false), 0.25);
  EXPECT_DOUBLE_EQ(ra.total(a), a.memory_time(1e9));
  Roof ga = gemm_roof(a, 8192, 8192, 8192, Dtype::BF16, 1, 2.0 * 3 * 8192 * 8192);
  EXPECT_DOUBLE_EQ(ga.total(a), a.gemm_time(8192, 8192, 8192, Dtype::BF16));
  Roof gb = gemm_roof(b, 8192, 8192, 8192, Dtype::BF16, 1, 2.0 * 3 * 8192 * 8192);
  EXPECT_DOUBLE_EQ(transfer_ratio(gb, b, ga, a, true), 0.5);
  // Unknown work: the class's dominant resource.
  Roof unknown;
  EXPECT_DOUBLE_EQ(transfer_ratio(unknown, b, unknown, a, true), 0.5);
  EXPECT_DOUBLE_EQ(transfer_ratio(unknown, b, unknown, a, false), 0.25);
}

TEST(KernelTransfer, BadInputNamesTheFileAndTheField) {
  TestDir d;
  Accelerator a = load_accelerator(write(d, "tiny.json", kTinyPreset));
  auto s = write(d, "src.json", kSource);
  auto no_ms = write(d, "no_ms.json", R"({"device_side": {"gemm": [{"dtype": "bf16", "m": 1, "n": 2, "k": 3}]}})");
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(s, no_ms, a, a); }),
            no_ms + ": device_side.gemm[0].device_ms: missing field");
  auto no_k = write(d, "no_k.json",
                    R"({"device_side": {"copy": [{"bytes": 8, "device_ms": 1}], "gemm": [{"dtype": "bf16", "m": 1, "n": 2, "device_ms": 1}]}})");
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(no_k, s, a, a); }),
            no_k + ": device_side.gemm[0].k: missing field");
  auto no_bytes = write(d, "no_bytes.json", R"({"device_side": {"copy": [{"device_ms": 1}]}})");
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(s, no_bytes, a, a); }),
            no_bytes + ": device_side.copy[0].bytes: missing field");
  auto bad_op = write(d, "bad_op.json",
                      R"({"device_side": {"elementwise": [{"op": "div", "bytes_per_operand": 8, "device_ms": 1}]}})");
  EXPECT_NE(syn::error_of([&] { validate_kernel_transfer(s, bad_op, a, a); })
                .find(bad_op + ": device_side.elementwise[0].op: unknown elementwise op 'div'"),
            std::string::npos);
  auto zero = write(d, "zero.json", R"({"device_side": {"copy": [{"bytes": 8, "device_ms": 0}]}})");
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(s, zero, a, a); }),
            zero + ": device_side.copy[0].device_ms: must be greater than zero");
  auto host_only = write(d, "host_only.json", R"({"host_dispatch": {}})");
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(s, host_only, a, a); }),
            host_only + ": device_side: missing field (device-side kernel times)");
  auto legacy = write(d, "legacy.json", R"({"gemm": []})");
  EXPECT_NE(syn::error_of([&] { validate_kernel_transfer(legacy, s, a, a); }).find(legacy + ": device_side: missing field"),
            std::string::npos);
  std::string missing = (d / "nope.json").string();
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(missing, s, a, a); }), missing + ": cannot open file");
  // One line each.
  EXPECT_EQ(syn::error_of([&] { validate_kernel_transfer(s, no_ms, a, a); }).find('\n'), std::string::npos);
}

TEST(KernelTransfer, RealH100AndH200FilesMatchKernelForKernel) {
  std::string h100 = src("validation/data/h100/host_device_micro.json");
  std::string h200 = src("validation/data/h200/host_device_micro.json");
  auto r = validate_kernel_transfer(h100, h200, load_accelerator("h100"), load_accelerator("h200"));
  EXPECT_EQ(r.rows.size(), 70u);
  EXPECT_TRUE(r.unmatched.empty());
  EXPECT_EQ(summary(r, "gemm", "transfer")->count, 37);
  EXPECT_EQ(summary(r, "copy", "transfer")->count, 11);
  EXPECT_EQ(summary(r, "elementwise", "transfer")->count, 22);
  EXPECT_EQ(summary(r, "elementwise", "no transfer")->count, 22);
  for (auto& k : r.rows) {
    EXPECT_GT(k.predicted_ms, 0) << k.key;
    EXPECT_EQ(k.source_field, k.target_field) << k.key;  // the two files list the same kernels in the same order
  }
  // A file against itself on one preset: no error at all.
  auto same = validate_kernel_transfer(h100, h100, load_accelerator("h100"), load_accelerator("h100"));
  for (auto& s : same.summary) {
    EXPECT_EQ(s.max_abs_error_pct, 0) << s.kernel_class << " " << s.method;
    EXPECT_EQ(s.sum_error_pct(), 0) << s.kernel_class << " " << s.method;
  }
}

TEST(KernelTransfer, CliPrintsTheTableAndWritesJson) {
  TestDir d;
  std::string json = (d / "out.json").string();
  std::string files = src("validation/data/h100/host_device_micro.json") + " " +
                      src("validation/data/h200/host_device_micro.json");
  // --tolerance 0: no accuracy check, the exit status says only that the run worked.
  auto [rc, out] = run_cli("validate --kernel-transfer " + files + " --source-hw h100 --hw h100 --set hbm_bandwidth=4.8TB/s"
                           " --tolerance 0 --json " + json);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("per class"), std::string::npos) << out;
  EXPECT_NE(out.find("no transfer"), std::string::npos) << out;
  EXPECT_NE(out.find("mul_scalar 1073741824 B/operand"), std::string::npos) << out;
  std::ifstream in(json);
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["kernels"].size(), 70u);
  EXPECT_EQ(j["summary"].size(), 6u);
  EXPECT_EQ(j["target_overrides"][0], "hbm_bandwidth=4.8TB/s");
  // Deterministic: the same output twice.
  std::string again = "validate --kernel-transfer " + files + " --source-hw h100 --hw h100 --set hbm_bandwidth=4.8TB/s --tolerance 0";
  EXPECT_EQ(run_cli(again).second, run_cli(again).second);
  // An accuracy check that cannot pass (0.001%) exits 1 and says which classes missed.
  auto [rc_tol, out_tol] = run_cli("validate --kernel-transfer " + files + " --source-hw h100 --hw h100 --tolerance 0.001");
  EXPECT_EQ(rc_tol, 1) << out_tol;
  EXPECT_NE(out_tol.find("ABOVE TOLERANCE"), std::string::npos) << out_tol;
  // Usage errors: one file, no --hw.
  auto [rc1, out1] = run_cli("validate --kernel-transfer " + src("validation/data/h100/host_device_micro.json") + " --hw h200");
  EXPECT_NE(rc1, 0);
  EXPECT_NE(out1.find("expects two files"), std::string::npos) << out1;
  auto [rc2, out2] = run_cli("validate --kernel-transfer " + files);
  EXPECT_NE(rc2, 0);
  EXPECT_NE(out2.find("--hw"), std::string::npos) << out2;
}

}  // namespace kernel_transfer_test
