// Benchmark: wall time and peak memory of one 1 GiB all_reduce on H100 nodes on a fat tree,
// 8 .. 16384 GPUs, plus a 16 MiB ring all_reduce over 1024 GPUs on one switch.
// Usage: bench_collective            (runs every case, each in a child process)
//        bench_collective GPUS ALGO  (one case; ALGO = auto | ring | tree | switch-ring)
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workloads/collective.h"

using namespace orrery;

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

int one(int gpus, const std::string& algo) {
  double t0 = now_s();
  topo::System sys;
  coll::CollectiveSpec s;
  s.op = coll::Op::AllReduce;
  if (algo == "switch-ring") {
    nlohmann::json j = {{"name", "switch" + std::to_string(gpus)},
                        {"topology", {{"type", "single_switch"}, {"gpus", gpus}, {"link_bandwidth", "400 Gb/s"}}}};
    sys = topo::system_from_json(j, "bench");
    s.bytes = 16.0 * 1048576;
    s.algo = coll::Algo::Ring;
    s.proto = coll::Proto::Simple;
  } else {
    sys = topo::load_system("h100-cluster", std::max(1, gpus / 8));
    s.bytes = 1073741824.0;
    s.algo = coll::parse_algo(algo);
    if (s.algo != coll::Algo::Auto) s.proto = coll::Proto::Simple;
  }
  double t1 = now_s();
  coll::CollectiveResult r = coll::simulate_collective(sys, s);
  double t2 = now_s();
  std::printf("%6d  %-11s %-9s %-7s %12.1f %9.1f %9zu %7llu %9.3f %9.3f %9.1f\n", sys.topo.num_gpus(), algo.c_str(),
              coll::algo_name(r.algorithm), coll::proto_name(r.protocol), r.time_s * 1e6, r.busbw / 1e9, r.flows,
              static_cast<unsigned long long>(r.events), t1 - t0, t2 - t1, peak_mb());
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3) return one(std::atoi(argv[1]), argv[2]);
  std::printf("# one all_reduce per row, each in its own process (peak RSS is the whole process)\n");
  std::printf("# %4s  %-11s %-9s %-7s %12s %9s %9s %7s %9s %9s %9s\n", "GPUs", "requested", "algorithm", "proto",
              "sim time us", "busbw", "legs", "events", "build s", "sim s", "peak MB");
  std::fflush(stdout);
  const int sizes[] = {8, 64, 512, 1024, 4096, 16384};
  for (const char* algo : {"auto", "ring", "tree"})
    for (int n : sizes) {
      std::string cmd = std::string(argv[0]) + " " + std::to_string(n) + " " + algo;
      if (std::system(cmd.c_str()) != 0) std::printf("# %s failed\n", cmd.c_str());
      std::fflush(stdout);
    }
  std::string cmd = std::string(argv[0]) + " 1024 switch-ring";
  if (std::system(cmd.c_str()) != 0) std::printf("# %s failed\n", cmd.c_str());
  std::printf("# targets: 1024 GPUs < 1 s, 16384 GPUs < 30 s (1 GiB all_reduce, build + simulate)\n");
  return 0;
}
