// `orrery kernel`: one kernel's predicted time, bound and achieved fraction of peak on one chip,
// from the architecture description (first-principles mapping, default) or the calibrated curves.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>
#include <utility>

#include "hw_models/accelerator.h"
#include "hw_models/arch.h"
#include "hw_models/mapping.h"
#include "sim/error.h"
#include "sim/units.h"
#include "tools/command.h"
#include "workloads/json_io.h"
#include "workloads/op_cost.h"

namespace orrery::cli {
namespace {

double num(const std::string& s, const std::string& field) {
  double v = 1;
  std::stringstream parts(s);  // (a product as the usage writes it: BATCH*HEADS)
  std::string part;
  try {
    while (std::getline(parts, part, '*')) v *= parse_quantity(part, Unit::Count, field);
  } catch (const Error& e) {
    throw make_error("kernel", field, std::string(e.what()).substr(field.size() + 2));
  }
  if (s.empty() || s.back() == '*') throw make_error("kernel", field, "'" + s + "' is not a number");
  if (!(v >= 1) || v > 1e12 || v != std::floor(v))
    throw make_error("kernel", field, "'" + s + "' must be a whole number from 1 to 1e12");
  return v;
}

std::vector<double> dims(const std::string& s, size_t n, const std::string& field) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, 'x')) v.push_back(num(part, field));
  if (v.size() != n || s.empty() || s.back() == 'x')  // ("8x8x8x": getline drops the empty last part)
    throw make_error("kernel", field, "'" + s + "': expected " + std::to_string(n) + " sizes joined by x");
  return v;
}

Dtype dtype_arg(const std::string& s) {
  Dtype d = parse_dtype_name(s);
  if (d == Dtype::UNKNOWN || d == Dtype::BOOL || d == Dtype::I64)
    throw make_error("kernel", "dtype", "'" + s + "' (fp64, fp32, tf32, bf16, fp16, fp8, fp4, int8)");
  return d;
}

// Calibrated mode: the preset's curves through Accelerator's roofline.
KernelEstimate calibrated(const Accelerator& hw, const std::string& kind, double flops, double bytes, double t, Dtype d) {
  if (kind == "gemm" || kind == "attention" || kind == "conv") hw.require_matrix_engine(d, "kernel", dtype_name(d));
  KernelEstimate e;
  e.kind = kind;
  e.engine = "calibrated";
  e.flops = flops;
  e.hbm_bytes = bytes;
  e.time_s = t;
  e.peak_flops = kind == "memory" ? hw.p("peak_fp32") : hw.peak_flops(d);
  double tm = bytes > 0 ? bytes / hw.hbm_bandwidth() : 0, tc = flops / e.peak_flops;
  e.bound = t <= hw.p("min_kernel_time") * 1.0001 ? "latency" : (tc >= tm ? "compute" : "memory");
  e.fraction_of_peak = e.bound == "memory" || flops <= 0 ? bytes / t / hw.hbm_bandwidth() : flops / t / e.peak_flops;
  return e;
}

// --grid G --block T as given (0 where absent).
std::pair<double, double> launch_values(const Args& a) {
  double g = a.has("--grid") ? parse_quantity(a.get("--grid"), Unit::Count, "--grid") : 0;
  double b = a.has("--block") ? parse_quantity(a.get("--block"), Unit::Count, "--block") : 0;
  return {g, b};
}

// An optional launch shape: both --grid and --block, or neither (0, 0).
std::pair<double, double> launch_arg(const Args& a) {
  auto [g, b] = launch_values(a);
  if ((g > 0) != (b > 0) || g < 0 || b < 0 || !std::isfinite(g * b))
    throw make_error("kernel", g > 0 ? "--block" : "--grid", "--grid and --block go together, each at least 1");
  // (CUDA and HIP launch at most 1024 threads per block; a grid's blocks fit a 32-bit count)
  if (b > 1024) throw make_error("--block", a.get("--block"), "more than 1024 threads per block");
  if (g > 4294967295.0) throw make_error("--grid", a.get("--grid"), "more blocks than a launch can have (2^32 - 1)");
  return {g, b};
}

