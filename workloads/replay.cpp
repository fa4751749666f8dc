#include "workloads/replay.h"
#include "sim/data_files.h"
#include "workloads/ingest_probe.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <unordered_map>

#include "hw_models/arch.h"
#include "hw_models/calibrate.h"
#include "hw_models/gpu.h"
#include "hw_models/mapping.h"
#include "hw_models/power.h"
#include "hw_models/transfer.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/timeline.h"
#include "workloads/bundle_graph.h"
#include "workloads/bundle_timeline.h"
#include "workloads/host_cost.h"
#include "workloads/op_cost.h"
#include "sim/components/plugin.h"
#include "sim/executor.h"
#include "workloads/collective.h"
#include "workloads/json_io.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

ReplayMode parse_replay_mode(const std::string& s) {
  if (s == "measured") return ReplayMode::Measured;
  if (s == "roofline") return ReplayMode::Roofline;
  if (s == "transfer") return ReplayMode::Transfer;
  throw make_error("--mode", s, "unknown replay mode (measured, roofline, transfer)");
}

const char* replay_mode_name(ReplayMode m) {
  switch (m) {
    case ReplayMode::Measured: return "measured";
    case ReplayMode::Roofline: return "roofline";
    case ReplayMode::Transfer: return "transfer";
  }
  return "?";
}

namespace {

// Roofline components (hw_models/transfer.h) of one device activity on one accelerator.
// kernels_of_op: kernels of the op that do its main work (GEMM/attention kernels of a matrix op,
// all kernels otherwise); helper = a side kernel of a matrix op (memset, cast, reduce).
bool is_attention_side_kernel(const std::string& n) {
  for (const char* s : {"dot_do_o", "convert_dq", "reduce_head", "clear_dQaccum", "clear_dq"})
    if (n.find(s) != std::string::npos) return true;
  return false;
}

// Side kernels of a GEMM or convolution op that cuBLAS and cuDNN name like GEMM kernels but that
// do not do its matrix work: split-K reductions (cuBLASLt's splitKreduce_kernel, CUTLASS's
// ReduceSplitK, cuDNN's reduce_wgrad_*), workspace initialisation (init_device_workspace_kernel),
// cuBLAS's separate beta scaling (scal_kernel) and epilogue (cublasLt::epilogue::impl::globalKernel).
enum class MatrixSide { None, Reduce, Workspace, Epilogue };
MatrixSide matrix_side_kernel(const std::string& n) {
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("splitKreduce") || has("ReduceSplitK") || has("reduce_wgrad")) return MatrixSide::Reduce;
  if (has("init_device_workspace")) return MatrixSide::Workspace;
  if (has("scal_kernel") || has("epilogue::impl::globalKernel")) return MatrixSide::Epilogue;
  return MatrixSide::None;
}

// PyTorch's elementwise kernel `name` moving `bytes` (its share of the op's), its load/store path's
// SIMT instructions for its share of the op's elements added to the transfer
// (KernelMapper::elementwise), mapped by `m`. False when `name` is not one of those kernels.
bool elementwise_estimate(const KernelMapper& m, const OpWork& w, const std::string& name, double share, double bytes,
                          double grid, double block, double l2_hit, KernelEstimate& e) {
  ElementwiseLaunch l;
  l.family = elementwise_family(name);
  if (l.family.empty() || !(w.ew_numel > 0) || !(bytes > 0)) return false;
  l.numel = w.ew_numel * share;
  l.dims = l.family == "cat" && cat_kernel_dims(name) > 0 ? cat_kernel_dims(name) : w.ew_dims;
  l.operands = w.ew_operands;
  l.dynamic_cast_ = w.ew_mixed_dtypes;
  l.vt = elementwise_vt(name);
  l.load_bytes = w.in_bytes > 0 ? w.in_bytes / w.ew_numel : 0;  // the op's loads per output element
  l.stores_only = !(w.in_bytes > 0);  // an op that reads nothing (fill_, zero_: op_cost's write-only ops)
  for (std::size_t i = 0; i < w.ew_access.size(); ++i) {  // (operand 0: the output)
    const IterAccess& a = w.ew_access[i];
    if ((a.inner_stride > 1 || a.inner_stride < -1) && a.elem_bytes > 0)
      l.strided.push_back({std::abs(double(a.inner_stride)) * a.elem_bytes, a.elem_bytes, a.reuse_elems, i == 0});
  }
  e = m.elementwise(l, bytes, grid, block, l2_hit);
  return true;
}

// First-principles mode: the elementwise kernel's mapped time.
bool elementwise_roof(const Accelerator& hw, const OpWork& w, const std::string& name, double share, double bytes,
                      double grid, double block, Roof& r, double l2_hit) {
  KernelEstimate e;
  if (!hw.mapper || !elementwise_estimate(*hw.mapper, w, name, share, bytes, grid, block, l2_hit, e)) return false;
  r.tm = e.time_s;
  r.issue_bound = e.bound == "issue";
  return true;
}

// Calibrated mode: the curves know bytes, not instructions. PyTorch's non-vectorized elementwise
// kernels (strided, unrolled) take at least what the preset's architecture description gives them:
// their SIMT instructions per element (index math, dynamic casts) on top of their transfer
// (KernelMapper::elementwise, the ECM sum), from PyTorch's source. (The vectorized kernels are what
// the memory curve measured; reduce_kernel's round trips: roof_of.)
void calibrated_lower_bounds(const Accelerator& hw, const OpWork& w, const DeviceActivity& d, double share,
                            double grid, double block, Roof& r) {
  if (hw.mapper || !hw.arch_mapper) return;
  const KernelMapper& m = *hw.arch_mapper;
  // (a launch on fewer units than the chip is not what the full-chip curves measured: its transfer
  // takes at least what its own units' share of the L2 and its round trips give
  // (KernelMapper::memory_launch without the dispatch and first round trip, which the curve's
  // measured floor, min_kernel_time, already holds)
  if (grid >= 1 && block >= 1 && m.units_occupied(grid) < m.arch().units && w.bytes * share > 0) {
    KernelEstimate e = m.memory_launch(w.bytes * share, 0, grid, block);
    r.tm = std::max(r.tm, e.time_s - e.overhead_s);
  }
  if (std::string(elementwise_family(d.name)) == "vectorized") return;
  KernelEstimate e;
  if (elementwise_estimate(m, w, d.name, share, w.bytes * share, grid, block, 0, e) && e.time_s > r.tm) {
    r.tm = e.time_s;
    r.issue_bound = e.bound == "issue";
  }
}

// PyTorch's native batch-norm kernels (ATen native/cuda/Normalization.cuh, both layouts): each
// thread walks its share of x's rows in a scalar loop (Welford statistics, the transform, the
// backward sums), one element's load in flight per thread per pass. A grid of few blocks (NCHW:
// one per channel) then waits one memory round trip per element it walks (Little's law): far below
// HBM bandwidth. Each kernel moves its own traffic (in units of x; not an even share of the op's):
struct NormKernel {
  const char* name;
  double loads, stores, passes;
};
const NormKernel kNormKernels[] = {
    {"batch_norm_collect_statistics", 1, 0, 1},  // x -> mean, invstd
    {"batch_norm_transform_input", 1, 1, 1},     // x -> y
    {"batch_norm_backward_reduce", 2, 0, 1},     // dy, x -> the two sums (two loads per round)
    {"batch_norm_backward_elemt", 2, 1, 1},      // dy, x -> dx
    {"batch_norm_backward_kernel", 4, 1, 2},     // NCHW: the sums' pass, then dx's
};

// The preset's architecture description as a mapper: first-principles mode's, else calibrated
// mode's (its lower bounds); null for a preset without one.
const KernelMapper* description(const Accelerator& hw) {
  return hw.mapper ? hw.mapper.get() : hw.arch_mapper.get();
}

// A kernel of a batch-norm op (op_cost.cpp batch_norm_work): the native kernels above, or, in a
// training or backward op, the small per-channel kernels beside them (running statistics: ~6
// C-sized fp32 vectors). cuDNN's and the eval path's elementwise kernels: false (the op's share).
bool batch_norm_kernel_roof(const Accelerator& hw, const DeviceActivity& d, const OpWork& w, Roof& r) {
  if (!(w.norm_numel > 0) || d.name.find("cudnn") != std::string::npos || w.model == "batch_norm-eval") return false;
  const NormKernel* k = nullptr;
  for (const auto& c : kNormKernels)
    if (d.name.find(c.name) != std::string::npos) k = &c;
  double xb = w.norm_numel * w.norm_elem_bytes;
  if (!k) {
    r = memory_roof(hw, 6 * 4 * w.norm_channels);
    return true;
  }
  r = memory_roof(hw, (k->loads + k->stores) * xb);
  if (const KernelMapper* m = description(hw); m && d.grid > 0 && d.block > 0) {
    double rounds = k->passes * xb / m->inflight_bytes(double(d.grid), double(d.block), w.norm_elem_bytes);
    r.tm = std::max(r.tm, rounds * m->arch().p("hbm_latency"));
  }
  return true;
}

