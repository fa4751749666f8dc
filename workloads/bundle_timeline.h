#pragma once
// The Perfetto view of a replayed capture on the cluster executor, per simulated rank: its host
// thread(s), one slice per host item (the aten op or runtime call, from its start to its end,
// sync waits included) on a track per captured thread; a launch arrow from the host to each
// kernel on its stream; each kernel slice's args (op, class, measured time, FLOPs, bytes). The
// stream slices themselves are the executor's GPU model's. Plugs into ExecOptions::node_args and
// node_done (sim/executor.h). Kernel-free.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sim/executor.h"
#include "sim/timeline.h"
#include "workloads/bundle_graph.h"

namespace orrery {

class BundleTimeline {
 public:
  // ranks: every rank's costed capture, indexed by global rank (as the graph builders take it);
  // gpu_names[i]: the accelerator name of simulated rank i (g.w.ranks order), as the GPU model
  // names its process. g must have been built with origins.
  BundleTimeline(Timeline& tl, const BundleGraph& g, const std::vector<CapturedRank>& ranks,
                 std::vector<std::string> gpu_names);
  // Sets eo.timeline, eo.node_args and eo.node_done; this object must outlive the run.
  void attach(ExecOptions& eo);

 private:
  struct RankState {
    std::vector<Ps> end_of;  // host node -> when it ended (a launch's time)
    Ps item_start = 0;       // end of the previous host item
    std::map<int, int> host_track;  // captured thread id -> track
  };
  const NodeOrigin& origin(std::size_t i) const;
  const CapturedRank& rank(std::size_t i) const;
  int host_track(std::size_t i, int tid);
  void node_done(std::size_t i, int n, Ps start, Ps end);
  void host_item(std::size_t i, int item, Ps end);
  void launch_arrow(std::size_t i, int n, Ps start);

  Timeline& tl_;
  const BundleGraph& g_;
  const std::vector<CapturedRank>& ranks_;
  std::vector<std::string> gpu_names_;
  std::vector<RankState> state_;
};

}  // namespace orrery
