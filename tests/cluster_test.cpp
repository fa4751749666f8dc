// The cluster executor: every rank's workload graph on the fabric (train and chakra-run front
// ends), symmetry reduction vs the full run, oversubscription, stragglers, faults, placement,
// and the bad inputs of those what-ifs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <unistd.h>
#include <fstream>

#include "sim/error.h"
#include "support/errors.h"
#include "workloads/cluster_jobs.h"
#include "workloads/graph.h"
#include "workloads/train.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace cluster_test {

using namespace orrery;
using orrery::syn::error_of;

namespace {

bool contains(const std::string& s, const std::string& sub) { return s.find(sub) != std::string::npos; }

// A small Llama-3-8B plan with DP traffic across nodes: 64 H100 in 8 DGX nodes.
TrainOptions small_plan() {
  TrainOptions o;
  o.model = "llama3-8b";
  o.system = "h100-cluster";
  o.nodes = 8;
  o.plan.tp = 4;
  o.plan.pp = 2;
  o.plan.dp = 8;
  o.plan.micro_batch = 1;
  o.plan.global_batch = 32;
  o.plan.seq = 2048;
  o.engine = "event";
  return o;
}

double run(TrainOptions o) { return run_training(o).iteration_time_s; }

std::string tmpfile(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("orrery_cluster_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}

}  // namespace

TEST(Cluster, TrainRunsEveryRankOnTheFabricByDefault) {
  TrainOptions o = small_plan();
  o.cluster.no_symmetry = true;
  TrainResult r = run_training(o);
  EXPECT_EQ(r.simulated_ranks, 64);
  EXPECT_FALSE(r.symmetric);
  EXPECT_TRUE(contains(r.comm_model, "fabric"));
  EXPECT_GT(r.iteration_time_s, 0);
  // TP, DP and PP traffic all went through the fabric as collectives and sends.
  std::set<std::string> groups;
  for (auto& c : r.exec.collectives) groups.insert(c.group);
  EXPECT_TRUE(groups.count("tp"));
  EXPECT_TRUE(groups.count("dp"));
  EXPECT_TRUE(groups.count("pp"));
  EXPECT_FALSE(r.exec.hottest_links.empty());
  // The breakdown of the critical rank sums to the iteration.
  double sum = r.compute_s + r.tp_exposed_s + r.ep_exposed_s + r.pp_exposed_s + r.bubble_s + r.dp_exposed_s + r.optimizer_s;
  EXPECT_NEAR(sum, r.iteration_time_s, 1e-6 * r.iteration_time_s + 1e-9);
}

TEST(Cluster, SymmetryAgreesWithTheFullRun) {
  for (int pp : {1, 2}) {
    TrainOptions o = small_plan();
    o.plan.pp = pp;
    o.plan.dp = 16 / pp;
    o.plan.global_batch = 64;
    TrainResult reduced = run_training(o);
    o.cluster.no_symmetry = true;
    TrainResult full = run_training(o);
    EXPECT_TRUE(reduced.symmetric);
    EXPECT_EQ(reduced.simulated_ranks, pp);
    EXPECT_EQ(full.simulated_ranks, 64);
    EXPECT_NEAR(reduced.iteration_time_s, full.iteration_time_s, 0.005 * full.iteration_time_s) << "pp " << pp;
  }
}

TEST(Cluster, OversubscribedFabricIsNeverFaster) {
  // Leaves of 8 ports: DP groups span leaves, so their traffic crosses the spine.
  double prev = 0;
  for (const char* ovs : {"oversubscription=1", "oversubscription=2", "oversubscription=4"}) {
    TrainOptions o = small_plan();
    o.sys_overrides = {"switch_radix=8", "tiers=3", ovs};
    double t = run(o);
    EXPECT_GE(t, prev * (1 - 1e-9)) << ovs;
    prev = t;
  }
  TrainOptions a = small_plan(), b = small_plan();
  a.sys_overrides = {"switch_radix=8", "tiers=3", "oversubscription=1"};
  b.sys_overrides = {"switch_radix=8", "tiers=3", "oversubscription=4"};
  EXPECT_GT(run(b), run(a));  // the spine is on the critical path of this plan
}

TEST(Cluster, StragglerSlowsTheSynchronousStepByItsComputeShare) {
  TrainOptions o = small_plan();
  TrainResult base = run_training(o);
  o.cluster.gpu_speed = {"5=0.8"};
  TrainResult slow = run_training(o);
  EXPECT_EQ(slow.simulated_ranks, 64);  // a straggler breaks symmetry: every rank simulated
  // Compute on the critical path runs 1/0.8 as long: the step grows by about 25% of it.
  double expect = 0.25 * base.compute_s;
  double got = slow.iteration_time_s - base.iteration_time_s;
  EXPECT_GT(got, 0.6 * expect);
  EXPECT_LT(got, 1.3 * expect);
}

TEST(Cluster, FailedNicReroutesTraffic) {
  TrainOptions o = small_plan();
  TrainResult base = run_training(o);
  o.cluster.fail = {"n0.nic0"};
  TrainResult failed = run_training(o);
  EXPECT_GE(failed.iteration_time_s, base.iteration_time_s * (1 - 1e-9));
  for (auto& l : failed.exec.hottest_links) EXPECT_FALSE(contains(l.name, "n0.nic0")) << l.name;
}

TEST(Cluster, PartitionedGroupIsOneError) {
  TrainOptions o = small_plan();
  for (int k = 0; k < 8; ++k) o.cluster.fail.push_back("n1.nic" + std::to_string(k));
  std::string e = error_of([&] { run_training(o); });
  EXPECT_TRUE(contains(e, "--fail")) << e;
  EXPECT_TRUE(contains(e, "partition")) << e;
  EXPECT_TRUE(contains(e, "rank")) << e;
}

// A jobs file's GPUs: a range, a comma list (its first index alone before) or both, as --ranks.
TEST(Cluster, JobGpusTakeRangesAndCommaLists) {
  auto jobs = [](const std::string& a, const std::string& b) {
    std::string train = R"("train": {"model": "llama3-8b", "tp": 4, "pp": 2, "dp": 1, "micro_batch": 1, "global_batch": 8, "seq": 1024})";
    return tmpfile("jobs.json", R"({"system": "dgx-h100", "nodes": 2, "jobs": [{"name": "a", "gpus": )" + a + ", " + train +
                                    R"(}, {"name": "b", "gpus": )" + b + ", " + train + "}]}");
  };
  ClusterRun list = run_cluster_jobs(jobs(R"("0,1,2,3,4,5,6,7")", R"("8-11,12-15")"));
  ASSERT_EQ(list.jobs.size(), 2u);
  EXPECT_EQ(list.jobs[0].gpus.size(), 8u);
  EXPECT_EQ(list.jobs[1].gpus, (std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15}));
  ClusterRun ranges = run_cluster_jobs(jobs(R"("0-7")", "[8, 9, 10, 11, 12, 13, 14, 15]"));
  EXPECT_EQ(list.jobs[0].time_s, ranges.jobs[0].time_s);
  EXPECT_TRUE(contains(error_of([&] { run_cluster_jobs(jobs(R"("0,x")", R"("8-15")")); }), "jobs[0].gpus: 'x' is not a GPU index"));
  // the plan's own checks name the jobs file's keys, not the command line's flags
  std::string e = error_of([&] { run_cluster_jobs(jobs(R"("0-15")", R"("8-15")")); });
  EXPECT_TRUE(contains(e, "jobs.json: jobs[0].train.tp/pp/dp/cp: TP*PP*DP*CP = 4*2*1*1 = 8: does not match the GPU count 16")) << e;
  EXPECT_FALSE(contains(e, "--tp")) << e;
}

TEST(Cluster, BadWhatIfsNameTheFlag) {
  TrainOptions o = small_plan();
  o.cluster.gpu_speed = {"3=0"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "--gpu-speed"));
  o.cluster.gpu_speed = {"3=-1"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "from 0.001 to 1000"));
  o.cluster.gpu_speed = {"99=0.5"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "outside the job"));
  o.cluster.gpu_speed.clear();
  o.cluster.fail = {"no-such-switch"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "no vertex named"));
  o.cluster.fail.clear();
  o.cluster.degrade = {"leaf0=0"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "--degrade"));
}