// Kernels whose threads wait on one load at a time (OpWork::Serial: PyTorch's max pooling, the
// loss's single-block reductions, embedding backward's summing and feature kernels): the chip keeps
// one load per resident thread in flight and each round of them waits a memory round trip
// (Little's law, KernelMapper::serial_loads), far below HBM bandwidth (max pooling's windows
// overlap: most loads hit L2, but with every resident thread waiting on one, the wait is the
// loaded memory system's, hbm_latency). An NCHW pooling launch puts
// consecutive width positions in a warp, which runs its longest thread's loops; an NHWC launch
// puts channels there (uniform).
bool serial_kernel_roof(const Accelerator& hw, const DeviceActivity& d, const OpWork& w, Roof& r) {
  const OpWork::Serial& s = w.serial;
  auto names = [&](std::string_view k) { return !k.empty() && d.name.find(k) != std::string::npos; };
  bool second = !names(s.kernel) && names(s.kernel2);
  if (!names(s.kernel) && !second) return false;
  double elems = s.per_launched_thread ? double(d.grid) * double(d.block) : s.elems;
  if (!(elems > 0)) return false;
  double bytes = s.bytes > 0 ? s.bytes : w.bytes;
  r = memory_roof(hw, bytes);
  if (const KernelMapper* m = description(hw); m && d.grid > 0 && d.block > 0) {
    double per = second ? s.loads2 : d.name.find("nchw") != std::string::npos ? s.loads_warp : s.loads;
    KernelEstimate e = m->serial_loads(elems * per, bytes, double(d.grid), double(d.block));
    // (calibrated mode: at least the round trips; the curve's floor already holds the dispatch)
    r.tm = hw.mapper ? e.time_s : std::max(r.tm, e.time_s - e.overhead_s);
  }
  return true;
}

// cuDNN's NCHW<->NHWC layout transforms around a convolution of NCHW tensors (nchwToNhwcKernel,
// nhwcToNchwKernel): one block of 256 threads per 32 x 32 tile of (spatial, channels) per leading
// index (Kineto's grid: [ceil(spatial / 32), ceil(channels / 32), lead]), 4 elements per thread.
// The tensor a launch converts (input, weight, output or their gradients, which have the same
// shapes) is the one whose tile count is the launch's grid; it reads and writes that tensor once.
// A tile only partly filled (3 input channels of 32) keeps only that fraction of its threads' loads
// in flight (Little's law, KernelMapper::tiled_transform). False: not such a launch, or no tensor
// of the op has its grid.
bool conv_transform_roof(const Accelerator& hw, const DeviceActivity& d, const OpWork& w, Roof& r) {
  if (w.layout_tensors.empty() || d.grid <= 0 ||
      (d.name.find("nchwToNhwc") == std::string::npos && d.name.find("nhwcToNchw") == std::string::npos))
    return false;
  const double tile = 32.0 * 32.0;
  for (const auto& t : w.layout_tensors) {
    double tiles = std::ceil(t.spatial / 32.0) * std::ceil(t.channels / 32.0) * t.lead;
    if (!(tiles == double(d.grid))) continue;
    double eb = std::max(1, dtype_bytes(w.dtype)), numel = t.lead * t.channels * t.spatial;
    r = memory_roof(hw, 2 * numel * eb);
    if (const KernelMapper* m = description(hw); m && d.block > 0) {
      double per_thread = tile / double(d.block) * eb * (numel / (tiles * tile));
      double t_s = m->tiled_transform(2 * numel * eb, double(d.grid), double(d.block), per_thread).time_s;
      r.tm = hw.mapper ? t_s : std::max(r.tm, t_s);
    }
    return true;
  }
  return false;
}

// The vector width, in elements, a CUTLASS-generated kernel was compiled for (`..._nn_align2`,
// `..._nhwc_align8`: cuBLAS's and cuDNN's kernel names); 0 when the name does not say.
double kernel_alignment(const std::string& name) {
  for (auto at = name.find("_align"); at != std::string::npos; at = name.find("_align", at + 1)) {
    std::size_t i = at + 6, j = i;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    if (j > i && j - i <= 2) return std::stod(name.substr(i, j - i));
  }
  return 0;
}

// A 16-bit GEMM or convolution whose leading dimensions are not 16 bytes aligned runs cuBLAS's or
// cuDNN's narrower-load kernels (on Hopper: no TMA/wgmma; cutlass_80_..._align2): the preset's
// measured slowdown (gemm_align*_slowdown, from validation/capture/gemm_align.py). The alignment
// is the op's (its operands' leading dimensions) or, when smaller, the one the kernel's name
// declares: cuDNN runs an NCHW 1x1 convolution as a GEMM over the image's pixels, 7 x 7 = 49 of
// them a row, which no tensor shape of the op shows as misaligned.
double misaligned_slowdown(const Accelerator& hw, const OpWork& w, const std::string& kernel) {
  double align = w.align_elems;
  if (double named = kernel_alignment(kernel); named > 0) align = std::min(align, named);
  if (align >= 8 || dtype_bytes(w.dtype) != 2) return 1.0;
  return align >= 2 ? hw.p("gemm_align2_slowdown") : hw.p("gemm_align1_slowdown");
}

// multi_tensor_apply's launches (ATen native/cuda/MultiTensorApply.cuh: one block per chunk of
// kChunkSize = 65536 elements, a launch whenever depth_to_max_blocks (320) blocks or
// depth_to_max_tensors tensors fill up; the last launch takes what is left) move bytes in
// proportion to their blocks, not an even share of the op's: `share` overrides the even split.
bool is_multi_tensor_apply(const std::string& n) { return n.find("multi_tensor_apply_kernel") != std::string::npos; }

// A side kernel of a matrix or attention op (OpKernels::helper): what it moves of its own. Of an
// attention op: the dQ conversion, the fp32 dQ accumulator in and dQ out; the dO.O row sums, dO
// and O in and that accumulator zeroed; a GQA head reduction, two q-sized tensors. Of a
// convolution, its layout transforms; a split-K reduction reads at least two fp32 partials of the
// output and writes it; an epilogue or beta scaling reads and writes the output; anything else
// (workspace initialisation, a GEMM's memset) is latency.
Roof side_kernel_roof(const Accelerator& hw, const DeviceActivity& d, const OpWork& w) {
  Roof r;
  double grid = double(d.grid), block = double(d.block);
  if (w.dq_convert_bytes > 0 && d.name.find("convert_dq") != std::string::npos)
    return memory_roof(hw, w.dq_convert_bytes, 0, grid, block);
  if (w.dot_do_o_bytes > 0 && d.name.find("dot_do_o") != std::string::npos)
    return memory_roof(hw, w.dot_do_o_bytes, 0, grid, block);
  if (conv_transform_roof(hw, d, w, r)) return r;
  double out_b = w.out_elems * std::max(1, dtype_bytes(w.dtype));
  MatrixSide side = matrix_side_kernel(d.name);
  if (side == MatrixSide::Reduce && out_b > 0) return memory_roof(hw, 2 * 4 * w.out_elems + out_b, 0, grid, block);
  if (side == MatrixSide::Epilogue && out_b > 0) return memory_roof(hw, 2 * out_b, 0, grid, block);
  if (side == MatrixSide::None && w.side_bytes > 0) return memory_roof(hw, w.side_bytes, 0, grid, block);
  r.known = true;
  return r;
}

// PyTorch's vectorized layer-norm forward issues a fixed count of instructions a row, most of them
// the Welford updates and the shuffle and shared-memory reductions over the block
// (layer_norm_forward_warp_instructions, counted from its SASS), whatever the memory: its time is
// at least that issue at the description's rate plus the dispatch, in both hardware models.
void layer_norm_issue_floor(const Accelerator& hw, const OpWork& w, const DeviceActivity& d, double grid,
                            double block, Roof& r) {
  const KernelMapper* m = description(hw);
  if (!m || !(grid >= 1) || !(block >= 32) || d.name.find("vectorized_layer_norm_kernel") == std::string::npos) return;
  double per_row = layer_norm_forward_warp_instructions(w.norm_row, block);
  if (!(per_row > 0)) return;
  double t = m->arch().p("dispatch_latency") + grid * per_row * 32.0 / m->simt_issue_rate();
  if (t > r.tm) {
    r.tm = t;
    r.issue_bound = true;
  }
}

Roof roof_of(const DeviceActivity& d, const OpWork* w, int kernels_of_op, bool helper, const Accelerator& hw,
             double l2_hit = 0, double share_of_op = 0) {
  Roof r;
  if (d.kind == DevKind::Memcpy) {
    if (d.copy_kind == "HtoD" || d.copy_kind == "DtoH") {
      r.known = true;
      r.tl = hw.p("host_link_latency") * 0.0 + d.bytes / hw.p("host_link_bandwidth");
    } else {
      r = memory_roof(hw, 2 * d.bytes);  // device-to-device: read + write
    }
    r.bytes = d.bytes;
    return r;
  }
  if (d.kind == DevKind::Memset) return memory_roof(hw, d.bytes, 0, 0, 0, true);
  if (!w || !w->known) return r;
  if (helper) return side_kernel_roof(hw, d, *w);
  if (batch_norm_kernel_roof(hw, d, *w, r) || serial_kernel_roof(hw, d, *w, r)) return r;
  double share = share_of_op > 0 ? share_of_op : 1.0 / std::max(1, kernels_of_op);
  if (w->matrix && w->m > 0) {
    // Whole-GEMM time (efficiency depends on the whole problem), split across its kernels.
    r = gemm_roof(hw, w->m, w->n, w->k, w->dtype, w->batch, w->bytes, share);
    r.tc *= misaligned_slowdown(hw, *w, d.name);
  } else if (w->matrix) {
    r.tc = w->flops / (hw.peak_flops(w->dtype) * hw.gemm_efficiency(w->dtype, w->flops)) * share;
    r.tm = hbm_time(hw, w->bytes) * share;
  } else if (w->attention) {
    double t = hw.attention_time(w->flops, w->bytes, w->dtype, &w->attn);
    r.tc = t * share;
    r.tm = hbm_time(hw, w->bytes) * share;
  } else {
    // Memory-bound op: its bytes split across its kernels; efficiency by the per-kernel size.
    // (the launch bounds the bytes in flight only when the kernel is the op's only one: else the
    // op's bytes are split evenly and a small helper launch would carry a share it does not move)
    // (layer norm backward: each of its two kernels streams dY and X, op_cost.cpp
    // layer_norm_backward_work, so the even split is each kernel's own traffic)
    bool own = kernels_of_op == 1 || w->model == "layer_norm-bwd";
    double grid = own ? double(d.grid) : 0.0, block = own ? double(d.block) : 0.0;
    // (first-principles: l2_hit, the op's input bytes an earlier kernel left in L2, stream from L2)
    double hit = l2_hit * share;
    r = memory_roof(hw, w->bytes * share, w->flops * share, grid, block, false, hit);
    r.tm /= family_efficiency(hw, d.name);  // unrolled / strided elementwise kernels stream slower
    elementwise_roof(hw, *w, d.name, share, w->bytes * share, grid, block, r, hit);
    // (PyTorch's reduce_kernel keeps its own loads in flight: Reduce.cuh, KernelMapper::reduction;
    // first-principles mode takes its time, calibrated mode the larger of it and the curve's)
    ReduceLaunch rl;
    if (description(hw) && grid > 0 && block > 0 && parse_reduce_kernel(d.name, rl)) {
      rl.outputs = w->ew_numel;
      double t = description(hw)->reduction(rl, w->bytes * share, grid, block, hw.mapper ? hit : 0).time_s;
      r.tm = hw.mapper ? t : std::max(r.tm, t);
    }
    calibrated_lower_bounds(hw, *w, d, share, grid, block, r);
    layer_norm_issue_floor(hw, *w, d, grid, block, r);
  }
  r.known = true;
  r.flops = w->flops * share;
  r.bytes = w->bytes * share;
  return r;
}

