// Architecture description and first-principles kernel mapping (hw_models/arch.h, mapping.h):
// knobs move the answer the way silicon does, each dtype runs on its own engine, bad descriptions
// are one error naming the file and the field, and every new preset runs train and replay.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "support/errors.h"
#include "support/first_principles.h"
#include "hw_models/accelerator.h"
#include "hw_models/arch.h"
#include "hw_models/mapping.h"
#include "hw_models/transfer.h"
#include "sim/error.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace arch_test {

using namespace orrery;

namespace {
using syn::error_of;
Accelerator fp(const std::string& name, std::vector<std::string> sets = {}) { return syn::first_principles(name, std::move(sets)); }
const KernelMapper& M(const Accelerator& a) { return *a.mapper; }
const std::vector<std::string> kPresets = {"h100", "h200", "a100", "b200", "mi300x", "tpu-v5p", "dojo-tile"};
}  // namespace

TEST(Arch, DerivedPeaksMatchTheDatasheetFiguresDeclaredApart) {
  for (auto& n : kPresets) {
    Accelerator hw = fp(n);
    const Arch& a = M(hw).arch();
    // units x MACs/clock x 2 x clock, against the preset's datasheet peak_bf16.
    EXPECT_NEAR(a.matrix_peak(Dtype::BF16, a.p("clock_boost")) / hw.p("peak_bf16"), 1.0, 0.02) << n;
  }
}

TEST(Arch, EveryPresetValueNamesItsSource) {
  for (auto& n : kPresets) {
    Accelerator hw = fp(n);
    ASSERT_FALSE(hw.arch_json.empty()) << n;
    for (auto it = hw.arch_json.begin(); it != hw.arch_json.end(); ++it) {
      bool has = it->contains("source") && !(*it)["source"].get<std::string>().empty();
      bool defaulted = !has && arch_params().find(it.key()) && !arch_params().find(it.key())->default_text.empty();
      EXPECT_TRUE(has || defaulted) << n << " " << it.key();
    }
  }
}

TEST(Arch, CalibratedStaysTheDefault) {
  Accelerator cal = load_accelerator("h100");
  EXPECT_EQ(cal.mapper, nullptr);
  Accelerator f = fp("h100");
  ASSERT_NE(f.mapper, nullptr);
  // The fitted elementwise-family factors of the captures do not enter the first-principles model.
  EXPECT_EQ(f.p("strided_elementwise_efficiency"), 1.0);
  EXPECT_NE(cal.gemm_time(4096, 4096, 4096, Dtype::BF16), f.gemm_time(4096, 4096, 4096, Dtype::BF16));
}

TEST(ArchKnobs, DoubleHbmSpeedsMemoryBoundKernelsAndLeavesLargeGemms) {
  Accelerator base = fp("h100"), fast = fp("h100", {"hbm_bandwidth=6.7TB/s"});
  double m0 = M(base).memory(1 << 30).time_s, m1 = M(fast).memory(1 << 30).time_s;
  EXPECT_GT(m0 / m1, 1.8);  // streaming 1 GiB: nearly 2x (the fixed latency is the rest)
  EXPECT_LT(m0 / m1, 2.0);
  double g0 = M(base).gemm(8192, 8192, 8192, Dtype::BF16).time_s, g1 = M(fast).gemm(8192, 8192, 8192, Dtype::BF16).time_s;
  EXPECT_NEAR(g1 / g0, 1.0, 0.01);
  // A skinny GEMM (decode-like, m = 16) is memory-bound and does speed up.
  double s0 = M(base).gemm(16, 8192, 8192, Dtype::BF16).time_s, s1 = M(fast).gemm(16, 8192, 8192, Dtype::BF16).time_s;
  EXPECT_GT(s0 / s1, 1.4);
}

TEST(ArchKnobs, LessSharedMemoryShrinksTilesAndLowersLargeGemmEfficiency) {
  Accelerator base = fp("h100"), half = fp("h100", {"smem_per_unit=113KiB"}), quarter = fp("h100", {"smem_per_unit=56KiB"});
  KernelEstimate b = M(base).gemm(8192, 8192, 8192, Dtype::BF16);
  KernelEstimate h = M(half).gemm(8192, 8192, 8192, Dtype::BF16);
  KernelEstimate q = M(quarter).gemm(8192, 8192, 8192, Dtype::BF16);
  // Half: fewer operand stages for the same tile; quarter: a smaller tile, more L2 traffic, slower.
  EXPECT_LT(h.tile.stages, b.tile.stages);
  EXPECT_LE(h.fraction_of_peak, b.fraction_of_peak);
  EXPECT_LT(double(q.tile.m) * q.tile.n, double(b.tile.m) * b.tile.n);
  EXPECT_GT(q.l2_bytes, b.l2_bytes);
  EXPECT_LT(q.fraction_of_peak, 0.9 * b.fraction_of_peak);
  // A small GEMM is latency-bound with a small tile already: unchanged.
  EXPECT_NEAR(M(quarter).gemm(256, 256, 256, Dtype::BF16).time_s / M(base).gemm(256, 256, 256, Dtype::BF16).time_s, 1.0, 0.1);
}

// Data already in L2 (a microbenchmark replaying its buffers, `kernel memory --warm-l2`) waits
// one L2 round trip before it streams, not an HBM one: l2_latency moves it, hbm_latency does not.
TEST(ArchKnobs, L2ResidentDataWaitsTheL2RoundTrip) {
  auto t = [](std::vector<std::string> sets) { return M(fp("h100", std::move(sets))).memory(1 << 20, 0, true).time_s; };
  double base = t({});
  EXPECT_NEAR(t({"hbm_latency=5us"}), base, 1e-12);
  EXPECT_NEAR(t({"l2_latency=1us"}) - base, 1e-6 - 154e-9, 60e-9);  // (the preset's 154 ns at its clock)
  EXPECT_LT(base, M(fp("h100")).memory(1 << 20).time_s);  // below the same bytes from HBM
}

