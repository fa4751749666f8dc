// Capture bundle -> per-rank workload graph (see bundle_graph.h).
#include "workloads/bundle_graph.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <filesystem>
#include <map>
#include <set>

#include "sim/error.h"
#include "workloads/json_io.h"
#include "workloads/collective.h"

namespace orrery {

namespace {

using wg::Kind;
using wg::Node;

constexpr int kHostStream = -1;       // the rank's host thread(s), one issuing sequence
constexpr int kCommStream = 1 << 20;  // the simulated NCCL stream of --scale-dp
constexpr int kDefaultStream = 7;     // compute stream before any launch (CUDA's default)

coll::Op coll_op(const std::string& n) {
  if (n == "all_reduce") return coll::Op::AllReduce;
  if (n == "all_gather") return coll::Op::AllGather;
  if (n == "reduce_scatter") return coll::Op::ReduceScatter;
  if (n == "alltoall") return coll::Op::AllToAll;
  if (n == "broadcast") return coll::Op::Broadcast;
  if (n == "reduce") return coll::Op::Reduce;
  if (n == "send" || n == "recv") return coll::Op::SendRecv;
  return coll::Op::AllReduce;  // barrier, gather, scatter: latency-dominated; priced as all_reduce
}

// nccl-tests size convention of the fabric from one rank's message size.
double spec_bytes(const CollectiveCall& c, std::size_t n) {
  return c.name == "all_gather" ? c.bytes * static_cast<double>(n) : c.bytes;
}

bool is_p2p(const CollectiveCall& c) { return c.name == "send" || c.name == "recv"; }

// How the builder places the collectives of one rank.
struct CollPolicy {
  std::function<int(const CollectiveCall&)> group;  // Workload group index, -1: not simulated
  bool scale_dp = false;  // kernel-less collectives: async on kCommStream (DDP), else host-side
  bool origins = false;   // record where each node comes from (BundleGraph::origin)
};

// Builds one rank's graph by walking its host items as the host/GPU replay does.
class RankBuilder {
 public:
  RankBuilder(const CapturedRank& c, int rank, wg::Workload& w, const CollPolicy& p)
      : c_(c), st_(*c.step), w_(w), policy_(p) {
    g_.rank = rank;
  }

  wg::RankGraph build(double& host_busy, NodeOrigin* origin = nullptr) {
    reserve();
    host({}, 0, "step start");
    for (item_ = 0; item_ < static_cast<int>(st_.host.size()); ++item_) {
      item(st_.host[static_cast<std::size_t>(item_)]);
      if (policy_.origins) origin_.item_end.push_back(last_host_);
    }
    host_busy = host_busy_;
    if (origin) *origin = std::move(origin_);
    return std::move(g_);
  }

 private:
  const CapturedRank& c_;
  const CapturedStep& st_;
  wg::Workload& w_;
  const CollPolicy& policy_;
  wg::RankGraph g_;
  int last_host_ = -1, last_comm_ = -1, p2p_streams_ = 0, last_stream_ = -1;
  int item_ = -1, device_ = -1;  // the host item being built, the device activity being launched
  NodeOrigin origin_;
  double host_busy_ = 0;
  std::map<int, int> last_on_stream_;             // GPU stream -> last node issued there
  std::map<int, std::vector<int>> waits_;         // stream -> deps of its next node (events)
  std::map<std::int64_t, int> event_;             // cudaEventRecord correlation -> node, -1 done

  // Nodes to come (a hint): about two per runtime call (the host up to it, what it issues or
  // waits for) plus each item's end and collectives.
  void reserve() {
    std::size_t n = 1;
    for (auto& h : st_.host) n += 2 * h.calls.size() + 1 + h.collectives.size();
    g_.nodes.reserve(n);
    if (policy_.origins) {
      origin_.item.reserve(n);
      origin_.device.reserve(n);
      origin_.item_end.reserve(st_.host.size());
    }
  }
  int compute_stream() const { return last_stream_ >= 0 ? last_stream_ : kDefaultStream; }