// `kernel elementwise NUMEL DTYPE`: one launch of a PyTorch elementwise kernel family.
KernelEstimate elementwise_kernel_estimate(const Accelerator& hw, const Args& a, const std::vector<std::string>& pos) {
  const KernelMapper* m = hw.mapper.get();
  ElementwiseLaunch l;
  l.numel = num(pos[1], "NUMEL");
  Dtype d = dtype_arg(pos[2]);
  l.family = a.get("--family", "vectorized");
  if (l.family != "vectorized" && l.family != "unrolled" && l.family != "strided" && l.family != "cat")
    throw make_error("kernel", "--family", "'" + l.family + "': expected vectorized, unrolled, strided or cat");
  l.dims = a.has("--dims") ? num(a.get("--dims"), "--dims") : 1;
  if (a.has("--dims") && l.family != "strided" && l.family != "cat")  // (the others index their elements flat)
    throw make_error("kernel", "--dims", "applies to --family strided or cat (the vectorized and unrolled kernels index flat)");
  if (a.has("--vt") && l.family == "vectorized")
    throw make_error("kernel", "--vt", "the vectorized kernel's elements per thread follow from its vector width (--family unrolled or strided)");
  l.operands = a.has("--operands") ? num(a.get("--operands"), "--operands") : l.family == "cat" ? 2 : 3;
  l.dynamic_cast_ = a.has("--cast");
  if (l.dynamic_cast_ && l.family == "vectorized")
    throw make_error("kernel", "--cast", "PyTorch runs dtype casts in the unrolled or strided kernels, not the vectorized one");
  if (l.dims > 25) throw make_error("kernel", "--dims", "at most 25 (OffsetCalculator's MAX_DIMS)");
  if (l.family == "cat" && (l.dims > 4 || l.operands != 2 || l.dynamic_cast_))
    throw make_error("kernel", "--family", "cat copies one input into the output (--operands 2, no --cast), in at most 4 dimensions (Shape.cu CAT_ARRAY_MAX_INPUT_DIMS)");
  double bytes = l.numel * l.operands * element_bytes(d);
  if (!m) return calibrated(hw, "elementwise", 0, bytes, hw.memory_time(bytes), Dtype::FP32);
  // a thread's elements (CUDALoops.cuh): unrolled elems_per_thread 4; strided launch_legacy_kernel
  // <128, 4> when casting, else unroll_factor = sizeof(scalar) >= 4 ? 2 : 4
  l.vt = a.has("--vt") ? num(a.get("--vt"), "--vt") : l.family == "unrolled" || l.dynamic_cast_ || element_bytes(d) < 4 ? 4 : 2;
  l.load_bytes = (l.operands - 1) * element_bytes(d);
  if (a.has("--in-stride")) {
    double st = num(a.get("--in-stride"), "--in-stride");
    if (!(st >= 1 && st <= 1e12) || st != std::floor(st)) throw make_error("kernel", "--in-stride", "a whole number of elements from 1");
    if (l.family != "strided") throw make_error("kernel", "--in-stride", "only the strided kernel walks an input across its stride (--family strided)");
    // (a transpose: the sectors' other elements are read by the next rows, while still in L2)
    for (double k = 1; k < l.operands; ++k) l.strided.push_back({st * element_bytes(d), double(element_bytes(d)), 1});
  }
  auto [g, b] = launch_arg(a);
  if (!(l.vt >= 1 && l.vt <= 64)) throw make_error("kernel", "--vt", "elements per thread from 1 to 64");
  KernelEstimate e = m->elementwise(l, bytes, g, b);
  e.kind = "elementwise";
  return e;
}