TEST(ArchKnobs, MoreMatrixThroughputHelpsComputeBoundOnly) {
  Accelerator base = fp("h100"), big = fp("h100", {"mma_bf16=3072"});
  double g0 = M(base).gemm(8192, 8192, 8192, Dtype::BF16).time_s, g1 = M(big).gemm(8192, 8192, 8192, Dtype::BF16).time_s;
  EXPECT_GT(g0 / g1, 1.25);
  EXPECT_LT(g0 / g1, 1.5);
  EXPECT_NEAR(M(big).memory(1 << 30).time_s, M(base).memory(1 << 30).time_s, 1e-12);
}

TEST(ArchKnobs, WaveQuantisation) {
  Accelerator h = fp("h100");
  // 132 (12 x 11) vs 133 (7 x 19) compute-bound tiles of 128x256: one tile more than the 132 units
  // costs a second wave, nearly twice the time for 1% more work.
  Tile t{128, 256, 64, 0, 1};
  double full = M(h).gemm(128 * 12, 256 * 11, 8192, Dtype::BF16, 1, &t).time_s;
  double over = M(h).gemm(128 * 7, 256 * 19, 8192, Dtype::BF16, 1, &t).time_s;
  EXPECT_GT(over / full, 1.8);
  // With the free choice of tile and split-K the mapper softens it.
  double chosen = M(h).gemm(128 * 7, 256 * 19, 8192, Dtype::BF16).time_s;
  EXPECT_LT(chosen, 0.9 * over);
}

TEST(ArchKnobs, SplitKWinsForLongK) {
  Accelerator h = fp("h100");
  KernelEstimate e = M(h).gemm(256, 256, 65536, Dtype::BF16);
  EXPECT_GT(e.tile.split_k, 1);
}

TEST(ArchEngines, EachDtypeOnItsOwnEngine) {
  Accelerator h = fp("h100"), b = fp("b200");
  double bf = M(h).gemm(8192, 8192, 8192, Dtype::BF16).time_s, f8 = M(h).gemm(8192, 8192, 8192, Dtype::FP8).time_s;
  EXPECT_GT(bf / f8, 1.7);  // twice the MACs per clock, half the operand bytes
  EXPECT_LT(bf / f8, 2.1);
  double b8 = M(b).gemm(8192, 8192, 8192, Dtype::FP8).time_s, b4 = M(b).gemm(8192, 8192, 8192, Dtype::FP4).time_s;
  EXPECT_GT(b8 / b4, 1.5);
  EXPECT_EQ(M(b).gemm(8192, 8192, 8192, Dtype::FP4).engine, "matrix fp4");
  // fp32 GEMMs without TF32 run on the vector units.
  EXPECT_EQ(M(h).gemm(4096, 4096, 4096, Dtype::FP32).engine, "vector fp32");
  EXPECT_GT(M(h).gemm(4096, 4096, 4096, Dtype::FP32).time_s, 8 * M(h).gemm(4096, 4096, 4096, Dtype::BF16).time_s);
  // Low precision reaches the engine's own peak, not the bf16 one scaled.
  EXPECT_GT(M(h).gemm(8192, 8192, 8192, Dtype::FP8).peak_flops, 1.9 * M(h).gemm(8192, 8192, 8192, Dtype::BF16).peak_flops);
}

TEST(ArchBadInput, OneLineNamingFileAndField) {
  std::string e = error_of([] { fp("h100", {"sm_count=0"}); });
  EXPECT_NE(e.find("sm_count"), std::string::npos) << e;
  e = error_of([] { M(fp("h100")).gemm(4096, 4096, 4096, Dtype::FP4); });
  EXPECT_NE(e.find("h100.json: arch: mma_fp4"), std::string::npos) << e;
  e = error_of([] {
    Tile t{256, 256, 128, 0, 1};
    M(fp("h100")).gemm(4096, 4096, 4096, Dtype::BF16, 1, &t);
  });
  EXPECT_NE(e.find("h100.json: arch: registers_per_unit"), std::string::npos) << e;
  e = error_of([] {
    Tile t{128, 256, 512, 0, 1};
    M(fp("h100")).gemm(4096, 4096, 4096, Dtype::BF16, 1, &t);
  });
  EXPECT_NE(e.find("h100.json: arch: smem_per_unit"), std::string::npos) << e;
  e = error_of([] { fp("dojo-tile", {"noc_mesh_y=0"}); });
  EXPECT_NE(e.find("dojo-tile.json: arch: noc_mesh_y"), std::string::npos) << e;
  EXPECT_NE(e.find("not connected"), std::string::npos) << e;
  e = error_of([] { fp("dojo-tile", {"noc_mesh_x=10"}); });
  EXPECT_NE(e.find("noc_mesh_x"), std::string::npos) << e;
  e = error_of([] { fp("h100", {"clock_sustained=3GHz"}); });
  EXPECT_NE(e.find("clock_sustained"), std::string::npos) << e;
  e = error_of([] { load_accelerator("h100", {"smem_per_unit=100KiB"}); });  // calibrated mode would ignore it
  EXPECT_NE(e.find("--set: smem_per_unit"), std::string::npos) << e;
  e = error_of([] { fp("h100", {"smem_per_unit=1KiB"}); });
  EXPECT_NE(e.find("smem_per_unit"), std::string::npos) << e;
}

