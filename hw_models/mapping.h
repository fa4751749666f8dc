#pragma once
// First-principles kernel mapping onto an architecture description (hw_models/arch.h): GEMM,
// batched GEMM, convolution as implicit GEMM and fused attention tile by tile (tile choice under
// registers and shared memory, operand feed from shared memory, wave quantisation over the units,
// L2 reuse versus HBM traffic, pipeline fill and epilogue, split-K where it wins), and memory-bound
// kernels (achievable HBM fraction, latency at small sizes, dispatch cost). Each dtype runs at its
// own engine rate with tiles sized for its element width. No measured efficiency enters: every
// number comes from the description. Kernel-free: plain functions tests call directly.
// `orrery kernel` prints these estimates; Accelerator (first_principles=1) costs kernels with them.
#include <limits>
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

// One launch of PyTorch's elementwise kernels (ATen native/cuda/Loops.cuh, CUDALoops.cuh), the
// families told apart by kernel name (hw_models/transfer.h elementwise_family):
//   "vectorized": vectorized_elementwise_kernel, 16-byte loads of contiguous operands;
//   "unrolled":   unrolled_elementwise_kernel, contiguous, one scalar load per element per operand
//                 (thread_work_size 4), with a per-element dtype switch when the dtypes differ;
//   "strided":    the generic elementwise_kernel<nt, vt>, every operand's offset from the linear
//                 index through OffsetCalculator (an integer divmod per dimension);
//   "cat":        aten::cat's generic CatArrayBatchedCopy<T, IndexType, Dims, ...> (Shape.cu): a
//                 grid-stride loop copying one element per step, the output offset from the
//                 element's index by a hardware integer division per inner dimension.
// An operand a kernel's neighbouring threads walk across its stride (a transposing copy's source):
// each element's load or store moves a whole memory sector of which it uses elem_bytes.
struct StridedOperand {
  double stride_bytes = 0;  // between the elements of neighbouring threads
  double elem_bytes = 0;
  double reuse_elems = 0;   // output elements walked before the sector's next element is (0: never)
  bool store = false;       // the output: its partial sectors merge in the write-back L2
};