// Energy model (docs/replay.md "Energy"): the time a kernel keeps the chip at full dynamic power is
// its work's roofline time, max(compute, memory), on the target: independent of the replay mode
// and of how long the kernel is simulated to take. Without a work model (unknown op, latency-bound
// side kernel, memset of a GEMM) it is its duration t_ref (measured, transferred to the target) x
// the share of the chip its class keeps busy (1 for GEMM/attention, 0.8 otherwise).
double energy_active_time(const Roof& rt, const std::string& cls, double t_ref) {
  double work = rt.known ? std::max(rt.tc, rt.tm) : 0.0;
  if (work > 0) return work;
  return t_ref * (cls == "gemm" || cls == "attention" ? 1.0 : 0.8);
}

}  // namespace

namespace {

// Kernel classes, memoized: classify_kernel scans the name for dozens of patterns, so once per
// distinct (kernel, op, kind), keyed by the interned names' identities.
class KernelClasses {
 public:
  const Name& operator()(const Name& kernel, const Name& op, DevKind kind) {
    auto key = std::make_tuple(kernel.id(), op.id(), static_cast<int>(kind));
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, Name(classify_kernel(kernel, op, kind))).first;
    return it->second;
  }

 private:
  std::map<std::tuple<const std::string*, const std::string*, int>, Name> cache_;
};

// Each op's work model and its main kernels (flat arrays over the ops: a 1M-kernel trace has 1M
// ops). A helper is a side kernel of a matrix op (memset, cast, reduce), not one doing its work.
struct OpKernels {
  std::vector<int> work_of;           // op -> index into work, -1: none
  std::vector<OpWork> work;
  std::vector<int> main_kernels;      // per op
  std::vector<double> main_dur;       // per op: measured time of its main kernels
  std::vector<double> mta_blocks;     // per op: blocks of its multi_tensor_apply launches
  std::vector<bool> helper;           // per device activity
  std::vector<double> l2_hit;         // per op (first-principles): input bytes in L2 when it starts (l2_reuse)
  const OpWork* of(const DeviceActivity& d) const {
    return d.op >= 0 && work_of[static_cast<size_t>(d.op)] >= 0 ? &work[static_cast<size_t>(work_of[static_cast<size_t>(d.op)])] : nullptr;
  }
};

void model_op_work(const CapturedStep& st, OpKernels& k) {
  k.work_of.assign(st.ops.size(), -1);
  for (auto& d : st.device) {
    if (d.op < 0 || d.kind != DevKind::Kernel || k.work_of[static_cast<size_t>(d.op)] >= 0) continue;
    const EtOp& op = st.ops[static_cast<size_t>(d.op)];
    try {
      k.work.push_back(op_work(op));
      softmax_kernel_bytes(k.work.back(), d.name);
      k.work_of[static_cast<size_t>(d.op)] = static_cast<int>(k.work.size() - 1);
    } catch (const Error& e) {  // impossible shapes: which file and node
      throw make_error(st.et_path.empty() ? st.kineto_path : st.et_path,
                       "node " + std::to_string(op.id) + " (" + op.name + ")", e.what());
    }
  }
}

OpKernels op_kernels(const CapturedStep& st, KernelClasses& classify) {
  OpKernels k;
  model_op_work(st, k);
  k.main_kernels.assign(st.ops.size(), 0);
  k.main_dur.assign(st.ops.size(), 0.0);
  k.mta_blocks.assign(st.ops.size(), 0.0);
  k.helper.assign(st.device.size(), false);
  for (size_t i = 0; i < st.device.size(); ++i) {
    const DeviceActivity& d = st.device[i];
    if (d.op < 0 || d.kind != DevKind::Kernel) continue;
    const OpWork& w = *k.of(d);
    if (w.matrix || w.attention) {
      // Main kernels by their own name (side kernels of an attention op, e.g. a dO.O reduction
      // or a dQ conversion, would inherit "attention" from the op; cuDNN's fmha_reduce_head and
      // FlashAttention's dot_do_o / convert_dq / clear_dQaccum name themselves like attention).
      const std::string& c = classify(d.name, Name(), d.kind);
      k.helper[i] = !(c == "gemm" || c == "attention") || is_attention_side_kernel(d.name) ||
                    matrix_side_kernel(d.name) != MatrixSide::None;
    }
    if (!k.helper[i]) {
      k.main_kernels[static_cast<size_t>(d.op)]++;
      k.main_dur[static_cast<size_t>(d.op)] += d.trace_dur;
      if (is_multi_tensor_apply(d.name)) k.mta_blocks[static_cast<size_t>(d.op)] += double(d.grid);
    }
  }
  return k;
}

// L2 reuse between kernels (first-principles): the chip's L2 (l2_size / l2_partitions: each
// partition caches the lines of the SMs wired to it, so data the whole chip streams is held once
// per partition) holds the tensors the
// latest kernels touched, least recently used out first, whole storages (a storage larger than
// the L2 keeps its last l2_size bytes). An op's input already there is read from L2: its hit
// bytes, at most what it loads. The trace's storage ids give the data flow (the ET's tensors);
// GEMMs and attention touch their operands too. Kernels are taken in start order.
class L2Lru {
 public:
  explicit L2Lru(double cap) : cap_(cap) {}
  double resident(std::int64_t s) const {
    auto it = at_.find(s);
    return it == at_.end() ? 0.0 : it->second->second;
  }
  void touch(std::int64_t s, double bytes) {
    auto it = at_.find(s);
    if (it != at_.end()) {
      total_ -= it->second->second;
      lru_.erase(it->second);
    }
    double b = std::min(bytes, cap_);
    lru_.emplace_front(s, b);
    at_[s] = lru_.begin();
    total_ += b;
    while (total_ > cap_ && !lru_.empty()) {
      auto& back = lru_.back();
      double excess = total_ - cap_;
      if (back.second > excess && &back != &lru_.front()) {
        back.second -= excess;
        total_ -= excess;
        break;
      }
      total_ -= back.second;
      at_.erase(back.first);
      lru_.pop_back();
    }
  }

 private:
  double cap_, total_ = 0;
  std::list<std::pair<std::int64_t, double>> lru_;
  std::unordered_map<std::int64_t, std::list<std::pair<std::int64_t, double>>::iterator> at_;
};

void tensors_of(const EtArg& a, std::vector<const EtArg*>& out) {
  if (a.is_tensor && a.storage_id >= 0 && a.device.str().find("cpu") == std::string::npos) out.push_back(&a);
  for (auto& e : a.elems) tensors_of(e, out);
}

void l2_reuse(const CapturedStep& st, double l2_size, OpKernels& k) {
  k.l2_hit.assign(st.ops.size(), 0.0);
  std::vector<size_t> order;
  for (size_t i = 0; i < st.device.size(); ++i)
    if (st.device[i].op >= 0 && st.device[i].kind == DevKind::Kernel) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return st.device[a].trace_ts < st.device[b].trace_ts; });
  L2Lru l2(l2_size);
  std::vector<bool> seen(st.ops.size(), false);
  for (size_t i : order) {
    size_t op = static_cast<size_t>(st.device[i].op);
    if (seen[op]) continue;
    seen[op] = true;
    std::vector<const EtArg*> in, out;
    for (auto& a : st.ops[op].inputs) tensors_of(a, in);
    for (auto& a : st.ops[op].outputs) tensors_of(a, out);
    std::set<std::int64_t> counted;
    double hit = 0;
    for (auto* t : in)
      if (counted.insert(t->storage_id).second)
        hit += std::min(l2.resident(t->storage_id), double(t->numel) * double(t->elem_bytes));
    const OpWork* w = k.of(st.device[i]);
    k.l2_hit[op] = w ? std::min(hit, w->in_bytes) : 0.0;
    for (auto* t : in) l2.touch(t->storage_id, double(t->numel) * double(t->elem_bytes));
    for (auto* t : out) l2.touch(t->storage_id, double(t->numel) * double(t->elem_bytes));
  }
}

