// Benchmark of `orrery serve`: a 10,000-request trace (Poisson arrivals, exponential lengths,
// written to a JSONL file and read back like a user's trace) on 8 replicas of Llama 3 8B on one
// DGX H100. Prints one JSON line: wall time per phase, events, steps, peak RSS (getrusage).
//   build/bench_serve [requests=10000] [--rate R] [--replicas N] [--engine systemc|event]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/error.h"
#include "workloads/serve.h"

using namespace orrery;
using namespace orrery::serve;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  long n = 10000;
  double rate = 80;
  int replicas = 8;
  std::string engine = "systemc";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rate" && i + 1 < argc) rate = std::atof(argv[++i]);
    else if (a == "--replicas" && i + 1 < argc) replicas = std::atoi(argv[++i]);
    else if (a == "--engine" && i + 1 < argc) engine = argv[++i];
    else n = std::atol(argv[i]);
  }
  try {
    nlohmann::json out;
    auto t_all = Clock::now();
    SynthSpec s;
    s.rate = rate;
    s.num_requests = n;
    s.lengths = "exponential";
    s.prompt = 512;
    s.output = 256;
    s.seed = 42;
    std::string path = (std::filesystem::temp_directory_path() / "orrery_bench_serve.jsonl").string();
    {
      std::ofstream f(path);
      for (auto& r : synth_requests(s))
        f << nlohmann::json{{"arrival", r.arrival}, {"prompt_tokens", r.prompt}, {"output_tokens", r.output}}.dump() << "\n";
    }
    ServeOptions o;
    o.model = "llama3-8b";
    o.system = "dgx-h100";
    o.engine = engine;
    o.trace = path;
    o.cfg.dep.replicas = replicas;
    o.cfg.params = serve_params().resolve(nlohmann::json::object(), "bench");
    auto t = Clock::now();
    auto reqs = make_requests(o);
    out["read_trace_s"] = since(t);
    t = Clock::now();
    ServeResult r = run_serving(o, reqs);
    out["run_serving_s"] = since(t);
    out["total_wall_s"] = since(t_all);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out["peak_rss_mb"] = static_cast<double>(ru.ru_maxrss) / 1024.0;
    out["requests"] = n;
    out["replicas"] = replicas;
    out["rate"] = rate;
    out["engine"] = engine;
    out["events"] = r.events;
    out["steps"] = r.steps;
    out["simulated_makespan_s"] = r.makespan_s;
    out["ttft_p99_ms"] = r.ttft.p99 * 1e3;
    out["tpot_p50_ms"] = r.tpot.p50 * 1e3;
    out["output_tokens_per_s"] = r.output_tokens_per_s;
    std::printf("%s\n", out.dump().c_str());
    std::filesystem::remove(path);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_serve: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