// `kernel pool N C H W KSIZE DTYPE`: PyTorch's max pooling (DilatedMaxPool2d.cu) as it launches
// it, forward or backward, NCHW or channels-last (workloads/op_cost.h max_pool_loads).
KernelEstimate pool_kernel_estimate(const Accelerator& hw, const Args& a, const std::vector<std::string>& pos) {
  double v[5];
  const char* names[] = {"N", "C", "H", "W", "KSIZE"};
  for (int i = 0; i < 5; ++i) v[i] = num(pos[1 + i], names[i]);
  Dtype d = dtype_arg(pos[6]);
  PoolWindow win;
  double stride = a.has("--stride") ? num(a.get("--stride"), "--stride") : v[4];
  double pad = a.has("--pad") ? parse_quantity(a.get("--pad"), Unit::Count, "--pad") : 0;
  if (pad < 0 || pad != std::floor(pad) || 2 * pad > v[4]) throw make_error("--pad", a.get("--pad"), "a whole number from 0 to half the kernel size");
  for (int i = 0; i < 2; ++i) win.k[i] = v[4], win.s[i] = stride, win.p[i] = pad;
  double oh = std::floor((v[2] + 2 * pad - v[4]) / stride) + 1, ow = std::floor((v[3] + 2 * pad - v[4]) / stride) + 1;
  if (!(oh >= 1 && ow >= 1)) throw make_error("pool", "shape", "the window is larger than the padded input");
  if (v[0] * v[1] * v[2] * v[3] > 1e12) throw make_error("pool", "shape", "more than 10^12 input elements");
  bool bwd = a.has("--backward");
  std::string layout = a.get("--layout", "nhwc");
  if (layout != "nhwc" && layout != "nchw") throw make_error("kernel", "--layout", "'" + layout + "': expected nchw or nhwc");
  OpWork::Serial p = max_pool_loads(v[0] * v[1], v[2], v[3], oh, ow, win, bwd);
  double eb = element_bytes(d), planes = v[0] * v[1];
  double bytes = planes * (v[2] * v[3] * eb + oh * ow * (eb + 8));  // x, y and int64 indices
  auto [g, b] = launch_arg(a);
  if (!(g > 0)) std::tie(g, b) = max_pool_launch(v[0], v[1], v[2], v[3], oh, ow, bwd, layout == "nhwc");
  const KernelMapper* m = hw.mapper ? hw.mapper.get() : hw.arch_mapper.get();
  const double curve = hw.memory_time(bytes);
  if (!m) return calibrated(hw, "pool", 0, bytes, curve, Dtype::FP32);
  KernelEstimate e = m->serial_loads(p.elems * (layout == "nchw" ? p.loads_warp : p.loads), bytes, g, b);
  if (!hw.mapper) {  // calibrated: the curve, at least the round trips (the curve's floor holds the dispatch)
    KernelEstimate c = calibrated(hw, "pool", 0, bytes, std::max(curve, e.time_s - e.overhead_s), Dtype::FP32);
    c.bound = c.time_s > curve ? "latency" : "memory";
    return c;
  }
  e.kind = "pool";
  return e;
}

