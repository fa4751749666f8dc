#pragma once
// Architecture description of one accelerator chip, from first principles: compute units and
// clocks, matrix engines (MACs per clock per unit for every dtype, instruction shape, sparsity),
// vector/SFU throughput, registers and shared memory/SRAM per unit, L2/global SRAM, HBM stacks,
// the on-chip network (crossbar or 2D mesh), chip-to-chip links and the device-side dispatch cost.
// Declared once (arch_params(): unit, default, description); every value in a preset carries its
// public source. Kernel-free: hw_models/mapping.h maps kernels onto it. Loaded from the "arch"
// section of hw_models/presets/NAME.json together with the accelerator's own params (sm_count,
// l2_size, hbm_bandwidth, hbm_capacity, power, which the description shares rather than repeats).
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/params.h"

namespace orrery {

enum class Dtype;

const ParamSet& arch_params();

// Matrix-engine dtypes the description knows (MACs per clock per unit: "mma_<name>").
const std::vector<std::string>& arch_matrix_dtypes();

struct Arch {
  std::string where;                         // "<preset file>: arch" for error messages
  ParamValues params;                        // resolved arch_params()
  std::map<std::string, std::string> sources;  // param name -> public source
  // Shared with the accelerator's params (one name per concept).
  double units = 0, l2_size = 0, hbm_bandwidth = 0, hbm_capacity = 0;

  double p(std::string_view name) const { return params.get(name); }
  // Dense MACs per clock per unit on the matrix engine for dtype `d` (0: the chip has none).
  double mma_per_clock(Dtype d) const;
  // Name of the engine parameter for `d` ("mma_bf16"), "" for dtypes that run on the vector units.
  static std::string mma_param(Dtype d);
  // Peak dense FLOP/s of the matrix engines for `d` at clock `hz` (2 x MACs x units x clock).
  double matrix_peak(Dtype d, double hz) const { return 2.0 * mma_per_clock(d) * units * hz; }
  // FP32 vector peak FLOP/s (FMA = 2 FLOP) at clock `hz`.
  double vector_peak(double hz) const { return 2.0 * p("vector_fma_per_clock") * units * hz; }
  bool is_mesh() const { return p("noc_mesh_x") > 0; }
  // Bandwidth of the global on-chip level (L2 or the SRAM spread over a mesh): l2_bandwidth, capped
  // on a 2D mesh by its bisection (uniform traffic: half the bytes cross min(x, y) links each way).
  double onchip_bandwidth() const;
  // What a grid on `occupied` units draws from that level: their ports (l2_port_bandwidth each),
  // at most onchip_bandwidth() (occupied 0: unknown grid, the whole chip).
  double port_bandwidth(double occupied) const;
  // Throws "<file>: arch.mma_<d>: ..." when the chip has no engine for `d`.
  void require_dtype(Dtype d) const;

  nlohmann::json to_json() const;            // values with units and their sources
  std::string describe() const;              // table for `orrery kernel --hw NAME describe`
};

// Parses a preset's "arch" object: {"name": "value with unit"} or {"name": {"value": ..., "source": "..."}}.
// `shared` carries sm_count, l2_size, hbm_bandwidth, hbm_capacity from the accelerator's params.
// Overrides ("name=value", --set) apply after. Errors name `where` and the field.
Arch parse_arch(const nlohmann::json& j, const std::string& where, const ParamValues& shared,
                const std::vector<std::string>& overrides);

// --hw-model first-principles|calibrated as an accelerator override ("first_principles=1|0")
// appended to `overrides` (the --set list). Error for another name.
void apply_hw_model(const std::string& model, std::vector<std::string>& overrides);

}  // namespace orrery
