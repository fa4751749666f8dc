// Owns the architecture description's declarations (arch_params), its parsing with per-value
// sources, and its consistency checks (zero units, missing engines, disconnected on-chip mesh).
#include "hw_models/arch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "hw_models/accelerator.h"
#include "sim/error.h"

namespace orrery {

namespace {
ParamDecl F(const char* n, const char* d, const char* desc) { return {n, Unit::Frequency, d, desc, true}; }
ParamDecl C(const char* n, const char* d, const char* desc, bool pos = false) { return {n, Unit::Count, d, desc, pos}; }
ParamDecl B(const char* n, const char* d, const char* desc, bool pos = true) { return {n, Unit::Bytes, d, desc, pos}; }
ParamDecl BW(const char* n, const char* d, const char* desc, bool pos = true) { return {n, Unit::Bandwidth, d, desc, pos}; }
ParamDecl T(const char* n, const char* d, const char* desc) { return {n, Unit::Time, d, desc, false}; }
ParamDecl R(const char* n, const char* d, const char* desc) { return {n, Unit::Ratio, d, desc, true}; }
}  // namespace

const ParamSet& arch_params() {
  static const ParamSet set(
      "arch",
      "first-principles architecture description (hw_models/presets/*.json, section \"arch\"; each value "
      "{\"value\": ..., \"source\": ...}); shares sm_count, l2_size, hbm_bandwidth, hbm_capacity, power_* with accelerator",
      {
          F("clock_boost", "", "boost clock the vendor quotes the matrix peaks at; vector/SIMT work and fraction_of_peak use it"),
          F("clock_sustained", "", "clock held under sustained full matrix-engine load at TDP (vendor base/rated clock)"),
          C("mma_fp64", "0", "dense FP64 matrix-engine MACs per clock per compute unit (0: none)"),
          C("mma_tf32", "0", "dense TF32 matrix-engine MACs per clock per unit (0: none)"),
          C("mma_bf16", "", "dense BF16 matrix-engine MACs per clock per unit", true),
          C("mma_fp16", "0", "dense FP16 matrix-engine MACs per clock per unit (0: none)"),
          C("mma_fp8", "0", "dense FP8 matrix-engine MACs per clock per unit (0: none)"),
          C("mma_fp4", "0", "dense FP4/MXFP4 matrix-engine MACs per clock per unit (0: none)"),
          C("mma_int8", "0", "dense INT8 matrix-engine MACs per clock per unit (0: none)"),
          R("sparsity_speedup", "1", "2:4 structured-sparsity speed-up of the matrix engines (1: none)"),
          C("mma_m", "", "matrix instruction / systolic array rows: tile M is a multiple of it", true),
          C("mma_n", "", "matrix instruction / systolic array columns: tile N is a multiple of it", true),
          C("mma_k", "", "matrix instruction depth in 16-bit elements (scales with 2/bytes for 8- and 4-bit)", true),
          C("vector_fma_per_clock", "", "FP32 FMA lanes per unit (SIMT cores / vector ALUs)", true),
          C("simt_issue_per_clock", "0",
            "SIMT thread-instructions issued per clock per unit (warp schedulers x warp width): the rate of the "
            "index math, addresses and casts of PyTorch's elementwise kernels, whose time adds to their transfer; "
            "0: vector_fma_per_clock"),
          C("sfu_per_clock", "16", "special-function (exp) results per clock per unit", true),
          B("registers_per_unit", "", "register file per unit (holds the accumulator tile)"),
          B("smem_per_unit", "", "shared memory / local SRAM per unit usable by one tile's operand stages"),
          C("smem_bytes_per_clock", "", "shared memory / SRAM read bandwidth per unit, bytes per clock", true),
          BW("l2_bandwidth", "", "L2 / global SRAM bandwidth (all units together)"),
          BW("l2_port_bandwidth", "0 B/s",
             "L2 / global SRAM bandwidth one compute unit can draw (its port): a grid on fewer units than the chip "
             "has reaches the L2 through those units' ports only; held when sm_count changes; "
             "0: l2_bandwidth / sm_count",
             false),
          B("l2_sector_bytes", "32 B",
            "granularity of an L2 access: a warp's load or store moves whole sectors, so neighbouring threads "
            "reading elements a stride apart (a transposing copy) move one sector per element"),
          C("l2_partitions", "1",
            "L2 partitions that each cache the data of the SMs wired to them (a line every SM reads is held in each "
            "partition): a kernel spread over the chip reuses l2_size / l2_partitions of earlier kernels' data", true),
          C("l2_reuse", "0",
            "replay: 1 credits each memory-bound op the input bytes earlier kernels left in L2 (an LRU over the "
            "trace's storages of l2_size / l2_partitions; they stream at the L2 rate); 0 (default): every load from HBM"),
          C("l2_multicast", "1", "units that share one L2 read of an operand tile (thread-block-cluster multicast; 1: none)", true),
          C("hbm_stacks", "0", "HBM stacks (0: no off-chip memory on the compute die)"),
          T("hbm_latency", "", "off-chip (or global SRAM) load latency seen by a unit"),
          T("l2_latency", "0 ns",
            "L2 hit latency seen by a unit (a load that hits L2, a fence, an atomic: the serial tail of a global "
            "reduction); 0: hbm_latency"),
          R("hbm_efficiency", "0.9", "achievable fraction of the HBM interface peak (refresh, bank and read/write turnaround)"),
          C("noc_mesh_x", "0", "on-chip 2D mesh columns (0: crossbar)"),
          C("noc_mesh_y", "0", "on-chip 2D mesh rows (0: crossbar)"),
          BW("noc_link_bandwidth", "1 TB/s", "on-chip mesh link bandwidth per direction"),
          C("chip_links", "", "chip-to-chip links (NVLink, ICI, Infinity Fabric, die-to-die edges)", true),
          BW("chip_link_bandwidth", "", "per chip-to-chip link, per direction"),
          T("chip_link_latency", "1 us", "per chip-to-chip hop"),
          T("dispatch_latency", "", "device-side cost of one kernel: dispatch to the units and drain (graph replay)"),
          T("launch_gap", "1 us",
            "device-side gap between back-to-back kernels of one stream (eager launches): the front end retires one grid "
            "and starts the next; it lies outside each kernel's own duration (dispatch_latency is inside it)"),
          C("max_threads_per_unit", "2048", "resident threads per unit (occupancy limit; a memory-bound grid smaller than the chip keeps fewer loads in flight)", true),
          C("max_blocks_per_unit", "32", "resident thread blocks per unit (occupancy limit)", true),
          B("load_bytes_per_thread", "64 B", "bytes one thread of a streaming kernel keeps in flight (independent loads x load width; Little's law with hbm_latency)"),
      });
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {
const bool arch_params_registered = (arch_params(), true);
}  // namespace

const std::vector<std::string>& arch_matrix_dtypes() {
  static const std::vector<std::string> v = {"fp64", "tf32", "bf16", "fp16", "fp8", "fp4", "int8"};
  return v;
}

std::string Arch::mma_param(Dtype d) {
  switch (d) {
    case Dtype::FP64: return "mma_fp64";
    case Dtype::TF32: return "mma_tf32";
    case Dtype::BF16: return "mma_bf16";
    case Dtype::FP16: return "mma_fp16";
    case Dtype::FP8: return "mma_fp8";
    case Dtype::FP4: return "mma_fp4";
    case Dtype::I8: return "mma_int8";
    default: return "";
  }
}

double Arch::mma_per_clock(Dtype d) const {
  std::string n = mma_param(d);
  return n.empty() ? 0.0 : p(n);
}

double Arch::onchip_bandwidth() const {
  double bw = p("l2_bandwidth");
  if (is_mesh()) bw = std::min(bw, 4.0 * std::min(p("noc_mesh_x"), p("noc_mesh_y")) * p("noc_link_bandwidth"));
  return bw;
}

double Arch::port_bandwidth(double occupied) const {
  double chip = onchip_bandwidth();
  if (!(occupied > 0)) return chip;
  double port = p("l2_port_bandwidth") > 0 ? p("l2_port_bandwidth") : p("l2_bandwidth") / units;
  return std::min(chip, occupied * port);
}

void Arch::require_dtype(Dtype d) const {
  std::string n = mma_param(d);
  if (!n.empty() && !(p(n) > 0))
    throw make_error(where, n, std::string("the chip has no ") + dtype_name(d) + " matrix engine (0 MACs/clock)");
}

namespace {
// A whole number as typed, however large (no int conversion: 1e9 x 8 x 16 x 4 bytes overflows one).
std::string whole(double v) { return format_number(v, 15); }

void check_arch(const Arch& a) {
  if (!(a.units >= 1)) throw make_error(a.where, "sm_count", "needs at least one compute unit");
  if (!(a.units <= 1e7) || a.units != std::floor(a.units))  // (a wafer-scale part has ~1e6 cores)
    throw make_error(a.where, "sm_count", "must be a whole number of at most 10 million units");
  if (a.p("clock_sustained") > a.p("clock_boost") * 1.0001)
    throw make_error(a.where, "clock_sustained", "is above clock_boost");
  for (const char* n : {"mma_m", "mma_n", "mma_k", "vector_fma_per_clock", "sfu_per_clock", "chip_links",
                        "max_threads_per_unit", "max_blocks_per_unit"}) {
    double v = a.p(n);
    if (v != std::floor(v)) throw make_error(a.where, n, "must be a whole number");
  }
  // The smallest tile (one instruction shape, double-buffered 16-bit operands) must fit on chip.
  double smallest = 2.0 * (a.p("mma_m") + a.p("mma_n")) * a.p("mma_k") * 2.0;
  if (smallest > a.p("smem_per_unit"))
    throw make_error(a.where, "smem_per_unit", "smaller than one double-buffered " + whole(a.p("mma_m")) + "x" +
                                                    whole(a.p("mma_n")) + " instruction tile (" + whole(smallest) +
                                                    " bytes)");
  double mx = a.p("noc_mesh_x"), my = a.p("noc_mesh_y");
  if ((mx > 0) != (my > 0))
    throw make_error(a.where, mx > 0 ? "noc_mesh_y" : "noc_mesh_x",
                     "a 2D mesh needs both dimensions; with one of them 0 the mesh is not connected");
  if (mx > 0 && mx * my < a.units)
    throw make_error(a.where, "noc_mesh_x", "mesh of " + whole(mx) + " x " + whole(my) + " sites cannot hold " + whole(a.units) +
                                                " units: the units left over are not connected");
  if (a.p("hbm_stacks") == 0 && a.hbm_capacity > 0 && a.p("noc_mesh_x") == 0)
    throw make_error(a.where, "hbm_stacks", "0 stacks but hbm_capacity > 0 on a crossbar chip");
}
}  // namespace

Arch parse_arch(const nlohmann::json& j, const std::string& where, const ParamValues& shared,
                const std::vector<std::string>& overrides) {
  Arch a;
  a.where = where;
  if (!j.is_object()) throw make_error(where, "", "expected an object of architecture parameters");
  nlohmann::json plain = nlohmann::json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it->is_object()) {
      for (auto f = it->begin(); f != it->end(); ++f)
        if (f.key() != "value" && f.key() != "source")
          throw make_error(where, it.key() + "." + f.key(), "unknown key (known: value, source)");
      if (!it->contains("value")) throw make_error(where, it.key(), "missing \"value\"");
      plain[it.key()] = (*it)["value"];
      if (it->contains("source")) {
        if (!(*it)["source"].is_string()) throw make_error(where, it.key() + ".source", "expected a string");
        a.sources[it.key()] = (*it)["source"].get<std::string>();
      }
    } else {
      plain[it.key()] = *it;
    }
  }
  a.params = arch_params().resolve(plain, where);
  for (auto& o : overrides) a.params.apply_override(arch_params(), o);
  for (auto& d : arch_params().decls())
    if (d.positive && !(a.params.get(d.name) > 0)) throw make_error(where, d.name, "must be greater than zero");
  a.units = shared.get("sm_count");
  a.l2_size = shared.get("l2_size");
  a.hbm_bandwidth = shared.get("hbm_bandwidth");
  a.hbm_capacity = shared.get("hbm_capacity");
  check_arch(a);
  return a;
}

