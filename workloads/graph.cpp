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
  for (auto& r : ranks) n += r.nodes.size();
  return n;
}

namespace {

std::string at(const std::string& where, const RankGraph& g, std::size_t i) {
  return where + ": rank " + std::to_string(g.rank) + " node " + std::to_string(i) + " (" + g.nodes[i].name + ")";
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
  }
  std::map<int, std::map<int, std::vector<CollSig>>> seq;  // group -> rank -> collectives
  std::map<std::tuple<int, int, std::int64_t>, long> p2p;  // (src, dst, tag) -> sends - recvs
  std::map<std::tuple<int, int, std::int64_t>, std::string> p2p_at;  // a node of each key
  for (auto& g : ranks) {
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      for (auto d : n.deps)
        if (d < 0 || static_cast<std::size_t>(d) >= i)
          throw Error(at(where, g, i) + ": depends on node " + std::to_string(d) + ", which does not come before it");
      if (!(n.time_s >= 0) || !(n.bytes >= 0) || n.time_s > 1e7 || n.bytes > 1e18)
        throw Error(at(where, g, i) + ": time and bytes must be finite and non-negative");
      if (n.kind == Kind::Collective) {
        if (n.group < 0 || static_cast<std::size_t>(n.group) >= groups.size())
          throw Error(at(where, g, i) + ": collective without a group");
        if (n.repeat < 1) throw Error(at(where, g, i) + ": repeat must be at least 1");
        const auto& members = groups[static_cast<std::size_t>(n.group)].ranks;
        if (std::find(members.begin(), members.end(), g.rank) == members.end())
          throw Error(at(where, g, i) + ": rank is not a member of its group");
        seq[n.group][g.rank].push_back({n.op, n.bytes, n.repeat});
      } else if (n.kind == Kind::Send || n.kind == Kind::Recv) {
        if (n.peer < 0 || n.peer >= world || n.peer == g.rank)
          throw Error(at(where, g, i) + ": peer " + std::to_string(n.peer) + " is not another rank of the job");
        std::tuple<int, int, std::int64_t> key =
            n.kind == Kind::Send ? std::make_tuple(g.rank, n.peer, n.tag) : std::make_tuple(n.peer, g.rank, n.tag);
        p2p[key] += n.kind == Kind::Send ? 1 : -1;
        p2p_at.emplace(key, at(where, g, i));
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
