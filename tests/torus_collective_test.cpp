// Collectives on tori and meshes (workloads/collective.cpp, Algo::Torus): every dimension and both
// directions at once, checked against the textbook closed forms for bidirectional multi-dimensional
// rings: all-reduce busbw = 2 x D x link bandwidth on a torus, half of it on a mesh; and on the
// torus's sub-lattices (data-parallel groups).
#include <gtest/gtest.h>

#include <algorithm>

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

// A group that is a sub-lattice of the torus (a plane, a line, every k-th chip of a line, their
// products: data-parallel groups strided over tensor- and pipeline-parallel ranks) runs the same
// algorithm on its own dimensions: a dimension whose chips sit evenly around a wrapped line gets the
// link in each direction, a stretch of a line half of it (the closing leg crosses back).
TEST(TorusCollective, SubLatticeGroupsUseTheirOwnDimensions) {
  auto busbw = [](const System& sys, std::vector<int> ranks, Algo a) {
    CollectiveSpec s = spec(Op::AllReduce, GiB, a);
    s.ranks = std::move(ranks);
    CollectiveResult r = simulate_collective(sys, s);
    double est = collective_time_estimate(sys, s);
    EXPECT_NEAR(r.time_s, est, 0.05 * est);  // the tuner's closed form agrees with the flows
    return r.busbw;
  };
  System cube = torus({4, 4, 4}, 1), line8 = torus({8, 4}, 1);
  std::vector<int> plane, spaced_plane;
  for (int i = 0; i < 16; ++i) plane.push_back(i + 16);  // the z = 1 plane: a 4x4 torus
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; x += 2) spaced_plane.push_back(x + 8 * y);  // every 2nd x, every y
  EXPECT_NEAR(busbw(cube, plane, Algo::Torus) / 400e9, 1.0, 0.1);            // 2 x 2 x B
  EXPECT_NEAR(busbw(line8, {0, 2, 4, 6}, Algo::Torus) / 200e9, 1.0, 0.1);     // evenly spaced: 2 x B
  EXPECT_NEAR(busbw(line8, {1, 2, 3, 4}, Algo::Torus) / 100e9, 1.0, 0.1);     // a stretch: B
  EXPECT_NEAR(busbw(line8, spaced_plane, Algo::Torus) / 400e9, 1.0, 0.1);     // 2 x 2 x B
  EXPECT_LT(busbw(line8, spaced_plane, Algo::Ring), 1.05 * 100e9);            // one ring: one link
  CollectiveSpec s = spec(Op::AllReduce, GiB, Algo::Auto);
  s.ranks = spaced_plane;
  EXPECT_EQ(choose(line8, s).algo, Algo::Torus);
  // The group's order does not matter: the neighbours are found by coordinates.
  std::reverse(s.ranks.begin(), s.ranks.end());
  EXPECT_NEAR(simulate_collective(line8, s).busbw / 400e9, 1.0, 0.1);
}

TEST(TorusCollective, NotOfferedForGroupsThatAreNoSubLattice) {
  System sys = torus({4, 4, 4}, 1);
  CollectiveSpec s = spec(Op::AllReduce, GiB, Algo::Torus);
  s.ranks = {0, 1, 2, 5};  // x {0,1,2} x y {0,1} would be 6 chips: not a product
  EXPECT_THROW(choose(sys, s), orrery::Error);
  s.algo = Algo::Auto;
  EXPECT_NE(choose(sys, s).algo, Algo::Torus);
}

}  // namespace torus_collective_test