void apply_hw_model(const std::string& model, std::vector<std::string>& overrides) {
  for (const auto& o : overrides)  // (two choices of one thing: the later one would win silently)
    if (!model.empty() && o.rfind("first_principles=", 0) == 0)
      throw make_error("--set", "first_principles", "chooses the hardware model, as --hw-model " + model + " does: give one");
  if (model.empty() || model == "calibrated") return;
  if (model != "first-principles" && model != "first_principles")
    throw make_error("--hw-model", model, "unknown hardware model (calibrated, first-principles)");
  overrides.push_back("first_principles=1");
}

nlohmann::json Arch::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json v = params.to_json(arch_params());
  for (auto it = v.begin(); it != v.end(); ++it) {
    nlohmann::json e = {{"value", *it}};
    auto s = sources.find(it.key());
    if (s != sources.end()) e["source"] = s->second;
    j[it.key()] = e;
  }
  return j;
}

std::string Arch::describe() const {
  std::ostringstream os;
  nlohmann::json v = params.to_json(arch_params());
  for (auto& d : arch_params().decls()) {
    std::string val = v[d.name].is_string() ? v[d.name].get<std::string>() : v[d.name].dump();
    auto s = sources.find(d.name);
    os << "  " << d.name << std::string(d.name.size() < 22 ? 22 - d.name.size() : 1, ' ') << val
       << std::string(val.size() < 14 ? 14 - val.size() : 1, ' ') << (s != sources.end() ? s->second : "(default)") << "\n";
  }
  return os.str();
}

}  // namespace orrery
