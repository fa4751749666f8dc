// Op cost models for op families the four captures do not contain (synthetic ops and bundles built
// from public knowledge of the kernels, not from captures): convolution as implicit GEMM (forward,
// dgrad + wgrad; stride, padding, dilation, groups), batch norm, and impossible conv shapes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/error.h"
#include "support/errors.h"
#include "support/synthetic_bundle.h"
#include "workloads/json_io.h"
#include "support/et_args.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace op_cost_test {

using namespace orrery;
using orrery::syn::tensor;
using orrery::syn::value;
namespace fs = std::filesystem;

namespace {
// aten::convolution(x, w, bias, stride, padding, dilation, transposed, output_padding, groups)
EtOp conv(std::vector<std::int64_t> x, std::vector<std::int64_t> w, int stride, int pad, int dil, int groups) {
  EtOp op;
  op.name = "aten::convolution";
  op.inputs = {tensor(x), tensor(w), value(nullptr, "None"), value({stride, stride}), value({pad, pad}),
               value({dil, dil}), value(false, "Bool"), value({0, 0}), value(groups, "Int")};
  return op;
}
}  // namespace

TEST(Conv, ForwardIsAnImplicitGemmFromShapesStridePadding) {
  // ResNet-50 stem: 7x7/2, pad 3, 3 -> 64 channels, 224x224 -> 112x112, batch 32.
  OpWork w = op_work(conv({32, 3, 224, 224}, {64, 3, 7, 7}, 2, 3, 1, 1));
  ASSERT_TRUE(w.known && w.matrix);
  EXPECT_DOUBLE_EQ(w.m, 32.0 * 112 * 112);
  EXPECT_DOUBLE_EQ(w.n, 64);
  EXPECT_DOUBLE_EQ(w.k, 3.0 * 49);
  EXPECT_DOUBLE_EQ(w.flops, 2.0 * 32 * 112 * 112 * 64 * 3 * 49);
  // bytes: x + w + y in bf16
  EXPECT_DOUBLE_EQ(w.bytes, 2.0 * (32.0 * 3 * 224 * 224 + 64 * 3 * 49 + 32.0 * 64 * 112 * 112));
}

TEST(Conv, GroupsAndDilationChangeTheWork) {
  // Depthwise 3x3 (groups = channels): K = 9 taps per group, one output channel per group; a
  // direct, memory-bound kernel (kernel_models_test.cpp), not tensor-core GEMMs.
  OpWork dw = op_work(conv({8, 256, 56, 56}, {256, 1, 3, 3}, 1, 1, 1, 256));
  EXPECT_DOUBLE_EQ(dw.flops, 2.0 * 8 * 56 * 56 * 256 * 9);
  EXPECT_FALSE(dw.matrix);
  // Dilation 2 with padding 2 keeps 56x56; the FLOPs are those of a 3x3 filter.
  OpWork dil = op_work(conv({8, 64, 56, 56}, {64, 64, 3, 3}, 1, 2, 2, 1));
  EXPECT_DOUBLE_EQ(dil.m, 8.0 * 56 * 56);
  EXPECT_DOUBLE_EQ(dil.flops, 2.0 * 8 * 56 * 56 * 64 * 64 * 9);
}

TEST(Conv, BackwardCountsDgradAndWgradAsTheOutputMaskSays) {
  EtOp f = conv({16, 64, 56, 56}, {128, 64, 3, 3}, 1, 1, 1, 1);
  EtOp b;
  b.name = "aten::convolution_backward";
  b.inputs = {tensor({16, 128, 56, 56}), f.inputs[0], f.inputs[1], value({128}), value({1, 1}), value({1, 1}),
              value({1, 1}), value(false, "Bool"), value({0, 0}), value(1, "Int"), value({true, true, true}, "GenericList[Bool,Bool,Bool]")};
  double fwd = op_work(f).flops;
  EXPECT_DOUBLE_EQ(op_work(b).flops, 2 * fwd);
  b.inputs[10] = value({false, true, true}, "GenericList[Bool,Bool,Bool]");  // first layer: no dgrad
  EXPECT_DOUBLE_EQ(op_work(b).flops, fwd);
}

