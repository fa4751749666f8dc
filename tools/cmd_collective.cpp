// `orrery collective --op all_reduce --system dgx-h100 [--nodes N] [--algo auto|ring|tree|nvls|...]
//   [--proto auto|ll|ll128|simple] -b 8 -e 8G -f 2 [--sys-set key=value]... [--json out.json] [--csv out.csv]`: an nccl-tests style sweep.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "hw_models/accelerator.h"
#include "sim/csv.h"
#include "sim/error.h"
#include "tools/command.h"
#include "tools/power_options.h"
#include "workloads/energy.h"
#include "workloads/json_io.h"
#include "workloads/collective.h"

namespace orrery::cli {
namespace {

std::vector<int> parse_ranks(const std::string& text) {
  // "0,1,5" or "0-7" or "0-7,16-23"
  std::vector<int> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int a = 0, b = 0;
    try {
      size_t used = 0;
      auto dash = part.find('-', 1);
      a = std::stoi(part.substr(0, dash), &used);
      if (used != part.substr(0, dash).size()) throw std::invalid_argument("trailing");
      b = a;
      if (dash != std::string::npos) {
        b = std::stoi(part.substr(dash + 1), &used);
        if (used != part.size() - dash - 1) throw std::invalid_argument("trailing");
      }
    } catch (const std::exception&) {
      throw make_error("--ranks", part, "expected ranks like 0,1,2 or 0-7");
    }
    if (b < a) throw make_error("--ranks", part, "empty rank range (the first rank is above the last)");
    if (static_cast<long>(b) - a >= (1L << 20)) throw make_error("--ranks", part, "more ranks than any system has");
    for (int r = a; r <= b; ++r) out.push_back(r);
  }
  if (out.empty()) throw make_error("--ranks", text, "no ranks (expected ranks like 0,1,2 or 0-7)");
  return out;
}

// Sizes of the sweep: -b .. -e by factor -f, or by -i bytes when -f is 1 (nccl-tests), aligned to
// whole elements (per rank for the gather/scatter family).
std::vector<std::uint64_t> sweep_sizes(const Args& a, std::uint64_t align) {
  std::uint64_t b = parse_cli_size(a.get("-b"), "-b");
  std::uint64_t e = parse_cli_size(a.get("-e"), "-e");
  double f = a.get_double("-f", 2, 1, 1e6);
  std::uint64_t step = a.has("-i") ? parse_cli_size(a.get("-i"), "-i") : 0;
  if (f < 1 || (f == 1 && step == 0)) throw make_error("-f", a.get("-f"), "step factor must be greater than 1 (or 1 with -i BYTES)");
  if (b < 1) throw make_error("-b", a.get("-b"), "min size must be at least 1 byte");
  if (e < b) throw make_error("-e", a.get("-e"), "max size is smaller than min size");
  // The size list is bounded where the flags are read: -f 1.0000001 from 8 B to 8 GiB would be
  // 2e8 sizes (6 GB of results), not a table anyone wants.
  constexpr double kMaxSizes = 4096;
  double count = f > 1 ? std::floor(std::log(static_cast<double>(e) / static_cast<double>(b)) / std::log(f)) + 1
                       : std::floor(static_cast<double>(e - b) / static_cast<double>(step)) + 1;
  if (!(count <= kMaxSizes))
    throw make_error(f > 1 ? "-f" : "-i", f > 1 ? a.get("-f") : a.get("-i"),
                     "gives " + format_quantity(count, Unit::Count, 3) + " sizes from " + std::to_string(b) + " to " +
                         std::to_string(e) + " B (at most 4096)");
  std::vector<std::uint64_t> sizes;
  for (double s = static_cast<double>(b); s <= static_cast<double>(e) * (1 + 1e-12);
       s = f > 1 ? s * f : s + static_cast<double>(step)) {
    std::uint64_t v = static_cast<std::uint64_t>(s);
    v = std::max(align, v / align * align);
    if (sizes.empty() || sizes.back() != v) sizes.push_back(v);
  }
  return sizes;
}

// The header nccl-tests prints (same lines, so logs and orrery tables diff line by line); the
// orrery line says what was simulated.
void print_header(const Args& a, const topo::System& sys, const coll::CollectiveSpec& base, int n,
                  const std::vector<std::uint64_t>& sizes, const std::string& defaults) {
  int nodes = sys.topo.gpus_per_node > 0 ? (sys.topo.num_gpus() + sys.topo.gpus_per_node - 1) / sys.topo.gpus_per_node : 1;
  std::printf("# nThread 1 nGpus 1 minBytes %llu maxBytes %llu step: %s warmup iters: %s iters: %s agg iters: 1 validation: 0 graph: 0\n",
              static_cast<unsigned long long>(sizes.front()), static_cast<unsigned long long>(sizes.back()),
              a.has("-i") && a.get_double("-f", 2) == 1 ? (a.get("-i") + "(bytes)").c_str() : (a.get("-f") + "(factor)").c_str(),
              a.get("-w").c_str(), a.get("-n").c_str());
  std::printf("#\n# Collective test starting: %s_perf\n", coll::op_name(base.op));
  std::printf("# orrery collective (simulated, not measured): %s on %s (%d GPUs in the group, %d GPUs on %d node(s)), algo %s, proto %s%s%s\n",
              coll::op_name(base.op), sys.name.c_str(), n, sys.topo.num_gpus(), nodes, coll::algo_name(base.algo),
              coll::proto_name(base.proto), defaults.empty() ? "" : "; defaults: ", defaults.c_str());
  std::printf("# Using devices\n");
  int gpn = sys.topo.gpus_per_node > 0 ? sys.topo.gpus_per_node : std::max(1, sys.topo.num_gpus());
  for (int r = 0; r < n; ++r) {
    int g = base.ranks.empty() ? r : base.ranks[static_cast<size_t>(r)];
    std::printf("#  Rank %2d Group  0 Pid %6d on %10s device %2d [sim] %s\n", r, 0, ("node" + std::to_string(g / gpn)).c_str(),
                g % gpn, sys.accelerator.c_str());
  }
  std::printf("#\n");
  std::printf("#%75s %34s\n", "out-of-place", "in-place");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s  %-9s %s\n", "size", "count", "type", "redop",
              "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "algorithm", "protocol");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %6s  %7s  %6s  %6s  %6s\n", "(B)", "(elements)", "", "", "", "(us)",
              "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
}

// The type column as nccl-tests names it (float, half, bfloat16, double, int8, ...).
const char* nccl_type_name(Dtype d) {
  switch (d) {
    case Dtype::FP32: return "float";
    case Dtype::FP16: return "half";
    case Dtype::BF16: return "bfloat16";
    case Dtype::FP64: return "double";
    case Dtype::FP8: return "f8e4m3";
    case Dtype::I8: return "int8";
    case Dtype::I32: return "int32";
    case Dtype::I64: return "int64";
    default: return dtype_name(d);
  }
}

// nccl-tests prints times with 2 decimals below 10 ms and fewer above to keep the column width.
std::string nccl_time(double us) {
  char b[32];
  std::snprintf(b, sizeof b, us < 1e4 ? "%7.2f" : us < 1e5 ? "%7.1f" : "%7.0f", us);
  return b;
}

// The collective of the command line: --op, --algo, --proto, -d, -o (checked into redop),
// --detailed, -r.
coll::CollectiveSpec parse_spec(Args& a, std::string& redop) {
  coll::CollectiveSpec base;
  base.op = coll::parse_op(a.get("--op"));
  base.algo = coll::parse_algo(a.get("--algo"));
  base.proto = coll::parse_proto(a.get("--proto"));
  std::string dt = a.get("-d");
  base.dtype = parse_dtype_name(dt);
  if (base.dtype == Dtype::UNKNOWN)
    throw make_error("-d", dt, "unknown data type (int8, uint8, int32, uint32, int64, uint64, half, float, double, bfloat16, fp8_e4m3, fp8_e5m2)");
  redop = a.get("-o");
  if (redop != "sum" && redop != "prod" && redop != "min" && redop != "max" && redop != "avg" && redop != "all")
    throw make_error("-o", redop, "expected sum, prod, min, max, avg or all");
  base.detailed = a.has("--detailed");
  base.root = a.get_int("-r", 0, 0);
  return base;
}

// Every size back to back in one simulation (one SystemC simulation per process), after checking
// the group and the algorithm choice.
std::vector<coll::CollectiveResult> simulate_sizes(Args& a, const topo::System& sys, const coll::CollectiveSpec& base,
                                                   const std::vector<std::uint64_t>& sizes) {
  auto core = make_engine(a.get("--engine"));
  coll::Fabric fabric(sys, *core);
  std::vector<coll::CollectiveResult> results(sizes.size());
  std::function<void(size_t)> launch = [&](size_t k) {
    if (k >= sizes.size()) return;
    coll::CollectiveSpec s = base;
    s.bytes = static_cast<double>(sizes[k]);
    coll::launch_collective(fabric, s, [&, k](const coll::CollectiveResult& r) {
      results[k] = r;
      launch(k + 1);
    });
  };
  {
    coll::CollectiveSpec s = base;
    s.bytes = static_cast<double>(sizes.front());
    coll::choose(sys, s);
  }
  launch(0);
  core->run();
  return results;
}

// The table's columns of one run that do not depend on the size.
struct TableColumns {
  const char* tname;
  std::string redop_col;
  int root;
  std::uint64_t ts;     // bytes per element
  std::uint64_t per;    // elements counted per rank (all-gather, reduce-scatter, all-to-all): n, else 1
};

// One table line per size (out-of-place and in-place: the model gives in-place the same time,
// the same schedule on the same links) and its JSON row; returns the rows, sum_bus the busbw sum.
nlohmann::json print_rows(const std::vector<std::uint64_t>& sizes, const std::vector<coll::CollectiveResult>& results,
                          const std::vector<EnergyReport>& energy, const TableColumns& tc, double& sum_bus) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t k = 0; k < sizes.size(); ++k) {
    const auto& r = results[k];
    std::uint64_t count = sizes[k] / tc.ts / tc.per;
    double us = r.time_s * 1e6;
    std::string t = nccl_time(us);
    std::printf("  %10llu  %12llu  %8s  %6s  %6d  %7s  %6.2f  %6.2f  %6s  %7s  %6.2f  %6.2f  %6s  %-9s %s\n",
                static_cast<unsigned long long>(sizes[k]), static_cast<unsigned long long>(count), tc.tname, tc.redop_col.c_str(), tc.root,
                t.c_str(), r.algbw / 1e9, r.busbw / 1e9, "N/A", t.c_str(), r.algbw / 1e9, r.busbw / 1e9, "N/A",
                coll::algo_name(r.algorithm), coll::proto_name(r.protocol));
    sum_bus += r.busbw / 1e9;
    nlohmann::json row;
    row["bytes"] = sizes[k];
    row["count"] = count;
    row["type"] = tc.tname;
    row["redop"] = tc.redop_col;
    row["root"] = tc.root;
    row["time_us"] = us;
    row["algbw_gbps"] = r.algbw / 1e9;
    row["busbw_gbps"] = r.busbw / 1e9;
    row["in_place_time_us"] = us;
    row["in_place_algbw_gbps"] = r.algbw / 1e9;
    row["in_place_busbw_gbps"] = r.busbw / 1e9;
    row["wrong"] = "N/A";
    row["algorithm"] = coll::algo_name(r.algorithm);
    row["protocol"] = coll::proto_name(r.protocol);
    row["channels"] = r.channels;
    row["model_time_us"] = r.model_time_s * 1e6;
    nlohmann::json ej = energy[k].to_json();
    row["energy_j"] = ej["energy_j"];
    row["avg_power_w"] = ej["avg_power_w"];
    row["cost_usd"] = ej["cost_usd"];
    rows.push_back(row);
  }
  return rows;
}

