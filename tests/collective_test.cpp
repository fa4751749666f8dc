#include <gtest/gtest.h>

#include <cmath>

#include "sim/engine.h"
#include "sim/error.h"
#include "workloads/collective.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace collective_test {

using namespace orrery;
using namespace orrery::coll;

namespace {
// Published figures (NVIDIA/nccl-tests #290 and #212, NVIDIA GTC S62129; copied from the project's
// reference data): DGX H100, 8 GPUs, large messages.
constexpr double kNvlsAllReduceBusbw = 480e9;
constexpr double kRingBusbw = 370e9;
constexpr double GiB = 1073741824.0;

CollectiveSpec spec(Op op, double bytes, Algo a = Algo::Auto, Proto p = Proto::Auto) {
  CollectiveSpec s;
  s.op = op;
  s.bytes = bytes;
  s.algo = a;
  s.proto = p;
  return s;
}
}  // namespace

TEST(Collective, RingAllReduceOnIdealRingIsTextbook) {
  System sys = topo::load_system("ring8");  // 8 GPUs, 50 GB/s per direction, 1 us links
  const int n = 8;
  const double B = 50e9, S = GiB;
  for (bool detailed : {false, true}) {
    CollectiveSpec s = spec(Op::AllReduce, S, Algo::Ring, Proto::Simple);
    s.detailed = detailed;
    CollectiveResult r = simulate_collective(sys, s);
    double textbook = 2.0 * (n - 1) / n * S / B;
    // Latency terms: NCCL's Ring/Simple base + one per-step latency for each of the 2(n-1) steps.
    double lat = 8.4e-6 + 2 * (n - 1) * 14e-6;
    EXPECT_NEAR(r.latency_s, lat, 1e-12);
    EXPECT_NEAR(r.time_s, textbook + lat, 2e-12 * n) << "detailed=" << detailed;
    EXPECT_NEAR(r.busbw, S / r.time_s * 2.0 * (n - 1) / n, 1);
  }
}

TEST(Collective, SlowLinksRaiseTheLatencyFloor) {
  // 50 us per link: the physical hop latency exceeds NCCL's per-step constant.
  nlohmann::json j = {{"name", "slow"}, {"topology", {{"type", "ring"}, {"gpus", 8}, {"link_latency", "50 us"}}}};
  System sys = topo::system_from_json(j, "test");
  for (bool detailed : {false, true}) {
    CollectiveSpec s = spec(Op::AllReduce, 1 << 20, Algo::Ring, Proto::Simple);
    s.detailed = detailed;
    CollectiveResult r = simulate_collective(sys, s);
    EXPECT_NEAR(r.time_s, 14 * 50e-6 + 2.0 * 7 / 8 * (1 << 20) / 50e9, 1e-9) << detailed;
  }
}

TEST(Collective, DetailedAndPipelinedFormsAgree) {
  std::vector<std::pair<std::string, int>> systems = {{"ring8", 0}, {"dgx-h100", 0}, {"h100-cluster", 2}, {"switch16", 0}};
  for (auto& [name, nodes] : systems) {
    System sys = topo::load_system(name, nodes);
    for (Op op : {Op::AllReduce, Op::AllGather, Op::ReduceScatter}) {
      CollectiveSpec s = spec(op, 64 << 20, Algo::Ring, Proto::Simple);
      CollectiveResult agg = simulate_collective(sys, s);
      s.detailed = true;
      CollectiveResult det = simulate_collective(sys, s);
      // Step-by-step rounds each step up to the 1 ps time base: allow 1 ps per step.
      EXPECT_NEAR(det.time_s, agg.time_s, agg.time_s * 1e-9 + 1e-12 * 2 * sys.topo.num_gpus()) << name << " " << op_name(op);
      EXPECT_GT(det.events, agg.events);
      EXPECT_GT(det.flows, agg.flows);
    }
  }
  System sys = topo::load_system("switch16");
  for (Algo a : {Algo::HalvingDoubling, Algo::Direct}) {
    CollectiveSpec s = spec(Op::AllReduce, 16 << 20, a, Proto::Simple);
    double agg = simulate_collective(sys, s).time_s;
    s.detailed = true;
    EXPECT_NEAR(simulate_collective(sys, s).time_s, agg, agg * 1e-9) << algo_name(a);
  }
}

