// Roofline kernel models for the CNN and encoder captures of examples/bundles_h200_more/ (real H200
// traces): PyTorch's batch-norm kernels waiting on memory round trips, cuDNN's TF32 convolutions,
// the warp softmax's single pass, and GEMMs whose leading dimensions are not 16 bytes aligned.
// Each assertion is about the model's physics, not a step time fitted to these captures.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "hw_models/transfer.h"
#include "support/errors.h"
#include "support/et_args.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace kernel_models_test {

using namespace orrery;
using orrery::syn::tensor;
using orrery::syn::value;

namespace {
std::string more(const std::string& name) {
  return std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200_more/" + name;
}

ReplayResult roofline(const std::string& b, std::vector<std::string> sets = {}) {
  ReplayOptions o;
  o.bundle = more(b);
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  o.hw = "h200";
  o.overrides = std::move(sets);
  return replay_bundle(o);
}

// The bundle's roofline replay in one hardware model (first-principles or calibrated), and the
// same with twice the H200's HBM bandwidth (9.6 TB/s).
std::pair<ReplayResult, ReplayResult> with_wider_hbm(const std::string& b, bool first_principles) {
  std::vector<std::string> sets = first_principles ? std::vector<std::string>{"first_principles=1"} : std::vector<std::string>{};
  ReplayResult base = roofline(b, sets);
  sets.push_back("hbm_bandwidth=9.6TB/s");
  return {std::move(base), roofline(b, sets)};
}

// The kernels of a bundle whose names hold `name`, with their simulated time in one hardware model,
// after checking that twice the HBM bandwidth leaves each alone (they wait on round trips, not on
// bandwidth). The pointers live as long as the cached replays (one per bundle and model).
std::vector<std::pair<const KernelRow*, double>> unmoved_by_hbm(const std::string& b, bool first_principles,
                                                                const std::string& name) {
  static std::map<std::pair<std::string, bool>, std::pair<ReplayResult, ReplayResult>> cache;
  auto key = std::make_pair(b, first_principles);
  if (!cache.count(key)) cache.emplace(key, with_wider_hbm(b, first_principles));
  const auto& [base, fast] = cache.at(key);
  std::vector<std::pair<const KernelRow*, double>> out;
  for (std::size_t i = 0; i < base.kernels.size(); ++i) {
    const auto& k = base.kernels[i];
    if (k.name.str().find(name) == std::string::npos) continue;
    EXPECT_NEAR(fast.kernels[i].simulated_s / k.simulated_s, 1.0, 0.01) << b << " " << first_principles << " " << name;
    out.emplace_back(&k, k.simulated_s);
  }
  return out;
}

// The bert bundle's kernels whose names `match` (`count` of them) are bound by their instructions
// in both hardware models: each takes more than `over_hbm` times its bytes at the H200's HBM peak,
// and twice the HBM bandwidth speeds it up by less than `speedup`.
void expect_issue_bound_in_bert(const std::function<bool(const std::string&)>& match, double over_hbm, double speedup,
                                int count) {
  for (bool fp : {false, true}) {
    auto [base, fast] = with_wider_hbm("bert", fp);
    int n = 0;
    for (std::size_t i = 0; i < base.kernels.size(); ++i) {
      const auto& k = base.kernels[i];
      if (!match(k.name.str())) continue;
      ++n;
      EXPECT_EQ(k.bound.str(), "issue") << fp << " " << k.name.str();
      EXPECT_GT(k.simulated_s, over_hbm * k.bytes / 4.8e12) << fp;  // (the H200's HBM peak)
      EXPECT_LT(k.simulated_s / fast.kernels[i].simulated_s, speedup) << fp;
    }
    EXPECT_EQ(n, count) << fp;
  }
}

}  // namespace