struct ElementwiseLaunch {
  std::string family;       // "vectorized", "unrolled", "strided", "cat"
  double numel = 0;         // output elements
  double dims = 1;          // index dimensions the offset calculator walks (strided; cat: its Dims)
  double operands = 2;      // tensors including the output (OffsetCalculator's NARGS)
  bool dynamic_cast_ = false;  // operand dtypes differ: fetch_and_cast / cast_and_store per element
  double vt = 0;            // elements one thread handles (the kernel's template argument; 0: unknown)
  double load_bytes = 0;    // bytes one output element loads over its input operands (0: unknown)
  bool stores_only = false; // the functor takes no input (fill_/zero_'s FillFunctor): no loads at all
  std::vector<StridedOperand> strided;  // operands walked across their stride (uncoalesced)
};
// Elements per thread of an elementwise kernel from its name: elementwise_kernel<nt, vt, ...>'s
// vt, unrolled_elementwise_kernel<f, std::array<char*, N>, elems_per_thread, ...>'s third
// argument; 0 for another name.
double elementwise_vt(const std::string& name);
// Dims of aten::cat's generic kernel from its name (CatArrayBatchedCopy<T, IndexType, Dims, ...>);
// 0 for another name.
double cat_kernel_dims(const std::string& name);
// Whether a thread of that launch has only one element's loads in flight at a time: the loads of
// its next element wait on the previous one (mapping.cpp says why per family).
bool elementwise_serial_loads(const ElementwiseLaunch& l);
// Bytes one thread of that launch keeps in flight (0: unknown, the description's
// load_bytes_per_thread): one element's loads when serial (one operand's with casts), else vt
// elements' loads.
double elementwise_bytes_in_flight(const ElementwiseLaunch& l);
// One launch of PyTorch's reduce_kernel<nt, output_vec_size, ReduceOp<scalar_t, ...>> (ATen
// native/cuda/Reduce.cuh). A thread walks its rows in batches of vt0 = 4 independent loads
// (thread_reduce_impl, ReduceOp's vt0 template default), each load output_vec_size contiguous
// elements (the outputs the thread owns); a reduction over the contiguous dimension
// (output_vec_size 1) loads vectors of input_vec_size = vt0 elements, one per loop step. Either
// way a thread keeps vt0 x output_vec_size elements in flight, never the 64 B of an elementwise
// kernel for 16-bit data at output_vec_size 4 (32 B). Its bytes are loads: it writes one value per
// output (and a few staging partials).
// When the rows are split over several blocks per output group (ctas_per_output > 1: a global
// reduction), each block stores its partials to a staging buffer, fences and counts itself done on
// the group's semaphore (an atomic); the last block then reads the group's ctas_per_output
// partials, one staging load per step of its loop, after every other block has finished: a
// serial tail of (2 + ceil(ctas_per_output / block_y)) L2 round trips (Reduce.cuh global_reduce,
// mark_block_finished). ctas_per_output = grid / ceil(outputs / outputs per block), a block owning
// 32 lanes x output_vec_size outputs (block_y = block / 32 warps split the rows), or, reducing the
// contiguous dimension (output_vec_size 1), block / 32 outputs, all block threads reading partials.
struct ReduceLaunch {
  double output_vec = 1;      // output_vec_size (template argument 2 of reduce_kernel)
  double element_bytes = 4;   // sizeof(scalar_t) of ReduceOp<scalar_t, ...>
  double outputs = 0;         // output elements (0: unknown, no global-reduction tail)
};
// Blocks per output group (ctas_per_output) of that launch, 1 when unknown or not split.
double reduce_ctas_per_output(const ReduceLaunch& r, double grid, double block);
// Serial L2 round trips of its global-reduction tail (0 without one).
double reduce_tail_round_trips(const ReduceLaunch& r, double grid, double block);
// Reads output_vec_size and scalar_t from a reduce_kernel name; false for another kernel.
bool parse_reduce_kernel(const std::string& name, ReduceLaunch& out);
// Bytes one thread of that launch keeps in flight: vt0 (4) x output_vec_size x element bytes.
double reduce_bytes_per_thread(const ReduceLaunch& r);

// SIMT thread-instructions one output element costs in that family, counted from PyTorch's
// source (the count and its derivation: mapping.cpp). 0 for an unknown family.
double elementwise_instructions_per_element(const ElementwiseLaunch& l);
// Warp instructions one block (one row of `row` elements) of PyTorch's vectorized layer-norm
// forward issues, `threads` threads a block (PyTorch launches 32 x 4): counted from the Hopper SASS
// of validation/sass/layer_norm_forward.cu (the derivation: mapping.cpp). 0 for a row that is not
// a whole number of 4-element vectors (PyTorch then runs its non-vectorized kernels).
double layer_norm_forward_warp_instructions(double row, double threads);

