#pragma once
// Published accelerator and fabric figures (validation/data/published_hardware.json: GEMM
// throughput at a published shape, all-reduce bus bandwidth on a published system), each
// predicted by the same models users run: the chip's GEMM in both hardware models (`orrery
// kernel`) and the collective on the system's fabric (`orrery collective`). Kernel-free: the
// collectives run on the event engine.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orrery {

struct PublishedGemmRow {
  std::string source, hw, dtype;
  double m = 0, n = 0, k = 0;
  double published_tflops = 0;
  double first_principles_tflops = 0, calibrated_tflops = 0;
  double error_pct(double predicted) const { return (predicted - published_tflops) / published_tflops * 100.0; }
};

struct PublishedCollectiveRow {
  std::string source, system, op, algorithm;  // algorithm asked ("auto": the tuner's choice)
  std::string chosen;                         // the algorithm the model ran
  int nodes = 1, ranks = 0;
  double bytes = 0, published_busbw = 0, predicted_busbw = 0;  // busbw in bytes/s
  double error_pct() const { return (predicted_busbw - published_busbw) / published_busbw * 100.0; }
};

struct PublishedHardware {
  std::vector<PublishedGemmRow> gemm;
  std::vector<PublishedCollectiveRow> collectives;
};

// Whether a published file holds hardware figures ("gemm" / "collectives") rather than
// training iterations ("rows").
bool is_published_hardware(const nlohmann::json& j);

// Reads the file and predicts every row. `hw_overrides` (--set) apply to every chip; errors name
// the file, the row and the field.
PublishedHardware validate_published_hardware(const std::string& path, const std::vector<std::string>& hw_overrides = {});

}  // namespace orrery