// NCHW batch norm's statistics kernel runs one block per channel: 64 blocks cannot keep enough
// loads in flight to use HBM, so doubling HBM bandwidth leaves it alone while the ReLUs (many-block
// elementwise kernels) speed up.
TEST(BatchNormKernels, FewBlockStatisticsAreLatencyBoundNotBandwidthBound) {
  ReplayResult base = roofline("resnet50_nchw"), fast = roofline("resnet50_nchw", {"hbm_bandwidth=9.6TB/s"});
  ASSERT_EQ(base.kernels.size(), fast.kernels.size());
  int stats = 0, relu = 0;
  for (std::size_t i = 0; i < base.kernels.size(); ++i) {
    const auto& k = base.kernels[i];
    if (k.name.str().find("batch_norm_collect_statistics_kernel") != std::string::npos && k.simulated_s > 100e-6) {
      ++stats;
      EXPECT_NEAR(fast.kernels[i].simulated_s / k.simulated_s, 1.0, 0.01) << k.name.str();
    }
    if (k.op.str() == "aten::clamp_min" && k.simulated_s > 20e-6) {
      ++relu;
      EXPECT_LT(fast.kernels[i].simulated_s / k.simulated_s, 0.7) << k.name.str();
    }
  }
  EXPECT_GT(stats, 5);
  EXPECT_GT(relu, 5);
}

// Each kernel of a batch-norm op moves its own traffic: the small running-statistics kernel
// beside the two big ones is not handed a third of the op's bytes.
TEST(BatchNormKernels, TheRunningStatisticsKernelIsSmall) {
  ReplayResult r = roofline("resnet50_3");
  int small = 0;
  for (const auto& k : r.kernels)
    if (k.op.str() == "aten::native_batch_norm" && k.name.str().find("elementwise") != std::string::npos) {
      ++small;
      EXPECT_LT(k.simulated_s, 5e-6) << k.name.str();
    }
  EXPECT_EQ(small, 53);  // one per batch norm of ResNet-50
}

// cuDNN runs fp32 convolutions on TF32 tensor cores by default (torch.backends.cudnn.allow_tf32):
// the op says so, and a convolution told otherwise stays fp32.
TEST(Convolution, Fp32RunsOnTf32UnlessTheOpSaysNot) {
  EtOp op;
  op.name = "aten::cudnn_convolution";  // x, w, padding, stride, dilation, groups, benchmark, deterministic, allow_tf32
  op.inputs = {tensor({8, 64, 56, 56}, Dtype::FP32), tensor({64, 64, 3, 3}, Dtype::FP32), value({1, 1}), value({1, 1}),
               value({1, 1}), value(1), value(false), value(false), value(true)};
  EXPECT_EQ(op_work(op).dtype, Dtype::TF32);
  op.inputs[8] = value(false);
  EXPECT_EQ(op_work(op).dtype, Dtype::FP32);
  op.inputs[0] = tensor({8, 64, 56, 56}, Dtype::BF16);
  op.inputs[1] = tensor({64, 64, 3, 3}, Dtype::BF16);
  EXPECT_EQ(op_work(op).dtype, Dtype::BF16);
}

// A GEMM's operands must multiply: mismatched inner sizes (an edited or corrupted capture) are an
// error the replay names with its file and node, not a GEMM of the first operand's inner size.
TEST(GemmShapes, OperandsThatCannotBeMultipliedAreAnError) {
  EtOp op;
  op.name = "aten::mm";
  op.inputs = {tensor({64, 32}, Dtype::BF16), tensor({32, 16}, Dtype::BF16)};
  EXPECT_EQ(op_work(op).k, 32);
  op.inputs[1] = tensor({64, 32}, Dtype::BF16);
  EXPECT_NE(orrery::syn::error_of([&] { op_work(op); }).find("aten::mm: operands [64,32] and [64,32] cannot be multiplied"),
            std::string::npos);
  op.name = "aten::bmm";
  op.inputs = {tensor({4, 64, 32}, Dtype::BF16), tensor({2, 32, 16}, Dtype::BF16)};  // batch 4 against 2
  EXPECT_NE(orrery::syn::error_of([&] { op_work(op); }), "");
  op.name = "aten::linear";  // x [.., in], weight [out, in]
  op.inputs = {tensor({8, 128, 768}, Dtype::BF16), tensor({3072, 768}, Dtype::BF16)};
  EXPECT_EQ(op_work(op).n, 3072);
  op.inputs[1] = tensor({768, 3072}, Dtype::BF16);
  EXPECT_NE(orrery::syn::error_of([&] { op_work(op); }), "");
}

