#pragma once
// The validation report: one self-contained HTML page (inline SVG, no scripts, no external
// resources) comparing simulated with measured numbers: step-time bars per workload, error by
// kernel class, per-kernel predicted-vs-measured scatter, busbw curves, and tables.
#include <string>
#include <vector>

#include "validation/kernel_transfer.h"
#include "validation/published_training.h"
#include "workloads/replay.h"

namespace orrery {

// One nccl-tests row next to the fabric model's answer for the same size.
struct BusbwPoint {
  double bytes = 0;
  double measured_busbw = 0;   // GB/s (decimal), as nccl-tests prints
  double simulated_busbw = 0;  // GB/s
  double measured_time_us = 0, simulated_time_us = 0;
};

struct BusbwSeries {
  std::string label;       // e.g. "all_reduce, 8 ranks, dgx_h100 (all_reduce_perf.log)"
  std::string collective;  // "all_reduce"
  std::vector<BusbwPoint> points;
};

struct ReportData {
  std::string title = "orrery validation report";
  std::string subtitle;                  // command line or description
  double tolerance_pct = 0;              // 0 = not checked
  std::vector<ReplayResult> workloads;   // replays with their measured step time
  std::vector<std::string> skipped;      // "bundle: reason" lines
  std::vector<BusbwSeries> busbw;        // nccl-tests comparisons
  // Kernel-level hardware what-if checks (`validate --kernel-transfer`), with their labels
  // ("h100 -> h100+set: --set hbm_bandwidth=4.8TB/s ...").
  std::vector<std::pair<std::string, KernelTransferResult>> kernel_transfer;
  std::vector<PublishedTrainingRow> published;  // `validate --published`: orrery train vs published steps
};

// Deterministic: the same data gives the same bytes.
std::string render_report(const ReportData& data);

// Per-class totals over all workloads: simulated vs measured kernel time (seconds).
struct ClassError {
  std::string kernel_class;
  std::string mode;  // replay mode when split by mode, else ""
  double simulated_s = 0, measured_s = 0;
  int kernels = 0;
  double error_pct() const { return measured_s > 0 ? (simulated_s - measured_s) / measured_s * 100.0 : 0.0; }
};
// by_mode: one entry per (class, replay mode) instead of per class.
std::vector<ClassError> error_by_class(const std::vector<ReplayResult>& workloads, bool by_mode = false);

std::string html_escape(const std::string& s);

}  // namespace orrery