struct KernelEstimate {
  std::string kind;            // "gemm", "conv", "attention", "memory"
  std::string engine;          // "matrix bf16", "vector fp32", "memory"
  std::string bound;           // "compute", "issue" (SIMT instruction issue), "l2", "memory", "latency"
  double time_s = 0;
  double flops = 0, hbm_bytes = 0, l2_bytes = 0;
  double compute_s = 0, l2_s = 0, hbm_s = 0, overhead_s = 0;  // components (overhead: dispatch, fill, split-K fix-up)
  double issue_s = 0;          // memory kernels: SIMT issue time of the load/store path, added to the transfer
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
  // A launch whose threads each wait on one load at a time (loops with runtime bounds whose loads
  // feed a compare: PyTorch's max pooling): `loads` such loads over all its threads, one per
  // resident thread in flight, each round a memory round trip (Little's law), beside its `bytes`'
  // HBM time. An unknown launch (grid 0) holds the chip's threads.
  KernelEstimate serial_loads(double loads, double bytes, double grid, double block) const;
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
  // hbm_latency each, so a grid too small to fill the chip streams slower; a one-wave grid
  // (one_wave) adds the round trips to the transfer instead of overlapping them. write_only (a memset):
  // the stores are posted, no load round trip.
  // simt_instructions: thread-instructions of the load/store path (index math, addresses, casts)
  // at simt_issue_rate(); they do not overlap the transfer they feed, so their time adds to it
  // ("issue" bound when it is the larger part).
  // l2_hit: bytes of its loads already resident in L2 (an earlier kernel's output or input): they
  // stream at the L2 rate, only the rest crosses HBM, and a kernel whose loads all hit waits one
  // l2_latency instead of hbm_latency.
  KernelEstimate memory_launch(double bytes, double vector_flops, double grid, double block, bool write_only = false,
                               double simt_instructions = 0, double l2_hit = 0) const;
  // PyTorch's reduce_kernel reading `bytes` as `grid` blocks of `block` threads: Little's law with
  // its own loads in flight per thread (reduce_bytes_per_thread) and all its bytes loads; a grid
  // resident in one wave pays each round trip before its transfer (memory_launch's one_wave).
  KernelEstimate reduction(const ReduceLaunch& r, double bytes, double grid, double block, double l2_hit = 0) const;
  // A tiled transpose (cuDNN's NCHW<->NHWC layout transforms): every thread loads `per_thread`
  // bytes of its block's tile, then stores them; Little's law with those loads in flight (half
  // the bytes are loads), as memory_launch.
  KernelEstimate tiled_transform(double bytes, double grid, double block, double per_thread) const;
  // PyTorch elementwise kernel moving `bytes`: memory_launch with its instruction count.
  KernelEstimate elementwise(const ElementwiseLaunch& l, double bytes, double grid = 0, double block = 0,
                             double l2_hit = 0) const;
  // Thread-instructions per second of the whole chip: units x simt_issue_per_clock (or
  // vector_fma_per_clock when 0) x clock_boost.
  double simt_issue_rate() const;
  // Bytes `grid` x `block` threads keep in flight in one memory round trip (infinite when the
  // launch is unknown).
  double inflight_bytes(double grid, double block) const;
  // The same with `per_thread` bytes in flight per thread instead of load_bytes_per_thread.
  double inflight_bytes(double grid, double block, double per_thread) const;
  // Whether all `grid` blocks of `block` threads are resident at once (one wave); then a grid
  // whose threads loop over batches of loads pays each batch's round trip before its transfer.
  bool one_wave(double grid, double block) const;
  // Units a grid of `grid` blocks occupies (min(grid, units); 0 when the grid is unknown).
  double units_occupied(double grid) const;
  double l2_round_trip() const;

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
  double blocks_per_unit(double block) const;
  // One streaming launch as memory_body costs it.
  struct MemoryLaunch {
    double bytes = 0;              // moved: loads and stores
    double vector_flops = 0;
    bool l2_resident = false;      // every byte is already in L2
    double inflight = std::numeric_limits<double>::infinity();  // bytes the grid keeps in flight
    bool write_only = false;       // stores only (posted): no load round trip
    double simt_instructions = 0;  // the load/store path's instructions (issue time)
    bool lockstep = false;         // one resident wave looping over its data (one_wave)
    double load_fraction = 0.5;    // of `bytes`, the loads (0.5 when unknown: a copy's share)
    double l2_hit = 0;             // load bytes an earlier kernel left in L2
    bool loads_known = false;      // load_fraction is the kernel's own, not the guess
    double units = 0;              // units the grid occupies (0: all): its share of L2 ports and issue
    double sector_l2_bytes = 0;    // beyond `bytes`, the unused parts of the sectors strided accesses move
    double sector_hbm_bytes = 0;   // of those, the ones HBM moves too (evicted before their reuse)
  };
  // The extra sector traffic of a launch's strided operands (MemoryLaunch's sector_*_bytes).
  void strided_sectors(const ElementwiseLaunch& l, MemoryLaunch& s) const;
  KernelEstimate memory_body(const MemoryLaunch& s) const;
  Arch a_;
};

}  // namespace orrery