TEST(ArchBadInput, CliSaysOneLine) {
  auto run = [](const std::string& args) {
    std::string out;
    FILE* p = popen((std::string(ORRERY_BINARY) + " " + args + " 2>&1").c_str(), "r");
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    int rc = p ? pclose(p) : -1;
    return std::make_pair(rc, out);
  };
  auto [rc, out] = run("kernel --hw h100 gemm 4096x4096x4096 fp4");
  EXPECT_NE(rc, 0);
  EXPECT_EQ(out, "orrery kernel: error: " + std::string(ORRERY_SOURCE_DIR) +
                     "/hw_models/presets/h100.json: arch: mma_fp4: the chip has no fp4 matrix engine (0 MACs/clock)\n");
  std::tie(rc, out) = run("kernel --hw h100 --json - gemm 8192x8192x8192 bf16");
  EXPECT_EQ(rc, 0);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["bound"], "compute");
  EXPECT_GT(j["time_us"].get<double>(), 1000);
  EXPECT_GT(j["fraction_of_peak"].get<double>(), 0.5);
  EXPECT_LT(j["fraction_of_peak"].get<double>(), 1.0);
  std::tie(rc, out) = run("kernel --hw h100 memory 24MiB --grid 0 --block 5");
  EXPECT_NE(rc, 0);
  EXPECT_EQ(out, "orrery kernel: error: kernel: --grid: --grid and --block go together, each at least 1\n");
  auto t = [&](const std::string& a) { return nlohmann::json::parse(run("kernel --hw h100 --json - memory " + a).second)["time_us"].get<double>(); };
  EXPECT_GT(t("24MiB --grid 8 --block 256"), 3 * t("24MiB"));  // 8 blocks cannot keep the HBM busy
  EXPECT_LT(t("1MiB --write-only"), t("1MiB"));
  // PyTorch's elementwise families: the strided kernel with a dtype switch flips to "issue".
  auto ew = [&](const std::string& a) { return nlohmann::json::parse(run("kernel --hw h100 --json - elementwise 4194304 bf16 " + a).second); };
  EXPECT_EQ(ew("")["bound"], "memory");
  EXPECT_EQ(ew("--family strided --dims 4 --cast")["bound"], "issue");
  EXPECT_GT(ew("--family strided --dims 4")["time_us"].get<double>(), 1.3 * ew("")["time_us"].get<double>());
  std::tie(rc, out) = run("kernel --hw h100 elementwise 4194304 bf16 --cast");
  EXPECT_EQ(out, "orrery kernel: error: kernel: --cast: PyTorch runs dtype casts in the unrolled or strided kernels, not the vectorized one\n");
  std::tie(rc, out) = run("kernel --hw h100 elementwise 4194304 bf16 --family gather");
  EXPECT_EQ(out, "orrery kernel: error: kernel: --family: 'gather': expected vectorized, unrolled, strided or cat\n");
  // PyTorch's reduce_kernel: 16-bit data keeps fewer bytes in flight than fp32, and a grid of
  // several blocks per output adds the global reduction's tail.
  auto red = [&](const std::string& a) { return nlohmann::json::parse(run("kernel --hw h100 --json - reduce 16MiB " + a).second)["time_us"].get<double>(); };
  EXPECT_GT(red("bf16 --grid 1024 --block 128"), red("fp32 --grid 1024 --block 128"));
  EXPECT_GT(red("bf16 --grid 1024 --block 128 --outputs 1024"), red("bf16 --grid 1024 --block 128") + 4);
  std::tie(rc, out) = run("kernel --hw h100 reduce 16MiB bf16 --grid 1024");
  EXPECT_EQ(out, "orrery kernel: error: kernel: --block: reduce needs --grid and --block, each at least 1\n");
  std::tie(rc, out) = run("kernel --hw h100 reduce 16MiB bf16 --grid 1024 --block 128 --vec 32");
  EXPECT_EQ(out, "orrery kernel: error: kernel: --vec: output_vec_size from 1 to 16\n");
}

