// Every capture replay on the cluster executor (workloads/bundle_graph.h): a single-rank replay is
// its one-rank graph run there, with host threads and streams on its timeline; multi-rank and
// --scale-dp: stragglers slow synchronous steps, --scale-dp collectives pay the fabric, a failed
// link reroutes, symmetry agrees with every replica.
#include <gtest/gtest.h>

#include <cstdio>

#include "sim/executor.h"
#include "support/errors.h"
#include "support/synthetic_bundle.h"
#include "workloads/bundle_graph.h"
#include "workloads/host_cost.h"
#include "workloads/json_io.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace replay_cluster_test {

using namespace orrery;
using orrery::syn::error_of;

namespace {
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }

ReplayOptions opts(const std::string& bundle, int dp = 1, const std::string& system = "dgx-h100", int nodes = 0) {
  ReplayOptions o;
  o.bundle = bundle;
  o.engine = "event";
  o.scale_dp = dp;
  o.system = system;
  o.nodes = nodes;
  return o;
}

// Two NCCL ranks, each doing 2 ms of work and then an all-reduce.
std::string two_nccl_ranks() {
  std::string dir = syn::temp_dir("cluster_nccl2");
  for (int r = 0; r < 2; ++r) syn::write_synthetic_bundle(dir, {syn::two_ms_of_work(), syn::nccl_allreduce(0)}, 0, {r, 2});
  return dir;
}

std::string run_cli(const std::string& args) {
  std::string cmd = std::string(ORRERY_BINARY) + " " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (f && fgets(buf, sizeof buf, f)) out += buf;
  if (f) pclose(f);
  return out;
}
}  // namespace

TEST(ReplayCluster, MultiRankBundleRunsOnTheExecutor) {
  ReplayResult r = replay_bundle(opts(src("tests/data/multirank_gloo4")));
  EXPECT_EQ(r.ranks, 4);
  EXPECT_EQ(r.simulated_ranks, 4);
  ASSERT_TRUE(r.cluster.is_object());
  ASSERT_EQ(r.rank_step_s.size(), 4u);
  long colls = 0;
  for (auto& c : r.cluster["collectives"]) colls += c["count"].get<long>();
  EXPECT_EQ(colls, 7 + 4);  // 7 all-reduces on the world group, one send/recv pair per rank
  EXPECT_GT(r.step_time_s, r.gpu_busy_s);  // gloo collectives hold the host, not the GPU
}

TEST(ReplayCluster, NcclCollectiveIsAGraphCollectiveNode) {
  std::string dir = two_nccl_ranks();
  std::vector<CapturedStep> steps = {load_bundle(dir, 0), load_bundle(dir, 1)};
  Accelerator hw = load_accelerator("h100");
  std::vector<std::unique_ptr<HostCostModel>> hc;
  std::vector<std::vector<DeviceWork>> work(2);
  std::vector<CapturedRank> ranks;
  for (int r = 0; r < 2; ++r) {
    hc.push_back(std::make_unique<HostCostModel>(steps[r], hw));
    for (auto& d : steps[r].device) {
      DeviceWork w;
      w.name = d.name;
      w.cat = classify_kernel(d.name, "", d.kind);
      w.standalone_s = d.trace_dur;
      work[r].push_back(w);
    }
    ranks.push_back({&steps[r], &work[r], hc[r].get(), 4e-6, 1e-6});
  }
  BundleGraph g = multi_rank_graph(ranks, dir);
  ASSERT_EQ(g.w.ranks.size(), 2u);
  int colls = 0, computes = 0;
  for (auto& n : g.w.ranks[1].nodes) {
    if (n.kind == wg::Kind::Collective) {
      ++colls;
      EXPECT_EQ(n.op, coll::Op::AllReduce);
      EXPECT_EQ(n.bytes, 4.0 * (64 << 20));
      EXPECT_EQ(g.w.groups[n.group].ranks, (std::vector<int>{0, 1}));
      EXPECT_EQ(n.stream, 7);  // the NCCL kernel's captured stream
      EXPECT_EQ(n.issue_delay_s, 4e-6);
    }
    if (n.kind == wg::Kind::Compute) {
      ++computes;
      EXPECT_NEAR(n.time_s, 2e-3, 1e-9);
    }
  }
  EXPECT_EQ(colls, 1);
  EXPECT_EQ(computes, 1);
}

