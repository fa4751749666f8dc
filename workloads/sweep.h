#pragma once
// Design-space sweeps (`orrery sweep`): a sweep file (JSON) or flags define a command (train,
// replay, collective), fixed options and axes over any option (plan fields, presets, models,
// bundles, "set.<gpu param>", "sys_set.<system key>", "power_set.<power param>"); points come from
// a grid, random sampling or a Latin hypercube, filtered by constraints ("tp*pp*dp*cp == gpus").
// Each point runs through the keyword API (workloads/api.h); results stream to JSONL as they
// finish (one line per point, with its id: resumable, deterministic after sorting), failures are
// recorded with their one-line reason. Execution: worker processes (-j N) and/or the ranks of an
// MPI job (each rank takes every K-th point; lines are appended under a file lock). Kernel-free
// core: parsing, sampling, constraints, Pareto front and the report are plain functions.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery::sweep {

struct Axis {
  std::string name;                    // option key ("tp", "set.hbm_bandwidth", "model", ...)
  std::vector<nlohmann::json> values;  // discrete values
  bool continuous = false;             // "range": [lo, hi] (random / lhs; grid uses "steps")
  double lo = 0, hi = 0;
  bool log = false, integer = false;
  std::string unit;                    // appended to continuous values ("GB/s")
  long steps = 0;                      // grid points of a continuous axis
};

struct Spec {
  std::string where;                   // file (for errors)
  std::string command = "train";
  nlohmann::json base = nlohmann::json::object();
  std::vector<Axis> axes;
  std::string sampler = "grid";        // grid | random | lhs
  long samples = 0;
  std::uint64_t seed = 1;
  std::vector<std::string> constraints;
  std::string metric;                  // report's y axis ("" = the command's time)
  std::string output;                  // JSONL path ("" = given on the command line)
};

// Unknown keys, empty axes, bad sampler, negative prices: Error "where: field: what".
Spec parse_spec(const nlohmann::json& j, const std::string& where);
Spec load_spec(const std::string& path);

// Arithmetic / comparison / logic over numbers: + - * / % ( ) == != < <= > >= && || !.
// Variables: the point's options (numbers or numeric strings). Unknown variable: Error.
double eval_expr(const std::string& expr, const std::function<bool(const std::string&, double*)>& var);

struct Point {
  long index = 0;
  std::string id;                      // stable hash of the options
  nlohmann::json axes;                 // axis name -> value
  nlohmann::json options;              // base + axes
};
// Sampled, constrained points in a deterministic order. No point satisfying the constraints:
// Error naming the file and "constraints".
std::vector<Point> make_points(const Spec& s);

// One point: {"id", "index", "status": "ok"|"failed", "error"?, <axis values>, <scalar metrics>}.
nlohmann::json run_point(const Spec& s, const Point& p);

struct RunOptions {
  std::string output;                  // JSONL
  int jobs = 1;
  int rank = 0, ranks = 1;             // MPI (or launcher) rank and size
  bool progress = true;
};
struct RunStats {
  long total = 0, skipped = 0, done = 0, failed = 0;
  double wall_s = 0;
};
// The output (required, writable) and -j (at least 1) of a run; an Error naming them otherwise.
void check_run_options(const Spec& s, const RunOptions& o);
// Runs this rank's share of the points not yet in `output` (resume), appending lines.
RunStats run(const Spec& s, const std::vector<Point>& points, const RunOptions& o);

// Every complete line of a JSONL file (a torn last line is ignored), sorted by id.
std::vector<nlohmann::json> read_results(const std::string& path);
// Indices of the non-dominated rows minimising every metric in `keys` (rows missing one: skipped).
std::vector<size_t> pareto_front(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& keys);
// Sorted CSV of the results (axes, then metrics) and the HTML report.
void write_csv(const Spec& s, const std::vector<nlohmann::json>& rows, const std::string& path);
void write_report(const Spec& s, const std::vector<nlohmann::json>& rows, const std::string& path);
// The command's time metric: iteration_time_s (train), step_time_s (replay), time_us (collective).
std::string default_metric(const std::string& command);

}  // namespace orrery::sweep
