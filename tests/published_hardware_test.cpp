// Published hardware figures (validation/data/published_hardware.json) against the chip and fabric
// models: each row is predicted by the same code `orrery kernel` and `orrery collective` run, and bad
// rows end in one line naming the file, the row and the field.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "hw_models/accelerator.h"
#include "hw_models/mapping.h"
#include "support/errors.h"
#include "validation/published_hardware.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace published_hardware_test {

using namespace orrery;
namespace fs = std::filesystem;

namespace {
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }

std::string write(const std::string& name, const nlohmann::json& j) {
  fs::path p = fs::temp_directory_path() / name;
  std::ofstream(p) << j.dump();
  return p.string();
}

nlohmann::json gemm_row() {
  return {{"hw", "h100"}, {"m", 4096}, {"n", 4096}, {"k", 4096}, {"dtype", "bf16"}, {"tflops", 700}, {"source", "test"}};
}
}  // namespace

// Every bundled row is predicted; a GEMM row is `orrery kernel gemm` in each hardware model.
TEST(PublishedHardware, BundledFileEveryRowPredicted) {
  PublishedHardware h = validate_published_hardware(src("validation/data/published_hardware.json"));
  ASSERT_GE(h.gemm.size(), 5u);
  ASSERT_GE(h.collectives.size(), 5u);
  for (auto& g : h.gemm) {
    EXPECT_TRUE(std::isfinite(g.first_principles_tflops) && g.first_principles_tflops > 0) << g.hw;
    EXPECT_FALSE(g.source.empty());
  }
  const auto& a100 = h.gemm.front();
  Accelerator fp = load_accelerator(a100.hw, {"first_principles=1"});
  double t = fp.mapper->gemm(a100.m, a100.n, a100.k, parse_dtype(a100.dtype), 1).time_s;
  EXPECT_NEAR(a100.first_principles_tflops, 2 * a100.m * a100.n * a100.k / t / 1e12, 1e-9);
  Accelerator cal = load_accelerator(a100.hw);
  EXPECT_NEAR(a100.calibrated_tflops, 2 * a100.m * a100.n * a100.k / cal.gemm_time(a100.m, a100.n, a100.k, Dtype::BF16, 1) / 1e12, 1e-9);
  for (auto& c : h.collectives) {
    EXPECT_GT(c.predicted_busbw, 0) << c.system;
    EXPECT_FALSE(c.chosen.empty());
  }
}

// A row asking for ring is simulated as ring; the tuner's choice is reported for "auto".
TEST(PublishedHardware, CollectiveRowRunsTheAskedAlgorithm) {
  nlohmann::json j = {{"collectives",
                       {{{"system", "dgx-h100"}, {"ranks", 8}, {"algorithm", "ring"}, {"bytes", 1 << 30}, {"busbw_gbps", 370}},
                        {{"system", "dgx-h100"}, {"ranks", 8}, {"bytes", 1 << 30}, {"busbw_gbps", 480}}}}};
  PublishedHardware h = validate_published_hardware(write("orrery_pub_hw_coll.json", j));
  ASSERT_EQ(h.collectives.size(), 2u);
  EXPECT_EQ(h.collectives[0].chosen, "Ring");
  EXPECT_EQ(h.collectives[1].chosen, "NVLS");
  EXPECT_GT(h.collectives[1].predicted_busbw, h.collectives[0].predicted_busbw);
}

TEST(PublishedHardware, BadRowsNameFileRowAndField) {
  auto err = [](const nlohmann::json& j) {
    std::string path = write("orrery_pub_hw_bad.json", j);
    return syn::error_of([&] { validate_published_hardware(path); });
  };
  nlohmann::json zero = gemm_row();
  zero["m"] = 0;
  std::string e = err({{"gemm", {zero}}});
  EXPECT_NE(e.find("orrery_pub_hw_bad.json: gemm[0]: m:"), std::string::npos) << e;
  nlohmann::json dt = gemm_row();
  dt["dtype"] = "bf17";
  e = err({{"gemm", {dt}}});
  EXPECT_NE(e.find("gemm[0]: dtype"), std::string::npos) << e;
  nlohmann::json fp4 = gemm_row();
  fp4["dtype"] = "fp4";  // the H100 has no fp4 engine
  EXPECT_NE(err({{"gemm", {fp4}}}), "");
  e = err({{"collectives", {{{"system", "dgx-h100"}, {"ranks", 64}, {"bytes", 1024}, {"busbw_gbps", 1}}}}});
  EXPECT_NE(e.find("collectives[0]: ranks"), std::string::npos) << e;
  e = err({{"collectives", {{{"system", "dgx-h100"}, {"ranks", 8}, {"bytes", 1024}}}}});
  EXPECT_NE(e.find("collectives[0]: busbw_gbps: missing field"), std::string::npos) << e;
  nlohmann::json huge = gemm_row();
  huge["m"] = 1e300;  // a size no GEMM has: refused, not priced
  e = err({{"gemm", {huge}}});
  EXPECT_NE(e.find("gemm[0]: m: expected a positive number of at most 1e+12"), std::string::npos) << e;
  nlohmann::json chip = gemm_row();
  chip["hw"] = "nochip";
  e = err({{"gemm", {chip}}});
  EXPECT_NE(e.find("orrery_pub_hw_bad.json: gemm[0]: --hw: nochip: unknown hardware preset"), std::string::npos) << e;
  e = err({{"collectives", {{{"system", "mi300x-8"}, {"ranks", 8}, {"bytes", 1e30}, {"busbw_gbps", 1}}}}});
  EXPECT_NE(e.find("collectives[0]: bytes"), std::string::npos) << e;
  nlohmann::json src = gemm_row();
  src["source"] = 3;  // a string field of another type: named, not the JSON library's message
  e = err({{"gemm", {src}}});
  EXPECT_NE(e.find("gemm[0]: source: expected a string"), std::string::npos) << e;
  e = err({{"gemm", 3}});
  EXPECT_NE(e.find("gemm: expected an array"), std::string::npos) << e;
  e = err({{"rows", nlohmann::json::array()}});
  EXPECT_NE(e.find("not a published-hardware file"), std::string::npos) << e;
}

}  // namespace published_hardware_test
