#pragma once
// Parser for nccl-tests output (all_reduce_perf, all_gather_perf, ... and orrery_nccl_bench, which
// prints the same table). Recognises both table layouts: with a `root` column and `#wrong`
// (nccl-tests >= 2.10) and the older one without `root` and with an `error` column.
#include <string>
#include <vector>

namespace orrery {

struct NcclTestsRow {
  double bytes = 0;        // "size" column (B): per-rank buffer for all_reduce; total output for all_gather
  double count = 0;        // elements
  std::string type;        // "float", "bfloat16", ...
  std::string redop;       // "sum", "none", ...
  int root = -1;
  double time_us = 0, algbw = 0, busbw = 0;           // out-of-place (GB/s decimal)
  double time_us_in = 0, algbw_in = 0, busbw_in = 0;  // in-place (NaN when absent)
  std::string wrong;       // "#wrong" / "error" column of the out-of-place run ("0", "N/A", ...)
};

struct NcclTestsLog {
  std::string path;
  std::string collective;  // "all_reduce", "all_gather", ... ("" when the log does not say)
  int ranks = 0;           // "Rank N" device lines (0 when absent)
  int ngpus_per_thread = 0;  // "nGpus" in the first header line (0 when absent)
  int nthreads = 0;          // "nThread" there (0 when absent)
  std::vector<std::string> devices;  // device names from the "Rank" lines
  double avg_busbw = -1;   // "# Avg bus bandwidth" (-1 when absent)
  std::vector<NcclTestsRow> rows;
};

// Normalises "all_reduce_perf", "allreduce", "AllReduce", "nccl:all_reduce" to "all_reduce";
// returns "" for names it does not know.
std::string normalize_collective_name(const std::string& s);

// Parses a log file; Error naming the file (and line) when it is unreadable or has no result rows.
NcclTestsLog parse_nccl_tests_log(const std::string& path);
// Same, from text (`path` only names the source in errors).
NcclTestsLog parse_nccl_tests_text(const std::string& text, const std::string& path);

// bus bandwidth factor of nccl-tests (busbw = algbw * factor) for `collective` over `ranks`.
double nccl_busbw_factor(const std::string& collective, int ranks);

}  // namespace orrery