TEST(Cluster, RankMapErrorsNameTheFileAndEntry) {
  TrainOptions o = small_plan();
  std::string twice = "[";
  for (int r = 0; r < 64; ++r) twice += std::to_string(r == 1 ? 0 : r) + (r < 63 ? "," : "]");
  o.cluster.rank_map = tmpfile("twice.json", twice);
  std::string e = error_of([&] { run_training(o); });
  EXPECT_TRUE(contains(e, "ranks[1]")) << e;
  EXPECT_TRUE(contains(e, "already given to rank 0")) << e;
  std::string missing = "[";
  for (int r = 0; r < 64; ++r) missing += std::to_string(r == 5 ? 999 : r) + (r < 63 ? "," : "]");
  o.cluster.rank_map = tmpfile("missing.json", missing);
  e = error_of([&] { run_training(o); });
  EXPECT_TRUE(contains(e, "GPU 999 does not exist")) << e;
}

TEST(Cluster, RankMapMovesTrafficOffNvlink) {
  // Reversing the ranks inside each node keeps TP groups inside nodes: same step. Spreading a TP
  // group over nodes puts TP on the NICs: slower.
  TrainOptions o = small_plan();
  double base = run(o);
  std::string spread = "[";
  for (int r = 0; r < 64; ++r) {
    int node = r % 8, local = r / 8;  // rank r on node r%8: TP neighbours on different nodes
    spread += std::to_string(node * 8 + local) + (r < 63 ? "," : "]");
  }
  o.cluster.rank_map = tmpfile("spread.json", spread);
  EXPECT_GT(run(o), base * 1.05);
}