TEST(ReplayCluster, StragglerSlowsTheSynchronousStep) {
  std::string dir = two_nccl_ranks();
  ReplayResult base = replay_bundle(opts(dir));
  ReplayOptions o = opts(dir);
  o.cluster.gpu_speed = {"1=0.5"};
  ReplayResult slow = replay_bundle(o);
  // Rank 1's 2 ms of work takes 4 ms; rank 0 waits for it in the all-reduce.
  EXPECT_NEAR(slow.step_time_s - base.step_time_s, 2e-3, 0.1e-3);
  ASSERT_EQ(slow.rank_step_s.size(), 2u);
  EXPECT_NEAR(slow.rank_step_s[0], slow.rank_step_s[1], 0.05e-3);
  double wait = 0;
  for (auto& c : slow.cluster["collectives"]) wait += c["wait_s"].get<double>();
  EXPECT_NEAR(wait, 2e-3, 0.1e-3);  // the skew wait is the straggler's extra time
  // On the real capture too: a straggler among the 4 gloo ranks slows the step.
  ReplayResult g0 = replay_bundle(opts(src("tests/data/multirank_gloo4")));
  ReplayOptions og = opts(src("tests/data/multirank_gloo4"));
  og.cluster.gpu_speed = {"2=0.5"};
  EXPECT_GT(replay_bundle(og).step_time_s, g0.step_time_s * 1.05);
}

TEST(ReplayCluster, ScaleDpPaysTheTwoLevelFabric) {
  std::string b = src("examples/bundles/gpt_a_ddp");
  ReplayResult eight = replay_bundle(opts(b, 8, "h100-cluster", 8));
  ReplayResult many = replay_bundle(opts(b, 64, "h100-cluster", 8));
  EXPECT_EQ(eight.simulated_ranks, 1);  // symmetric replicas: one simulated
  EXPECT_TRUE(many.symmetric);
  EXPECT_GT(eight.comm_time_s, 0);
  EXPECT_GT(many.comm_time_s, 1.3 * eight.comm_time_s);  // 8 ranks: NVLink only; 64: through the NICs
  EXPECT_GE(many.step_time_s, eight.step_time_s);
  bool nic = false;
  for (auto& l : many.cluster["hottest_links"]) nic |= l["type"].get<std::string>() != "nvlink";
  EXPECT_TRUE(nic) << many.cluster["hottest_links"].dump();
}

TEST(ReplayCluster, SymmetryAgreesWithEveryReplicaSimulated) {
  std::string b = src("examples/bundles/gpt_a_ddp");
  ReplayResult sym = replay_bundle(opts(b, 16, "h100-cluster", 2));
  ReplayOptions o = opts(b, 16, "h100-cluster", 2);
  o.cluster.no_symmetry = true;
  ReplayResult all = replay_bundle(o);
  EXPECT_EQ(all.simulated_ranks, 16);
  EXPECT_NEAR(all.step_time_s, sym.step_time_s, 0.005 * sym.step_time_s);
  EXPECT_NEAR(all.comm_time_s, sym.comm_time_s, 0.005 * sym.comm_time_s);
}