// Rows of at most 1024 elements: the warp softmax reads its input once; longer rows: three passes.
TEST(Softmax, ShortRowsAreReadOnceLongRowsThreeTimes) {
  auto bytes = [](std::int64_t row, bool backward) {
    EtOp op;
    op.name = backward ? "aten::_softmax_backward_data" : "aten::_softmax";
    EtArg x = tensor({64, 512, row}, Dtype::FP32);
    op.inputs = backward ? std::vector<EtArg>{x, x, value(-1), value(6)} : std::vector<EtArg>{x, value(-1), value(false)};
    op.outputs = {x};
    return op_work(op).bytes / (64.0 * 512 * row * 4);
  };
  EXPECT_DOUBLE_EQ(bytes(512, false), 2.0);   // read + write
  EXPECT_DOUBLE_EQ(bytes(4096, false), 4.0);  // max, sum, normalize + write
  EXPECT_DOUBLE_EQ(bytes(512, true), 3.0);    // grad, output, grad_in
  EXPECT_DOUBLE_EQ(bytes(4096, true), 4.0);  // cunn_SoftMaxBackward: grad twice (sum, write pass), output once
}

// sdpa transposes before it calls the kernels' own ops: aten::_flash_attention_* and
// aten::_efficient_attention_* take (batch, seq, heads, head dim), sdpa's and cuDNN's ops (batch,
// heads, seq, head dim). The same causal attention has the same FLOPs whichever op the kernel
// sits under; the mask flag is the first Bool/Int after dropout_p (is_causal, or the efficient
// kernel's custom_mask_type), never compute_log_sumexp before it.
TEST(Attention, KernelOpsTakeBatchSeqHeadsAndTheirOwnMaskFlag) {
  const std::int64_t b = 8, h = 12, sq = 1024, d = 64;
  auto flops = [&](const char* name, bool bshd, std::vector<EtArg> flags) {
    EtOp op;
    op.name = name;
    EtArg q = bshd ? tensor({b, sq, h, d}) : tensor({b, h, sq, d});
    op.inputs = {q, q, q};
    for (auto& f : flags) op.inputs.push_back(f);
    op.outputs = {q};
    return op_work(op).flops;
  };
  const double causal = 4.0 * b * h * sq * sq * d * 0.5;
  auto B = [](bool v) { return value(v, "Bool"); };
  auto I = [](int v) { return value(v, "Int"); };
  auto D = [](double v) { return value(v, "Double"); };
  EtArg none = value(nullptr, "None");
  // sdpa efficient (q, k, v, attn_bias, compute_log_sumexp, dropout_p, is_causal, scale)
  EXPECT_DOUBLE_EQ(flops("aten::_scaled_dot_product_efficient_attention", false, {none, B(true), D(0), B(true), none}), causal);
  EXPECT_DOUBLE_EQ(flops("aten::_scaled_dot_product_efficient_attention", false, {none, B(true), D(0), B(false), none}),
                   2 * causal);  // compute_log_sumexp is not the mask
  // its kernel's op (q, k, v, bias, cu_q, cu_k, max_q, max_k, dropout_p, custom_mask_type, compute_log_sumexp, ...)
  EXPECT_DOUBLE_EQ(flops("aten::_efficient_attention_forward", true,
                         {none, none, none, none, none, D(0), I(1), B(true), none}),
                   causal);
  EXPECT_DOUBLE_EQ(flops("aten::_efficient_attention_forward", true,
                         {none, none, none, none, none, D(0), I(0), B(true), none}),
                   2 * causal);
  // flash's (q, k, v, cum_q, cum_k, max_q, max_k, dropout_p, is_causal, return_debug_mask, scale)
  EXPECT_DOUBLE_EQ(flops("aten::_flash_attention_forward", true, {none, none, I(sq), I(sq), D(0), B(true), B(false), none}),
                   causal);
  // cuDNN's (q, k, v, attn_bias, cum_q, cum_k, max_q, max_k, compute_log_sumexp, dropout_p, is_causal, ...)
  EXPECT_DOUBLE_EQ(flops("aten::_cudnn_attention_forward", false,
                         {none, none, none, I(sq), I(sq), B(true), D(0), B(true), B(false), none}),
                   causal);
}

