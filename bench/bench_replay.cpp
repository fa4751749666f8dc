// Benchmark: wall time and peak memory of replaying each bundled capture, split into parsing
// (load_bundle) and the whole replay; reported as figures and as the ratio replay / parse
// measured in the same process (no pass/fail thresholds).
//   build/bench_replay [bundle...]   (default: examples/bundles/*)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "workloads/pytorch_trace.h"
#include "workloads/replay.h"

using namespace orrery;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
  std::vector<std::string> bundles;
  for (int i = 1; i < argc; ++i) bundles.push_back(argv[i]);
  if (bundles.empty()) {
    for (auto& e : std::filesystem::directory_iterator(std::string(ORRERY_SOURCE_DIR) + "/examples/bundles"))
      bundles.push_back(e.path().string());
    std::sort(bundles.begin(), bundles.end());
  }
  std::printf("%-12s %8s %8s %10s %10s %8s %10s\n", "bundle", "kernels", "hostops", "parse_s", "replay_s", "ratio", "events");
  for (auto& b : bundles) {
    const int reps = 3;
    double parse = 1e9, total = 1e9;
    ReplayResult r;
    for (int k = 0; k < reps; ++k) {
      double t0 = now_s();
      CapturedStep st = load_bundle(b);
      double t1 = now_s();
      ReplayOptions o;
      o.bundle = b;
      o.engine = "event";
      r = replay_bundle(o);
      double t2 = now_s();
      parse = std::min(parse, t1 - t0);
      total = std::min(total, t2 - t1);
    }
    std::printf("%-12s %8zu %8zu %10.3f %10.3f %8.2f %10llu\n", std::filesystem::path(b).filename().c_str(), r.kernels.size(),
                r.host_items, parse, total, total / parse, static_cast<unsigned long long>(r.events));
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak RSS %.1f MB\n", ru.ru_maxrss / 1024.0);
  return 0;
}
