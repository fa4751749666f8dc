// `orrery collective --op all_reduce --system dgx-h100 [--nodes N] [--algo auto|ring|tree|nvls|...]
//   [--proto auto|ll|ll128|simple] -b 8 -e 8G -f 2 [--sys-set key=value]... [--json out.json] [--csv out.csv]`: an nccl-tests style sweep.
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
    try {
      auto dash = part.find('-', 1);
      if (dash == std::string::npos) {
        out.push_back(std::stoi(part));
      } else {
        int a = std::stoi(part.substr(0, dash)), b = std::stoi(part.substr(dash + 1));
        for (int r = a; r <= b; ++r) out.push_back(r);
      }
    } catch (const std::exception&) {
      throw make_error("--ranks", part, "expected ranks like 0,1,2 or 0-7");
    }
  }
  return out;
}

int run(const std::vector<std::string>& args) {
  Args a(args, with_power_flags({"--op", "--system", "--nodes", "--algo", "--proto", "-b", "-e", "-f", "--json", "--csv", "--sys-set", "--ranks", "--dtype",
                "--engine", "--root", "--minbytes", "--maxbytes", "--stepfactor", "-d"}),
         {"--detailed"});
  coll::CollectiveSpec base;
  base.op = coll::parse_op(a.get("--op", "all_reduce"));
  base.algo = coll::parse_algo(a.get("--algo", "auto"));
  base.proto = coll::parse_proto(a.get("--proto", "auto"));
  std::string dt = a.get("--dtype", a.get("-d", "float"));
  base.dtype = parse_dtype(dt);
  if (base.dtype == Dtype::UNKNOWN) throw make_error("--dtype", dt, "unknown data type");
  base.detailed = a.has("--detailed");
  base.root = static_cast<int>(a.get_int("--root", 0));
  long nodes = a.get_int("--nodes", 0);
  if (nodes < 0) throw make_error("--nodes", std::to_string(nodes), "must be positive");
  topo::System sys = topo::load_system(a.get("--system", "dgx-h100"), static_cast<int>(nodes), a.all("--sys-set"));
  if (a.has("--ranks")) base.ranks = parse_ranks(a.get("--ranks"));
  std::uint64_t b = parse_cli_size(a.get("-b", a.get("--minbytes", "8")), "-b");
  std::uint64_t e = parse_cli_size(a.get("-e", a.get("--maxbytes", "8G")), "-e");
  double f = a.get_double("-f", a.get_double("--stepfactor", 2));
  if (f <= 1) throw make_error("-f", a.get("-f"), "step factor must be greater than 1");
  if (e < b) throw make_error("-e", a.get("-e"), "max size is smaller than min size");
  int n = base.ranks.empty() ? sys.topo.num_gpus() : static_cast<int>(base.ranks.size());
  bool per_rank_count = base.op == coll::Op::AllGather || base.op == coll::Op::ReduceScatter || base.op == coll::Op::AllToAll;
  std::uint64_t ts = static_cast<std::uint64_t>(dtype_bytes(base.dtype));
  std::uint64_t align = per_rank_count ? ts * static_cast<std::uint64_t>(n) : ts;
  std::vector<std::uint64_t> sizes;
  for (double s = static_cast<double>(b); s <= static_cast<double>(e) * (1 + 1e-12); s *= f) {
    std::uint64_t v = static_cast<std::uint64_t>(s);
    v = std::max(align, v / align * align);
    if (sizes.empty() || sizes.back() != v) sizes.push_back(v);
  }

  auto core = make_engine(a.get("--engine", "systemc"));
  coll::Fabric fabric(sys, *core);
  std::vector<coll::CollectiveResult> results(sizes.size());
  // All sizes run back to back in one simulation (one SystemC simulation per process).
  std::function<void(size_t)> launch = [&](size_t k) {
    if (k >= sizes.size()) return;
    coll::CollectiveSpec s = base;
    s.bytes = static_cast<double>(sizes[k]);
    coll::launch_collective(fabric, s, [&, k](const coll::CollectiveResult& r) {
      results[k] = r;
      launch(k + 1);
    });
  };
  // Validate the group and the algorithm choice before starting.
  {
    coll::CollectiveSpec s = base;
    s.bytes = static_cast<double>(sizes.front());
    coll::choose(sys, s);
  }
  launch(0);
  core->run();

  int nodes_in = sys.topo.gpus_per_node > 0 ? (sys.topo.num_gpus() + sys.topo.gpus_per_node - 1) / sys.topo.gpus_per_node : 1;
  std::printf("# orrery collective: %s on %s (%d GPUs in the group, %d GPUs on %d node(s)), algo %s, proto %s\n",
              coll::op_name(base.op), sys.name.c_str(), n, sys.topo.num_gpus(), nodes_in,
              coll::algo_name(base.algo), coll::proto_name(base.proto));
  std::printf("#\n");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %10s  %8s  %8s  %-15s %-8s\n", "size", "count", "type", "redop", "root", "time",
              "algbw", "busbw", "algorithm", "protocol");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %10s  %8s  %8s\n", "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)");
  nlohmann::json rows = nlohmann::json::array();
  double sum_bus = 0;
  // Energy and cost of each collective (hw_models/power.h): the group's GPUs and their nodes.
  Accelerator hw = load_accelerator(sys.accelerator);
  PowerModel pm = power_model_from(a, hw);
  int gpn = sys.topo.gpus_per_node > 0 ? sys.topo.gpus_per_node : sys.topo.num_gpus();
  std::vector<EnergyReport> energy;
  for (auto& r : results) energy.push_back(collective_energy(r, n, gpn, hw, pm));
  const char* tname = base.dtype == Dtype::FP32 ? "float" : dtype_name(base.dtype);
  int root = (base.op == coll::Op::Broadcast || base.op == coll::Op::Reduce) ? base.root : -1;
  for (size_t k = 0; k < sizes.size(); ++k) {
    const auto& r = results[k];
    std::uint64_t count = sizes[k] / ts / (per_rank_count ? static_cast<std::uint64_t>(n) : 1);
    double us = r.time_s * 1e6;
    std::printf("  %10llu  %12llu  %8s  %6s  %6d  %10.2f  %8.2f  %8.2f  %-15s %-8s\n",
                static_cast<unsigned long long>(sizes[k]), static_cast<unsigned long long>(count), tname,
                coll::redop_name(base.op), root, us, r.algbw / 1e9, r.busbw / 1e9, coll::algo_name(r.algorithm),
                coll::proto_name(r.protocol));
    sum_bus += r.busbw / 1e9;
    nlohmann::json row;
    row["bytes"] = sizes[k];
    row["count"] = count;
    row["type"] = tname;
    row["redop"] = coll::redop_name(base.op);
    row["root"] = root;
    row["time_us"] = us;
    row["algbw_gbps"] = r.algbw / 1e9;
    row["busbw_gbps"] = r.busbw / 1e9;
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
  std::printf("# Avg bus bandwidth    : %g\n", sizes.empty() ? 0.0 : sum_bus / static_cast<double>(sizes.size()));
  if (!energy.empty())
    std::printf("# Largest size (%s): %s", format_bytes(static_cast<double>(sizes.back())).c_str(),
                format_energy(energy.back()).c_str());
  if (a.has("--csv")) {
    nlohmann::ordered_json csv = nlohmann::ordered_json::array();
    for (auto& r : rows)
      csv.push_back({{"op", coll::op_name(base.op)}, {"system", sys.name}, {"ranks", n}, {"bytes", r["bytes"]},
                     {"count", r["count"]}, {"type", r["type"]}, {"redop", r["redop"]}, {"root", r["root"]},
                     {"time_us", r["time_us"]}, {"algbw_gbps", r["algbw_gbps"]}, {"busbw_gbps", r["busbw_gbps"]},
                     {"algorithm", r["algorithm"]}, {"protocol", r["protocol"]}, {"channels", r["channels"]},
                     {"energy_j", r["energy_j"]}, {"cost_usd", r["cost_usd"]}});
    write_csv_file(a.get("--csv"), csv);
  }
  if (a.has("--json")) {
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
    // Resolved configuration next to the results: the system as run (after --nodes and --sys-set).
    write_json_file(config_path_for(a.get("--json")),
                    {{"command", args}, {"system", sys.raw}, {"source", sys.source_path}, {"power", pm.to_json()}, {"engine", a.get("--engine", "systemc")}});
  }
  return 0;
}

// Declare the tuner and topology parameters at startup so `orrery describe` lists them.
const bool declared = (coll::collective_params(), topo::topology_params("nvswitch"), true);

Register reg("collective", "nccl-tests style collective sweep on a system (--op, --system, --algo, --proto, -b -e -f)", run);
}  // namespace
}  // namespace orrery::cli
