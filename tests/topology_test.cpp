#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "sim/error.h"
#include "topology/topology.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace topology_test {

using namespace orrery;
using namespace orrery::topo;

namespace {

Topology build(const nlohmann::json& j) { return build_topology(j, "test.json"); }

// Flow conservation of a route: net outflow 1 at src, net inflow 1 at dst, 0 elsewhere.
void expect_valid_route(const Topology& t, int src, int dst, const Route& r) {
  std::map<int, double> net;
  for (const auto& h : r.hops) {
    const Link& l = t.links[static_cast<size_t>(h.link)];
    net[l.src] -= h.fraction;
    net[l.dst] += h.fraction;
    ASSERT_GT(h.fraction, 0.0);
  }
  for (auto& [v, x] : net) {
    double want = v == src ? -1.0 : v == dst ? 1.0 : 0.0;
    ASSERT_NEAR(x, want, 1e-9) << t.name << ": route " << src << "->" << dst << " at " << t.vertex(v).name;
  }
  if (src != dst) {
    ASSERT_FALSE(r.hops.empty());
  }
}

void expect_all_pairs(const Topology& t) {
  for (int a = 0; a < t.num_gpus(); ++a)
    for (int b = 0; b < t.num_gpus(); ++b) {
      Route r = t.route_ranks(a, b, static_cast<std::uint64_t>(a * 7919 + b));
      expect_valid_route(t, t.gpus[static_cast<size_t>(a)], t.gpus[static_cast<size_t>(b)], r);
    }
}

nlohmann::json cluster(int nodes, int radix, int tiers = 0, double oversub = 1, int rail = 1) {
  return {{"type", "nvswitch"}, {"nodes", nodes},        {"switch_radix", radix},
          {"tiers", tiers},     {"oversubscription", oversub}, {"rail_optimized", rail}};
}

}  // namespace

TEST(Topology, PresetsLoad) {
  for (const auto& name : list_systems()) {
    System s = topo::load_system(name);
    EXPECT_GT(s.topo.num_gpus(), 0) << name;
  }
  System dgx = topo::load_system("dgx-h100");
  EXPECT_EQ(dgx.topo.num_gpus(), 8);
  System c = topo::load_system("h100-cluster", 16);
  EXPECT_EQ(c.topo.num_gpus(), 128);
}

TEST(Topology, RoutingReachesEveryPairOnEveryTopology) {
  std::vector<nlohmann::json> descs = {
      {{"type", "ring"}, {"gpus", 7}},
      {{"type", "ring"}, {"gpus", 2}},
      {{"type", "fully_connected"}, {"gpus", 5}},
      {{"type", "single_switch"}, {"gpus", 6}},
      {{"type", "nvswitch"}, {"nodes", 1}},
      cluster(4, 64),          // one leaf per rail group
      cluster(4, 8),           // two tiers
      cluster(8, 8),           // three tiers (16 leaves > radix 8)
      cluster(6, 8, 0, 2, 0),  // oversubscribed, not rail-optimized
      {{"type", "torus"}, {"dims", {3, 4}}},
      {{"type", "torus"}, {"dims", {2, 2, 3}}},
      {{"type", "dragonfly"}, {"groups", 5}, {"routers_per_group", 2}, {"gpus_per_router", 2}, {"global_links_per_router", 2}},
  };
  for (auto& d : descs) {
    Topology t = build(d);
    SCOPED_TRACE(d.dump());
    expect_all_pairs(t);
  }
  expect_all_pairs(topo::load_system("example-graph").topo);
}

