#pragma once
// Replay of a captured PyTorch step (capture bundle: et.json[.gz] + kineto.json[.gz] [+ measured.json])
// on a simulated accelerator. Public API used by `orrery replay` and `orrery validate`.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "hw_models/gpu.h"
#include "sim/cluster_options.h"
#include "workloads/interned_name.h"

namespace orrery {

struct CapturedStep;  // workloads/pytorch_trace.h

enum class ReplayMode { Measured, Roofline, Transfer };
ReplayMode parse_replay_mode(const std::string& s);
const char* replay_mode_name(ReplayMode m);

struct ReplayOptions {
  std::string bundle;                  // directory
  std::string hw = "h100";             // preset name or path
  std::string source_hw = "h100";      // for Transfer mode
  ReplayMode mode = ReplayMode::Measured;
  std::vector<std::string> overrides;  // "--set name=value" on the target hw
  std::string engine = "systemc";      // "systemc" or "event"
  std::string timeline_path;           // Perfetto/Chrome trace output ("" = none)
  std::string system = "dgx-h100";     // fabric for multi-rank bundles and --scale-dp
  int nodes = 0;                       // --nodes for parametric systems
  int scale_dp = 1;                    // grow a single-rank data-parallel capture to N ranks
  std::vector<std::string> system_overrides;  // --sys-set on the fabric (multi-rank, --scale-dp)
  // Precision what-if for the captured 16-bit GEMMs ("" = as captured; "fp8", "bf16", "fp16"): each
  // bf16/fp16 GEMM kernel's time is rescaled by its model time in that precision over its model
  // time as captured (roofline: the model time itself), operand traffic scaled by the element size;
  // fp32/tf32 GEMMs stay. The result is not compared with measured.json (nobody measured it).
  std::string gemm_precision;
  // Host dispatch table (workloads/host_cost.h): "auto" = the bundle's own host_dispatch.json when
  // the replay runs on the capture's GPU, else the preset's; "preset" = always the preset's.
  std::string host_table = "auto";
  // Multi-rank bundles and --scale-dp run on the cluster executor and take the cluster what-ifs
  // (--gpu-speed, --gpu-set, --fail, --degrade, --rank-map, --no-symmetry).
  ClusterOptions cluster;
};

// Per-kernel comparison row (simulated vs the trace's measured duration); names interned (1M rows
// of a large trace share a few hundred names).
struct KernelRow {
  Name name;
  Name kernel_class;          // gemm, attention, elementwise, reduction, communication, copy, optimizer, other
  Name op;                    // enclosing aten op
  double measured_s = 0;      // duration in the Kineto trace
  double simulated_s = 0;     // duration in the simulation
  double flops = 0, bytes = 0;
  Name bound;                 // "compute" | "memory" | "latency" | "issue" (first-principles: SIMT issue of an elementwise kernel)
  double achieved_fraction = 0;  // of the relevant peak, measured duration
  // Energy model: the time this kernel keeps the whole chip at full dynamic power, from its work
  // (max of its compute and memory roofline times on the target), the same in every mode; kernels
  // whose work is unknown: their measured (transferred) duration x the class's busy share.
  double active_s = 0;
};

struct ReplayResult {
  std::string bundle, bundle_name, hw, mode;
  std::vector<std::string> overrides;  // --set applied to the hardware
  double step_time_s = 0;
  bool has_measured = false;
  double measured_step_s = 0, measured_min_s = 0, measured_max_s = 0;
  double error_pct = 0;           // (predicted - measured) / measured * 100
  // A what-if (other hardware by --hw/--set/transfer, another --gemm-precision, a capture replayed
  // on a GPU other than the one it was taken on) predicts a run nobody measured: measured.json is
  // not its ground truth, no error is claimed. what_if_reason says what changed.
  bool what_if = false;
  std::string what_if_reason;
  std::string capture_device;     // Kineto deviceProperties[0].name ("" when absent)
  std::string truth_path;         // measured.json the error was computed against
  double gpu_busy_s = 0;
  double capture_duty = 1;       // GPU duty cycle of the profiled capture
  double clock_correction = 0;   // compute-bound slowdown applied (see clock_duty_slowdown)
  double host_busy_s = 0;         // modelled host dispatch time (sum over host ops)
  double peak_memory_bytes = 0, measured_peak_memory_bytes = 0;
  double energy_j = 0;            // one GPU over the step (power_idle + utilization x dynamic range)
  std::map<std::string, double> time_by_class_s;  // simulated kernel time per class
  std::vector<KernelRow> kernels;                 // every GPU activity
  double sim_wall_s = 0;          // wall time of the simulation itself
  int ranks = 1, scale_dp = 1;
  std::string system;
  std::vector<double> rank_step_s;  // multi-rank: each rank's step time
  double comm_time_s = 0;         // --scale-dp: simulated collective time (one rank)
  // Multi-rank and --scale-dp (cluster executor): ranks simulated (--scale-dp: 1 when the replicas
  // are symmetric), the executor's per-collective breakdown / hottest links (JSON and text).
  int simulated_ranks = 1;
  bool symmetric = false;
  nlohmann::json cluster;
  std::string cluster_text;
  std::size_t host_items = 0;     // host operations replayed
  std::size_t graph_launches = 0, graph_nodes = 0;  // CUDA graph launches in the capture, their GPU activities
  std::string host_table = "preset";  // the host table used: "preset" or the bundle file
  bool host_table_given = false;       // it came from --host-table FILE, not the bundle
  double host_speed_ratio = 1;    // that table's times over the preset's (median of shared entries)
  double host_autograd_record_s = 0;  // per forward op of a training step (workloads/host_cost.h)
  std::uint64_t events = 0;       // engine events processed
  nlohmann::json to_json() const; // full result (summary + top kernels + roofline view)
  nlohmann::json config;          // resolved configuration (hardware, options)
};

// Parses, links and simulates the bundle. Errors (missing/truncated/invalid files, ET and
// Kineto from different runs, unknown preset, zero bandwidth) throw orrery::Error naming the
// file and field.
ReplayResult replay_bundle(const ReplayOptions& opt);

// The replay's costing of one capture on `hw`: every device activity's standalone time and SM /
// HBM / host-link shares by opt.mode (transfer: from opt.source_hw), opt.gemm_precision applied,
// as replay_bundle feeds it to the capture's workload graph (workloads/bundle_graph.h).
std::vector<DeviceWork> cost_device_work(const CapturedStep& st, const Accelerator& hw, const ReplayOptions& opt);

// True when the GPU a capture was taken on (Kineto deviceProperties name, e.g. "NVIDIA H200") is
// the one preset `hw` describes (its model token, H100/H200/A100/B200..., appears in the preset's
// name or description). An empty device name matches (the trace did not say).
bool capture_device_matches(const std::string& device_name, const Accelerator& hw);
// Whether the replay prices host work with the capture's own host table (opt.host_table "auto", the
// bundle has one, and `hw` is the capture's GPU) or the table file opt.host_table names (any GPU).
bool use_bundle_host(const ReplayOptions& opt, const CapturedStep& st, const Accelerator& hw);
// Whether opt.host_table names a host_dispatch.json (not auto/preset); a missing file is an error.
bool host_table_file(const ReplayOptions& opt);

// Compares `r` with a measured.json taken on the target hardware (e.g. the H200 capture of the
// same workload, ground truth for an H100 -> H200 transfer): sets has_measured, measured_*,
// error_pct and truth_path. Errors name the file and field.
void compare_with_measured(ReplayResult& r, const std::string& measured_json_path);

// Fits the elementwise kernel-family efficiencies (unrolled_/strided_elementwise_efficiency) from
// the measured kernel durations of capture bundles (their Kineto kernels; measured.json is not
// read): each bundle is replayed in roofline mode with both set to 1, and for every memory-bound
// kernel of a family moving at least `min_bytes` the ratio simulated / measured is taken; the
// fitted efficiency is the median ratio over all bundles. "vectorized" is reported as the check
// of the memory curve itself (its median should be near 1).
struct KernelFamilyFit {
  std::string family;        // vectorized, unrolled, strided
  std::string parameter;     // preset parameter it sets ("" for vectorized)
  int kernels = 0;
  double median_ratio = 0;   // median of simulated / measured
  double time_ratio = 0;     // sum simulated / sum measured
  bool fitted = false;       // enough kernels (>= min_kernels)
};
std::vector<KernelFamilyFit> fit_kernel_families(const std::vector<std::string>& bundles, const std::string& hw,
                                                 const std::vector<std::string>& overrides = {},
                                                 double min_bytes = 4e6, int min_kernels = 20);

}  // namespace orrery
