#pragma once
// Roofline components of one kernel on one accelerator, and the hardware-transfer ratio: the one
// method behind `orrery replay --mode transfer` (each measured kernel duration rescaled by
// model time on the target / model time on the source) and its kernel-level check
// (`orrery validate --kernel-transfer`, validation/kernel_transfer.h). Kernel-free, plain functions.
#include <algorithm>
#include <string>

#include "hw_models/accelerator.h"

namespace orrery {

// Compute, memory and host-link times (seconds) of one kernel on one accelerator; its time is the
// largest of them and min_kernel_time.
struct Roof {
  double tc = 0, tm = 0, tl = 0;  // compute, memory, host-link times (s)
  double flops = 0, bytes = 0;
  bool known = false;
  bool issue_bound = false;  // first-principles elementwise kernel whose SIMT issue time outweighs its transfer
  double total(const Accelerator& hw) const { return std::max({hw.p("min_kernel_time"), tc, tm, tl}); }
};

// Time to move `bytes` (read + written) through HBM at the calibrated efficiency for that size
// (Accelerator::memory_efficiency), without the min_kernel_time floor.
double hbm_time(const Accelerator& hw, double bytes);

// A GEMM (m, n, k, batch): the whole problem's time (Accelerator::gemm_time: compute at the
// calibrated efficiency for its FLOPs, its own operand traffic, the floor) as compute time, and the
// HBM time of `bytes` (capped by the GEMM time) as memory time; both times `share` (the fraction of
// the problem one kernel does when an op runs it as several kernels).
Roof gemm_roof(const Accelerator& hw, double m, double n, double k, Dtype d, double batch, double bytes,
               double share = 1.0);

// A memory-bound kernel moving `bytes` (read + written) and doing `vector_flops` on the non-matrix
// units (peak_fp32 x vector_efficiency). With the first-principles model, its launch (`grid`
// blocks of `block` threads, 0: unknown) caps the bandwidth by the loads its threads keep in
// flight, and write_only (a memset) pays no load round trip (KernelMapper::memory_launch); the
// calibrated curves ignore both. l2_hit: bytes of its loads already in L2 (first-principles: an
// input an earlier kernel left there; they stream at the L2 rate, not from HBM).
Roof memory_roof(const Accelerator& hw, double bytes, double vector_flops = 0, double grid = 0, double block = 0,
                 bool write_only = false, double l2_hit = 0);

// PyTorch's elementwise kernel families, from the kernel name: "vectorized"
// (vectorized_elementwise_kernel: 16-byte loads, what the memory curve is calibrated on),
// "unrolled" (unrolled_elementwise_kernel: contiguous but no vector loads, e.g. dtype casts),
// "strided" (the generic elementwise_kernel: strided or broadcast operands), "cat" (aten::cat's
// generic CatArrayBatchedCopy: one element per thread per step, offsets by integer division), or
// "" (other kernels).
const char* elementwise_family(const std::string& kernel_name);
// Memory efficiency multiplier of that family on `hw` (unrolled_/strided_elementwise_efficiency;
// 1 for vectorized and other kernels).
double family_efficiency(const Accelerator& hw, const std::string& kernel_name);

// Transfer ratio from `src` to `hw` of one kernel: target.total(hw) / source.total(src) when both
// roofs are known; otherwise the ratio of the class's dominant resource (bf16 peak for compute
// classes, HBM bandwidth for the others). Target time = source measured time x ratio.
double transfer_ratio(const Roof& target, const Accelerator& hw, const Roof& source, const Accelerator& src,
                      bool compute_class);

// Target time of a kernel measured `measured_s` on `src`: the part of the measured time the source
// roofline explains (source.total) scales by transfer_ratio; the part it does not explain (the
// kernel ran slower than its roofline: launch tails, latency, instruction issue at the SM clock)
// stays as measured, since it follows neither the FLOP/s nor the bandwidth ratio.
double transfer_time(double measured_s, const Roof& target, const Accelerator& hw, const Roof& source,
                     const Accelerator& src, bool compute_class);

}  // namespace orrery