// Capture clock correction: kernel durations in a profiled capture were taken at the capture's
// GPU duty cycle (the profiler slows the host, so the GPU idles and boosts its SM clock); the
// un-profiled step runs denser and hits the power limit. Compute-bound time is scaled by
// 1 + clock_duty_slowdown * (target duty - capture duty); memory-bound time is unaffected.
// Returns the slowdown factor (0 in roofline mode) and records both in the result.
double clock_slowdown(const CapturedStep& st, const Accelerator& hw, const ReplayOptions& opt,
                      const HostCostModel& host_cost, ReplayResult& res) {
  double capture_busy = 0, capture_t0 = 1e300, capture_t1 = -1e300;
  for (auto& d : st.device) {
    capture_busy += d.trace_dur;
    capture_t0 = std::min(capture_t0, d.trace_ts);
    capture_t1 = std::max(capture_t1, d.trace_ts + d.trace_dur);
  }
  double capture_duty = capture_t1 > capture_t0 ? std::min(1.0, capture_busy / (capture_t1 - capture_t0)) : 1.0;
  double host_total = 0;
  for (auto& h : st.host) host_total += host_cost.item_cost(h);
  double target_duty = capture_busy > 0 ? std::min(1.0, capture_busy / std::max(capture_busy, host_total)) : 1.0;
  double slowdown = opt.mode == ReplayMode::Roofline ? 0.0
                                                     : hw.p("clock_duty_slowdown") * std::max(0.0, target_duty - capture_duty);
  res.capture_duty = capture_duty;
  res.clock_correction = slowdown;
  return slowdown;
}

Dtype gemm_precision_of(const ReplayOptions& opt) {
  if (opt.gemm_precision.empty()) return Dtype::UNKNOWN;
  Dtype d = parse_dtype(opt.gemm_precision);
  if (d != Dtype::FP8 && d != Dtype::BF16 && d != Dtype::FP16)
    throw make_error("--gemm-precision", opt.gemm_precision, "expected fp8, bf16 or fp16");
  return d;
}

bool matrix_class(const std::string& cls) { return cls == "gemm" || cls == "attention"; }

// Costs every device activity of one capture on the target: its simulated standalone time by
// the replay mode, its resource shares (DeviceWork), and its kernel row of the result.
class DeviceCosting {
 public:
  // A multi_tensor_apply launch's share of its op's bytes: its blocks over the op's (0: even split).
  double share_of(const DeviceActivity& d) const {
    if (d.op < 0 || !is_multi_tensor_apply(d.name)) return 0.0;
    double total = ops_.mta_blocks[static_cast<size_t>(d.op)];
    return total > 0 && d.grid > 0 ? double(d.grid) / total : 0.0;
  }
  DeviceCosting(const CapturedStep& st, const Accelerator& hw, const Accelerator& src, const ReplayOptions& opt,
                const HostCostModel& host_cost, ReplayResult& res)
      : st_(st), hw_(hw), src_(src), opt_(opt), res_(res), ops_(op_kernels(st, classify_)),
        slowdown_(clock_slowdown(st, hw, opt, host_cost, res)), gemm_dtype_(gemm_precision_of(opt)),
        timeline_(!opt.timeline_path.empty()), sm_count_(hw.p("sm_count")), host_link_bw_(hw.p("host_link_bandwidth")),
        min_kernel_time_(hw.p("min_kernel_time")), peak_fp32_(hw.p("peak_fp32")), hbm_bw_(hw.hbm_bandwidth()) {
    if (hw.mapper && opt.mode == ReplayMode::Roofline && hw.mapper->arch().p("l2_reuse") > 0)
      l2_reuse(st, hw.mapper->arch().l2_size / hw.mapper->arch().p("l2_partitions"), ops_);
  }

  std::vector<DeviceWork> run() {
    std::vector<DeviceWork> items(st_.device.size());
    res_.kernels.resize(st_.device.size());
    for (size_t i = 0; i < st_.device.size(); ++i) items[i] = cost(i);
    return items;
  }

 private:
  // One activity in context: its op's work, the op's main kernels, class and target roofline.
  struct Act {
    const DeviceActivity& d;
    const OpWork* w;
    int nk;
    bool helper;
    const Name& op;
    const Name& cls;
    Roof rt;
    double precision_ratio = 1.0;  // --gemm-precision: model time in that precision / as captured
  };
  DeviceWork cost(size_t i);
  void precision_what_if(Act& a) const;
  void unmodelled_kernel_check(const Act& a) const;
  double simulated_time(const Act& a) const;
  double reference_time(const Act& a) const;
  DeviceWork work_item(const Act& a, double T) const;
  void fill_row(KernelRow& row, Act& a, double T) const;

  const CapturedStep& st_;
  const Accelerator& hw_;
  const Accelerator& src_;
  const ReplayOptions& opt_;
  ReplayResult& res_;
  KernelClasses classify_;
  OpKernels ops_;
  double slowdown_;
  Dtype gemm_dtype_;
  bool timeline_;
  double sm_count_, host_link_bw_, min_kernel_time_, peak_fp32_, hbm_bw_;  // looked up once
};

DeviceWork DeviceCosting::cost(size_t i) {
  const DeviceActivity& d = st_.device[i];
  static const Name no_op;
  const Name& opname = d.op >= 0 ? st_.ops[static_cast<size_t>(d.op)].name : no_op;
  if (opt_.mode == ReplayMode::Roofline && d.kind == DevKind::Kernel && d.op < 0 && d.name.rfind("triton_", 0) == 0)
    throw make_error(st_.kineto_path, "kernel " + d.name + " (correlation " + std::to_string(d.correlation) + ")",
                     "a Triton kernel outside any ET op region: its buffers (the fused region's inputs and outputs) "
                     "are unknown, roofline mode cannot cost it (--mode measured replays it)");
  const OpWork* w = ops_.of(d);
  int nk = d.op >= 0 ? ops_.main_kernels[static_cast<size_t>(d.op)] : 1;
  bool helper = ops_.helper[i];
  double hit = d.op >= 0 && !ops_.l2_hit.empty() ? ops_.l2_hit[static_cast<size_t>(d.op)] : 0.0;
  Act a{d, w, nk, helper, opname, classify_(d.name, opname, d.kind), roof_of(d, w, nk, helper, hw_, hit, share_of(d))};
  precision_what_if(a);
  unmodelled_kernel_check(a);
  double T = simulated_time(a);
  if (!(T < kMaxSimSeconds)) {  // the engine's picosecond time base (the graph checks it too, unnamed)
    // (a modelled duration comes from the op's ET shapes: that node is the input to look at)
    bool modelled = opt_.mode != ReplayMode::Measured && w && d.op >= 0;
    if (modelled)
      throw make_error(st_.et_path.empty() ? st_.kineto_path : st_.et_path,
                       "node " + std::to_string(st_.ops[static_cast<size_t>(d.op)].id) + " (" + opname.str() + ")",
                       "its shapes make kernel " + d.name.substr(0, 60) + " last beyond the simulator's range (about 104 days)");
    throw make_error(st_.kineto_path, "kernel " + d.name.substr(0, 80) + " (correlation " + std::to_string(d.correlation) + ")",
                     "duration beyond the simulator's range (about 104 days)");
  }
  res_.kernels[i].active_s = energy_active_time(a.rt, a.cls, reference_time(a));
  DeviceWork dw = work_item(a, T);
  fill_row(res_.kernels[i], a, T);
  return dw;
}

// Roofline and transfer price a kernel from its op's work (FLOPs, bytes from the ET's shapes). A
// kernel of an op whose work is unknown (its inputs missing from the trace) would cost the launch
// floor: a GEMM of milliseconds replayed in a microsecond. No real capture has one; one line.
void DeviceCosting::unmodelled_kernel_check(const Act& a) const {
  const DeviceActivity& d = a.d;
  if (opt_.mode == ReplayMode::Measured || d.kind != DevKind::Kernel || d.op < 0 || a.helper || a.rt.known) return;
  const EtOp& op = st_.ops[static_cast<size_t>(d.op)];
  throw make_error(st_.et_path.empty() ? st_.kineto_path : st_.et_path,
                   "node " + std::to_string(op.id) + " (" + op.name.str() + ")",
                   "no work to cost its kernel " + d.name.substr(0, 60) + " in " + replay_mode_name(opt_.mode) +
                       " mode (its inputs or their shapes are missing from the trace; --mode measured replays it)");
}

// --gemm-precision: the same GEMM in another precision, relative to the captured one. Only the
// 16-bit GEMMs change: fp32/tf32 ones were kept in full precision on purpose. (Transfer mode: rt
// is the target in the what-if precision, the source roof as captured, so the one transfer ratio
// carries both changes.)
void DeviceCosting::precision_what_if(Act& a) const {
  const OpWork* w = a.w;
  if (gemm_dtype_ == Dtype::UNKNOWN || !w || !w->matrix || a.helper || w->dtype == gemm_dtype_ ||
      !(w->dtype == Dtype::BF16 || w->dtype == Dtype::FP16))
    return;
  OpWork w2 = *w;
  w2.dtype = gemm_dtype_;
  w2.bytes = w->bytes * dtype_bytes(gemm_dtype_) / dtype_bytes(w->dtype);
  Roof r2 = roof_of(a.d, &w2, a.nk, a.helper, hw_, 0, share_of(a.d));
  a.precision_ratio = transfer_ratio(r2, hw_, a.rt, hw_, true);
  a.rt = r2;
}