TEST(Topology, FatTreeTiersAndRails) {
  Topology t3 = build(cluster(8, 8));
  ASSERT_TRUE(t3.fat);
  EXPECT_EQ(t3.fat->tiers, 3);
  Topology t2 = build(cluster(4, 8));
  EXPECT_EQ(t2.fat->tiers, 2);
  // Rail-optimized: same-rail GPUs of neighbouring servers meet at one leaf (NIC, leaf, NIC).
  Route r = t2.route_ranks(0, 8);  // node 0 gpu 0 -> node 1 gpu 0
  EXPECT_EQ(r.length, 4);          // pcie, nic->leaf, leaf->nic, pcie
  // Cross-rail goes through NVLink to the destination's rail first (PXN).
  Route x = t2.route_ranks(0, 9);
  EXPECT_EQ(x.length, 6);
  EXPECT_THROW(build(cluster(8, 8, 2)), Error);  // two tiers cannot hold 16 leaves of radix 8
}

TEST(Topology, TorusDimensionOrderWithWrap) {
  Topology t = build({{"type", "torus"}, {"dims", {4, 4}}});
  EXPECT_EQ(t.route_ranks(0, 3).length, 1);      // (0,0) -> (3,0) over the wrap-around link
  EXPECT_EQ(t.route_ranks(0, 2 + 4).length, 3);  // (0,0) -> (2,1): 2 in x then 1 in y
  Route r = t.route_ranks(0, 1 + 4 * 1);
  ASSERT_EQ(r.hops.size(), 2u);
  EXPECT_EQ(t.vertex(t.links[static_cast<size_t>(r.hops[0].link)].dst).name, "gpu1_0");  // x first
  EXPECT_EQ(t.num_gpus(), 16);
  EXPECT_EQ(static_cast<int>(t.links.size()), 16 * 4);  // 4 neighbours each, directed
}

TEST(Topology, EcmpSpreadsFlows) {
  // g0 - a - {m0..m3} - b - g1: four equal-cost paths.
  nlohmann::json d = {{"type", "graph"}};
  d["vertices"] = {{{"name", "g0"}, {"kind", "gpu"}}, {{"name", "g1"}, {"kind", "gpu"}}, {{"name", "a"}, {"kind", "switch"}},
                   {{"name", "b"}, {"kind", "switch"}}};
  d["links"] = {{{"a", "g0"}, {"b", "a"}, {"bandwidth", "100 GB/s"}}, {{"a", "b"}, {"b", "g1"}, {"bandwidth", "100 GB/s"}}};
  for (int k = 0; k < 4; ++k) {
    std::string m = "m" + std::to_string(k);
    d["vertices"].push_back({{"name", m}, {"kind", "switch"}});
    d["links"].push_back({{"a", "a"}, {"b", m}, {"bandwidth", "25 GB/s"}});
    d["links"].push_back({{"a", m}, {"b", "b"}, {"bandwidth", "25 GB/s"}});
  }
  Topology t = build(d);
  std::map<std::string, int> use;
  for (std::uint64_t h = 0; h < 4000; ++h) {
    Route r = t.route_ranks(0, 1, h);
    ASSERT_EQ(r.length, 4);
    use[t.vertex(t.links[static_cast<size_t>(r.hops[1].link)].dst).name]++;
    // Deterministic: the same hash gives the same path.
    EXPECT_EQ(t.route_ranks(0, 1, h).hops[1].link, r.hops[1].link);
  }
  ASSERT_EQ(use.size(), 4u);
  for (auto& [m, c] : use) EXPECT_GT(c, 800) << m;
  // Fat tree: leaf-to-leaf flows spread over the spines.
  Topology f = build(cluster(8, 8, 0, 1, 0));
  std::map<int, int> spine;
  for (int a = 0; a < 8; ++a)
    for (int b = 56; b < 64; ++b) {
      Route r = f.route_ranks(a, b, topo::mix_hash(a, b));
      for (auto& h : r.hops)
        if (f.vertex(f.links[static_cast<size_t>(h.link)].dst).level >= 2) spine[f.links[static_cast<size_t>(h.link)].dst]++;
    }
  EXPECT_GT(spine.size(), 2u);
}

