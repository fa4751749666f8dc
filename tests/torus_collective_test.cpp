// Collectives on tori and meshes (workloads/collective.cpp, Algo::Torus): every dimension and both
// directions at once, checked against the textbook closed forms for bidirectional multi-dimensional
// rings: all-reduce busbw = 2 x D x link bandwidth on a torus, half of it on a mesh.
#include <gtest/gtest.h>

#include "sim/error.h"
#include "workloads/collective.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace torus_collective_test {

using namespace orrery;
using namespace orrery::coll;

namespace {
System torus(std::vector<int> dims, int wrap) {
  nlohmann::json j = {{"name", "t"},
                      {"accelerator", "h100"},
                      {"topology", {{"type", "torus"}, {"dims", dims}, {"wrap", wrap}, {"link_bandwidth", "100 GB/s"}, {"link_latency", "1 us"}}}};
  return topo::system_from_json(j, "test");
}
CollectiveSpec spec(Op op, double bytes, Algo a) {
  CollectiveSpec s;
  s.op = op;
  s.bytes = bytes;
  s.algo = a;
  s.proto = Proto::Simple;
  return s;
}
const double GiB = 1 << 30;
}  // namespace

TEST(TorusCollective, ThreeDTorusAllReduceUsesSixLinks) {
  System sys = torus({4, 4, 4}, 1);
  CollectiveResult r = simulate_collective(sys, spec(Op::AllReduce, GiB, Algo::Torus));
  // Textbook: t = 2 (N-1)/N x S / (2 D B) + latency; busbw = 2 D B = 600 GB/s.
  double bw_time = 2.0 * 63 / 64 * GiB / (6 * 100e9);
  EXPECT_NEAR(r.time_s - r.latency_s, bw_time, 0.05 * bw_time);
  EXPECT_GT(r.busbw, 0.9 * 600e9);
  EXPECT_LE(r.busbw, 600e9 * 1.001);
  // The single ring reaches one link's bandwidth.
  CollectiveResult ring = simulate_collective(sys, spec(Op::AllReduce, GiB, Algo::Ring));
  EXPECT_LT(ring.busbw, 1.05 * 100e9);
  EXPECT_EQ(choose(sys, spec(Op::AllReduce, GiB, Algo::Auto)).algo, Algo::Torus);
  // The closed form the tuner uses agrees with the flow simulation.
  double est = collective_time_estimate(sys, spec(Op::AllReduce, GiB, Algo::Torus));
  EXPECT_NEAR(r.time_s, est, 0.05 * est);
}

TEST(TorusCollective, AllGatherAndReduceScatterHalfTheTraffic) {
  System sys = torus({4, 4, 4}, 1);
  for (Op op : {Op::AllGather, Op::ReduceScatter}) {
    CollectiveResult r = simulate_collective(sys, spec(op, GiB, Algo::Torus));
    double bw_time = 63.0 / 64 * GiB / (6 * 100e9);  // busbw = 2 D B as well
    EXPECT_NEAR(r.time_s - r.latency_s, bw_time, 0.05 * bw_time) << op_name(op);
  }
}

TEST(TorusCollective, MeshWithoutWrapAroundHasHalfTheBandwidth) {
  System mesh = torus({4, 4}, 0), tor = torus({4, 4}, 1);
  CollectiveResult m = simulate_collective(mesh, spec(Op::AllReduce, GiB, Algo::Torus));
  CollectiveResult t = simulate_collective(tor, spec(Op::AllReduce, GiB, Algo::Torus));
  // 2D torus: busbw 2 x 2 x B = 400 GB/s; the mesh's closing ring legs cross the line: 200 GB/s.
  EXPECT_NEAR(t.busbw / 400e9, 1.0, 0.1);
  EXPECT_NEAR(m.busbw / 200e9, 1.0, 0.1);
  double est = collective_time_estimate(mesh, spec(Op::AllReduce, GiB, Algo::Torus));
  EXPECT_NEAR(m.time_s, est, 0.1 * est);
}

TEST(TorusCollective, NotOfferedForPartialGroups) {
  System sys = torus({4, 4, 4}, 1);
  CollectiveSpec s = spec(Op::AllReduce, GiB, Algo::Torus);
  s.ranks = {0, 1, 2, 3};
  EXPECT_THROW(choose(sys, s), orrery::Error);
  s.algo = Algo::Auto;
  EXPECT_NE(choose(sys, s).algo, Algo::Torus);
}

}  // namespace torus_collective_test
