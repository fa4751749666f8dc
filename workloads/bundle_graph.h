#pragma once
// Capture bundle -> per-rank workload graph (workloads/graph.h), so multi-rank capture replay and
// --scale-dp run on the one cluster executor (sim/executor.h). Kernel-free.
//
// Every `orrery replay` of a capture runs as such a graph (a single-rank capture too: one rank,
// its NCCL kernels as captured, no fabric). One rank's host/GPU model, as nodes:
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
// Emulated bundles (ranks.json, the rank map): each distinct rank's trace is parsed once; every
// rank that replicates it shares its graph's nodes (wg::RankGraph::copy_of) with its own groups.
#include <map>
#include <string>
#include <vector>

#include "hw_models/gpu.h"
#include "workloads/graph.h"
#include "workloads/host_cost.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"

namespace orrery {

// An emulated bundle's ranks.json (`orrery emulate`): every rank of the job replicates one
// distinct rank's trace (`of`): its process groups are the groups of the same family (groups
// created consecutively, equal in size and pairwise disjoint, as Megatron's loops create them)
// that hold it, its point-to-point peers are shifted by `offset` (= rank - of).
struct RankMap {
  int world = 0;
  std::vector<int> of, offset;              // per rank
  std::vector<int> distinct;                // ranks whose traces the bundle holds, ascending
  struct PG {
    std::string name;
    std::vector<int> ranks;
    int family = 0;
  };
  std::vector<PG> groups;                   // creation order
  std::map<std::string, int> by_name;
  std::map<std::pair<int, int>, int> by_family;  // (family, rank) -> group
  // Process group `pg` of the distinct trace as rank r issues it (its family's group holding r);
  // throws "FILE: rank_map.R: ..." when there is none.
  const PG& group_for(const std::string& pg, int r) const;
  std::string file;
};
// Reads DIR/ranks.json; errors name the file and field.
RankMap load_rank_map(const std::string& dir);

// One rank's capture, costed on its accelerator. A replica (`map` set, rank != the trace's own)
// issues the trace's collectives on its own groups and peers (RankMap::group_for, offset).
struct CapturedRank {
  const CapturedStep* step = nullptr;
  const std::vector<DeviceWork>* work = nullptr;  // per device activity (build_device_work)
  const HostCostModel* host = nullptr;
  double launch_latency_s = 0, sync_cost_s = 0;
  const RankMap* map = nullptr;
  int copy_of = -1;  // replica: the rank whose trace (and graph) it shares
};

// Where a rank's nodes come from, for the timeline (workloads/bundle_timeline.h): the host item
// each node belongs to and the device activity a launched node runs.
struct NodeOrigin {
  std::vector<std::int32_t> item;      // per node: host item index (-1: the step-start node)
  std::vector<std::int32_t> device;    // per node: device activity index (-1: none)
  std::vector<std::int32_t> item_end;  // per host item: its last node
};

struct BundleGraph {
  wg::Workload w;
  std::vector<double> host_busy_s;  // per simulated rank: modelled host dispatch time
  // Per simulated rank (w.ranks order) when the builder was asked for it (`origins`); a replica's
  // (copy_of >= 0) is empty: its nodes are those of the rank it copies.
  std::vector<NodeOrigin> origin;
};

// Multi-rank bundle: rank r of `ranks` is global rank r; a replica's graph shares the nodes of
// the rank it copies (wg::RankGraph::copy_of). Collectives are checked across ranks first: errors "BUNDLE: mismatched collectives across ranks: ..." and "BUNDLE: collective never
// completed: ...: ranks A reached it, ranks B never did".
// symmetric (a rank-mapped bundle): only the distinct ranks are simulated, each group's images
// on their replicas running in lockstep on the fabric (wg::Group::mirrors); when a group's images
// are not provable every rank is simulated (result: w.symmetric false).
BundleGraph multi_rank_graph(const std::vector<CapturedRank>& ranks, const std::string& bundle, bool symmetric = false,
                             bool origins = false);

// --scale-dp: `dp` data-parallel replicas of one captured rank. replicas[i] is the costed capture
// of simulated replica i (one entry: symmetric, the group spans all dp ranks).
BundleGraph scale_dp_graph(const std::vector<CapturedRank>& replicas, int dp, bool origins = false);

// A single-rank capture as captured: one rank on its GPU, its NCCL kernels (if any) run for their
// costed time as kernels, kernel-less collectives are not simulated (nothing to meet).
BundleGraph single_rank_graph(const CapturedRank& rank, bool origins = false);

}  // namespace orrery
