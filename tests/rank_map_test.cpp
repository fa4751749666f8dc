// Multi-rank replay of rank-mapped (emulated) bundles: replicas share the parsed trace and the
// graph nodes of the distinct rank they copy (workloads/bundle_graph.h RankMap, wg::RankGraph::
// copy_of). The shared replay equals the replay of the same bundle with every rank's trace
// written out; symmetry (one rank per class) agrees with every rank simulated.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "sim/engine.h"
#include "sim/executor.h"
#include "support/errors.h"
#include "topology/topology.h"
#include "workloads/bundle_graph.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace rank_map_test {

using namespace orrery;
using orrery::syn::error_of;
namespace fs = std::filesystem;

namespace {

const std::string kFixture = std::string(ORRERY_SOURCE_DIR) + "/tests/data/emulate/tp_pp8_emulated";

fs::path copy_fixture(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("orrery_rank_map_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  for (auto& e : fs::directory_iterator(kFixture)) fs::copy_file(e.path(), d / e.path().filename());
  return d;
}

ReplayResult replay(const fs::path& b, bool symmetry) {
  ReplayOptions o;
  o.bundle = b.string();
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  o.system = "dgx-h100";
  o.cluster.no_symmetry = !symmetry;
  return replay_bundle(o);
}

// Every rank's trace written out by the emulator's own expansion (Python, no PyTorch needed).
bool expand(const fs::path& d) {
  std::string cmd = "cd " + std::string(ORRERY_SOURCE_DIR) + "/workloads/emulate && python3 -m orrery_emulate.expand " +
                    d.string() + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

}  // namespace

TEST(RankMap, SharedTraceReplayEqualsEveryRankWrittenOut) {
  fs::path shared = copy_fixture("shared"), full = copy_fixture("full");
  if (!expand(full)) GTEST_SKIP() << "python3 not available";
  ASSERT_TRUE(fs::exists(full / "et.7.json"));
  ReplayResult a = replay(shared, false), b = replay(full, false);
  EXPECT_EQ(a.ranks, 8);
  EXPECT_EQ(a.simulated_ranks, 8);
  EXPECT_EQ(b.simulated_ranks, 8);
  EXPECT_FALSE(a.symmetric);
  EXPECT_EQ(a.step_time_s, b.step_time_s);
  EXPECT_EQ(a.rank_step_s, b.rank_step_s);
  EXPECT_EQ(a.host_items, b.host_items);
  EXPECT_EQ(a.events, b.events);
  // Per-collective breakdown, hottest links and per-rank class times: identical.
  EXPECT_EQ(a.cluster.dump(), b.cluster.dump());
  // The two pipeline stages differ (the last one computes the head and the loss).
  EXPECT_NE(a.rank_step_s[0], 0.0);
  EXPECT_GT(a.cluster["collectives"].size(), 2u);
  // A replica on other hardware gets a graph of its own, its groups renamed by the rank map.
  ReplayOptions o;
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  o.cluster.gpu_set = {"5:launch_latency=0.0001"};
  o.bundle = shared.string();
  ReplayResult c = replay_bundle(o);
  o.bundle = full.string();
  ReplayResult d = replay_bundle(o);
  EXPECT_EQ(c.rank_step_s, d.rank_step_s);
  EXPECT_NE(c.rank_step_s[5], a.rank_step_s[5]);
  EXPECT_EQ(c.cluster.dump(), d.cluster.dump());
  fs::remove_all(shared);
  fs::remove_all(full);
}

TEST(RankMap, SymmetryAgreesWithEveryRankSimulated) {
  fs::path d = copy_fixture("sym");
  ReplayResult sym = replay(d, true), all = replay(d, false);
  EXPECT_TRUE(sym.symmetric);
  EXPECT_EQ(sym.simulated_ranks, 2);  // ranks 0 and 4, one per pipeline stage
  EXPECT_EQ(all.simulated_ranks, 8);
  EXPECT_NEAR(sym.step_time_s, all.step_time_s, 0.005 * all.step_time_s);
  ASSERT_EQ(sym.rank_step_s.size(), 2u);
  EXPECT_NEAR(sym.rank_step_s[1], all.rank_step_s[4], 0.005 * all.rank_step_s[4]);
  // A straggler breaks the symmetry: every rank is simulated and the step slows down.
  ReplayOptions o;
  o.bundle = d.string();
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  o.cluster.gpu_speed = {"5=0.1"};
  ReplayResult slow = replay_bundle(o);
  EXPECT_EQ(slow.simulated_ranks, 8);
  EXPECT_GT(slow.step_time_s, all.step_time_s);
  fs::remove_all(d);
}

TEST(RankMap, BadRankMapIsOneLineNamingTheField) {
  fs::path d = copy_fixture("bad");
  nlohmann::json j = nlohmann::json::parse(std::ifstream(d / "ranks.json"));
  j["rank_map"]["3"] = {{"rank", 0}, {"offset", 2}};
  std::ofstream(d / "ranks.json") << j.dump();
  std::string e = error_of([&] { replay(d, true); });
  EXPECT_TRUE(contains(e, "ranks.json: rank_map.3:")) << e;
  j["rank_map"]["3"] = {{"rank", 0}, {"offset", 3}};
  j["rank_map"]["5"] = {{"rank", 1}, {"offset", 4}};  // a distinct rank the bundle has no trace of
  std::ofstream(d / "ranks.json") << j.dump();
  e = error_of([&] { replay(d, true); });
  EXPECT_TRUE(contains(e, "ranks.json: rank_map")) << e;
  fs::remove_all(d);
}

// The executor runs a replica (shared nodes, its own groups) exactly as the same rank with the
// nodes copied out (wg::Workload::materialized).
TEST(RankMap, ReplicaRunsAsItsMaterializedGraph) {
  auto workload = [](bool share) {
    wg::Workload w;
    w.world = 4;
    int g01 = w.group("tp", {0, 1}), g23 = w.group("tp", {2, 3});
    for (int r = 0; r < 4; ++r) {
      wg::RankGraph rg;
      rg.rank = r;
      if (share && r > 0) {
        rg.copy_of = 0;
        if (r >= 2) rg.group_map = {{g01, g23}};
      } else {
        for (int k = 0; k < 3; ++k) {
          wg::Node c;
          c.kind = wg::Kind::Compute;
          c.name = "gemm";
          c.cls = "gemm";
          c.time_s = 1e-3 * (k + 1);
          rg.nodes.push_back(c);
          wg::Node n;
          n.kind = wg::Kind::Collective;
          n.name = "all_reduce";
          n.cls = "tp";
          n.stream = 1;
          n.group = g01;
          n.bytes = 64e6;
          n.deps = {static_cast<std::int32_t>(rg.nodes.size() - 1)};
          rg.nodes.push_back(n);
        }
      }
      w.ranks.push_back(rg);
    }
    if (!share)
      for (int r = 2; r < 4; ++r)
        for (auto& n : w.ranks[static_cast<std::size_t>(r)].nodes)
          if (n.kind == wg::Kind::Collective) n.group = g23;
    w.validate("test");
    return w;
  };
  wg::Workload shared = workload(true), copied = workload(false);
  EXPECT_TRUE(shared.ranks[3].nodes.empty());
  EXPECT_EQ(shared.node_count(), copied.node_count());
  EXPECT_EQ(shared.materialized(3).nodes.back().group, 1);
  topo::System sys = topo::load_system("dgx-h100");
  Accelerator hw = load_accelerator(sys.accelerator);
  std::vector<RankHardware> rh(4, RankHardware{&hw, 1.0});
  EventCore c1, c2;
  ExecResult a = execute(shared, sys, rh, c1), b = execute(copied, sys, rh, c2);
  EXPECT_GT(a.makespan_s, 6e-3);
  EXPECT_EQ(a.makespan_s, b.makespan_s);
  EXPECT_EQ(a.to_json().dump(), b.to_json().dump());
}

}  // namespace rank_map_test
