// nccl-tests output parser: both table layouts, collective name, bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/error.h"
#include "validation/nccl_tests_log.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace nccl_tests_log_test {

using namespace orrery;

namespace {
std::string data(const std::string& f) { return std::string(ORRERY_SOURCE_DIR) + "/tests/data/nccl_tests/" + f; }
}  // namespace

TEST(NcclTestsLog, AllReduceWithRootColumn) {
  auto log = parse_nccl_tests_log(data("all_reduce_perf_8xh100.log"));
  EXPECT_EQ(log.collective, "all_reduce");
  EXPECT_EQ(log.ranks, 8);
  EXPECT_EQ(log.ngpus_per_thread, 8);
  ASSERT_EQ(log.devices.size(), 8u);
  EXPECT_EQ(log.devices[0], "NVIDIA H100 80GB HBM3");
  ASSERT_EQ(log.rows.size(), 31u);  // 8 B .. 8 GiB, factor 2
  const auto& first = log.rows.front();
  EXPECT_EQ(first.bytes, 8);
  EXPECT_EQ(first.count, 2);
  EXPECT_EQ(first.type, "float");
  EXPECT_EQ(first.redop, "sum");
  EXPECT_EQ(first.root, -1);
  EXPECT_DOUBLE_EQ(first.time_us, 15.11);
  EXPECT_EQ(first.wrong, "0");
  const auto& big = log.rows[27];  // 1 GiB
  EXPECT_EQ(big.bytes, 1073741824.0);
  EXPECT_DOUBLE_EQ(big.time_us, 3882.40);
  EXPECT_DOUBLE_EQ(big.algbw, 276.57);
  EXPECT_DOUBLE_EQ(big.busbw, 483.99);
  EXPECT_DOUBLE_EQ(big.busbw_in, 486.42);
  // busbw = algbw * 2(n-1)/n for all_reduce.
  EXPECT_NEAR(big.busbw, big.algbw * nccl_busbw_factor("all_reduce", 8), 0.05);
  // Times of 10 ms and more are printed with one decimal.
  EXPECT_DOUBLE_EQ(log.rows.back().time_us, 32824.8);
  EXPECT_NEAR(log.avg_busbw, 171.5624, 1e-9);
}

TEST(NcclTestsLog, AllGather) {
  auto log = parse_nccl_tests_log(data("all_gather_perf_8xh100.log"));
  EXPECT_EQ(log.collective, "all_gather");
  ASSERT_FALSE(log.rows.empty());
  EXPECT_EQ(log.rows[0].redop, "none");
  EXPECT_EQ(log.rows[0].bytes, 1024);
  EXPECT_EQ(log.rows[0].count, 32);  // per-rank elements: 1024 B / 4 B / 8 ranks
  for (auto& r : log.rows)
    if (r.time_us > 100) {
      EXPECT_NEAR(r.busbw, r.algbw * nccl_busbw_factor("all_gather", 8), 0.05);
    }
}

TEST(NcclTestsLog, OlderLayoutWithoutRootAndWithoutCollectiveLine) {
  auto log = parse_nccl_tests_log(data("all_reduce_old_format_1gpu.log"));
  // No "Collective test starting" line: the name comes from the file name.
  EXPECT_EQ(log.collective, "all_reduce");
  EXPECT_EQ(log.ranks, 1);
  ASSERT_EQ(log.rows.size(), 5u);
  EXPECT_EQ(log.rows[0].root, -1);
  EXPECT_DOUBLE_EQ(log.rows[0].time_us, 6.85);
  EXPECT_DOUBLE_EQ(log.rows[0].algbw, 153.08);
  EXPECT_DOUBLE_EQ(log.rows[0].busbw, 0.0);
  EXPECT_EQ(log.rows[0].wrong, "0e+00");
  EXPECT_DOUBLE_EQ(log.rows[2].algbw_in, 10229.99);
}

TEST(NcclTestsLog, FromTextSkipsNoiseAndFindsBinaryName) {
  std::string text =
      "$ mpirun -np 2 ./build/reduce_scatter_perf -b 8 -e 64M -f 2 -g 1\n"
      "gpu-node:123:123 [0] NCCL INFO Bootstrap : Using eth0\n"
      "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n"
      "     1048576        131072     float     sum      -1    20.00   52.43   26.21    N/A    19.00   55.19   27.59    N/A\n";
  auto log = parse_nccl_tests_text(text, "inline");
  EXPECT_EQ(log.collective, "reduce_scatter");
  ASSERT_EQ(log.rows.size(), 1u);
  EXPECT_EQ(log.rows[0].wrong, "N/A");
  EXPECT_DOUBLE_EQ(log.rows[0].busbw_in, 27.59);
}

