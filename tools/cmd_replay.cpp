// `orrery replay BUNDLE`: replay a captured PyTorch step on a simulated accelerator.
#include <cstdio>
#include <filesystem>

#include "sim/csv.h"
#include "sim/error.h"
#include "sim/units.h"
#include "hw_models/arch.h"
#include "tools/cluster_cli.h"
#include "tools/command.h"
#include "tools/power_options.h"
#include "workloads/energy.h"
#include "workloads/json_io.h"
#include "workloads/ingest_probe.h"
#include "workloads/chakra.h"
#include "workloads/replay.h"
#include "workloads/train.h"

namespace orrery::cli {
namespace {

void print_summary(const ReplayResult& r) {
  nlohmann::json j = r.to_json();
  std::printf("bundle     %s\n", r.bundle.c_str());
  std::printf("hardware   %s   mode %s", r.hw.c_str(), r.mode.c_str());
  if (!r.system.empty()) std::printf("   system %s", r.system.c_str());
  if (r.ranks > 1) std::printf("   %d ranks", r.ranks);
  if (!r.overrides.empty()) {
    std::printf("   what-if:");
    for (auto& o : r.overrides) std::printf(" %s", o.c_str());
  }
  if (r.scale_dp > 1) std::printf("   data-parallel x%d (gradient collectives %s per replica)", r.scale_dp, format_time(r.comm_time_s).c_str());
  std::printf("\n");
  std::printf("step time  %s (predicted)", format_time(r.step_time_s).c_str());
  if (r.has_measured) {
    bool inside = r.step_time_s >= r.measured_min_s && r.step_time_s <= r.measured_max_s;
    std::printf("   measured %s (min %s, max %s)   error %+.1f%%%s", format_time(r.measured_step_s).c_str(),
                format_time(r.measured_min_s).c_str(), format_time(r.measured_max_s).c_str(), r.error_pct,
                inside ? "   inside measured range" : "");
  } else if (r.what_if) {
    std::printf("   what-if, no ground truth (%s)", r.what_if_reason.c_str());
  }
  std::printf("\n");
  std::printf("GPU busy   %s (%.1f%%), idle %s\n", format_time(r.gpu_busy_s).c_str(),
              r.step_time_s > 0 ? 100 * r.gpu_busy_s / r.step_time_s : 0.0,
              format_time(std::max(0.0, r.step_time_s - r.gpu_busy_s)).c_str());
  if (r.host_table != "preset")
    std::printf("host       %s table (%s; %.2fx the preset's times)\n", r.host_table_given ? "the given host's" : "the capture host's",
                r.host_table.c_str(), r.host_speed_ratio);
  std::printf("energy     %s per GPU per step (average %s)\n", format_quantity(r.energy_j, Unit::Energy).c_str(),
              format_quantity(r.step_time_s > 0 ? r.energy_j / r.step_time_s : 0, Unit::Power).c_str());
  if (r.peak_memory_bytes > 0) std::printf("peak mem   %s (from tensor lifetimes)", format_bytes(r.peak_memory_bytes).c_str());
  else std::printf("peak mem   n/a (needs the Execution Trace's tensor ids)");
  if (r.measured_peak_memory_bytes > 0) std::printf("   measured max_mem_allocated %s", format_bytes(r.measured_peak_memory_bytes).c_str());
  std::printf("\n\ntime by kernel class (simulated):\n");
  std::vector<std::pair<double, std::string>> cls;
  double total = 0;
  for (auto& [k, v] : r.time_by_class_s) {
    cls.push_back({v, k});
    total += v;
  }
  std::sort(cls.rbegin(), cls.rend());
  for (auto& [v, k] : cls) std::printf("  %-14s %12s  %5.1f%%\n", k.c_str(), format_time(v).c_str(), total > 0 ? 100 * v / total : 0.0);
  std::printf("\ntop kernels (bottlenecks):\n");
  for (auto& k : j["top_kernels"]) {
    std::string name = k["name"].get<std::string>();
    if (name.size() > 70) name = name.substr(0, 67) + "...";
    std::printf("  %10s  x%-4d %-12s %-8s %s\n", format_time(k["simulated_ms"].get<double>() * 1e-3).c_str(),
                k["count"].get<int>(), k["class"].get<std::string>().c_str(), k["bound"].get<std::string>().c_str(), name.c_str());
  }
  std::printf("\nefficiency headroom (roofline, measured kernel times):\n");
  int n = 0;
  for (auto& k : j["roofline"]["top_headroom"]) {
    if (n++ >= 5) break;
    std::string name = k["name"].get<std::string>();
    if (name.size() > 60) name = name.substr(0, 57) + "...";
    std::printf("  %-7s AI %7.1f FLOP/B  %5.1f%% of peak  headroom %8.1f us  %s\n", k["bound"].get<std::string>().c_str(),
                k["arithmetic_intensity"].get<double>(), 100 * k["achieved_fraction_of_peak"].get<double>(),
                k["headroom_us"].get<double>(), name.c_str());
  }
  std::printf("\nsimulated %zu kernels, %zu host ops in %s wall\n", r.kernels.size(), r.host_items, format_time(r.sim_wall_s).c_str());
  if (r.graph_launches > 0)
    std::printf("CUDA graph launches %zu, with %zu nodes (one host launch each; graph_node_gap between nodes)\n",
                r.graph_launches, r.graph_nodes);
}

Spec replay_spec() {
  Spec s;
  s.name = "replay";
  s.summary = "replay a captured PyTorch step (ET + Kineto bundle) on a simulated GPU";
  s.usage = "BUNDLE [--hw NAME|FILE] [--mode measured|roofline|transfer] [--set NAME=VALUE]... [options]";
  s.example = "replay examples/bundles/gpt_b --mode roofline --set hbm_bandwidth=4.8TB/s --timeline t.json";
  s.flags = {
      {"--hw", "NAME|FILE", "h100", "", "GPU preset to simulate (orrery list presets)", Flag::MeaningDefault},
      {"--mode", "MODE", "measured", "", "kernel times: measured (the capture's), roofline (cost model), transfer (measured, scaled --source-hw -> --hw)",
       Flag::MeaningDefault},
      {"--source-hw", "NAME|FILE", "h100", "", "GPU the capture was taken on (--mode transfer)"},
      {"--gemm-precision", "fp8|bf16|fp16", "", "", "cost the captured 16-bit GEMMs in this precision"},
      {"--host-table", "auto|preset|FILE", "auto", "", "host dispatch table: auto = the bundle's host_dispatch.json on the capture's GPU, else the preset's; FILE = a host_dispatch.json of the target host (host_micro.py), for any GPU"},
      set_flag(),
      system_flag(),
      {"--nodes", "N", "", "", "nodes of the system (multi-rank bundles; default: as many as the ranks need)"},
      {"--scale-dp", "N", "1", "", "grow a data-parallel capture to N replicas (gradient collectives on the fabric)"},
      sys_set_flag(),
      {"--engine", "systemc|event", "systemc", "", "event engine"},
      {"--timeline", "FILE", "", "", "Chrome/Perfetto trace of the simulated step"},
      {"--json", "FILE", "", "", "results as JSON (writes FILE.config.json: the resolved configuration)"},
      {"--csv", "FILE", "", "", "one row per GPU kernel"},
      {"--quiet", "", "", "", "no summary"},
      {"--tokens", "N", "", "tokens", "tokens the step processes (energy and cost per million tokens)"},
      hw_model_flag(),
  };
  for (auto& f : cluster_flags()) s.flags.push_back(f);  // multi-rank bundles, --scale-dp, Chakra directories
  s.flags = with_power_flags(s.flags);
  s.notes = "BUNDLE: a capture folder (et.json[.gz] + kineto.json[.gz] [+ measured.json]; per-rank files for multi-rank),\n"
            "or a directory of Chakra traces (*.et), which runs as orrery chakra-run does. See docs/replay.md.";
  return s;
}

Register replay_reg(replay_spec(), [](Args& a) {
               if (a.positional().size() != 1) throw Error("usage: orrery replay " + replay_spec().usage);
               // A directory of Chakra traces (*.et, one per rank) runs through the Chakra runner.
               {
                 namespace fs = std::filesystem;
                 std::string dir = a.positional()[0];
                 bool et_json = false, chakra = false;
                 std::error_code ec;
                 if (fs::is_directory(dir, ec))
                   for (auto& e : fs::directory_iterator(dir, ec)) {
                     std::string n = e.path().filename().string();
                     et_json |= n.rfind("et.", 0) == 0 && n.find(".json") != std::string::npos;
                     chakra |= e.path().extension() == ".et";
                   }
                 if (chakra && !et_json) return run_chakra_command(a, dir);
               }
               ReplayOptions o;
               o.bundle = a.positional()[0];
               o.hw = a.get("--hw");
               o.mode = parse_replay_mode(a.get("--mode"));
               if (o.mode == ReplayMode::Transfer) o.source_hw = a.get("--source-hw");  // else --source-hw is a no-op: an error
               o.overrides = a.all("--set");
               apply_hw_model(a.get("--hw-model"), o.overrides);
               o.engine = a.get("--engine");
               o.timeline_path = a.get("--timeline");
               o.system = a.get("--system");
               o.nodes = static_cast<int>(a.get_int("--nodes", 0));
               if (a.has("--nodes") && o.nodes < 1) throw make_error("--nodes", a.get("--nodes"), "must be at least 1");
               o.scale_dp = static_cast<int>(a.get_int("--scale-dp", 1));
               o.system_overrides = a.all("--sys-set");
               o.gemm_precision = a.get("--gemm-precision");
               o.host_table = a.get("--host-table");
               o.cluster = parse_cluster_options(a);  // multi-rank and --scale-dp: the cluster executor
               ReplayResult r = replay_bundle(o);
               ingest_probe("replay done");
               // A single-GPU replay without collectives uses no system: its flags would be silent no-ops.
               if (r.system.empty())
                 for (const char* f : {"--system", "--nodes", "--sys-set"})
                   if (a.has(f)) throw make_error(f, a.get(f), "this bundle ran on one GPU without collectives: no system is used");
               // Node, facility and cost view of the GPU energy replay computed (hw_models/power.h).
               Accelerator hw = load_accelerator(o.hw, o.overrides);
               PowerModel pm = power_model_from(a, hw);
               double tokens = a.get_double("--tokens", 0);
               if (!(tokens >= 0)) throw make_error("--tokens", a.get("--tokens"), "must be zero or more");
               int gpn = 8;  // (a torus, ring or graph has no servers: 0, the power model's node)
               if (r.ranks > 1 || r.scale_dp > 1) {
                 SystemSpec spec = load_system_spec(o.system, o.nodes, o.system_overrides);
                 gpn = spec.fixed_topology ? 0 : spec.gpus_per_node;
               }
               EnergyReport energy = replay_energy(r, hw, pm, gpn, tokens);
               if (!a.has("--quiet")) {
                 print_summary(r);
                 ingest_probe("summary printed");
                 if (!r.cluster_text.empty())
                   std::printf("\nexecutor   %d of %d ranks simulated%s, %llu events\n%s", r.simulated_ranks,
                               r.ranks > 1 ? r.ranks : r.scale_dp, r.symmetric ? " (symmetric replicas)" : "",
                               static_cast<unsigned long long>(r.events), r.cluster_text.c_str());
                 if (!a.defaults_used().empty()) std::printf("defaults used: %s\n", a.defaults_used().c_str());
                 std::printf("%s", format_energy(energy).c_str());
               }
               std::string json_path = a.get("--json");
               if (!json_path.empty()) {
                 nlohmann::json j = r.to_json();
                 nlohmann::json ej = energy.to_json();
                 j["energy"] = ej;  // (top-level energy_j / avg_power_w stay one GPU's, as before)
                 for (const char* k : {"kwh_per_mtok", "cost_usd", "cost_usd_per_mtok"}) j[k] = ej[k];
                 write_json_file(json_path, j);
                 r.config["power"] = pm.to_json();
                 // Resolved configuration next to the results, so any number can be reproduced.
                 std::string config_path = config_path_for(json_path);
                 r.config["argv"] = a.argv();  // orrery rerun
                 write_json_file(config_path, r.config);
                 if (!a.has("--quiet")) std::printf("wrote %s and %s\n", json_path.c_str(), config_path.c_str());
               }
               if (a.has("--csv")) {
                 // One row per GPU activity, in issue order: what a spreadsheet or pandas wants.
                 nlohmann::ordered_json rows = nlohmann::ordered_json::array();
                 for (size_t k = 0; k < r.kernels.size(); ++k) {
                   const KernelRow& x = r.kernels[k];
                   rows.push_back({{"index", k}, {"name", x.name}, {"class", x.kernel_class}, {"op", x.op},
                                   {"measured_us", x.measured_s * 1e6}, {"simulated_us", x.simulated_s * 1e6},
                                   {"flops", x.flops}, {"bytes", x.bytes}, {"bound", x.bound},
                                   {"achieved_fraction_of_peak", x.achieved_fraction}});
                 }
                 write_csv_file(a.get("--csv"), rows);
                 if (!a.has("--quiet")) std::printf("wrote %s (%zu kernels)\n", a.get("--csv").c_str(), r.kernels.size());
               }
               if (!o.timeline_path.empty() && !a.has("--quiet"))
                 std::printf("wrote timeline %s (Perfetto / chrome://tracing)\n", o.timeline_path.c_str());
               return 0;
             });
}  // namespace
}  // namespace orrery::cli