TEST(Topology, SummaryDiameterBisection) {
  Summary s = topo::load_system("dgx-h100").topo.summary();
  EXPECT_EQ(s.gpus, 8);
  EXPECT_EQ(s.nvswitches, 4);
  EXPECT_EQ(s.diameter, 2);
  EXPECT_NEAR(s.bisection, 4 * 450e9, 1e3);  // 4 GPUs x 18 x 25 GB/s
  Summary r = build({{"type", "ring"}, {"gpus", 8}, {"link_bandwidth", "50 GB/s"}}).summary();
  EXPECT_EQ(r.diameter, 4);
  EXPECT_NEAR(r.bisection, 100e9, 1e3);  // two links cross the cut
  Summary c = topo::load_system("h100-cluster", 8).topo.summary();
  EXPECT_NEAR(c.bisection, 32 * 50e9, 1e3);  // 32 NICs of 400 Gb/s on each side
  EXPECT_EQ(c.diameter, 6);                  // gpu, nvswitch, gpu, nic, leaf, nic, gpu
}

// Shortest-path routes on a graph without arithmetic routing search only as far as the source:
// a 100k-GPU ring routes its neighbours (a collective's ring steps) through a few vertices, and
// the far side of the ring still gets its whole shortest path.
TEST(Topology, RingRoutesOfAHundredThousandGpus) {
  Topology t = build({{"type", "ring"}, {"gpus", 100000}, {"link_bandwidth", "50 GB/s"}});
  for (int r = 0; r < t.num_gpus(); ++r) {
    Route n = t.route(t.gpus[static_cast<size_t>(r)], t.gpus[static_cast<size_t>((r + 1) % t.num_gpus())]);
    ASSERT_EQ(n.hops.size(), 1u) << r;
  }
  EXPECT_EQ(t.route(t.gpus[0], t.gpus[50000]).hops.size(), 50000u);
  EXPECT_EQ(t.route(t.gpus[0], t.gpus[99990]).hops.size(), 10u);
  EXPECT_TRUE(t.reachable(t.gpus[0], t.gpus[77777]));
}

TEST(Topology, JsonRoundTrip) {
  Topology t = topo::load_system("h100-cluster", 2).topo;
  nlohmann::json j = t.to_json();
  Topology u = build(j);
  EXPECT_EQ(u.num_gpus(), t.num_gpus());
  EXPECT_EQ(u.links.size(), t.links.size());
  expect_valid_route(u, u.gpus[0], u.gpus[15], u.route_ranks(0, 15));
  EXPECT_NE(t.to_dot().find("n0.gpu0"), std::string::npos);
}

