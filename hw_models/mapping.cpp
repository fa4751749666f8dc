// Owns the first-principles kernel mapping (see mapping.h): tile search, wave quantisation,
// traffic through L2 and HBM, fill/epilogue/split-K overheads, attention blocks, memory kernels.
#include "hw_models/mapping.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/error.h"
#include "sim/units.h"

namespace orrery {

double element_bytes(Dtype d) {
  if (d == Dtype::FP4) return 0.5;
  return dtype_bytes(d);
}

nlohmann::json KernelEstimate::to_json() const {
  return {{"kind", kind},
          {"engine", engine},
          {"time_us", time_s * 1e6},
          {"bound", bound},
          {"fraction_of_peak", fraction_of_peak},
          {"flops", flops},
          {"hbm_bytes", hbm_bytes},
          {"l2_bytes", l2_bytes},
          {"peak_flops", peak_flops},
          {"components_us", {{"compute", compute_s * 1e6}, {"l2", l2_s * 1e6}, {"hbm", hbm_s * 1e6}, {"overhead", overhead_s * 1e6}, {"issue", issue_s * 1e6}}},
          {"tile", {{"m", tile.m}, {"n", tile.n}, {"k", tile.k}, {"stages", tile.stages}, {"split_k", tile.split_k}}},
          {"tiles", tiles},
          {"waves", waves},
          {"wave_efficiency", wave_efficiency}};
}

namespace {

// Engine of a dtype: the matrix engine when the chip has one for it, else the FP32 vector units
// (fp32 GEMMs without TF32, int32, ...). 16/8/4-bit dtypes without an engine are an Error.
struct Engine {
  bool matrix = false;
  double macs_per_clock = 0;
  int gm = 1, gn = 1, tk = 32;
  double acc_bytes = 4, out_bytes = 4;
  std::string name;
};

Engine engine_for(const Arch& a, Dtype d) {
  Engine e;
  double eb = element_bytes(d);
  double mma = a.mma_per_clock(d);
  bool needs_engine = d == Dtype::BF16 || d == Dtype::FP16 || d == Dtype::FP8 || d == Dtype::FP4 || d == Dtype::I8 ||
                      d == Dtype::TF32;
  if (mma > 0) {
    e.matrix = true;
    e.macs_per_clock = mma;
    e.gm = static_cast<int>(a.p("mma_m"));
    e.gn = static_cast<int>(a.p("mma_n"));
    e.tk = static_cast<int>(std::max(a.p("mma_k") * 2.0 / eb, 128.0 / eb));
    e.acc_bytes = d == Dtype::FP64 ? 8 : 4;
    e.out_bytes = (d == Dtype::FP8 || d == Dtype::FP4) ? 2 : (d == Dtype::I8 ? 4 : eb);
    e.name = std::string("matrix ") + dtype_name(d);
    return e;
  }
  if (needs_engine) a.require_dtype(d);
  e.macs_per_clock = a.p("vector_fma_per_clock") * (d == Dtype::FP64 ? 0.5 : 1.0);
  e.tk = static_cast<int>(std::max(8.0, 128.0 / std::max(eb, 1.0)));
  e.acc_bytes = std::max(4.0, eb);
  e.out_bytes = std::max(1.0, eb);
  e.name = std::string("vector ") + (d == Dtype::UNKNOWN ? "fp32" : dtype_name(d));
  return e;
}

std::vector<int> tile_sizes(int g) {
  std::vector<int> v;
  for (int s : {16, 32, 64, 128, 256})
    if (s >= g && s % g == 0) v.push_back(s);
  if (v.empty()) v.push_back(g);
  return v;
}

double cdiv(double a, double b) { return std::ceil(a / b - 1e-9); }

}  // namespace

bool KernelMapper::evaluate(const Problem& p, Dtype d, Tile t, KernelEstimate& e, std::string* why) const {
  const Arch& a = a_;
  Engine en = engine_for(a, d);
  double eb = element_bytes(d);
  // Accumulator tile in registers (at most half the register file: the rest holds fragments and addresses).
  double acc = double(t.m) * t.n * en.acc_bytes;
  if (acc > 0.5 * a.p("registers_per_unit")) {
    if (why) *why = "registers_per_unit: the " + std::to_string(t.m) + "x" + std::to_string(t.n) + " accumulator needs " +
                    format_bytes(acc) + ", more than half the register file";
    return false;
  }
  double stage = (double(t.m) + t.n) * t.k * eb;
  int stages = static_cast<int>(std::min(8.0, std::floor(a.p("smem_per_unit") / stage)));
  if (stages < 2) {
    if (why) *why = "smem_per_unit: tile " + std::to_string(t.m) + "x" + std::to_string(t.n) + "x" + std::to_string(t.k) +
                    " needs " + format_bytes(2 * stage) + " for two operand stages, the unit has " +
                    format_bytes(a.p("smem_per_unit"));
    return false;
  }
  t.stages = stages;
  const double clk = clock_matrix();
  const double units = a.units;
  // Operand feed: each k step reads (tm + tn) elements from shared memory for tm x tn MACs.
  double feed = a.p("smem_bytes_per_clock") * double(t.m) * t.n / ((double(t.m) + t.n) * eb);
  double rate = std::min(en.macs_per_clock, feed);
  double tiles_m = cdiv(p.m, t.m), tiles_n = cdiv(p.n, t.n), ks = cdiv(p.k, t.split_k), iters = cdiv(ks, t.k);
  double tiles = p.batch * tiles_m * tiles_n * t.split_k;
  double waves = cdiv(tiles, units);
  // Operand stages in flight must cover the load latency (Little's law), else the MMAs wait.
  double iter_s = std::max(double(t.m) * t.n * t.k / rate / clk, a.p("hbm_latency") / (stages - 1));
  double fill_s = a.p("hbm_latency") + iter_s;                  // first stage arrives before the first MMA
  double epi_s = double(t.m) * t.n * en.out_bytes / a.p("smem_bytes_per_clock") / clk;  // registers -> smem -> global
  e.compute_s = waves * (fill_s + iters * iter_s + epi_s);
  // L2 traffic: A is read once per column of tiles, B once per row; outputs; split-K partials.
  double partial = t.split_k > 1 ? 2.0 * t.split_k * p.batch * p.m * p.n * 4 : 0.0;
  e.l2_bytes = p.batch * (p.m * p.k * eb * tiles_n + p.k * p.n * eb * tiles_m) / a.p("l2_multicast") + p.c_bytes + partial;
  e.l2_s = e.l2_bytes / a.onchip_bandwidth();
  // HBM traffic: compulsory when the operands stay in L2; else each wave's block of concurrent
  // tiles (about square after rasterisation) loads its rows of A and columns of B.
  double ops = p.a_bytes + p.b_bytes;
  if (ops > 0.5 * a.l2_size) {
    double w = std::min(tiles, units);
    double wm = std::min(tiles_m, std::ceil(std::sqrt(w))), wn = std::min(tiles_n, cdiv(w, wm));
    // (implicit GEMM: A's panels overlap in the input; the unique part is a_bytes / (m k))
    double a_unique = std::min(1.0, p.a_bytes / (p.batch * p.m * p.k * eb));
    double per_wave = (wm * t.m * a_unique + wn * t.n) * ks * eb;
    double l2_ops = e.l2_bytes - p.c_bytes - partial;
    ops = std::clamp(tiles / std::max(1.0, wm * wn) * per_wave, ops, std::max(ops, l2_ops));
  }
  e.hbm_bytes = ops + p.c_bytes;
  e.hbm_s = e.hbm_bytes / hbm_rate();
  double fixup = partial > 0 ? (partial + p.batch * p.m * p.n * en.out_bytes) / a.onchip_bandwidth() : 0.0;
  e.overhead_s = a.p("dispatch_latency") + fixup;
  e.time_s = e.overhead_s + std::max({e.compute_s, e.l2_s, e.hbm_s});
  e.tile = t;
  e.tiles = tiles;
  e.waves = waves;
  e.wave_efficiency = tiles / (waves * units);
  e.engine = en.name;
  e.peak_flops = 2.0 * en.macs_per_clock * units * a.p("clock_boost");
  return true;
}

void KernelMapper::finish(KernelEstimate& e) const {
  double body = std::max({e.compute_s, e.l2_s, e.hbm_s});
  if (e.overhead_s >= body) e.bound = "latency";
  else if (body == e.compute_s) e.bound = "compute";
  else if (body == e.hbm_s) e.bound = "memory";
  else e.bound = "l2";
  if (e.time_s <= 0) return;
  if (e.bound == "memory" || e.flops <= 0) e.fraction_of_peak = e.hbm_bytes / e.time_s / a_.hbm_bandwidth;
  else e.fraction_of_peak = e.peak_flops > 0 ? e.flops / e.time_s / e.peak_flops : 0;
}

KernelEstimate KernelMapper::map_gemm(const Problem& p, Dtype d, const Tile* forced) const {
  if (!(p.m >= 1 && p.n >= 1 && p.k >= 1 && p.batch >= 1) || !std::isfinite(p.m * p.n * p.k * p.batch))
    throw make_error("gemm", "shape", "M, N, K and batch must be at least 1");
  Engine en = engine_for(a_, d);
  KernelEstimate best;
  best.time_s = std::numeric_limits<double>::infinity();
  if (forced) {
    std::string why;
    if (!evaluate(p, d, *forced, best, &why)) throw make_error(a_.where, why.substr(0, why.find(':')), why.substr(why.find(':') + 2));
  } else {
    for (int tm : tile_sizes(en.gm))
      for (int tn : tile_sizes(en.gn))
        for (int split : {1, 2, 4, 8, 16}) {
          if (split > 1 && p.k / split < 2.0 * en.tk) break;
          Tile t{tm, tn, en.tk, 0, split};
          KernelEstimate e;
          if (evaluate(p, d, t, e, nullptr) && e.time_s < best.time_s) best = e;
        }
    if (!std::isfinite(best.time_s)) {
      std::string why;
      Tile t{en.gm, en.gn, en.tk, 0, 1};
      evaluate(p, d, t, best, &why);
      throw make_error(a_.where, why.substr(0, why.find(':')), "no tile fits: " + why.substr(why.find(':') + 2));
    }
  }
  best.kind = "gemm";
  best.flops = 2.0 * p.m * p.n * p.k * p.batch;
  finish(best);
  return best;
}

KernelEstimate KernelMapper::gemm(double m, double n, double k, Dtype d, double batch, const Tile* forced) const {
  double eb = element_bytes(d);
  Engine en = engine_for(a_, d);
  Problem p{m, n, k, batch, batch * m * k * eb, batch * k * n * eb, batch * m * n * en.out_bytes};
  return map_gemm(p, d, forced);
}

KernelEstimate KernelMapper::conv(double n, double c, double h, double w, double k, double r, double s, double stride,
                                  double pad, Dtype d) const {
  if (!(stride >= 1)) throw make_error("conv", "stride", "must be at least 1");
  double p_out = std::floor((h + 2 * pad - r) / stride) + 1, q_out = std::floor((w + 2 * pad - s) / stride) + 1;
  if (!(p_out >= 1 && q_out >= 1)) throw make_error("conv", "shape", "the filter is larger than the padded input");
  double eb = element_bytes(d);
  Engine en = engine_for(a_, d);
  // Implicit GEMM: M = output pixels, N = filters, K = c*r*s; A is gathered from the input, which
  // HBM delivers once (the r*s overlapping windows are re-read from L2).
  Problem p{n * p_out * q_out, k, c * r * s, 1, n * c * h * w * eb, k * c * r * s * eb, n * p_out * q_out * k * en.out_bytes};
  KernelEstimate e = map_gemm(p, d, nullptr);
  e.kind = "conv";
  return e;
}

namespace {
// Cycles of one Br x Bc attention block: two GEMMs of head_dim depth on the matrix engine, then
// the online softmax (exp on the SFUs, ~4 vector ops per score: scale, max, subtract, sum), which
// FlashAttention-2-style kernels do not overlap with the matrix work.
double block_cycles(const Arch& a, double br, double bc, double hd, double eb, double mma, bool backward) {
  double feed = a.p("smem_bytes_per_clock") * br * bc / ((br + bc) * eb);
  double mat = 2.0 * br * bc * hd / std::min(mma, feed);
  double soft = br * bc / a.p("sfu_per_clock") + 4.0 * br * bc / a.p("vector_fma_per_clock");
  return backward ? 2.5 * mat + 2.0 * soft : mat + soft;
}
}  // namespace

KernelEstimate KernelMapper::attention(double bh, double sq, double skv, double hd, Dtype d, bool causal,
                                       bool backward) const {
  if (!(bh >= 1 && sq >= 1 && skv >= 1 && hd >= 1)) throw make_error("attention", "shape", "sizes must be at least 1");
  a_.require_dtype(d);
  double mma = a_.mma_per_clock(d);
  if (!(mma > 0)) a_.require_dtype(Dtype::BF16);
  double eb = element_bytes(d);
  double br = 128, bc = 128;
  auto smem_need = [&](double r, double c) { return (r * hd + 2.0 * 2.0 * c * hd) * eb; };
  while (smem_need(br, bc) > a_.p("smem_per_unit") && bc > 16) { br /= 2; bc /= 2; }
  if (smem_need(br, bc) > a_.p("smem_per_unit"))
    throw make_error(a_.where, "smem_per_unit", "too small for one 16-row attention block of head dim " + std::to_string(int(hd)));
  KernelEstimate e;
  e.kind = "attention";
  e.engine = std::string("matrix ") + dtype_name(d);
  double q_tiles = bh * cdiv(sq, br), kv_blocks = cdiv(skv, bc);
  double blocks = causal ? (kv_blocks + 1) / 2 : kv_blocks;
  double clk = clock_matrix();
  double tile_s = blocks * block_cycles(a_, br, bc, hd, eb, mma, backward) / clk + a_.p("hbm_latency");
  e.tiles = q_tiles;
  e.waves = cdiv(q_tiles, a_.units);
  e.wave_efficiency = q_tiles / (e.waves * a_.units);
  e.compute_s = e.waves * tile_s;
  double f = 4.0 * bh * sq * skv * hd * (causal ? 0.5 : 1.0);
  e.flops = backward ? 2.5 * f : f;
  double io = bh * (2 * sq + 2 * skv) * hd * eb;  // q, k, v, o
  e.hbm_bytes = backward ? 2.0 * io : io;
  e.l2_bytes = q_tiles * blocks * 2.0 * bc * hd * eb * (backward ? 2 : 1) + e.hbm_bytes;
  e.hbm_s = e.hbm_bytes / hbm_rate();
  e.l2_s = e.l2_bytes / a_.onchip_bandwidth();
  e.overhead_s = a_.p("dispatch_latency");
  e.time_s = e.overhead_s + std::max({e.compute_s, e.l2_s, e.hbm_s});
  e.tile = Tile{int(br), int(bc), int(hd), 2, 1};
  e.peak_flops = a_.matrix_peak(d, a_.p("clock_boost"));
  finish(e);
  return e;
}

KernelEstimate KernelMapper::attention_work(double flops, double bytes, Dtype d) const {
  if (d != Dtype::FP8 && d != Dtype::FP16) d = Dtype::BF16;  // fp32 attention inputs run the 16-bit kernels
  double mma = a_.mma_per_clock(d);
  if (!(mma > 0)) { d = Dtype::BF16; mma = a_.mma_per_clock(d); }
  const double br = 128, bc = 128, hd = 128;
  double blocks = flops / (4.0 * br * bc * hd);
  KernelEstimate e;
  e.kind = "attention";
  e.engine = std::string("matrix ") + dtype_name(d);
  e.flops = flops;
  e.hbm_bytes = bytes;
  e.compute_s = blocks * block_cycles(a_, br, bc, hd, element_bytes(d), mma, false) / clock_matrix() / a_.units;
  e.hbm_s = bytes / hbm_rate();
  e.overhead_s = a_.p("dispatch_latency") + a_.p("hbm_latency");
  e.time_s = e.overhead_s + std::max(e.compute_s, e.hbm_s);
  e.peak_flops = a_.matrix_peak(d, a_.p("clock_boost"));
  finish(e);
  return e;
}

KernelEstimate KernelMapper::attention_shaped(const AttentionShape& s, Dtype d) const {
  if (d != Dtype::FP8 && d != Dtype::FP16) d = Dtype::BF16;
  if (!(a_.mma_per_clock(d) > 0)) d = Dtype::BF16;
  return attention(s.batch_heads, s.sq, s.skv, s.head_dim, d, s.causal, s.backward);
}

KernelEstimate KernelMapper::memory(double bytes, double vector_flops, bool l2_resident) const {
  MemoryLaunch s;
  s.bytes = bytes;
  s.vector_flops = vector_flops;
  s.l2_resident = l2_resident;
  return memory_body(s);
}

// Blocks of `block` threads resident on one unit: at most max_blocks_per_unit blocks and
// max_threads_per_unit threads (a block larger than the unit's thread limit cannot launch; cap it).
double KernelMapper::blocks_per_unit(double block) const {
  double t = a_.p("max_threads_per_unit");
  return std::max(1.0, std::min(a_.p("max_blocks_per_unit"), std::floor(t / std::min(block, t))));
}

double KernelMapper::inflight_bytes(double grid, double block) const {
  return inflight_bytes(grid, block, a_.p("load_bytes_per_thread"));
}

double KernelMapper::inflight_bytes(double grid, double block, double per_thread) const {
  if (!(grid >= 1 && block >= 1)) return std::numeric_limits<double>::infinity();
  return std::min(grid, a_.units * blocks_per_unit(block)) * std::min(block, a_.p("max_threads_per_unit")) * per_thread;
}

bool parse_reduce_kernel(const std::string& name, ReduceLaunch& out) {
  auto at = name.find("reduce_kernel<");
  if (at == std::string::npos) return false;
  auto comma = name.find(',', at);
  auto op = name.find("ReduceOp<", at);
  if (comma == std::string::npos || op == std::string::npos) return false;
  ReduceLaunch r;
  try {
    r.output_vec = std::stod(name.substr(comma + 1, 4));
  } catch (const std::exception&) {
    return false;
  }
  std::string scalar = name.substr(op + 9, name.find(',', op) - op - 9);
  static const std::pair<const char*, double> sizes[] = {
      {"c10::BFloat16", 2}, {"c10::Half", 2}, {"double", 8}, {"long", 8}, {"float", 4}, {"int", 4},
      {"bool", 1}, {"unsigned char", 1}, {"signed char", 1}, {"c10::complex<float>", 8}};
  r.element_bytes = 4;
  for (auto& [n, b] : sizes)
    if (scalar.rfind(n, 0) == 0) { r.element_bytes = b; break; }
  if (!(r.output_vec >= 1 && r.output_vec <= 16)) return false;
  out = r;
  return true;
}

double reduce_bytes_per_thread(const ReduceLaunch& r) {
  const double vt0 = 4;  // Reduce.cuh: ReduceOp<..., int vt0 = 4, int input_vec_size = vt0>
  return vt0 * std::max(1.0, r.output_vec) * std::max(1.0, r.element_bytes);
}

double reduce_ctas_per_output(const ReduceLaunch& r, double grid, double block) {
  if (!(r.outputs >= 1 && grid >= 1 && block >= 1)) return 1;
  double lanes = std::min(32.0, block);  // a warp's lanes take outputs (block.x = warp size)
  double per_block = r.output_vec > 1 ? lanes * r.output_vec : std::max(1.0, block / 32.0);
  return std::max(1.0, std::floor(grid / std::ceil(r.outputs / per_block)));
}

double reduce_tail_round_trips(const ReduceLaunch& r, double grid, double block) {
  double ctas = reduce_ctas_per_output(r, grid, block);
  if (ctas <= 1) return 0;
  // output_vec > 1: threadIdx.y walks the partials (block / 32 warps); else every thread (block_x reduce).
  double readers = r.output_vec > 1 ? std::max(1.0, block / std::min(32.0, block)) : block;
  return 2.0 + std::ceil(ctas / readers);  // fence + semaphore atomic, then one staging load per step
}

KernelEstimate KernelMapper::reduction(const ReduceLaunch& r, double bytes, double grid, double block,
                                       double l2_hit) const {
  MemoryLaunch s;  // (all of a reduction's bytes are loads)
  s.bytes = bytes;
  s.inflight = inflight_bytes(grid, block, reduce_bytes_per_thread(r));
  s.lockstep = one_wave(grid, block);
  s.units = units_occupied(grid);
  s.load_fraction = 1.0;
  s.l2_hit = l2_hit;
  KernelEstimate e = memory_body(s);
  double l2_lat = l2_round_trip();
  double tail = reduce_tail_round_trips(r, grid, block) * l2_lat;
  e.overhead_s += tail;
  e.time_s += tail;
  return e;
}

KernelEstimate KernelMapper::memory_launch(double bytes, double vector_flops, double grid, double block,
                                           bool write_only, double simt_instructions, double l2_hit) const {
  MemoryLaunch s;
  s.bytes = bytes;
  s.vector_flops = vector_flops;
  s.inflight = inflight_bytes(grid, block);
  s.write_only = write_only;
  s.simt_instructions = simt_instructions;
  s.lockstep = one_wave(grid, block);
  s.units = units_occupied(grid);
  s.l2_hit = l2_hit;
  return memory_body(s);
}

KernelEstimate KernelMapper::serial_loads(double loads, double bytes, double grid, double block) const {
  if (!(loads >= 0) || !(bytes >= 0) || !std::isfinite(loads + bytes))
    throw make_error("kernel", "loads", "loads and bytes must be finite and not negative");
  KernelEstimate e;
  e.kind = "memory";
  e.engine = "memory";
  e.hbm_bytes = e.l2_bytes = bytes;
  double resident = grid >= 1 && block >= 1 ? inflight_bytes(grid, block, 1.0) : a_.units * a_.p("max_threads_per_unit");
  double round_trips_s = loads / resident * a_.p("hbm_latency");
  e.hbm_s = std::max(bytes / hbm_rate(), round_trips_s);
  e.overhead_s = a_.p("dispatch_latency");
  e.time_s = e.overhead_s + e.hbm_s;
  e.peak_flops = a_.vector_peak(a_.p("clock_boost"));
  finish(e);
  if (e.bound == "memory" && round_trips_s > bytes / hbm_rate()) e.bound = "latency";  // (the round trips bind)
  return e;
}

KernelEstimate KernelMapper::tiled_transform(double bytes, double grid, double block, double per_thread) const {
  MemoryLaunch s;
  s.bytes = bytes;
  s.inflight = inflight_bytes(grid, block, per_thread);
  s.lockstep = one_wave(grid, block);
  s.units = units_occupied(grid);
  s.load_fraction = 0.5;
  s.loads_known = true;
  return memory_body(s);
}

// An L2 hit's round trip: l2_latency where the description gives it, else the memory latency.
double KernelMapper::l2_round_trip() const {
  return a_.p("l2_latency") > 0 ? a_.p("l2_latency") : a_.p("hbm_latency");
}

bool KernelMapper::one_wave(double grid, double block) const {
  return grid >= 1 && block >= 1 && grid <= a_.units * blocks_per_unit(block);
}

// The block scheduler spreads a grid over the units one block each before doubling up: a grid of
// fewer blocks than units occupies that many units (0: unknown grid, the whole chip).
double KernelMapper::units_occupied(double grid) const {
  return grid >= 1 ? std::min(grid, a_.units) : 0.0;
}

double KernelMapper::simt_issue_rate() const {
  double per_clock = a_.p("simt_issue_per_clock") > 0 ? a_.p("simt_issue_per_clock") : a_.p("vector_fma_per_clock");
  return a_.units * per_clock * a_.p("clock_boost");
}

// Instructions per output element on the kernel's load/store path, counted from PyTorch's CUDA
// source (what each source line compiles to; no measurement enters). The functor's own arithmetic
// (1-2 instructions) overlaps the memory traffic and is left out.
//  - strided (Loops.cuh elementwise_kernel<nt, vt>; OffsetCalculator.cuh get(); IntegerDivider.cuh
//    divmod): per dimension, the divmod is 4 (mul.hi, add, shift, multiply-subtract), each
//    operand's offset one multiply-add, and the runtime exit of the loop unrolled to MAX_DIMS 2
//    (compare, branch); per operand a 64-bit address add (2) and the load or store (1); per
//    element the bounds check, index step and branch of the vt loop (3).
//  - unrolled (CUDALoops.cuh unrolled_elementwise_kernel, memory::policies::unroll): per operand
//    the address (2), the load or store (1) and the per-element bound check of the policy's
//    loops (2).
//  - vectorized (vectorized_elementwise_kernel, vec_size 4): per operand one address (2) and one
//    16-byte load or store (1) per 4 elements, the loop (2) per 4 elements. PyTorch takes this
//    path only without dynamic casting.
//  - dynamic casting (operand dtypes differ, unrolled and strided; c10 fetch_and_cast /
//    cast_and_store): per operand a switch over the ScalarType (range check, jump-table load,
//    indirect branch, convert, branch back: 8).
//  - cat (Shape.cu CatArrayBatchedCopy, CatArrIndexToOffset::compute): per dimension but the
//    outermost (Dims - 1), a division by a runtime size, which CUDA has no instruction for (20:
//    "Integer division and modulo operation are costly as they compile to up to 20 instructions",
//    CUDA C++ Programming Guide, Arithmetic Instructions), the remainder's multiply-subtract (1),
//    the select of the concatenated dimension's size (compare, select: 2) and the offset's
//    multiply-add (1); per element the outermost offset (1), two 64-bit addresses (4), the load
//    and the store (2), the contiguity branch (1) and the grid-stride loop (step, compare, branch: 3).
double elementwise_instructions_per_element(const ElementwiseLaunch& l) {
  double ops = std::max(1.0, l.operands), cast = l.dynamic_cast_ ? 8.0 * ops : 0.0;
  if (l.family == "cat") return std::max(0.0, l.dims - 1.0) * (20.0 + 1.0 + 2.0 + 1.0) + 11.0;
  if (l.family == "strided") return std::max(1.0, l.dims) * (4.0 + ops + 2.0) + ops * 3.0 + 3.0 + cast;
  if (l.family == "unrolled") return ops * 5.0 + cast;
  if (l.family == "vectorized") return (ops * 3.0 + 2.0) / 4.0;
  return 0;
}

// PyTorch's vectorized layer-norm forward (layer_norm_kernel.cu vectorized_layer_norm_kernel: one
// block a row; each thread walks the row's 4-element vectors `threads` apart twice, a Welford update
// with a reciprocal per element, then the normalising pass). Counted from the SASS that nvcc 13 +
// ptxas 11.8 emit for sm_90 from the restatement validation/sass/layer_norm_forward.cu (regions.py
// address ranges, the reciprocal's slow path not taken): per warp, whatever its trip count,
//   21 (entry) + 37 (first pass's set-up) + 2 + 131 (the five shuffle-down Welford combines)
//   + 10 + 50 per shared-memory level over the warps (log2 of the warps a block) + 84 (the row's
//   statistics, rsqrt, the second pass's set-up) + 6 + 11 (exit);
// per trip of a thread's loops, 68 (4 Welford updates) + 44 (the normalised store) in the remainder
// loops, and 253 + 110 per 4 trips in the loops the compiler unrolls by 4. A warp runs as many trips
// as its first thread: ceil((vectors - first thread) / threads).
double layer_norm_forward_warp_instructions(double row, double threads) {
  if (!(row >= 4) || std::fmod(row, 4.0) != 0 || !(threads >= 32) || !std::isfinite(row + threads)) return 0;
  const double vectors = row / 4, warps = std::ceil(threads / 32);
  const double levels = warps > 1 ? std::ceil(std::log2(warps)) : 0;
  const double fixed = 21 + 37 + 2 + 131 + 10 + 50 * levels + 84 + 6 + 11;
  double total = 0;
  for (double w = 0; w < warps; ++w) {
    double trips = std::max(0.0, std::ceil((vectors - 32 * w) / threads));
    double unrolled = std::floor(trips / 4), rest = trips - 4 * unrolled;
    total += fixed + rest * (68 + 44) + unrolled * (253 + 110);
  }
  return total;
}

namespace {
// The number a kernel name's template argument list holds at `at` (up to 4 characters), 0 when
// there is none or it lies outside [lo, hi].
double template_number(const std::string& name, std::size_t at, double lo, double hi) {
  double v = 0;
  try {
    v = std::stod(name.substr(at, 4));
  } catch (const std::exception&) {
    return 0;
  }
  return v >= lo && v <= hi ? v : 0;
}
}  // namespace

double elementwise_vt(const std::string& name) {
  // elementwise_kernel<nt, vt, ...> (Loops.cuh launch_legacy_kernel<128, vt>); unrolled_elementwise_kernel<
  // func, std::array<char*, N>, elems_per_thread, ...> (CUDALoops.cuh launch_unrolled_kernel)
  std::string::size_type at = std::string::npos;
  if (name.find("unrolled_elementwise_kernel<") != std::string::npos) {
    auto arr = name.find("std::array<char*");
    if (arr != std::string::npos) at = name.find('>', arr);
    if (at != std::string::npos) at = name.find(',', at);
  } else if (auto k = name.find("elementwise_kernel<"); k != std::string::npos &&
             name.find("vectorized_elementwise_kernel<") == std::string::npos) {
    at = name.find(',', k);
  }
  return at == std::string::npos ? 0 : template_number(name, at + 1, 1, 64);
}

// Serial loads (one element's loads in flight per thread), from PyTorch's source:
//  - dynamic casting (unrolled and strided with LoadWithCast / gpu_kernel_impl's casting lambda):
//    c10/core/DynamicCast.h fetch_and_cast is a switch over the source ScalarType whose every case
//    is `return c10::convert<dest_t>(c10::load<type>(ptr))`: the loaded value is converted inside
//    the case, before the branch joins and the next element's switch runs, so each element's load
//    completes (one memory round trip) before the next element's load issues.
//  - the generic strided kernel (Loops.cuh elementwise_kernel<nt, vt>: `for i < vt: f(idx)`, f
//    loading the inputs and storing the output through char* pointers): the next element's loads
//    may alias this element's store and are not moved above it, so they wait for it.
// The unrolled kernel without casts loads all its elems_per_thread elements before computing
// (MemoryAccess.cuh policies::unroll::load), and the vectorized one issues vec_size-wide loads.
bool elementwise_serial_loads(const ElementwiseLaunch& l) {
  // (cat's loop, `output[...] = data[tid]` through two T*, is the strided kernel's case)
  return l.family == "strided" || l.family == "cat" || (l.family == "unrolled" && l.dynamic_cast_);
}

double cat_kernel_dims(const std::string& name) {
  auto at = name.find("CatArrayBatchedCopy<");
  if (at == std::string::npos) return 0;
  // <T, IndexType, Dims, ...>: T itself may hold commas only inside its own <...>
  int depth = 0, commas = 0;
  for (auto i = at + 20; i < name.size(); ++i) {
    char c = name[i];
    if (c == '<') ++depth;
    else if (c == '>' && depth-- == 0) return 0;
    else if (c == ',' && depth == 0 && ++commas == 2)
      return template_number(name, i + 1, 1, 8);
  }
  return 0;
}

double elementwise_bytes_in_flight(const ElementwiseLaunch& l) {
  if (!(l.load_bytes > 0) || l.family == "vectorized" || l.family.empty()) return 0;
  // (with casts each operand's fetch_and_cast converts before the next operand's switch: one
  // operand's load at a time, on average load_bytes / inputs; without, an element's loads go together)
  if (l.dynamic_cast_) return l.load_bytes / std::max(1.0, l.operands - 1);
  if (elementwise_serial_loads(l)) return l.load_bytes;
  return l.vt >= 1 ? l.vt * l.load_bytes : 0;
}

KernelEstimate KernelMapper::elementwise(const ElementwiseLaunch& l, double bytes, double grid, double block,
                                         double l2_hit) const {
  if (!(l.numel >= 0) || !std::isfinite(l.numel)) throw make_error("elementwise", "numel", "must be finite and not negative");
  double instructions = l.numel * elementwise_instructions_per_element(l);
  // (a functor of no input, ATen/native/cuda/FillKernel.cu FillFunctor::operator()(), loads nothing:
  // its stores are posted, no load round trip, as a memset)
  if (l.stores_only) return memory_launch(bytes, 0, grid, block, true, instructions, 0);
  double per_thread = elementwise_bytes_in_flight(l);
  if (!(per_thread > 0) && l.strided.empty()) return memory_launch(bytes, 0, grid, block, false, instructions, l2_hit);
  // its loads are the input operands' bytes (load_bytes per element), not half the traffic
  MemoryLaunch s;
  s.bytes = bytes;
  s.inflight = per_thread > 0 ? inflight_bytes(grid, block, per_thread) : inflight_bytes(grid, block);
  s.simt_instructions = instructions;
  s.lockstep = one_wave(grid, block);
  s.units = units_occupied(grid);
  s.loads_known = l.load_bytes > 0 && bytes > 0;
  s.load_fraction = s.loads_known ? std::clamp(l.numel * l.load_bytes / bytes, 0.0, 1.0) : 0.5;
  s.l2_hit = l2_hit;
  strided_sectors(l, s);
  return memory_body(s);
}

// A warp whose threads touch elements `stride_bytes` apart moves one l2_sector_bytes sector per
// element (CUDA C++ Best Practices Guide, "Coalesced Access to Global Memory": strided accesses
// move 32-byte segments of which they use the element), min(sector, stride) bytes crossing the L2
// ports where elem_bytes would do. The sector's other elements are walked reuse_elems output
// elements later (a transpose's next row); while the sectors in between fit in the L2 (a
// partition's share) they are read again from it, else HBM moves every sector again. A strided
// store moves its sectors through the L2 ports alike, but the L2 is a write-back cache: the
// sector's other elements, written by the same kernel's later rows or by the kernel that fills
// the other half of an interleave, merge there before it is written back once.
void KernelMapper::strided_sectors(const ElementwiseLaunch& l, MemoryLaunch& s) const {
  const double sector = a_.p("l2_sector_bytes");
  const double l2 = a_.l2_size / std::max(1.0, a_.p("l2_partitions"));
  for (const auto& o : l.strided) {
    double moved = std::min(sector, std::abs(o.stride_bytes));
    if (!(moved > o.elem_bytes) || !(l.numel > 0)) continue;
    double extra = l.numel * (moved - o.elem_bytes);
    s.sector_l2_bytes += extra;
    if (!o.store && (!(o.reuse_elems > 0) || o.reuse_elems * moved > l2)) s.sector_hbm_bytes += extra;
  }
}

KernelEstimate KernelMapper::memory_body(const MemoryLaunch& s) const {
  const double bytes = s.bytes, vector_flops = s.vector_flops, inflight = s.inflight, load_fraction = s.load_fraction;
  const bool l2_resident = s.l2_resident, write_only = s.write_only, lockstep = s.lockstep;
  KernelEstimate e;
  e.kind = "memory";
  e.engine = "memory";
  double loads = load_fraction * bytes;
  double l2_hit = l2_resident ? loads : std::clamp(s.l2_hit, 0.0, bytes);  // (the caller knows its loads)
  e.hbm_bytes = l2_resident ? 0 : bytes - l2_hit + s.sector_hbm_bytes;
  e.l2_bytes = bytes + s.sector_l2_bytes;
  e.flops = vector_flops;
  e.hbm_s = e.hbm_bytes / hbm_rate();
  // Little's law: the loads move in rounds of `inflight` bytes, one memory round trip each (the
  // first is in the overhead). Only loads wait (stores are posted); without the read/write split,
  // half the bytes are loads (a copy's share, the smallest of a streaming kernel); a reduction's
  // bytes are all loads (load_fraction 1).
  // A grid that is resident in one wave and loops over its data (each thread issues a batch of
  // loads, consumes it, then issues the next: Reduce.cuh thread_reduce's vt0 batches,
  // layer_norm_kernel.cu GammaBetaBackwardCUDAKernelTemplate's rows_per_block_y batches) starts all
  // its threads together and no later block hides their round trips: each round pays its latency
  // before its bytes stream (the non-overlapped form), where a many-wave grid's staggered blocks
  // overlap them (the max form).
  // (loads that hit L2 are not waited on HBM's latency)
  double rounds = std::max(0.0, loads - l2_hit) / inflight - 1.0;
  // A grid on fewer units than the chip has draws on the L2 through those units' ports only
  // (l2_port_bandwidth each; by default the chip's L2 rate split over its units, the whitepapers
  // quoting it for the whole L2). Every byte, from HBM or L2, reaches an SM through them; the
  // SIMT instructions issue on those units alone.
  const double unit_share = s.units > 0 ? std::min(1.0, s.units / a_.units) : 1.0;
  const double port_rate = a_.port_bandwidth(s.units);
  e.hbm_s = std::max(e.hbm_s, e.hbm_bytes / port_rate);
  double bandwidth_s = e.hbm_s, latency_s = 0;  // (the many-wave form keeps them apart: below)
  if (!write_only && std::isfinite(inflight) && !l2_resident && rounds > 0) {
    latency_s = rounds * a_.p("hbm_latency");
    // (a lockstep round whose loads are known costs its loads' transfer plus the round trip: the
    // posted stores drain while the next round's loads travel; unknown loads: all bytes wait)
    double waited_s = s.loads_known ? std::max(0.0, loads - l2_hit) / std::min(hbm_rate(), port_rate) : e.hbm_s;
    e.hbm_s = lockstep ? std::max(e.hbm_s, waited_s + latency_s) : std::max(e.hbm_s, latency_s);
    if (lockstep) latency_s = 0;
  }
  e.l2_s = e.l2_bytes / port_rate;
  e.compute_s = vector_flops / a_.vector_peak(a_.p("clock_boost"));
  // the first round trip: none for posted stores, one L2 hit when every load is resident (the
  // data already in L2, or every load a hit)
  double l2_lat = l2_round_trip();
  bool all_hit = l2_resident || (loads > 0 && l2_hit >= loads);
  e.overhead_s = a_.p("dispatch_latency") + (write_only ? 0.0 : all_hit ? l2_lat : a_.p("hbm_latency"));
  // The load/store path's instructions (index math, address, casts) do not overlap the data
  // transfer they feed (the ECM model's non-overlapping part: Stengel, Treibig, Hager, Wellein,
  // ICS 2015): the streaming time is their issue time plus the transfer time. A many-wave grid
  // bound by its round trips (Little's law) instead waits with its issue slots idle: a thread's
  // own instructions per element (tens of cycles) hide under the round trip (hundreds), so that
  // bound stands beside the ECM sum, not added to it. A lockstep grid pays each round's issue
  // burst after its round trip (added, as its transfer).
  double issue_s = s.simt_instructions > 0 ? s.simt_instructions / (simt_issue_rate() * unit_share) : 0.0;
  double stream_s = lockstep || issue_s <= 0 ? std::max(e.hbm_s, e.l2_s) + issue_s
                                             : std::max(std::max(bandwidth_s, e.l2_s) + issue_s, latency_s);
  e.time_s = e.overhead_s + std::max(stream_s, e.compute_s);
  e.peak_flops = a_.vector_peak(a_.p("clock_boost"));
  finish(e);
  // (issue-bound: the transfer + issue sum binds and the issue is its larger part; a many-wave
  // grid's transfer is its bandwidth time, the round trips being the other bound)
  double transfer_s = lockstep ? e.hbm_s : bandwidth_s;
  if (issue_s > 0 && e.bound != "latency" && stream_s >= e.compute_s && issue_s >= std::max(transfer_s, e.l2_s) &&
      stream_s > latency_s)
    e.bound = "issue";
  e.issue_s = issue_s;
  if (e.bound == "memory" || e.bound == "l2" || e.bound == "latency" || e.bound == "issue")
    e.fraction_of_peak = bytes / e.time_s / (l2_resident ? a_.onchip_bandwidth() : a_.hbm_bandwidth);
  return e;
}

}  // namespace orrery
