// `orrery emulate SCRIPT`: runs the user's own PyTorch training script with fake tensors and a
// fake process group (workloads/emulate/orrery_emulate, Python), writes the emulated ranks as a
// capture bundle and simulates the step in roofline mode on the cluster (replay_bundle).
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "sim/data_files.h"
#include "sim/error.h"
#include "sim/units.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/json_io.h"
#include "workloads/replay.h"

namespace orrery::cli {
namespace {
namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The interpreter that runs the emulator: $ORRERY_PYTHON, else Debian's /usr/bin/python3 (where
// apt's python3-torch lives), else python3 on PATH.
std::string python() {
  if (const char* p = std::getenv("ORRERY_PYTHON"); p && *p) return p;
  if (fs::exists("/usr/bin/python3")) return "/usr/bin/python3";
  return "python3";
}

// Runs the emulator; returns its JSON summary. Its error line becomes ours.
nlohmann::json run_emulator(const std::vector<std::string>& argv) {
  std::string pkg = data_dir("ORRERY_EMULATE_DIR", "workloads/emulate");
  std::string cmd = "PYTHONPATH=" + shell_quote(pkg) + " " + shell_quote(python()) + " -m orrery_emulate";
  for (auto& a : argv) cmd += " " + shell_quote(a);
  fs::path err = fs::temp_directory_path() / ("orrery-emulate-" + std::to_string(::getpid()) + ".err");
  cmd += " 2>" + shell_quote(err.string());
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw Error("cannot start " + python());
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  std::string errtext;
  {
    std::ifstream f(err);
    std::string line;
    while (std::getline(f, line))
      if (!line.empty()) errtext = line;  // the last line: the emulator's one-line error
  }
  fs::remove(err);
  if (status != 0 || out.empty()) {
    if (errtext.rfind("error: ", 0) == 0) throw Error(errtext.substr(7));
    if (errtext.find("No module named") != std::string::npos || WEXITSTATUS(status) == 127)
      throw Error(python() + ": cannot run the emulator (" + errtext + "); install python3-torch (apt) or set ORRERY_PYTHON");
    throw Error("the emulator failed: " + (errtext.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : errtext));
  }
  try {
    return nlohmann::json::parse(out.substr(out.find('{')));
  } catch (const std::exception&) {
    throw Error("the emulator printed no summary: " + out.substr(0, 200));
  }
}

// Kernel durations in the written Kineto traces are placeholders; saved bundles (and Chakra
// traces made from them) get each kernel's roofline time, from a single-rank roofline replay of
// every distinct emulated rank.
void fill_roofline_durations(const std::string& dir, const nlohmann::json& summary, const ReplayOptions& base) {
  int world = summary["world_size"].get<int>();
  std::map<int, std::vector<double>> by_rep;
  for (auto& rj : summary["ranks_emulated"]) {
    int rep = rj.get<int>();
    fs::path tmp = fs::temp_directory_path() / ("orrery-emulate-rank-" + std::to_string(::getpid()) + "-" + std::to_string(rep));
    fs::create_directories(tmp);
    std::string sfx = world == 1 ? "" : "." + std::to_string(rep);
    fs::copy_file(fs::path(dir) / ("et" + sfx + ".json"), tmp / "et.json", fs::copy_options::overwrite_existing);
    nlohmann::json kt = read_json_file((fs::path(dir) / ("kineto" + sfx + ".json")).string());
    kt.erase("distributedInfo");
    write_json_file((tmp / "kineto.json").string(), kt);
    ReplayOptions o = base;
    o.bundle = tmp.string();
    ReplayResult r = replay_bundle(o);
    for (auto& k : r.kernels) by_rep[rep].push_back(k.simulated_s);
    fs::remove_all(tmp);
  }
  for (int rank = 0; rank < world; ++rank) {  // the ranks written (all, or the distinct ones)
    int rep = summary["rank_map"][std::to_string(rank)].get<int>();
    std::string path = (fs::path(dir) / ("kineto" + (world == 1 ? std::string() : "." + std::to_string(rank)) + ".json")).string();
    if (!path_exists(path)) continue;
    nlohmann::json kt = read_json_file(path);
    size_t i = 0;
    const auto& d = by_rep[rep];
    for (auto& e : kt["traceEvents"]) {
      std::string cat = e.value("cat", "");
      if ((cat == "kernel" || cat == "gpu_memcpy" || cat == "gpu_memset") && i < d.size()) e["dur"] = d[i++] * 1e6;
    }
    write_json_file(path, kt);
  }
}

void print_summary(const ReplayResult& r, const nlohmann::json& s, double sim_s) {
  std::printf("script     %s   world size %d   emulated ranks", s.value("script", "").c_str(), s["world_size"].get<int>());
  for (auto& x : s["ranks_emulated"]) std::printf(" %d", x.get<int>());
  std::printf("   (%zu groups, step = %s)\n", s["groups"].get<size_t>(), s["step_source"].get<std::string>() == "profiler" ? "profiler step()" : "optimizer.step()");
  std::printf("hardware   %s   mode %s", r.hw.c_str(), r.mode.c_str());
  if (!r.system.empty()) std::printf("   system %s", r.system.c_str());
  std::printf("\nstep time  %s (predicted, slowest rank)", format_time(r.step_time_s).c_str());
  if (r.has_measured)
    std::printf("   measured %s (min %s, max %s)   error %+.1f%%", format_time(r.measured_step_s).c_str(),
                format_time(r.measured_min_s).c_str(), format_time(r.measured_max_s).c_str(), r.error_pct);
  std::printf("\n");
  if (r.rank_step_s.size() > 1) {
    double lo = 1e300, hi = 0;
    for (double t : r.rank_step_s) lo = std::min(lo, t), hi = std::max(hi, t);
    std::printf("ranks      %zu simulated, step %s .. %s\n", r.rank_step_s.size(), format_time(lo).c_str(), format_time(hi).c_str());
  }
  std::printf("GPU busy   %s (rank 0, %.1f%%)\n", format_time(r.gpu_busy_s).c_str(), r.step_time_s > 0 ? 100 * r.gpu_busy_s / r.step_time_s : 0.0);
  if (r.peak_memory_bytes > 0) std::printf("peak mem   %s (rank 0, from tensor lifetimes)\n", format_bytes(r.peak_memory_bytes).c_str());
  std::printf("\ntime by kernel class (rank 0, simulated):\n");
  std::vector<std::pair<double, std::string>> cls;
  double total = 0;
  for (auto& [k, v] : r.time_by_class_s) cls.push_back({v, k}), total += v;
  std::sort(cls.rbegin(), cls.rend());
  for (auto& [v, k] : cls) std::printf("  %-14s %12s  %5.1f%%\n", k.c_str(), format_time(v).c_str(), total > 0 ? 100 * v / total : 0.0);
  nlohmann::json j = r.to_json();
  std::printf("\ntop kernels (rank 0):\n");
  for (auto& k : j["top_kernels"]) {
    std::string name = k["name"].get<std::string>();
    if (name.size() > 70) name = name.substr(0, 67) + "...";
    std::printf("  %10s  x%-4d %-12s %s\n", format_time(k["simulated_ms"].get<double>() * 1e-3).c_str(), k["count"].get<int>(),
                k["class"].get<std::string>().c_str(), name.c_str());
  }
  for (auto& n : s["notes"]) std::printf("note: %s\n", n.get<std::string>().c_str());
  std::printf("\nemulation %s, simulation %s wall\n", format_time(s["emulation_s"].get<double>() + s["write_s"].get<double>()).c_str(),
              format_time(sim_s).c_str());
}

Spec emulate_spec() {
  Spec s;
  s.name = "emulate";
  s.summary = "run your own PyTorch training script with fake tensors at any world size, then simulate its step";
  s.usage = "SCRIPT --world-size N [--system NAME|FILE] [--nodes K] [--hw NAME] [--ranks 0,4] [options] [-- script args]";
  s.example = "emulate examples/emulate/gpt_tp_pp.py --world-size 64 --system dgx-h100 --nodes 8 --hw h100 -- --tp 2 --pp 2";
  s.flags = {
      {"--world-size", "N", "1", "", "ranks the script runs as (fake process group)"},
      system_flag(),
      nodes_flag(),
      {"--hw", "NAME|FILE", "h100", "", "GPU preset of the simulated step"},
      {"--ranks", "LIST", "", "", "ranks to emulate (others are symmetric copies), e.g. 0,32"},
      {"--steps", "N", "2", "", "training steps the script runs (the last is simulated)"},
      {"--devices-per-node", "N", "8", "", "GPUs per node the script sees"},
      {"--jobs", "N", "", "", "ranks emulated in parallel"},
      {"--strict-data", "", "", "", "fail on data-dependent control flow instead of guessing"},
      {"--emulate-only", "", "", "", "emulate the script and print what it ran; no simulation"},
      {"--no-symmetry", "", "", "", "simulate every rank, not one per class of replicas"},
      {"--write-bundle", "DIR", "", "", "keep the emulated capture bundle in DIR"},
      {"--write-chakra", "DIR", "", "", "also write the step as Chakra traces"},
      {"--measured", "FILE", "", "", "measured.json to put into the bundle (for orrery validate)"},
      set_flag(),
      sys_set_flag(),
      {"--timeline", "FILE", "", "", "Chrome/Perfetto trace of the simulated step"},
      {"--json", "FILE", "", "", "results as JSON (writes FILE.config.json)"},
      {"--quiet", "", "", "", "no summary"},
  };
  s.notes = "SCRIPT: a PyTorch training script (plain, DDP, FSDP, hand-written TP/PP); arguments after -- go to it.\n"
            "Needs python3-torch (build.sh installs it). See docs/emulate.md.";
  return s;
}

// The emulator's command line: the script, world size, output folder, steps, devices per node,
// device, and the options passed through; then `--` and the script's own arguments.
std::vector<std::string> emulator_args(const Args& a, const std::string& script, long world, long steps, const std::string& dir) {
  const std::vector<std::string>& script_args = a.rest();
  std::vector<std::string> py = {script, "--world-size", std::to_string(world), "--out", dir, "--steps", std::to_string(steps),
                                 "--devices-per-node", std::to_string(a.get_int("--devices-per-node", 8, 1, 4096)),
                                 "--device-name", a.get("--hw", "h100")};
  if (a.has("--ranks")) py.insert(py.end(), {"--ranks", a.get("--ranks")});
  if (a.has("--jobs")) py.insert(py.end(), {"--jobs", std::to_string(a.get_int("--jobs", 1, 1, 1024))});
  if (a.has("--strict-data")) py.push_back("--strict-data");
  // Only the distinct ranks' traces and ranks.json (the rank map), which the replay shares among
  // the ranks that replicate them; Chakra tools need every rank's file.
  if (!a.has("--write-chakra")) py.insert(py.end(), {"--write-ranks", "emulated"});
  if (!script_args.empty()) {
    py.push_back("--");
    py.insert(py.end(), script_args.begin(), script_args.end());
  }
  return py;
}

// --emulate-only: the emulated ranks' traces (+ ranks.json, the rank map), no simulation; a
// summary of the ops and collectives per rank.
void print_emulation(const nlohmann::json& summary, const std::string& script, long world, const std::string& dir) {
  std::printf("script     %s   world size %ld   emulated ranks %zu   (%zu groups)\n", script.c_str(), world,
              summary["ranks_emulated"].size(), summary["groups"].get<size_t>());
  for (auto& [r, n] : summary["ops_in_step"].items())
    std::printf("  rank %-6s %7d ops, %5d collectives in the step\n", r.c_str(), n.get<int>(),
                summary["collectives_in_step"][r].get<int>());
  for (auto& n : summary["notes"]) std::printf("note: %s\n", n.get<std::string>().c_str());
  std::printf("emulation %s wall; traces in %s\n", format_time(summary["emulation_s"].get<double>() + summary["write_s"].get<double>()).c_str(),
              dir.c_str());
}

// The roofline replay of the emulated bundle in `dir` on --system / --hw.
ReplayOptions emulated_replay_options(const Args& a, const std::string& dir) {
  ReplayOptions o;
  o.bundle = dir;
  o.hw = a.get("--hw", "h100");
  o.mode = ReplayMode::Roofline;
  o.overrides = a.all("--set");
  o.system = a.get("--system", "dgx-h100");
  o.nodes = static_cast<int>(a.get_int("--nodes", 0));
  o.system_overrides = a.all("--sys-set");
  o.timeline_path = a.get("--timeline");
  o.engine = "event";
  o.cluster.no_symmetry = a.has("--no-symmetry");
  return o;
}

// Replays the emulated bundle (with --measured's measured.json beside it for comparison), fills
// the kept bundle's kernel durations, writes Chakra traces; the bundle folder is removed unless
// kept. Prints the summary, writes --json and its configuration.
void simulate_emulated(const Args& a, nlohmann::json& summary, const std::string& dir, bool keep) {
  // --measured FILE: a real run's measured.json, compared with (never used by) the prediction.
  if (a.has("--measured")) {
    if (!is_regular_file_path(a.get("--measured"))) throw make_error(a.get("--measured"), "", "no such measured.json");
    fs::copy_file(a.get("--measured"), fs::path(dir) / "measured.json", fs::copy_options::overwrite_existing);
  }
  ReplayOptions o = emulated_replay_options(a, dir);
  auto t0 = std::chrono::steady_clock::now();
  ReplayResult r;
  try {
    r = replay_bundle(o);
  } catch (const Error&) {
    if (!keep) fs::remove_all(dir);
    throw;
  }
  double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (keep || a.has("--write-chakra")) {
    ReplayOptions single = o;
    single.timeline_path.clear();
    fill_roofline_durations(dir, summary, single);
  }
  if (a.has("--write-chakra")) {
    auto files = write_bundle_chakra(dir, a.get("--write-chakra"), "emulated");
    if (!a.has("--quiet")) std::printf("wrote %zu Chakra traces to %s\n", files.size(), a.get("--write-chakra").c_str());
  }
  if (!keep) fs::remove_all(dir);
  if (!a.has("--quiet")) print_summary(r, summary, sim_s);
  if (a.has("--json")) {
    nlohmann::json j = r.to_json();
    summary["simulation_s"] = sim_s;
    j["emulation"] = summary;
    write_json_file(a.get("--json"), j);
    write_json_file(config_path_for(a.get("--json")), r.config);
  }
}

int emulate_main(Args& a) {
  if (a.positional().size() != 1) throw Error("usage: orrery emulate " + emulate_spec().usage);
  std::string script = a.positional()[0];
  if (!is_regular_file_path(script)) throw make_error(script, "", "no such script");
  long world = a.get_int("--world-size", 1);
  if (world < 1 || world > 65536) throw make_error("--world-size", std::to_string(world), "must be 1..65536");
  long steps = a.get_int("--steps", 2);
  if (steps < 1 || steps > 1000) throw make_error("--steps", std::to_string(steps), "must be 1..1000");
  bool keep = a.has("--write-bundle");
  std::string dir = keep ? a.get("--write-bundle")
                         : (fs::temp_directory_path() / ("orrery-emulate-" + std::to_string(::getpid()))).string();
  nlohmann::json summary = run_emulator(emulator_args(a, script, world, steps, dir));
  summary["script"] = script;
  if (a.has("--emulate-only")) {
    if (!a.has("--quiet")) print_emulation(summary, script, world, dir);
    if (a.has("--json")) write_json_file(a.get("--json"), nlohmann::json{{"emulation", summary}});
    if (!keep) fs::remove_all(dir);
    return 0;
  }
  simulate_emulated(a, summary, dir, keep);
  return 0;
}

Register emulate_reg(emulate_spec(), emulate_main);
}  // namespace
}  // namespace orrery::cli