// Standalone time on the target by mode (measured, roofline, transfer), clock-corrected.
double DeviceCosting::simulated_time(const Act& a) const {
  double T = 0;
  switch (opt_.mode) {
    case ReplayMode::Measured: T = a.d.trace_dur * a.precision_ratio; break;
    case ReplayMode::Roofline: T = a.rt.total(hw_); break;
    case ReplayMode::Transfer: {
      // The same ratio `orrery validate --kernel-transfer` checks against kernels measured on both GPUs.
      Roof rs = roof_of(a.d, a.w, a.nk, a.helper, src_, 0, share_of(a.d));
      T = transfer_time(a.d.trace_dur, a.rt, hw_, rs, src_, matrix_class(a.cls));
      break;
    }
  }
  T = std::max(T, 1e-9);
  if (slowdown_ > 0 && a.d.kind == DevKind::Kernel) {
    double compute_share = a.rt.known ? clamp01(a.rt.tc / std::max(a.rt.total(hw_), 1e-12)) : (matrix_class(a.cls) ? 1.0 : 0.0);
    T *= 1.0 + slowdown_ * compute_share;
  }
  return T;
}

// The measured duration on the target, mode-independent (the energy model's fallback).
double DeviceCosting::reference_time(const Act& a) const {
  double t_ref = a.d.trace_dur;
  if (opt_.mode == ReplayMode::Transfer)
    t_ref *= transfer_ratio(a.rt, hw_, roof_of(a.d, a.w, a.nk, a.helper, src_, 0, share_of(a.d)), src_, matrix_class(a.cls));
  return t_ref * a.precision_ratio;
}

// What the GPU model runs: time and the shares of SMs, HBM and the host link it uses.
DeviceWork DeviceCosting::work_item(const Act& a, double T) const {
  const DeviceActivity& d = a.d;
  DeviceWork dw;
  if (timeline_) dw.name = d.name;  // the name and args are for the timeline only
  dw.cat = a.cls;
  dw.standalone_s = T;
  if (a.rt.known) {
    dw.sm_share = clamp01(a.rt.tc / T);
    dw.hbm_share = clamp01(a.rt.tm / T);
  } else {
    dw.sm_share = matrix_class(a.cls) ? 1.0 : 0.3;
    dw.hbm_share = matrix_class(a.cls) ? 0.3 : 0.8;
  }
  if (d.kind == DevKind::Kernel && d.grid > 0)  // a kernel can't use more SMs than it has blocks
    dw.sm_share = std::min(dw.sm_share, static_cast<double>(d.grid) / sm_count_);
  if (d.kind == DevKind::Memcpy) {
    if (d.copy_kind == "HtoD") dw.h2d_share = clamp01(d.bytes / T / host_link_bw_);
    if (d.copy_kind == "DtoH") dw.d2h_share = clamp01(d.bytes / T / host_link_bw_);
  }
  if (timeline_) {
    dw.args = {{"op", a.op}, {"class", a.cls}, {"measured_us", d.trace_dur * 1e6}};
    if (a.rt.known) {
      dw.args["flops"] = a.rt.flops;
      dw.args["bytes"] = a.rt.bytes;
    }
  }
  return dw;
}

// The kernel's row: its work (an op's work goes to its main kernels in proportion to their
// measured time: a flash-attention backward's main kernel does nearly all the FLOPs) and its
// roofline placement on the target: which resource bounds it, the fraction of that peak reached.
void DeviceCosting::fill_row(KernelRow& row, Act& a, double T) const {
  static const Name kUnknown("unknown"), kLatency("latency"), kCompute("compute"), kMemory("memory"),
      kIssue("issue");
  const DeviceActivity& d = a.d;
  Roof& rt = a.rt;
  row.name = d.name;
  row.kernel_class = a.cls;
  row.op = a.op;
  row.measured_s = d.trace_dur;
  row.flops = rt.flops;
  row.bytes = rt.bytes;
  double main_dur = d.op >= 0 ? ops_.main_dur[static_cast<size_t>(d.op)] : 0.0;
  if (a.w && !a.helper && main_dur > 0 && d.trace_dur > 0) {
    double f = d.trace_dur / main_dur;
    row.flops = rt.flops = a.w->flops * f;
    row.bytes = rt.bytes = a.w->bytes * f;
  }
  double peak = a.w && (a.w->matrix || a.w->attention) ? hw_.peak_flops(a.w->dtype) : peak_fp32_;
  double hbm_bw = hbm_bw_, ridge = peak / hbm_bw;
  double ai = rt.bytes > 0 ? rt.flops / rt.bytes : 0;
  double dur = d.trace_dur > 0 ? d.trace_dur : T;
  if (!rt.known || (rt.flops == 0 && rt.bytes == 0)) {
    row.bound = kUnknown;
  } else if (rt.total(hw_) <= min_kernel_time_ * 1.0001) {
    row.bound = kLatency;
    row.achieved_fraction = ai >= ridge ? rt.flops / dur / peak : rt.bytes / dur / hbm_bw;
  } else if (rt.issue_bound) {
    row.bound = kIssue;
    row.achieved_fraction = rt.bytes / dur / hbm_bw;
  } else if (ai >= ridge) {
    row.bound = kCompute;
    row.achieved_fraction = rt.flops / dur / peak;
  } else {
    row.bound = kMemory;
    row.achieved_fraction = rt.bytes / dur / hbm_bw;
  }
}

// Per device activity: simulated standalone time, resource shares, and the kernel rows of the
// result (classification, roofline placement).
std::vector<DeviceWork> build_device_work(const CapturedStep& st, const Accelerator& hw, const Accelerator& src,
                                          const ReplayOptions& opt, const HostCostModel& host_cost, ReplayResult& res) {
  return DeviceCosting(st, hw, src, opt, host_cost, res).run();
}

}  // namespace