// --csv: the nccl-tests columns plus op, system, ranks, algorithm, protocol, channels, energy, cost.
void write_collective_csv(const std::string& path, const nlohmann::json& rows, const coll::CollectiveSpec& base,
                          const topo::System& sys, int n) {
  nlohmann::ordered_json csv = nlohmann::ordered_json::array();
  for (auto& r : rows)
    csv.push_back({{"op", coll::op_name(base.op)}, {"system", sys.name}, {"ranks", n}, {"bytes", r["bytes"]},
                   {"count", r["count"]}, {"type", r["type"]}, {"redop", r["redop"]}, {"root", r["root"]},
                   {"time_us", r["time_us"]}, {"algbw_gbps", r["algbw_gbps"]}, {"busbw_gbps", r["busbw_gbps"]},
                   {"wrong", r["wrong"]}, {"in_place_time_us", r["in_place_time_us"]},
                   {"in_place_algbw_gbps", r["in_place_algbw_gbps"]}, {"in_place_busbw_gbps", r["in_place_busbw_gbps"]},
                   {"in_place_wrong", r["wrong"]}, {"algorithm", r["algorithm"]}, {"protocol", r["protocol"]},
                   {"channels", r["channels"]}, {"energy_j", r["energy_j"]}, {"cost_usd", r["cost_usd"]}});
  write_csv_file(path, csv);
}