// Leading dimensions and what they allow: 30522 (BERT's vocabulary) is 2-element aligned, 50257
// (GPT-2's) odd, 768 fine; a convolution over 3 input channels is odd.
TEST(Alignment, FromTheGemmAndConvolutionShapes) {
  auto mm = [](std::int64_t n) {
    EtOp op;
    op.name = "aten::mm";
    op.inputs = {tensor({8192, 768}, Dtype::BF16), tensor({768, n}, Dtype::BF16)};
    return op_work(op).align_elems;
  };
  EXPECT_EQ(mm(30522), 2);
  EXPECT_EQ(mm(50257), 1);
  EXPECT_EQ(mm(50304), 8);
  EtOp conv;
  conv.name = "aten::convolution";
  conv.inputs = {tensor({8, 3, 224, 224}, Dtype::BF16), tensor({64, 3, 7, 7}, Dtype::BF16), value(nullptr),
                 value({2, 2}), value({3, 3}), value({1, 1}), value(false), value({0, 0}), value(1)};
  EXPECT_EQ(op_work(conv).align_elems, 1);
}

// A depthwise convolution (one channel per group) is not an implicit GEMM: cuDNN's direct kernels
// stream x, w and y, so it is a memory-bound op whose time follows HBM, not the tensor cores.
TEST(Convolution, DepthwiseIsMemoryBound) {
  EtOp op;
  op.name = "aten::convolution";
  op.inputs = {tensor({64, 96, 56, 56}, Dtype::BF16), tensor({96, 1, 3, 3}, Dtype::BF16), value(nullptr),
               value({1, 1}), value({1, 1}), value({1, 1}), value(false), value({0, 0}), value(96)};
  OpWork w = op_work(op);
  EXPECT_FALSE(w.matrix);
  EXPECT_EQ(w.model, "conv-depthwise");
  EXPECT_DOUBLE_EQ(w.bytes, 2.0 * (64.0 * 96 * 56 * 56 * 2 + 96 * 9));
  op.inputs[1] = tensor({96, 8, 3, 3}, Dtype::BF16);  // 12 groups of 8 channels: tensor-core tiles again
  op.inputs[8] = value(12);
  EXPECT_TRUE(op_work(op).matrix);
  ReplayResult r = roofline("mobilenet"), fast = roofline("mobilenet", {"hbm_bandwidth=9.6TB/s"});
  int dw = 0;
  for (std::size_t i = 0; i < r.kernels.size(); ++i)
    if (r.kernels[i].name.str().find("conv2d_c1_k1") != std::string::npos) {
      ++dw;
      EXPECT_LT(fast.kernels[i].simulated_s / r.kernels[i].simulated_s, 0.75) << r.kernels[i].name.str();
    }
  EXPECT_GT(dw, 10);
}