// --scale-dp replicas with nothing to communicate step as the single-rank replay does.
TEST(ReplayCluster, GraphReproducesTheSingleGpuReplay) {
  for (const char* name : {"mlp_fp32", "gpt_b", "llama_s"}) {
    std::string b = src(std::string("examples/bundles/") + name);
    ReplayResult single = replay_bundle(opts(b));
    ReplayResult graph = replay_bundle(opts(b, 2));
    EXPECT_EQ(graph.comm_time_s, 0) << name;
    EXPECT_NEAR(graph.step_time_s, single.step_time_s, 1e-6 * single.step_time_s) << name;
    EXPECT_NEAR(graph.gpu_busy_s, single.gpu_busy_s, 1e-6 * single.gpu_busy_s) << name;
    EXPECT_NEAR(graph.host_busy_s, single.host_busy_s, 1e-6 * single.host_busy_s) << name;
  }
}

TEST(ReplayCluster, FailedLinkReroutesTheGradientCollectives) {
  std::string b = src("examples/bundles/gpt_a_ddp");
  ReplayResult base = replay_bundle(opts(b, 16, "h100-cluster", 2));
  ReplayOptions o = opts(b, 16, "h100-cluster", 2);
  o.cluster.fail = {"n0.nic0"};
  ReplayResult failed = replay_bundle(o);
  EXPECT_GT(failed.comm_time_s, 1.05 * base.comm_time_s);  // the traffic goes around, on fewer links
  EXPECT_EQ(failed.simulated_ranks, 16);  // a failure breaks symmetry: every replica runs
  for (auto& l : failed.cluster["hottest_links"])
    EXPECT_EQ(l["link"].get<std::string>().find("n0.nic0"), std::string::npos) << l["link"];
  o.cluster.fail.clear();
  for (int k = 0; k < 8; ++k) o.cluster.fail.push_back("n1.nic" + std::to_string(k));
  std::string e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("--fail"), std::string::npos) << e;
  EXPECT_NE(e.find("partition"), std::string::npos) << e;
}

TEST(ReplayCluster, CliTakesTheClusterFlags) {
  std::string out = run_cli("replay " + src("tests/data/multirank_gloo4") + " --engine event --gpu-speed 0-1=0.8");
  EXPECT_NE(out.find("4 of 4 ranks simulated"), std::string::npos) << out;
  EXPECT_NE(out.find("collectives (simulated on the fabric"), std::string::npos) << out;
  out = run_cli("replay " + src("examples/bundles/mlp_fp32") + " --engine event --gpu-speed 0=0.5");
  EXPECT_NE(out.find("orrery replay: error: --gpu-speed"), std::string::npos) << out;
  EXPECT_NE(out.find("single-rank capture"), std::string::npos) << out;
}

// A rank whose own process-group table leaves it out of the group it calls a collective on is
// one error naming the bundle (the cross-rank check must not read a collective nobody reached).
TEST(ReplayCluster, CollectiveOnAGroupWithoutTheCallerIsAnError) {
  std::string dir = syn::temp_dir("cluster_pg_without_caller");
  for (int r = 0; r < 2; ++r) syn::write_synthetic_bundle(dir, {syn::nccl_allreduce(0)}, 0, {r, 2});
  nlohmann::json k = read_json_file(dir + "/kineto.1.json");
  k["distributedInfo"]["pg_config"][0]["ranks"] = {0};
  k["distributedInfo"]["pg_config"][0]["pg_size"] = 1;
  write_json_file(dir + "/kineto.1.json", k);
  std::string e = error_of([&] { replay_bundle(opts(dir)); });
  EXPECT_EQ(e.rfind(dir, 0), 0u) << e;
  EXPECT_NE(e.find("rank 1"), std::string::npos) << e;
}