KernelEstimate estimate(const Accelerator& hw, const Args& a) {
  const auto& pos = a.positional();
  const std::string& what = pos[0];
  const KernelMapper* m = hw.mapper.get();
  auto need = [&](size_t n) {
    if (pos.size() != n + 1)
      throw make_error("kernel", what, "expected " + std::to_string(n) + " arguments after it (orrery kernel --help)");
  };
  if (what == "gemm") {
    need(2);
    auto s = dims(pos[1], 3, "gemm MxNxK");
    Dtype d = dtype_arg(pos[2]);
    double b = a.has("--batch") ? num(a.get("--batch"), "--batch") : 1;
    if (!m) {
      double eb = dtype_bytes(d);
      return calibrated(hw, "gemm", 2 * s[0] * s[1] * s[2] * b, eb * b * (s[0] * s[2] + s[2] * s[1] + s[0] * s[1]),
                        hw.gemm_time(s[0], s[1], s[2], d, b), d);
    }
    if (a.has("--tile")) {
      auto t = dims(a.get("--tile"), 3, "--tile");
      Tile tile{int(t[0]), int(t[1]), int(t[2]), 0, 1};
      return m->gemm(s[0], s[1], s[2], d, b, &tile);
    }
    return m->gemm(s[0], s[1], s[2], d, b);
  }
  if (what == "attention") {
    need(4);
    double bh = num(pos[1], "batch*heads"), sq = num(pos[2], "seq"), hd = num(pos[3], "head_dim");
    Dtype d = dtype_arg(pos[4]);
    double skv = a.has("--kv-seq") ? num(a.get("--kv-seq"), "--kv-seq") : sq;
    bool causal = a.has("--causal"), bwd = a.has("--backward");
    if (!m) {
      double f = 4 * bh * sq * skv * hd * (causal ? 0.5 : 1) * (bwd ? 2.5 : 1);
      double by = bh * (2 * sq + 2 * skv) * hd * dtype_bytes(d) * (bwd ? 2 : 1);
      return calibrated(hw, "attention", f, by, hw.attention_time(f, by, d), d);
    }
    return m->attention(bh, sq, skv, hd, d, causal, bwd);
  }
  if (what == "conv") {
    need(8);
    std::vector<double> v;
    const char* names[] = {"N", "C", "H", "W", "K", "R", "S"};
    for (int i = 0; i < 7; ++i) v.push_back(num(pos[1 + i], names[i]));
    Dtype d = dtype_arg(pos[8]);
    double stride = a.has("--stride") ? num(a.get("--stride"), "--stride") : 1;
    double pad = a.has("--pad") ? parse_quantity(a.get("--pad"), Unit::Count, "--pad") : 0;
    if (pad < 0 || pad != std::floor(pad)) throw make_error("--pad", a.get("--pad"), "expected a whole number >= 0");
    if (!(stride >= 1) || stride != std::floor(stride)) throw make_error("--stride", a.get("--stride"), "expected a whole number >= 1");
    if (!m) {
      double P = std::floor((v[2] + 2 * pad - v[5]) / stride) + 1, Q = std::floor((v[3] + 2 * pad - v[6]) / stride) + 1;
      if (!(P >= 1 && Q >= 1)) throw make_error("conv", "shape", "the filter is larger than the padded input");
      double M = v[0] * P * Q, N = v[4], K = v[1] * v[5] * v[6];
      return calibrated(hw, "conv", 2 * M * N * K, dtype_bytes(d) * (v[0] * v[1] * v[2] * v[3] + N * K + M * N),
                        hw.gemm_time(M, N, K, d), d);
    }
    return m->conv(v[0], v[1], v[2], v[3], v[4], v[5], v[6], stride, pad, d);
  }
  if (what == "memory") {
    need(1);
    double bytes = static_cast<double>(parse_cli_size(pos[1], "BYTES"));
    if (!(bytes >= 1)) throw make_error("kernel", "BYTES", "must be at least 1");
    if (!m) return calibrated(hw, "memory", 0, bytes, hw.memory_time(bytes), Dtype::FP32);
    if (a.has("--grid") || a.has("--block") || a.has("--write-only")) {
      if (a.has("--warm-l2")) throw make_error("kernel", "--warm-l2", "applies to an unknown launch only (without --grid/--block/--write-only)");
      auto [g, b] = launch_arg(a);
      return m->memory_launch(bytes, 0, g, b, a.has("--write-only"));
    }
    return m->memory(bytes, 0, a.has("--warm-l2"));
  }
  if (what == "elementwise") {
    need(2);
    return elementwise_kernel_estimate(hw, a, pos);
  }
  if (what == "pool") {
    need(6);
    return pool_kernel_estimate(hw, a, pos);
  }
  if (what == "reduce") {
    need(2);
    double bytes = static_cast<double>(parse_cli_size(pos[1], "BYTES"));
    if (!(bytes >= 1)) throw make_error("kernel", "BYTES", "must be at least 1");
    Dtype d = dtype_arg(pos[2]);
    if (!m) return calibrated(hw, "reduce", 0, bytes, hw.memory_time(bytes), Dtype::FP32);
    ReduceLaunch r;
    r.element_bytes = element_bytes(d);
    r.output_vec = a.has("--vec") ? num(a.get("--vec"), "--vec") : 4;
    r.outputs = a.has("--outputs") ? num(a.get("--outputs"), "--outputs") : 0;
    if (!(r.output_vec >= 1 && r.output_vec <= 16)) throw make_error("kernel", "--vec", "output_vec_size from 1 to 16");
    if (r.outputs > bytes / r.element_bytes)  // (a reduction has at most one output per input element)
      throw make_error("--outputs", a.get("--outputs"), "more outputs than the " + pos[1] + " of input hold elements");
    auto [g, b] = launch_values(a);
    if (!(g >= 1 && b >= 1) || !std::isfinite(g * b))
      throw make_error("kernel", g >= 1 ? "--block" : "--grid", "reduce needs --grid and --block, each at least 1");
    KernelEstimate e = m->reduction(r, bytes, g, b);
    e.kind = "reduce";
    return e;
  }
  throw make_error("kernel", what, "unknown kernel (gemm, attention, conv, memory, elementwise, reduce, pool, describe)");
}

