#include <gtest/gtest.h>

#include "sim/engine.h"
#include "sim/error.h"
#include "sim/network.h"
#include "topology/topology.h"
#include "workloads/collective.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace network_test {

using namespace orrery;

namespace {
// g0 --(a_bw)-- s --(50)-- g1, g2 --(50)-- s; zero latencies.
topo::Topology star(double a_bw) {
  nlohmann::json d = {{"type", "graph"}};
  d["vertices"] = {{{"name", "g0"}, {"kind", "gpu"}}, {{"name", "g1"}, {"kind", "gpu"}},
                   {{"name", "g2"}, {"kind", "gpu"}}, {{"name", "s"}, {"kind", "switch"}}};
  d["links"] = {{{"a", "g0"}, {"b", "s"}, {"bandwidth", a_bw}, {"latency", 0}},
                {{"a", "g1"}, {"b", "s"}, {"bandwidth", 50e9}, {"latency", 0}},
                {{"a", "g2"}, {"b", "s"}, {"bandwidth", 50e9}, {"latency", 0}}};
  return topo::build_topology(d, "star");
}
}  // namespace

TEST(Network, TwoFlowsSharingOneLinkGetHalfEach) {
  topo::Topology t = star(50e9);
  EventCore core;
  net::Network n(t, core);
  Ps a_end = 0, b_end = 0;
  auto a = n.send(0, 1, 1e9, [&] { a_end = core.now(); });
  auto b = n.send(2, 1, 1e9, [&] { b_end = core.now(); });
  EXPECT_NEAR(core.fluid().rate(a), 25e9, 1);
  EXPECT_NEAR(core.fluid().rate(b), 25e9, 1);
  core.run();
  EXPECT_NEAR(to_s(a_end), 0.04, 1e-9);  // 1 GB at 25 GB/s
  EXPECT_EQ(a_end, b_end);
}

TEST(Network, BottleneckedFlowLeavesTheRestToOthers) {
  topo::Topology t = star(10e9);  // g0's own link is the bottleneck of flow A
  EventCore core;
  net::Network n(t, core);
  auto a = n.send(0, 1, 1e9, nullptr);
  auto b = n.send(2, 1, 1e9, nullptr);
  EXPECT_NEAR(core.fluid().rate(a), 10e9, 1);
  EXPECT_NEAR(core.fluid().rate(b), 40e9, 1);
  core.run();
}

TEST(Network, PathLatencyAndSwitchLatency) {
  topo::System s = topo::load_system("example-graph");
  EventCore core;
  net::Network n(s.topo, core);
  Ps end = 0;
  n.send(0, 2, 25e6, [&] { end = core.now(); });  // g0 -> s0 -> s1 -> g2, 25 GB/s bottleneck
  core.run();
  double want = 25e6 / 25e9 + 0.5e-6 + 2e-6 + 0.5e-6 + 2 * 0.3e-6;
  EXPECT_NEAR(to_s(end), want, 1e-11);
}

TEST(Network, NvlinkIsStripedOverAllNvswitchPlanes) {
  topo::System s = topo::load_system("dgx-h100");
  EventCore core;
  net::Network n(s.topo, core);
  auto f = n.send(0, 1, 1e9, nullptr, net::FlowOptions{fluid::kInf, 0, false});
  EXPECT_NEAR(core.fluid().rate(f), 450e9, 1e3);  // 18 x 25 GB/s
  auto g = n.send(2, 1, 1e9, nullptr, net::FlowOptions{fluid::kInf, 0, false});
  EXPECT_NEAR(core.fluid().rate(g), 225e9, 1e3);  // share GPU1's ingress
  core.run();
  EXPECT_LT(n.links_in_use(), s.topo.links.size());  // resources only for links that carried traffic
}

TEST(Network, CoupledTransferMovesAtItsSlowestLeg) {
  topo::Topology t = star(10e9);
  EventCore core;
  net::Network n(t, core);
  net::Coupled c;
  net::Leg a;
  a.src = t.gpus[0];
  a.dst = t.gpus[1];
  a.bytes = 1e9;
  net::Leg b = a;
  b.src = t.gpus[2];
  c.legs = {a, b};
  Ps end = 0;
  n.start_coupled(c, [&] { end = core.now(); });
  core.run();
  EXPECT_NEAR(to_s(end), 0.1, 1e-9);  // leg a at 10 GB/s sets the pace of both
}

TEST(Network, CollectiveOccupiesSmsAndSlowsOverlappingCompute) {
  topo::System s = topo::load_system("dgx-h100");
  auto run = [&](bool with_collective) {
    EventCore core;
    coll::Fabric f(s, core);
    const double T = 1e-3;
    auto sm = f.network().gpu(0).sm;
    Ps end = 0;
    fluid::ActivitySpec k;
    k.work = 1;
    k.max_rate = 1 / T;
    k.usage = {{sm, 132 * T}};
    core.start(k, [&] { end = core.now(); });
    if (with_collective) {
      coll::CollectiveSpec c;
      c.bytes = 1 << 30;
      c.algo = coll::Algo::Ring;
      c.proto = coll::Proto::Simple;
      coll::launch_collective(f, c, nullptr);
    }
    core.run();
    return to_s(end);
  };
  double alone = run(false), overlapped = run(true);
  EXPECT_NEAR(alone, 1e-3, 1e-9);
  EXPECT_GT(overlapped, alone * 1.05);
}

}  // namespace network_test