namespace {

void fill_measured_json(const nlohmann::json& measured, ReplayResult& res) {
  const auto& m = measured["step_cuda_events"];
  res.has_measured = true;
  res.measured_step_s = m.value("median_ms", 0.0) * 1e-3;
  res.measured_min_s = m.value("min_ms", res.measured_step_s * 1e3) * 1e-3;
  res.measured_max_s = m.value("max_ms", res.measured_step_s * 1e3) * 1e-3;
  res.error_pct = res.measured_step_s > 0 ? (res.step_time_s - res.measured_step_s) / res.measured_step_s * 100 : 0;
  res.measured_peak_memory_bytes = measured.value("max_mem_allocated", 0.0);
}

void fill_measured(const CapturedStep& st, ReplayResult& res) {
  res.peak_memory_bytes = st.peak_memory_bytes;
  if (!st.has_measured) return;
  fill_measured_json(st.measured, res);
  res.truth_path = st.measured_path;
}

// The GPU model token of a device or preset name: "NVIDIA H200" -> "H200", "h100" -> "H100".
std::string gpu_token(const std::string& s) {
  std::string u;
  for (char c : s) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (size_t i = 0; i + 3 < u.size(); ++i)
    if (std::isalpha(static_cast<unsigned char>(u[i])) && std::isdigit(static_cast<unsigned char>(u[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(u[i + 2])) && std::isdigit(static_cast<unsigned char>(u[i + 3])) &&
        (i == 0 || !std::isalnum(static_cast<unsigned char>(u[i - 1]))))
      return u.substr(i, 4);
  return "";
}

// Why this replay is a what-if ("" when it predicts the captured run itself).
std::string what_if_reason(const ReplayOptions& opt, const CapturedStep& st, const Accelerator& hw,
                           const Accelerator& src) {
  std::string why;
  auto add = [&why](const std::string& s) { why += (why.empty() ? "" : "; ") + s; };
  // (--hw-model first-principles arrives as --set first_principles=1: a choice of cost model for the
  // same hardware, which the capture's measurement still checks)
  std::string s;
  for (auto& o : opt.overrides)
    if (o.rfind("first_principles=", 0) != 0) s += " " + o;
  if (!s.empty()) add("--set" + s);
  if (!opt.gemm_precision.empty()) add("--gemm-precision " + opt.gemm_precision);
  if (opt.mode == ReplayMode::Transfer && hw.name != src.name) add("transfer " + src.name + " -> " + hw.name);
  if (opt.mode != ReplayMode::Transfer && !capture_device_matches(st.device_name, hw))
    add("captured on " + st.device_name + ", replayed on " + hw.name);
  return why;
}

// The capture's GPU of a transfer (--source-hw): a preset or a file, its errors naming that flag.
Accelerator load_source_hw(const std::string& name) {
  const auto presets = list_presets();
  if (!std::filesystem::exists(name) && std::find(presets.begin(), presets.end(), name) == presets.end())
    throw make_error("--source-hw", name, "unknown hardware preset (orrery list presets) and no such file");
  return load_accelerator(name);
}

}  // namespace

std::vector<DeviceWork> cost_device_work(const CapturedStep& st, const Accelerator& hw, const ReplayOptions& opt) {
  Accelerator src = opt.mode == ReplayMode::Transfer ? load_source_hw(opt.source_hw) : hw;
  HostCostModel host(st, hw, use_bundle_host(opt, st, hw));
  ReplayResult rows;
  return build_device_work(st, hw, src, opt, host, rows);
}

bool use_bundle_host(const ReplayOptions& opt, const CapturedStep& st, const Accelerator& hw) {
  if (host_table_file(opt)) return true;  // the user's table of the target host: any GPU
  return opt.host_table == "auto" && !st.host_dispatch.empty() && capture_device_matches(st.device_name, hw);
}

bool host_table_file(const ReplayOptions& opt) {
  if (opt.host_table == "auto" || opt.host_table == "preset") return false;
  if (!path_exists(opt.host_table))
    throw make_error("--host-table", opt.host_table, "no such file (expected auto, preset or a host_dispatch.json)");
  return true;
}

// --host-table FILE: that table (the target host's, validation/capture/host_micro.py) replaces
// every capture's own: the replay prices host work on the preset's table at that host's speed.
static void apply_host_table_file(const ReplayOptions& opt, std::vector<CapturedStep>& steps) {
  if (!host_table_file(opt)) return;
  auto table = read_host_dispatch_file(opt.host_table);
  for (auto& st : steps) {
    st.host_dispatch = table;
    st.host_dispatch_path = opt.host_table;
  }
}

bool capture_device_matches(const std::string& device_name, const Accelerator& hw) {
  std::string t = gpu_token(device_name);
  if (t.empty()) return true;
  return gpu_token(hw.name) == t || gpu_token(hw.description) == t;
}

void compare_with_measured(ReplayResult& r, const std::string& path) {
  nlohmann::json m = read_json_file(path);
  if (!m.is_object() || !m.contains("step_cuda_events") || !m["step_cuda_events"].is_object() ||
      !m["step_cuda_events"].contains("median_ms") || !m["step_cuda_events"]["median_ms"].is_number() ||
      !(m["step_cuda_events"]["median_ms"].get<double>() > 0))
    throw make_error(path, "step_cuda_events.median_ms", "missing or not a positive number");
  fill_measured_json(m, r);
  r.truth_path = path;
}


namespace {

// Which capture each rank of a multi-rank bundle runs: its own, or (an emulated bundle whose
// ranks.json maps every rank onto the few distinct ones it holds) the distinct rank's, shared.
struct RankTraces {
  std::vector<int> step_of;               // per rank: index into the loaded steps
  std::shared_ptr<const RankMap> map;     // set when ranks replicate distinct traces
  int world() const { return static_cast<int>(step_of.size()); }
};

// The bundle's per-rank captures (one for a single-rank bundle), checked against each other;
// each distinct trace is parsed once.
std::vector<CapturedStep> load_steps(const ReplayOptions& opt, bool& multi, RankTraces& rt) {
  std::vector<int> ranks = bundle_ranks(opt.bundle);
  multi = !ranks.empty();
  if (multi && opt.scale_dp > 1)
    throw make_error("--scale-dp", std::to_string(opt.scale_dp), "applies to single-rank captures; " + opt.bundle + " holds " + std::to_string(ranks.size()) + " ranks");
  if (opt.scale_dp < 1) throw make_error("--scale-dp", std::to_string(opt.scale_dp), "must be >= 1");
  std::vector<CapturedStep> steps;
  if (!multi) {
    steps.push_back(load_bundle(opt.bundle));
    rt.step_of = {0};
    return steps;
  }
  int world = static_cast<int>(ranks.size());
  std::shared_ptr<RankMap> map;
  if (path_exists(opt.bundle + "/ranks.json")) map = std::make_shared<RankMap>(load_rank_map(opt.bundle));
  if (map && map->world > world) {  // not every rank's trace: the rank map says whose each runs
    if (map->distinct != ranks)
    {
      auto list = [](const std::vector<int>& v) {
        std::string t;
        for (int r : v) t += (t.empty() ? "" : ",") + std::to_string(r);
        return t;
      };
      throw make_error(map->file, "rank_map", "maps the ranks onto the distinct ranks " + list(map->distinct) +
                                                  ", but the bundle holds the traces of ranks " + list(ranks));
    }
    world = map->world;
    rt.map = map;
  } else {
    for (size_t i = 0; i < ranks.size(); ++i)
      if (ranks[i] != static_cast<int>(i))
        throw make_error(opt.bundle, "et." + std::to_string(i) + ".json", "missing rank (ranks must be 0..N-1)");
  }
  std::map<int, int> index;  // distinct rank -> step
  for (int r : ranks) {
    index[r] = static_cast<int>(steps.size());
    steps.push_back(load_bundle(opt.bundle, r));
    // world_size stays 1 when the capture has no distributedInfo.
    if (steps.back().world_size > 1 && steps.back().world_size != world)
      throw make_error(steps.back().kineto_path, "distributedInfo.world_size",
                       std::to_string(steps.back().world_size) + ", but the bundle holds " + std::to_string(world) +
                           " ranks (et.0 .. et." + std::to_string(world - 1) + (rt.map ? ", ranks.json" : "") + ")");
  }
  for (int r = 0; r < world; ++r) rt.step_of.push_back(index[rt.map ? rt.map->of[static_cast<size_t>(r)] : r]);
  return steps;
}

// Energy of one GPU (rank 0) over the step: idle power all along, plus the dynamic range
// (power_tdp - power_idle) in proportion to how much of the chip each activity keeps busy.
void fill_energy(ReplayResult& res, const Accelerator& hw) {
  double dyn = 0;
  for (const KernelRow& k : res.kernels) dyn += k.active_s;
  dyn += res.comm_time_s * std::min(1.0, 16.0 / hw.p("sm_count"));
  dyn = std::min(dyn, res.step_time_s);
  res.energy_j = hw.p("power_idle") * res.step_time_s + (hw.p("power_tdp") - hw.p("power_idle")) * dyn;
}

// The kernel rows' simulated standalone times and their sum per class (rank 0's costing).
void fill_simulated_times(ReplayResult& res, const std::vector<DeviceWork>& items) {
  for (size_t i = 0; i < items.size(); ++i) {
    res.kernels[i].simulated_s = items[i].standalone_s;
    res.time_by_class_s[res.kernels[i].kernel_class] += items[i].standalone_s;
  }
}

// The parts of the result every replay fills the same way: ground truth or what-if,
// configuration.
void fill_common(ReplayResult& res, const ReplayOptions& opt, const std::vector<CapturedStep>& steps,
                 const Accelerator& hw, const Accelerator& src, int dp) {
  fill_energy(res, hw);
  // A what-if (other hardware, other GEMM precision, --scale-dp) predicts a run nobody
  // measured: measured.json describes the captured run, no comparison.
  res.capture_device = steps[0].device_name;
  res.what_if_reason = what_if_reason(opt, steps[0], hw, src);
  if (dp > 1) res.what_if_reason += std::string(res.what_if_reason.empty() ? "" : "; ") + "--scale-dp " + std::to_string(dp);
  res.what_if = !res.what_if_reason.empty();
  if (!res.what_if) fill_measured(steps[0], res);
  else res.peak_memory_bytes = steps[0].peak_memory_bytes;
  if (res.comm_time_s > 0) res.time_by_class_s["communication"] += res.comm_time_s;
  nlohmann::json files = nlohmann::json::array();
  for (auto& st : steps) files.push_back({{"et", st.et_path}, {"kineto", st.kineto_path}, {"measured", st.measured_path}});
  res.config = {
      {"bundle", opt.bundle},
      {"files", files},
      {"mode", res.mode},
      {"engine", opt.engine},
      {"hardware", hw.to_json()},
      {"overrides", opt.overrides},
      {"host_model", "one issuing sequence per rank; per op: host dispatch table + autocast casts, else op_overhead + launches x launch_cost + children (optimizer steps per parameter); training forward ops + autograd::record_per_op (workloads/host_cost.h)"},
      {"host_table", {{"source", res.host_table}, {"speed_vs_preset", res.host_speed_ratio}, {"option", opt.host_table},
                      {"autograd_record_per_op_us", res.host_autograd_record_s * 1e6}}},
  };
  if (opt.mode == ReplayMode::Transfer) res.config["source_hardware"] = src.to_json();
  if (!opt.gemm_precision.empty()) res.config["gemm_precision"] = opt.gemm_precision;
  size_t items_total = 0;
  for (auto& st : steps) items_total += st.host.size();
  res.host_items = items_total;
}

// The system a replay runs on: --system (--nodes, --sys-set) for multi-rank bundles and
// --scale-dp. A single-rank capture runs on one GPU of one node of the DGX/HGX topology
// (dgx-h100's, which H200 boards share) whose GPUs are the replayed preset (--hw): nothing
// crosses the fabric, so the choice cannot move a result; --system there is an error (the CLI).
topo::System replay_system(const ReplayOptions& opt, bool cluster, int world) {
  if (!cluster) {
    topo::System sys = coll::load_system("dgx-h100", 1);
    sys.name = "one " + opt.hw + " node (dgx-h100 topology)";
    sys.accelerator = opt.hw;
    sys.raw["name"] = sys.name;
    sys.raw["accelerator"] = opt.hw;
    return sys;
  }
  topo::System sys = coll::load_system(opt.system, opt.nodes, opt.system_overrides);
  if (sys.topo.num_gpus() < world)
    throw make_error("--system", opt.system,
                     "has " + std::to_string(sys.topo.num_gpus()) + " GPUs, the replay needs " + std::to_string(world) +
                         " (use --nodes)");
  apply_faults(sys, opt.cluster);
  return sys;
}

// Every simulated rank's capture, costed once per (capture, distinct accelerator); rank 0's
// costing fills the result's kernel rows.
struct CostedRanks {
  struct Costed {
    std::unique_ptr<HostCostModel> host;
    std::vector<DeviceWork> work;
  };
  std::map<std::pair<int, int>, Costed> costed;  // (capture, accelerator class)
  std::vector<CapturedRank> ranks;               // by global rank
  std::vector<RankHardware> hw;                  // by global rank
};

void cost_ranks(CostedRanks& out, ReplayResult& res, const ReplayOptions& opt, const std::vector<CapturedStep>& steps,
                const RankTraces& rt, const ClusterHardware& ch, const Accelerator& src, bool multi, int simulated) {
  for (int r = 0; r < simulated; ++r) {
    int s = multi ? rt.step_of[static_cast<size_t>(r)] : 0, cls = ch.class_of(r);
    const Accelerator& acc = *ch.distinct()[static_cast<size_t>(cls)];
    CostedRanks::Costed& c = out.costed[{s, cls}];
    if (!c.host) {
      c.host = std::make_unique<HostCostModel>(steps[static_cast<size_t>(s)], acc,
                                               use_bundle_host(opt, steps[static_cast<size_t>(s)], acc));
      if (r == 0) {
        res.host_table = c.host->table().source;
        res.host_table_given = host_table_file(opt);
        res.host_speed_ratio = c.host->table().speed_ratio;
        res.host_autograd_record_s = c.host->table().autograd_record;
      }
      ReplayResult tmp;
      tmp.mode = res.mode;
      c.work = build_device_work(steps[static_cast<size_t>(s)], acc, src, opt, *c.host, r == 0 ? res : tmp);
    }
    out.ranks.push_back({&steps[static_cast<size_t>(s)], &c.work, c.host.get(), acc.p("launch_latency"), acc.p("sync_cost")});
    if (rt.map) {  // a replica shares the graph of the distinct rank it copies (same accelerator)
      out.ranks.back().map = rt.map.get();
      int of = rt.map->of[static_cast<size_t>(r)];
      if (of != r && ch.class_of(of) == cls) out.ranks.back().copy_of = of;
    }
    out.hw.push_back(ch.of(r));
  }
}

// The per-rank graph of the replay: a multi-rank bundle's ranks, --scale-dp replicas, or the one
// rank of a single-rank capture. The hardware list follows the graph's simulated ranks.
BundleGraph replay_graph(CostedRanks& cr, const ReplayOptions& opt, bool multi, int dp, bool symmetric) {
  const bool origins = !opt.timeline_path.empty();
  if (!multi)
    return dp > 1 ? scale_dp_graph(cr.ranks, dp, origins) : single_rank_graph(cr.ranks[0], origins);
  BundleGraph g = multi_rank_graph(cr.ranks, opt.bundle, symmetric, origins);
  if (g.w.symmetric) {  // one rank per class of replicas: the hardware of those
    std::vector<RankHardware> kept;
    for (auto& rg : g.w.ranks) kept.push_back(cr.hw[static_cast<size_t>(rg.rank)]);
    cr.hw = std::move(kept);
  }
  return g;
}

// Runs the graph on the executor, drawing the timeline (host threads, streams, launches) if asked.
ExecResult run_replay_graph(const BundleGraph& g, const topo::System& sys, const CostedRanks& cr,
                            const ReplayOptions& opt, ExecOptions& eo) {
  std::unique_ptr<Timeline> tl;
  std::unique_ptr<BundleTimeline> view;
  if (!opt.timeline_path.empty()) {
    tl = std::make_unique<Timeline>();
    std::vector<std::string> names;
    for (auto& h : cr.hw) names.push_back(h.hw->name);
    view = std::make_unique<BundleTimeline>(*tl, g, cr.ranks, std::move(names));
    view->attach(eo);
  }
  std::unique_ptr<EventCore> eng = make_engine(opt.engine);
  ExecResult ex = execute(g.w, sys, cr.hw, *eng, eo);
  ingest_probe("simulated");
  if (tl) tl->write(opt.timeline_path);
  return ex;
}

// Step, busy times and (cluster runs) the executor's figures and configuration.
void fill_from_exec(ReplayResult& res, const ExecResult& ex, const BundleGraph& g,
                    const topo::System& sys, int dp, bool cluster) {
  for (auto& r : ex.ranks) res.rank_step_s.push_back(r.end_s);
  res.step_time_s = ex.makespan_s;
  res.gpu_busy_s = ex.ranks[0].gpu_busy_s;
  res.host_busy_s = g.host_busy_s[0];
  res.events = ex.events;
  if (dp > 1)
    for (auto& c : ex.collectives)
      if (c.group == "dp") res.comm_time_s += c.total_s;
  if (!cluster) return;
  res.system = sys.name;
  res.simulated_ranks = static_cast<int>(g.w.ranks.size());
  res.symmetric = g.w.symmetric;
  res.cluster = ex.to_json();
  res.cluster_text = ex.text();
}

// Once the graph holds the work, only a timeline reads the capture's per-op, per-call and
// per-kernel records: without one they are freed before the simulation grows its own state (a
// million-kernel capture's records are about half the replay's memory).
void shed_records(std::vector<CapturedStep>& steps, std::map<std::pair<int, int>, CostedRanks::Costed>& costed) {
  for (auto& [key, c] : costed) std::vector<DeviceWork>().swap(c.work);
  for (auto& st : steps) {
    std::vector<EtOp>().swap(st.ops);
    st.op_by_rf.clear();
    std::vector<DeviceActivity>().swap(st.device);
    for (auto& h : st.host) std::vector<HostCall>().swap(h.calls);
  }
}

// Every replay: each simulated rank's capture as a workload graph (workloads/bundle_graph.h) on
// the cluster executor; multi-rank bundles and --scale-dp on --system with the cluster what-ifs
// (--gpu-speed, --fail, ...), a single-rank capture on one GPU (replay_system).
void replay_on_executor(ReplayResult& res, const ReplayOptions& opt, std::vector<CapturedStep>& steps,
                        bool multi, const RankTraces& rt, const Accelerator& hw, const Accelerator& src) {
  const int dp = multi ? 1 : opt.scale_dp;
  const int world = multi ? rt.world() : dp;
  const bool cluster = multi || dp > 1;
  topo::System sys = replay_system(opt, cluster, world);
  ClusterHardware ch(opt.hw, opt.overrides, opt.cluster, world);
  const bool symmetric = (!multi || rt.map) && !opt.cluster.no_symmetry && !opt.cluster.breaks_symmetry();
  const int simulated = multi ? world : (symmetric ? 1 : dp);  // rank-mapped: reduced below
  CostedRanks cr;
  cost_ranks(cr, res, opt, steps, rt, ch, src, multi, simulated);
  for (auto& d : steps.front().device) {  // (rank 0's capture, as the kernel rows)
    res.graph_launches += d.graph_node == 0;
    res.graph_nodes += d.graph_node >= 0;
  }
  fill_simulated_times(res, cr.costed[{0, ch.class_of(0)}].work);
  ingest_probe("device work costed");
  BundleGraph g = replay_graph(cr, opt, multi, dp, symmetric);
  if (opt.timeline_path.empty()) shed_records(steps, cr.costed);
  ingest_probe("graph built");
  ExecOptions eo;
  eo.placement = load_placement(opt.cluster, world, sys.topo.num_gpus());
  eo.components = comp::load_plugins(opt.cluster.components);  // --component, as train and chakra-run
  check_connected(g.w, sys, eo.placement);
  ExecResult ex = run_replay_graph(g, sys, cr, opt, eo);
  fill_from_exec(res, ex, g, sys, dp, cluster);
  fill_common(res, opt, steps, hw, src, dp);
  if (rt.map) {  // every rank replays its distinct rank's host items
    res.host_items = 0;
    for (int s : rt.step_of) res.host_items += steps[static_cast<size_t>(s)].host.size();
  }
  res.config["system"] = sys.raw;
  if (!cluster) return;
  res.config["scale_dp"] = dp;
  res.config["cluster"] = opt.cluster.to_json();
  res.config["placement"] = eo.placement;
}
// Measured mode replays the captured kernel durations: a GPU parameter that only the kernel
// models read (a peak, the HBM bandwidth, an efficiency) cannot move them. Given with --set or
// --gpu-set it would do nothing but shift the capture-clock correction's compute share (a faster
// HBM made the step slower): an error pointing to the modes that price kernels. Host, gap, power
// and clock-correction parameters stay what-ifs of measured mode.
void check_measured_mode_overrides(const ReplayOptions& opt) {
  if (opt.mode != ReplayMode::Measured) return;
  auto check = [&](const std::string& flag, const std::string& assignment) {
    std::string name = assignment.substr(assignment.find(':') == std::string::npos || flag == "--set" ? 0 : assignment.find(':') + 1);
    name = name.substr(0, name.find('='));
    if (kernel_model_param(name))
      throw make_error(flag, assignment, "measured mode replays the captured kernel times, which " + name +
                                             " does not move: --mode transfer (from the capture's GPU to this one) or --mode roofline");
  };
  for (const auto& o : opt.overrides) check("--set", o);
  for (const auto& o : opt.cluster.gpu_set) check("--gpu-set", o);
}

}  // namespace

ReplayResult replay_bundle(const ReplayOptions& opt) {
  auto wall0 = std::chrono::steady_clock::now();
  check_measured_mode_overrides(opt);
  bool multi = false;
  RankTraces rt;
  std::vector<CapturedStep> steps = load_steps(opt, multi, rt);
  apply_host_table_file(opt, steps);
  if (!multi && opt.scale_dp == 1 && (opt.cluster.breaks_symmetry() || opt.cluster.no_symmetry)) {
    const ClusterOptions& c = opt.cluster;
    std::string flag = !c.gpu_speed.empty() ? "--gpu-speed" : !c.gpu_set.empty() ? "--gpu-set" : !c.fail.empty() ? "--fail"
                       : !c.degrade.empty() ? "--degrade" : !c.rank_map.empty() ? "--rank-map"
                       : !c.components.empty() ? "--component" : "--no-symmetry";
    throw make_error(flag, "", opt.bundle + " is a single-rank capture: the cluster flags apply to multi-rank bundles "
                               "and --scale-dp N");
  }
  Accelerator hw = load_accelerator(opt.hw, opt.overrides);
  Accelerator src = opt.mode == ReplayMode::Transfer ? load_source_hw(opt.source_hw) : hw;
  if (opt.mode == ReplayMode::Transfer)  // the measured durations are from the capture's GPU
    for (auto& st : steps)
      if (!capture_device_matches(st.device_name, src))
        throw make_error(st.kineto_path, "deviceProperties[0].name",
                         "the capture was taken on " + st.device_name + ", but --source-hw is " + src.name + " (" +
                             src.description + "): pass the preset of the GPU it was captured on");
  ReplayResult res;
  res.bundle = opt.bundle;
  res.bundle_name = std::filesystem::path(opt.bundle).filename().string();
  if (res.bundle_name.empty()) res.bundle_name = std::filesystem::path(opt.bundle).parent_path().filename().string();
  res.hw = hw.name;
  res.mode = replay_mode_name(opt.mode);
  res.overrides = opt.overrides;
  res.ranks = rt.world();
  res.scale_dp = multi ? 1 : opt.scale_dp;
  replay_on_executor(res, opt, steps, multi, rt, hw, src);
  res.sim_wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return res;
}

namespace {

// Top kernels by simulated time (aggregated by name).
nlohmann::json top_kernels_json(const std::vector<KernelRow>& kernels) {
  std::map<std::string, std::tuple<double, double, int, std::string, std::string>> agg;
  for (auto& k : kernels) {
    auto& a = agg[k.name];
    std::get<0>(a) += k.simulated_s;
    std::get<1>(a) += k.measured_s;
    std::get<2>(a) += 1;
    std::get<3>(a) = k.kernel_class;
    std::get<4>(a) = k.bound;
  }
  std::vector<std::pair<std::string, std::tuple<double, double, int, std::string, std::string>>> v(agg.begin(), agg.end());
  std::sort(v.begin(), v.end(), [](auto& a, auto& b) {
    return std::get<0>(a.second) != std::get<0>(b.second) ? std::get<0>(a.second) > std::get<0>(b.second) : a.first < b.first;
  });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < v.size() && i < 15; ++i) {
    auto& [name, a] = v[i];
    top.push_back({{"name", name}, {"class", std::get<3>(a)}, {"count", std::get<2>(a)},
                   {"simulated_ms", std::get<0>(a) * 1e3}, {"measured_ms", std::get<1>(a) * 1e3},
                   {"bound", std::get<4>(a)}});
  }
  return top;
}

// Roofline view: time by bound and the kernels with the most headroom (time below the peak).
nlohmann::json roofline_json(const std::vector<KernelRow>& kernels) {
  nlohmann::json j;
  std::map<std::string, double> by_bound;
  for (auto& k : kernels) by_bound[k.bound] += k.measured_s > 0 ? k.measured_s : k.simulated_s;
  nlohmann::json bb = nlohmann::json::object();
  for (auto& [b, t] : by_bound) bb[b] = t * 1e3;
  j["time_by_bound_ms"] = bb;
  // Efficiency headroom by kernel name: time spent below the roofline peak.
  struct Head {
    double time = 0, headroom = 0, flops = 0, bytes = 0, achieved_weighted = 0;
    int count = 0;
    std::string op, bound;
  };
  std::map<std::string, Head> heads;
  for (auto& k : kernels) {
    if (k.bound != "compute" && k.bound != "memory" && k.bound != "issue") continue;
    double t = k.measured_s > 0 ? k.measured_s : k.simulated_s;
    Head& h = heads[k.name];
    h.time += t;
    h.headroom += t * (1 - std::min(1.0, k.achieved_fraction));
    h.flops += k.flops;
    h.bytes += k.bytes;
    h.achieved_weighted += t * k.achieved_fraction;
    h.count++;
    h.op = k.op;
    h.bound = k.bound;
  }
  std::vector<std::pair<std::string, Head>> hv(heads.begin(), heads.end());
  std::sort(hv.begin(), hv.end(), [](auto& a, auto& b) {
    return a.second.headroom != b.second.headroom ? a.second.headroom > b.second.headroom : a.first < b.first;
  });
  nlohmann::json head = nlohmann::json::array();
  for (size_t i = 0; i < hv.size() && i < 10; ++i) {
    const Head& h = hv[i].second;
    head.push_back({{"name", hv[i].first}, {"op", h.op}, {"bound", h.bound}, {"count", h.count},
                    {"arithmetic_intensity", h.bytes > 0 ? h.flops / h.bytes : 0},
                    {"achieved_fraction_of_peak", h.time > 0 ? h.achieved_weighted / h.time : 0},
                    {"measured_us", h.time * 1e6}, {"headroom_us", h.headroom * 1e6}});
  }
  j["top_headroom"] = head;
  return j;
}

}  // namespace

nlohmann::json ReplayResult::to_json() const {
  nlohmann::json j;
  j["bundle"] = bundle;
  j["hw"] = hw;
  j["mode"] = mode;
  if (!overrides.empty()) j["overrides"] = overrides;
  j["step_time_ms"] = step_time_s * 1e3;
  j["gpu_busy_ms"] = gpu_busy_s * 1e3;
  j["gpu_idle_ms"] = std::max(0.0, step_time_s - gpu_busy_s) * 1e3;
  j["host_busy_ms"] = host_busy_s * 1e3;
  j["capture_gpu_duty"] = capture_duty;
  j["clock_correction"] = clock_correction;
  j["gpu_busy_fraction"] = step_time_s > 0 ? gpu_busy_s / step_time_s : 0;
  if (what_if) {
    j["what_if"] = true;
    j["what_if_reason"] = what_if_reason;
    j["ground_truth"] = "what-if, no ground truth";
  }
  if (!capture_device.empty()) j["capture_device"] = capture_device;
  if (has_measured) {
    j["ground_truth"] = truth_path;
    j["measured_step_time_ms"] = measured_step_s * 1e3;
    j["measured_min_ms"] = measured_min_s * 1e3;
    j["measured_max_ms"] = measured_max_s * 1e3;
    j["error_pct"] = error_pct;
    j["within_measured_range"] = step_time_s >= measured_min_s && step_time_s <= measured_max_s;
    j["measured_peak_memory_bytes"] = measured_peak_memory_bytes;
  }
  j["peak_memory_bytes"] = peak_memory_bytes;
  j["energy_j"] = energy_j;
  j["avg_power_w"] = step_time_s > 0 ? energy_j / step_time_s : 0;
  if (ranks > 1) {
    j["ranks"] = ranks;
    nlohmann::json rs = nlohmann::json::array();
    for (double t : rank_step_s) rs.push_back(t * 1e3);
    j["rank_step_ms"] = rs;
  }
  if (!system.empty()) j["system"] = system;
  if (scale_dp > 1) {
    j["scale_dp"] = scale_dp;
    j["dp_collective_time_ms"] = comm_time_s * 1e3;
  }
  if (!cluster.is_null()) {
    j["simulated_ranks"] = simulated_ranks;
    j["symmetric"] = symmetric;
    j["cluster"] = cluster;
  }
  nlohmann::json cls = nlohmann::json::object();
  for (auto& [k, v] : time_by_class_s) cls[k] = v * 1e3;
  j["time_by_class_ms"] = cls;
  nlohmann::json mcls = nlohmann::json::object();
  std::map<std::string, double> mby;
  for (auto& k : kernels) mby[k.kernel_class] += k.measured_s;
  for (auto& [k, v] : mby) mcls[k] = v * 1e3;
  j["measured_kernel_time_by_class_ms"] = mcls;
  j["top_kernels"] = top_kernels_json(kernels);
  j["roofline"] = roofline_json(kernels);
  j["kernel_count"] = kernels.size();
  j["host_items"] = host_items;
  j["graph_launches"] = graph_launches;
  j["graph_nodes"] = graph_nodes;
  j["host_table"] = host_table;
  j["host_speed_ratio"] = host_speed_ratio;
  j["events"] = events;
  return j;
}

std::vector<KernelFamilyFit> fit_kernel_families(const std::vector<std::string>& bundles, const std::string& hw,
                                                 const std::vector<std::string>& overrides, double min_bytes,
                                                 int min_kernels) {
  if (bundles.empty()) throw make_error("--kernel-families", "", "needs at least one capture bundle");
  std::map<std::string, std::vector<double>> ratios;
  std::map<std::string, std::pair<double, double>> sums;  // simulated, measured
  for (auto& b : bundles) {
    ReplayOptions o;
    o.bundle = b;
    o.hw = hw;
    o.mode = ReplayMode::Roofline;
    o.engine = "event";
    o.overrides = overrides;
    o.overrides.push_back("unrolled_elementwise_efficiency=1");
    o.overrides.push_back("strided_elementwise_efficiency=1");
    ReplayResult r = replay_bundle(o);
    for (auto& k : r.kernels) {
      std::string f = elementwise_family(k.name);
      if (f.empty() || k.bound != "memory" || k.bytes < min_bytes || !(k.measured_s > 0) || !(k.simulated_s > 0)) continue;
      ratios[f].push_back(k.simulated_s / k.measured_s);
      sums[f].first += k.simulated_s;
      sums[f].second += k.measured_s;
    }
  }
  std::vector<KernelFamilyFit> out;
  for (const char* f : {"vectorized", "unrolled", "strided"}) {
    KernelFamilyFit fit;
    fit.family = f;
    fit.parameter = std::string(f) == "vectorized" ? "" : std::string(f) + "_elementwise_efficiency";
    auto& v = ratios[f];
    fit.kernels = static_cast<int>(v.size());
    if (!v.empty()) {
      std::sort(v.begin(), v.end());
      size_t n = v.size();
      fit.median_ratio = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
      fit.time_ratio = sums[f].first / sums[f].second;
    }
    fit.fitted = fit.kernels >= min_kernels;
    out.push_back(fit);
  }
  return out;
}

}  // namespace orrery