Spec kernel_spec() {
  Spec s;
  s.name = "kernel";
  s.summary = "one kernel (gemm, attention, conv, memory, elementwise, reduce, pool) on one chip: time, bound, fraction of peak";
  s.usage = "--hw NAME [--hw-model first-principles|calibrated] [--set k=v]... [--json out.json|-]\n"
            "         gemm MxNxK DTYPE [--batch B] [--tile MxNxK]\n"
            "       | attention BATCH*HEADS SEQ HEAD_DIM DTYPE [--kv-seq S] [--causal] [--backward]\n"
            "       | conv N C H W K R S DTYPE [--stride 1] [--pad 0]\n"
            "       | memory BYTES [--warm-l2] [--grid G --block T] [--write-only]\n"
            "       | elementwise NUMEL DTYPE [--family vectorized|unrolled|strided|cat] [--dims D] [--operands N] [--cast] [--in-stride S]\n"
            "                   [--grid G --block T] [--vt N]\n"
            "       | reduce BYTES DTYPE --grid G --block T [--vec 4] [--outputs N]   (PyTorch's reduce_kernel)\n"
            "       | pool N C H W KSIZE DTYPE [--stride KSIZE] [--pad 0] [--backward] [--layout nhwc|nchw] [--grid G --block T]\n"
            "                   (PyTorch's max pooling)\n"
            "       | describe   (the architecture description with units and sources)";
  s.example = "kernel --hw h100 gemm 8192x8192x8192 bf16";
  s.flags = {
      {"--hw", "NAME|FILE", "h100", "", "chip preset (orrery list presets)", Flag::MeaningDefault},
      {"--hw-model", "first-principles|calibrated", "first-principles", "",
       "cost model: the architecture mapping or the calibrated curves", Flag::MeaningDefault},
      set_flag(),
      {"--json", "FILE|-", "", "", "result as JSON (- : to stdout)"},
      {"--batch", "B", "", "", "gemm: batched GEMM count"},
      {"--tile", "MxNxK", "", "", "gemm: force this tile (first-principles)"},
      {"--kv-seq", "S", "", "tokens", "attention: key/value length (default: SEQ)"},
      {"--causal", "", "", "", "attention: causal mask"},
      {"--backward", "", "", "", "attention, pool: the backward pass"},
      {"--stride", "N", "", "", "conv: stride (default 1); pool: stride (default the kernel size)"},
      {"--pad", "N", "", "", "conv, pool: padding (default 0)"},
      {"--layout", "nhwc|nchw", "nhwc", "", "pool: memory format of the input (channels-last or contiguous)", Flag::MeaningDefault},
      {"--warm-l2", "", "", "", "memory: the data is in L2"},
      {"--grid", "G", "", "", "memory, reduce, elementwise, pool: launched as G blocks (with --block): loads in flight bound small grids"},
      {"--block", "T", "", "", "memory, reduce, elementwise, pool: threads per block (with --grid)"},
      {"--vt", "N", "", "", "elementwise: elements per thread (default: PyTorch's for the family and dtype)"},
      {"--vec", "N", "", "", "reduce: output_vec_size, outputs per thread (default 4: a reduction over a non-contiguous dimension)"},
      {"--outputs", "N", "", "", "reduce: output elements (a grid with several blocks per output adds the global-reduction tail)"},
      {"--write-only", "", "", "", "memory: stores only (a memset): no load round trip"},
      {"--family", "vectorized|unrolled|strided|cat", "vectorized", "", "elementwise: PyTorch kernel family (cat: aten::cat's generic CatArrayBatchedCopy)", Flag::MeaningDefault},
      {"--dims", "D", "", "", "elementwise: dimensions the strided kernel's offset calculator walks, or the cat kernel's Dims (default 1)"},
      {"--operands", "N", "", "", "elementwise: tensors including the output (default 3: a binary op)"},
      {"--cast", "", "", "", "elementwise: operand dtypes differ (per-element dtype switch)"},
      {"--in-stride", "S", "", "", "elementwise (strided): neighbouring threads read each input S elements apart (a transposing copy: one L2 sector per element)"},
  };
  s.notes = "DTYPE: fp64, fp32, tf32, bf16, fp16, fp8, fp4, int8. See docs/codesign.md.";
  return s;
}