// --json: the rows and the largest size's energy; the resolved configuration next to it (the
// system as run, after --nodes and --sys-set).
void write_collective_json(Args& a, const nlohmann::json& rows, const coll::CollectiveSpec& base, const topo::System& sys,
                           int n, const std::vector<EnergyReport>& energy, const PowerModel& pm) {
  std::ofstream out(a.get("--json"));
  if (!out) throw make_error("--json", a.get("--json"), "cannot write");
  nlohmann::json j;
  j["system"] = sys.name;
  j["op"] = coll::op_name(base.op);
  j["ranks"] = n;
  j["algo"] = coll::algo_name(base.algo);
  j["proto"] = coll::proto_name(base.proto);
  j["rows"] = rows;
  if (!energy.empty()) j["energy"] = energy.back().to_json();  // the largest size
  out << j.dump(1) << "\n";
  write_json_file(config_path_for(a.get("--json")),
                  {{"command", a.raw()}, {"argv", a.argv()}, {"system", sys.raw}, {"source", sys.source_path}, {"power", pm.to_json()}, {"engine", a.get("--engine")}});
}

int collective_main(Args& a) {
  if (!a.positional().empty()) throw make_error("collective", a.positional()[0], "unexpected argument (see orrery collective --help)");
  std::string redop;
  coll::CollectiveSpec base = parse_spec(a, redop);
  int nodes = a.get_int("--nodes", 0, 0);
  if (a.has("--nodes") && nodes < 1) throw make_error("--nodes", a.get("--nodes"), "must be at least 1");
  topo::System sys = topo::load_system(a.get("--system"), nodes, a.all("--sys-set"));
  if (a.has("--ranks")) base.ranks = parse_ranks(a.get("--ranks"));
  int n = base.ranks.empty() ? sys.topo.num_gpus() : static_cast<int>(base.ranks.size());
  bool per_rank_count = base.op == coll::Op::AllGather || base.op == coll::Op::ReduceScatter || base.op == coll::Op::AllToAll;
  std::uint64_t ts = static_cast<std::uint64_t>(dtype_bytes(base.dtype));
  std::vector<std::uint64_t> sizes = sweep_sizes(a, per_rank_count ? ts * static_cast<std::uint64_t>(n) : ts);
  std::vector<coll::CollectiveResult> results = simulate_sizes(a, sys, base, sizes);

  print_header(a, sys, base, n, sizes, a.defaults_used());
  // Energy and cost of each collective (hw_models/power.h): the group's GPUs and their nodes.
  Accelerator hw = load_accelerator(sys.accelerator);
  PowerModel pm = power_model_from(a, hw);
  int gpn = sys.topo.gpus_per_node;  // (0 without servers: the power model's accelerators_per_node)
  std::vector<EnergyReport> energy;
  for (auto& r : results) energy.push_back(collective_energy(r, n, gpn, hw, pm));
  bool reduces = base.op == coll::Op::AllReduce || base.op == coll::Op::ReduceScatter || base.op == coll::Op::Reduce;
  TableColumns tc{nccl_type_name(base.dtype), reduces ? redop : "none",
                  (base.op == coll::Op::Broadcast || base.op == coll::Op::Reduce) ? base.root : -1, ts,
                  per_rank_count ? static_cast<std::uint64_t>(n) : 1};
  double sum_bus = 0;
  nlohmann::json rows = print_rows(sizes, results, energy, tc, sum_bus);
  std::printf("# Out of bounds values : N/A (simulated, no data checked)\n");
  std::printf("# Avg bus bandwidth    : %g \n#\n", sizes.empty() ? 0.0 : sum_bus / static_cast<double>(sizes.size()));
  if (!energy.empty())
    std::printf("# Largest size (%s): %s", format_bytes(static_cast<double>(sizes.back())).c_str(),
                format_energy(energy.back()).c_str());
  if (a.has("--csv")) write_collective_csv(a.get("--csv"), rows, base, sys, n);
  if (a.has("--json")) write_collective_json(a, rows, base, sys, n, energy, pm);
  return 0;
}

