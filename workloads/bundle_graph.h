#pragma once
// Capture bundle -> per-rank workload graph (workloads/graph.h), so multi-rank capture replay and
// --scale-dp run on the one cluster executor (sim/executor.h). Kernel-free.
//
// One rank's graph reproduces what the single-rank replay's host/GPU model does, as nodes:
//   host thread    Delay nodes on host stream -1: each host item's modelled dispatch cost, split
//                  at its runtime calls (the call's captured position inside the item)
//   kernels        Compute nodes on their captured stream, issued launch_latency after the host
//                  call (Node::issue_delay_s), with the standalone time and SM/HBM shares the
//                  replay mode computed (measured / roofline / transfer)
//   syncs          cudaDeviceSynchronize / StreamSynchronize / EventSynchronize / blocking copies:
//                  a Delay(sync_cost) on the host stream depending on the awaited kernels
//   events         cudaEventRecord + cudaStreamWaitEvent: a dependency of the waiting stream's
//                  next node on the last node of the recording stream
//   NCCL kernels   Collective nodes on their stream (op, bytes, process group), matched across
//                  ranks by order within the process group; point-to-point as a 2-rank group
//   CPU collective (gloo, no kernel) a Collective on the host stream: the host waits for it;
//                  isend/irecv without a kernel: on their own host-side stream (the step waits)
// --scale-dp N: the captured rank's gradient collectives become Collectives over all N data-
// parallel ranks on the fabric, on a communication stream after the compute stream's work, and
// the optimizer step waits for the last one (DDP). Symmetric replicas: one graph, N-rank group.
#include <string>
#include <vector>

#include "hw_models/gpu.h"
#include "workloads/graph.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

// One rank's capture, costed on its accelerator.
struct CapturedRank {
  const CapturedStep* step = nullptr;
  const std::vector<DeviceWork>* work = nullptr;  // per device activity (build_device_work)
  const HostCostModel* host = nullptr;
  double launch_latency_s = 0, sync_cost_s = 0;
};

struct BundleGraph {
  wg::Workload w;
  std::vector<double> host_busy_s;  // per simulated rank: modelled host dispatch time
};

// Multi-rank bundle: rank r of `ranks` is global rank r. Collectives are checked across ranks
// first: errors "BUNDLE: mismatched collectives across ranks: ..." and "BUNDLE: collective never
// completed: ...: ranks A reached it, ranks B never did".
BundleGraph multi_rank_graph(const std::vector<CapturedRank>& ranks, const std::string& bundle);

// --scale-dp: `dp` data-parallel replicas of one captured rank. replicas[i] is the costed capture
// of simulated replica i (one entry: symmetric, the group spans all dp ranks).
BundleGraph scale_dp_graph(const std::vector<CapturedRank>& replicas, int dp);

}  // namespace orrery
