#include <gtest/gtest.h>

#include <random>

#include "sim/engine.h"
#include "sim/error.h"
#include "sim/fluid.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace fluid_test {

using namespace orrery;
using namespace orrery::fluid;

TEST(Fluid, TwoFlowsShareOneLinkHalfEach) {
  Solver s;
  auto link = s.add_resource("link", 100.0);
  auto a = s.start(0, {1000, {{link, 1}}});
  auto b = s.start(0, {1000, {{link, 1}}});
  EXPECT_DOUBLE_EQ(s.rate(a), 50.0);
  EXPECT_DOUBLE_EQ(s.rate(b), 50.0);
  EXPECT_DOUBLE_EQ(s.next_completion(), 20.0);
}

TEST(Fluid, BottleneckedFlowLeavesRestToOthers) {
  // Flow A crosses links L1 (cap 100) and L2 (cap 10); flow B only L1.
  Solver s;
  auto l1 = s.add_resource("l1", 100.0);
  auto l2 = s.add_resource("l2", 10.0);
  auto a = s.start(0, {1e6, {{l1, 1}, {l2, 1}}});
  auto b = s.start(0, {1e6, {{l1, 1}}});
  EXPECT_NEAR(s.rate(a), 10.0, 1e-9);
  EXPECT_NEAR(s.rate(b), 90.0, 1e-9);
}

TEST(Fluid, RateCapAndWeights) {
  Solver s;
  auto r = s.add_resource("hbm", 100.0);
  auto a = s.start(0, {10, {{r, 1}}, 20.0});           // capped at 20
  auto b = s.start(0, {10, {{r, 1}}, kInf, 1.0});
  EXPECT_NEAR(s.rate(a), 20.0, 1e-9);
  EXPECT_NEAR(s.rate(b), 80.0, 1e-9);
  Solver w;
  auto r2 = w.add_resource("sm", 90.0);
  auto x = w.start(0, {10, {{r2, 1}}, kInf, 2.0});
  auto y = w.start(0, {10, {{r2, 1}}, kInf, 1.0});
  EXPECT_NEAR(w.rate(x), 60.0, 1e-9);
  EXPECT_NEAR(w.rate(y), 30.0, 1e-9);
}

TEST(Fluid, CompletionReleasesCapacity) {
  Solver s;
  auto link = s.add_resource("link", 100.0);
  auto a = s.start(0, {100, {{link, 1}}});
  auto b = s.start(0, {300, {{link, 1}}});
  EXPECT_DOUBLE_EQ(s.next_completion(), 2.0);  // a: 100 at 50/s
  auto done = s.take_completed(2.0);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], a);
  EXPECT_DOUBLE_EQ(s.rate(b), 100.0);
  EXPECT_DOUBLE_EQ(s.next_completion(), 4.0);  // 200 left at 100/s
  EXPECT_NEAR(s.used_integral(link), 200.0, 1e-9);
}

TEST(Fluid, ZeroCapacityIsAnError) {
  Solver s;
  EXPECT_THROW(s.add_resource("nvlink0", 0.0), Error);
}

TEST(Engine, EventCoreRunsFlowsAndCallbacksInOrder) {
  EventCore e;
  auto link = e.fluid().add_resource("link", 1e9);
  std::vector<std::string> log;
  e.at(to_ps(1e-6), [&] {
    log.push_back("t1");
    e.start({1000, {{link, 1}}}, [&] { log.push_back("flow@" + std::to_string(e.now())); });
  });
  e.run();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1], "flow@" + std::to_string(to_ps(2e-6)));
}

TEST(Engine, SystemCBackendMatchesEventCore) {
  auto run = [](EventCore& e) {
    auto link = e.fluid().add_resource("link", 1e9);
    Ps end = 0;
    e.at(to_ps(1e-6), [&] {
      e.start({1000, {{link, 1}}}, [&] { end = e.now(); });
      e.start({3000, {{link, 1}}}, [&] { end = std::max(end, e.now()); });
    });
    e.run();
    return end;
  };
  EventCore plain;
  Ps a = run(plain);
  SystemCEngine sc;
  Ps b = run(sc);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, to_ps(5e-6));
}

TEST(Fluid, HeapSolverMatchesReferenceOnRandomInstances) {
  // Random fabrics with many bottleneck levels, caps and weights: both algorithms must give the
  // same max-min fair rates.
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 40; ++trial) {
    Solver a, b;
    b.set_algorithm(Solver::Algorithm::Reference);
    int links = 2 + static_cast<int>(rng() % 30);
    std::uniform_real_distribution<double> cap(1.0, 100.0);
    for (int l = 0; l < links; ++l) {
      double c = cap(rng);
      a.add_resource("l", c);
      b.add_resource("l", c);
    }
    int flows = 1 + static_cast<int>(rng() % 60);
    std::vector<ActivityId> ids;
    for (int f = 0; f < flows; ++f) {
      ActivitySpec s;
      s.work = 100;
      int hops = 1 + static_cast<int>(rng() % 4);
      for (int h = 0; h < hops; ++h) s.usage.push_back({static_cast<ResourceId>(rng() % links), 0.5 + (rng() % 3)});
      if (rng() % 4 == 0) s.max_rate = cap(rng) / 4;
      s.weight = 1 + (rng() % 3);
      a.start(0, s);
      ids.push_back(b.start(0, s));
    }
    for (ActivityId id : ids) EXPECT_NEAR(a.rate(id), b.rate(id), 1e-9 * std::max(1.0, b.rate(id))) << "trial " << trial;
  }
}

TEST(Engine, ModelErrorsInsideTheSystemCKernelComeOutAsOrreryErrors) {
  SystemCEngine sc;
  sc.at(to_ps(1e-6), [] { throw Error("node 7: bad thing"); });
  try {
    sc.run();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "node 7: bad thing");
  }
}

}  // namespace fluid_test