// cuDNN's NCHW<->NHWC transforms convert the tensor whose 32 x 32 tiles their grid counts: a
// weight's launch moves the weight (a few us), not the activation beside it. The first
// convolution's 3-channel input fills 3 of each tile's 32 channel rows: its threads keep that
// share of their loads in flight, so it waits on round trips and twice the HBM bandwidth leaves
// it alone, while a 64-channel activation's transform streams at the HBM rate.
TEST(Convolution, LayoutTransformsConvertTheTensorTheirGridTiles) {
  ReplayResult base = roofline("resnet50_nchw"), fast = roofline("resnet50_nchw", {"hbm_bandwidth=9.6TB/s"});
  ASSERT_EQ(base.kernels.size(), fast.kernels.size());
  int small = 0, large = 0, first = -1;
  for (std::size_t i = 0; i < base.kernels.size(); ++i) {
    const auto& k = base.kernels[i];
    if (k.name.str().find("nchwToNhwc") == std::string::npos) continue;
    if (first < 0) first = static_cast<int>(i);
    if (k.bytes < 4e6) {
      ++small;
      EXPECT_LT(k.simulated_s, 4e-6) << i;
    } else if (k.bytes > 40e6 && static_cast<int>(i) != first) {
      ++large;
      EXPECT_LT(fast.kernels[i].simulated_s / k.simulated_s, 0.7) << i;
    }
  }
  EXPECT_GT(small, 20);  // the weights (before, every launch moved the input)
  EXPECT_GT(large, 5);
  ASSERT_GE(first, 0);
  const auto& k0 = base.kernels[static_cast<std::size_t>(first)];
  EXPECT_NEAR(k0.bytes, 2.0 * 64 * 3 * 224 * 224 * 2, 1.0);  // the 64 x 3 x 224 x 224 bf16 input
  EXPECT_GT(fast.kernels[static_cast<std::size_t>(first)].simulated_s / k0.simulated_s, 0.9);
  EXPECT_GT(k0.simulated_s, 3 * k0.bytes / 4.8e12);
}

// cuBLAS's split-K reductions and cuDNN's workspace initialisation are named like GEMM kernels but
// do none of the GEMM's multiply-adds: they stream the output (or nothing), so twice the tensor
// cores leave them alone, and the split-K GEMM they follow carries the whole GEMM's time.
TEST(Convolution, SplitKReductionsAndWorkspaceInitAreNotTheGemm) {
  ReplayResult base = roofline("resnet50_2"), fast = roofline("resnet50_2", {"peak_bf16=1978TFLOP/s"});
  ASSERT_EQ(base.kernels.size(), fast.kernels.size());
  int side = 0, main = 0;
  for (std::size_t i = 0; i < base.kernels.size(); ++i) {
    const std::string n = base.kernels[i].name.str();
    double ratio = fast.kernels[i].simulated_s / base.kernels[i].simulated_s;
    if (n.find("splitKreduce") != std::string::npos || n.find("init_device_workspace") != std::string::npos) {
      ++side;
      EXPECT_NEAR(ratio, 1.0, 1e-9) << n;
      EXPECT_LT(base.kernels[i].simulated_s, 5e-6) << n;
    } else if (n.find("nvjet") != std::string::npos && n.find("splitK") != std::string::npos) {
      EXPECT_LE(ratio, 1.0 + 1e-9) << n;
      if (ratio < 0.9) ++main;  // (the compute-bound ones; the rest stream their operands)
    }
  }
  EXPECT_GT(side, 20);
  EXPECT_GT(main, 5);
}

namespace {

// Replays `bundle` with and without the preset's 2-element alignment slowdown: every GEMM kernel
// named `_align2` takes the slowdown (2.93x), every other GEMM none. Returns how many of each.
std::pair<int, int> align2_gemms(const std::string& bundle) {
  ReplayResult base = roofline(bundle), off = roofline(bundle, {"gemm_align2_slowdown=1"});
  EXPECT_EQ(base.kernels.size(), off.kernels.size());
  int narrow = 0, aligned = 0;
  for (std::size_t i = 0; i < base.kernels.size() && i < off.kernels.size(); ++i) {
    const auto& k = base.kernels[i];
    if (k.kernel_class.str() != "gemm") continue;
    double ratio = k.simulated_s / off.kernels[i].simulated_s;
    bool named = k.name.str().find("_align2") != std::string::npos;
    EXPECT_NEAR(ratio, named ? 2.93 : 1.0, named ? 0.01 : 1e-9) << k.name.str();
    ++(named ? narrow : aligned);
  }
  return {narrow, aligned};
}

}  // namespace

