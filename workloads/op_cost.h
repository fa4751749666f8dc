#pragma once
// Cost models for captured ops (kernel-free):
//  - (host dispatch cost of an op: workloads/host_cost.h);
//  - FLOPs and bytes of an op from its ET input shapes and dtypes (roofline mode).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hw_models/accelerator.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

struct OpWork {
  double flops = 0;
  double bytes = 0;
  bool matrix = false;      // tensor-core GEMM-like
  bool attention = false;   // fused attention
  double side_bytes = 0;    // attention: traffic of a side kernel without its own figure below
                            // (GQA head reduction): two q-sized tensors; convolution: a side
                            // kernel that is neither a layout transform nor a split-K reduction
  double dq_convert_bytes = 0;  // attention backward: the dQ conversion kernel reads the fp32 dQ
                                // accumulator and writes dQ in q's dtype (4 + q's element bytes each)
  double dot_do_o_bytes = 0;    // attention backward: the preprocessing kernel reads dO and O, writes
                                // the row sums rowsum(dO * O) (fp32) and zeroes the fp32 dQ
                                // accumulator (2 x q's element bytes + 4 each, + 4 per row)
  Dtype dtype = Dtype::UNKNOWN;
  double m = 0, n = 0, k = 0, batch = 1;  // GEMM shape when matrix
  // matrix: elements of what its reduction side kernels (cuBLAS's split-K reduce, cuDNN's wgrad
  // reduction) reduce into: the GEMM's output, a backward convolution's weight gradient.
  double out_elems = 0;
  // Convolution: the tensors cuDNN's NCHW<->NHWC layout transforms convert, each as (leading dim,
  // channels, spatial elements): input, weight, output. The transform kernel tiles (spatial,
  // channels) in 32 x 32 tiles, one block per tile and leading index (replay: conv_transform_roof).
  struct LayoutTensor {
    double lead = 0, channels = 0, spatial = 0;
  };
  std::vector<LayoutTensor> layout_tensors;
  // matrix: the largest of 8, 4, 2, 1 elements dividing the operands' leading dimensions (GEMM:
  // m, n and k as the ET's views give them; convolution: input and output channels per group).
  // Below 8 (16 bytes of a 16-bit dtype) cuBLAS/cuDNN fall back to narrower-load kernels.
  double align_elems = 8;
  AttentionShape attn;      // attention: its shape (head_dim 0 when unknown)
  // A memory-bound op as PyTorch's elementwise kernels run it (first-principles issue bound,
  // hw_models/mapping.h ElementwiseLaunch): output elements, the dimensions a strided kernel's
  // offset calculator walks (TensorIterator's coalesced ones from the trace's strides,
  // EtOp::iter_dims; without strides, the output's of size > 1), tensor operands including the
  // output, and whether the operand dtypes differ (per-element dynamic casting).
  double ew_numel = 0, ew_dims = 0, ew_operands = 0;
  double in_bytes = 0;      // memory-bound ops: the bytes it reads (loads), of `bytes`
  bool ew_mixed_dtypes = false;
  std::vector<IterAccess> ew_access;  // EtOp::iter_access: operands walked across their stride
  // Batch norm: the input's elements, element size and channels (replay prices each of its
  // kernels by that kernel's own passes over x: batch_norm_kernel_roof).
  double norm_numel = 0, norm_elem_bytes = 0, norm_channels = 0;
  // Layer norm forward: the elements of one normalised row (the weight's, else the input's last
  // dimension; replay: layer_norm_issue_floor).
  double norm_row = 0;
  // Kernels whose threads wait on one load at a time (loops with runtime bounds whose loads feed a
  // compare or pick an address): the elements they walk, the loads each waits on in turn, on
  // average over the elements and over warps of consecutive positions (a warp runs as long as its
  // longest thread's loops), and the part of the kernel's name that says it is that kernel (the
  // op's other kernels keep their own model). Max pooling (DilatedMaxPool2d.cu: forward outputs,
  // backward inputs), the loss's single-block reductions (LossNLL.cu: frames), embedding backward
  // (EmbeddingBackwardKernel.cu's two summing kernels, or Embedding.cu's feature kernel for few
  // indices: one element per launched thread). Replay: serial_kernel_roof.
  struct Serial {
    double elems = 0, loads = 0, loads_warp = 0;
    std::string_view kernel;  // a literal
    std::string_view kernel2;  // a second such kernel of the op (a literal), `loads2` loads a thread
    double loads2 = 0;
    bool per_launched_thread = false;  // the elements are the launch's threads (grid x block), not `elems`
    double bytes = 0;  // what one such kernel moves (0: the op's bytes)
  } serial;
  // Softmax over rows longer than the warp kernels': the bytes when the row is cached in shared
  // memory (SoftMax.cu's cunn_SoftMaxForwardSmem / cunn_SoftMaxBackwardSmem read it once), which
  // the kernel's name says (replay: softmax_kernel_bytes); 0 otherwise.
  double smem_row_bytes = 0;
  bool known = false;       // the model understood the op
  std::string_view model;   // which formula was used (a literal: no copy per op)
};

// A 2-d max pooling window: kernel size, stride, padding, dilation (height, width).
struct PoolWindow {
  double k[2] = {1, 1}, s[2] = {1, 1}, p[2] = {0, 0}, d[2] = {1, 1};
};
// Max pooling's loads (OpWork::Serial) for an input of ih x iw positions pooled to oh x ow, `planes`
// (batch x channels) of them.
OpWork::Serial max_pool_loads(double planes, double ih, double iw, double oh, double ow, const PoolWindow& w,
                            bool backward);
// PyTorch's launch of max pooling (DilatedMaxPool2d.cu, CUDA): {blocks, threads per block}.
std::pair<double, double> max_pool_launch(double n, double c, double ih, double iw, double oh, double ow, bool backward,
                                          bool channels_last);

// FLOPs/bytes of one ET op from its shapes (its own work, not its children's). A convolution with
// impossible shapes (channels vs groups, a filter larger than the padded input, stride < 1) throws
// orrery::Error with what is wrong; the replay prefixes the ET file and node.
OpWork op_work(const EtOp& op);
// A softmax whose kernel is SoftMax.cu's shared-memory variant (cunn_SoftMaxForwardSmem,
// cunn_SoftMaxBackwardSmem: PyTorch picks it when the row fits the block's shared memory, from
// version to version for the forward, the backward or neither) reads each input once: `w`'s bytes
// become its smem_row_bytes. Other kernels leave `w` as it is.
void softmax_kernel_bytes(OpWork& w, const std::string& kernel);
// Convolution (aten::convolution/_convolution/conv1d-3d/cudnn_convolution/convolution_backward) as
// an implicit GEMM; false when `op` is not one (w untouched).
bool conv_work(const EtOp& op, OpWork& w);

}  // namespace orrery
