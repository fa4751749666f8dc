// Power, energy and cost model (see power.h): declarations, presets, the per-step report.
#include "hw_models/power.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "sim/data_files.h"
#include "sim/error.h"

namespace orrery {

const ParamSet& power_params() {
  static const ParamSet set(
      "power",
      "power, energy and cost model (hw_models/power/<gpu>.json; --power-set name=value, --price-gpu-hour, "
      "--price-kwh, --pue); GPU idle and board limit are the accelerator's power_idle / power_tdp",
      {
          {"gpu_sm_power", Unit::Power, "200 W",
           "GPU dynamic power with every SM busy (issue, registers, L1/L2) and the tensor cores idle", false},
          {"gpu_tensor_power", Unit::Power, "550 W",
           "GPU dynamic power added by the tensor cores at the dense peak (uncapped; the board limit caps the sum)", false},
          {"gpu_hbm_power", Unit::Power, "110 W", "GPU dynamic power with HBM streaming at its full bandwidth", false},
          {"gpu_link_power", Unit::Power, "40 W", "GPU dynamic power with its NVLink ports at full bandwidth", false},
          {"gpu_link_bandwidth", Unit::Bandwidth, "450 GB/s",
           "NVLink bandwidth per GPU and direction at which gpu_link_power is drawn (the link utilisation's denominator)", true},
          {"host_power", Unit::Power, "900 W", "per node: CPUs, DRAM, storage, management at training load", false},
          {"fan_power", Unit::Power, "900 W", "per node: fans and board-level cooling at training load", false},
          {"nic_power", Unit::Power, "25 W", "per GPU: its scale-out NIC (one NIC per GPU)", false},
          {"nvswitch_power", Unit::Power, "300 W", "per node: the NVSwitch chips and their retimers", false},
          {"psu_efficiency", Unit::Ratio, "0.94", "power-supply efficiency (node wall power = DC power / efficiency)", true},
          {"switch_power_per_gpu", Unit::Power, "36 W",
           "scale-out network switches per GPU (about 3 switch ports per NIC in a fat tree); outside the node", false},
          {"node_rated_power", Unit::Power, "10.2 kW", "nameplate (maximum) power of one node, for comparison", true},
          {"accelerators_per_node", Unit::Count, "8",
           "accelerators one node's host, fan and switch power and its rating serve, where the topology has no "
           "servers of its own (torus, mesh, ring, graph); a server-structured system's own count wins", true},
          {"pue", Unit::Ratio, "1.2", "data-centre power usage effectiveness (facility / IT power)", true},
          {"price_gpu_hour", Unit::Ratio, "2.5", "USD per GPU-hour (rental or amortised ownership, without energy)", false},
          {"price_kwh", Unit::Ratio, "0.08", "USD per kWh of facility energy", false},
      });
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {
const bool power_params_registered = (power_params(), true);
}  // namespace

double PowerModel::gpu_power(double u_sm, double u_tensor, double u_hbm, double u_link) const {
  double dyn = p("gpu_sm_power") * clamp01(u_sm) + p("gpu_tensor_power") * clamp01(u_tensor) +
               p("gpu_hbm_power") * clamp01(u_hbm) + p("gpu_link_power") * clamp01(u_link);
  return std::min(gpu_tdp_w, gpu_idle_w + dyn);
}

double PowerModel::node_overhead_w(int gpus_per_node) const {
  double dc = p("host_power") + p("fan_power") + p("nvswitch_power") + p("nic_power") * gpus_per_node;
  return dc / p("psu_efficiency");
}

nlohmann::json PowerModel::to_json() const {
  return {{"name", name},
          {"source", source_path},
          {"params", params.to_json(power_params())},
          {"sources", sources},
          {"gpu_idle", format_quantity(gpu_idle_w, Unit::Power)},
          {"gpu_tdp", format_quantity(gpu_tdp_w, Unit::Power)}};
}

std::string power_dir() { return data_dir("ORRERY_POWER", "hw_models/power"); }

PowerModel load_power(const std::string& name_or_path, const Accelerator& hw, const std::vector<std::string>& overrides) {
  PowerModel pm;
  pm.gpu_idle_w = hw.p("power_idle");
  pm.gpu_tdp_w = hw.p("power_tdp");
  nlohmann::json j = nlohmann::json::object();
  std::string name = name_or_path.empty() ? hw.name : name_or_path;
  std::string path = power_dir() + "/" + name + ".json";
  if (!name_or_path.empty() || path_exists(path)) {
    path = find_data_file(name, power_dir(), "--power", "unknown power preset", "known");
    j = parse_json_path(path);
    if (!j.is_object()) throw make_error(path, "", "expected a JSON object {name, description, params, sources}");
    pm.source_path = path;
  } else {
    path = "power (defaults)";
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "name" && it.key() != "description" && it.key() != "params" && it.key() != "sources")
      throw make_error(path, it.key(), "unknown key (known: name, description, params, sources)");
  for (const char* k : {"name", "description"})
    if (j.contains(k) && !j[k].is_string()) throw make_error(path, k, "expected a string");
  for (const char* k : {"params", "sources"})
    if (j.contains(k) && !j[k].is_object()) throw make_error(path, k, "expected an object");
  pm.name = j.value("name", name);
  pm.params = power_params().resolve(j.value("params", nlohmann::json::object()), path + ": params");
  pm.sources = j.value("sources", nlohmann::json::object());
  std::set<std::string> overridden;  // (a bad value a flag set names the flag, not the preset)
  for (auto& o : overrides) {
    pm.params.apply_override(power_params(), o, "--power-set");
    overridden.insert(o.substr(0, o.find('=')));
  }
  auto fail = [&](const std::string& name, const std::string& what) {
    if (overridden.count(name)) throw make_error("--power-set", name, what);
    throw make_error(path, name, what);
  };
  for (auto& d : power_params().decls()) {
    double v = pm.params.get(d.name);
    if (!std::isfinite(v) || v < 0 || (d.positive && !(v > 0)))
      fail(d.name, "must be " + std::string(d.positive ? "greater than zero" : "zero or more"));
  }
  if (pm.p("pue") < 1) fail("pue", "must be at least 1 (facility power includes the IT power)");
  if (pm.p("psu_efficiency") > 1) fail("psu_efficiency", "must be at most 1");
  return pm;
}

EnergyReport energy_report(const PowerModel& pm, const EnergyInputs& in) {
  EnergyReport e;
  e.in = in;
  const double T = in.step_s;
  // (0: the topology has no servers; a node is the power model's accelerators_per_node)
  const int gpn = in.gpus_per_node > 0 ? in.gpus_per_node : std::max(1, static_cast<int>(pm.p("accelerators_per_node")));
  e.nodes = static_cast<double>(in.gpus) / gpn;
  e.gpu_avg_w = T > 0 ? in.gpu_energy_j / T : 0;
  e.gpu_peak_w = std::max(in.gpu_peak_w, e.gpu_avg_w);
  double over = pm.node_overhead_w(gpn);
  // GPU boards are fed by the node's power supplies too.
  e.node_avg_w = gpn * e.gpu_avg_w / pm.p("psu_efficiency") + over;
  e.node_peak_w = gpn * e.gpu_peak_w / pm.p("psu_efficiency") + over;
  e.node_rated_w = pm.p("node_rated_power");
  e.it_energy_j = (e.nodes * e.node_avg_w + in.gpus * pm.p("switch_power_per_gpu")) * T;
  e.pue = pm.p("pue");
  e.energy_j = e.it_energy_j * e.pue;
  e.price_gpu_hour = pm.p("price_gpu_hour");
  e.price_kwh = pm.p("price_kwh");
  e.gpu_cost_usd = in.gpus * T / 3600.0 * e.price_gpu_hour;
  e.energy_cost_usd = e.energy_j / 3.6e6 * e.price_kwh;
  e.cost_usd = e.gpu_cost_usd + e.energy_cost_usd;
  if (in.tokens > 0) {
    e.kwh_per_mtok = e.energy_j / 3.6e6 / (in.tokens / 1e6);
    e.cost_usd_per_mtok = e.cost_usd / (in.tokens / 1e6);
  }
  return e;
}

nlohmann::json EnergyReport::to_json() const {
  nlohmann::json j;
  j["energy_j"] = energy_j;
  j["it_energy_j"] = it_energy_j;
  j["gpu_energy_j"] = in.gpu_energy_j;
  j["kwh_per_mtok"] = in.tokens > 0 ? nlohmann::json(kwh_per_mtok) : nlohmann::json(nullptr);
  j["avg_power_w"] = {{"gpu", gpu_avg_w}, {"node", node_avg_w}, {"job", in.step_s > 0 ? energy_j / in.step_s : 0}};
  j["peak_power_w"] = {{"gpu", gpu_peak_w}, {"node", node_peak_w}};
  j["node_rated_power_w"] = node_rated_w;
  j["node_fraction_of_rated"] = node_rated_w > 0 ? node_avg_w / node_rated_w : 0;
  j["cost_usd"] = cost_usd;
  j["cost_usd_per_mtok"] = in.tokens > 0 ? nlohmann::json(cost_usd_per_mtok) : nlohmann::json(nullptr);
  j["gpu_cost_usd"] = gpu_cost_usd;
  j["energy_cost_usd"] = energy_cost_usd;
  j["gpus"] = in.gpus;
  j["nodes"] = nodes;
  j["tokens"] = in.tokens;
  j["pue"] = pue;
  j["price_gpu_hour"] = price_gpu_hour;
  j["price_kwh"] = price_kwh;
  return j;
}

std::string format_energy(const EnergyReport& e) {
  char buf[512];
  std::string tok = e.in.tokens > 0 ? ", " + std::to_string(e.kwh_per_mtok).substr(0, 6) + " kWh/Mtok" : "";
  std::snprintf(buf, sizeof buf,
                "energy       %s per step (facility, PUE %.2f)%s; power per GPU avg %.0f W peak %.0f W, per node avg "
                "%.2f kW peak %.2f kW (%.0f%% of %.1f kW rated)\n"
                "cost         $%.4g per step ($%.4g GPU-hours at $%.2f/GPU-h + $%.4g energy at $%.3f/kWh)%s\n",
                format_quantity(e.energy_j, Unit::Energy).c_str(), e.pue, tok.c_str(), e.gpu_avg_w, e.gpu_peak_w,
                e.node_avg_w / 1e3, e.node_peak_w / 1e3, 100 * e.node_avg_w / e.node_rated_w, e.node_rated_w / 1e3,
                e.cost_usd, e.gpu_cost_usd, e.price_gpu_hour, e.energy_cost_usd, e.price_kwh,
                e.in.tokens > 0 ? (", $" + std::to_string(e.cost_usd_per_mtok).substr(0, 7) + " per Mtok").c_str() : "");
  return buf;
}


}  // namespace orrery