// The encoder's masked-LM head (vocabulary 30522) runs cuBLAS's 2-element-aligned kernels: the
// preset's measured slowdown applies to those GEMMs alone.
TEST(Alignment, MisalignedGemmsTakeThePresetsSlowdownOthersDoNot) {
  EXPECT_EQ(align2_gemms("bert_infer").first, 1);
  // a slowdown of zero is not a what-if: one line naming the parameter
  std::string err = orrery::syn::error_of([] { load_accelerator("h200", {"gemm_align2_slowdown=0"}); });
  EXPECT_NE(err.find("gemm_align2_slowdown: must be greater than zero"), std::string::npos) << err;
}

// cuDNN runs ResNet-50's NCHW 1x1 convolutions at 7 x 7 pixels as GEMMs over the pixels (49 a
// row): every channel count is a multiple of 8, yet the kernel it picks says `align2`. The name's
// alignment takes the preset's slowdown; the aligned kernels of the same capture do not.
TEST(Alignment, TheKernelNameDeclaresANarrowerAlignmentThanTheOp) {
  auto [narrow, aligned] = align2_gemms("resnet50_nchw");
  EXPECT_EQ(narrow, 22);
  EXPECT_GT(aligned, 100);
}

// Calibrated mode, where the curves see bytes only: the encoder's copies of transposed heads
// (PyTorch's strided kernel: index math per element over 4 dimensions TensorIterator cannot merge)
// are bound by their instructions, which do not overlap the transfer, and the key's transpose
// (read across its stride) by its L2 sectors: twice the HBM bandwidth speeds them up far less
// than twice. Its attention-mask add (bf16 scores + an fp32 mask
// broadcast over heads and queries) walks 3 coalesced dimensions (heads and query rows merge):
// fewer instructions than its transfer, so the description's memory bound holds it.
TEST(CalibratedBounds, StridedKernelsAreIssueOrMemoryBoundByTheirDimensions) {
  ReplayResult base = roofline("bert_infer"), fast = roofline("bert_infer", {"hbm_bandwidth=9.6TB/s"});
  int copies = 0, masked = 0, transposed = 0;
  for (std::size_t i = 0; i < base.kernels.size(); ++i) {
    const auto& k = base.kernels[i];
    if (elementwise_family(k.name.str()) != std::string("strided") || k.simulated_s < 10e-6) continue;
    double speedup = k.simulated_s / fast.kernels[i].simulated_s;
    if (k.op.str() == "aten::copy_") {
      ++copies;
      // (issue-bound, or, the key transpose read across its stride, bound by its L2 sectors)
      EXPECT_TRUE(k.bound.str() == "issue" || k.bound.str() == "memory") << k.bound.str();
      transposed += k.bound.str() == "memory";
      EXPECT_LT(speedup, 1.34) << k.name.str();
    } else if (k.op.str() == "aten::add" && k.simulated_s > 50e-6) {
      ++masked;
      EXPECT_EQ(k.bound.str(), "memory") << k.name.str();
    }
  }
  EXPECT_EQ(copies, 48);  // four per layer
  EXPECT_EQ(transposed, 12);  // the key's, one per layer
  EXPECT_EQ(masked, 12);  // one per layer
}

// The encoder's 12 concatenations (aten::cat, 3 dimensions, bf16: CatArrayBatchedCopy<OpaqueType<2u>,
// unsigned int, 3, ...>) copy one element per thread per step and divide twice per element: their
// instructions, not their bytes, bound them, in both hardware models. Twice the HBM bandwidth
// barely moves them; a copy of the same bytes would take a third of their time.
TEST(CalibratedBounds, ConcatenationsAreBoundByTheirDivisions) {
  expect_issue_bound_in_bert([](const std::string& n) { return elementwise_family(n) == std::string("cat"); }, 2.5,
                             1.3, 12);
}

