#include <gtest/gtest.h>

#include "sim/error.h"
#include "sim/params.h"
#include "sim/units.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace units_test {

using namespace orrery;

TEST(Units, ParseDecimalRatesAndBits) {
  EXPECT_DOUBLE_EQ(parse_quantity("400 GB/s", Unit::Bandwidth), 400e9);
  EXPECT_DOUBLE_EQ(parse_quantity("400 Gb/s", Unit::Bandwidth), 50e9);
  EXPECT_DOUBLE_EQ(parse_quantity("3.35 TB/s", Unit::Bandwidth), 3.35e12);
  EXPECT_DOUBLE_EQ(parse_quantity("1.2 us", Unit::Time), 1.2e-6);
  EXPECT_DOUBLE_EQ(parse_quantity("80 GiB", Unit::Bytes), 80.0 * (1ull << 30));
  EXPECT_DOUBLE_EQ(parse_quantity("989 TFLOP/s", Unit::FlopRate), 989e12);
}

TEST(Units, FormatRoundTrips) {
  EXPECT_EQ(format_quantity(400e9, Unit::Bandwidth), "400 GB/s");
  EXPECT_EQ(format_time(1.2e-6), "1.2 us");
  EXPECT_DOUBLE_EQ(parse_quantity(format_quantity(3.35e12, Unit::Bandwidth), Unit::Bandwidth), 3.35e12);
}

TEST(Units, CliSizesAreBinaryLikeNcclTests) {
  EXPECT_EQ(parse_cli_size("8"), 8u);
  EXPECT_EQ(parse_cli_size("8G"), 8ull << 30);
  EXPECT_EQ(parse_cli_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_cli_size("1GB"), 1000000000ull);
  EXPECT_EQ(parse_cli_size("64K"), 65536u);
  EXPECT_THROW(parse_cli_size("8Q"), Error);
}

TEST(Units, BadUnitNamesField) {
  try {
    parse_quantity("400 GB/hour", Unit::Bandwidth, "hbm_bandwidth");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hbm_bandwidth"), std::string::npos);
  }
}

TEST(Params, ValidateUnknownKeyMissingAndZero) {
  ParamSet ps("link", "a link", {{"bandwidth", Unit::Bandwidth, "100 GB/s", "per direction", true},
                                 {"latency", Unit::Time, "1 us", "one way"}});
  auto v = ps.resolve(nlohmann::json{{"bandwidth", "50 GB/s"}}, "sys.json");
  EXPECT_DOUBLE_EQ(v.get("bandwidth"), 50e9);
  EXPECT_DOUBLE_EQ(v.get("latency"), 1e-6);
  EXPECT_THROW(ps.resolve(nlohmann::json{{"bandwith", "50 GB/s"}}, "sys.json"), Error);
  try {
    ps.resolve(nlohmann::json{{"bandwidth", "0 GB/s"}}, "sys.json");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("sys.json"), std::string::npos);
    EXPECT_NE(m.find("bandwidth"), std::string::npos);
  }
  v.apply_override(ps, "latency=2us");
  EXPECT_DOUBLE_EQ(v.get("latency"), 2e-6);
  EXPECT_EQ(v.to_json(ps)["latency"], "2 us");
}

}  // namespace units_test