// A single-rank replay is the capture's one-rank graph (single_rank_graph) on the cluster
// executor: built here by hand from the same costing and run on a full DGX node, it gives the
// same step, GPU and host busy time.
TEST(ReplayExecutor, SingleRankReplayIsItsOneRankGraphOnTheExecutor) {
  for (ReplayMode mode : {ReplayMode::Measured, ReplayMode::Roofline}) {
    ReplayOptions o = opts(src("examples/bundles/gpt_b"));
    o.mode = mode;
    ReplayResult r = replay_bundle(o);
    CapturedStep st = load_bundle(o.bundle);
    Accelerator hw = load_accelerator("h100");
    HostCostModel host(st, hw);
    std::vector<DeviceWork> work = cost_device_work(st, hw, o);
    CapturedRank cr{&st, &work, &host, hw.p("launch_latency"), hw.p("sync_cost")};
    BundleGraph g = single_rank_graph(cr);
    ASSERT_EQ(g.w.ranks.size(), 1u);
    std::size_t computes = 0, host_nodes = 0;
    for (auto& n : g.w.ranks[0].nodes) {
      computes += n.kind == wg::Kind::Compute;
      host_nodes += n.kind == wg::Kind::Delay && n.stream < 0;
    }
    EXPECT_EQ(computes, st.device.size());  // every kernel and copy, once
    EXPECT_GT(host_nodes, st.host.size());  // each host item, split at its runtime calls
    topo::System sys = coll::load_system("dgx-h100");
    std::unique_ptr<EventCore> core = make_engine("event");
    ExecResult ex = execute(g.w, sys, {{&hw, 1.0}}, *core);
    EXPECT_NEAR(ex.makespan_s, r.step_time_s, 1e-9 * r.step_time_s);
    EXPECT_NEAR(ex.ranks[0].gpu_busy_s, r.gpu_busy_s, 1e-9 * r.gpu_busy_s);
    EXPECT_NEAR(g.host_busy_s[0], r.host_busy_s, 1e-9 * r.host_busy_s);
    EXPECT_TRUE(r.system.empty());  // nothing crossed a fabric: not reported as a cluster run
    EXPECT_TRUE(r.cluster.is_null());
  }
}

// Runs on one node of the replayed GPU; --hw h200 makes the node's GPUs H200s (config.json).
TEST(ReplayExecutor, SingleRankConfigRecordsItsOneNodeSystem) {
  ReplayOptions o = opts(src("examples/bundles/mlp_fp32"));
  o.hw = "h200";
  ReplayResult r = replay_bundle(o);
  ASSERT_TRUE(r.config.contains("system")) << r.config.dump();
  EXPECT_EQ(r.config["system"]["accelerator"], "h200");
  EXPECT_EQ(r.config["system"]["topology"]["nodes"], 1);
}

// Two 220 MiB host-to-device copies on two streams share the 55 GB/s host link: together they
// take as long as back to back (each alone is link-bound).
TEST(ReplayExecutor, ConcurrentCopiesShareTheHostLink) {
  auto copy_op = [](int stream) {
    syn::SynOp op;
    op.name = "aten::copy_";
    syn::SynKernel k;
    k.cat = "gpu_memcpy";
    k.name = "Memcpy HtoD (Pinned -> Device)";
    k.stream = stream;
    k.bytes = 220 << 20;
    k.dur_us = k.bytes / 55e9 * 1e6;  // ~4.2 ms at the link's speed
    op.kernels = {k};
    return op;
  };
  std::string two = syn::temp_dir("copies_two_streams"), one = syn::temp_dir("copies_one");
  syn::write_synthetic_bundle(two, {copy_op(7), copy_op(8)});
  syn::write_synthetic_bundle(one, {copy_op(7)});
  double t1 = replay_bundle(opts(one)).step_time_s, t2 = replay_bundle(opts(two)).step_time_s;
  EXPECT_GT(t2, 1.9 * (220 << 20) / 55e9);
  EXPECT_GT(t2, 1.8 * t1);
}

