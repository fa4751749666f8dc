// Benchmark of `orrery train`: GPT-3 175B, TP8 PP16, DP = GPUs / 128 on DGX H100 nodes,
// global batch 1536 (or scaled with the GPU count: --scale-batch), selective recomputation,
// sequence parallelism, ZeRO-1. One configuration per process so `/usr/bin/time -v` measures
// its peak memory:
//   /usr/bin/time -v build/bench_train 1024 [--comm fabric|analytical|builtin] [--no-symmetry]
//                                           [--scale-batch] [--timeline out.json] [--engine systemc|event]
// fabric (default): the cluster executor, one rank per pipeline stage with symmetry, every rank
// with --no-symmetry.
// Prints one JSON line: wall time per phase, simulated iteration, events.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/error.h"
#include "workloads/train.h"

using namespace orrery;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  int gpus = 1024;
  std::string comm_kind = "fabric", timeline, engine = "event";
  bool scale_batch = false, no_symmetry = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--comm" && i + 1 < argc) comm_kind = argv[++i];
    else if (a == "--timeline" && i + 1 < argc) timeline = argv[++i];
    else if (a == "--engine" && i + 1 < argc) engine = argv[++i];
    else if (a == "--scale-batch") scale_batch = true;
    else if (a == "--no-symmetry") no_symmetry = true;
    else gpus = std::atoi(argv[i]);
  }
  if (gpus < 128 || gpus % 128 != 0) {
    std::fprintf(stderr, "bench_train: GPU count must be a multiple of 128 (TP8 x PP16)\n");
    return 2;
  }
  try {
    auto t_all = Clock::now();
    nlohmann::json out;
    TrainOptions o;
    o.model = "gpt3-175b";
    o.system = "dgx-h100";
    o.nodes = gpus / 8;
    o.comm = comm_kind;
    o.engine = engine;
    o.timeline_path = timeline;
    o.cluster.no_symmetry = no_symmetry;
    TrainPlan& p = o.plan;
    p.tp = 8;
    p.pp = 16;
    p.dp = gpus / 128;
    p.micro_batch = 1;
    p.global_batch = scale_batch ? 1536L * gpus / 1024 : 1536;
    p.seq = 2048;
    p.sequence_parallel = true;
    p.recompute = Recompute::Selective;
    p.zero = 1;
    auto t = Clock::now();
    TrainResult r = run_training(o);
    out["run_training_s"] = since(t);
    out["comm_model"] = r.comm_model;
    out["simulated_ranks"] = r.simulated_ranks;
    out["nodes"] = r.exec.nodes;
    out["flows"] = r.exec.flows;
    out["total_wall_s"] = since(t_all);
    out["gpus"] = gpus;
    out["global_batch"] = p.global_batch;
    out["micro_batches"] = r.micro_batches;
    out["iteration_time_s"] = r.iteration_time_s;
    out["mfu"] = r.mfu;
    out["tokens_per_s_per_gpu"] = r.tokens_per_s_per_gpu;
    out["peak_memory_per_gpu"] = format_bytes(r.peak_memory_bytes);
    out["sim_events"] = r.sim_events;
    out["engine"] = engine;
    std::printf("%s\n", out.dump().c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
