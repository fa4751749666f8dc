#pragma once
// First-principles kernel mapping onto an architecture description (hw_models/arch.h): GEMM,
// batched GEMM, convolution as implicit GEMM and fused attention tile by tile (tile choice under
// registers and shared memory, operand feed from shared memory, wave quantisation over the units,
// L2 reuse versus HBM traffic, pipeline fill and epilogue, split-K where it wins), and memory-bound
// kernels (achievable HBM fraction, latency at small sizes, dispatch cost). Each dtype runs at its
// own engine rate with tiles sized for its element width. No measured efficiency enters: every
// number comes from the description. Kernel-free: plain functions tests call directly.
// `orrery kernel` prints these estimates; Accelerator (first_principles=1) costs kernels with them.
#include <string>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "hw_models/arch.h"

namespace orrery {

// Exact element size in bytes (fp4 = 0.5).
double element_bytes(Dtype d);

struct Tile {
  int m = 0, n = 0, k = 0;  // elements
  int stages = 0;           // operand pipeline stages in shared memory
  int split_k = 1;
};

struct KernelEstimate {
  std::string kind;            // "gemm", "conv", "attention", "memory"
  std::string engine;          // "matrix bf16", "vector fp32", "memory"
  std::string bound;           // "compute", "l2", "memory", "latency"
  double time_s = 0;
  double flops = 0, hbm_bytes = 0, l2_bytes = 0;
  double compute_s = 0, l2_s = 0, hbm_s = 0, overhead_s = 0;  // components (overhead: dispatch, fill, split-K fix-up)
  double peak_flops = 0;       // engine peak at the boost clock (fraction_of_peak's denominator)
  double fraction_of_peak = 0; // compute-bound: FLOP/s over peak; memory-bound: bytes/s over HBM peak
  Tile tile;
  double tiles = 0, waves = 0, wave_efficiency = 1;
  nlohmann::json to_json() const;
};

class KernelMapper {
 public:
  explicit KernelMapper(Arch arch) : a_(std::move(arch)) {}
  const Arch& arch() const { return a_; }

  // C[m,n] = A[m,k] B[k,n], `batch` independent problems. `forced` (tile m,n,k > 0) skips the
  // search; a forced tile that does not fit the unit's registers/shared memory is an Error.
  KernelEstimate gemm(double m, double n, double k, Dtype d, double batch = 1, const Tile* forced = nullptr) const;
  // Convolution as implicit GEMM: input n x c x h x w, k filters of c x r x s, stride, padding.
  KernelEstimate conv(double n, double c, double h, double w, double k, double r, double s, double stride, double pad,
                      Dtype d) const;
  // Fused (flash) attention over batch*heads, query/key lengths, head dim; causal halves the blocks.
  KernelEstimate attention(double batch_heads, double sq, double skv, double head_dim, Dtype d, bool causal,
                           bool backward) const;
  // Attention known only by its FLOPs and bytes (replay): head dim 128, full waves.
  KernelEstimate attention_work(double flops, double bytes, Dtype d) const;
  // Attention of a known shape (replay, train): attention() in the dtype its kernels run (fp32
  // inputs run the 16-bit kernels; an fp8 chip-less dtype falls back to bf16, as attention_work).
  KernelEstimate attention_shaped(const AttentionShape& s, Dtype d) const;
  // A memory-bound kernel moving `bytes` (read + written) with `vector_flops` on the vector units;
  // l2_resident: the data is already in L2 (a microbenchmark replaying the same buffers).
  KernelEstimate memory(double bytes, double vector_flops = 0, bool l2_resident = false) const;
  // The same kernel launched as `grid` blocks of `block` threads (0: unknown, the whole chip):
  // Little's law, its loads move in rounds of the bytes its resident threads keep in flight
  // (load_bytes_per_thread each, at most max_threads/max_blocks_per_unit per unit), one
  // hbm_latency each, so a grid too small to fill the chip streams slower. write_only (a memset):
  // the stores are posted, no load round trip.
  KernelEstimate memory_launch(double bytes, double vector_flops, double grid, double block, bool write_only = false) const;
  // Bytes `grid` x `block` threads keep in flight in one memory round trip (infinite when the
  // launch is unknown).
  double inflight_bytes(double grid, double block) const;

  double clock_matrix() const { return a_.p("clock_sustained"); }
  double hbm_rate() const { return a_.hbm_bandwidth * a_.p("hbm_efficiency"); }

 private:
  struct Problem {
    double m, n, k, batch;
    double a_bytes, b_bytes, c_bytes;  // compulsory HBM traffic of the whole problem
  };
  KernelEstimate map_gemm(const Problem& p, Dtype d, const Tile* forced) const;
  bool evaluate(const Problem& p, Dtype d, Tile t, KernelEstimate& e, std::string* why) const;
  void finish(KernelEstimate& e) const;
  KernelEstimate memory_body(double bytes, double vector_flops, bool l2_resident, double inflight, bool write_only) const;
  Arch a_;
};

}  // namespace orrery