TEST(Collective, DgxH100LargeMessagesMatchPublished) {
  System sys = topo::load_system("dgx-h100");
  for (double S : {GiB, 2 * GiB, 8 * GiB}) {
    CollectiveResult nv = simulate_collective(sys, spec(Op::AllReduce, S));
    EXPECT_EQ(nv.algorithm, Algo::NVLS);
    EXPECT_NEAR(nv.busbw / kNvlsAllReduceBusbw, 1.0, 0.05) << S;
    for (Op op : {Op::AllReduce, Op::AllGather, Op::ReduceScatter}) {
      CollectiveResult r = simulate_collective(sys, spec(op, S, Algo::Ring));
      EXPECT_EQ(r.algorithm, Algo::Ring);
      EXPECT_EQ(r.protocol, Proto::Simple);
      EXPECT_NEAR(r.busbw / kRingBusbw, 1.0, 0.05) << op_name(op) << " " << S;
    }
  }
}

TEST(Collective, SmallMessagesCostTensOfMicroseconds) {
  System sys = topo::load_system("dgx-h100");
  for (Op op : {Op::AllReduce, Op::AllGather, Op::ReduceScatter}) {
    CollectiveResult r = simulate_collective(sys, spec(op, 64));
    EXPECT_GT(r.time_s, 5e-6) << op_name(op);
    EXPECT_LT(r.time_s, 60e-6) << op_name(op);
    EXPECT_NE(r.protocol, Proto::Simple);  // LL/LL128 win at small sizes, as in NCCL
  }
}

TEST(Collective, SimulationMatchesTunerWhenUncontended) {
  System sys = topo::load_system("dgx-h100");
  for (double S : {1e3, 1e6, 1e9})
    for (Op op : {Op::AllReduce, Op::AllGather, Op::ReduceScatter, Op::Broadcast, Op::Reduce, Op::AllToAll, Op::SendRecv}) {
      CollectiveSpec s = spec(op, S);
      Choice c;
      double est = collective_time_estimate(sys, s, &c);
      CollectiveResult r = simulate_collective(sys, s);
      EXPECT_EQ(r.algorithm, c.algo);
      EXPECT_NEAR(r.time_s, est, est * 1e-6 + 2e-12) << op_name(op) << " " << S;
    }
}

TEST(Collective, MultiNodeSimulationMatchesTunerOnANonBlockingFatTree) {
  // Rings, double binary trees and NVLS+tree place their flows so that a non-blocking rail-optimized
  // fat tree never binds below the tuner's bandwidth: simulation == closed form.
  for (int nodes : {2, 3, 8, 13}) {
    System sys = topo::load_system("h100-cluster", nodes);
    for (Algo a : {Algo::Ring, Algo::Tree, Algo::NVLSTree}) {
      CollectiveSpec s = spec(Op::AllReduce, GiB, a, Proto::Simple);
      double est = collective_time_estimate(sys, s);
      EXPECT_NEAR(simulate_collective(sys, s).time_s, est, est * 1e-6) << nodes << " " << algo_name(a);
    }
  }
}