TEST(Conv, ImpossibleShapesThrowWhatIsWrong) {
  auto err = [](const EtOp& op) { return orrery::syn::error_of([&] { op_work(op); }); };
  EXPECT_NE(err(conv({8, 64, 56, 56}, {64, 32, 3, 3}, 1, 1, 1, 1)).find("channels must equal"), std::string::npos);
  EXPECT_NE(err(conv({8, 64, 4, 4}, {64, 64, 7, 7}, 1, 0, 1, 1)).find("does not fit input 4"), std::string::npos);
  EXPECT_NE(err(conv({8, 64, 56, 56}, {64, 64, 3, 3}, 0, 1, 1, 1)).find("stride"), std::string::npos);
  EXPECT_NE(err(conv({8, 64, 56}, {64, 64, 3, 3}, 1, 1, 1, 1)).find("do not make a convolution"), std::string::npos);
}

// Embedding backward's summing kernels are priced by their dependent loads, one element per
// launched thread (the launch covers every index: the segments' upper bound); each moves the
// gradient rows one way and their fp32 partial sums the other, not the op's whole weight gradient.
TEST(EmbeddingBackward, SummingKernelsAreSerialPerLaunchedThread) {
  EtOp b;
  b.name = "aten::embedding_dense_backward";
  b.inputs = {tensor({8, 1024, 768}, Dtype::FP32), tensor({8, 1024}, Dtype::I64), value(50304, "Int"),
              value(-1, "Int"), value(false, "Bool")};
  b.outputs = {tensor({50304, 768}, Dtype::FP32)};
  OpWork w = op_work(b);
  ASSERT_TRUE(w.known);
  EXPECT_EQ(w.serial.kernel, "compute_grad_weight");
  EXPECT_EQ(w.serial.kernel2, "sum_and_scatter");
  EXPECT_DOUBLE_EQ(w.serial.loads, 4);
  EXPECT_DOUBLE_EQ(w.serial.loads2, 5);
  EXPECT_TRUE(w.serial.per_launched_thread);
  EXPECT_DOUBLE_EQ(w.serial.bytes, 8.0 * 1024 * 768 * (4 + 4));  // fp32 rows in, fp32 partial sums out
  EXPECT_GT(w.bytes, 3 * w.serial.bytes);  // (the op's bytes hold the 50304-row weight gradient)
  // A position embedding (1024 indices, no scale_grad_by_freq) runs Embedding.cu's feature kernel:
  // 32 chunks of 32 indices, two waits each, and one batch of indices.
  b.inputs = {tensor({1024, 768}, Dtype::FP32), tensor({1024}, Dtype::I64), value(1024, "Int"), value(-1, "Int"),
              value(false, "Bool")};
  b.outputs = {tensor({1024, 768}, Dtype::FP32)};
  OpWork pos = op_work(b);
  EXPECT_EQ(pos.serial.kernel, "embedding_backward_feature_kernel");
  EXPECT_TRUE(pos.serial.kernel2.empty());
  EXPECT_DOUBLE_EQ(pos.serial.loads, 2 * 32 + 1);
  EXPECT_TRUE(pos.serial.per_launched_thread);
  b.inputs[4] = value(true, "Bool");  // scale_grad_by_freq takes the sorting path whatever the count
  EXPECT_EQ(op_work(b).serial.kernel, "compute_grad_weight");
}

