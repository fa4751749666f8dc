#pragma once
// The cluster executor: runs a per-rank workload graph (workloads/graph.h) on the hardware and
// fabric models. Every simulated rank is a GPU model (hw_models/gpu.h: streams, kernels sharing
// SMs and HBM through the fluid solver); every collective is decomposed by its NCCL algorithm
// into flows on the real topology (workloads/collective.h), and point-to-point transfers are
// flows too, so all traffic of all groups shares links max-min fairly, and collective kernels
// occupy SMs and HBM while they run. Used by `train`, `chakra-run`, `cluster` and multi-rank / --scale-dp `replay`.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "sim/components/component.h"
#include "sim/engine.h"
#include "sim/timeline.h"
#include "topology/topology.h"
#include "workloads/graph.h"

namespace orrery {

// Hardware of one simulated rank: its accelerator (preset + --gpu-set) and compute speed factor
// (--gpu-speed: every kernel runs `speed` times as fast).
struct RankHardware {
  const Accelerator* hw = nullptr;
  double speed = 1.0;
};

struct ExecOptions {
  Timeline* timeline = nullptr;      // per-rank tracks (one process per rank, streams as threads)
  bool collective_baseline = true;   // time each distinct collective alone (queueing figures)
  int hottest_links = 10;
  std::vector<int> placement;        // GPU of each rank of the job (--rank-map); empty = identity
  // Component models (docs/components.md): called with the cluster's GPUs, NICs and switches
  // before the run to attach models in place of the built-in ones.
  std::function<void(comp::Hub&)> components;
  // Front-end detail for the timeline (both optional): the args of GPU node n's slice on simulated
  // rank i (workload order), and a call as each node ends, host-side ones included, with the
  // times it started and ended (a capture replay draws its host threads and launch arrows).
  std::function<nlohmann::json(std::size_t i, int n)> node_args;
  std::function<void(std::size_t i, int n, Ps start, Ps end)> node_done;
};

// Per (group kind, op, size): how long the collectives took, how long they would take alone on
// an idle fabric, and how long members waited for the last one to arrive.
struct CollectiveStat {
  std::string group, op, algorithm;
  double bytes = 0;
  int members = 0;
  long count = 0;
  double total_s = 0;    // launch to end, summed
  double alone_s = 0;    // the same collectives alone on an idle fabric, summed (0: not computed)
  double wait_s = 0;     // first arrival to launch, summed (skew, stragglers)
  double queueing_s() const { return alone_s > 0 ? std::max(0.0, total_s - alone_s) : 0.0; }
};

struct LinkStat {
  std::string name;  // "a->b"
  std::string type;
  double bytes = 0;
  double utilization = 0;  // bytes / (bandwidth x makespan)
};

struct RankStats {
  int rank = 0;
  double end_s = 0;
  double gpu_busy_s = 0;  // time any stream of its GPU was running
  std::map<std::string, double> busy_by_class;  // node time per class (any stream)
  std::map<int, double> stream_busy_s;
  std::map<int, double> stream_end_s;
};

struct ExecResult {
  double makespan_s = 0;
  std::vector<RankStats> ranks;             // in workload order
  std::vector<CollectiveStat> collectives;  // sorted by total time
  std::vector<LinkStat> hottest_links;
  std::uint64_t events = 0;
  std::size_t nodes = 0, flows = 0;
  double wall_s = 0;
  nlohmann::json to_json() const;
  std::string text() const;  // per-collective breakdown and hottest links
};

// Runs `w` to completion on `sys` in `core` (idle). hw[i] is the hardware of w.ranks[i].
// Throws Error naming the rank and node on a deadlock (a collective some member never reaches).
ExecResult execute(const wg::Workload& w, const topo::System& sys, const std::vector<RankHardware>& hw,
                   EventCore& core, const ExecOptions& opt = {});

}  // namespace orrery