Register kernel_reg(kernel_spec(), [](Args& a) {
               if (a.positional().empty()) throw make_error("kernel", "", "missing the kernel: gemm, attention, conv, memory, elementwise, reduce, pool or describe (orrery kernel --help)");
               std::vector<std::string> sets = a.all("--set");
               std::string model = a.has("--hw-model") ? a.get("--hw-model") : "";  // (default first-principles, unless --set chose)
               bool set_model = std::any_of(sets.begin(), sets.end(),
                                            [](const std::string& x) { return x.rfind("first_principles=", 0) == 0; });
               if (model.empty() && !set_model) model = "first-principles";
               apply_hw_model(model, sets);
               Accelerator hw = load_accelerator(a.get("--hw", "h100"), sets);
               if (a.positional()[0] == "describe") {
                 if (a.positional().size() > 1) throw make_error("kernel", a.positional()[1], "describe takes no arguments");
                 if (hw.arch_json.is_null()) throw make_error(hw.source_path, "arch", "the preset has no architecture description");
                 std::printf("%s (%s)  %s\n", hw.name.c_str(), hw.source_path.c_str(), hw.description.c_str());
                 for (auto& d : arch_params().decls()) {  // declaration order, with units
                   const nlohmann::json& e = hw.arch_json.at(d.name);
                   char num[32];
                   if (!e["value"].is_string()) std::snprintf(num, sizeof num, "%g", e["value"].get<double>());
                   std::string v = e["value"].is_string() ? e["value"].get<std::string>() : num;
                   std::printf("  %-22s %-14s %s\n", d.name.c_str(), v.c_str(), e.value("source", "(default)").c_str());
                 }
                 return 0;
               }
               KernelEstimate e = estimate(hw, a);
               if (!(e.time_s <= kMaxSimSeconds))
                 throw make_error("kernel", a.positional().empty() ? "" : a.positional()[0],
                                  "takes " + format_time(e.time_s) + ": beyond the simulator's range (about 104 days)");
               nlohmann::json j = e.to_json();
               j["hw"] = hw.name;
               j["hw_model"] = hw.mapper ? "first-principles" : "calibrated";
               j["launch_gap_s"] = hw.p("kernel_gap");  // between back-to-back kernels of a stream
               j["graph_node_gap_s"] = hw.p("graph_node_gap");  // between the kernel nodes of one CUDA graph
               std::string out = a.get("--json");
               if (out == "-") {
                 std::printf("%s\n", j.dump(1).c_str());
                 return 0;
               }
               std::printf("%s on %s (%s): %s   bound %s   %.1f%% of peak\n", e.kind.c_str(), hw.name.c_str(),
                           j["hw_model"].get<std::string>().c_str(), format_time(e.time_s).c_str(), e.bound.c_str(),
                           100 * e.fraction_of_peak);
               if (hw.mapper) {
                 std::printf("  engine %s, peak %s; HBM %s, L2 %s\n", e.engine.c_str(),
                             format_quantity(e.peak_flops, Unit::FlopRate).c_str(), format_bytes(e.hbm_bytes).c_str(),
                             format_bytes(e.l2_bytes).c_str());
                 std::printf("  compute %s, L2 %s, HBM %s, overhead %s\n", format_time(e.compute_s).c_str(),
                             format_time(e.l2_s).c_str(), format_time(e.hbm_s).c_str(), format_time(e.overhead_s).c_str());
                 if (e.issue_s > 0)
                   std::printf("  SIMT issue of the load/store path %s (added to the transfer)\n", format_time(e.issue_s).c_str());
                 std::printf("  back to back on a stream: %s per kernel (+ launch_gap %s before the next)\n",
                             format_time(e.time_s + hw.p("kernel_gap")).c_str(), format_time(hw.p("kernel_gap")).c_str());
                 if (e.kind != "memory" && e.kind != "elementwise" && e.kind != "pool")
                   std::printf("  tile %dx%dx%d, %d stages, split-K %d; %.0f tiles in %.0f waves (%.0f%% wave efficiency)\n",
                               e.tile.m, e.tile.n, e.tile.k, e.tile.stages, e.tile.split_k, e.tiles, e.waves,
                               100 * e.wave_efficiency);
               }
               if (!out.empty()) write_json_file(out, j);
               return 0;
});
}  // namespace
}  // namespace orrery::cli
