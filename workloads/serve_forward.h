#pragma once
// Forward-pass latency of a captured model (`orrery latency --bundle DIR`): the capture is
// replayed on the target accelerator (workloads/replay.h) and the kernels of its forward half
// (everything issued before the first *_backward op: the loss and its gradient seed included,
// a few small kernels) are summed as one inference forward pass, back to back on one stream.
#include <map>
#include <string>
#include <vector>

#include "workloads/replay.h"

namespace orrery::serve {

struct ForwardLatency {
  ReplayResult replay;
  std::size_t kernels = 0;        // forward kernels
  double device_s = 0;            // their simulated time on the target
  double gaps_s = 0;              // kernel_gap between them (CUDA-graph replay)
  double launch_bound_s = 0;      // kernels x launch_cost (eager launching from the host)
  double captured_s = 0;          // their measured time in the capture (on the capture's GPU)
  std::map<std::string, double> by_class;  // simulated, per kernel class
  std::vector<KernelRow> top;     // longest forward kernels (simulated)
  double graph_latency() const { return device_s + gaps_s; }
  double eager_latency() const { return std::max(graph_latency(), launch_bound_s); }
};

ForwardLatency forward_latency(const ReplayOptions& opt);

}  // namespace orrery::serve
