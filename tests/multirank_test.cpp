// Multi-rank replay (collectives matched across ranks, run on the fabric) and --scale-dp.
#include <gtest/gtest.h>

#include <filesystem>

#include "sim/error.h"
#include "support/errors.h"
#include "support/synthetic_bundle.h"
#include "workloads/pytorch_trace.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace multirank_test {

using namespace orrery;
using orrery::syn::error_of;
namespace fs = std::filesystem;

namespace {
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }

ReplayResult run(const std::string& bundle, int dp = 1, const std::string& system = "dgx-h100", int nodes = 0) {
  ReplayOptions o;
  o.bundle = bundle;
  o.engine = "event";
  o.scale_dp = dp;
  o.system = system;
  o.nodes = nodes;
  return replay_bundle(o);
}

syn::SynOp allreduce(std::vector<std::int64_t> shape) {
  syn::SynOp op;
  op.name = "c10d::allreduce_";
  op.shape = std::move(shape);
  op.kernels = {};
  return op;
}
}  // namespace

TEST(MultiRank, Gloo4RanksMatchEveryCollectiveAndFinish) {
  std::string b = src("tests/data/multirank_gloo4");
  EXPECT_EQ(bundle_ranks(b), (std::vector<int>{0, 1, 2, 3}));
  for (int r = 0; r < 4; ++r) {
    CapturedStep st = load_bundle(b, r);
    size_t ar = 0, p2p = 0;
    for (auto& c : st.collectives) {
      ar += c.name == "all_reduce";
      p2p += c.name == "send" || c.name == "recv";
    }
    EXPECT_EQ(ar, 7u) << "rank " << r;
    EXPECT_EQ(p2p, 2u) << "rank " << r;
    EXPECT_EQ(st.process_groups.at("0").size(), 4u);
  }
  ReplayResult res = run(b);
  EXPECT_EQ(res.ranks, 4);
  ASSERT_EQ(res.rank_step_s.size(), 4u);
  for (double t : res.rank_step_s) EXPECT_GT(t, 0);
  EXPECT_GT(res.step_time_s, res.gpu_busy_s);  // CPU collectives hold the host
}

TEST(MultiRank, CollectiveThatSomeRanksNeverReachIsReported) {
  std::string dir = syn::temp_dir("missing_rank");
  // Rank 0 all-reduces twice, rank 1 only once.
  syn::write_synthetic_bundle(dir, {allreduce({1024}), allreduce({1024})}, 0, {0, 2});
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {1, 2});
  std::string e = error_of([&] { run(dir); });
  EXPECT_NE(e.find("never"), std::string::npos) << e;
  EXPECT_NE(e.find("all_reduce #1"), std::string::npos) << e;
  EXPECT_NE(e.find("ranks 0 reached it, ranks 1 never did"), std::string::npos) << e;
}

TEST(MultiRank, MismatchedCollectivesAcrossRanksAreAnError) {
  std::string dir = syn::temp_dir("mismatch");
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {0, 2});
  syn::write_synthetic_bundle(dir, {allreduce({2048})}, 0, {1, 2});
  std::string e = error_of([&] { run(dir); });
  EXPECT_NE(e.find("mismatched collectives"), std::string::npos) << e;
  EXPECT_NE(e.find("4096 B"), std::string::npos) << e;
  EXPECT_NE(e.find("8192 B"), std::string::npos) << e;
}

TEST(MultiRank, SendRecvPairsAcrossRanks) {
  std::string dir = syn::temp_dir("p2p");
  syn::SynOp send;
  send.name = "c10d::send";
  send.shape = {1 << 20};
  send.peer = 1;
  syn::SynOp recv = send;
  recv.name = "c10d::recv_";
  recv.peer = 0;
  syn::write_synthetic_bundle(dir, {send}, 0, {0, 2});
  syn::write_synthetic_bundle(dir, {recv}, 0, {1, 2});
  ReplayResult r = run(dir);
  // 4 MiB over NVLink: more than the latency floor, far less than a millisecond.
  EXPECT_GT(r.step_time_s, 5e-6);
  EXPECT_LT(r.step_time_s, 1e-3);
}

TEST(ScaleDp, GradientAllReducesCostWhatTheyCostAtNRanks) {
  std::string b = src("examples/bundles/gpt_a_ddp");
  ReplayResult one = run(b, 1);
  ReplayResult eight = run(b, 8, "dgx-h100");
  ReplayResult many = run(b, 256, "h100-cluster", 32);
  EXPECT_GT(eight.comm_time_s, 0);
  EXPECT_GT(many.comm_time_s, eight.comm_time_s);  // inter-node rings are slower than NVLS
  EXPECT_GE(eight.step_time_s, one.step_time_s);
  EXPECT_GE(many.step_time_s, eight.step_time_s);
  // DDP overlaps the reductions with backward: the step grows by less than the collective time.
  EXPECT_LT(many.step_time_s - one.step_time_s, many.comm_time_s);
  EXPECT_FALSE(eight.has_measured);  // measured.json is the 1-GPU run
}

