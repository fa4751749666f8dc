// `orrery sweep [SWEEP.json] [flags] -o results.jsonl [-j N]`: run a design-space sweep
// (workloads/sweep.h) on worker processes and/or MPI ranks (`mpirun -np K orrery sweep ...`,
// when built with MPI; without it the launcher's rank variables still split the work), then
// write the sorted CSV and the HTML report.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "sim/data_files.h"
#include "sim/error.h"
#include "tools/command.h"
#include "workloads/sweep.h"

#ifdef ORRERY_HAVE_MPI
#include <mpi.h>
#endif

namespace orrery::cli {
namespace {

nlohmann::json scalar(const std::string& v) {
  nlohmann::json j = nlohmann::json::parse(v, nullptr, false);
  if (!j.is_discarded() && j.is_primitive()) return j;
  return v;
}

std::pair<std::string, std::string> split_eq(const std::string& flag, const std::string& s) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) throw make_error(flag, s, "expected name=value");
  return {s.substr(0, eq), s.substr(eq + 1)};
}

// The sweep file, then the flags on top of it.
nlohmann::json spec_json(const Args& a) {
  nlohmann::json j = nlohmann::json::object();
  if (!a.positional().empty()) j = parse_json_path(a.positional()[0]);
  if (!j.is_object()) throw make_error(a.positional()[0], "", "expected a JSON object");
  if (a.has("--command")) j["command"] = a.get("--command");
  for (auto& b : a.all("--base")) {
    auto [k, v] = split_eq("--base", b);
    j["base"][k] = scalar(v);
  }
  nlohmann::json axes = j.value("axes", nlohmann::json::array());
  if (axes.is_object()) {
    nlohmann::json arr = nlohmann::json::array();
    for (auto it = axes.begin(); it != axes.end(); ++it) arr.push_back({{"name", it.key()}, {"values", it.value()}});
    axes = arr;
  }
  for (auto& ax : a.all("--axis")) {
    auto [k, v] = split_eq("--axis", ax);
    nlohmann::json vals = nlohmann::json::array();
    size_t start = 0;
    while (start <= v.size()) {
      size_t c = v.find(',', start);
      std::string x = v.substr(start, c == std::string::npos ? std::string::npos : c - start);
      if (!x.empty()) vals.push_back(scalar(x));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    axes.push_back({{"name", k}, {"values", vals}});
  }
  for (auto& r : a.all("--range")) {
    auto [k, v] = split_eq("--range", r);
    double lo = 0, hi = 0;
    char unit[32] = "";
    if (std::sscanf(v.c_str(), "%lf:%lf:%31s", &lo, &hi, unit) < 2) throw make_error("--range", r, "expected name=low:high[:unit]");
    nlohmann::json ax = {{"name", k}, {"range", {lo, hi}}, {"unit", unit}};
    if (a.has("--steps")) ax["steps"] = a.get_int("--steps", 1);
    axes.push_back(ax);
  }
  if (!axes.empty() || j.contains("axes")) j["axes"] = axes;
  if (a.has("--sampler")) j["sampler"] = a.get("--sampler");
  if (a.has("--samples")) j["samples"] = a.get_int("--samples", 0);
  if (a.has("--seed")) j["seed"] = a.get_int("--seed", 1);
  for (auto& c : a.all("--constraint")) j["constraints"].push_back(c);
  if (a.has("--metric")) j["metric"] = a.get("--metric");
  return j;
}

int env_int(const char* a, const char* b, int def) {
  for (const char* n : {a, b})
    if (const char* v = std::getenv(n)) return std::atoi(v);
  return def;
}

std::string swap_ext(const std::string& path, const std::string& ext) {
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return path + ext;
  return path.substr(0, dot) + ext;
}

Spec command_spec() {
  Spec s;
  s.name = "sweep";
  s.summary = "design-space sweep from a sweep file or flags (grid, random, Latin hypercube; -j N, MPI; resumable)";
  s.usage = "[SWEEP.json] [-o results.jsonl] [-j N] [--csv out.csv] [--report out.html] [options]\n"
            "       mpirun -np K orrery sweep ...   splits the points over K ranks (each appends to the same JSONL)";
  s.example = "sweep --command train --base model=llama3-8b --base global_batch=64 --axis tp=1,2,4,8 -o r.jsonl";
  s.flags = {
      {"-o, --output", "FILE", "", "", "results, one JSON line per point (default: the sweep file's output)"},
      {"-j, --jobs", "N", "1", "", "points run in parallel"},
      {"--csv", "FILE", "", "", "results as CSV (default: the output with .csv)"},
      {"--report", "FILE", "", "", "HTML report with the Pareto front (default: the output with .html)"},
      {"--command", "train|replay|collective", "", "", "command every point runs"},
      {"--base", "KEY=VALUE", "", "", "option of every point", Flag::Repeat},
      {"--axis", "NAME=V1,V2,...", "", "", "an axis of listed values", Flag::Repeat},
      {"--range", "NAME=LOW:HIGH[:UNIT]", "", "", "an axis of a numeric range", Flag::Repeat},
      {"--sampler", "grid|random|lhs", "", "", "how points are drawn (default grid)"},
      {"--samples", "N", "", "", "points drawn by random / lhs"},
      {"--seed", "S", "", "", "random seed"},
      {"--steps", "N", "", "", "grid points of each --range"},
      {"--constraint", "EXPR", "", "", "keep points where EXPR holds, e.g. 'tp*pp*dp*cp == gpus'", Flag::Repeat},
      {"--metric", "KEY", "", "", "result key to rank and plot"},
      {"--no-progress", "", "", "", "no progress line"},
      {"--dry-run", "", "", "", "count the points, run nothing"},
  };
  s.notes = "Options of a point are the command's CLI flags without dashes ('-' as '_'): tp, micro_batch, model,\n"
            "system, bundle, set.<gpu param>, sys_set.<system key>, power_set.<power param>, price_gpu_hour ...\n"
            "See docs/exploration.md (orrery sweep).";
  return s;
}

// The metric to rank and plot must be a number in the points' results (which keys a row has
// depends on the command's result, so this is known only once a point has run): an error naming
// the keys it could be, after the rows are written (a rerun with another metric skips them).
void check_metric(const sweep::Spec& spec, const std::vector<nlohmann::json>& rows, const std::string& where,
                  const std::string& output) {
  std::set<std::string> keys;
  for (auto& r : rows) {
    if (r.value("status", "") != "ok") continue;
    if (r.contains(spec.metric) && r[spec.metric].is_number()) return;
    for (auto it = r.begin(); it != r.end(); ++it)
      if (it.value().is_number() && it.key() != "index") keys.insert(it.key());
  }
  if (keys.empty()) return;  // no point ran
  std::string list;
  for (auto& k : keys) list += (list.empty() ? "" : ", ") + k;
  std::string what = "is not a number in the " + spec.command + " results (they have: " + list + "); the rows are in " +
                     output + ", which a rerun with another metric reuses";
  if (where == "--metric") throw make_error("--metric", spec.metric, what);
  throw make_error(where, "metric", "'" + spec.metric + "' " + what);
}

int sweep_main(Args& a) {
  if (a.positional().size() > 1) throw make_error("sweep", a.positional()[1], "unexpected argument (one sweep file)");
  std::string where = a.positional().empty() ? "sweep flags" : a.positional()[0];
  sweep::Spec spec = sweep::parse_spec(spec_json(a), where);
  std::vector<sweep::Point> points = sweep::make_points(spec);
  sweep::RunOptions o;
  o.output = a.get("-o", spec.output);
  o.jobs = static_cast<int>(a.get_int("-j", 1));
  o.progress = !a.has("--no-progress");
  int mpi_init = 0;
#ifdef ORRERY_HAVE_MPI
  MPI_Initialized(&mpi_init);
  if (!mpi_init && env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", 1) > 1) {
    MPI_Init(nullptr, nullptr);
    mpi_init = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &o.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &o.ranks);
  }
#endif
  if (!mpi_init) {  // a launcher without the MPI library: its rank variables still split the work
    o.rank = env_int("OMPI_COMM_WORLD_RANK", "PMI_RANK", 0);
    o.ranks = std::max(1, env_int("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", 1));
  }
  if (a.has("--dry-run")) {
    if (o.rank == 0) std::printf("sweep: %zu points (%s, %zu axes)\n", points.size(), spec.sampler.c_str(), spec.axes.size());
    return 0;
  }
  sweep::check_run_options(spec, o);  // before the progress line: a bad -j or -o is the only line
  for (const char* f : {"--csv", "--report"})  // (written after the run: a directory would fail only then)
    if (a.has(f) && std::filesystem::is_directory(a.get(f)))
      throw make_error(f, a.get(f), "is a directory, not a file");
  if (o.rank == 0 && o.progress)
    std::fprintf(stderr, "sweep: %zu points (%s sampler, %zu axes) -> %s, %d worker(s) x %d rank(s)\n", points.size(),
                 spec.sampler.c_str(), spec.axes.size(), o.output.c_str(), o.jobs, o.ranks);
  sweep::RunStats st = sweep::run(spec, points, o);
#ifdef ORRERY_HAVE_MPI
  if (mpi_init) {
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
  }
#endif
  if (o.rank != 0) return 0;
  std::vector<nlohmann::json> rows = sweep::read_results(o.output);
  if (!mpi_init && o.ranks > 1) {  // wait for the other ranks' lines (no barrier without MPI)
    auto last_change = std::chrono::steady_clock::now();
    size_t have = rows.size();
    while (have < points.size() &&
           std::chrono::steady_clock::now() - last_change < std::chrono::seconds(600)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      rows = sweep::read_results(o.output);
      if (rows.size() != have) { have = rows.size(); last_change = std::chrono::steady_clock::now(); }
    }
  }
  long failed = 0;
  for (auto& r : rows) failed += r.value("status", "") == "failed";
  std::string csv = a.get("--csv", swap_ext(o.output, ".csv"));
  std::string report = a.get("--report", swap_ext(o.output, ".html"));
  sweep::write_csv(spec, rows, csv);
  sweep::write_report(spec, rows, report);
  if (!rows.empty() && failed == static_cast<long>(rows.size()))  // (a misspelt axis or option fails every point)
    throw make_error(where, "points", "all " + std::to_string(failed) + " points failed (rows in " + o.output +
                                          "); the first: " + rows.front().value("error", std::string("(no message)")));
  check_metric(spec, rows, a.has("--metric") ? "--metric" : where, o.output);
  std::printf("sweep: %zu of %zu points in %s (%ld run now, %ld skipped as done, %ld failed), %.1f s; wrote %s and %s\n",
              rows.size(), points.size(), o.output.c_str(), st.done, st.skipped, failed, st.wall_s, csv.c_str(), report.c_str());
  return 0;
}

Register sweep_reg(command_spec(), sweep_main);
}  // namespace
}  // namespace orrery::cli