// The encoder's layer-norm forwards (vectorized_layer_norm_kernel, 8192 rows of 768 fp32, one
// 32 x 4 block a row) issue 2280 warp instructions a row (their SASS: Welford updates and block
// reductions): at the description's issue rate that is more than their 50 MB take from the H200's
// HBM, so they are issue-bound and twice the bandwidth leaves them alone, in both hardware models.
TEST(CalibratedBounds, LayerNormForwardIsBoundByItsInstructions) {
  expect_issue_bound_in_bert(
      [](const std::string& n) { return n.find("vectorized_layer_norm_kernel") != std::string::npos; }, 1.3, 1.01, 25);
}

// Layer norm backward's GammaBetaBackward sums 8192 rows per column in 24 blocks (768 columns of
// 32): 24 of the H200's 132 SMs. The calibrated curves measured copies that fill the chip; the
// replay takes at least what the description gives those 24 units (their L2 ports), so the port
// bandwidth moves these kernels and the HBM bandwidth does not, in both hardware models.
TEST(CalibratedBounds, FewBlockGridsTakeTheirUnitsShareOfTheL2) {
  for (bool fp : {false, true}) {
    std::vector<std::string> sets = fp ? std::vector<std::string>{"first_principles=1"} : std::vector<std::string>{};
    auto with = [&](const char* knob) {
      auto s = sets;
      s.push_back(knob);
      return roofline("bert", s);
    };
    ReplayResult base = roofline("bert", sets), hbm = with("hbm_bandwidth=9.6TB/s");
    // (l2_bandwidth is a description parameter: --set takes it with the first-principles model only)
    ReplayResult l2 = fp ? with("l2_port_bandwidth=142.4GB/s") : base;
    int n = 0;
    for (std::size_t i = 0; i < base.kernels.size(); ++i) {
      const auto& k = base.kernels[i];
      if (k.name.str().find("GammaBetaBackward") == std::string::npos) continue;
      ++n;
      EXPECT_GT(k.simulated_s, 0.9 * k.bytes / (9.4e12 * 24 / 132)) << fp;
      if (fp) {
        EXPECT_LT(l2.kernels[i].simulated_s, 0.8 * k.simulated_s);
      }
      EXPECT_GT(hbm.kernels[i].simulated_s, 0.95 * k.simulated_s) << fp;
    }
    EXPECT_EQ(n, 25) << fp;  // 24 layer norms and the final one
  }
}

// --hw-model first-principles is a choice of cost model for the same GPU: the capture's
// measurement still checks it (a --set of a hardware parameter makes a what-if).
TEST(WhatIf, FirstPrinciplesModelIsComparedWithTheMeasurement) {
  ReplayResult fp = roofline("bert_infer", {"first_principles=1"});
  EXPECT_FALSE(fp.what_if) << fp.what_if_reason;
  EXPECT_TRUE(fp.has_measured);
  ReplayResult knob = roofline("bert_infer", {"first_principles=1", "hbm_latency=600ns"});
  EXPECT_TRUE(knob.what_if);
  EXPECT_EQ(knob.what_if_reason, "--set hbm_latency=600ns");
}