TEST(Collective, EveryOpAndAlgorithmRuns) {
  System one = topo::load_system("dgx-h100");
  System multi = topo::load_system("h100-cluster", 4);
  System tor = topo::load_system("tpu-torus-4x4x4");
  multi.collective["collnet"] = 1;
  struct Case {
    const System* sys;
    Op op;
    Algo a;
  };
  std::vector<Case> cases = {
      {&one, Op::AllReduce, Algo::Ring},        {&one, Op::AllReduce, Algo::Tree},
      {&one, Op::AllReduce, Algo::NVLS},        {&one, Op::AllGather, Algo::NVLS},
      {&one, Op::ReduceScatter, Algo::NVLS},    {&one, Op::AllReduce, Algo::Direct},
      {&one, Op::AllReduce, Algo::HalvingDoubling}, {&one, Op::AllToAll, Algo::Direct},
      {&one, Op::Broadcast, Algo::Ring},        {&one, Op::Reduce, Algo::Ring},
      {&one, Op::SendRecv, Algo::Direct},       {&one, Op::AllGather, Algo::PAT},
      {&multi, Op::AllReduce, Algo::NVLSTree},  {&multi, Op::AllReduce, Algo::CollNet},
      {&multi, Op::AllReduce, Algo::Tree},      {&multi, Op::AllReduce, Algo::Ring},
      {&multi, Op::ReduceScatter, Algo::PAT},   {&multi, Op::AllToAll, Algo::Direct},
      {&multi, Op::AllReduce, Algo::HalvingDoubling}, {&tor, Op::AllReduce, Algo::Ring},
      {&tor, Op::AllGather, Algo::Auto},
  };
  for (auto& c : cases) {
    CollectiveResult r = simulate_collective(*c.sys, spec(c.op, 32 << 20, c.a));
    EXPECT_TRUE(std::isfinite(r.time_s) && r.time_s > 0) << c.sys->name << " " << op_name(c.op) << " " << algo_name(c.a);
    if (c.a != Algo::Auto) {
      EXPECT_EQ(r.algorithm, c.a);
    }
  }
  // Multi-node auto uses the hierarchical NVLS + tree algorithm for large all_reduce.
  EXPECT_EQ(simulate_collective(topo::load_system("h100-cluster", 4), spec(Op::AllReduce, GiB)).algorithm, Algo::NVLSTree);
}

TEST(Collective, GroupsOfRanks) {
  System sys = topo::load_system("h100-cluster", 2);
  CollectiveSpec s = spec(Op::AllReduce, 256 << 20, Algo::Ring, Proto::Simple);
  s.ranks = {0, 1, 2, 3};
  CollectiveResult half = simulate_collective(sys, s);
  EXPECT_EQ(half.ranks, 4);
  s.ranks = {0, 8};  // one GPU on each node: crosses the network at 50 GB/s
  CollectiveResult two = simulate_collective(sys, s);
  EXPECT_NEAR(two.busbw, 50e9, 50e9 * 0.05);
  EXPECT_GT(half.busbw, two.busbw * 5);
}

TEST(Collective, OversubscriptionAndRailPlacementChangeTheResult) {
  auto run = [](double oversub, int rail, Algo a) {
    nlohmann::json j = {{"name", "t"},
                        {"topology", {{"type", "nvswitch"}, {"nodes", 8}, {"switch_radix", 8}, {"oversubscription", oversub}, {"rail_optimized", rail}}}};
    System sys = topo::system_from_json(j, "test");
    return simulate_collective(sys, spec(Op::AllReduce, GiB, a, Proto::Simple)).time_s;
  };
  for (Algo a : {Algo::Ring, Algo::NVLSTree}) {
    double rail_full = run(1, 1, a), rail_over = run(2, 1, a), mixed_over = run(2, 0, a);
    EXPECT_GE(rail_over, rail_full * (1 - 1e-12)) << algo_name(a);
    EXPECT_GT(mixed_over, rail_over * 1.2) << algo_name(a);  // non-rail leaves push all traffic up
  }
}

