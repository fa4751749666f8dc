#pragma once
// Kernel-level validation of the hardware what-if (`orrery replay --mode transfer`): the same
// kernels measured on two GPUs (host_device_micro.json, section device_side, CUDA-graph replay)
// are matched by key, and each target time is predicted from the source measurement the way the
// transfer mode does it: source measured x (model time on target / model time on source)
// (hw_models/transfer.h). The errors against the target measurement are the error of the method at
// kernel level; the "no transfer" baseline (target predicted = source measured) shows what the
// model adds. Kernel-free: plain functions (`orrery validate --kernel-transfer`, tests).
//
// Keys and bytes (as `orrery calibrate` reads the same files):
//   gemm        dtype, m, n, k      FLOPs 2mnk, time Accelerator::gemm_time(m, n, k, dtype)
//   copy        bytes               memory time of 2 x bytes (read + write)
//   elementwise op, bytes_per_operand   memory time of 3 x (add) or 2 x (mul_scalar) bytes_per_operand
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"

namespace orrery {

struct KernelTransferRow {
  std::string kernel_class;  // gemm, copy, elementwise
  std::string key;           // "bf16 8192x8192x8192", "1048576 B", "add 4096 B/operand"
  std::string source_field;  // "device_side.gemm[3]" in the source file
  std::string target_field;  // and in the target file
  double flops = 0, bytes = 0;      // modelled work (bytes read + written)
  double source_ms = 0;             // measured on the source GPU
  double target_ms = 0;             // measured on the target GPU (ground truth)
  double source_model_ms = 0;       // model time on the source accelerator
  double target_model_ms = 0;       // model time on the target accelerator
  double predicted_ms = 0;          // source_ms x target_model_ms / source_model_ms
  double error_pct() const { return (predicted_ms - target_ms) / target_ms * 100.0; }
  double naive_error_pct() const { return (source_ms - target_ms) / target_ms * 100.0; }
};

// Per class and method ("transfer" or "no transfer"): errors of single kernels and of the class's
// summed time.
struct KernelTransferSummary {
  std::string kernel_class;
  std::string method;                // "transfer" | "no transfer"
  int count = 0;
  double median_abs_error_pct = 0;   // median over kernels of |error|
  double max_abs_error_pct = 0;
  double measured_ms = 0;            // summed target measured time
  double predicted_ms = 0;           // summed predicted time
  double sum_error_pct() const { return measured_ms > 0 ? (predicted_ms - measured_ms) / measured_ms * 100.0 : 0.0; }
};

struct KernelTransferResult {
  std::string source_path, target_path;
  std::string source_hw, target_hw;  // accelerator names
  std::vector<KernelTransferRow> rows;            // in source-file order
  std::vector<std::string> unmatched;             // "PATH: device_side.copy[2] (copy 4096 B): no match in OTHER"
  std::vector<KernelTransferSummary> summary;     // per class (gemm, copy, elementwise): transfer, no transfer
  // Transfer summaries whose |summed-time error| exceeds tolerance_pct (0: none checked).
  std::vector<const KernelTransferSummary*> above(double tolerance_pct) const;
  nlohmann::json to_json() const;
};

// Reads both files (host_device layout, section device_side; missing or malformed fields are
// orrery::Error naming the file and the field), matches kernels by key (the k-th occurrence of a key
// in one file with the k-th in the other; unmatched kernels are listed, not fatal) and predicts each
// target time with the transfer ratio from `source` to `target`.
KernelTransferResult validate_kernel_transfer(const std::string& source_micro, const std::string& target_micro,
                                              const Accelerator& source, const Accelerator& target);

}  // namespace orrery
