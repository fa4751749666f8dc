// Events per second of the cluster executor against the bare SystemC kernel's floor.
//   build/bench_events [--gpus N] [--micro M] [--events N]
// runs each measurement in its own process (SystemC runs once per process) and prints a table:
//   bare     an SC_METHOD woken by a timed sc_event that re-notifies itself N times: the most
//            events per second the kernel can deliver to one process on this machine;
//   systemc  `train` of Llama-3-8B TP4 PP2 DP(N/8), M micro-batches per replica (default 256 GPUs,
//            16 micro-batches), on N H100 (every rank simulated) through the
//            cluster executor on the SystemC engine (the GPU/NIC/switch sc_module shells wired);
//   event    the same on the kernel-free engine.
// Executor events: fluid completions plus timed callbacks (ExecResult::events). The figures are
// timings of this machine: a report, never a pass/fail test.
//   build/bench_events --mode bare|systemc|event [...]   one measurement, one JSON line.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>
#include <systemc>

#include "sim/error.h"
#include "workloads/train.h"

using namespace orrery;
using Clock = std::chrono::steady_clock;

namespace {

struct Bare : sc_core::sc_module {
  sc_core::sc_event e;
  std::uint64_t left, fired = 0;
  SC_HAS_PROCESS(Bare);
  Bare(sc_core::sc_module_name n, std::uint64_t count) : sc_core::sc_module(n), left(count) {
    SC_METHOD(tick);
    sensitive << e;
    dont_initialize();
  }
  void tick() {
    ++fired;
    if (--left > 0) e.notify(sc_core::sc_time(1, sc_core::SC_PS));
  }
  void start_of_simulation() override { e.notify(sc_core::sc_time(1, sc_core::SC_PS)); }
};

nlohmann::json bare(std::uint64_t n) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);
  Bare b("bare", n);
  auto t0 = Clock::now();
  sc_core::sc_start();
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  return {{"mode", "bare"}, {"events", b.fired}, {"wall_s", wall}, {"events_per_s", b.fired / wall}};
}

nlohmann::json executor(const std::string& engine, int gpus, int micro) {
  TrainOptions o;
  o.model = "llama3-8b";
  o.system = "h100-cluster";
  o.nodes = gpus / 8;
  o.plan.tp = 4;
  o.plan.pp = 2;
  o.plan.dp = gpus / 8;
  o.plan.micro_batch = 1;
  o.plan.global_batch = static_cast<long>(micro) * o.plan.dp;
  o.plan.seq = 2048;
  o.engine = engine;
  o.cluster.no_symmetry = true;
  TrainResult r = run_training(o);
  const ExecResult& x = r.exec;
  return {{"mode", engine},        {"gpus", gpus},          {"events", x.events},
          {"wall_s", x.wall_s},    {"events_per_s", x.events / x.wall_s},
          {"nodes", x.nodes},      {"flows", x.flows},      {"iteration_s", r.iteration_time_s}};
}

nlohmann::json child(const std::string& self, const std::string& args) {
  std::string cmd = self + " " + args;
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (f && fgets(buf, sizeof buf, f)) out += buf;
  if (!f || pclose(f) != 0) throw Error("bench_events: `" + cmd + "` failed: " + out);
  return nlohmann::json::parse(out);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode;
  int gpus = 256, micro = 16;
  std::uint64_t events = 20000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--mode") mode = argv[i + 1];
    else if (k == "--gpus") gpus = std::atoi(argv[i + 1]);
    else if (k == "--micro") micro = std::atoi(argv[i + 1]);
    else if (k == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (gpus < 64 || gpus % 64 != 0 || micro < 1) {
    std::fprintf(stderr, "bench_events: --gpus must be a multiple of 64, --micro at least 1\n");
    return 2;
  }
  try {
    if (mode == "bare") std::printf("%s\n", bare(events).dump().c_str());
    else if (mode == "systemc" || mode == "event") std::printf("%s\n", executor(mode, gpus, micro).dump().c_str());
    else if (!mode.empty()) throw Error("--mode: " + mode + ": expected bare, systemc or event");
    if (!mode.empty()) return 0;
    nlohmann::json b = child(argv[0], "--mode bare --events " + std::to_string(events));
    std::string w = " --gpus " + std::to_string(gpus) + " --micro " + std::to_string(micro);
    nlohmann::json s = child(argv[0], "--mode systemc" + w);
    nlohmann::json e = child(argv[0], "--mode event" + w);
    double floor = b["events_per_s"];
    std::printf("%-8s %12s %10s %14s %10s\n", "mode", "events", "wall_s", "events/s", "vs bare");
    for (auto* j : {&b, &s, &e}) {
      double eps = (*j)["events_per_s"];
      std::printf("%-8s %12llu %10.3f %14.0f %9.3fx\n", std::string((*j)["mode"]).c_str(),
                  static_cast<unsigned long long>((*j)["events"]), static_cast<double>((*j)["wall_s"]), eps, eps / floor);
    }
    std::printf("workload: train llama3-8b TP4 PP2 DP%d, %d micro-batches per replica, on %d H100 (h100-cluster),\n"
                "every rank simulated; executor events per wall second of its run\n", gpus / 8, micro, gpus);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bench_events: error: %s\n", ex.what());
    return 1;
  }
  return 0;
}