TEST(ScaleDp, BadArguments) {
  std::string b = src("examples/bundles/gpt_a_ddp");
  std::string e = error_of([&] { run(b, 64, "dgx-h100"); });
  EXPECT_NE(e.find("dgx-h100"), std::string::npos) << e;
  EXPECT_NE(e.find("64"), std::string::npos) << e;
  e = error_of([&] { run(src("tests/data/multirank_gloo4"), 8); });
  EXPECT_NE(e.find("--scale-dp"), std::string::npos) << e;
}

TEST(Chakra, ReplayRunsADirectoryOfChakraTraces) {
  std::string dir = syn::temp_dir("chakra_replay");
  std::string cmd = std::string(ORRERY_BINARY) + " convert " + src("examples/bundles/mlp_fp32") + " -o " + dir +
                    " >/dev/null && " + ORRERY_BINARY + " replay " + dir + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  EXPECT_EQ(pclose(f), 0) << out;
  EXPECT_NE(out.find("Chakra traces 1"), std::string::npos) << out;
  EXPECT_NE(out.find("step time"), std::string::npos) << out;
}

TEST(MultiRank, NcclCollectiveKernelsWaitForEveryRank) {
  // Two ranks; rank 1 does 2 ms of work before the all-reduce, rank 0 none. The NCCL kernel on
  // rank 0's stream can only finish after rank 1 arrives: both ranks end after 2 ms + the
  // collective.
  std::string dir = syn::temp_dir("nccl2");
  auto comm = syn::nccl_allreduce;
  syn::SynOp work = syn::two_ms_of_work();
  syn::write_synthetic_bundle(dir, {comm(0)}, 0, {0, 2});
  syn::write_synthetic_bundle(dir, {work, comm(0)}, 0, {1, 2});
  ReplayResult r = run(dir);
  ASSERT_EQ(r.rank_step_s.size(), 2u);
  // 256 MiB all-reduce over NVLink: ~0.5-1 ms on top of the 2 ms (not the 10 us measured on one GPU).
  EXPECT_GT(r.rank_step_s[0], 2.3e-3);
  EXPECT_GT(r.rank_step_s[1], 2.3e-3);
  EXPECT_LT(r.step_time_s, 4e-3);
  EXPECT_NEAR(r.rank_step_s[0], r.rank_step_s[1], 0.1e-3);
}

// Found by fuzzing tests/data/multirank_gloo4: a bundle with rank 3 deleted ran three ranks and
// reported a collective rank 3 "never did"; rank 0's files copied over rank 1's, or rank 2's
// Kineto saying world_size 8, were accepted; et.99999999999.json.gz printed "stoi"; the
// cross-rank errors named no bundle.
TEST(MultiRank, RankFilesThatDisagreeNameTheFile) {
  std::string dir = syn::temp_dir("rank_files");
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {0, 3});
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {1, 3});
  std::string e = error_of([&] { run(dir); });  // rank 2 of 3 is missing
  EXPECT_NE(e.find("kineto.0.json"), std::string::npos) << e;
  EXPECT_NE(e.find("distributedInfo.world_size: 3, but the bundle holds 2 ranks"), std::string::npos) << e;
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {1, 3});
  fs::rename(dir + "/kineto.1.json", dir + "/kineto.2.json");
  syn::write_synthetic_bundle(dir, {allreduce({1024})}, 0, {1, 3});
  fs::copy_file(dir + "/et.1.json", dir + "/et.2.json", fs::copy_options::overwrite_existing);
  e = error_of([&] { run(dir); });  // rank 1's capture filed as rank 2
  EXPECT_NE(e.find("kineto.2.json: distributedInfo.rank: 1, but the file is rank 2's"), std::string::npos) << e;
  fs::copy_file(dir + "/et.1.json", dir + "/et.123456789.json");
  e = error_of([&] { run(dir); });
  EXPECT_NE(e.find("et.123456789.json: rank number out of range"), std::string::npos) << e;
  std::string mis = syn::temp_dir("mismatch_named");
  syn::write_synthetic_bundle(mis, {allreduce({1024})}, 0, {0, 2});
  syn::write_synthetic_bundle(mis, {allreduce({2048})}, 0, {1, 2});
  e = error_of([&] { run(mis); });
  EXPECT_EQ(e.rfind(mis + ": mismatched collectives", 0), 0u) << e;
}

}  // namespace multirank_test