// ResNet's stem pool, 3x3 stride 2 padding 1 on 112 x 112: DilatedMaxPool2d.cu's loop bounds give
// 3 taps per output along a dimension except the first (2), and each input position lies in 1 or 2
// windows (alternately); the backward waits on the index, then on dy: two loads per window.
TEST(MaxPool, WindowLoopsFollowTheKernelsBounds) {
  EtOp f;
  f.name = "aten::max_pool2d_with_indices";
  f.inputs = {tensor({2, 3, 112, 112}), value({3, 3}), value({2, 2}), value({1, 1}), value({1, 1}), value(false, "Bool")};
  f.outputs = {tensor({2, 3, 56, 56}), tensor({2, 3, 56, 56}, Dtype::I64)};
  OpWork fw = op_work(f);
  ASSERT_TRUE(fw.known);
  EXPECT_EQ(fw.model, "max_pool-fwd");
  EXPECT_DOUBLE_EQ(fw.serial.elems, 2.0 * 3 * 56 * 56);
  double taps = (2.0 + 55 * 3) / 56;
  EXPECT_NEAR(fw.serial.loads, taps * taps, 1e-9);
  EXPECT_GE(fw.serial.loads_warp, fw.serial.loads);
  // x read, y and its int64 indices written
  EXPECT_DOUBLE_EQ(fw.bytes, 2.0 * 2 * 3 * 112 * 112 + (2.0 + 8.0) * 2 * 3 * 56 * 56);

  EtOp b;
  b.name = "aten::max_pool2d_with_indices_backward";
  b.inputs = {tensor({2, 3, 56, 56}), tensor({2, 3, 112, 112}), value({3, 3}), value({2, 2}), value({1, 1}),
              value({1, 1}), value(false, "Bool"), tensor({2, 3, 56, 56}, Dtype::I64)};
  b.outputs = {tensor({2, 3, 112, 112})};
  OpWork bw = op_work(b);
  ASSERT_TRUE(bw.known);
  EXPECT_DOUBLE_EQ(bw.serial.elems, 2.0 * 3 * 112 * 112);
  double windows = (56 * 1.0 + 55 * 2.0 + 1.0) / 112;  // even positions 1, odd 2, the last odd 1
  EXPECT_NEAR(bw.serial.loads, 2 * windows * windows, 1e-9);
  // a warp of 32 consecutive width positions holds both parities: it runs 2 windows across
  EXPECT_NEAR(bw.serial.loads_warp, 2 * windows * 2, 0.3);
  // dy and the indices read, dx written; the forward's input (an argument) is not read
  EXPECT_DOUBLE_EQ(bw.bytes, (2.0 + 8.0) * 2 * 3 * 56 * 56 + 2.0 * 2 * 3 * 112 * 112);

  f.inputs[1] = value({0, 3});
  EXPECT_NE(orrery::syn::error_of([&] { op_work(f); }).find("kernel_size"), std::string::npos);
}

// Windows the stem pool does not have: dilation skips input positions (a 2 x 2 window of dilation 3
// on 8 x 8, stride 2: 3 x 3 outputs, each window fully inside, 4 taps), ceil_mode's extra output
// row reaches past the input (fewer taps there), and an unbatched C x H x W input.
TEST(MaxPool, DilationCeilModeAndUnbatchedInputs) {
  auto pool = [](std::vector<std::int64_t> x, std::vector<std::int64_t> y, int k, int s, int p, int d) {
    EtOp f;
    f.name = "aten::max_pool2d_with_indices";
    f.inputs = {tensor(x), value({k, k}), value({s, s}), value({p, p}), value({d, d}), value(false, "Bool")};
    f.outputs = {tensor(y), tensor(y, Dtype::I64)};
    return op_work(f);
  };
  OpWork dil = pool({1, 4, 8, 8}, {1, 4, 3, 3}, 2, 2, 0, 3);  // taps at 0 and 3: windows 0-3, 2-5, 4-7
  EXPECT_NEAR(dil.serial.loads, 4.0, 1e-9);
  OpWork ceil = pool({1, 4, 8, 8}, {1, 4, 4, 4}, 3, 2, 0, 1);  // ceil_mode: the 4th window holds 2 of 3 rows
  EXPECT_NEAR(ceil.serial.loads, std::pow((3.0 * 3 + 2) / 4, 2), 1e-9);
  OpWork unbatched = pool({16, 56, 56}, {16, 28, 28}, 2, 2, 0, 1);
  EXPECT_DOUBLE_EQ(unbatched.serial.elems, 16.0 * 28 * 28);
  EXPECT_NEAR(unbatched.serial.loads, 4.0, 1e-9);
}

TEST(BatchNorm, TrainingReadsTheInputTwiceEvalOnce) {
  EtOp bn;
  bn.name = "aten::cudnn_batch_norm";
  EtArg x = tensor({32, 256, 56, 56});
  bn.inputs = {x, tensor({256}), tensor({256}), tensor({256}), tensor({256}), value(true, "Bool")};
  bn.outputs = {x};
  OpWork train = op_work(bn);
  bn.inputs[5] = value(false, "Bool");
  OpWork eval = op_work(bn);
  double xb = 2.0 * 32 * 256 * 56 * 56;
  EXPECT_NEAR(train.bytes - eval.bytes, xb, 1.0);
  EXPECT_EQ(train.model, "batch_norm-train");
}

