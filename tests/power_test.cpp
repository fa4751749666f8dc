// Power, energy and cost model (hw_models/power.h, workloads/energy.h) and its CLI outputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hw_models/power.h"
#include "support/errors.h"
#include "workloads/energy.h"
#include "workloads/train.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace power_test {

using namespace orrery;

namespace {
PowerModel h100_power(const std::vector<std::string>& o = {}) { return load_power("", load_accelerator("h100"), o); }

TrainOptions llama8b() {
  TrainOptions o;
  o.model = "llama3-8b";
  o.system = "dgx-h100";
  o.nodes = 1;
  o.plan.tp = 2; o.plan.pp = 2; o.plan.dp = 2;
  o.plan.sequence_parallel = true;
  o.plan.micro_batch = 1;
  o.plan.global_batch = 16;
  o.plan.seq = 4096;
  o.plan.recompute = Recompute::Selective;
  o.plan.zero = 1;
  o.engine = "event";
  o.comm = "builtin";
  return o;
}
}  // namespace

TEST(Power, GpuPowerIsIdlePlusDynamicCappedAtTheBoard) {
  PowerModel pm = h100_power();
  EXPECT_DOUBLE_EQ(pm.gpu_power(0, 0, 0), 90.0);                    // h100.json power_idle
  EXPECT_DOUBLE_EQ(pm.gpu_power(1, 0, 1), 90.0 + 200.0 + 110.0);    // streaming kernel: SMs + HBM
  EXPECT_DOUBLE_EQ(pm.gpu_power(1, 1, 1, 1), 700.0);                // capped at power_tdp
  EXPECT_LT(pm.gpu_power(1, 0.3, 0.2), pm.gpu_power(1, 0.6, 0.2));  // more tensor work, more power
  EXPECT_DOUBLE_EQ(pm.gpu_power(1, -1, 2), pm.gpu_power(1, 0, 1));  // utilisations clamp to [0, 1]
}

TEST(Power, PresetCarriesSourcesAndOverridesApply) {
  PowerModel pm = h100_power({"pue=1.5", "price_gpu_hour=3"});
  EXPECT_TRUE(pm.sources.contains("node_rated_power"));
  EXPECT_DOUBLE_EQ(pm.p("pue"), 1.5);
  EXPECT_DOUBLE_EQ(pm.p("price_gpu_hour"), 3.0);
  EXPECT_DOUBLE_EQ(pm.p("node_rated_power"), 10.2e3);
}

TEST(Power, BadValuesAreOneLineNamingTheField) {
  std::string e = syn::error_of([] { h100_power({"price_kwh=-1"}); });
  EXPECT_NE(e.find("price_kwh"), std::string::npos) << e;
  e = syn::error_of([] { h100_power({"pue=0.9"}); });
  EXPECT_NE(e.find("pue"), std::string::npos) << e;
  e = syn::error_of([] { h100_power({"nonsense=1"}); });
  EXPECT_NE(e.find("nonsense"), std::string::npos) << e;
  e = syn::error_of([] { load_power("no-such-power", load_accelerator("h100")); });
  EXPECT_NE(e.find("no-such-power"), std::string::npos) << e;
}

TEST(Power, ReportAddsNodeOverheadPueAndPrices) {
  PowerModel pm = h100_power({"price_gpu_hour=2", "price_kwh=0.1", "pue=1.25"});
  EnergyInputs in;
  in.step_s = 10;
  in.gpus = 16;
  in.gpus_per_node = 8;
  in.gpu_energy_j = 500 * 10;  // 500 W average
  in.gpu_peak_w = 700;
  in.tokens = 1e6;
  EnergyReport e = energy_report(pm, in);
  EXPECT_DOUBLE_EQ(e.nodes, 2);
  EXPECT_DOUBLE_EQ(e.gpu_avg_w, 500);
  EXPECT_NEAR(e.node_avg_w, 8 * 500 / 0.94 + pm.node_overhead_w(8), 1e-6);
  EXPECT_NEAR(e.it_energy_j, (2 * e.node_avg_w + 16 * 36) * 10, 1e-6);
  EXPECT_NEAR(e.energy_j, 1.25 * e.it_energy_j, 1e-6);
  EXPECT_NEAR(e.gpu_cost_usd, 16 * 10 / 3600.0 * 2, 1e-12);
  EXPECT_NEAR(e.energy_cost_usd, e.energy_j / 3.6e6 * 0.1, 1e-12);
  EXPECT_NEAR(e.kwh_per_mtok, e.energy_j / 3.6e6, 1e-12);  // 1e6 tokens
  EXPECT_NEAR(e.cost_usd_per_mtok, e.cost_usd, 1e-12);
  EXPECT_GT(e.node_peak_w, e.node_avg_w);
  // A topology without servers (a torus, a ring: gpus_per_node 0) counts nodes of the power
  // model's accelerators_per_node, each with its overheads: not one node of every GPU.
  in.gpus = 64;
  in.gpus_per_node = 0;
  EnergyReport t = energy_report(pm, in);
  EXPECT_DOUBLE_EQ(t.nodes, 8);
  EXPECT_NEAR(t.node_avg_w, e.node_avg_w, 1e-6);
  EnergyReport four = energy_report(h100_power({"accelerators_per_node=4"}), in);
  EXPECT_DOUBLE_EQ(four.nodes, 16);
  EXPECT_GT(four.it_energy_j, t.it_energy_j);  // twice the hosts
}

