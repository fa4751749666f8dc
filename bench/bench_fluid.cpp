// Benchmark of the one sharing mechanism (sim/fluid.h), the simulator's hot path: time per
// max-min solve as the number of concurrent activities grows, for (a) many flows on one shared
// link set (one bottleneck level) and (b) flows on random 3-hop routes over a fabric of links
// with random capacities (many bottleneck levels, the worst case of progressive filling).
// Reported as figures and as the ratio to the smallest size measured in the same run.
//   build/bench_fluid
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "sim/fluid.h"

using namespace orrery::fluid;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Starts n activities, then measures solve() via next_completion() after one completion each
// round (the pattern of a simulation: one change, one re-solve).
static double per_solve(int n, bool heterogeneous, int rounds) {
  std::mt19937_64 rng(42);
  Solver s;
  int links = heterogeneous ? std::max(16, n / 4) : 8;
  std::uniform_real_distribution<double> cap(50e9, 400e9);
  std::vector<ResourceId> res;
  for (int i = 0; i < links; ++i) res.push_back(s.add_resource("l" + std::to_string(i), heterogeneous ? cap(rng) : 100e9));
  std::uniform_int_distribution<int> pick(0, links - 1);
  std::uniform_real_distribution<double> size(1e6, 1e9);
  for (int i = 0; i < n; ++i) {
    ActivitySpec a;
    a.work = size(rng);
    if (heterogeneous) {
      for (int h = 0; h < 3; ++h) a.usage.push_back({res[pick(rng)], 1.0});
    } else {
      a.usage.push_back({res[i % links], 1.0});
    }
    s.start(0, a);
  }
  double t = 0;
  s.next_completion();
  double t0 = now_s();
  for (int r = 0; r < rounds; ++r) {
    double next = s.next_completion();
    auto done = s.take_completed(next);
    ActivitySpec a;
    a.work = size(rng);
    for (int h = 0; h < (heterogeneous ? 3 : 1); ++h) a.usage.push_back({res[pick(rng)], 1.0});
    s.start(next, a);
    t = next;
  }
  s.next_completion();
  (void)t;
  return (now_s() - t0) / rounds;
}

int main() {
  std::printf("%-14s %8s %14s %10s\n", "case", "flows", "us/solve", "ratio");
  for (bool het : {false, true}) {
    double base = 0;
    int base_n = 0;
    for (int n : {64, 256, 1024, 4096, 16384}) {
      int rounds = n >= 4096 ? 20 : 200;
      double t = per_solve(n, het, rounds);
      if (base == 0) {
        base = t;
        base_n = n;
      }
      std::printf("%-14s %8d %14.1f %7.1fx (flows x%d)\n", het ? "random-routes" : "shared-links", n, t * 1e6, t / base, n / base_n);
    }
  }
  return 0;
}
