// `orrery plan`: search the parallel plans of a model on N GPUs; print the top k, why the best
// wins, where published plans rank, and the search's size and time.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "sim/data_files.h"
#include "sim/error.h"
#include "tools/command.h"
#include "topology/topology.h"
#include "workloads/json_io.h"
#include "workloads/plan.h"

namespace orrery::cli {
namespace {

template <class T, class F>
std::vector<T> list_flag(const Args& a, const std::string& flag, F conv) {
  std::vector<T> out;
  if (!a.has(flag)) return out;
  std::stringstream ss(a.get(flag));
  std::string x;
  while (std::getline(ss, x, ',')) out.push_back(conv(x));
  if (out.empty()) throw make_error(flag, a.get(flag), "empty list");
  return out;
}

long to_long(const std::string& flag, const std::string& x) {
  try {
    size_t pos = 0;
    long v = std::stol(x, &pos);
    if (pos != x.size() || v < 0) throw 1;
    return v;
  } catch (...) {
    throw make_error(flag, x, "expected a non-negative integer");
  }
}

void add_published(PlanOptions& o, const std::string& path) {
  nlohmann::json j = parse_json_path(path);
  if (!j.contains("plans") || !j["plans"].is_array()) throw make_error(path, "plans", "expected an array");
  for (auto& e : j["plans"])
    if (e.value("model", "") == o.model)
      o.references.push_back({e.value("name", "published"), parse_plan_spec(e.value("plan", ""), path + ": plans")});
}

PlanOptions parse_plan_options(const Args& a) {
  PlanOptions o;
  for (const char* f : {"--model", "--gpus", "--global-batch"})
    if (!a.has(f)) throw make_error(f, "", "required");
  o.model = a.get("--model");
  o.system = a.get("--system", "dgx-h100");
  o.gpus = a.get_int("--gpus", 0, 1, static_cast<int>(topo::size_limits().gpus));
  o.global_batch = a.get_int("--global-batch", 0);
  o.seq = a.get_int("--seq", 0);
  if (a.has("--seq") && o.seq < 1) throw make_error("--seq", a.get("--seq"), "must be at least 1");
  o.top = static_cast<int>(a.get_int("--top", 5));
  o.max_sims = static_cast<int>(a.get_int("--max-sims", o.max_sims));
  o.rank_sims = static_cast<int>(a.get_int("--rank-sims", o.rank_sims));
  if (o.rank_sims < 0) throw make_error("--rank-sims", a.get("--rank-sims"), "must be zero or more");
  if (o.max_sims < 1) throw make_error("--max-sims", a.get("--max-sims"), "must be at least 1");
  o.comm = a.get("--comm", "auto");
  o.screen = a.get("--screen", "analytical");
  o.verify = a.get_int("--verify", 0, 1, 100000);  // absent (0): --top
  o.memory_fraction = a.get_double("--memory-fraction", 1.0);
  std::string prec = a.get("--precision", "bf16");
  if (prec != "bf16" && prec != "fp8") throw make_error("--precision", prec, "expected bf16 or fp8");
  o.precision = prec == "fp8" ? Dtype::FP8 : Dtype::BF16;
  o.hw_overrides = a.all("--set");
  o.sys_overrides = a.all("--sys-set");
  auto ints = [&](const std::string& f) {
    return list_flag<int>(a, f, [&](const std::string& x) {
      long v = to_long(f, x);
      if (f == "--zero" && (v < 0 || v > 3)) throw make_error(f, x, "expected 0, 1, 2 or 3");
      if (v < (f == "--zero" ? 0 : 1) || v > 65536) throw make_error(f, x, "out of range");
      return static_cast<int>(v);
    });
  };
  o.tp = ints("--tp"); o.pp = ints("--pp"); o.vp = ints("--vp"); o.cp = ints("--cp"); o.ep = ints("--ep");
  o.zero = ints("--zero");
  o.micro_batch = list_flag<long>(a, "--micro-batch", [&](const std::string& x) {
    long v = to_long("--micro-batch", x);
    if (v < 1) throw make_error("--micro-batch", x, "must be at least 1");
    return v;
  });
  o.recompute = list_flag<Recompute>(a, "--recompute", [](const std::string& x) { return parse_recompute(x); });
  for (auto& r : a.all("--reference")) {
    auto eq = r.find('=');
    if (eq == std::string::npos) throw make_error("--reference", r, "expected NAME=tp=..,pp=..");
    o.references.push_back({r.substr(0, eq), parse_plan_spec(r.substr(eq + 1), "--reference " + r.substr(0, eq))});
  }
  if (a.has("--published")) {
    std::string f = a.get("--published");
    add_published(o, f == "1" || f.empty() ? data_dir("ORRERY_VALIDATION_DATA", "validation/data") + "/published_plans.json" : f);
  }
  return o;
}

void print_plan(const PlanCandidate& c, double best) {
  auto& b = c.breakdown_s;
  std::printf("%4d%s %-52s %8.3f s %+6.1f%%  MFU %.3f  %5.1f GB  compute %.2f tp %.2f pp %.2f bubble %.2f dp %.2f opt %.2f\n",
              c.rank, c.verified ? " " : "*", plan_label(c.plan).c_str(), c.iteration_time_s, best > 0 ? 100 * (c.iteration_time_s - best) / best : 0,
              c.mfu, c.peak_memory_bytes / 1e9, b.value("compute", 0.0), b.value("exposed_tp", 0.0) + b.value("exposed_cp", 0.0),
              b.value("exposed_pp", 0.0), b.value("pipeline_bubble", 0.0), b.value("exposed_dp", 0.0), b.value("optimizer", 0.0));
}

Spec plan_spec() {
  Spec s;
  s.name = "plan";
  s.summary = "search parallel plans (TP/SP/PP/VP/DP/CP/EP, micro-batch, recompute, ZeRO) for a model on N GPUs";
  s.usage = "--model M --gpus N --global-batch B [--system S] [--seq L] [--top K] [--json out.json] [options]";
  s.example = "plan --model llama3-70b --system dgx-h100 --gpus 512 --global-batch 1024 --seq 8192 --top 5";
  const char* list = "restrict the search to these values (comma-separated)";
  s.flags = {
      {"--model", "NAME|FILE", "", "", "model preset (orrery list models) or model JSON (required)"},
      system_flag(),
      {"--gpus", "N", "", "", "GPUs of the job (required)"},
      {"--global-batch", "B", "", "sequences", "global batch (required)"},
      {"--seq", "S", "", "tokens", "sequence length (default: the model's)"},
      {"--top", "K", "5", "", "plans printed"},
      {"--json", "FILE", "", "", "the search as JSON"},
      {"--comm", "auto|fabric|analytical|builtin", "auto", "", "collective model of the ranked answer (auto: every rank on the fabric, the cluster executor)"},
      {"--screen", "analytical|fabric", "analytical", "", "model of the screening simulations (analytical: the closed form; fabric: every survivor on the executor, slow)"},
      {"--verify", "N", "", "", "best screened plans re-simulated with --comm and ranked by it (default: --top)"},
      {"--precision", "bf16|fp8", "bf16", "", "matmul precision", Flag::MeaningDefault},
      {"--max-sims", "N", "", "", "simulation budget (plans simulated at most)"},
      {"--rank-sims", "N", "", "", "plans simulated to rank the references"},
      {"--memory-fraction", "F", "1", "", "fraction of HBM a plan may use"},
      {"--tp", "LIST", "", "", list},
      {"--pp", "LIST", "", "", list},
      {"--vp", "LIST", "", "", list},
      {"--cp", "LIST", "", "", list},
      {"--ep", "LIST", "", "", list},
      {"--micro-batch", "LIST", "", "", list},
      {"--recompute", "LIST", "", "", "none,selective,full: " + std::string(list)},
      {"--zero", "LIST", "", "", "0,1,2,3: " + std::string(list)},
      {"--reference", "NAME=tp=..,pp=..", "", "", "rank this plan too (tp, pp, vp, cp, sp, mb, zero, recompute)", Flag::Repeat},
      {"--published", "", "", "", "rank the model's published plans (--published=FILE; default validation/data/published_plans.json)"},
      set_flag(),
      sys_set_flag(),
  };
  s.notes = "See docs/exploration.md (orrery plan).";
  return s;
}

int plan_main(Args& a) {
  if (!a.positional().empty()) throw make_error("plan", a.positional()[0], "unexpected argument");
  PlanOptions o = parse_plan_options(a);
  PlanSearch s = search_plans(o);
  if (s.enumerated == 0)  // (bad input, not a search result: the pinned degrees leave nothing, --tp 3 on 8 GPUs)
    throw make_error("plan", "", "no plan of " + s.model + " on " + std::to_string(o.gpus) +
                                     " GPUs has the pinned degrees (--tp/--pp/--dp/--cp/--ep must divide the GPU count "
                                     "and the model's heads, layers and experts)");
  std::printf("plan search  %s on %s (%d x %s), global batch %ld, seq %ld; comm: %s\n", s.model.c_str(), s.system.c_str(),
              o.gpus, s.gpu.c_str(), o.global_batch, s.seq, s.comm_model.c_str());
  std::printf("search       %ld plans enumerated: %ld invalid, %ld over %.0f GB of HBM, %ld pruned by the compute bound, "
              "%ld by the full bound, %ld simulated (%ld failed), %ld twins of a simulated plan%s; %.2f s (enumerate+bound %.2f s, simulate %.2f s)\n",
              s.enumerated, s.invalid, s.over_memory, s.hbm_capacity / 1e9, s.pruned_compute, s.pruned_bound, s.simulated,
              s.failed, s.twins, s.budget_exhausted ? ", simulation budget exhausted (--max-sims)" : "", s.wall_s, s.enumerate_wall_s,
              s.simulate_wall_s);
  if (s.ranked.empty()) {
    std::printf("no plan fits: invalid by flag:");
    for (auto& [k, v] : s.invalid_reasons) std::printf(" %s %ld", k.c_str(), v);
    std::printf("\n");
    std::string why = s.over_memory > 0 && s.over_memory + s.invalid >= s.enumerated ? "fits in memory" : "is valid";
    throw make_error("plan", "", "no plan " + why + " for " + s.model + " on " + std::to_string(o.gpus) + " GPUs");
  }
  if (!s.screen_model.empty())
    std::printf("verify       %ld plans screened with the %s model re-simulated on the fabric (cluster executor) in %.2f s; "
                "ranked by that (* = screened only)\n",
                s.verified, s.screen_model.c_str(), s.verify_wall_s);
  double best = s.ranked[0].iteration_time_s;
  std::printf("\nrank  plan                                                 iteration   vs best  MFU    memory  breakdown (s)\n");
  for (size_t i = 0; i < s.ranked.size() && static_cast<int>(i) < o.top; ++i) print_plan(s.ranked[i], best);
  if (!s.references.empty()) {
    std::printf("\npublished / reference plans:\n");
    for (auto& r : s.references) {
      if (!r.error.empty()) { std::printf("   -  %-40s %s: %s\n", r.label.c_str(), plan_label(r.plan).c_str(), r.error.c_str()); continue; }
      if (r.rank_max > r.rank)
        std::printf("      %s (rank %d to %d: %zu plans simulated, the others' bounds leave the range)\n", r.label.c_str(), r.rank,
                    r.rank_max, s.ranked.size());
      else
        std::printf("      %s (rank %d)\n", r.label.c_str(), r.rank);
      print_plan(r, best);
    }
  }
  std::printf("\nwhy the best wins:\n  ");
  for (char ch : s.why) { std::putchar(ch); if (ch == '\n') std::printf("  "); }
  std::printf("\n");
  if (a.has("--json")) write_json_file(a.get("--json"), s.to_json());
  return 0;
}

Register plan_reg(plan_spec(), plan_main);
}  // namespace
}  // namespace orrery::cli