TEST(Power, TrainingStepDrawsBetweenIdleAndBoardPowerAndFasterHbmSavesEnergy) {
  TrainResult r = run_training(llama8b());
  Accelerator hw = load_accelerator("h100");
  EnergyReport e = train_energy(r, hw, load_power("", hw));
  EXPECT_GT(e.gpu_avg_w, 90);
  EXPECT_LE(e.gpu_avg_w, 700);
  EXPECT_LE(e.gpu_peak_w, 700);
  EXPECT_GT(e.gpu_peak_w, e.gpu_avg_w);
  EXPECT_GT(e.kwh_per_mtok, 0);
  EXPECT_DOUBLE_EQ(e.in.tokens, 16.0 * 4096);
  // A GEMM-heavy step draws more than an HBM-only load but stays under the node's rating.
  EXPECT_GT(e.node_avg_w, h100_power().node_overhead_w(8) + 8 * 200);
  EXPECT_LT(e.node_avg_w, 10.2e3);
  // Energy per token grows with a slower (longer) step at the same work.
  TrainOptions slow = llama8b();
  slow.hw_overrides = {"hbm_bandwidth=1TB/s"};
  TrainResult rs = run_training(slow);
  Accelerator hws = load_accelerator("h100", slow.hw_overrides);
  EnergyReport es = train_energy(rs, hws, load_power("", hws));
  EXPECT_GT(rs.iteration_time_s, r.iteration_time_s);
  EXPECT_GT(es.energy_j, e.energy_j);
}

TEST(Power, TrainJsonCarriesEnergyAndCostKeys) {
  std::string js = ::testing::TempDir() + "/power_train.json";
  std::string cmd = std::string(ORRERY_BINARY) +
                    " train --model llama3-8b --system dgx-h100 --nodes 1 --tp 2 --pp 2 --dp 2 --micro-batch 1"
                    " --global-batch 16 --seq 4096 --engine event --price-gpu-hour 4 --price-kwh 0 --json " + js + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(js);
  nlohmann::json j = nlohmann::json::parse(in);
  for (const char* k : {"energy_j", "kwh_per_mtok", "avg_power_w", "cost_usd", "cost_usd_per_mtok", "energy"})
    EXPECT_TRUE(j.contains(k)) << k;
  // Energy free: the cost is the GPU-hours alone.
  EXPECT_NEAR(j["cost_usd"].get<double>(), 8 * j["iteration_time_s"].get<double>() / 3600 * 4, 1e-9);
  std::ifstream cin(js.substr(0, js.size() - 5) + ".config.json");
  EXPECT_TRUE(nlohmann::json::parse(cin).contains("power"));
}

TEST(Power, NegativePriceOnTheCommandLineIsOneLine) {
  std::string out = ::testing::TempDir() + "/power_neg.txt";
  std::string cmd = std::string(ORRERY_BINARY) +
                    " train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 8 --price-gpu-hour -2 2> " + out;
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("--price-gpu-hour"), std::string::npos) << line;
  EXPECT_TRUE(in.peek() == EOF);  // one line
}

TEST(Power, CollectiveRowsCarryEnergy) {
  std::string js = ::testing::TempDir() + "/power_coll.json";
  std::string cmd = std::string(ORRERY_BINARY) + " collective --op all_reduce --system dgx-h100 -b 1M -e 64M -f 8 --engine event --json " + js + " > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(js);
  nlohmann::json j = nlohmann::json::parse(in);
  double prev = 0;
  for (auto& r : j["rows"]) {
    EXPECT_GT(r["energy_j"].get<double>(), prev);  // bigger collectives, more joules
    prev = r["energy_j"];
  }
  EXPECT_TRUE(j.contains("energy"));
}

}  // namespace power_test