// A synthetic bundle (built here, not captured) whose convolution has impossible shapes: the replay
// ends in one line naming the ET file and the node.
TEST(BadInput, ConvWithImpossibleShapesNamesFileAndNode) {
  fs::path dir = fs::temp_directory_path() / "orrery_conv_bad";
  fs::remove_all(dir);
  syn::SynOp op;
  op.name = "aten::convolution";
  op.kernels = {syn::SynKernel{"sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc", 7, 50, 264}};
  syn::write_synthetic_bundle(dir.string(), {op});
  nlohmann::json et = read_json_file((dir / "et.json").string());
  for (auto& n : et["nodes"])
    if (n["name"] == "aten::convolution") {
      auto t = [](std::int64_t id, std::vector<std::int64_t> s) {
        std::int64_t ne = 1;
        for (auto d : s) ne *= d;
        return nlohmann::json::array({id, id, 0, ne, 2, "cuda:0"});
      };
      n["inputs"]["values"] = {t(900, {8, 64, 56, 56}), t(901, {64, 32, 3, 3}), nullptr, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1};
      n["inputs"]["shapes"] = {{8, 64, 56, 56}, {64, 32, 3, 3}, {}, {}, {}, {}, {}, {}, {}};
      n["inputs"]["types"] = {"Tensor(c10::BFloat16)", "Tensor(c10::BFloat16)", "None", "GenericList[Int,Int]",
                              "GenericList[Int,Int]", "GenericList[Int,Int]", "Bool", "GenericList[Int,Int]", "Int"};
    }
  write_json_file((dir / "et.json").string(), et);
  ReplayOptions o;
  o.bundle = dir.string();
  o.engine = "event";
  o.mode = ReplayMode::Roofline;
  std::string e = syn::error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("et.json: node "), std::string::npos) << e;
  EXPECT_NE(e.find("(aten::convolution)"), std::string::npos) << e;
  EXPECT_NE(e.find("channels must equal"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  fs::remove_all(dir);
}

// torch.compile: Triton kernels are classed by their inductor prefix and costed from the region's
// buffers; one launched outside any op region cannot be costed in roofline mode (synthetic bundle).
TEST(Triton, KernelsAreClassedByPrefixAndCostedFromTheirRegion) {
  EXPECT_EQ(classify_kernel("triton_poi_fused_add_mul_0", "", DevKind::Kernel), "elementwise");
  EXPECT_EQ(classify_kernel("triton_red_fused_native_layer_norm_1", "", DevKind::Kernel), "reduction");
  EXPECT_EQ(classify_kernel("triton_per_fused_softmax_2", "", DevKind::Kernel), "reduction");
  EXPECT_EQ(classify_kernel("triton_tem_fused_mm_3", "", DevKind::Kernel), "gemm");
  fs::path dir = fs::temp_directory_path() / "orrery_triton_region";
  fs::remove_all(dir);
  syn::SynOp op;
  op.name = "CompiledFunction";
  op.n_inputs = 2;
  op.shape = {4096, 4096};
  op.kernels = {syn::SynKernel{"triton_poi_fused_add_mul_0", 7, 40, 8192}};
  syn::write_synthetic_bundle(dir.string(), {op});
  ReplayOptions o;
  o.bundle = dir.string();
  o.engine = "event";
  o.mode = ReplayMode::Roofline;
  ReplayResult r = replay_bundle(o);
  ASSERT_EQ(r.kernels.size(), 1u);
  EXPECT_EQ(r.kernels[0].kernel_class, "elementwise");
  EXPECT_EQ(r.kernels[0].bound, "memory");
  EXPECT_DOUBLE_EQ(r.kernels[0].bytes, 3.0 * 4096 * 4096 * 4);  // two inputs + one output, fp32
  // The same launch with no op around it (its External id matches nothing).
  nlohmann::json k = read_json_file((dir / "kineto.json").string());
  for (auto& e : k["traceEvents"])
    if (e.value("cat", "") == "cuda_runtime") e["args"]["External id"] = 987654;
  write_json_file((dir / "kineto.json").string(), k);
  std::string e = syn::error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("kineto.json: kernel triton_poi_fused_add_mul_0"), std::string::npos) << e;
  EXPECT_NE(e.find("outside any ET op region"), std::string::npos) << e;
  o.mode = ReplayMode::Measured;
  EXPECT_NO_THROW(replay_bundle(o));
  fs::remove_all(dir);
}

