// `orrery chakra-run DIR`: run Chakra execution traces (*.et, one per rank) on the cluster
// executor: every rank a GPU model, every collective and send as flows on the system's fabric.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>

#include "sim/csv.h"
#include "sim/error.h"
#include "tools/cluster_cli.h"
#include "workloads/chakra.h"
#include "workloads/collective.h"
#include "workloads/json_io.h"

namespace orrery::cli {

// Representative traces (orrery convert's default: one per pipeline stage) hold only some ranks;
// a straggler or GPU what-if on a rank without a trace would change nothing: an error naming it.
void check_what_if_ranks_traced(const ClusterOptions& co, const std::string& dir, int world) {
  std::vector<long> ranks = chakra_trace_ranks(dir);
  std::set<long> traced(ranks.begin(), ranks.end());
  if (static_cast<int>(traced.size()) >= world) return;
  auto check = [&](const std::string& flag, const std::string& arg, const std::string& spec) {  // "R" or "A-B"
    auto dash = spec.find('-');
    long lo = std::strtol(spec.c_str(), nullptr, 10);
    long hi = dash == std::string::npos ? lo : std::strtol(spec.c_str() + dash + 1, nullptr, 10);
    for (long r = lo; r <= hi; ++r)
      if (!traced.count(r))
        throw make_error(flag, arg, "rank " + std::to_string(r) + " has no trace in " + dir + " (" + std::to_string(traced.size()) +
                                        " representative traces of " + std::to_string(world) +
                                        " ranks): write one per GPU with orrery convert --all-ranks");
  };
  for (auto& g : co.gpu_speed) check("--gpu-speed", g, g.substr(0, g.find('=')));
  for (auto& g : co.gpu_set) check("--gpu-set", g, g.substr(0, g.find(':')));
}

int run_chakra_command(const Args& a, const std::string& dir) {
  ClusterOptions co = parse_cluster_options(a);
  // Size the system to the traces before costing anything on it.
  if (!std::filesystem::is_directory(dir)) {
    // Bad --set / --sys-set keys are named first (the same error whatever the directory).
    topo::System probe = load_job_system(a, 0);
    coll::collective_params().resolve(probe.collective, probe.source_path + ": collective");
    Accelerator hw0 = load_accelerator(probe.accelerator, a.all("--set"));
    (void)hw0;
    throw make_error(dir, "", "not a directory of Chakra traces (*.et)");
  }
  int world = chakra_world(dir);
  topo::System sys = load_job_system(a, world);
  apply_faults(sys, co);
  ClusterHardware hw(sys.accelerator, a.all("--set"), co, std::max(world, 1));
  check_what_if_ranks_traced(co, dir, world);
  auto core = make_engine(a.get("--engine", "systemc"));
  std::unique_ptr<Timeline> tl;
  if (a.has("--timeline")) tl = std::make_unique<Timeline>();
  if (tl) tl->link_counters = a.get_int("--timeline-links", 16, 0, 100000);
  ChakraRunResult r = run_chakra_dir(dir, sys, hw, co, *core, tl.get());
  if (tl) tl->write(a.get("--timeline"));
  for (auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("Chakra traces %zu (%llu nodes) on %s (%d GPUs)\n", r.files.size(),
              static_cast<unsigned long long>(r.nodes), sys.name.c_str(), sys.topo.num_gpus());
  for (size_t k = 0; k < r.files.size(); ++k)
    std::printf("  %-50s %s\n", r.files[k].c_str(), format_time(r.rank_time_s[k]).c_str());
  std::printf("step time  %s (slowest rank)\n", format_time(r.makespan_s).c_str());
  std::printf("traces %zu, nodes %llu\nmakespan_s %.6f\n", r.files.size(), static_cast<unsigned long long>(r.nodes), r.makespan_s);
  print_cluster_report(r.exec, false, r.files.size(), world);
  if (a.has("--json")) {
    nlohmann::json j = {{"step_time_ms", r.makespan_s * 1e3}, {"makespan_s", r.makespan_s}, {"ranks", r.files.size()},
                        {"nodes", r.nodes},   {"system", sys.name},  {"cluster", r.exec.to_json()},
                        {"options", co.to_json()}};
    write_json_file(a.get("--json"), j);
  }
  if (a.has("--csv")) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (size_t k = 0; k < r.files.size(); ++k) rows.push_back({{"trace", r.files[k]}, {"time_s", r.rank_time_s[k]}});
    write_csv_file(a.get("--csv"), rows);
  }
  return 0;
}

namespace {
Spec chakra_run_spec() {
  Spec s;
  s.name = "chakra-run";
  s.summary = "simulate a directory of Chakra execution traces (*.et) on a system";
  s.usage = "DIR [--system NAME|FILE] [--nodes N] [cluster what-if flags]";
  s.example = "chakra-run traces --system dgx-h100";
  s.flags = {system_flag(),
             {"--nodes", "N", "", "", "nodes of the system (default: as many as the ranks need)"},
             set_flag(),
             sys_set_flag(),
             {"--engine", "systemc|event", "systemc", "", "event engine"},
             {"--timeline", "FILE", "", "", "Chrome/Perfetto trace of every rank"},
             {"--timeline-links", "N", "16", "", "link-utilisation counter tracks in the timeline (hottest links; 0: none)"},
             {"--json", "FILE", "", "", "results as JSON"},
             {"--csv", "FILE", "", "", "one row per trace"}};
  for (auto& f : cluster_flags()) s.flags.push_back(f);
  s.notes = "DIR: one <prefix>.<rank>.et per rank (Chakra's own traces and orrery convert output). Self-dependencies\n"
            "are dropped with a note, as Chakra's feeder never waits on them. Every collective and send runs as\n"
            "flows on the system's fabric (cluster executor). See docs/chakra.md.";
  return s;
}

Register chakra_run_reg(chakra_run_spec(), [](Args& a) {
  if (a.positional().size() != 1) throw Error("usage: orrery chakra-run " + chakra_run_spec().usage);
  int rc = run_chakra_command(a, a.positional()[0]);
  if (!a.defaults_used().empty()) std::printf("defaults used: %s\n", a.defaults_used().c_str());
  return rc;
});
}  // namespace
}  // namespace orrery::cli