  int add(Node n) {
    if (policy_.origins) {
      origin_.item.push_back(item_);
      origin_.device.push_back(device_);
    }
    g_.nodes.push_back(std::move(n));
    return static_cast<int>(g_.nodes.size()) - 1;
  }
  // Host time `dt` after the previous host point, also waiting for `deps`.
  void host(std::vector<std::int32_t> deps, double dt, Name name) {
    if (dt <= 0 && deps.empty() && last_host_ >= 0) return;
    Node n;
    n.kind = Kind::Delay;
    n.name = name;
    n.cls = "host";
    n.stream = kHostStream;
    n.time_s = std::max(0.0, dt);
    n.deps = std::move(deps);
    last_host_ = add(std::move(n));
  }
  // A node issued by the host now on GPU stream `s` (after launch latency).
  int issue(Node n, int s, std::vector<std::int32_t> extra = {}) {
    n.stream = s;
    n.issue_delay_s = c_.launch_latency_s;
    n.deps = {last_host_};
    for (int d : extra) n.deps.push_back(d);
    auto w = waits_.find(s);
    if (w != waits_.end()) {
      for (int d : w->second) n.deps.push_back(d);
      waits_.erase(w);
    }
    int k = add(std::move(n));
    last_on_stream_[s] = k;
    return k;
  }
  std::vector<std::int32_t> all_streams() const {
    std::vector<std::int32_t> d;
    for (auto& [s, k] : last_on_stream_) d.push_back(k);
    return d;
  }
  std::vector<std::int32_t> stream_deps(int s) const {
    auto it = last_on_stream_.find(s);
    return it == last_on_stream_.end() ? std::vector<std::int32_t>{} : std::vector<std::int32_t>{it->second};
  }
  Node collective(const CollectiveCall& cc, int gid) const {
    Node n;
    n.kind = Kind::Collective;
    n.name = "nccl:" + cc.name;
    n.cls = "communication";
    n.op = coll_op(cc.name);
    n.group = gid;
    n.bytes = spec_bytes(cc, w_.groups[static_cast<std::size_t>(gid)].ranks.size());
    return n;
  }
  std::map<int, int> kernels_of_collectives(const HostItem& h) const;
  void item(const HostItem& h);
  void call(const HostCall& cc, const std::map<int, int>& coll_of_device);
  void loose_collective(int ci);
};

// NCCL: a collective's kernel, launched inside its host item, does the work on the device.
std::map<int, int> RankBuilder::kernels_of_collectives(const HostItem& h) const {
  std::map<int, int> coll_of_device;
  std::size_t next = 0;
  for (auto& cc : h.calls)
    if (cc.kind == CallKind::Launch && (*c_.work)[static_cast<std::size_t>(cc.device)].cat == "communication" &&
        next < h.collectives.size())
      coll_of_device[cc.device] = h.collectives[next++];
  return coll_of_device;
}

void RankBuilder::item(const HostItem& h) {
  double cost = c_.host->item_cost(h);
  host_busy_ += cost;
  // DDP: the optimizer step waits for the last gradient reduction.
  if (policy_.scale_dp && last_comm_ >= 0 && h.name.rfind("Optimizer.step", 0) == 0) {
    waits_[compute_stream()].push_back(last_comm_);
    last_comm_ = -1;
  }
  std::map<int, int> coll_of_device = kernels_of_collectives(h);
  double frac = 0;
  for (auto& cc : h.calls) {
    host({}, std::max(0.0, cc.frac - frac) * cost, h.name);
    frac = std::max(frac, cc.frac);
    call(cc, coll_of_device);
  }
  std::vector<bool> on_device(h.collectives.size(), false);
  for (auto& [dev, ci] : coll_of_device)
    for (std::size_t k = 0; k < h.collectives.size(); ++k) on_device[k] = on_device[k] || h.collectives[k] == ci;
  for (std::size_t k = 0; k < h.collectives.size(); ++k)
    if (!on_device[k]) loose_collective(h.collectives[k]);
  Node end;  // the rest of the item (always a node: the next item starts after it)
  end.kind = Kind::Delay;
  end.name = h.name;
  end.cls = "host";
  end.stream = kHostStream;
  end.time_s = (1.0 - frac) * cost;
  last_host_ = add(std::move(end));
}

void RankBuilder::call(const HostCall& cc, const std::map<int, int>& coll_of_device) {
  double sync = c_.sync_cost_s;
  switch (cc.kind) {
    case CallKind::Launch: {
      const DeviceActivity& d = st_.device[static_cast<std::size_t>(cc.device)];
      const DeviceWork& dw = (*c_.work)[static_cast<std::size_t>(cc.device)];
      last_stream_ = d.stream;
      auto ci = coll_of_device.find(cc.device);
      int gid = ci == coll_of_device.end() ? -1 : policy_.group(st_.collectives[static_cast<std::size_t>(ci->second)]);
      Node n;
      if (gid >= 0) {
        n = collective(st_.collectives[static_cast<std::size_t>(ci->second)], gid);
      } else {
        n.kind = Kind::Compute;
        n.name = dw.name;
        n.cls = dw.cat;
        n.time_s = dw.standalone_s;
        n.sm_share = dw.sm_share;
        n.hbm_share = dw.hbm_share;
        n.h2d_share = dw.h2d_share;
        n.d2h_share = dw.d2h_share;
        n.graph_node = d.graph_node > 0;
      }
      device_ = cc.device;
      int k = issue(std::move(n), d.stream);
      device_ = -1;
      bool blocking = d.kind == DevKind::Memcpy && (cc.name == "cudaMemcpy" || (d.copy_kind == "DtoH" && d.copy_pageable));
      if (blocking) host({k}, sync, cc.name);
      return;
    }
    case CallKind::DeviceSync: return host(all_streams(), sync, cc.name);
    case CallKind::StreamSync: return host(cc.stream >= 0 ? stream_deps(cc.stream) : all_streams(), sync, cc.name);
    case CallKind::EventSync: {
      std::vector<std::int32_t> deps;
      if (cc.wait_on_record < 0) deps = all_streams();
      else if (auto e = event_.find(cc.wait_on_record); e != event_.end() && e->second >= 0) deps = {e->second};
      return host(std::move(deps), sync, cc.name);
    }
    case CallKind::EventRecord: {
      auto d = stream_deps(cc.stream >= 0 ? cc.stream : compute_stream());
      event_[cc.correlation] = d.empty() ? -1 : d[0];
      return;
    }
    case CallKind::StreamWaitEvent:
      if (cc.stream >= 0 && cc.wait_on_record >= 0)
        if (auto e = event_.find(cc.wait_on_record); e != event_.end() && e->second >= 0) waits_[cc.stream].push_back(e->second);
      return;
    case CallKind::Other: return;
  }
}

// A collective without a kernel: gloo (the host waits), isend/irecv (the step waits at its end),
// or, with --scale-dp, a DDP gradient reduction on the NCCL stream after the compute stream's work.
void RankBuilder::loose_collective(int ci) {
  const CollectiveCall& cc = st_.collectives[static_cast<std::size_t>(ci)];
  int gid = policy_.group(cc);
  if (gid < 0) return;
  Node n = collective(cc, gid);
  if (policy_.scale_dp) {
    last_comm_ = issue(std::move(n), kCommStream, stream_deps(compute_stream()));
    return;
  }
  n.deps = {last_host_};
  if (is_p2p(cc)) {
    n.stream = kHostStream - 1 - p2p_streams_++;
    add(std::move(n));
    return;
  }
  n.stream = kHostStream;
  last_host_ = add(std::move(n));
}

// ---- multi-rank: process groups and the cross-rank check ----

struct Sig {
  std::string what, op;
  double bytes = 0;
};

std::string rank_list(const std::vector<int>& v) {
  std::string s;
  for (int r : v) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

// Group key of a collective on rank r: the process group, or (src, dst) for point to point. A
// replica renames the trace's groups and peers through the rank map.
std::pair<std::string, std::vector<int>> group_key(const CapturedRank& cr, int r, const CollectiveCall& c) {
  const CapturedStep& st = *cr.step;
  const bool replica = cr.map && cr.map->of[static_cast<std::size_t>(r)] != r;
  if (is_p2p(c)) {
    int peer = replica ? c.peer + cr.map->offset[static_cast<std::size_t>(r)] : c.peer;
    int src = c.name == "send" ? r : peer, dst = c.name == "send" ? peer : r;
    return {"p2p", {src, dst}};
  }
  if (replica) {
    const RankMap::PG& g = cr.map->group_for(c.pg_name, r);
    return {"pg" + g.name, g.ranks};
  }
  auto it = st.process_groups.find(c.pg_name);
  std::vector<int> pg = it != st.process_groups.end() ? it->second : std::vector<int>{};
  if (pg.empty())
    for (int i = 0; i < st.world_size; ++i) pg.push_back(i);
  return {"pg" + c.pg_name, pg};
}

// Every member of every group reaches the same collectives in the same order (the executor
// matches them by order within the group); the errors name the collective as the capture does.
void check_matching(const std::vector<CapturedRank>& ranks, const std::string& bundle) {
  std::map<std::pair<std::string, std::vector<int>>, std::map<int, std::vector<Sig>>> seen;
  std::vector<std::pair<std::string, std::vector<int>>> order;
  int n = static_cast<int>(ranks.size());
  for (int r = 0; r < n; ++r) {
    const CapturedStep& st = *ranks[static_cast<std::size_t>(r)].step;
    for (auto& h : st.host)
      for (int ci : h.collectives) {
        const CollectiveCall& c = st.collectives[static_cast<std::size_t>(ci)];
        auto key = group_key(ranks[static_cast<std::size_t>(r)], r, c);
        for (int g : key.second)
          if (g < 0 || g >= n)
            throw make_error(bundle, "", c.name + " on process group " + c.pg_name + ": rank " + std::to_string(g) +
                                             " is outside the bundle's " + std::to_string(n) + " ranks");
        if (std::find(key.second.begin(), key.second.end(), r) == key.second.end())
          throw make_error(bundle, "", "rank " + std::to_string(r) + " calls " + c.name + " on process group " + c.pg_name +
                                           ", whose ranks (" + rank_list(key.second) + ") do not include it");
        auto& mine = seen[key][r];
        if (seen[key].size() == 1 && mine.empty()) order.push_back(key);
        std::string k = std::to_string(mine.size());
        std::string what = is_p2p(c) ? "send/recv #" + k + " from rank " + std::to_string(key.second[0]) + " to rank " +
                                           std::to_string(key.second[1])
                                     : c.name + " #" + k + " on process group " + c.pg_name;
        mine.push_back({what, c.name == "recv" ? "send" : c.name, c.bytes});
      }
  }
  auto err = [&](const std::string& s) { return make_error(bundle, "", s); };
  for (auto& key : order) {
    auto& by_rank = seen[key];
    std::size_t most = 0;
    for (auto& [r, v] : by_rank) most = std::max(most, v.size());
    for (std::size_t k = 0; k < most; ++k) {
      std::vector<int> reached, missing;
      const Sig* ref = nullptr;
      int ref_rank = -1;
      for (int r : key.second) {
        auto it = by_rank.find(r);
        if (it == by_rank.end() || it->second.size() <= k) {
          missing.push_back(r);
          continue;
        }
        reached.push_back(r);
        const Sig& s = it->second[k];
        if (!ref) {
          ref = &s;
          ref_rank = r;
        } else if (s.op != ref->op || std::fabs(s.bytes - ref->bytes) > 0.5) {
          throw err("mismatched collectives across ranks: " + ref->what + ": rank " + std::to_string(ref_rank) +
                    " calls " + ref->op + " of " + std::to_string(static_cast<long long>(ref->bytes)) + " B, rank " +
                    std::to_string(r) + " calls " + s.op + " of " + std::to_string(static_cast<long long>(s.bytes)) + " B");
        }
      }
      if (!missing.empty())
        throw err("collective never completed: " + ref->what + ": ranks " + rank_list(reached) + " reached it, ranks " +
                  rank_list(missing) + " never did");
    }
  }
}

// A replica's graph: the nodes of the rank it copies, its collectives on its own groups.
wg::RankGraph replica_graph(const std::vector<CapturedRank>& ranks, int r, wg::Workload& w) {
  const CapturedRank& me = ranks[static_cast<std::size_t>(r)];
  const CapturedRank& src = ranks[static_cast<std::size_t>(me.copy_of)];
  wg::RankGraph g;
  g.rank = r;
  g.copy_of = me.copy_of;
  std::map<int, int> gm;
  for (const CollectiveCall& c : me.step->collectives) {
    auto a = group_key(src, me.copy_of, c), b = group_key(me, r, c);
    int from = w.group(a.first, a.second), to = w.group(b.first, b.second);
    if (from != to) gm.emplace(from, to);
  }
  g.group_map.assign(gm.begin(), gm.end());
  return g;
}

}  // namespace

const RankMap::PG& RankMap::group_for(const std::string& pg, int r) const {
  auto g = by_name.find(pg);
  if (g == by_name.end()) throw make_error(file, "groups", "no process group named " + pg);
  auto it = by_family.find({groups[static_cast<std::size_t>(g->second)].family, r});
  if (it == by_family.end())
    throw make_error(file, "rank_map." + std::to_string(r),
                     "rank " + std::to_string(r) + " is in no group of the family of process group " + pg +
                         ": the rank map does not hold for it (emulate it: --ranks)");
  return groups[static_cast<std::size_t>(it->second)];
}

RankMap load_rank_map(const std::string& dir) {
  RankMap m;
  m.file = (std::filesystem::path(dir) / "ranks.json").string();
  nlohmann::json j = read_json_file(m.file);
  auto bad = [&](const std::string& field, const std::string& what) { return make_error(m.file, field, what); };
  if (!j.is_object() || !j.contains("world_size") || !j["world_size"].is_number_integer()) throw bad("world_size", "missing or not an integer");
  m.world = j["world_size"].get<int>();
  if (m.world < 1 || m.world > (1 << 20)) throw bad("world_size", "must be 1..1048576");
  if (!j.contains("rank_map") || !j["rank_map"].is_object()) throw bad("rank_map", "missing or not an object");
  if (!j.contains("groups") || !j["groups"].is_array()) throw bad("groups", "missing or not an array");
  std::set<int> distinct;
  for (int r = 0; r < m.world; ++r) {
    std::string f = "rank_map." + std::to_string(r);
    auto it = j["rank_map"].find(std::to_string(r));
    if (it == j["rank_map"].end() || !it->is_object() || !it->value("rank", nlohmann::json()).is_number_integer() ||
        !it->value("offset", nlohmann::json()).is_number_integer())
      throw bad(f, "missing or not {rank, offset}");
    int of = (*it)["rank"].get<int>(), off = (*it)["offset"].get<int>();
    if (of < 0 || of >= m.world || of + off != r) throw bad(f, "rank " + std::to_string(of) + " + offset " + std::to_string(off) + " is not " + std::to_string(r));
    m.of.push_back(of);
    m.offset.push_back(off);
    distinct.insert(of);
  }
  for (int d : distinct)
    if (m.of[static_cast<std::size_t>(d)] != d) throw bad("rank_map." + std::to_string(d), "a distinct rank must map onto itself");
  m.distinct.assign(distinct.begin(), distinct.end());
  // Families as the emulator forms them: consecutive groups of one size, pairwise disjoint.
  int fid = 0;
  std::size_t cur = 0;
  std::set<int> seen;
  for (std::size_t i = 0; i < j["groups"].size(); ++i) {
    const auto& g = j["groups"][i];
    std::string f = "groups[" + std::to_string(i) + "]";
    if (!g.is_object() || !g.value("name", nlohmann::json()).is_string() || !g.value("ranks", nlohmann::json()).is_array())
      throw bad(f, "missing name or ranks");
    RankMap::PG pg;
    pg.name = g["name"].get<std::string>();
    for (auto& x : g["ranks"]) {
      if (!x.is_number_integer() || x.get<int>() < 0 || x.get<int>() >= m.world) throw bad(f + ".ranks", "a rank outside 0.." + std::to_string(m.world - 1));
      pg.ranks.push_back(x.get<int>());
    }
    bool overlap = false;
    for (int r : pg.ranks) overlap = overlap || seen.count(r);
    if (i == 0 || pg.ranks.size() != cur || overlap) {
      ++fid;
      cur = pg.ranks.size();
      seen.clear();
    }
    seen.insert(pg.ranks.begin(), pg.ranks.end());
    pg.family = fid;
    if (!m.by_name.emplace(pg.name, static_cast<int>(m.groups.size())).second) throw bad(f + ".name", "process group " + pg.name + " appears twice");
    for (int r : pg.ranks) m.by_family[{fid, r}] = static_cast<int>(m.groups.size());
    m.groups.push_back(std::move(pg));
  }
  return m;
}

namespace {

// Symmetry: the images of group G (process group `pg` of the traces, "" for point to point) on
// the ranks that replicate its simulated members, as Group::mirrors. False when the group does
// not replicate as one: a member whose distinct rank is not a simulated member, images that
// differ by member or hold a simulated rank, a peer that does not shift with the offset.
bool mirror_group(wg::Group& G, const std::string& pg, const RankMap& m) {
  auto simulated = [&](int r) { return m.of[static_cast<std::size_t>(r)] == r; };
  std::multiset<int> classes;
  for (int x : G.ranks) classes.insert(m.of[static_cast<std::size_t>(x)]);
  for (int c : classes)
    if (std::find(G.ranks.begin(), G.ranks.end(), c) == G.ranks.end()) return false;
  std::set<std::vector<int>> first;
  bool have_first = false;
  for (int d : G.ranks) {
    if (!simulated(d)) continue;
    std::set<std::vector<int>> imgs;
    for (int r = 0; r < m.world; ++r) {
      if (m.of[static_cast<std::size_t>(r)] != d || r == d) continue;
      const int o = m.offset[static_cast<std::size_t>(r)];
      std::vector<int> img;
      if (pg.empty()) {
        for (int x : G.ranks) {
          int y = x + o;
          if (y < 0 || y >= m.world || m.of[static_cast<std::size_t>(y)] != x) return false;
          img.push_back(y);
        }
      } else {
        try {
          img = m.group_for(pg, r).ranks;
        } catch (const Error&) {
          return false;
        }
      }
      if (img == G.ranks) continue;
      std::multiset<int> ic;
      for (int y : img) {
        if (simulated(y)) return false;
        ic.insert(m.of[static_cast<std::size_t>(y)]);
      }
      if (ic != classes) return false;
      imgs.insert(img);
    }
    if (have_first && imgs != first) return false;
    first = std::move(imgs);
    have_first = true;
  }
  G.mirrors.assign(first.begin(), first.end());
  return true;
}

}  // namespace

BundleGraph multi_rank_graph(const std::vector<CapturedRank>& ranks, const std::string& bundle, bool symmetric,
                             bool origins) {
  check_matching(ranks, bundle);
  const RankMap* map = ranks.empty() ? nullptr : ranks[0].map;
  symmetric = symmetric && map;
  BundleGraph out;
  out.w.name = bundle;
  out.w.world = static_cast<int>(ranks.size());
  out.w.ranks.resize(ranks.size());
  out.host_busy_s.resize(ranks.size());
  if (origins) out.origin.resize(ranks.size());
  std::map<int, std::string> pg_of;  // group -> the traces' process group ("" point to point)
  // Ranks with a trace of their own first (groups numbered in rank order), then the replicas.
  for (int pass = 0; pass < 2; ++pass)
    for (int r = 0; r < out.w.world; ++r) {
      const CapturedRank& cr = ranks[static_cast<std::size_t>(r)];
      if ((cr.copy_of >= 0) != (pass == 1)) continue;
      if (pass == 1) {
        out.w.ranks[static_cast<std::size_t>(r)] = replica_graph(ranks, r, out.w);
        out.host_busy_s[static_cast<std::size_t>(r)] = out.host_busy_s[static_cast<std::size_t>(cr.copy_of)];
        continue;
      }
      CollPolicy p;
      p.origins = origins;
      p.group = [&out, &cr, &pg_of, r](const CollectiveCall& c) {
        auto key = group_key(cr, r, c);
        int gid = out.w.group(key.first, key.second);
        pg_of[gid] = is_p2p(c) ? "" : c.pg_name;
        return gid;
      };
      out.w.ranks[static_cast<std::size_t>(r)] = RankBuilder(cr, r, out.w, p)
                                                     .build(out.host_busy_s[static_cast<std::size_t>(r)],
                                                            origins ? &out.origin[static_cast<std::size_t>(r)] : nullptr);
    }
  if (symmetric) {  // one rank per class of replicas, when every group's images are provable
    bool ok = true;
    for (auto& [gid, pg] : pg_of) ok = ok && mirror_group(out.w.groups[static_cast<std::size_t>(gid)], pg, *map);
    if (ok) {
      std::vector<wg::RankGraph> own;
      std::vector<double> busy;
      std::vector<NodeOrigin> from;
      for (std::size_t r = 0; r < out.w.ranks.size(); ++r)
        if (out.w.ranks[r].copy_of < 0 && map->of[r] == static_cast<int>(r)) {
          own.push_back(std::move(out.w.ranks[r]));
          busy.push_back(out.host_busy_s[r]);
          if (origins) from.push_back(std::move(out.origin[r]));
        }
      out.w.ranks = std::move(own);
      out.host_busy_s = std::move(busy);
      out.origin = std::move(from);
      out.w.symmetric = true;
    } else {
      for (auto& g : out.w.groups) g.mirrors.clear();
    }
  }
  out.w.validate(bundle);
  return out;
}

BundleGraph scale_dp_graph(const std::vector<CapturedRank>& replicas, int dp, bool origins) {
  BundleGraph out;
  out.w.name = "scale-dp";
  out.w.world = dp;
  out.w.symmetric = static_cast<int>(replicas.size()) < dp;
  std::vector<int> all;
  for (int i = 0; i < dp; ++i) all.push_back(i);
  int gid = out.w.group("dp", all);
  CollPolicy p;
  p.scale_dp = true;
  p.origins = origins;
  p.group = [gid](const CollectiveCall& c) { return is_p2p(c) || c.name == "barrier" ? -1 : gid; };
  for (std::size_t r = 0; r < replicas.size(); ++r) {
    double busy = 0;
    if (origins) out.origin.emplace_back();
    out.w.ranks.push_back(RankBuilder(replicas[r], static_cast<int>(r), out.w, p).build(busy, origins ? &out.origin.back() : nullptr));
    out.host_busy_s.push_back(busy);
  }
  out.w.validate("--scale-dp");
  return out;
}

BundleGraph single_rank_graph(const CapturedRank& rank, bool origins) {
  BundleGraph out;
  out.w.name = "replay";
  out.w.world = 1;
  CollPolicy p;
  p.origins = origins;
  p.group = [](const CollectiveCall&) { return -1; };  // NCCL kernels run as captured; no fabric
  double busy = 0;
  if (origins) out.origin.emplace_back();
  out.w.ranks.push_back(RankBuilder(rank, 0, out.w, p).build(busy, origins ? &out.origin.back() : nullptr));
  out.host_busy_s.push_back(busy);
  out.w.validate("replay");
  return out;
}

}  // namespace orrery