// aten::native_layer_norm_backward(grad_out, input, normalized_shape, mean, rstd, weight, bias,
// output_mask) runs two kernels that each stream dY and X (grad input; gamma/beta): dY and X count
// twice, the small per-row statistics and dX once. The count follows the tensors, not a factor.
TEST(LayerNormBackward, BothKernelsReadDyAndX) {
  EtOp ln;
  ln.name = "aten::native_layer_norm_backward";
  EtArg dy = tensor({8, 1024, 768}, Dtype::FP32), x = tensor({8, 1024, 768}, Dtype::FP32);
  EtArg stat = tensor({8, 1024, 1}, Dtype::FP32), g = tensor({768}, Dtype::FP32);
  ln.inputs = {dy, x, value({768}), stat, stat, g, g, value({true, true, true}, "GenericList[Bool,Bool,Bool]")};
  ln.outputs = {tensor({8, 1024, 768}, Dtype::FP32), g, g};
  OpWork w = op_work(ln);
  double big = 4.0 * 8 * 1024 * 768, small = 2 * 4.0 * 8 * 1024 + 4 * 4.0 * 768;
  EXPECT_NEAR(w.bytes, 5 * big + small, 1.0);  // dY, X twice; dX once
  EXPECT_EQ(w.model, "layer_norm-bwd");
  // Twice the rows: twice the bytes (no constant in it).
  ln.inputs[0] = ln.inputs[1] = ln.outputs[0] = tensor({16, 1024, 768}, Dtype::FP32);
  EXPECT_NEAR(op_work(ln).bytes - w.bytes, 5 * big, 1.0);
  // The forward still reads X once.
  EtOp fwd;
  fwd.name = "aten::native_layer_norm";
  fwd.inputs = {x, value({768}), g, g};
  fwd.outputs = {x, stat, stat};
  EXPECT_NEAR(op_work(fwd).bytes, 2 * big + 2 * 4.0 * 768 + 2 * 4.0 * 8 * 1024, 1.0);
}

// SoftMax.cu's shared-memory variants (cunn_SoftMaxForwardSmem, cunn_SoftMaxBackwardSmem), which
// the kernel's name says, read each input once; the block kernels keep their passes (kernel
// models test: Softmax.ShortRowsAreReadOnceLongRowsThreeTimes), the warp kernels (rows of at most
// 1024) read once whatever the name.
TEST(Softmax, SharedMemoryKernelsReadTheRowOnce) {
  EtArg big = tensor({8192, 50304}, Dtype::FP32);
  double b = 4.0 * 8192 * 50304;
  EtOp fwd;
  fwd.name = "aten::_log_softmax";
  fwd.inputs = {big, value(1, "Int"), value(false, "Bool")};
  fwd.outputs = {big};
  EtOp bwd;
  bwd.name = "aten::_log_softmax_backward_data";
  bwd.inputs = {big, big, value(1, "Int"), value(6, "Int")};
  bwd.outputs = {big};
  OpWork w = op_work(bwd);
  softmax_kernel_bytes(w, "void at::native::(anonymous namespace)::cunn_SoftMaxBackward<4, float, float, float, "
                          "at::native::(anonymous namespace)::LogSoftMaxBackwardEpilogue>(float*, float const*, float const*, long)");
  EXPECT_NEAR(w.bytes, 4 * b, 1.0);
  softmax_kernel_bytes(w, "void at::native::(anonymous namespace)::cunn_SoftMaxBackwardSmem<4, float, float, float, "
                          "at::native::(anonymous namespace)::SoftMaxBackwardEpilogue>(float*, float const*, float const*, long)");
  EXPECT_NEAR(w.bytes, 3 * b, 1.0);
  OpWork f = op_work(fwd);
  EXPECT_NEAR(f.bytes, 4 * b, 1.0);
  softmax_kernel_bytes(f, "void at::native::(anonymous namespace)::cunn_SoftMaxForwardSmem<4, float, float, float, "
                          "at::native::(anonymous namespace)::SoftMaxForwardEpilogue, int>(float*, float const*, int, unsigned long)");
  EXPECT_NEAR(f.bytes, 2 * b, 1.0);
  EtArg small = tensor({64, 16, 512, 512}, Dtype::BF16);
  double s = 2.0 * 64 * 16 * 512 * 512;
  bwd.inputs = {small, small, value(-1, "Int"), value(15, "Int")};
  bwd.outputs = {small};
  w = op_work(bwd);
  softmax_kernel_bytes(w, "cunn_SoftMaxBackwardSmem<8, c10::BFloat16>");
  EXPECT_NEAR(w.bytes, 3 * s, 1.0);
}

