// Parallel-plan search (workloads/plan.h): bounds, pruning, ranking, references, CLI.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "support/errors.h"
#include "workloads/plan.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace plan_test {

using namespace orrery;

namespace {
PlanOptions small() {
  PlanOptions o;
  o.model = "llama3-8b";
  o.system = "dgx-h100";
  o.gpus = 16;
  o.global_batch = 32;
  o.seq = 4096;
  o.comm = "builtin";
  o.top = 3;
  o.micro_batch = {1, 2};
  o.vp = {1, 2};
  o.cp = {1, 2};
  return o;
}
}  // namespace

TEST(Plan, BoundsAreLowerBoundsAndCountsAddUp) {
  PlanSearch s = search_plans(small());
  ASSERT_FALSE(s.ranked.empty());
  EXPECT_EQ(s.enumerated, s.invalid + s.over_memory + s.pruned_compute + s.pruned_bound + s.simulated + s.twins + s.over_budget);
  EXPECT_GT(s.pruned_compute + s.pruned_bound, 0);  // the bounds do prune
  for (size_t i = 0; i < s.ranked.size(); ++i) {
    const PlanCandidate& c = s.ranked[i];
    EXPECT_LE(c.compute_bound_s, c.bound_s * (1 + 1e-12)) << plan_label(c.plan);
    EXPECT_LE(c.bound_s, c.iteration_time_s * (1 + 1e-9)) << plan_label(c.plan);
    EXPECT_LE(c.peak_memory_bytes, s.hbm_capacity);
    EXPECT_EQ(c.rank, static_cast<int>(i) + 1);
    if (i > 0) {
      EXPECT_LE(s.ranked[i - 1].iteration_time_s, c.iteration_time_s);
    }
  }
}

TEST(Plan, PruningKeepsTheExhaustiveBest) {
  PlanOptions o = small();
  PlanSearch pruned = search_plans(o);
  o.top = 100000;  // the k-th best never exists: nothing is pruned
  PlanSearch all = search_plans(o);
  EXPECT_EQ(all.pruned_compute + all.pruned_bound, 0);
  EXPECT_GT(all.simulated, pruned.simulated);
  ASSERT_FALSE(all.ranked.empty());
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(plan_label(all.ranked[k].plan), plan_label(pruned.ranked[k].plan));
    EXPECT_DOUBLE_EQ(all.ranked[k].iteration_time_s, pruned.ranked[k].iteration_time_s);
  }
}

TEST(Plan, BestPlanMatchesADirectTrainingRun) {
  PlanSearch s = search_plans(small());
  TrainOptions t;
  t.model = "llama3-8b";
  t.system = "dgx-h100";
  t.nodes = 2;
  t.plan = s.ranked[0].plan;
  t.engine = "event";
  t.comm = "builtin";
  EXPECT_DOUBLE_EQ(run_training(t).iteration_time_s, s.ranked[0].iteration_time_s);
}

TEST(Plan, ReferenceRankCountsTheFasterPlans) {
  PlanOptions o = small();
  o.references.push_back({"naive", parse_plan_spec("tp=1,pp=1,cp=1,mb=1,zero=3,recompute=full", "test")});
  PlanSearch s = search_plans(o);
  ASSERT_EQ(s.references.size(), 1u);
  const PlanCandidate& r = s.references[0];
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.plan.dp, 16);
  int better = 0;
  for (auto& c : s.ranked) better += c.iteration_time_s < r.iteration_time_s;
  EXPECT_EQ(r.rank, better + 1);
  EXPECT_GT(r.rank, 1);
  EXPECT_GE(r.rank_max, r.rank);
  EXPECT_NE(s.why.find("naive"), std::string::npos) << s.why;
}

// The default answer comes from the cluster executor: survivors are screened with the closed
// form, then the best are re-simulated on the fabric and ranked by that time.
TEST(Plan, VerifiedPlansAreRankedByTheFabricRun) {
  PlanOptions o = small();
  o.comm = "auto";
  o.top = 2;
  o.references.push_back({"tp8", parse_plan_spec("tp=8,pp=1,cp=1,mb=1,zero=1", "test")});
  PlanSearch s = search_plans(o);
  EXPECT_EQ(s.screen_model, "analytical");
  ASSERT_GE(s.ranked.size(), 3u);
  EXPECT_EQ(s.verified, 3);  // top 2 + the reference
  EXPECT_TRUE(s.ranked[0].verified && s.ranked[1].verified);
  EXPECT_FALSE(s.ranked[2].verified);
  EXPECT_LE(s.ranked[0].iteration_time_s, s.ranked[1].iteration_time_s);
  ASSERT_TRUE(s.references[0].verified) << s.references[0].error;
  TrainOptions t;
  t.model = o.model;
  t.system = o.system;
  t.nodes = 2;
  t.plan = s.ranked[0].plan;
  t.engine = "event";
  t.comm = "fabric";
  EXPECT_DOUBLE_EQ(run_training(t).iteration_time_s, s.ranked[0].iteration_time_s);
  t.comm = "analytical";
  EXPECT_DOUBLE_EQ(run_training(t).iteration_time_s, s.ranked[0].estimate_s);
}

TEST(Plan, BadInputNamesTheField) {
  EXPECT_NE(syn::error_of([] { parse_plan_spec("tp=4,foo=2", "--reference x"); }).find("foo"), std::string::npos);
  PlanOptions o = small();
  o.gpus = 12;
  EXPECT_NE(syn::error_of([&] { search_plans(o); }).find("--gpus"), std::string::npos);
  o = small();
  o.global_batch = 0;
  EXPECT_NE(syn::error_of([&] { search_plans(o); }).find("--global-batch"), std::string::npos);
}

TEST(Plan, CliWritesPlansBestFirst) {
  std::string js = ::testing::TempDir() + "/plan.json";
  std::string cmd = std::string(ORRERY_BINARY) +
                    " plan --model llama3-8b --system dgx-h100 --gpus 16 --global-batch 32 --seq 4096 --comm builtin"
                    " --micro-batch 1,2 --vp 1,2 --top 4 --json " + js + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(js);
  nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["plans"].size(), 4u);
  for (size_t i = 1; i < 4; ++i)
    EXPECT_LE(j["plans"][i - 1]["iteration_time_s"].get<double>(), j["plans"][i]["iteration_time_s"].get<double>());
  for (const char* k : {"tp", "pp", "vp", "dp", "cp", "ep", "micro_batch", "recompute", "zero", "sequence_parallel"})
    EXPECT_TRUE(j["plans"][0].contains(k)) << k;
  EXPECT_GT(j["search"]["enumerated"].get<long>(), j["search"]["simulated"].get<long>());
}

}  // namespace plan_test
