// Host threads, launch arrows and kernel args of a replayed capture (see bundle_timeline.h).
#include "workloads/bundle_timeline.h"

#include <algorithm>

namespace orrery {

BundleTimeline::BundleTimeline(Timeline& tl, const BundleGraph& g, const std::vector<CapturedRank>& ranks,
                               std::vector<std::string> gpu_names)
    : tl_(tl), g_(g), ranks_(ranks), gpu_names_(std::move(gpu_names)), state_(g.w.ranks.size()) {
  for (std::size_t i = 0; i < state_.size(); ++i) state_[i].end_of.assign(g.w.nodes_of(i).size(), 0);
}

void BundleTimeline::attach(ExecOptions& eo) {
  eo.timeline = &tl_;
  eo.node_args = [this](std::size_t i, int n) -> nlohmann::json {
    int d = origin(i).device[static_cast<std::size_t>(n)];
    return d < 0 ? nlohmann::json() : (*rank(i).work)[static_cast<std::size_t>(d)].args;
  };
  eo.node_done = [this](std::size_t i, int n, Ps start, Ps end) { node_done(i, n, start, end); };
}

const NodeOrigin& BundleTimeline::origin(std::size_t i) const {
  int c = g_.w.ranks[i].copy_of;
  return g_.origin[c >= 0 ? static_cast<std::size_t>(c) : i];
}

const CapturedRank& BundleTimeline::rank(std::size_t i) const {
  return ranks_[static_cast<std::size_t>(g_.w.ranks[i].rank)];
}

// "Host" (one GPU) or "Host (rank R)", a thread per captured host thread id.
int BundleTimeline::host_track(std::size_t i, int tid) {
  auto& tracks = state_[i].host_track;
  auto it = tracks.find(tid);
  if (it != tracks.end()) return it->second;
  const CapturedStep& st = *rank(i).step;
  const int r = g_.w.ranks[i].rank;
  auto name = st.thread_names.find(tid);
  std::string tn = name == st.thread_names.end() ? "" : name->second;
  std::string label = "host thread " + std::to_string(tid);
  if (!tn.empty()) label = tn.rfind("thread", 0) == 0 ? "host " + tn : label + " (" + tn + ")";
  std::string proc = st.world_size > 1 || r > 0 ? "Host (rank " + std::to_string(r) + ")" : "Host";
  return tracks[tid] = tl_.track(proc, label);
}

void BundleTimeline::node_done(std::size_t i, int n, Ps start, Ps end) {
  const wg::Node& node = g_.w.nodes_of(i)[static_cast<std::size_t>(n)];
  const NodeOrigin& o = origin(i);
  if (node.stream >= 0) {
    if (o.device[static_cast<std::size_t>(n)] >= 0) launch_arrow(i, n, start);
    return;
  }
  state_[i].end_of[static_cast<std::size_t>(n)] = end;
  int item = o.item[static_cast<std::size_t>(n)];
  if (item >= 0 && o.item_end[static_cast<std::size_t>(item)] == n) host_item(i, item, end);
}

// One slice per host item, from the end of the previous one (sync waits included).
void BundleTimeline::host_item(std::size_t i, int item, Ps end) {
  RankState& s = state_[i];
  const HostItem& h = rank(i).step->host[static_cast<std::size_t>(item)];
  nlohmann::json a = {{"host_cost_us", rank(i).host->item_cost(h) * 1e6}};
  tl_.slice(host_track(i, h.tid), h.name, "host", s.item_start, std::max(end, s.item_start), a);
  s.item_start = end;
}

// From the host at the launch (the end of the host node it was issued after) to the kernel's start.
void BundleTimeline::launch_arrow(std::size_t i, int n, Ps start) {
  const NodeOrigin& o = origin(i);
  const wg::Node& node = g_.w.nodes_of(i)[static_cast<std::size_t>(n)];
  int item = o.item[static_cast<std::size_t>(n)];
  if (item < 0 || node.deps.empty()) return;
  const HostItem& h = rank(i).step->host[static_cast<std::size_t>(item)];
  int from = host_track(i, h.tid);
  int to = tl_.track("GPU " + std::to_string(g_.w.ranks[i].rank) + " (" + gpu_names_[i] + ")",
                     "stream " + std::to_string(node.stream));
  tl_.flow(from, state_[i].end_of[static_cast<std::size_t>(node.deps[0])], to, start);
}

}  // namespace orrery