// ResNet-50's max pooling (one forward, one backward per step), in both layouts: each thread waits
// on one window load at a time (DilatedMaxPool2d.cu), so in both hardware models the kernels follow
// the memory round trip, not the HBM bandwidth, and the backward, two dependent loads per window
// over four times the elements, takes longer than the forward.
TEST(MaxPool, KernelsWaitOnOneLoadAtATime) {
  for (const char* b : {"resnet50", "resnet50_nchw"}) {
    for (bool fp : {false, true}) {
      std::vector<std::string> sets = fp ? std::vector<std::string>{"first_principles=1"} : std::vector<std::string>{};
      ReplayResult base = roofline(b, sets);
      std::vector<std::string> wide = sets, near = sets;
      wide.push_back("hbm_bandwidth=9.6TB/s");
      ReplayResult fast = roofline(b, wide);
      double fwd = 0, bwd = 0;
      for (std::size_t i = 0; i < base.kernels.size(); ++i) {
        const auto& k = base.kernels[i];
        if (k.name.str().find("max_pool_") == std::string::npos) continue;
        (k.name.str().find("backward") != std::string::npos ? bwd : fwd) = k.simulated_s;
        EXPECT_NEAR(fast.kernels[i].simulated_s / k.simulated_s, 1.0, 0.01) << b << fp;
        EXPECT_GT(k.simulated_s, 2.0 * k.bytes / 4.8e12) << b << fp;  // (the H200's HBM peak)
      }
      ASSERT_GT(fwd, 0) << b << fp;
      EXPECT_GT(bwd, 1.5 * fwd) << b << fp;
      if (!fp) continue;
      near.push_back("hbm_latency=250ns");  // half the description's round trip
      ReplayResult quick = roofline(b, near);
      for (std::size_t i = 0; i < base.kernels.size(); ++i) {
        if (base.kernels[i].name.str().find("max_pool_") == std::string::npos) continue;
        EXPECT_NEAR(quick.kernels[i].simulated_s / base.kernels[i].simulated_s, 0.5, 0.05) << b;
      }
    }
  }
}

// The loss's reductions (LossNLL.cu, reduction mean) run in a single block whose threads walk the
// 8192 frames of the encoder's batch: each loads its target, then the log-probability it picks
// (forward; the backward stores). One block cannot fill HBM: the kernels follow the round trip, and
// the forward, two dependent loads per frame, takes about twice the backward.
TEST(NllLoss, SingleBlockReductionsWaitOnTheirTargets) {
  for (bool fp : {false, true}) {
    double fwd = 0, bwd = 0;
    for (const auto& [k, t] : unmoved_by_hbm("bert", fp, "nll_loss_"))
      (k->op.str() == "aten::nll_loss_backward" ? bwd : fwd) = t;
    ASSERT_GT(bwd, 0) << fp;
    EXPECT_GT(bwd, 8192.0 / 512 * 0.9 * 500e-9) << fp;  // 16 frames per thread, one round trip each
    EXPECT_NEAR(fwd / bwd, 2.0, 0.25) << fp;
  }
}

// Embedding backward's two summing kernels (gpt_a: 9011 x 768 threads for compute_grad_weight, 8192
// x 768 for sum_and_scatter; 56.8 and 57.4 us measured on the H200) wait on 4 and 5 dependent loads
// a thread (their SASS order): at most 2048 threads an SM keep one in flight each, so each takes
// at least its waves of round trips, and twice the HBM bandwidth leaves them alone, in both
// hardware models. Priced by an even share of the op's bytes they came out at 4-5 us. The position
// embedding (1024 indices) runs Embedding.cu's feature kernel instead (28.2 us measured).
TEST(EmbeddingBackward, SummingKernelsWaitOnTheirLoadsInTurn) {
  for (bool fp : {false, true}) {
    double grad = 0, scatter = 0;
    for (const auto& [k, t] : unmoved_by_hbm("gpt_a", fp, "compute_grad_weight")) grad = t;
    for (const auto& [k, t] : unmoved_by_hbm("gpt_a", fp, "sum_and_scatter")) scatter = t;
    const double resident = 132.0 * 2048, latency = 500e-9;
    EXPECT_GT(grad, 9011.0 * 768 / resident * 4 * latency) << fp;
    EXPECT_GT(scatter, 8192.0 * 768 / resident * 5 * latency) << fp;
    // the position embedding's 1024 indices: 24 blocks, every thread 65 waits in turn
    double feature = 0;
    for (const auto& [k, t] : unmoved_by_hbm("gpt_a", fp, "embedding_backward_feature_kernel")) feature = t;
    EXPECT_GT(feature, 65 * latency) << fp;
  }
}

}  // namespace kernel_models_test