// The attention backward accumulates dQ in fp32 and a conversion kernel (cuDNN's
// convert_dq_to_16bits, FlashAttention's convert_dq) reads that accumulator and writes dQ in q's
// dtype: 4 + 2 bytes per bf16 element, not the 2 + 2 of two q-sized 16-bit tensors. The forward
// has no such kernel.
TEST(AttentionBackward, DqConversionReadsAndPreprocessingZeroesTheFp32Accumulator) {
  EtOp bwd;
  bwd.name = "aten::_cudnn_attention_backward";
  EtArg q = tensor({4, 16, 2048, 64});
  bwd.inputs = {q, q, q, q, q, value(true, "Bool")};  // grad_out, q, k, v, out, causal
  bwd.outputs = {q, q, q};
  OpWork w = op_work(bwd);
  double n = 4.0 * 16 * 2048 * 64;
  EXPECT_NEAR(w.dq_convert_bytes, n * (4 + 2), 1.0);
  EXPECT_GT(w.dq_convert_bytes, w.side_bytes);
  // The preprocessing kernel before it (FlashAttention-2's compute_dot_do_o with Clear_dQaccum,
  // cuDNN's compute_dot_do_o_specialized) reads dO and O, writes one fp32 row sum per row of 64,
  // and zeroes that accumulator: 2 + 2 + 4 bytes per element, not two q-sized tensors.
  EXPECT_NEAR(w.dot_do_o_bytes, n * (2 + 2 + 4) + 4 * n / 64, 1.0);
  EXPECT_NEAR(w.dot_do_o_bytes / w.side_bytes, 2.0, 0.05);
  EtOp fwd = bwd;
  fwd.name = "aten::_cudnn_attention_forward";
  EXPECT_EQ(op_work(fwd).dq_convert_bytes, 0);
  EXPECT_EQ(op_work(fwd).dot_do_o_bytes, 0);
  // fp32 q: the accumulator is as wide as q, 4 + 4 bytes.
  bwd.inputs[1] = tensor({4, 16, 2048, 64}, Dtype::FP32);
  EXPECT_NEAR(op_work(bwd).dq_convert_bytes, n * 8, 1.0);
}

// A memory-bound op carries what PyTorch's elementwise kernel sees: output elements, the output's
// dimensions of size > 1, tensor operands including the output (0-dim tensors are scalars the
// functor captures; copy_'s output is its first input) and whether the dtypes differ.
TEST(ElementwiseShape, OperandsDimsAndCasts) {
  EtOp mul;
  mul.name = "aten::mul";
  mul.inputs = {tensor({2, 16, 2048, 64}), tensor({2048, 64}, Dtype::FP32)};
  mul.outputs = {tensor({2, 16, 2048, 64}, Dtype::FP32)};
  OpWork w = op_work(mul);
  EXPECT_EQ(w.ew_numel, 2.0 * 16 * 2048 * 64);
  EXPECT_EQ(w.ew_dims, 4);
  EXPECT_EQ(w.ew_operands, 3);
  EXPECT_TRUE(w.ew_mixed_dtypes);
  EtOp scal;
  scal.name = "aten::mul";
  scal.inputs = {tensor({2, 2048, 1}, Dtype::FP32), tensor({}, Dtype::FP64)};
  scal.outputs = {tensor({2, 2048, 1}, Dtype::FP32)};
  w = op_work(scal);
  EXPECT_EQ(w.ew_dims, 2);
  EXPECT_EQ(w.ew_operands, 2);
  EXPECT_FALSE(w.ew_mixed_dtypes);
  EtOp copy;
  copy.name = "aten::copy_";
  copy.inputs = {tensor({2048, 2048}), tensor({2048, 2048}, Dtype::FP32), value(false, "Bool")};
  copy.outputs = {tensor({2048, 2048})};
  w = op_work(copy);
  EXPECT_EQ(w.ew_operands, 2);
  EXPECT_TRUE(w.ew_mixed_dtypes);
}