TEST(Collective, ConcurrentCollectivesShareTheFabric) {
  System sys = topo::load_system("dgx-h100");
  CollectiveSpec s = spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple);
  double alone = simulate_collective(sys, s).time_s;
  EventCore core;
  Fabric f(sys, core);
  double t1 = 0, t2 = 0;
  launch_collective(f, s, [&](const CollectiveResult& r) { t1 = r.time_s; });
  launch_collective(f, s, [&](const CollectiveResult& r) { t2 = r.time_s; });
  core.run();
  // Two rings on the same GPUs: physics gives each 225 GB/s of NVLink (< the 370 GB/s cap).
  EXPECT_GT(t1, alone * 1.4);
  EXPECT_NEAR(t1, t2, t1 * 1e-9);
}

TEST(Collective, SystemCEngineGivesTheSameResult) {
  System sys = topo::load_system("h100-cluster", 2);
  CollectiveSpec s = spec(Op::AllReduce, 100 << 20);
  double plain = simulate_collective(sys, s).time_s;
  auto sc = make_engine("systemc");
  EXPECT_DOUBLE_EQ(simulate_collective(sys, s, sc.get()).time_s, plain);
}

TEST(Collective, EstimateScalesTo16kGpus) {
  System sys = topo::load_system("h100-cluster", 2048);
  EXPECT_EQ(sys.topo.num_gpus(), 16384);
  Choice c;
  double t = collective_time_estimate(sys, spec(Op::AllReduce, GiB), &c);
  EXPECT_TRUE(std::isfinite(t) && t > 0);
  EXPECT_GT(collective_time_estimate(sys, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)), t);
}

TEST(Collective, BusbwFactorsAsNcclTests) {
  EXPECT_DOUBLE_EQ(busbw_factor(Op::AllReduce, 8), 1.75);
  EXPECT_DOUBLE_EQ(busbw_factor(Op::AllGather, 8), 0.875);
  EXPECT_DOUBLE_EQ(busbw_factor(Op::ReduceScatter, 8), 0.875);
  EXPECT_DOUBLE_EQ(busbw_factor(Op::AllToAll, 8), 0.875);
  EXPECT_DOUBLE_EQ(busbw_factor(Op::Broadcast, 8), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor(Op::SendRecv, 8), 1.0);
}

