// The per-rank workload graph: group table and structural validation (see graph.h).
#include "workloads/graph.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "sim/error.h"

namespace orrery::wg {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Compute: return "compute";
    case Kind::Collective: return "collective";
    case Kind::Send: return "send";
    case Kind::Recv: return "recv";
    case Kind::Delay: return "delay";
    case Kind::Alloc: return "alloc";
    case Kind::Free: return "free";
  }
  return "?";
}

int Workload::group(const std::string& name, const std::vector<int>& ranks) {
  auto key = std::make_pair(name, ranks);
  auto it = group_index_.find(key);
  if (it != group_index_.end()) return it->second;
  groups.push_back(Group{name, ranks, {}});
  int id = static_cast<int>(groups.size()) - 1;
  group_index_.emplace(std::move(key), id);
  return id;
}

std::size_t Workload::node_count() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i) n += nodes_of(i).size();
  return n;
}

const std::vector<Node>& Workload::nodes_of(std::size_t i) const {
  const RankGraph& g = ranks[i];
  return g.copy_of >= 0 ? ranks[static_cast<std::size_t>(g.copy_of)].nodes : g.nodes;
}

int Workload::group_of(std::size_t i, const Node& n) const {
  const auto& m = ranks[i].group_map;
  auto it = std::lower_bound(m.begin(), m.end(), std::make_pair(n.group, -1));
  return it != m.end() && it->first == n.group ? it->second : n.group;
}

RankGraph Workload::materialized(std::size_t i) const {
  RankGraph g;
  g.rank = ranks[i].rank;
  g.nodes = nodes_of(i);
  for (Node& n : g.nodes)
    if (n.kind == Kind::Collective) n.group = group_of(i, n);
  return g;
}

namespace {

std::string at(const std::string& where, const RankGraph& g, const std::vector<Node>& nodes, std::size_t i) {
  return where + ": rank " + std::to_string(g.rank) + " node " + std::to_string(i) + " (" + nodes[i].name + ")";
}

// One collective as a member sees it: op, size, repeat.
using CollSig = std::tuple<coll::Op, double, int>;

}  // namespace

void Workload::validate(const std::string& where) const {
  std::set<int> simulated;
  for (auto& g : ranks) {
    if (g.rank < 0 || g.rank >= world)
      throw Error(where + ": rank " + std::to_string(g.rank) + ": outside the job's " + std::to_string(world) + " ranks");
    if (!simulated.insert(g.rank).second) throw Error(where + ": rank " + std::to_string(g.rank) + ": appears twice");
    if (g.copy_of >= 0 && (static_cast<std::size_t>(g.copy_of) >= ranks.size() || ranks[static_cast<std::size_t>(g.copy_of)].copy_of >= 0 ||
                           !g.nodes.empty()))
      throw Error(where + ": rank " + std::to_string(g.rank) + ": a replica must share the nodes of a rank that is no replica");
  }
  std::map<int, std::map<int, std::vector<CollSig>>> seq;  // group -> rank -> collectives
  std::map<std::tuple<int, int, std::int64_t>, long> p2p;  // (src, dst, tag) -> sends - recvs
  std::map<std::tuple<int, int, std::int64_t>, std::string> p2p_at;  // a node of each key
  for (std::size_t ri = 0; ri < ranks.size(); ++ri) {
    const RankGraph& g = ranks[ri];
    const std::vector<Node>& nodes = nodes_of(ri);
    const bool shared = g.copy_of >= 0;  // the nodes themselves were checked with their owner
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      if (!shared) {
        for (auto d : n.deps)
          if (d < 0 || static_cast<std::size_t>(d) >= i)
            throw Error(at(where, g, nodes, i) + ": depends on node " + std::to_string(d) + ", which does not come before it");
        if (!(n.time_s >= 0) || !(n.bytes >= 0) || n.time_s > 1e7 || n.bytes > 1e18)
          throw Error(at(where, g, nodes, i) + ": time and bytes must be finite and non-negative");
      }
      if (n.kind == Kind::Collective) {
        int gid = group_of(ri, n);
        if (gid < 0 || static_cast<std::size_t>(gid) >= groups.size())
          throw Error(at(where, g, nodes, i) + ": collective without a group");
        if (n.repeat < 1) throw Error(at(where, g, nodes, i) + ": repeat must be at least 1");
        const auto& members = groups[static_cast<std::size_t>(gid)].ranks;
        if (std::find(members.begin(), members.end(), g.rank) == members.end())
          throw Error(at(where, g, nodes, i) + ": rank is not a member of its group");
        seq[gid][g.rank].push_back({n.op, n.bytes, n.repeat});
      } else if (n.kind == Kind::Send || n.kind == Kind::Recv) {
        if (shared) throw Error(at(where, g, nodes, i) + ": a replica cannot share point-to-point nodes (peers differ)");
        if (n.peer < 0 || n.peer >= world || n.peer == g.rank)
          throw Error(at(where, g, nodes, i) + ": peer " + std::to_string(n.peer) + " is not another rank of the job");
        std::tuple<int, int, std::int64_t> key =
            n.kind == Kind::Send ? std::make_tuple(g.rank, n.peer, n.tag) : std::make_tuple(n.peer, g.rank, n.tag);
        p2p[key] += n.kind == Kind::Send ? 1 : -1;
        p2p_at.emplace(key, at(where, g, nodes, i));
      }
    }
  }
  for (auto& [gid, by_rank] : seq) {
    const Group& G = groups[static_cast<std::size_t>(gid)];
    const std::vector<CollSig>* ref = nullptr;
    int ref_rank = -1;
    for (int r : G.ranks) {
      if (!simulated.count(r)) continue;
      auto it = by_rank.find(r);
      static const std::vector<CollSig> none;
      const auto& s = it == by_rank.end() ? none : it->second;
      if (!ref) {
        ref = &s;
        ref_rank = r;
        continue;
      }
      if (s.size() != ref->size())
        throw Error(where + ": group " + G.name + " (" + std::to_string(G.ranks.size()) + " ranks): rank " +
                    std::to_string(r) + " reaches " + std::to_string(s.size()) + " collectives, rank " +
                    std::to_string(ref_rank) + " " + std::to_string(ref->size()));
      for (std::size_t k = 0; k < s.size(); ++k)
        if (s[k] != (*ref)[k])
          throw Error(where + ": group " + G.name + ": collective " + std::to_string(k) + " of rank " +
                      std::to_string(r) + " (" + coll::op_name(std::get<0>(s[k])) + ", " +
                      std::to_string(std::get<1>(s[k])) + " B) does not match rank " + std::to_string(ref_rank) +
                      "'s (" + coll::op_name(std::get<0>((*ref)[k])) + ", " +
                      std::to_string(std::get<1>((*ref)[k])) + " B)");
    }
  }
  for (auto& [key, count] : p2p) {
    auto [src, dst, tag] = key;
    if (count < 0)
      throw Error(p2p_at[key] + ": receive from rank " + std::to_string(src) + " (tag " + std::to_string(tag) +
                  ") never matched a send (" + std::to_string(-count) + " unmatched)");
    if (count > 0 && simulated.count(dst))
      throw Error(p2p_at[key] + ": send to rank " + std::to_string(dst) + " (tag " + std::to_string(tag) +
                  ") never matched a receive (" + std::to_string(count) + " unmatched)");
    if (count > 0 && !simulated.count(dst))
      throw Error(where + ": send " + std::to_string(src) + " -> " + std::to_string(dst) + ": the receiving rank is not in the workload");
  }
}

}  // namespace orrery::wg