TEST(NcclTestsLog, CollectiveNames) {
  EXPECT_EQ(normalize_collective_name("all_reduce_perf"), "all_reduce");
  EXPECT_EQ(normalize_collective_name("AllGather"), "all_gather");
  EXPECT_EQ(normalize_collective_name("nccl:reduce_scatter"), "reduce_scatter");
  EXPECT_EQ(normalize_collective_name("alltoall_perf"), "alltoall");
  EXPECT_EQ(normalize_collective_name("sendrecv_perf"), "sendrecv");
  EXPECT_EQ(normalize_collective_name("frobnicate"), "");
  EXPECT_DOUBLE_EQ(nccl_busbw_factor("all_reduce", 4), 1.5);
  EXPECT_DOUBLE_EQ(nccl_busbw_factor("broadcast", 4), 1.0);
}

TEST(NcclTestsLog, BadInputIsAClearError) {
  try {
    parse_nccl_tests_log(data("not_a_log.txt"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("not_a_log.txt"), std::string::npos) << m;
    EXPECT_NE(m.find("no nccl-tests result rows"), std::string::npos) << m;
  }
  EXPECT_THROW(parse_nccl_tests_log(data("missing.log")), Error);
  EXPECT_THROW(parse_nccl_tests_text("       8  2  float  sum  -1  abc  0.00  0.00  0\n", "x"), Error);
}

// The table orrery_nccl_bench (validation/cuda) prints parses back: N/A for #wrong and for the
// in-place columns of alltoall.
TEST(NcclTestsLog, OrreryNcclBenchOutputParsesBack) {
  auto log = parse_nccl_tests_log(data("orrery_nccl_bench_alltoall.log"));
  EXPECT_EQ(log.collective, "alltoall");
  EXPECT_EQ(log.ranks, 8);
  ASSERT_EQ(log.rows.size(), 8u);
  EXPECT_EQ(log.rows[0].wrong, "N/A");
  EXPECT_DOUBLE_EQ(log.rows[0].time_us, 22.41);
  EXPECT_TRUE(std::isnan(log.rows[0].time_us_in));
  EXPECT_DOUBLE_EQ(log.rows.back().bytes, 16777216.0);
  EXPECT_NEAR(log.rows.back().busbw, log.rows.back().algbw * nccl_busbw_factor("alltoall", 8), 0.01);
}

TEST(NcclTestsLog, SeveralCollectivesInOneLogAreRefused) {
  try {
    parse_nccl_tests_log(data("two_collectives.log"));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("several collectives (all_reduce, all_gather)"), std::string::npos) << e.what();
  }
}

// Found by fuzzing the sample logs: a size of -1 was simulated as 1 byte, 8.5 printed as 8, 1e30
// ended in a range error naming no file; a negative, zero, NaN or N/A time and a negative busbw
// were compared as if measured. Each is now one error naming the log and line.
TEST(NcclTestsLog, ImpossibleRowValuesNameTheLine) {
  const std::string ok = "       8  2  float  sum  -1  15.11  0.00  0.00  0  15.03  0.00  0.00  0\n";
  EXPECT_NO_THROW(parse_nccl_tests_text(ok, "x.log"));
  EXPECT_NO_THROW(parse_nccl_tests_text("       8  2  float  sum  -1  15.11  0.00  0.00  N/A  N/A  N/A  N/A  N/A\n", "x.log"));
  auto err = [](const std::string& row) {
    try {
      parse_nccl_tests_text("# header\n" + row, "x.log");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(err("      -1  2  float  sum  -1  15.11  0.00  0.00  0\n").rfind("x.log: line 2: size -1", 0), 0u);
  EXPECT_NE(err("     8.5  2  float  sum  -1  15.11  0.00  0.00  0\n").find("size 8.5"), std::string::npos);
  EXPECT_NE(err("    1e30  2  float  sum  -1  15.11  0.00  0.00  0\n").find("size 1e+30"), std::string::npos);
  EXPECT_NE(err("       8  2  float  sum  -1  -15.1  0.00  0.00  0\n").find("time -15.1"), std::string::npos);
  EXPECT_NE(err("       8  2  float  sum  -1    nan  0.00  0.00  0\n").find("time N/A"), std::string::npos);
  EXPECT_NE(err("       8  2  float  sum  -1  15.11  0.00  -3.0  0\n").find("busbw -3"), std::string::npos);
  EXPECT_NE(err("       8  2  float  sum  -1  15.11  0.00  0.00  0  -2  0.00  0.00  0\n").find("in-place time -2"),
            std::string::npos);
}

}  // namespace nccl_tests_log_test