TEST(Topology, BadInputIsOneLineError) {
  auto msg = [](const nlohmann::json& d) {
    try {
      build_topology(d, "bad.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json disc = {{"type", "graph"}};
  disc["vertices"] = {{{"name", "g0"}, {"kind", "gpu"}}, {{"name", "g1"}, {"kind", "gpu"}}, {{"name", "g2"}, {"kind", "gpu"}}};
  disc["links"] = {{{"a", "g0"}, {"b", "g1"}, {"bandwidth", "10 GB/s"}}};
  std::string m = msg(disc);
  EXPECT_NE(m.find("disconnected"), std::string::npos) << m;
  EXPECT_NE(m.find("g2"), std::string::npos) << m;
  nlohmann::json zero = disc;
  zero["links"].push_back({{"a", "g1"}, {"b", "g2"}, {"bandwidth", "0 GB/s"}});
  m = msg(zero);
  EXPECT_NE(m.find("bandwidth"), std::string::npos) << m;
  EXPECT_NE(m.find("links[1]"), std::string::npos) << m;
  m = msg({{"type", "ring"}, {"gpus", 4}, {"link_bandwidth", "0 GB/s"}});
  EXPECT_NE(m.find("link_bandwidth"), std::string::npos) << m;
  m = msg({{"type", "hypercube"}});
  EXPECT_NE(m.find("unknown topology type"), std::string::npos) << m;
  m = msg({{"type", "torus"}});
  EXPECT_NE(m.find("dims"), std::string::npos) << m;
  m = msg({{"type", "ring"}, {"gpus", 4}, {"colour", 3}});
  EXPECT_NE(m.find("colour"), std::string::npos) << m;
  for (auto& d : std::vector<nlohmann::json>{disc, zero}) EXPECT_EQ(msg(d).find('\n'), std::string::npos);
  EXPECT_THROW(topo::load_system("no-such-system"), Error);
  EXPECT_THROW(topo::load_system("ring8", 4), Error);  // --nodes on a non-cluster
}

TEST(Topology, CliSummaryDotJsonAndDeterminism) {
  std::string dot = testing::TempDir() + "/orrery_topo.dot", js = testing::TempDir() + "/orrery_topo.json";
  auto run = [](const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    int rc = p ? pclose(p) : -1;
    return std::make_pair(rc, out);
  };
  std::string cmd = std::string(ORRERY_BINARY) + " topo h100-cluster --nodes 4 --dot " + dot + " --json " + js;
  auto [rc, out] = run(cmd);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("GPUs:       32"), std::string::npos) << out;
  EXPECT_NE(out.find("bisection:"), std::string::npos);
  EXPECT_NE(out.find("diameter:"), std::string::npos);
  EXPECT_EQ(run(cmd).second, out);  // byte-for-byte deterministic
  std::ifstream j(js);
  nlohmann::json doc = nlohmann::json::parse(j);
  EXPECT_EQ(doc["summary"]["gpus"], 32);
  Topology back = build_topology(doc["topology"], js);
  EXPECT_EQ(back.num_gpus(), 32);
  std::ifstream d(dot);
  std::string first;
  std::getline(d, first);
  EXPECT_EQ(first.rfind("graph", 0), 0u);
  auto bad = run(std::string(ORRERY_BINARY) + " topo " + testing::TempDir() + "/missing.json 2>&1");
  EXPECT_NE(bad.first, 0);
  EXPECT_NE(bad.second.find("unknown system"), std::string::npos) << bad.second;
  // --sys-set: a topology key changes the description; an unknown tuner key is one error here too.
  auto fast = run(std::string(ORRERY_BINARY) + " topo dgx-h100 --sys-set nvlink_bandwidth=50GB/s --json " + js + " 2>&1");
  EXPECT_EQ(fast.first, 0) << fast.second;
  auto typo = run(std::string(ORRERY_BINARY) + " topo dgx-h100 --sys-set collective.nvlss=0 2>&1");
  EXPECT_NE(typo.first, 0);
  EXPECT_NE(typo.second.find("collective: nvlss: unknown parameter"), std::string::npos) << typo.second;
}

// Found by fuzzing systems/*.json: wrong types leaked raw JSON exceptions, sizes were rounded or
// overflowed (SIGFPE, out of memory, a hang), and graph links with typos or self-loops were
// accepted or reported without the file. Each is now one line naming the file and field.
TEST(Topology, FuzzedSystemFilesNameFileAndField) {
  auto msg = [](const nlohmann::json& d) {
    try {
      system_from_json(d, "fz.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto sys = [](nlohmann::json topo) { return nlohmann::json{{"name", "fz"}, {"accelerator", "h100"}, {"topology", topo}}; };
  nlohmann::json ring = {{"type", "ring"}, {"gpus", 4}};
  EXPECT_EQ(msg(sys(ring)), "no error");
  auto expect = [&](const nlohmann::json& d, const std::string& a, const std::string& b) {
    std::string m = msg(d);
    EXPECT_EQ(m.rfind("fz.json", 0), 0u) << m;
    EXPECT_NE(m.find(a), std::string::npos) << m;
    EXPECT_NE(m.find(b), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.find("json.exception"), std::string::npos) << m;
  };
  nlohmann::json d = sys(ring);
  d["name"] = 5;
  expect(d, "name", "expected a string");
  d = sys(ring);
  d["accelerator"] = "h900";
  expect(d, "accelerator", "h900");
  expect(sys({{"type", "nvswitch"}, {"nodes", 1.5}}), "nodes", "whole number");
  expect(sys({{"type", "nvswitch"}, {"gpus_per_node", 1e308}}), "gpus_per_node", "whole number");
  expect(sys({{"type", "nvswitch"}, {"nodes", 1000000000}}), "nodes", "262144");
  expect(sys({{"type", "ring"}, {"gpus", 100000000}}), "gpus", "whole number");
  expect(sys({{"type", "torus"}, {"dims", {100000, 100000, 100000}}}), "dims", "limit");
  expect(sys({{"type", "ring"}, {"gpus", 4}, {"link_latency", "1e30 s"}}), "latency", "implausible");
  nlohmann::json g = {{"type", "graph"}};
  g["vertices"] = {{{"name", "g0"}, {"kind", "gpu"}}, {{"name", "g1"}, {"kind", "gpu"}}};
  g["links"] = {{{"a", "g0"}, {"b", "g1"}, {"bandwidth", "10 GB/s"}}};
  EXPECT_EQ(msg(sys(g)), "no error");
  nlohmann::json bad = g;
  bad["links"][0]["bandwith"] = "1 GB/s";
  expect(sys(bad), "links[0]", "bandwith");
  bad = g;
  bad["vertices"][0]["kind"] = 7;
  expect(sys(bad), "vertices[0]", "kind");
  bad = g;
  bad["links"].push_back({{"a", "g0"}, {"b", "g0"}, {"bandwidth", "1 GB/s"}});
  expect(sys(bad), "g0 <-> g0", "two different vertices");
  bad = g;
  bad["links"][0]["latency"] = nlohmann::json::array();
  expect(sys(bad), "links[0]", "latency");
}

// The fuzz harnesses lower the size limits (fuzz/fuzz_system.cpp): the same checks then reject a
// smaller system with the same one-line error, and the defaults come back when restored.
TEST(Topology, LoweredSizeLimitsRejectWithTheSameError) {
  const SizeLimits saved = size_limits();
  nlohmann::json d = {{"name", "fz"}, {"topology", {{"type", "torus"}, {"dims", {8, 8, 8}}}}};
  EXPECT_EQ(system_from_json(d, "fz.json").topo.num_gpus(), 512);
  size_limits() = {256, 65536};
  try {
    system_from_json(d, "fz.json");
    ADD_FAILURE() << "512 GPUs accepted under a 256-GPU limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fz.json: topology: dims: 512 GPUs is beyond the simulator's limit of 256"), std::string::npos)
        << e.what();
  }
  size_limits() = saved;
  EXPECT_EQ(system_from_json(d, "fz.json").topo.num_gpus(), 512);
}

// A Topology moved (or returned into an existing System) keeps its graph: boost's adjacency_list
// has no move of its own, topo::Graph swaps it.
TEST(Topology, MovedTopologyKeepsItsGraph) {
  Topology t = build_topology({{"type", "ring"}, {"gpus", 8}}, "ring.json");
  const int v = t.num_vertices(), e = static_cast<int>(boost::num_edges(t.g)), len = t.route_ranks(0, 3).length;
  ASSERT_GT(len, 0);
  Topology moved;
  moved = std::move(t);
  EXPECT_EQ(moved.num_vertices(), v);
  EXPECT_EQ(static_cast<int>(boost::num_edges(moved.g)), e);
  EXPECT_EQ(moved.route_ranks(0, 3).length, len);
  Topology copy = moved;
  EXPECT_EQ(copy.num_vertices(), v);
  EXPECT_EQ(moved.num_vertices(), v);
}

}  // namespace topology_test