namespace {
// Thread names ("process / thread") of a Perfetto timeline and how many slices each holds.
std::map<std::string, int> slices_by_track(const nlohmann::json& t) {
  std::map<int, std::string> proc;
  std::map<std::pair<int, int>, std::string> thread;
  for (auto& e : t["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name") proc[e["pid"]] = e["args"]["name"];
  for (auto& e : t["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name")
      thread[{e["pid"], e["tid"]}] = proc[e["pid"]] + " / " + e["args"]["name"].get<std::string>();
  std::map<std::string, int> n;
  for (auto& e : t["traceEvents"])
    if (e["ph"] == "X") n[thread[{e["pid"], e["tid"]}]]++;
  return n;
}
}  // namespace

// The single-rank timeline: a slice per host item on its captured thread's track, a slice per
// kernel on its stream, an arrow per launch from the host (at the launch) to the kernel (at its
// start), kernel args from the costing.
TEST(ReplayExecutor, SingleRankTimelineHasHostItemsStreamsAndLaunchArrows) {
  std::string dir = syn::temp_dir("exec_timeline");
  ReplayOptions o = opts(src("examples/bundles/gpt_a_ddp"));
  o.timeline_path = dir + "/t.json";
  ReplayResult r = replay_bundle(o);
  CapturedStep st = load_bundle(o.bundle);
  nlohmann::json t = read_json_file(o.timeline_path);
  int host = 0, gpu = 0;
  for (auto& [track, n] : slices_by_track(t)) {
    if (track.rfind("Host / host thread", 0) == 0) host += n;
    if (track.rfind("GPU 0 (h100) / stream ", 0) == 0) gpu += n;
  }
  EXPECT_EQ(static_cast<std::size_t>(host), st.host.size());
  EXPECT_EQ(static_cast<std::size_t>(gpu), st.device.size());
  std::map<std::int64_t, double> start;
  int arrows = 0;
  for (auto& e : t["traceEvents"]) {
    if (e["ph"] == "s") start[e["id"]] = e["ts"];
    if (e["ph"] == "f") {
      ++arrows;
      EXPECT_LE(start.at(e["id"]), e["ts"].get<double>());  // a kernel starts after its launch
    }
    if (e["ph"] == "X" && e["cat"] == "gemm") {
      EXPECT_TRUE(e["args"].contains("op")) << e.dump();
      EXPECT_TRUE(e["args"].contains("measured_us")) << e.dump();
    }
  }
  EXPECT_EQ(static_cast<std::size_t>(arrows), st.device.size());
  double last_end = 0;  // the last slice ends with the step
  for (auto& e : t["traceEvents"])
    if (e["ph"] == "X") last_end = std::max(last_end, e["ts"].get<double>() + e["dur"].get<double>());
  EXPECT_NEAR(last_end * 1e-6, r.step_time_s, 1e-9);
}

// Multi-rank: host and stream tracks for every rank.
TEST(ReplayExecutor, MultiRankTimelineHasHostAndStreamTracksPerRank) {
  std::string dir = syn::temp_dir("exec_timeline_mr");
  ReplayOptions o = opts(src("tests/data/multirank_gloo4"));
  o.timeline_path = dir + "/t.json";
  replay_bundle(o);
  auto n = slices_by_track(read_json_file(o.timeline_path));
  for (int r = 0; r < 4; ++r) {
    int host = 0, gpu = 0;
    for (auto& [track, k] : n) {
      if (track.rfind("Host (rank " + std::to_string(r) + ") / host", 0) == 0) host += k;
      if (track.rfind("GPU " + std::to_string(r) + " (h100) / stream", 0) == 0) gpu += k;
    }
    EXPECT_GT(host, 0) << r;
    EXPECT_GT(gpu, 0) << r;
  }
}

// Both engines run the same graph to the same step.
TEST(ReplayExecutor, SystemCAndEventEnginesAgree) {
  ReplayOptions o = opts(src("examples/bundles/mlp_fp32"));
  ReplayResult ev = replay_bundle(o);
  o.engine = "systemc";
  ReplayResult sc = replay_bundle(o);
  EXPECT_EQ(sc.step_time_s, ev.step_time_s);
  EXPECT_EQ(sc.gpu_busy_s, ev.gpu_busy_s);
}

}  // namespace replay_cluster_test
