// PyTorch's non-vectorized elementwise kernels on the first-principles model (hw_models/mapping.h
// ElementwiseLaunch): elements per thread from the kernel name, serial loads of the dtype-casting
// and strided paths, their issue time against the chip's issue rate, and the knobs that move them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/first_principles.h"
#include "hw_models/accelerator.h"
#include "hw_models/mapping.h"
#include "hw_models/transfer.h"
#include "workloads/op_cost.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace arch_elementwise_test {

using namespace orrery;

namespace {
ElementwiseLaunch elw_launch(const char* family, double numel, bool cast, double load_bytes, double vt) {
  ElementwiseLaunch l;
  l.family = family;
  l.numel = numel;
  l.dims = 1;
  l.operands = 2;  // a copy: one input, the output
  l.dynamic_cast_ = cast;
  l.load_bytes = load_bytes;
  l.vt = vt;
  return l;
}
std::pair<int, std::string> elw_cli(const std::string& args) {
  std::string out;
  FILE* p = popen((std::string(ORRERY_BINARY) + " " + args + " 2>&1").c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  int rc = p ? pclose(p) : -1;
  return {rc, out};
}
const char* kElwUnrolledCopy =
    "void at::native::unrolled_elementwise_kernel<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)::"
    "{lambda()#3}::operator()() const::{lambda()#7}::operator()() const::{lambda(float)#1}, std::array<char*, 2ul>, 4, "
    "TrivialOffsetCalculator<1, unsigned int>, TrivialOffsetCalculator<1, unsigned int>, at::native::memory::LoadWithCast<1>, "
    "at::native::memory::StoreWithCast<1> >(int, ...)";
}  // namespace

// The template arguments that set a thread's elements: launch_legacy_kernel<128, vt> and
// launch_unrolled_kernel's elems_per_thread; the vectorized kernel's vec_size is not one of them.
TEST(ArchElementwise, ElementsPerThreadFromTheKernelName) {
  EXPECT_EQ(elementwise_vt(kElwUnrolledCopy), 4);
  EXPECT_EQ(elementwise_vt("void at::native::elementwise_kernel<128, 2, at::native::gpu_kernel_impl_nocast<at::native::"
                           "BinaryFunctor<float, float, float, at::native::binary_internal::MulFunctor<float> > >(...)"),
            2);
  EXPECT_EQ(elementwise_vt("void at::native::elementwise_kernel<128, 4, at::native::gpu_kernel_impl<...> >(int, ...)"), 4);
  EXPECT_EQ(elementwise_vt("void at::native::vectorized_elementwise_kernel<8, at::native::bfloat16_copy_kernel_cuda>(...)"), 0);
  EXPECT_EQ(elementwise_vt("void at::native::reduce_kernel<128, 4, at::native::ReduceOp<float> >(...)"), 0);
  EXPECT_EQ(elementwise_vt("void at::native::elementwise_kernel<128, x>"), 0);
}

// fetch_and_cast converts each load inside its switch case and the strided kernel stores each
// element before the next one loads: one element's loads in flight per thread; the unrolled kernel
// without casts loads all its elements first; the vectorized kernel keeps the description's figure.
TEST(ArchElementwise, CastingAndStridedPathsKeepOneElementInFlight) {
  ElementwiseLaunch cast = elw_launch("unrolled", 1024, true, 2, 4), plain = elw_launch("unrolled", 1024, false, 2, 4);
  ElementwiseLaunch strided = elw_launch("strided", 1024, false, 4, 2), vec = elw_launch("vectorized", 1024, false, 2, 0);
  EXPECT_TRUE(elementwise_serial_loads(cast));
  EXPECT_TRUE(elementwise_serial_loads(strided));
  EXPECT_FALSE(elementwise_serial_loads(plain));
  EXPECT_FALSE(elementwise_serial_loads(vec));
  EXPECT_EQ(elementwise_bytes_in_flight(cast), 2);
  EXPECT_EQ(elementwise_bytes_in_flight(strided), 4);
  EXPECT_EQ(elementwise_bytes_in_flight(plain), 8);
  EXPECT_EQ(elementwise_bytes_in_flight(vec), 0);
  EXPECT_EQ(elementwise_bytes_in_flight(elw_launch("unrolled", 1024, true, 0, 4)), 0);  // loads unknown
  // two casting inputs (bf16 x fp32, 6 B per element): one operand's fetch_and_cast at a time, 3 B
  // on average; without casts a strided element's two loads go together (6 B)
  ElementwiseLaunch rope = elw_launch("strided", 1024, true, 6, 4), two = elw_launch("strided", 1024, false, 6, 4);
  rope.operands = two.operands = 3;
  EXPECT_EQ(elementwise_bytes_in_flight(rope), 3);
  EXPECT_EQ(elementwise_bytes_in_flight(two), 6);
}

// A casting copy (bf16 -> fp32 through the unrolled kernel) costs more SIMT issue time per element
// than the same-size vectorized copy, on every chip the description covers.
TEST(ArchElementwise, CastingCopyIssuesMoreThanVectorizedCopy) {
  const double n = 1 << 24;
  for (const char* chip : {"h100", "h200", "b200", "mi300x"}) {
    Accelerator hw = syn::first_principles(chip);
    const KernelMapper& m = *hw.mapper;
    KernelEstimate cast = m.elementwise(elw_launch("unrolled", n, true, 2, 4), n * 6);
    KernelEstimate vec = m.elementwise(elw_launch("vectorized", n, false, 2, 0), n * 6);
    EXPECT_GT(cast.issue_s, 4 * vec.issue_s) << chip;
    EXPECT_GT(cast.time_s, vec.time_s) << chip;
    EXPECT_NEAR(cast.issue_s, n * elementwise_instructions_per_element(elw_launch("unrolled", n, true, 2, 4)) /
                                  m.simt_issue_rate(), 1e-12) << chip;
  }
}

// A small one-wave casting copy pays one round trip per element a thread handles (its loads are
// serial), where the vectorized copy of the same bytes pays one: 2 blocks of 128 threads with 4
// elements each wait 3 more hbm_latency than with 1 element each.
TEST(ArchElementwise, SmallCastingCopyPaysARoundTripPerElement) {
  Accelerator hw = syn::first_principles("h100");
  const KernelMapper& m = *hw.mapper;
  const double grid = 2, block = 128, lat = m.arch().p("hbm_latency");
  ASSERT_TRUE(m.one_wave(grid, block));
  auto t = [&](const char* fam, bool cast, double numel) {
    return m.elementwise(elw_launch(fam, numel, cast, 2, cast ? 4 : 0), numel * 6, grid, block).time_s;
  };
  double one = t("unrolled", true, 256), four = t("unrolled", true, 1024);
  // (2 blocks issue on 2 units and draw on their 2 ports of the L2)
  const double share = grid / m.arch().units, port = m.arch().onchip_bandwidth() * share;
  double issue = (1024 - 256) * elementwise_instructions_per_element(elw_launch("unrolled", 1, true, 2, 4)) /
                 (m.simt_issue_rate() * share);
  // four: its 2 KiB of loads and 3 more round trips (the posted stores drain meanwhile); one: its bytes
  EXPECT_NEAR(four - one, 3 * lat + 1024.0 * 2 / std::min(m.hbm_rate(), port) - 256.0 * 6 / port + issue, 1e-12);
  EXPECT_GT(four - t("vectorized", false, 1024), 2.5 * lat);
}

// Many waves of serial loads: Little's law bounds the stream at one element per resident thread
// per round trip; the issue time hides under those round trips (time = that bound), and where the
// bytes dominate, issue and transfer add (the ECM sum).
TEST(ArchElementwise, ManyWavesTakeTheLargerOfLittlesLawAndTransferPlusIssue) {
  Accelerator hw = syn::first_principles("h100");
  const KernelMapper& m = *hw.mapper;
  const double block = 128, numel = 1 << 26, grid = numel / (4 * block);
  ASSERT_FALSE(m.one_wave(grid, block));
  ElementwiseLaunch l = elw_launch("unrolled", numel, true, 1, 4);  // 1-byte loads in flight (e4m3 -> e5m2)
  double bytes = numel * 2;
  KernelEstimate e = m.elementwise(l, bytes, grid, block);
  double inflight = m.inflight_bytes(grid, block, 1);
  double latency = (numel * 1 / inflight - 1) * m.arch().p("hbm_latency");
  double ecm = bytes / m.hbm_rate() + e.issue_s;
  ASSERT_GT(latency, ecm);
  EXPECT_NEAR(e.time_s - e.overhead_s, latency, 1e-12);
  // the same elements as 8-byte loads (fp64 -> fp32): bytes dominate, issue adds to the transfer
  KernelEstimate wide = m.elementwise(elw_launch("unrolled", numel, true, 8, 4), numel * 12, grid, block);
  EXPECT_NEAR(wide.time_s - wide.overhead_s, numel * 12 / m.hbm_rate() + wide.issue_s, 1e-12);
}

// Knobs: twice the SMs or twice the clock halves the issue time of the casting copy; an HBM-bound
// vectorized copy stays bound by bandwidth (its time moves by less than 5%), and twice the HBM
// bandwidth speeds it up while leaving the casting copy's issue time alone.
TEST(ArchElementwise, IssueTimeScalesWithUnitsAndClockNotBandwidth) {
  const double n = 1 << 26;
  ElementwiseLaunch cast = elw_launch("strided", n, true, 6, 4), vec = elw_launch("vectorized", n, false, 2, 0);
  cast.dims = 4;
  cast.operands = 3;
  Accelerator base = syn::first_principles("h100"), sms = syn::first_principles("h100", {"sm_count=264"}), clock = syn::first_principles("h100", {"clock_boost=3660MHz"});
  Accelerator hbm = syn::first_principles("h100", {"hbm_bandwidth=6.7TB/s"});
  KernelEstimate b = base.mapper->elementwise(cast, n * 8);
  EXPECT_NEAR(sms.mapper->elementwise(cast, n * 8).issue_s, b.issue_s / 2, 1e-12);
  EXPECT_NEAR(clock.mapper->elementwise(cast, n * 8).issue_s, b.issue_s / 2, 1e-12);
  EXPECT_NEAR(hbm.mapper->elementwise(cast, n * 8).issue_s, b.issue_s, 1e-15);
  KernelEstimate v = base.mapper->elementwise(vec, n * 4);
  EXPECT_EQ(v.bound, "memory");
  for (const Accelerator* a : {&sms, &clock}) {
    KernelEstimate f = a->mapper->elementwise(vec, n * 4);
    EXPECT_EQ(f.bound, "memory");
    EXPECT_NEAR(f.time_s / v.time_s, 1, 0.05);
    EXPECT_GT(f.hbm_s, 10 * f.issue_s);
  }
  EXPECT_LT(hbm.mapper->elementwise(vec, n * 4).time_s, 0.6 * v.time_s);
}

// The CLI reaches the launch: a 2-block casting copy of 768 elements is latency-bound and slower
// than the vectorized copy of the same bytes; --grid without --block and --vt 0 are one-line errors.
TEST(ArchElementwise, CliTakesTheLaunch) {
  auto time_of = [](const std::string& a) {
    auto [rc, out] = elw_cli("kernel --hw h100 --json - elementwise 768 fp32 --operands 2 " + a);
    EXPECT_EQ(rc, 0) << out;
    return nlohmann::json::parse(out);
  };
  nlohmann::json cast = time_of("--family unrolled --cast --grid 2 --block 128");
  nlohmann::json vec = time_of("--grid 1 --block 128");
  EXPECT_EQ(cast["bound"], "latency");
  EXPECT_GT(cast["time_us"].get<double>(), vec["time_us"].get<double>() + 0.5);
  EXPECT_GT(cast["time_us"].get<double>(), time_of("--family unrolled --cast --grid 2 --block 128 --vt 1")["time_us"].get<double>() - 1e-9);
  auto [rc, out] = elw_cli("kernel --hw h100 elementwise 768 fp32 --grid 2");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("orrery kernel: error:"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  std::tie(rc, out) = elw_cli("kernel --hw h100 elementwise 768 fp32 --family strided --vt 0");
  EXPECT_NE(out.find("--vt"), std::string::npos) << out;
  // aten::cat's kernel: its divisions make it issue-bound where the vectorized copy streams
  nlohmann::json cat = time_of("--family cat --dims 3 --grid 792 --block 512");
  EXPECT_EQ(cat["bound"], "latency");  // (768 elements: one round trip)
  auto big = [&](const std::string& a) {
    auto [c, o] = elw_cli("kernel --hw h100 --hw-model first-principles --json - elementwise 16777216 bf16 --grid 792 --block 512 " + a);
    EXPECT_EQ(c, 0) << o;
    return nlohmann::json::parse(o);
  };
  EXPECT_EQ(big("--family cat --dims 3")["bound"], "issue");
  EXPECT_GT(big("--family cat --dims 3")["time_us"].get<double>(), 2 * big("--operands 2")["time_us"].get<double>());
  std::tie(rc, out) = elw_cli("kernel --hw h100 elementwise 768 fp32 --family cat --dims 5");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--family: cat"), std::string::npos) << out;
}

// fill_/zero_ run FillFunctor, whose operator() takes no input: the kernel loads nothing, so it
// pays no load round trip (a memset's posted stores), exactly one hbm_latency below the same
// launch with loads; at 4 bytes it costs the dispatch alone.
TEST(ArchElementwise, FillLoadsNothing) {
  Accelerator hw = syn::first_principles("h100");
  const KernelMapper& m = *hw.mapper;
  ElementwiseLaunch fill = elw_launch("vectorized", 1 << 20, false, 0, 0), loaded = fill;
  fill.stores_only = true;
  double bytes = (1 << 20) * 4.0;
  EXPECT_NEAR(m.elementwise(loaded, bytes).time_s - m.elementwise(fill, bytes).time_s, m.arch().p("hbm_latency"), 1e-12);
  fill.numel = 1;
  EXPECT_NEAR(m.elementwise(fill, 4, 1, 128).time_s, m.arch().p("dispatch_latency"), 1e-8);
}

// A 0-dim output (a scalar's zero_/fill_) is a one-element elementwise kernel that reads nothing.
TEST(ArchElementwise, ZeroDimFillIsOneStoredElement) {
  EtArg out;
  out.is_tensor = true;
  out.dtype = Dtype::FP32;
  out.elem_bytes = 4;
  out.numel = 1;
  EtOp fill;
  fill.name = "aten::fill_";
  fill.inputs = {out};
  fill.outputs = {out};
  OpWork w = op_work(fill);
  EXPECT_EQ(w.ew_numel, 1);
  EXPECT_EQ(w.ew_dims, 1);
  EXPECT_EQ(w.in_bytes, 0);
  EXPECT_EQ(w.bytes, 4);
}


// aten::cat's generic kernel (Shape.cu CatArrayBatchedCopy<T, IndexType, Dims, ...>) is its own
// family: one element per thread per step, loaded before the step's store (the strided kernel's
// case), and an integer division per inner dimension on the way to the output offset. Its
// vectorized variant moves 16-byte vectors and is not in the family.
// PyTorch's vectorized layer-norm forward (one 32 x 4 block a row): the counts from its Hopper SASS
// (validation/sass/layer_norm_forward.cu). Every warp pays the Welford reductions over the warp and
// the block (402 instructions); each trip over the row's 4-element vectors adds 112, and trips in
// fours run the compiler's unrolled loops (363 per four). A 768-wide row: warps 0-1 two trips,
// warps 2-3 one; a 1024-wide row: two trips each.
TEST(ArchElementwise, LayerNormForwardRowCountsFollowItsSass) {
  EXPECT_DOUBLE_EQ(layer_norm_forward_warp_instructions(768, 128), 4 * 402 + 6 * 112);
  EXPECT_DOUBLE_EQ(layer_norm_forward_warp_instructions(1024, 128), 4 * 402 + 8 * 112);
  EXPECT_DOUBLE_EQ(layer_norm_forward_warp_instructions(4096, 128), 4 * (402 + 2 * 363));
  // Longer rows cost more, but far less than in proportion: the reductions are a fixed cost.
  double short_row = layer_norm_forward_warp_instructions(768, 128);
  EXPECT_LT(layer_norm_forward_warp_instructions(1536, 128) / short_row, 1.5);
  // One warp a block: no shared-memory level.
  EXPECT_DOUBLE_EQ(layer_norm_forward_warp_instructions(128, 32), 402 - 2 * 50 + 112);
  // Rows PyTorch does not run on the vectorized kernel, and nonsense, give no count.
  EXPECT_EQ(layer_norm_forward_warp_instructions(770, 128), 0);
  EXPECT_EQ(layer_norm_forward_warp_instructions(0, 128), 0);
  EXPECT_EQ(layer_norm_forward_warp_instructions(768, 16), 0);
  EXPECT_EQ(layer_norm_forward_warp_instructions(std::numeric_limits<double>::infinity(), 128), 0);
}

TEST(ArchElementwise, CatKernelDividesOncePerInnerDimension) {
  const std::string generic =
      "void at::native::(anonymous namespace)::CatArrayBatchedCopy<at::native::(anonymous namespace)::OpaqueType<2u>, "
      "unsigned int, 3, 64, 64>(at::native::(anonymous namespace)::OpaqueType<2u>*, ...)";
  const std::string vectorized =
      "void at::native::(anonymous namespace)::CatArrayBatchedCopy_vectorized<at::native::(anonymous namespace)::"
      "OpaqueType<2u>, unsigned int, 3, 64, 64, 16, 8>(char*, ...)";
  EXPECT_STREQ(elementwise_family(generic), "cat");
  EXPECT_STREQ(elementwise_family(vectorized), "");
  EXPECT_EQ(cat_kernel_dims(generic), 3);
  EXPECT_EQ(cat_kernel_dims(vectorized), 0);
  EXPECT_EQ(cat_kernel_dims("void CatArrayBatchedCopy<Opaque<2u, float>, unsigned int, 4, 64, 64>(...)"), 4);
  EXPECT_EQ(cat_kernel_dims("void CatArrayBatchedCopy<T, unsigned int, x>"), 0);
  ElementwiseLaunch cat = elw_launch("cat", 1024, false, 2, 0);
  cat.dims = 3;
  EXPECT_TRUE(elementwise_serial_loads(cat));
  EXPECT_EQ(elementwise_bytes_in_flight(cat), 2);
  double three = elementwise_instructions_per_element(cat);
  cat.dims = 4;
  EXPECT_NEAR(elementwise_instructions_per_element(cat) - three, 20 + 4, 1e-9);  // a division + its index math
  cat.dims = 1;
  EXPECT_NEAR(three - elementwise_instructions_per_element(cat), 2 * 24, 1e-9);
  // the divisions outweigh a strided copy's divmods (IntegerDivider's multiply-shift) at equal dimensions
  ElementwiseLaunch strided = elw_launch("strided", 1024, false, 2, 4);
  strided.dims = 3;
  cat.dims = 3;
  EXPECT_GT(elementwise_instructions_per_element(cat), 1.5 * elementwise_instructions_per_element(strided));
}

// A transposing copy's source, read 2304 bf16 elements apart by neighbouring threads, moves one
// 32-byte L2 sector per element where 2 bytes would do: 30 bytes more per element cross the L2
// ports, and its time grows. While the sectors' other elements are read again before the L2 holds
// too many (512 elements later: a row of the transpose) HBM moves each byte once; a slice that
// never reads them (no reuse) or a reuse distance beyond the L2 moves the sectors from HBM too;
// a strided store's sectors merge in the write-back L2 (HBM writes each once).
// The sector size is the knob: 64-byte sectors move 62 bytes more. A stride of 4 elements moves
// 8 bytes per element.
TEST(ArchElementwise, TransposedSourceMovesASectorPerElement) {
  Accelerator hw = syn::first_principles("h100");
  const KernelMapper& m = *hw.mapper;
  const double n = 1 << 24, bytes = n * 4, block = 128, grid = n / (4 * block);
  ElementwiseLaunch l = elw_launch("strided", n, false, 2, 4);
  l.dims = 4;
  KernelEstimate plain = m.elementwise(l, bytes, grid, block);
  l.strided = {{2304 * 2, 2, 512}};
  KernelEstimate t = m.elementwise(l, bytes, grid, block);
  EXPECT_NEAR(t.l2_bytes, bytes + n * 30, 1);
  EXPECT_NEAR(t.hbm_bytes, plain.hbm_bytes, 1);
  EXPECT_GT(t.time_s, plain.time_s + 0.5 * n * 30 / m.arch().onchip_bandwidth());
  l.strided = {{2304 * 2, 2, 0}};
  EXPECT_NEAR(m.elementwise(l, bytes, grid, block).hbm_bytes, plain.hbm_bytes + n * 30, 1);
  l.strided = {{2304 * 2, 2, 1e9}};  // 32 GB of sectors before the reuse
  EXPECT_NEAR(m.elementwise(l, bytes, grid, block).hbm_bytes, plain.hbm_bytes + n * 30, 1);
  l.strided = {{2304 * 2, 2, 0, true}};  // a strided store: merged in the write-back L2
  KernelEstimate st = m.elementwise(l, bytes, grid, block);
  EXPECT_NEAR(st.l2_bytes, bytes + n * 30, 1);
  EXPECT_NEAR(st.hbm_bytes, plain.hbm_bytes, 1);
  l.strided = {{4 * 2, 2, 2}};
  EXPECT_NEAR(m.elementwise(l, bytes, grid, block).l2_bytes, bytes + n * 6, 1);
  Accelerator wide = syn::first_principles("h100", {"l2_sector_bytes=64B"});
  l.strided = {{2304 * 2, 2, 512}};
  EXPECT_NEAR(wide.mapper->elementwise(l, bytes, grid, block).l2_bytes, bytes + n * 62, 1);
  // the CLI reaches it; only the strided kernel takes it
  auto [rc, out] = elw_cli("kernel --hw h100 --json - elementwise 16777216 bf16 --family strided --operands 2 --dims 4 --in-stride 2304");
  ASSERT_EQ(rc, 0) << out;
  auto [rc0, out0] = elw_cli("kernel --hw h100 --json - elementwise 16777216 bf16 --family strided --operands 2 --dims 4");
  ASSERT_EQ(rc0, 0) << out0;
  EXPECT_GT(nlohmann::json::parse(out)["time_us"].get<double>(), nlohmann::json::parse(out0)["time_us"].get<double>() + 20);
  std::tie(rc, out) = elw_cli("kernel --hw h100 elementwise 1024 bf16 --in-stride 8");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--in-stride: only the strided kernel"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}


// `orrery kernel pool` prices PyTorch's max pooling as it launches it: the round trips, not the
// bytes, bound it (twice the HBM bandwidth leaves it, half the round trip halves it), the backward
// (two dependent loads per window over four times the elements) outlasts the forward, and an NCHW
// backward, whose warps run their longest thread's windows, outlasts the channels-last one.
TEST(ArchPool, MaxPoolingWaitsOnItsRoundTrips) {
  auto time_of = [](const std::string& a) {
    auto [rc, out] = elw_cli("kernel --hw h200 --json - pool 64 64 112 112 3 bf16 --stride 2 --pad 1 " + a);
    EXPECT_EQ(rc, 0) << out;
    nlohmann::json j = nlohmann::json::parse(out);
    EXPECT_EQ(j["bound"], "latency") << a;
    return j["time_us"].get<double>();
  };
  double fwd = time_of(""), bwd = time_of("--backward"), nchw = time_of("--backward --layout nchw");
  EXPECT_GT(fwd, 3 * 48.0);  // more than three times what its 231 MB take at the H200 HBM peak
  EXPECT_NEAR(time_of("--set hbm_bandwidth=9.6TB/s"), fwd, 0.01 * fwd);
  EXPECT_NEAR(time_of("--set hbm_latency=250ns"), fwd / 2, 0.05 * fwd);
  EXPECT_GT(bwd, 1.5 * fwd);
  EXPECT_GT(nchw, 1.2 * bwd);
  EXPECT_NEAR(time_of("--hw-model calibrated"), fwd, 0.05 * fwd);  // the same bound in both models
}

}  // namespace arch_elementwise_test
