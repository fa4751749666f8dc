#pragma once
// Power, energy and cost of a simulated step. Owns the power model (declared once, component
// "power" in `orrery describe`): GPU board power from the utilisation of its tensor cores/SMs and
// of its HBM (idle + dynamic, capped at the board limit, both from the accelerator preset), the
// per-node overheads (host CPUs/DRAM/fans/storage, NICs, NVSwitches, a share of the scale-out
// switches), the data-centre PUE and the prices ($/GPU-hour, $/kWh). Presets with their sources:
// hw_models/power/<gpu>.json. Kernel-free: plain functions tests call directly.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "sim/params.h"

namespace orrery {

// A utilisation share in [0, 1]; NaN and infinities count as 0.
inline double clamp01(double x) { return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.0; }

const ParamSet& power_params();

struct PowerModel {
  std::string name, source_path;
  ParamValues params;           // see power_params()
  nlohmann::json sources;       // "param": "where the figure comes from"
  double gpu_idle_w = 0, gpu_tdp_w = 0;  // the accelerator preset's power_idle / power_tdp
  double p(const std::string& n) const { return params.get(n); }
  // Board power of one GPU with a fraction u_sm of its SMs busy, its tensor cores at u_tensor of
  // the dense peak, HBM streaming at u_hbm of its bandwidth and NVLink ports carrying u_link of
  // theirs (each clamped to [0, 1]): idle + dynamic, capped at the board limit.
  double gpu_power(double u_sm, double u_tensor, double u_hbm, double u_link = 0) const;
  // Everything of a node that is not a GPU board, at training load (watts).
  double node_overhead_w(int gpus_per_node) const;
  nlohmann::json to_json() const;
};

// Power preset by name or path ("" = the accelerator's name, hw_models/power/<gpu>.json; a GPU
// without a preset gets the declared defaults), then "name=value" overrides (--power-set,
// --price-gpu-hour, --price-kwh, --pue). Errors name the file and the field.
PowerModel load_power(const std::string& name_or_path, const Accelerator& hw,
                      const std::vector<std::string>& overrides = {});
std::string power_dir();

// What a simulation knows about one step, for the energy report.
struct EnergyInputs {
  double step_s = 0;
  int gpus = 1;
  int gpus_per_node = 8;    // 0: no servers in the topology (the power model's accelerators_per_node)
  double gpu_energy_j = 0;  // board energy of one (average) GPU over the step
  double gpu_peak_w = 0;    // highest board power of one GPU during the step
  double tokens = 0;        // tokens processed by the whole job in the step (0 = unknown)
};

struct EnergyReport {
  EnergyInputs in;
  double nodes = 0;                 // gpus / gpus_per_node (a fraction for sub-node jobs)
  double gpu_avg_w = 0, gpu_peak_w = 0;
  double node_avg_w = 0, node_peak_w = 0, node_rated_w = 0;
  double it_energy_j = 0;           // GPUs + node overheads, whole job, one step
  double energy_j = 0;              // it_energy_j x PUE (facility)
  double kwh_per_mtok = 0;          // facility kWh per million tokens (0 when tokens unknown)
  double gpu_cost_usd = 0, energy_cost_usd = 0, cost_usd = 0, cost_usd_per_mtok = 0;
  double pue = 1, price_gpu_hour = 0, price_kwh = 0;
  nlohmann::json to_json() const;   // keys energy_j, kwh_per_mtok, avg_power_w, peak_power_w, cost_usd, ...
};
EnergyReport energy_report(const PowerModel& pm, const EnergyInputs& in);
// Two lines for the text output of train / replay / collective.
std::string format_energy(const EnergyReport& e);


}  // namespace orrery