// Declare the tuner and topology parameters at startup so `orrery describe` lists them.
const bool declared = (coll::collective_params(), topo::topology_params("nvswitch"), true);

Spec collective_spec() {
  Spec s;
  s.name = "collective";
  s.summary = "nccl-tests style collective sweep on a system (the same table: out-of-place and in-place time, algbw, busbw)";
  s.usage = "[--op OP] [--system NAME|FILE] [-b MIN] [-e MAX] [-f FACTOR] [nccl-tests flags]";
  s.example = "collective --op all_reduce --system dgx-h100 -b 8 -e 8G -f 2";
  const char* ign = "nccl-tests flag, accepted; a simulation has no";
  s.flags = {
      {"--op", "OP", "all_reduce", "", "collective: all_reduce, all_gather, reduce_scatter, alltoall, broadcast, reduce, sendrecv"},
      system_flag(),
      nodes_flag(),
      {"--ranks", "LIST", "", "", "ranks of the group, e.g. 0-7 or 0,8,16 (default: every GPU)"},
      {"--algo", "ALGO", "auto", "", "NCCL algorithm: auto (the tuner), ring, tree, nvls, nvls_tree, collnet, pat, direct, halving_doubling", Flag::MeaningDefault},
      {"--proto", "PROTO", "auto", "", "NCCL protocol: auto, ll, ll128, simple", Flag::MeaningDefault},
      {"-b, --minbytes", "SIZE", "8", "bytes, binary suffixes K M G", "smallest size"},
      {"-e, --maxbytes", "SIZE", "8G", "bytes, binary suffixes K M G", "largest size"},
      {"-f, --stepfactor", "F", "2", "", "multiply the size by F each step (1: add -i bytes)"},
      {"-i, --stepbytes", "SIZE", "", "bytes", "add SIZE each step (nccl-tests -i; needs -f 1)"},
      {"-d, --datatype, --dtype", "TYPE", "float", "", "element type: float, half, bfloat16, double, int8, ... (sets count and alignment)"},
      {"-o, --redop", "OP", "sum", "", "reduction operation printed in the redop column (sum, prod, min, max, avg, all); same time"},
      {"-r, --root", "RANK", "0", "", "root of broadcast / reduce"},
      {"-n, --iters", "N", "20", "", std::string(ign) + " iteration noise: one simulated run per size", Flag::Ignored},
      {"-w, --warmup_iters", "N", "5", "", std::string(ign) + " warm-up", Flag::Ignored},
      {"-m, --agg_iters", "N", "", "", std::string(ign) + " aggregation", Flag::Ignored},
      {"-c, --check", "0|1", "", "", std::string(ign) + " data to check: #wrong prints N/A", Flag::Ignored},
      {"-a, --average", "0-3", "", "", std::string(ign) + " per-rank spread to average", Flag::Ignored},
      {"-z, --blocking", "0|1", "", "", std::string(ign) + " host blocking", Flag::Ignored},
      {"-G, --cudagraph", "N", "", "", std::string(ign) + " CUDA graph", Flag::Ignored},
      {"-C, --report_cputime", "0|1", "", "", std::string(ign) + " CPU time", Flag::Ignored},
      {"-T, --timeout", "SECONDS", "", "", std::string(ign) + " timeout", Flag::Ignored},
      {"-g, --ngpus", "N", "", "", "nccl-tests GPUs per thread, accepted; the group is --ranks or the whole system", Flag::Ignored},
      {"-t, --nthreads", "N", "", "", "nccl-tests threads per process, accepted; the group is --ranks or the whole system", Flag::Ignored},
      {"-p, --parallel_init", "0|1", "", "", std::string(ign) + " initialisation", Flag::Ignored},
      {"-R, --local_register", "0|1", "", "", std::string(ign) + " buffer registration", Flag::Ignored},
      {"--detailed", "", "", "", "simulate each NCCL step (slower; default: one flow per channel and phase)"},
      {"--engine", "ENGINE", "systemc", "", "event engine: systemc or event"},
      sys_set_flag(),
      {"--json", "FILE", "", "", "rows as JSON (writes FILE.config.json: the resolved system)"},
      {"--csv", "FILE", "", "", "rows as CSV (the nccl-tests columns plus algorithm, protocol, channels, energy, cost)"},
  };
  s.flags = with_power_flags(s.flags);
  s.notes = "Sizes are per rank as in nccl-tests (all_gather / reduce_scatter / alltoall: the total buffer).\n"
            "The in-place columns repeat the out-of-place ones (same schedule on the same links); #wrong is N/A.";
  return s;
}
Register collective_reg(collective_spec(), collective_main);
}  // namespace
}  // namespace orrery::cli