TEST(ArchPresets, TrainAndRooflineReplayRunOnEveryNewPreset) {
  auto ok = [](const std::string& args) {
    std::string cmd = std::string(ORRERY_BINARY) + " " + args + " > /dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  };
  for (std::string hw : {"b200", "mi300x", "tpu-v5p", "dojo-tile"})
    for (std::string m : {"calibrated", "first-principles"})
      EXPECT_TRUE(ok("replay " + std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/gpt_b --hw " + hw +
                     " --mode roofline --hw-model " + m))
          << hw << " " << m;
  for (std::string sys : {"gb200-nvl72 --tp 8 --dp 9 --global-batch 72", "tpu-v5p-4x4x4 --tp 4 --dp 16 --global-batch 64",
                          "dojo-wafer-5x5 --tp 1 --dp 25 --global-batch 25 --zero 3"})
    for (std::string m : {"calibrated", "first-principles"})
      EXPECT_TRUE(ok("train --model llama3-8b --seq 2048 --micro-batch 1 --system " + sys + " --hw-model " + m)) << sys << " " << m;
}

TEST(ArchMapping, ConvAndAttentionShapes) {
  Accelerator h = fp("h100");
  // A 1x1 convolution is the GEMM (N*H*W) x K x C.
  double c = M(h).conv(32, 256, 56, 56, 256, 1, 1, 1, 0, Dtype::BF16).time_s;
  double g = M(h).gemm(32.0 * 56 * 56, 256, 256, Dtype::BF16).time_s;
  EXPECT_NEAR(c / g, 1.0, 0.05);
  // 3x3: nine times the FLOPs, the input read once from HBM.
  KernelEstimate c3 = M(h).conv(32, 256, 56, 56, 256, 3, 3, 1, 1, Dtype::BF16);
  EXPECT_GT(c3.time_s, 4 * c);
  EXPECT_LT(c3.hbm_bytes, 2.5 * M(h).conv(32, 256, 56, 56, 256, 1, 1, 1, 0, Dtype::BF16).hbm_bytes);
  KernelEstimate a = M(h).attention(512, 4096, 4096, 128, Dtype::BF16, false, false);
  KernelEstimate ac = M(h).attention(512, 4096, 4096, 128, Dtype::BF16, true, false);
  KernelEstimate ab = M(h).attention(512, 4096, 4096, 128, Dtype::BF16, false, true);
  EXPECT_NEAR(ac.time_s / a.time_s, 0.5, 0.05);
  EXPECT_GT(ab.time_s, 2 * a.time_s);
  // Softmax on the SFUs keeps fused attention well below the GEMM fraction of peak.
  EXPECT_LT(a.fraction_of_peak, 0.8 * M(h).gemm(8192, 8192, 8192, Dtype::BF16).fraction_of_peak);
}

namespace {
// Roofline replay of a bundled H100 capture with the first-principles model.
ReplayOptions first_principles_roofline(const std::string& bundle) {
  ReplayOptions o;
  o.bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/" + bundle;
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  o.overrides = {"first_principles=1"};
  return o;
}
}  // namespace

// Out of sample: the captured GEMM kernels of gpt_b from the H100's description alone (no H100
// measurement in the model) are within 10% median (docs/codesign.md has the full table).
TEST(ArchMapping, CapturedGemmKernelsFromTheDescriptionAlone) {
  ReplayOptions o = first_principles_roofline("gpt_b");
  ReplayResult r = replay_bundle(o);
  std::vector<double> err;
  for (auto& k : r.kernels)
    if (k.kernel_class == "gemm" && k.measured_s > 0 && k.bound != "unknown")
      err.push_back(std::abs(k.simulated_s - k.measured_s) / k.measured_s);
  ASSERT_GT(err.size(), 50u);
  std::nth_element(err.begin(), err.begin() + err.size() / 2, err.end());
  EXPECT_LT(err[err.size() / 2], 0.10);
}

// Fused attention of a known shape (replay reads it from the ET op): at equal FLOPs a smaller head
// dim means twice the scores, each with an exp on the SFUs, so it takes longer; more SFU
// throughput helps the head-dim-64 kernel more than the head-dim-128 one.
TEST(ArchMapping, AttentionShapeCarriesHeadDimAndBackward) {
  Accelerator h = fp("h100"), sfu = fp("h100", {"sfu_per_clock=64"});
  AttentionShape s64{64, 2048, 2048, 64, true, false}, s128{32, 2048, 2048, 128, true, false};
  double t64 = h.attention_time(0, 0, Dtype::BF16, &s64), t128 = h.attention_time(0, 0, Dtype::BF16, &s128);
  EXPECT_GT(t64, 1.2 * t128);  // same FLOPs (64 x 64 = 32 x 128 heads x dims)
  double g64 = t64 / sfu.attention_time(0, 0, Dtype::BF16, &s64), g128 = t128 / sfu.attention_time(0, 0, Dtype::BF16, &s128);
  EXPECT_GT(g64, g128);
  EXPECT_GT(g128, 1.0);
  AttentionShape b64 = s64;
  b64.backward = true;
  EXPECT_GT(h.attention_time(0, 0, Dtype::BF16, &b64), 2 * t64);  // five GEMMs against two, exp recomputed
  // Without a shape (flops, bytes only) the old path stays; the calibrated model ignores the shape.
  double f = 4.0 * 64 * 2048 * 2048 * 64 * 0.5;
  EXPECT_GT(h.attention_time(f, 0, Dtype::BF16), 0);
  Accelerator cal = load_accelerator("h100");
  EXPECT_EQ(cal.attention_time(f, 1e8, Dtype::BF16, &s64), cal.attention_time(f, 1e8, Dtype::BF16));
}

// Little's law over the launch: a memory-bound kernel whose grid cannot fill the chip keeps fewer
// loads in flight. Higher memory latency slows the small grid and leaves a full-grid stream (nearly)
// alone; wider loads per thread speed the small grid; a memset (posted stores) pays no round trip.
TEST(ArchKnobs, SmallGridsAreBoundByLoadsInFlight) {
  Accelerator h = fp("h100"), slow = fp("h100", {"hbm_latency=1us"}), wide = fp("h100", {"load_bytes_per_thread=128B"});
  const double bytes = 64e6;
  double full = M(h).memory_launch(bytes, 0, 65536, 128).time_s, small = M(h).memory_launch(bytes, 0, 4, 1024).time_s;
  EXPECT_NEAR(full / M(h).memory(bytes).time_s, 1.0, 1e-9);  // enough threads: the HBM rate binds
  EXPECT_GT(small, 2 * full);
  double small_slow = M(slow).memory_launch(bytes, 0, 4, 1024).time_s;
  double full_slow = M(slow).memory_launch(bytes, 0, 65536, 128).time_s;
  // the in-flight bound scales with latency: every round trip (the overhead's and the rounds') 500 ns longer
  double rounds = 0.5 * bytes / M(h).inflight_bytes(4, 1024);
  EXPECT_NEAR(small_slow - small, rounds * 0.5e-6, 1e-9);
  EXPECT_LT(full_slow / full, 1.05);    // only the one round trip
  // twice the bytes in flight per thread: half the round trips
  EXPECT_NEAR(small - M(wide).memory_launch(bytes, 0, 4, 1024).time_s, 0.5 * rounds * 0.5e-6, 1e-9);
  // Occupancy: a 1024-thread block fits twice per unit, so 264 of them fill 132 units twice over.
  EXPECT_NEAR(M(h).inflight_bytes(264, 1024), 2 * M(h).inflight_bytes(132, 1024), 1.0);
  EXPECT_NEAR(M(h).inflight_bytes(1e6, 1024), M(h).inflight_bytes(264, 1024), 1.0);
  Accelerator few = fp("h100", {"max_threads_per_unit=1024"});
  EXPECT_LT(M(few).inflight_bytes(264, 1024), M(h).inflight_bytes(264, 1024));
  double memset = M(h).memory_launch(1e5, 0, 0, 0, true).time_s, load = M(h).memory_launch(1e5, 0, 0, 0, false).time_s;
  EXPECT_NEAR(load - memset, M(h).arch().p("hbm_latency"), 1e-12);
  // The calibrated curves ignore the launch.
  Accelerator cal = load_accelerator("h100");
  EXPECT_EQ(memory_roof(cal, bytes, 0, 32, 1024).tm, memory_roof(cal, bytes).tm);
  // ... but a memset is nothing their copies measured: its stores are posted, as the description says
  ASSERT_TRUE(cal.arch_mapper);
  EXPECT_EQ(memory_roof(cal, bytes, 0, 0, 0, true).tm, cal.arch_mapper->memory_launch(bytes, 0, 0, 0, true).time_s);
}

// A grid resident in one wave whose threads loop over batches of loads (layer norm backward's
// GammaBetaBackward: 32 blocks of 1024 threads walking all rows; Reduce.cuh's reduce_kernel) starts
// every thread together: each round trip comes before its batch's transfer (added), where a grid of
// more blocks than fit at once overlaps them with other blocks' transfers (the max of the two).
TEST(ArchKnobs, OneWaveLoopingGridsPayRoundTripsBeforeTransfers) {
  Accelerator h = fp("h100");
  const KernelMapper& m = M(h);
  const double bytes = 64e6, lat = m.arch().p("hbm_latency");
  EXPECT_TRUE(m.one_wave(32, 1024));
  EXPECT_TRUE(m.one_wave(264, 1024));   // two 1024-thread blocks per unit
  EXPECT_FALSE(m.one_wave(265, 1024));
  EXPECT_FALSE(m.one_wave(0, 0));       // launch unknown
  KernelEstimate e = m.memory_launch(bytes, 0, 32, 1024);
  double rounds = 0.5 * bytes / m.inflight_bytes(32, 1024) - 1.0;
  // (32 blocks occupy 32 of 132 units: their share of the L2's ports bounds the transfer)
  double port = m.arch().p("l2_port_bandwidth") * 32;
  ASSERT_LT(port, m.hbm_rate());
  EXPECT_NEAR(e.hbm_s, bytes / port + rounds * lat, 1e-12);
  // 265 blocks keep no more bytes in flight than 264 but take two waves: the max form.
  KernelEstimate two = m.memory_launch(bytes, 0, 265, 1024);
  double r2 = 0.5 * bytes / m.inflight_bytes(265, 1024) - 1.0;
  EXPECT_NEAR(two.hbm_s, std::max(bytes / m.hbm_rate(), r2 * lat), 1e-12);
  EXPECT_LT(two.time_s, m.memory_launch(bytes, 0, 264, 1024).time_s);
  // A one-wave grid with a single batch per thread pays no extra round trip, only its transfer
  // through its units' ports.
  EXPECT_NEAR(m.memory_launch(1e5, 0, 32, 1024).time_s - m.memory(1e5).time_s, 1e5 / port - 1e5 / m.hbm_rate(),
              1e-12);
}

// A grid of fewer blocks than units runs on that many units and reaches the L2 through their
// ports alone (the L2's bandwidth is the sum over the units): layer norm backward's
// GammaBetaBackward runs 24 blocks for 768 columns. Its transfer moves with the L2 bandwidth, not
// with HBM's; a grid that covers the chip is not touched.
TEST(ArchKnobs, FewBlockGridsDrawOnTheirUnitsShareOfTheL2) {
  Accelerator h = fp("h100");
  const KernelMapper& m = M(h);
  const double bytes = 50e6;
  EXPECT_EQ(m.units_occupied(24), 24);
  EXPECT_EQ(m.units_occupied(1000), m.arch().units);
  EXPECT_EQ(m.units_occupied(0), 0);
  double few = m.memory_launch(bytes, 0, 24, 1024).time_s;
  EXPECT_GT(few, bytes / (m.arch().onchip_bandwidth() * 24 / m.arch().units));
  // The preset gives each unit its share of the chip's L2 rate.
  EXPECT_NEAR(m.arch().p("l2_port_bandwidth") * m.arch().units / m.arch().onchip_bandwidth(), 1.0, 1e-4);
  Accelerator portx2 = fp("h100", {"l2_port_bandwidth=142.4GB/s"}), hbmx2 = fp("h100", {"hbm_bandwidth=6.7TB/s"});
  EXPECT_LT(M(portx2).memory_launch(bytes, 0, 24, 1024).time_s, 0.8 * few);
  EXPECT_GT(M(hbmx2).memory_launch(bytes, 0, 24, 1024).time_s, 0.99 * few);
  // 1056 blocks of 256 threads cover the chip: the HBM binds, and the L2 knobs do not move it
  Accelerator l2x2 = fp("h100", {"l2_bandwidth=18.8TB/s"});
  EXPECT_EQ(m.memory_launch(bytes, 0, 1056, 256).bound, "memory");
  for (auto* x : {&l2x2, &portx2})
    EXPECT_NEAR(M(*x).memory_launch(bytes, 0, 1056, 256).time_s, m.memory_launch(bytes, 0, 1056, 256).time_s, 1e-12);
}

// The port is a unit's: a chip with more (or fewer) units leaves a grid of 24 blocks as it was, and
// a whole-chip grid of a chip with twice the units still draws at most l2_bandwidth.
TEST(ArchKnobs, UnitCountLeavesFewBlockGridsAlone) {
  const double bytes = 50e6;
  Accelerator base = fp("h100");
  double few = M(base).memory_launch(bytes, 0, 24, 1024).time_s;
  for (const char* sm : {"sm_count=66", "sm_count=264", "sm_count=1000"})
    EXPECT_NEAR(M(fp("h100", {sm})).memory_launch(bytes, 0, 24, 1024).time_s, few, 1e-9 * few) << sm;
  Accelerator twice = fp("h100", {"sm_count=264"});
  EXPECT_NEAR(M(twice).arch().port_bandwidth(264), M(twice).arch().onchip_bandwidth(), 1.0);
  EXPECT_NEAR(M(twice).arch().port_bandwidth(1e6), M(base).arch().onchip_bandwidth(), 1.0);
  // A description without the port (0) splits the L2 over its units.
  Accelerator split = fp("h100", {"l2_port_bandwidth=0B/s"});
  EXPECT_NEAR(M(split).arch().port_bandwidth(24), 9.4e12 * 24 / 132, 1e3);
}

// Back-to-back kernels of one stream are launch_gap apart in the first-principles model (the front
// end retires one grid and starts the next; the kernel's own dispatch is inside its mapped time),
// as kernel_gap is in the calibrated one: a replayed step grows by (kernels - 1) x the gap's change,
// and the gap is not zero.
TEST(ArchLaunch, BackToBackKernelsAreLaunchGapApart) {
  Accelerator h = fp("h100");
  EXPECT_GT(h.p("kernel_gap"), 0);
  EXPECT_DOUBLE_EQ(h.p("kernel_gap"), M(h).arch().p("launch_gap"));
  EXPECT_DOUBLE_EQ(fp("h100", {"launch_gap=3us"}).p("kernel_gap"), 3e-6);
  auto step = [](std::vector<std::string> sets) {
    ReplayOptions o;
    o.bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/mlp_fp32";  // GPU-bound: one stream, no host gaps
    o.mode = ReplayMode::Roofline;
    o.engine = "event";
    o.overrides = std::move(sets);
    o.overrides.push_back("first_principles=1");
    return replay_bundle(o);
  };
  ReplayResult a = step({"launch_gap=0us"}), b = step({"launch_gap=2us"});
  double kernels = static_cast<double>(a.kernels.size());
  ASSERT_GT(kernels, 10);
  EXPECT_NEAR(b.step_time_s - a.step_time_s, (kernels - 1) * 2e-6, 0.25 * kernels * 2e-6);
  // The calibrated model ignores the architecture knob.
  EXPECT_NE(error_of([] { load_accelerator("h100", {"launch_gap=2us"}); }), "");
}

// PyTorch's elementwise kernels pay their load/store path's SIMT instructions (index math, 64-bit
// addresses, the dtype switch) on top of the transfer. Counted from the source: the generic
// strided kernel's offset calculator costs per dimension and per operand, dynamic casting per
// operand, the vectorized kernel amortizes its addresses over 4 elements.
TEST(ArchKnobs, ElementwiseKernelsPayTheirIndexMath) {
  auto launch = [](const char* fam, double dims, bool cast) {
    ElementwiseLaunch l;
    l.family = fam;
    l.numel = 4194304;
    l.dims = dims;
    l.operands = 3;
    l.dynamic_cast_ = cast;
    return l;
  };
  auto ipe = [&](const char* fam, double dims, bool cast) { return elementwise_instructions_per_element(launch(fam, dims, cast)); };
  EXPECT_GT(ipe("strided", 1, false), ipe("unrolled", 1, false));
  EXPECT_GT(ipe("unrolled", 1, false), 2 * ipe("vectorized", 1, false));
  EXPECT_NEAR(ipe("strided", 4, false) - ipe("strided", 1, false), 3 * (4 + 3 + 2), 1e-9);  // divmod + 3 offsets + exit
  EXPECT_NEAR(ipe("unrolled", 1, true) - ipe("unrolled", 1, false), 3 * 8, 1e-9);           // one dtype switch per operand
  EXPECT_EQ(ipe("other", 1, false), 0);

  Accelerator h = fp("h100");
  const double bytes = 4194304.0 * 3 * 2;  // bf16, two inputs and the output
  KernelEstimate vec = M(h).elementwise(launch("vectorized", 1, false), bytes);
  KernelEstimate str = M(h).elementwise(launch("strided", 4, false), bytes);
  KernelEstimate rope = M(h).elementwise(launch("strided", 4, true), bytes);
  EXPECT_EQ(vec.bound, "memory");
  EXPECT_LT(vec.time_s, 1.1 * M(h).memory(bytes).time_s);  // nearly the plain stream
  EXPECT_GT(str.time_s, 1.3 * vec.time_s);
  EXPECT_GT(rope.time_s, str.time_s);
  EXPECT_EQ(rope.bound, "issue");  // the index math and casts outweigh the bytes
  EXPECT_NEAR(rope.time_s - rope.overhead_s, rope.hbm_s + rope.issue_s, 1e-12);

  // Knobs: half the issue rate slows the strided kernel, not the vectorized one; twice the HBM
  // bandwidth speeds the vectorized kernel more than the issue-bound one.
  Accelerator slow = fp("h100", {"simt_issue_per_clock=64"}), fast = fp("h100", {"hbm_bandwidth=6.7TB/s"});
  EXPECT_GT(M(slow).elementwise(launch("strided", 4, true), bytes).time_s, 1.3 * rope.time_s);
  EXPECT_LT(M(slow).elementwise(launch("vectorized", 1, false), bytes).time_s, 1.05 * vec.time_s);
  double gain_vec = vec.time_s / M(fast).elementwise(launch("vectorized", 1, false), bytes).time_s;
  double gain_rope = rope.time_s / M(fast).elementwise(launch("strided", 4, true), bytes).time_s;
  EXPECT_GT(gain_vec, 1.5);
  EXPECT_LT(gain_rope, 0.8 * gain_vec);
  // 0 falls back to the FP32 lanes (the A100 has 64 of them per SM but issues 128 threads per clock).
  Accelerator a = fp("a100"), a0 = fp("a100", {"simt_issue_per_clock=0"});
  EXPECT_NEAR(M(a0).simt_issue_rate() / M(a).simt_issue_rate(), 0.5, 1e-12);
}

// In replay, the first-principles elementwise kernels of llama_s carry the issue time: its strided
// RoPE copies (bf16 x fp32 on 4 dims) are reported "issue"-bound and take longer than their plain
// stream; the calibrated model reports no such bound.
TEST(ArchMapping, ReplayedStridedKernelsAreIssueBound) {
  ReplayOptions o = first_principles_roofline("llama_s");
  ReplayResult fpr = replay_bundle(o);
  o.overrides = {};
  ReplayResult cal = replay_bundle(o);
  int issue = 0, strided_issue = 0;
  for (auto& k : fpr.kernels)
    if (k.bound == "issue") {
      ++issue;
      strided_issue += elementwise_family(k.name) == std::string("strided");
    }
  EXPECT_GT(issue, 10);
  // (the casting copies into the interleaved RoPE halves; the muls that read those halves, one
  // element of two, are bound by the sectors they move: ArchElementwise.TransposedSource...)
  EXPECT_GE(strided_issue, 8);
  // The calibrated curves know bytes only: a kernel is issue-bound there only where the
  // description's instruction bound exceeds the curve's time (replay's calibrated_lower_bounds),
  // so it is issue-bound in the first-principles mapping too.
  ASSERT_EQ(cal.kernels.size(), fpr.kernels.size());
  int cal_issue = 0;
  for (std::size_t i = 0; i < cal.kernels.size(); ++i)
    if (cal.kernels[i].bound == "issue") {
      ++cal_issue;
      EXPECT_EQ(fpr.kernels[i].bound, "issue") << cal.kernels[i].name.str();
    }
  EXPECT_GT(cal_issue, 0);  // (llama_s: the RoPE kernels, strided with 4 dimensions)
}

// PyTorch's reduce_kernel (Reduce.cuh) from its name: output_vec_size and the element of ReduceOp.
TEST(ReduceKernel, ReadsOutputVecAndElementFromItsName) {
  ReduceLaunch r;
  ASSERT_TRUE(parse_reduce_kernel(
      "void at::native::reduce_kernel<128, 4, at::native::ReduceOp<c10::BFloat16, at::native::func_wrapper_t<c10::BFloat16, "
      "at::native::sum_functor<c10::BFloat16, float, c10::BFloat16>::operator()(at::TensorIterator&)::{lambda(float, float)#1}>, "
      "unsigned int, c10::BFloat16, 4, 4> >(at::native::ReduceOp<...>)", r));
  EXPECT_EQ(r.output_vec, 4);
  EXPECT_EQ(r.element_bytes, 2);
  ASSERT_TRUE(parse_reduce_kernel("void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::MeanOps<float, "
                                  "float, float, float>, unsigned int, float, 4, 4> >(...)", r));
  EXPECT_EQ(r.output_vec, 1);
  EXPECT_EQ(r.element_bytes, 4);
  EXPECT_FALSE(parse_reduce_kernel("void at::native::vectorized_elementwise_kernel<4, at::native::AUnaryFunctor<float> >", r));
  // vt0 (4) loads of output_vec_size elements per thread: 32 B for bf16 x 4 outputs, half the
  // elementwise kernels' 64 B; a contiguous fp32 reduction keeps one 16-byte vector in flight.
  EXPECT_EQ(reduce_bytes_per_thread({4, 2, 0}), 32);
  EXPECT_EQ(reduce_bytes_per_thread({1, 4, 0}), 16);
}

// A one-wave reduction grid pays one round trip per batch of loads before the batch streams, and
// all its bytes are loads: each extra row block of `inflight` bytes adds its transfer plus one
// hbm_latency; 16-bit data keeps half the bytes in flight (more rounds) of fp32 at the same bytes.
TEST(ReduceKernel, TimeGrowsWithRowsByTransferPlusRoundTrips) {
  Accelerator h = fp("h100");
  const KernelMapper& m = M(h);
  const double grid = 1024, block = 128;  // gpt_b's bias-gradient sum: 8 x 128 blocks of 32 x 4 threads
  ASSERT_TRUE(m.one_wave(grid, block));
  ReduceLaunch bf16{4, 2, 0}, f32{4, 4, 0};
  double inflight = m.inflight_bytes(grid, block, reduce_bytes_per_thread(bf16));
  EXPECT_NEAR(inflight, grid * block * 32, 1);
  double b1 = 8 * inflight, b2 = 16 * inflight;  // rows doubled
  double t1 = m.reduction(bf16, b1, grid, block).time_s, t2 = m.reduction(bf16, b2, grid, block).time_s;
  double lat = m.arch().p("hbm_latency");
  EXPECT_NEAR(t2 - t1, (b2 - b1) / m.hbm_rate() + 8 * lat, 1e-12);
  // fp32 at the same bytes: twice the bytes per thread in flight, half the rounds
  double tf = m.reduction(f32, b2, grid, block).time_s;
  EXPECT_NEAR(t2 - tf, (16 - 1) * lat - (8 - 1) * lat, 1e-12);
  // a grid of many waves overlaps the round trips with other blocks' transfers
  EXPECT_LT(m.reduction(bf16, b2, 64 * grid, block).time_s, t2);
  // longer latency costs the one-wave reduction one hbm_latency per round
  Accelerator slow = fp("h100", {"hbm_latency=1us"});
  EXPECT_NEAR(M(slow).reduction(bf16, b2, grid, block).time_s - t2, 16 * 0.5e-6, 1e-12);
}

// Rows split over several blocks per output group (ctas_per_output > 1) end in a global
// reduction: the last block of each group fences, takes the semaphore, then reads the group's
// partials one staging load (an L2 round trip) per step: (2 + ctas / warps) x l2_latency after
// the stream. Without the split, no tail.
TEST(ReduceKernel, GlobalReductionAddsASerialL2Tail) {
  Accelerator h = fp("h100");
  const KernelMapper& m = M(h);
  ReduceLaunch r{4, 2, 1024};  // 1024 outputs, 128 per block (32 lanes x 4): 8 groups
  EXPECT_EQ(reduce_ctas_per_output(r, 1024, 128), 128);
  EXPECT_EQ(reduce_tail_round_trips(r, 1024, 128), 2 + 128 / 4);
  EXPECT_EQ(reduce_ctas_per_output(r, 8, 128), 1);
  EXPECT_EQ(reduce_tail_round_trips(r, 8, 128), 0);
  const double bytes = 16e6;
  ReduceLaunch unknown{4, 2, 0};
  double l2 = m.arch().p("l2_latency");
  ASSERT_GT(l2, 0);
  ASSERT_LT(l2, m.arch().p("hbm_latency"));
  EXPECT_NEAR(m.reduction(r, bytes, 1024, 128).time_s - m.reduction(unknown, bytes, 1024, 128).time_s, 34 * l2, 1e-12);
  // twice the blocks per output: twice the staging reads
  ReduceLaunch half{4, 2, 512};
  EXPECT_EQ(reduce_tail_round_trips(half, 1024, 128), 2 + 256 / 4);
  // the tail scales with the L2 latency alone
  Accelerator slow_l2 = fp("h100", {"l2_latency=308ns"});
  EXPECT_NEAR(M(slow_l2).reduction(r, bytes, 1024, 128).time_s - m.reduction(r, bytes, 1024, 128).time_s, 34 * l2, 1e-12);
  // a contiguous reduction (output_vec 1): every thread of the block reads partials
  ReduceLaunch scalar{1, 4, 1};
  EXPECT_EQ(reduce_ctas_per_output(scalar, 528, 512), 528);
  EXPECT_EQ(reduce_tail_round_trips(scalar, 528, 512), 2 + 2);
}

// In replay, the captured bias-gradient sums of gpt_b (reduce_kernel<128, 4> on bf16) are costed
// with their launch: slower than the plain stream of their bytes on the same chip.
TEST(ReduceKernel, ReplayedReductionsUseTheirLaunch) {
  ReplayOptions o = first_principles_roofline("gpt_b");
  ReplayResult r = replay_bundle(o);
  Accelerator h = fp("h100");
  int n = 0;
  for (auto& k : r.kernels) {
    std::string name(k.name);
    if (name.find("reduce_kernel<128, 4, at::native::ReduceOp<c10::BFloat16") == std::string::npos || !(k.bytes > 1e6))
      continue;
    ++n;
    EXPECT_GT(k.simulated_s, M(h).memory(k.bytes).time_s * 1.1) << name;
  }
  EXPECT_GT(n, 10);
}

// Opt-in L2 reuse (l2_reuse=1): a memory-bound op whose inputs earlier kernels left in L2 reads
// them at the L2 rate, so no kernel gets slower and many get faster; a smaller reusable L2
// (more partitions holding copies) credits fewer; off by default.
TEST(ArchMapping, L2ReuseCreditsInputsEarlierKernelsLeft) {
  ReplayOptions o = first_principles_roofline("gpt_b");
  ReplayResult off = replay_bundle(o);
  o.overrides.push_back("l2_reuse=1");
  ReplayResult on = replay_bundle(o);
  o.overrides.push_back("l2_partitions=64");  // 50 MB / 64: under 1 MB reusable
  ReplayResult small = replay_bundle(o);
  ASSERT_EQ(off.kernels.size(), on.kernels.size());
  ASSERT_EQ(off.kernels.size(), small.kernels.size());
  int faster = 0, faster_small = 0;
  for (size_t i = 0; i < off.kernels.size(); ++i) {
    EXPECT_LE(on.kernels[i].simulated_s, off.kernels[i].simulated_s * (1 + 1e-9));
    EXPECT_LE(on.kernels[i].simulated_s, small.kernels[i].simulated_s * (1 + 1e-9));
    faster += on.kernels[i].simulated_s < 0.99 * off.kernels[i].simulated_s;
    faster_small += small.kernels[i].simulated_s < 0.99 * off.kernels[i].simulated_s;
  }
  EXPECT_GT(faster, 100);
  EXPECT_LT(faster_small, faster);
  EXPECT_LT(on.step_time_s, off.step_time_s);
}

// multi_tensor_apply (fused AdamW) runs one block per 64K-element chunk and launches whenever its
// 320 blocks fill up: gpt_b's optimizer op is 12 launches of 320 blocks and one of 180. Each
// launch moves its blocks' share of the op's bytes, not an even 1/13: the 180-block launch is
// predicted about 180/320 of a full one, in both hardware models.
TEST(ReplayOptimizer, MultiTensorApplyLaunchesMoveTheirBlocksShare) {
  for (bool first : {true, false}) {
    ReplayOptions o = first_principles_roofline("gpt_b");
    if (!first) o.overrides = {};
    ReplayResult r = replay_bundle(o);
    double lo = 1e300, hi = 0;
    int n = 0;
    for (auto& k : r.kernels) {
      if (std::string(k.op) != "aten::_fused_adamw_") continue;
      ++n;
      lo = std::min(lo, k.simulated_s);
      hi = std::max(hi, k.simulated_s);
    }
    ASSERT_EQ(n, 13);
    EXPECT_NEAR(lo / hi, 180.0 / 320.0, 0.05) << (first ? "first-principles" : "calibrated");
  }
}

}  // namespace arch_test