TEST(Collective, BadInputIsOneLineError) {
  System sys = topo::load_system("dgx-h100");
  auto msg = [&](CollectiveSpec s) {
    try {
      simulate_collective(sys, s);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CollectiveSpec s = spec(Op::AllReduce, 1024);
  s.ranks = {0, 1, 1};
  EXPECT_NE(msg(s).find("rank 1: appears twice"), std::string::npos) << msg(s);
  s.ranks = {0, 8};
  EXPECT_NE(msg(s).find("rank 8: does not exist"), std::string::npos) << msg(s);
  s.ranks = {0, 1, 2};
  s.algo = Algo::HalvingDoubling;
  EXPECT_NE(msg(s).find("power-of-two"), std::string::npos) << msg(s);
  s = spec(Op::AllReduce, 1024, Algo::NVLS, Proto::LL);
  EXPECT_NE(msg(s).find("not available"), std::string::npos) << msg(s);
  EXPECT_THROW(parse_op("allsum"), Error);
  EXPECT_THROW(parse_algo("butterfly"), Error);
  EXPECT_THROW(parse_proto("ll64"), Error);
  s = spec(Op::AllReduce, 1024);
  s.ranks = {0, 1, 1};
  EXPECT_EQ(msg(s).find('\n'), std::string::npos);
}

TEST(Collective, CliPrintsNcclTestsTable) {
  std::string cmd = std::string(ORRERY_BINARY) + " collective --op all_reduce --system dgx-h100 -b 1G -e 1G --engine event";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NE(out.find("busbw"), std::string::npos);
  EXPECT_NE(out.find("1073741824"), std::string::npos);
  EXPECT_NE(out.find("NVLS"), std::string::npos);
  std::string bad = std::string(ORRERY_BINARY) + " collective --system dgx-h100 --ranks 0,1,1 -b 8 -e 8 2>&1";
  p = popen(bad.c_str(), "r");
  out.clear();
  while (fgets(buf, sizeof buf, p)) out += buf;
  EXPECT_NE(pclose(p), 0);
  EXPECT_NE(out.find("appears twice"), std::string::npos) << out;
}

TEST(Collective, CliOutputIsDeterministic) {
  auto run = [](const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    if (p) pclose(p);
    return out;
  };
  std::string cmd = std::string(ORRERY_BINARY) + " collective --op all_gather --system h100-cluster --nodes 4 -b 8 -e 64M -f 4";
  std::string a = run(cmd);
  EXPECT_NE(a.find("Avg bus bandwidth"), std::string::npos);
  EXPECT_EQ(run(cmd), a);
}

TEST(Collective, NoNvlsWithoutInSwitchReduction) {
  // DGX A100's NVSwitch (gen2) cannot reduce in the switch: auto must not pick NVLS there.
  System a100 = topo::load_system("dgx-a100");
  coll::CollectiveSpec spec;
  spec.op = coll::Op::AllReduce;
  spec.bytes = 1 << 30;
  coll::Choice c = coll::choose(a100, spec);
  EXPECT_NE(c.algo, coll::Algo::NVLS);
  EXPECT_NE(coll::choose(topo::load_system("dgx-h100"), spec).algo, coll::Algo::Ring);  // H100: NVLS
  spec.algo = coll::Algo::NVLS;
  EXPECT_THROW(coll::simulate_collective(a100, spec), Error);
}

// --sys-set what-ifs: a faster NVLink lane moves ring and NVLS collectives (the tuner's usable
// NVLink bandwidth follows the topology unless the system fixes nvlink_bw), the NIC moves
// inter-node traffic, and a bad override is one error naming the flag or the file and field.
TEST(Collective, SystemOverridesMoveTheCollectives) {
  System base = topo::load_system("dgx-h100");
  System fast = topo::load_system("dgx-h100", 0, {"nvlink_bandwidth=50GB/s"});
  double b = simulate_collective(base, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)).busbw;
  double f = simulate_collective(fast, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)).busbw;
  EXPECT_NEAR(f / b, 2.0, 0.1);
  // An explicit collective.nvlink_bw wins over the derived one.
  System pinned = topo::load_system("dgx-h100", 0, {"nvlink_bandwidth=50GB/s", "collective.nvlink_bw=20.6GB/s"});
  EXPECT_NEAR(simulate_collective(pinned, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)).busbw / b, 1.0, 0.01);
  // collective.* lands in the tuner section: NVLS off leaves ring for all_reduce.
  System no_nvls = topo::load_system("dgx-h100", 0, {"collective.nvls=0"});
  Choice c;
  collective_time_estimate(no_nvls, spec(Op::AllReduce, GiB), &c);
  EXPECT_NE(c.algo, Algo::NVLS);
  // Inter-node: half the NIC bandwidth, slower 16-GPU all_reduce.
  System two = topo::load_system("h100-cluster", 2), slow = topo::load_system("h100-cluster", 2, {"nic_bandwidth=200Gb/s"});
  EXPECT_GT(collective_time_estimate(slow, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)),
            1.5 * collective_time_estimate(two, spec(Op::AllReduce, GiB, Algo::Ring, Proto::Simple)));
  auto err = [](const std::vector<std::string>& o) {
    try {
      System s = topo::load_system("dgx-h100", 0, o);
      collective_time_estimate(s, spec(Op::AllReduce, GiB));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(err({"nvlink_bandwidth"}).find("--sys-set"), std::string::npos);
  EXPECT_NE(err({"nvlink_bandwidth=-5GB/s"}).find("--sys-set: nvlink_bandwidth"), std::string::npos);  // the flag, not the file
  EXPECT_NE(err({"nvlink_bandwith=5GB/s"}).find("nvlink_bandwith: unknown parameter"), std::string::npos);
}

}  // namespace collective_test