// An out= op (`aten::mul.out(Tensor self, Tensor other, *, Tensor(a!) out)`, as DDP's reducer
// scales a gradient bucket) writes its `out` argument and does not read it: the kernel's operands
// are self and the output. The ET reader finds out= arguments in the op's schema; the same tensor
// as self (`mul(x, y, out=x)`) is still read, and in-place ops (add_) read self.
TEST(OpTraffic, OutArgumentIsWrittenNotRead) {
  const double n = 3072.0 * 768;
  EtArg self = tensor({3072, 768}, Dtype::FP32), out = tensor({3072, 768}, Dtype::FP32);
  self.tensor_id = 1;
  out.tensor_id = 2;
  EtArg scalar = tensor({}, Dtype::FP64);
  EtOp mul;
  mul.name = "aten::mul";
  mul.inputs = {self, scalar, out};
  mul.outputs = {out};
  EXPECT_DOUBLE_EQ(op_work(mul).bytes, 4 * n + 8 + 4 * n + 4 * n);  // no schema: out read too
  mul.out_args = {2};
  OpWork w = op_work(mul);
  EXPECT_DOUBLE_EQ(w.bytes, 4 * n + 8 + 4 * n);
  EXPECT_EQ(w.ew_operands, 2);
  mul.inputs = {self, scalar, self};  // out=self: self is read, once
  mul.outputs = {self};
  EXPECT_DOUBLE_EQ(op_work(mul).bytes, 4 * n + 8 + 4 * n);
  EtOp add;  // in-place: self read and written
  add.name = "aten::add_";
  add.inputs = {self, out};
  add.outputs = {self};
  EXPECT_DOUBLE_EQ(op_work(add).bytes, 3 * 4 * n);
  // The captured DDP step: its 148 mul.out ops read the bucket and a scalar, write the gradient.
  CapturedStep st = load_bundle(std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/gpt_a_ddp");
  int outs = 0;
  for (const auto& op : st.ops) {
    if (op.name != "aten::mul" || op.out_args.empty()) continue;
    ASSERT_EQ(op.out_args, std::vector<int>{2});
    EXPECT_DOUBLE_EQ(op_work(op).bytes, 2 * static_cast<double>(op.outputs[0].numel) * 4 + 8);
    ++outs;
  }
  EXPECT_EQ(outs, 148);
}

// A broadcast (expanded, stride-0) input is read once per distinct element: the ET reader takes
// them from the strides. gpt_b's position embedding is a gather whose index [8192, 1024] is
// 8192 int64 ids expanded over the 1024 features (strides [1, 0]): the gather reads the ids, the
// rows it picks and writes its output, 67 MB, not 134 MB.
TEST(OpTraffic, BroadcastInputIsReadOncePerDistinctElement) {
  CapturedStep st = load_bundle(std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/gpt_b");
  int gathers = 0;
  for (const auto& op : st.ops) {
    if (op.name != "aten::gather" || op.inputs.size() < 3 || op.inputs[2].shape != std::vector<std::int64_t>{8192, 1024}) continue;
    EXPECT_EQ(op.inputs[2].numel, 8192 * 1024);
    EXPECT_EQ(op.inputs[2].distinct(), 8192);
    EXPECT_EQ(op.inputs[0].distinct(), op.inputs[0].numel);  // contiguous: every element
    EXPECT_DOUBLE_EQ(op_work(op).bytes, 8192.0 * 8 + 2 * 8192.0 * 1024 * 4);
    ++gathers;
  }
  EXPECT_EQ(gathers, 1);
  // An elementwise op over an expanded scalar (mean's backward: grad.expand(shape) / n) reads one.
  EtOp div;
  div.name = "aten::div";
  EtArg g = tensor({4096, 4096}, Dtype::FP32);
  g.distinct_numel = 1;
  div.inputs = {g, tensor({}, Dtype::FP32)};
  div.outputs = {tensor({4096, 4096}, Dtype::FP32)};
  EXPECT_DOUBLE_EQ(op_work(div).bytes, 4 + 4 + 4096.0 * 4096 * 4);
}

}  // namespace op_cost_test