TEST(Cluster, AnalyticalCommIsAnExplicitEstimate) {
  TrainOptions o = small_plan();
  o.comm = "analytical";
  TrainResult r = run_training(o);
  EXPECT_EQ(r.simulated_ranks, 0);
  EXPECT_FALSE(contains(r.comm_model, "flows"));
  o.cluster.gpu_speed = {"0=0.5"};
  EXPECT_TRUE(contains(error_of([&] { run_training(o); }), "need --comm fabric"));
}

TEST(Cluster, WorkloadValidationFindsMismatchedCollectives) {
  wg::Workload w;
  w.world = 2;
  int g = w.group("dp", {0, 1});
  for (int r = 0; r < 2; ++r) {
    wg::RankGraph rg;
    rg.rank = r;
    wg::Node n;
    n.kind = wg::Kind::Collective;
    n.name = "all_reduce";
    n.group = g;
    n.bytes = r == 0 ? 1024 : 2048;
    rg.nodes.push_back(n);
    w.ranks.push_back(rg);
  }
  std::string e = error_of([&] { w.validate("jobs.json"); });
  EXPECT_TRUE(contains(e, "jobs.json")) << e;
  EXPECT_TRUE(contains(e, "does not match")) << e;
  w.ranks[1].nodes[0].bytes = 1024;
  w.ranks[1].nodes[0].deps = {0};  // itself: not an earlier node
  e = error_of([&] { w.validate("jobs.json"); });
  EXPECT_TRUE(contains(e, "does not come before it")) << e;
}

TEST(Cluster, ChakraRunWorksOnAnySystemWithoutNodes) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("orrery_cluster_chakra_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string bin = ORRERY_BINARY;
  std::string conv = bin + " convert --from-train --model llama3-8b --system ring8 --tp 2 --dp 4 --micro-batch 1 " +
                     "--global-batch 8 --seq 1024 --all-ranks -o " + dir.string() + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(conv.c_str()), 0);
  std::string cmd = bin + " chakra-run " + dir.string() + " --system ring8 --engine event 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  int rc = pclose(f);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(contains(out, "step time")) << out;
  EXPECT_TRUE(contains(out, "hottest links")) << out;
  fs::remove_all(dir);
}

}  // namespace cluster_test
