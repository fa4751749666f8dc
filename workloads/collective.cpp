// Collectives: NCCL-style tuner (latency + bandwidth model) and flow-level execution.
#include "workloads/collective.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "sim/error.h"

namespace orrery::coll {

// ---------------------------------------------------------------- names

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s;
}
}  // namespace

Op parse_op(const std::string& s) {
  std::string l = lower(s);
  if (l == "allreduce") return Op::AllReduce;
  if (l == "allgather") return Op::AllGather;
  if (l == "reducescatter") return Op::ReduceScatter;
  if (l == "alltoall") return Op::AllToAll;
  if (l == "broadcast" || l == "bcast") return Op::Broadcast;
  if (l == "reduce") return Op::Reduce;
  if (l == "sendrecv" || l == "send" || l == "recv" || l == "p2p") return Op::SendRecv;
  throw make_error("--op", s, "unknown collective (all_reduce, all_gather, reduce_scatter, alltoall, broadcast, reduce, sendrecv)");
}

Algo parse_algo(const std::string& s) {
  std::string l = lower(s);
  if (l == "auto") return Algo::Auto;
  if (l == "ring") return Algo::Ring;
  if (l == "tree") return Algo::Tree;
  if (l == "nvls") return Algo::NVLS;
  if (l == "nvlstree") return Algo::NVLSTree;
  if (l == "collnet" || l == "collnetdirect" || l == "sharp") return Algo::CollNet;
  if (l == "pat") return Algo::PAT;
  if (l == "direct" || l == "alltoall") return Algo::Direct;
  if (l == "halvingdoubling" || l == "hd" || l == "rabenseifner") return Algo::HalvingDoubling;
  if (l == "torus" || l == "mesh") return Algo::Torus;
  throw make_error("--algo", s, "unknown algorithm (auto, ring, tree, nvls, nvls_tree, collnet, pat, direct, halving_doubling, torus)");
}

Proto parse_proto(const std::string& s) {
  std::string l = lower(s);
  if (l == "auto") return Proto::Auto;
  if (l == "ll") return Proto::LL;
  if (l == "ll128") return Proto::LL128;
  if (l == "simple") return Proto::Simple;
  throw make_error("--proto", s, "unknown protocol (auto, ll, ll128, simple)");
}

const char* op_name(Op o) {
  switch (o) {
    case Op::AllReduce: return "all_reduce";
    case Op::AllGather: return "all_gather";
    case Op::ReduceScatter: return "reduce_scatter";
    case Op::AllToAll: return "alltoall";
    case Op::Broadcast: return "broadcast";
    case Op::Reduce: return "reduce";
    case Op::SendRecv: return "sendrecv";
  }
  return "?";
}

const char* algo_name(Algo a) {
  switch (a) {
    case Algo::Auto: return "auto";
    case Algo::Ring: return "Ring";
    case Algo::Tree: return "Tree";
    case Algo::NVLS: return "NVLS";
    case Algo::NVLSTree: return "NVLSTree";
    case Algo::CollNet: return "CollNet";
    case Algo::PAT: return "PAT";
    case Algo::Direct: return "Direct";
    case Algo::HalvingDoubling: return "HalvingDoubling";
    case Algo::Torus: return "Torus";
  }
  return "?";
}

const char* proto_name(Proto p) {
  switch (p) {
    case Proto::Auto: return "auto";
    case Proto::LL: return "LL";
    case Proto::LL128: return "LL128";
    case Proto::Simple: return "Simple";
  }
  return "?";
}

double busbw_factor(Op o, int n) {
  if (n <= 1) return 1.0;
  switch (o) {
    case Op::AllReduce: return 2.0 * (n - 1) / n;
    case Op::AllGather:
    case Op::ReduceScatter:
    case Op::AllToAll: return static_cast<double>(n - 1) / n;
    default: return 1.0;
  }
}

// ---------------------------------------------------------------- tuner constants

const ParamSet& collective_params() {
  auto B = [](const char* n, const char* d, const char* s) { return ParamDecl{n, Unit::Bandwidth, d, s, true}; };
  auto L = [](const char* n, const char* d, const char* s) { return ParamDecl{n, Unit::Time, d, s, false}; };
  auto R = [](const char* n, const char* d, const char* s) { return ParamDecl{n, Unit::Ratio, d, s, true}; };
  static const ParamSet set(
      "collective",
      "collective tuner: NCCL's public cost model (src/graph/tuning.cc, NVIDIA/nccl) for SM90 + NVLink4 + IB",
      {ParamDecl{"channels", Unit::Count, "16", "NCCL channels (one SM each) for ring/tree/NVLS", true},
       B("nvlink_bw", "20.6 GB/s",
         "usable bandwidth per NVLink per direction (NCCL SM90_NVLINK_BW; SM100_NVLINK_BW 40.1 GB/s for "
         "Blackwell systems); when a system does not set it: nvlink_efficiency x the topology's nvlink_bandwidth"),
       R("nvlink_efficiency", "0.824", "usable fraction of an NVLink lane (NCCL's 20.6 GB/s of NVLink4's 25 GB/s)"),
       R("direct_link_efficiency", "1",
         "usable fraction of a direct GPU-to-GPU link (fabrics without NVSwitch: fully_connected, graph, torus, ring) "
         "that the collective library drives; 1: line rate (RCCL's GFX94X_XGMI_WIDTH, 48 GB/s of an MI300X xGMI "
         "link's 64 GB/s: 0.75)"),
       R("nvls_efficiency", "0.85", "NVLS in-switch reduction efficiency (NCCL nvlsEfficiency: Hopper 0.85, Blackwell 0.74)"),
       B("ll_max_bw_1node", "87.7 GB/s", "LL bandwidth ceiling, 1 node, Hopper (NCCL llMaxBws)"),
       B("ll_max_bw_2nodes", "22.5 GB/s", "LL bandwidth ceiling, 2 nodes"),
       B("ll_max_bw_multinode", "19 GB/s", "LL bandwidth ceiling, more than 2 nodes"),
       B("ring_ll128_bw_per_channel", "36.7 GB/s", "Ring LL128 ceiling per channel, Hopper (perChMaxRingLL128Bws)"),
       B("tree_bw_per_channel_1node", "38.7 GB/s", "Tree ceiling per channel, Hopper (perChMaxTreeBws)"),
       B("tree_bw_per_channel_2nodes", "41.4 GB/s", "Tree ceiling per channel, 2 nodes"),
       B("tree_bw_per_channel_multinode", "36 GB/s", "Tree ceiling per channel, more than 2 nodes"),
       B("tree_ll128_bw_per_channel_1node", "36.7 GB/s", "Tree LL128 ceiling per channel (perChMaxTreeLL128Bws)"),
       B("tree_ll128_bw_per_channel_2nodes", "36.7 GB/s", "Tree LL128 ceiling per channel, 2 nodes"),
       B("tree_ll128_bw_per_channel_multinode", "29 GB/s", "Tree LL128 ceiling per channel, more than 2 nodes"),
       R("ll128_efficiency", "0.92", "Ring LL128 payload efficiency (120/128 lines, NCCL 0.92)"),
       R("ll_efficiency_allreduce", "0.25", "Ring LL efficiency for all_reduce/reduce or multi-node (NCCL 1/4)"),
       R("ll_efficiency", "0.3333", "Ring LL efficiency otherwise (NCCL 1/3)"),
       R("tree_efficiency", "0.92", "Tree bandwidth efficiency (NCCL .92)"),
       R("tree_ll_efficiency", "0.2632", "Tree LL factor (NCCL 1/3.8)"),
       R("tree_ll128_efficiency_1node", "0.7778", "Tree LL128 factor on one node (NCCL 7/9)"),
       R("tree_ll128_efficiency", "0.9375", "Tree LL128 factor multi-node (NCCL 120/128)"),
       R("pat_efficiency", "0.75", "PAT bandwidth factor"),
       L("base_ring_ll", "6.6 us", "base latency Ring/LL (NCCL baseLat)"),
       L("base_ring_ll128", "14 us", "base latency Ring/LL128"),
       L("base_ring_simple", "8.4 us", "base latency Ring/Simple"),
       L("base_tree_ll", "6.8 us", "base latency Tree/LL"),
       L("base_tree_ll128", "14 us", "base latency Tree/LL128"),
       L("base_tree_simple", "0 us", "base latency Tree/Simple"),
       L("nvlink_ring_ll", "0.6 us", "per-step latency over NVLink, Ring/LL (NCCL hwLat)"),
       L("nvlink_ring_ll128", "1.9 us", "per-step latency over NVLink, Ring/LL128"),
       L("nvlink_ring_simple", "3.4 us", "per-step latency over NVLink, Ring/Simple"),
       L("nvlink_tree_ll", "0.6 us", "per-hop latency over NVLink, Tree/LL"),
       L("nvlink_tree_ll128", "1.25 us", "per-hop latency over NVLink, Tree/LL128"),
       L("nvlink_tree_simple", "28 us", "per-hop latency over NVLink, Tree/Simple"),
       L("nvlink_nvls", "23 us", "NVLS latency over NVLink"),
       L("nvlink_collnet", "3.7 us", "CollNet (direct) intra-node latency"),
       L("nvlink_pat", "4 us", "PAT per-step latency over NVLink"),
       L("pci_ring_ll", "1 us", "per-step latency over PCI/other links, Ring/LL"),
       L("pci_ring_ll128", "2.5 us", "per-step latency over PCI/other links, Ring/LL128"),
       L("pci_ring_simple", "5.7 us", "per-step latency over PCI/other links, Ring/Simple"),
       L("pci_tree_ll", "1 us", "per-hop latency over PCI, Tree/LL"),
       L("pci_tree_ll128", "1.9 us", "per-hop latency over PCI, Tree/LL128"),
       L("pci_tree_simple", "28 us", "per-hop latency over PCI, Tree/Simple"),
       L("net_ring_ll", "2.7 us", "per-step latency over the network, Ring/LL"),
       L("net_ring_ll128", "4 us", "per-step latency over the network, Ring/LL128"),
       L("net_ring_simple", "14 us", "per-step latency over the network, Ring/Simple"),
       L("net_tree_ll", "5 us", "per-hop latency over the network, Tree/LL"),
       L("net_tree_ll128", "8.5 us", "per-hop latency over the network, Tree/LL128"),
       L("net_tree_simple", "28 us", "per-hop latency over the network, Tree/Simple"),
       L("net_nvls", "18 us", "NVLS inter-node latency"),
       L("net_nvlstree", "14 us", "NVLSTree inter-node per-level latency"),
       L("net_collnet", "31 us", "CollNet inter-node latency (in-network reduction)"),
       L("net_pat", "14 us", "PAT per-step latency over the network"),
       L("net_overhead", "1 us", "network post overhead per step (x3 for Simple)"),
       ParamDecl{"collnet", Unit::Count, "0", "1: switches reduce in-network (SHARP); lets auto pick CollNet", false},
       ParamDecl{"nvls", Unit::Count, "1", "1: the NVSwitches reduce in-switch (NVLink SHARP, NVSwitch gen3 / Hopper and later); 0 for A100-generation NVSwitch", false}});
  static bool reg = (register_param_set(&set), true);
  (void)reg;
  return set;
}

namespace {

ParamValues resolve_tuning(const System& sys) {
  ParamValues v = collective_params().resolve(sys.collective, sys.source_path + ": collective");
  // The usable NVLink bandwidth follows the topology's links unless the system fixes it, so a
  // what-if on nvlink_bandwidth moves the collectives (25 GB/s lanes give NCCL's 20.6 GB/s).
  if (!(sys.collective.is_object() && sys.collective.contains("nvlink_bw")) && sys.topo.params.is_object() &&
      sys.topo.params.contains("nvlink_bandwidth")) {
    const auto& lane = sys.topo.params["nvlink_bandwidth"];  // resolved: "25 GB/s"
    double bw = lane.is_number() ? lane.get<double>()
                                 : parse_quantity(lane.get<std::string>(), Unit::Bandwidth, "topology.nvlink_bandwidth");
    v.set("nvlink_bw", v.get("nvlink_efficiency") * bw);
  }
  // NCCL runs at most 64 channels (MAXCHANNELS); more would only scale SM occupancy into nonsense.
  double ch = v.get("channels");
  if (!(ch == std::floor(ch) && ch >= 1 && ch <= 64)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.17g is not a whole number from 1 to 64", ch);
    throw make_error(sys.source_path + ": collective", "channels", buf);
  }
  return v;
}

enum class Hw { NVL, PCI, NET };

// ---------------------------------------------------------------- group

struct Group {
  std::vector<int> ranks;
  // Direct GPU-to-GPU links of a mesh (generic fabric): edge-disjoint Hamiltonian cycles of the
  // group, each run as a ring in both directions (at least two cycles, else empty), and the
  // slowest direct link when every pair of the group is linked (a full mesh; 0 otherwise).
  std::vector<std::vector<int>> mesh_cycles;
  double mesh_ring_bus = 0;  // per-rank bandwidth of those rings (bytes/s)
  double full_mesh_bw = 0;
  int n = 0;
  bool nvswitch = false;
  bool nvls = false;  // NVSwitch with in-switch reduction
  int nodes = 1, ppn = 1;
  std::vector<std::vector<int>> by_node;  // group indices per node, sorted by local index
  Hw intra = Hw::NVL;
  double intra_bus = 0;  // per-GPU bandwidth the tuner allows inside a node (bytes/s)
  double nic_bw = 0;     // per-GPU NIC bandwidth (bytes/s)
  bool fat = false;      // fat tree present (multi-node NVSwitch cluster)
  // The group is a sub-lattice of a torus/mesh (the whole of it, a line, a plane, every k-th chip
  // of a line...): per used dimension (k >= 2 coordinates), its size, the torus dimension, the
  // coordinates the group holds there (sorted), and whether they sit evenly around a wrapped line
  // (k >= 3), so that a ring over them uses each link direction once (Torus algorithm).
  std::vector<int> tdims;
  std::vector<int> tphys;
  std::vector<std::vector<int>> tcoords;
  std::vector<char> tfull;
};

// ---------------------------------------------------------------- mesh rings
// A Hamiltonian cycle of `adj` (neighbours in the order given) from vertex 0 by depth-first search,
// or empty when none is found within `budget` steps.
std::vector<int> hamiltonian_cycle(const std::vector<std::vector<int>>& adj, long budget) {
  const size_t n = adj.size();
  std::vector<int> path{0};
  std::vector<char> on(n, 0);
  std::vector<size_t> next(n, 0);
  on[0] = 1;
  for (long steps = 0; !path.empty() && steps < budget; ++steps) {
    int v = path.back();
    const auto& nb = adj[static_cast<size_t>(v)];
    if (path.size() == n && std::find(nb.begin(), nb.end(), 0) != nb.end()) return path;
    if (path.size() < n && next[static_cast<size_t>(v)] < nb.size()) {
      int w = nb[next[static_cast<size_t>(v)]++];
      if (on[static_cast<size_t>(w)]) continue;
      on[static_cast<size_t>(w)] = 1;
      next[static_cast<size_t>(w)] = 0;
      path.push_back(w);
    } else {
      on[static_cast<size_t>(v)] = 0;
      path.pop_back();
    }
  }
  return {};
}

// Edge-disjoint Hamiltonian cycles of the graph `linked` (n x n): a cycle found, its edges removed,
// again until none is found; neighbours in index order (seed 0) or in a fixed shuffle.
std::vector<std::vector<int>> disjoint_cycles(std::vector<std::vector<char>> linked, unsigned seed) {
  const size_t n = linked.size();
  std::vector<std::vector<int>> out;
  std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  auto rnd = [&state] {  // (splitmix64: deterministic)
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (;;) {
    std::vector<std::vector<int>> adj(n);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j)
        if (linked[i][j]) adj[i].push_back(static_cast<int>(j));
      for (size_t k = adj[i].size(); seed && k > 1; --k) std::swap(adj[i][k - 1], adj[i][rnd() % k]);
    }
    std::vector<int> c = hamiltonian_cycle(adj, 20000);
    if (c.empty()) return out;
    for (size_t k = 0; k < n; ++k) {
      size_t a = static_cast<size_t>(c[k]), b = static_cast<size_t>(c[(k + 1) % n]);
      linked[a][b] = linked[b][a] = 0;
    }
    out.push_back(std::move(c));
  }
}

// A full mesh's (n-1)/2 edge-disjoint Hamiltonian cycles in closed form (Walecki): vertex n-1 and
// the zigzag k, k+1, k-1, k+2, ... around the circle of the other n-1, for k = 0 .. (n-1)/2 - 1.
std::vector<std::vector<int>> walecki_cycles(int n) {
  std::vector<std::vector<int>> out;
  const int m = n - 1;
  for (int k = 0; k < (n - 1) / 2; ++k) {
    std::vector<int> c{m, k};
    for (int j = 1; j < m; ++j) {
      int step = (j + 1) / 2;
      c.push_back(((j % 2 ? k + step : k - step) % m + m) % m);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// The group's direct links (a mesh without switches: MI300X's Infinity Fabric, a Gaudi box): a
// full mesh's (n-1)/2 edge-disjoint Hamiltonian cycles (Walecki), or for a partial mesh as many as
// the search finds (the most over a few neighbour orders), each a ring in both directions, as
// RCCL/NCCL run one channel per ring (for a full mesh, or at least two cycles); and the slowest
// link when every pair is linked.
// Whether every member of the group has at least `need` direct links to other members: a scan
// of each member's links, no pair look-ups, stopping at the first member short of them.
bool members_linked(const topo::Topology& t, const Group& g, size_t need) {
  const size_t n = g.ranks.size();
  std::array<int, 128> m;
  for (size_t i = 0; i < n; ++i) m[i] = t.gpus[static_cast<size_t>(g.ranks[i])];
  std::sort(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n));
  for (size_t i = 0; i < n; ++i) {
    size_t d = 0;
    for (auto [e, end] = boost::out_edges(static_cast<size_t>(m[i]), t.g); e != end && d < need; ++e) {
      int w = t.links[static_cast<size_t>(t.g[*e].id)].dst;
      d += w != m[i] && std::binary_search(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n), w);
    }
    if (d < need) return false;
  }
  return true;
}

void find_mesh_rings(const topo::Topology& t, Group& g, double efficiency) {
  const size_t n = g.ranks.size();
  if (n < 3 || n > 128) return;
  // A Hamiltonian cycle takes two links of every member, two disjoint ones four: with fewer, and
  // not a full mesh (n-1 each), there is nothing to find (a torus line, a plain ring).
  if (!members_linked(t, g, std::min<size_t>(4, n - 1))) return;
  std::vector<std::vector<char>> linked(n, std::vector<char>(n, 0));
  std::vector<std::vector<double>> bw(n, std::vector<double>(n, 0));
  bool full = true;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      if (i == j) continue;
      int a = t.gpus[static_cast<size_t>(g.ranks[i])], b = t.gpus[static_cast<size_t>(g.ranks[j])];
      int l1 = t.link_between(a, b), l2 = t.link_between(b, a);
      linked[i][j] = l1 >= 0 && l2 >= 0;
      if (linked[i][j])
        bw[i][j] = efficiency * std::min(t.links[static_cast<size_t>(l1)].bandwidth, t.links[static_cast<size_t>(l2)].bandwidth);
      full = full && linked[i][j];
    }
  if (full) {
    g.full_mesh_bw = 1e300;
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < n; ++j)
        if (i != j) g.full_mesh_bw = std::min(g.full_mesh_bw, bw[i][j]);
  }
  std::vector<std::vector<int>> best = full ? walecki_cycles(static_cast<int>(n)) : std::vector<std::vector<int>>{};
  for (unsigned seed = 0; seed < 8 && best.size() < (n - 1) / 2; ++seed) {
    auto c = disjoint_cycles(linked, seed);
    if (c.size() > best.size()) best = std::move(c);
  }
  // (a plain ring topology keeps its single ring in index order, one direction)
  if (best.empty() || (best.size() < 2 && !full)) return;
  g.mesh_cycles = best;
  for (auto& c : best) {
    double slowest = 1e300;
    for (size_t k = 0; k < n; ++k) slowest = std::min(slowest, bw[static_cast<size_t>(c[k])][static_cast<size_t>(c[(k + 1) % n])]);
    g.mesh_ring_bus += 2 * slowest;  // both directions
  }
}

// Fills g's torus fields when its ranks are exactly the product of one coordinate set per torus
// dimension (ranks are laid out first dimension fastest, as topology/ builds them); O(n x D).
void torus_sublattice(const topo::Topology::Torus& tor, Group& g) {
  const auto& dims = tor.dims;
  std::vector<std::vector<char>> has(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) has[d].assign(static_cast<size_t>(dims[d]), 0);
  for (int r : g.ranks)
    for (size_t d = 0; d < dims.size(); ++d) {
      has[d][static_cast<size_t>(r % dims[d])] = 1;
      r /= dims[d];
    }
  std::vector<std::vector<int>> sets(dims.size());
  double product = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    for (int c = 0; c < dims[d]; ++c)
      if (has[d][static_cast<size_t>(c)]) sets[d].push_back(c);
    product *= static_cast<double>(sets[d].size());
  }
  if (product != static_cast<double>(g.n) || g.n < 2) return;  // distinct ranks: n == product means all of it
  for (size_t d = 0; d < dims.size(); ++d) {
    const auto& c = sets[d];
    const int k = static_cast<int>(c.size()), K = dims[d];
    if (k < 2) continue;
    bool even = tor.wrap && k >= 3 && K % k == 0;
    for (int i = 0; even && i < k; ++i) even = c[static_cast<size_t>(i)] == c[0] + i * (K / k);
    g.tdims.push_back(k);
    g.tphys.push_back(static_cast<int>(d));
    g.tcoords.push_back(c);
    g.tfull.push_back(even);
  }
}

Group make_group(const System& sys, const CollectiveSpec& spec, const ParamValues& T) {
  const topo::Topology& t = sys.topo;
  Group g;
  if (spec.ranks.empty()) {
    for (int r = 0; r < t.num_gpus(); ++r) g.ranks.push_back(r);
  } else {
    g.ranks = spec.ranks;
  }
  std::set<int> seen;
  for (int r : g.ranks) {
    if (r < 0 || r >= t.num_gpus())
      throw make_error("group", "rank " + std::to_string(r),
                       "does not exist (system " + sys.name + " has " + std::to_string(t.num_gpus()) + " GPUs)");
    if (!seen.insert(r).second) throw make_error("group", "rank " + std::to_string(r), "appears twice in the group");
  }
  g.n = static_cast<int>(g.ranks.size());
  if (!(spec.bytes >= 0) || !std::isfinite(spec.bytes)) throw make_error("collective", "bytes", "must be a non-negative size");
  if ((spec.op == Op::Broadcast || spec.op == Op::Reduce) && (spec.root < 0 || spec.root >= g.n))
    throw make_error("collective", "root", "root " + std::to_string(spec.root) + " is not in the group of " + std::to_string(g.n));
  g.nvswitch = t.type == "nvswitch";
  g.nvls = g.nvswitch && T.get("nvls") > 0;  // NVLS needs in-switch reduction (NVSwitch gen3)
  std::map<int, int> node_index;
  std::vector<std::vector<std::pair<int, int>>> tmp;
  for (int i = 0; i < g.n; ++i) {
    int node = g.nvswitch ? t.node_of_rank(g.ranks[static_cast<size_t>(i)]) : 0;
    auto it = node_index.find(node);
    if (it == node_index.end()) {
      it = node_index.emplace(node, static_cast<int>(tmp.size())).first;
      tmp.emplace_back();
    }
    tmp[static_cast<size_t>(it->second)].push_back({t.local_of_rank(g.ranks[static_cast<size_t>(i)]), i});
  }
  for (auto& v : tmp) {
    std::sort(v.begin(), v.end());
    std::vector<int> idx;
    for (auto& p : v) idx.push_back(p.second);
    g.ppn = std::max(g.ppn, static_cast<int>(idx.size()));
    g.by_node.push_back(idx);
  }
  g.nodes = static_cast<int>(g.by_node.size());
  if (g.nvswitch) {
    g.intra = Hw::NVL;
    g.intra_bus = t.params.contains("nvlinks_per_gpu") ? t.params["nvlinks_per_gpu"].get<double>() * T.get("nvlink_bw") : 0;
    g.fat = t.fat && !t.fat->leaf.empty();
    if (g.fat) {
      int e = t.fat->nic_of_gpu[0];
      int nicv = t.fat->nic[static_cast<size_t>(e)], leafv = t.fat->leaf[static_cast<size_t>(e / t.fat->down)];
      int l1 = t.link_between(t.gpus[0], nicv), l2 = t.link_between(nicv, leafv);
      g.nic_bw = std::min(t.links[static_cast<size_t>(l1)].bandwidth, t.links[static_cast<size_t>(l2)].bandwidth);
    }
  } else {
    // Generic fabric: one "node"; a ring uses one link per GPU.
    int v = t.gpus[0];
    double best = 0;
    std::string type;
    for (auto [e, end] = boost::out_edges(static_cast<size_t>(v), t.g); e != end; ++e) {
      const auto& l = t.links[static_cast<size_t>(t.g[*e].id)];
      if (l.bandwidth > best) {
        best = l.bandwidth;
        type = l.type;
      }
    }
    g.intra_bus = best * T.get("direct_link_efficiency");
    g.intra = (type == "nvlink" || type == "ici") ? Hw::NVL : type == "pcie" ? Hw::PCI : Hw::NET;
    if (t.torus) torus_sublattice(*t.torus, g);
    // (meshes of direct links are described as such; a torus's subgroups are its sub-lattices
    // above, a dragonfly's GPUs hang off routers: not searched, a per-group cost on every mirror)
    if (t.type == "fully_connected" || t.type == "graph") find_mesh_rings(t, g, T.get("direct_link_efficiency"));
  }
  return g;
}

// Torus algorithm: the buffer is cut into one part per dimension, each part into two halves
// (one per direction). Part j reduce-scatters along the dimensions in the order j, j+1, ...
// (then all-gathers back in reverse), so in every phase each dimension carries exactly one part
// in both directions: all 2D links of a rank are busy at once. Phase q of part j works on
// dimension torus_dim(j, q) with the part's shard at that point.
struct TorusPhase {
  int dim = 0;          // index into Group::tdims
  double bytes = 0;     // per rank, per direction, over the whole phase
};
std::vector<std::vector<TorusPhase>> torus_schedule(const Group& g, Op op, double S) {
  const int D = static_cast<int>(g.tdims.size());
  double N = 1;
  for (int k : g.tdims) N *= k;
  std::vector<std::vector<TorusPhase>> parts(static_cast<size_t>(D));
  for (int j = 0; j < D; ++j) {
    std::vector<int> order;
    for (int q = 0; q < D; ++q) order.push_back((j + q) % D);
    auto& v = parts[static_cast<size_t>(j)];
    if (op != Op::AllGather) {  // reduce-scatter: the shard shrinks by k at each dimension
      double sh = S / D / 2;
      for (int d : order) {
        double k = g.tdims[static_cast<size_t>(d)];
        v.push_back({d, sh * (k - 1) / k});
        sh /= k;
      }
    }
    if (op != Op::ReduceScatter) {  // all-gather: the shard grows by k (after a reduce-scatter: in reverse)
      if (op == Op::AllReduce) std::reverse(order.begin(), order.end());
      double sh = S / D / 2 / N;
      for (int d : order) {
        double k = g.tdims[static_cast<size_t>(d)];
        v.push_back({d, sh * (k - 1)});
        sh *= k;
      }
    }
  }
  return parts;
}
// Per-rank bandwidth one direction of a dimension's ring gets: the link where the group's
// coordinates sit evenly around a wrapped line of it (k >= 3); half of it on a mesh line, a 2-ring
// or a stretch of a line (the closing leg crosses back: both directions' rings share each link).
double torus_dir_bw(const Group& g, int d) {
  return g.intra_bus * (g.tfull[static_cast<size_t>(d)] ? 1.0 : 0.5);
}

int log2i(long v) {
  int r = 0;
  while (v >= 2) {
    v >>= 1;
    ++r;
  }
  return r;
}
int log2ceil(long v) {
  int r = 0;
  while ((1L << r) < v) ++r;
  return r;
}

// Latency (seconds) tables. The names are fixed strings (no key built per lookup: a collective's
// choice of algorithm and protocol reads them for every candidate).
int proto_index(Proto p) { return p == Proto::LL ? 0 : p == Proto::LL128 ? 1 : 2; }
double hw_lat(const ParamValues& T, Hw hw, Algo a, Proto p) {
  static const char* const kTree[3][3] = {{"nvlink_tree_ll", "nvlink_tree_ll128", "nvlink_tree_simple"},
                                          {"pci_tree_ll", "pci_tree_ll128", "pci_tree_simple"},
                                          {"net_tree_ll", "net_tree_ll128", "net_tree_simple"}};
  static const char* const kRing[3][3] = {{"nvlink_ring_ll", "nvlink_ring_ll128", "nvlink_ring_simple"},
                                          {"pci_ring_ll", "pci_ring_ll128", "pci_ring_simple"},
                                          {"net_ring_ll", "net_ring_ll128", "net_ring_simple"}};
  int h = hw == Hw::NVL ? 0 : hw == Hw::PCI ? 1 : 2;
  switch (a) {
    case Algo::Tree: return T.get(kTree[h][proto_index(p)]);
    case Algo::NVLS: return hw == Hw::NET ? T.get("net_nvls") : T.get("nvlink_nvls");
    case Algo::NVLSTree: return hw == Hw::NET ? T.get("net_nvlstree") : T.get("nvlink_nvls");
    case Algo::CollNet: return hw == Hw::NET ? T.get("net_collnet") : T.get("nvlink_collnet");
    case Algo::PAT: return hw == Hw::NET ? T.get("net_pat") : T.get("nvlink_pat");
    default: return T.get(kRing[h][proto_index(p)]);
  }
}
double base_lat(const ParamValues& T, Algo a, Proto p) {
  static const char* const kTree[3] = {"base_tree_ll", "base_tree_ll128", "base_tree_simple"};
  static const char* const kRing[3] = {"base_ring_ll", "base_ring_ll128", "base_ring_simple"};
  if (a == Algo::Tree) return T.get(kTree[proto_index(p)]);
  if (a == Algo::NVLS || a == Algo::NVLSTree || a == Algo::CollNet || a == Algo::PAT) return 0;
  return T.get(kRing[proto_index(p)]);
}

// NCCL's tree correction for medium sizes (powers of two from 64 B to 256 MB).
double tree_correction(Proto p, double bytes) {
  static const double f[3][23] = {
      {1.0, 1.0, 1.0, 1.0, .9, .8, .7, .7, .7, .7, .6, .5, .4, .4, .5, .6, .7, .8, .9, 1.0, 1.0, 1.0, 1.0},
      {1.0, 1.0, 1.0, 1.0, 1.0, .9, .8, .8, .8, .7, .6, .6, .6, .6, .6, .6, .8, .9, .9, .9, .9, 1.0, 1.0},
      {.9, .9, .9, .9, .9, .9, .9, .8, .7, .6, .6, .5, .5, .5, .5, .6, .7, .8, .7, .7, .8, .9, .9}};
  int ls = log2i(static_cast<long>(bytes) >> 6);
  if (ls >= 23) return 1.0;
  return f[proto_index(p)][ls];
}

// Ring-style bandwidth with protocol factors applied (bytes/s per rank).
double ring_proto_bw(const ParamValues& T, const Group& g, Op op, Proto p, double bus) {
  double nch = T.get("channels");
  if (p == Proto::LL) {
    double llmax = g.nodes == 1 ? T.get("ll_max_bw_1node") : g.nodes == 2 ? T.get("ll_max_bw_2nodes") : T.get("ll_max_bw_multinode");
    double f = (g.nodes > 1 || op == Op::AllReduce || op == Op::Reduce) ? T.get("ll_efficiency_allreduce") : T.get("ll_efficiency");
    return std::min(llmax, bus * f);
  }
  if (p == Proto::LL128) return std::min(bus * T.get("ll128_efficiency"), nch * T.get("ring_ll128_bw_per_channel"));
  return bus;
}

struct Plan {
  bool ok = false;
  Choice c;
};

// The per-rank bus bandwidth of ring/tree-like algorithms (NVLink inside, NICs across nodes).
double ring_bus(const Group& g) {
  if (g.nodes > 1) return std::min(g.intra_bus, g.ppn * g.nic_bw);
  return g.mesh_ring_bus > 0 ? g.mesh_ring_bus : g.intra_bus;
}

bool is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

// What every algorithm's estimate reads: the tuner table, the group, the collective, protocol and
// size, the channels, one hop's latency inside a node and across the network, the base latency.
struct PlanCtx {
  const ParamValues& T;
  const Group& g;
  Op op;
  Algo a;
  Proto p;
  double S;
  double nch, intraLat, interLat, base;
};

// Ring: a pipelined ring (broadcast/reduce: one chain); NVLink inside, NICs across nodes.
bool time_ring(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  const int n = g.n;
  if (op == Op::AllToAll || op == Op::SendRecv) return false;
  double bus = ring_proto_bw(T, g, op, p, ring_bus(g));
  if (op == Op::Broadcast || op == Op::Reduce) {
    lat = base + (g.nodes > 1 ? interLat : intraLat);
    bwt = S / bus;
    return true;
  }
  int nsteps = op == Op::AllReduce ? 2 * (n - 1) : n - 1;
  int ninter = op == Op::AllReduce ? (g.nodes > 1 ? 2 * g.nodes : 0) : g.nodes - 1;
  ninter = std::min(ninter, nsteps);
  double il = intraLat;
  if (g.nodes > 1) il = std::max(il, T.get("net_overhead") * (p == Proto::Simple ? 3 : 1));
  lat = base + (nsteps - ninter) * il + ninter * interLat;
  if (p == Proto::Simple && g.nodes > 1 && op == Op::AllReduce && S / (nch * n) >= 64) lat *= 1.4;  // NCCL's ring plateau fit
  double per_rank = (op == Op::AllReduce ? 2.0 : 1.0) * (n - 1) / n * S;
  bwt = per_rank / bus;
  return true;
}

// Tree (all-reduce): a double binary tree across nodes, a chain inside, with NCCL's medium-size correction.
bool time_tree(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  if (op != Op::AllReduce) return false;
  double perch = g.nodes == 1 ? T.get("tree_bw_per_channel_1node") : g.nodes == 2 ? T.get("tree_bw_per_channel_2nodes") : T.get("tree_bw_per_channel_multinode");
  // (its chains run over single links: a mesh's rings do not speed it up)
  double chain = g.nodes == 1 && g.mesh_ring_bus > 0 ? g.intra_bus : ring_bus(g);
  double bus = std::min(chain * T.get("tree_efficiency"), nch * perch);
  if (p == Proto::LL) {
    double llmax = g.nodes == 1 ? T.get("ll_max_bw_1node") : g.nodes == 2 ? T.get("ll_max_bw_2nodes") : T.get("ll_max_bw_multinode");
    bus = std::min(bus * T.get("tree_ll_efficiency"), llmax);
  } else if (p == Proto::LL128) {
    double perll = g.nodes == 1 ? T.get("tree_ll128_bw_per_channel_1node") : g.nodes == 2 ? T.get("tree_ll128_bw_per_channel_2nodes") : T.get("tree_ll128_bw_per_channel_multinode");
    bus = std::min(bus * (g.nodes == 1 ? T.get("tree_ll128_efficiency_1node") : T.get("tree_ll128_efficiency")), nch * perll);
  }
  lat = base + 2 * ((g.ppn - 1) * intraLat + log2i(g.nodes) * interLat);
  bwt = S / (0.5 * bus * tree_correction(p, S));
  return true;
}

// NVLS: NVLink SHARP in the switch, one node.
bool time_nvls(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  const int n = g.n;
  if (!g.nvls || g.nodes != 1 || n < 2) return false;
  if (op != Op::AllReduce && op != Op::AllGather && op != Op::ReduceScatter) return false;
  double bus = g.intra_bus * T.get("nvls_efficiency");
  double link = op == Op::AllReduce ? S * (1.0 + 1.0 / n) : S;  // per-GPU NVLink bytes each way
  lat = intraLat;
  bwt = link / bus;
  return true;
}

// NVLS inside nodes and a tree across them (fat fabrics, all-reduce).
bool time_nvls_tree(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  if (!g.nvls || g.nodes < 2 || op != Op::AllReduce || !g.fat) return false;
  double bus = g.intra_bus * T.get("nvls_efficiency");
  double intra = S * (1.0 + 1.0 / g.ppn) / bus;
  double inter = S / g.ppn * (g.nodes > 2 ? 2.0 : 1.0) / g.nic_bw;
  lat = hw_lat(T, Hw::NVL, a, p) + 2 * log2i(g.nodes) * interLat;
  bwt = std::max(intra, inter);
  return true;
}

// CollNet: in-network reduction across nodes (NVSwitch nodes, fat fabrics, all-reduce).
bool time_collnet(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  if (!g.nvswitch || g.nodes < 2 || op != Op::AllReduce || !g.fat) return false;
  double intra = 2.0 * (g.ppn - 1) / g.ppn * S / g.intra_bus;
  double inter = S / g.ppn / g.nic_bw;
  lat = 2 * (std::min(1, g.ppn - 1) * intraLat + (g.ppn - 1) * 0.4e-6) + interLat;
  bwt = std::max(intra, inter);
  return true;
}

// PAT (all-gather, reduce-scatter): log-latency steps at ring-like bandwidth.
bool time_pat(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  const int n = g.n;
  if (op != Op::AllGather && op != Op::ReduceScatter) return false;
  double bus = (g.nodes > 1 ? std::min(g.intra_bus, g.nic_bw) : g.intra_bus) * T.get("pat_efficiency");
  bus = ring_proto_bw(T, g, op, p, bus);
  lat = base + log2ceil(n) * (g.nodes > 1 ? interLat : intraLat);
  bwt = static_cast<double>(n - 1) / n * S / bus;
  return true;
}

// Direct: every rank to every other (all-to-all, send/recv, and the direct all-reduce/all-gather).
bool time_direct(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  const int n = g.n;
  // (a full mesh sends to every peer on its own link at once)
  double ib = ring_proto_bw(T, g, op, p, g.full_mesh_bw > 0 ? (g.ppn - 1) * g.full_mesh_bw : g.intra_bus);
  double nb = g.nodes > 1 ? ring_proto_bw(T, g, op, p, g.nic_bw) : 1;
  double step_lat = g.nodes > 1 ? interLat : intraLat;
  if (op == Op::SendRecv) {
    // nccl-tests sendrecv: every rank sends S to the next; the slowest pair sets the pace.
    bool cross = g.nodes > 1;
    lat = base + step_lat;
    bwt = S / (cross ? nb : ib);
    return true;
  }
  if (op == Op::Broadcast || op == Op::Reduce) return false;
  double share = op == Op::AllToAll ? S / n : op == Op::AllReduce ? S / n : S / n;
  double intra = (g.ppn - 1) * share / ib;
  double inter = g.nodes > 1 ? (n - g.ppn) * share / nb : 0.0;
  int phases = op == Op::AllReduce ? 2 : 1;
  lat = base + phases * step_lat;
  bwt = phases * std::max(intra, inter);
  return true;
}

// Recursive halving-doubling all-reduce (power-of-two ranks).
bool time_halving_doubling(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  const int n = g.n;
  if (op != Op::AllReduce || !is_pow2(n)) return false;
  double ib = ring_proto_bw(T, g, op, p, g.intra_bus);
  double nb = g.nodes > 1 ? ring_proto_bw(T, g, op, p, g.nic_bw) : ib;
  int L = log2i(n);
  lat = base;
  for (int k = 1; k <= L; ++k) {
    int d = n >> k;
    bool cross = g.nodes > 1 && d >= g.ppn;
    double chunk = S / static_cast<double>(1L << k);
    bwt += 2 * chunk / (cross ? nb : ib);
    lat += 2 * (cross ? interLat : intraLat);
  }
  return true;
}

// Torus: dimension by dimension, the slowest part of each phase sets its time.
bool time_torus(const PlanCtx& x, double& lat, double& bwt) {
  const auto& [T, g, op, a, p, S, nch, intraLat, interLat, base] = x;  // the plan's inputs, by name
  if (g.tdims.empty() || p != Proto::Simple) return false;
  if (op != Op::AllReduce && op != Op::AllGather && op != Op::ReduceScatter) return false;
  auto parts = torus_schedule(g, op, S);
  lat = base;
  for (size_t q = 0; q < parts[0].size(); ++q) {
    double t = 0, l = 0;
    for (auto& pt : parts) {
      const TorusPhase& ph = pt[q];
      t = std::max(t, ph.bytes / torus_dir_bw(g, ph.dim));
      l = std::max(l, (g.tdims[static_cast<size_t>(ph.dim)] - 1) * intraLat);
    }
    bwt += t;
    lat += l;
  }
  return true;
}

// Latency and bandwidth time of one algorithm and protocol for S bytes on group g; not ok when
// the algorithm does not apply (collective, protocol, fabric).
Plan plan(const ParamValues& T, const Group& g, Op op, Algo a, Proto p, double S) {
  Plan out;
  out.c.algo = a;
  out.c.proto = p;
  const int n = g.n;
  const double nch = T.get("channels");
  bool simple_only = a == Algo::NVLS || a == Algo::NVLSTree || a == Algo::CollNet;
  if (simple_only && p != Proto::Simple) return out;
  double intraLat = hw_lat(T, g.intra, a, p);
  double interLat = hw_lat(T, Hw::NET, a, p);
  double base = base_lat(T, a, p);
  const PlanCtx x{T, g, op, a, p, S, nch, intraLat, interLat, base};
  double lat = 0, bwt = 0;
  bool ok = false;
  switch (a) {
    case Algo::Ring: ok = time_ring(x, lat, bwt); break;
    case Algo::Tree: ok = time_tree(x, lat, bwt); break;
    case Algo::NVLS: ok = time_nvls(x, lat, bwt); break;
    case Algo::NVLSTree: ok = time_nvls_tree(x, lat, bwt); break;
    case Algo::CollNet: ok = time_collnet(x, lat, bwt); break;
    case Algo::PAT: ok = time_pat(x, lat, bwt); break;
    case Algo::Direct: ok = time_direct(x, lat, bwt); break;
    case Algo::HalvingDoubling: ok = time_halving_doubling(x, lat, bwt); break;
    case Algo::Torus: ok = time_torus(x, lat, bwt); break;
    case Algo::Auto: ok = false; break;
  }
  if (!ok) return out;
  if (n <= 1) {
    lat = 0;
    bwt = 0;
  }
  out.ok = true;
  out.c.latency = lat;
  out.c.bw_time = bwt;
  return out;
}

std::vector<Algo> candidates(const Group& g, Op op, const ParamValues& T) {
  switch (op) {
    case Op::AllReduce: {
      std::vector<Algo> v{Algo::Tree, Algo::Ring};
      if (!g.tdims.empty()) v.push_back(Algo::Torus);
      if (g.nvls && g.nodes == 1) v.push_back(Algo::NVLS);
      if (g.nvls && g.nodes > 1 && g.ppn > 1) v.push_back(Algo::NVLSTree);
      if (g.nodes > 1 && T.get("collnet") > 0) v.push_back(Algo::CollNet);
      return v;
    }
    case Op::AllGather:
    case Op::ReduceScatter: {
      std::vector<Algo> v{Algo::Ring};
      if (g.nvls && g.nodes == 1) v.push_back(Algo::NVLS);
      if (g.ppn == 1 && g.nodes > 1) v.push_back(Algo::PAT);
      if (!g.tdims.empty()) v.push_back(Algo::Torus);
      return v;
    }
    case Op::Broadcast:
    case Op::Reduce: return {Algo::Ring};
    case Op::AllToAll:
    case Op::SendRecv: return {Algo::Direct};
  }
  return {Algo::Ring};
}

Choice choose_in(const ParamValues& T, const Group& g, const CollectiveSpec& spec) {
  std::vector<Algo> algos = spec.algo == Algo::Auto ? candidates(g, spec.op, T) : std::vector<Algo>{spec.algo};
  std::vector<Proto> protos = spec.proto == Proto::Auto ? std::vector<Proto>{Proto::LL, Proto::LL128, Proto::Simple}
                                                        : std::vector<Proto>{spec.proto};
  std::optional<Choice> best;
  for (Algo a : algos)
    for (Proto p : protos) {
      Plan pl = plan(T, g, spec.op, a, p, spec.bytes);
      if (!pl.ok) continue;
      if (!best || pl.c.time() < best->time()) best = pl.c;
    }
  if (!best) {
    std::string why = std::string(algo_name(spec.algo)) + (spec.proto != Proto::Auto ? std::string("/") + proto_name(spec.proto) : "");
    throw make_error("collective", op_name(spec.op),
                     "algorithm " + why + " is not available here (" + std::to_string(g.n) + " ranks on " +
                         std::to_string(g.nodes) + " node(s)" + (spec.algo == Algo::HalvingDoubling ? ", needs a power-of-two group" : "") + ")");
  }
  return *best;
}

}  // namespace

Choice choose(const System& sys, const CollectiveSpec& spec) {
  ParamValues T = resolve_tuning(sys);
  Group g = make_group(sys, spec, T);
  return choose_in(T, g, spec);
}

double collective_time_estimate(const System& sys, const CollectiveSpec& spec, Choice* choice) {
  Choice c = choose(sys, spec);
  if (choice) *choice = c;
  return c.time();
}

// ---------------------------------------------------------------- execution

Fabric::Fabric(const System& sys, EventCore& core) : sys_(&sys), core_(&core) {
  tuning_ = resolve_tuning(sys);
  net::GpuSpec spec;
  try {
    Accelerator acc = load_accelerator(sys.accelerator);
    spec.sm_count = acc.p("sm_count");
    spec.hbm_bandwidth = acc.hbm_bandwidth();
  } catch (const Error&) {
    // Unknown accelerator: keep H100 figures (the topology is still usable).
  }
  net_ = std::make_unique<net::Network>(sys.topo, core, spec);
}

Fabric::~Fabric() = default;

namespace {

// A transfer unit: one coupled activity plus the ranks whose SMs/HBM it occupies.
struct Unit {
  net::Coupled c;
  std::vector<std::pair<int, double>> senders;  // rank, bytes sent
  int steps = 1;  // sequential hops of the pipeline: latency is at least steps x route latency
};

class Runner : public std::enable_shared_from_this<Runner> {
 public:
  Runner(Fabric& f, const CollectiveSpec& spec, std::function<void(const CollectiveResult&)> done)
      : f_(f), t_(f.system().topo), spec_(spec), done_(std::move(done)) {
    const ParamValues& T = f.tuning();
    g_ = make_group(f.system(), spec, T);
    choice_ = choose_in(T, g_, spec);
    channels_ = static_cast<int>(T.get("channels"));
    for (auto& m : spec.mirrors) {
      CollectiveSpec ms = spec;
      ms.ranks = m;
      ms.mirrors.clear();
      ms.algo = choice_.algo;
      ms.proto = choice_.proto;
      mirrors_.push_back(std::make_shared<Runner>(f, ms, nullptr));
    }
  }

  void start() {
    start_ps_ = f_.core().now();
    events0_ = f_.core().events_processed();
    if (g_.n <= 1 || spec_.bytes <= 0) {
      auto self = shared_from_this();
      double lat = g_.n <= 1 ? 0.0 : choice_.latency;
      f_.core().after(to_ps(lat), [self] { self->finish(); });
      return;
    }
    build();
    for (auto& m : mirrors_) m->build();
    next_phase();
  }

 private:
  std::vector<std::shared_ptr<Runner>> mirrors_;  // symmetric images (spec.mirrors)
  Fabric& f_;
  const topo::Topology& t_;
  CollectiveSpec spec_;
  std::function<void(const CollectiveResult&)> done_;
  Group g_;
  Choice choice_;
  int channels_ = 16;
  Ps start_ps_ = 0;
  std::uint64_t events0_ = 0;
  std::vector<std::function<std::vector<Unit>()>> phases_;
  size_t phase_ = 0;
  int outstanding_ = 0;
  std::size_t legs_ = 0;

  int rank(int i) const { return g_.ranks[static_cast<size_t>(i)]; }
  int vtx(int i) const { return t_.gpus[static_cast<size_t>(rank(i))]; }

  net::Leg leg(int i, int j, double bytes) const {
    net::Leg l;
    l.src = vtx(i);
    l.dst = vtx(j);
    l.bytes = bytes;
    l.hash = topo::mix_hash(static_cast<std::uint64_t>(rank(i)), static_cast<std::uint64_t>(rank(j)));
    return l;
  }
  void add(Unit& u, int i, int j, double bytes) const {
    u.c.legs.push_back(leg(i, j, bytes));
    u.senders.push_back({rank(i), bytes});
  }
  // GPU <-> its NVSwitch planes (NVLS traffic).
  net::Leg nvs_leg(int i, double bytes, bool up) const {
    net::Leg l;
    l.bytes = bytes;
    int v = vtx(i);
    const auto& f = *t_.fat;
    const auto& sw = f.nvswitch[static_cast<size_t>(t_.vertex(v).node)];
    for (size_t s = 0; s < sw.size(); ++s) {
      int link = up ? t_.link_between(v, sw[s]) : t_.link_between(sw[s], v);
      l.hops.push_back({link, f.plane_fraction[s]});
    }
    return l;
  }
  // GPU -> NIC -> ... -> the switch that reduces its rail in-network (and back).
  net::Leg collnet_leg(int i, double bytes, bool up) const {
    const auto& f = *t_.fat;
    int r = rank(i);
    int e = f.nic_of_gpu[static_cast<size_t>(r)];
    int rail = t_.local_of_rank(r);
    // Highest level the rail's members need: one leaf, one pod, or the cores.
    std::set<int> leaves, pods;
    for (auto& members : g_.by_node)
      for (int k : members)
        if (t_.local_of_rank(rank(k)) == rail) {
          int ek = f.nic_of_gpu[static_cast<size_t>(rank(k))];
          leaves.insert(ek / f.down);
          pods.insert(f.tiers == 3 ? ek / f.down / f.pod_leaves : 0);
        }
    std::vector<int> path{vtx(i), f.nic[static_cast<size_t>(e)], f.leaf[static_cast<size_t>(e / f.down)]};
    if (leaves.size() > 1) {
      int j = rail % f.up;
      int pod = f.tiers == 3 ? e / f.down / f.pod_leaves : 0;
      path.push_back(f.spine[static_cast<size_t>(pod)][static_cast<size_t>(j)]);
      if (pods.size() > 1) path.push_back(f.core[static_cast<size_t>(j)][0]);
    }
    net::Leg l;
    l.bytes = bytes;
    for (size_t k = 0; k + 1 < path.size(); ++k) {
      int a = up ? path[k] : path[k + 1], b = up ? path[k + 1] : path[k];
      l.hops.push_back({t_.link_between(a, b), 1.0});
    }
    return l;
  }

  // Ring orders: one per channel group. Multi-node NVSwitch: rotation c starts every node at its
  // c-th local GPU, so consecutive channel groups leave each node through different rails. A mesh
  // (direct links): its edge-disjoint Hamiltonian cycles, each in both directions.
  std::vector<std::vector<int>> ring_orders() const {
    std::vector<std::vector<int>> out;
    if (g_.nvswitch && g_.nodes > 1) {
      for (int c = 0; c < g_.ppn; ++c) {
        std::vector<int> order;
        for (auto& m : g_.by_node)
          for (size_t j = 0; j < m.size(); ++j) order.push_back(m[(c + j) % m.size()]);
        out.push_back(order);
      }
    } else if (!g_.mesh_cycles.empty()) {
      for (auto& c : g_.mesh_cycles) {  // each cycle as a ring in both directions
        out.push_back(c);
        out.emplace_back(c.rbegin(), c.rend());
      }
    } else {
      std::vector<int> order(static_cast<size_t>(g_.n));
      for (int i = 0; i < g_.n; ++i) order[static_cast<size_t>(i)] = i;
      out.push_back(order);
    }
    return out;
  }

  // NCCL-style double binary tree over 0..m-1 as (child, parent) edges. Tree 0 is the in-order
  // binary tree in which every even index is a leaf; tree 1 mirrors it (even m) or shifts it by
  // one (odd m), so a node is interior in at most one of the two trees.
  static std::vector<std::pair<int, int>> btree(int m, int which) {
    std::vector<std::pair<int, int>> e;
    if (m < 2) return e;
    auto parent = [](int x) {
      int l = x & -x;
      return ((x / (2 * l)) % 2 == 0) ? x + l : x - l;
    };
    int root = 1;
    while (root * 2 <= m) root *= 2;
    auto node = [&](int role) {  // the index that plays `role` (0-based) in tree `which`
      if (which == 0) return role;
      return m % 2 == 0 ? m - 1 - role : (role - 1 + m) % m;
    };
    for (int x = 1; x <= m; ++x) {
      if (x == root) continue;
      int p = parent(x);
      while (p > m) p = parent(p);
      e.push_back({node(x - 1), node(p - 1)});
    }
    return e;
  }

  // `share`: the unit's part of the collective's SMs when a phase runs several units at once.
  void finish_unit(Unit& u, double min_time, double latency, bool reduce, double share = 1.0) {
    u.c.min_time = min_time;
    u.c.latency = latency;
    if (spec_.detailed) return;
    // The collective kernel occupies `channels` SMs per GPU and streams its bytes through HBM.
    std::map<int, double> per;
    for (auto& [r, b] : u.senders) per[r] += b;
    for (auto& [r, b] : per) {
      auto res = f_.network().gpu(r);
      // (a chip with fewer compute units than channels, e.g. a TPU's MXUs, lends all of them)
      double ch = std::min<double>(channels_, f_.network().gpu_spec().sm_count);
      if (min_time > 0) u.c.extra.push_back({res.sm, ch * min_time * share});
      u.c.extra.push_back({res.hbm, b * (reduce ? 3.0 : 2.0)});
    }
  }

  // Ring: one pipelined ring per channel group (broadcast/reduce: a chain from or to the root);
  // detailed: one phase per ring step with a flow per leg.
  void build_ring() {
    const double S = spec_.bytes;
    const int n = g_.n;
    const Op op = spec_.op;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    const bool det = spec_.detailed;
    auto orders = ring_orders();
    const double C = static_cast<double>(orders.size());
    if (op == Op::Broadcast || op == Op::Reduce) {
      // Pipelined chain from the root (reduce: toward it).
      std::vector<int> chain;
      for (int k = 0; k < n; ++k) chain.push_back((spec_.root + k) % n);
      phases_.push_back([=, this] {
        Unit u;
        for (int k = 0; k + 1 < n; ++k) {
          int a = chain[static_cast<size_t>(k)], b = chain[static_cast<size_t>(k + 1)];
          if (op == Op::Reduce) std::swap(a, b);
          add(u, a, b, S);
        }
        u.steps = n - 1;
        finish_unit(u, bwt, lat, reduce);
        return std::vector<Unit>{u};
      });
      return;
    }
    int nsteps = op == Op::AllReduce ? 2 * (n - 1) : n - 1;
    double per_rank = (op == Op::AllReduce ? 2.0 : 1.0) * (n - 1) / n * S;
    if (!det) {
      phases_.push_back([=, this] {
        std::vector<Unit> us;
        for (auto& o : orders) {
          Unit u;
          for (int k = 0; k < n; ++k) add(u, o[static_cast<size_t>(k)], o[static_cast<size_t>((k + 1) % n)], per_rank / C);
          u.steps = nsteps;
          finish_unit(u, bwt, lat, reduce, 1.0 / C);
          us.push_back(std::move(u));
        }
        return us;
      });
    } else {
      for (int s = 0; s < nsteps; ++s)
        phases_.push_back([=, this] { return step_flows(orders, per_rank / C / nsteps, bwt / nsteps, lat / nsteps); });
    }
  }

  // Tree (all-reduce): two double binary trees over the node heads, chains inside the nodes, per channel group.
  void build_tree() {
    const double S = spec_.bytes;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    phases_.push_back([=, this] {
      std::vector<Unit> us;
      int C = g_.nvswitch && g_.nodes > 1 ? g_.ppn : 1;
      for (int t = 0; t < 2; ++t)
        for (int c = 0; c < C; ++c) {
          Unit u;
          double b = S / (2.0 * C);
          std::vector<int> heads;
          for (auto& m : g_.by_node) {
            std::vector<int> chain;
            if (g_.nvswitch) {
              for (size_t j = 0; j < m.size(); ++j) chain.push_back(m[(c + j) % m.size()]);
            } else {
              chain = m;
            }
            heads.push_back(chain[0]);
            for (size_t j = 0; j + 1 < chain.size(); ++j) {
              add(u, chain[j + 1], chain[j], b);  // reduce up
              add(u, chain[j], chain[j + 1], b);  // broadcast down
            }
          }
          for (auto [child, parent] : btree(static_cast<int>(heads.size()), t)) {
            add(u, heads[static_cast<size_t>(child)], heads[static_cast<size_t>(parent)], b);
            add(u, heads[static_cast<size_t>(parent)], heads[static_cast<size_t>(child)], b);
          }
          u.steps = 2 * (g_.ppn - 1 + log2ceil(g_.nodes));
          finish_unit(u, bwt, lat, reduce, 1.0 / (2.0 * C));
          us.push_back(std::move(u));
        }
      return us;
    });
  }

  // NVLS: every GPU to and from the NVSwitch (the switch reduces / multicasts).
  void build_nvls() {
    const double S = spec_.bytes;
    const int n = g_.n;
    const Op op = spec_.op;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    double up = op == Op::AllReduce ? S * (1 + 1.0 / n) : op == Op::ReduceScatter ? S : S / n;
    double down = op == Op::AllReduce ? S * (1 + 1.0 / n) : op == Op::ReduceScatter ? S / n : S;
    phases_.push_back([=, this] {
      Unit u;
      for (int i = 0; i < n; ++i) {
        u.c.legs.push_back(nvs_leg(i, up, true));
        u.c.legs.push_back(nvs_leg(i, down, false));
        u.senders.push_back({rank(i), up});
      }
      u.steps = 2;
      finish_unit(u, bwt, lat, reduce);
      return std::vector<Unit>{u};
    });
  }

  // NVLSTree (NVLS inside nodes, double binary trees per rail across them) or CollNet (direct
  // reduce-scatter + all-gather inside nodes, in-network reduction across them).
  void build_nvls_tree_or_collnet() {
    const double S = spec_.bytes;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    bool nvls = choice_.algo == Algo::NVLSTree;
    phases_.push_back([=, this] {
      Unit u;
      double shard = S / g_.ppn;
      for (auto& m : g_.by_node) {
        int k = static_cast<int>(m.size());
        for (int i : m) {
          if (nvls) {
            u.c.legs.push_back(nvs_leg(i, S + shard, true));   // reduce-scatter reads + multicast store
            u.c.legs.push_back(nvs_leg(i, shard + S, false));
            u.senders.push_back({rank(i), S + shard});
          } else {
            for (int j : m)
              if (j != i) add(u, i, j, 2.0 * S / k);  // direct reduce-scatter + all-gather
            u.c.legs.push_back(collnet_leg(i, shard, true));
            u.c.legs.push_back(collnet_leg(i, shard, false));
          }
        }
      }
      if (nvls) {
        // Inter-node double binary tree per rail on the node-reduced shard.
        std::map<int, std::vector<int>> rails;
        for (auto& m : g_.by_node)
          for (int i : m) rails[t_.local_of_rank(rank(i))].push_back(i);
        for (auto& [rail, members] : rails) {
          int mm = static_cast<int>(members.size());
          for (int t = 0; t < 2; ++t)
            for (auto [child, parent] : btree(mm, t)) {
              add(u, members[static_cast<size_t>(child)], members[static_cast<size_t>(parent)], shard / 2);
              add(u, members[static_cast<size_t>(parent)], members[static_cast<size_t>(child)], shard / 2);
            }
        }
      }
      u.steps = 2 + 2 * log2ceil(g_.nodes);
      finish_unit(u, bwt, lat, reduce);
      return std::vector<Unit>{u};
    });
  }

  // PAT: log2(n) phases, phase k sends min(2^k, n-2^k) shards 2^k ranks away.
  void build_pat() {
    const double S = spec_.bytes;
    const int n = g_.n;
    const Op op = spec_.op;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    const bool det = spec_.detailed;
    int L = log2ceil(n);
    for (int k = 0; k < L; ++k) {
      int d = 1 << k;
      int count = std::min(d, n - d);
      phases_.push_back([=, this] {
        Unit u;
        for (int i = 0; i < n; ++i) {
          int j = op == Op::AllGather ? ((i - d) % n + n) % n : (i + d) % n;
          add(u, i, j, count * S / n);
        }
        finish_unit(u, bwt * count / (n - 1), lat / L, reduce);
        return det ? split(u) : std::vector<Unit>{u};
      });
    }
  }

  // Recursive halving then doubling: 2 log2(n) phases, partner i ^ d.
  void build_halving_doubling() {
    const double S = spec_.bytes;
    const int n = g_.n;
    const Op op = spec_.op;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const bool det = spec_.detailed;
    int L = log2i(n);
    const ParamValues& T = f_.tuning();
    double ib = ring_proto_bw(T, g_, op, choice_.proto, g_.intra_bus);
    double nb = g_.nodes > 1 ? ring_proto_bw(T, g_, op, choice_.proto, g_.nic_bw) : ib;
    double base = base_lat(T, Algo::HalvingDoubling, choice_.proto);
    double il = hw_lat(T, g_.intra, Algo::Ring, choice_.proto), nl = hw_lat(T, Hw::NET, Algo::Ring, choice_.proto);
    for (int s = 0; s < 2 * L; ++s) {
      int k = s < L ? s + 1 : 2 * L - s;  // halving then doubling
      int d = n >> k;
      double chunk = S / static_cast<double>(1L << k);
      bool cross = g_.nodes > 1 && d >= g_.ppn;
      double steplat = (cross ? nl : il) + (s == 0 ? base : 0.0);
      phases_.push_back([=, this] {
        Unit u;
        for (int i = 0; i < n; ++i) add(u, i, i ^ d, chunk);
        finish_unit(u, chunk / (cross ? nb : ib), steplat, reduce);
        return det ? split(u) : std::vector<Unit>{u};
      });
    }
  }

  // Direct: send/recv to the next rank, or every rank to every other (all-reduce: two phases).
  void build_direct() {
    const double S = spec_.bytes;
    const int n = g_.n;
    const Op op = spec_.op;
    const bool reduce = spec_.op == Op::AllReduce || spec_.op == Op::ReduceScatter || spec_.op == Op::Reduce;
    const double lat = choice_.latency;
    const double bwt = choice_.bw_time;
    const bool det = spec_.detailed;
    if (op == Op::SendRecv) {
      phases_.push_back([=, this] {
        Unit u;
        for (int i = 0; i < n; ++i) add(u, i, (i + 1) % n, S);
        finish_unit(u, bwt, lat, false);
        return det ? split(u) : std::vector<Unit>{u};
      });
      return;
    }
    if (static_cast<double>(n) * (n - 1) > 16.8e6)
      throw make_error("collective", op_name(op), "direct pattern with " + std::to_string(n) +
                                                      " ranks is too many flows to simulate; use collective_time_estimate");
    int phases = op == Op::AllReduce ? 2 : 1;
    for (int ph = 0; ph < phases; ++ph)
      phases_.push_back([=, this] {
        Unit u;
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j)
            if (i != j) add(u, i, j, S / n);
        finish_unit(u, bwt / phases, lat / phases, reduce);
        return det ? split(u) : std::vector<Unit>{u};
      });
  }

  // The collective's phases for the chosen algorithm: each phase a function that returns its
  // units (concurrent coupled activities) when the phase starts.
  void build() {
    switch (choice_.algo) {
      case Algo::Ring: build_ring(); break;
      case Algo::Tree: build_tree(); break;
      case Algo::NVLS: build_nvls(); break;
      case Algo::NVLSTree:
      case Algo::CollNet: build_nvls_tree_or_collnet(); break;
      case Algo::PAT: build_pat(); break;
      case Algo::HalvingDoubling: build_halving_doubling(); break;
      case Algo::Direct: build_direct(); break;
      case Algo::Torus: build_torus(choice_.latency); break;
      case Algo::Auto: break;
    }
  }

  // Torus phases (torus_schedule): in each phase every part runs its dimension's rings in both
  // directions; a ring step's legs go to the group's next coordinate along that dimension (on a
  // mesh or a stretch of a line the closing leg crosses back). Returns a group index.
  int torus_neighbour(const std::unordered_map<int, int>& index, int i, int d, int dir) const {
    const auto& dims = t_.torus->dims;
    const auto& cs = g_.tcoords[static_cast<size_t>(d)];
    const int phys = g_.tphys[static_cast<size_t>(d)], k = static_cast<int>(cs.size());
    int r = rank(i), stride = 1;
    for (int x = 0; x < phys; ++x) stride *= dims[static_cast<size_t>(x)];
    int c = (r / stride) % dims[static_cast<size_t>(phys)];
    int p = static_cast<int>(std::lower_bound(cs.begin(), cs.end(), c) - cs.begin());
    int to = cs[static_cast<size_t>(((p + dir) % k + k) % k)];
    return index.at(r + (to - c) * stride);
  }
  void build_torus(double lat) {
    auto parts = torus_schedule(g_, spec_.op, spec_.bytes);
    std::unordered_map<int, int> index;
    for (int i = 0; i < g_.n; ++i) index[rank(i)] = i;
    const bool reduce = spec_.op != Op::AllGather;
    const double lat_share = lat / static_cast<double>(parts[0].size());
    for (size_t q = 0; q < parts[0].size(); ++q)
      phases_.push_back([=, this] {
        std::vector<Unit> us;
        for (auto& pt : parts) {
          const TorusPhase ph = pt[q];
          for (int dir : {1, -1}) {
            Unit u;
            for (int i = 0; i < g_.n; ++i) add(u, i, torus_neighbour(index, i, ph.dim, dir), ph.bytes);
            u.steps = g_.tdims[static_cast<size_t>(ph.dim)] - 1;
            finish_unit(u, ph.bytes / torus_dir_bw(g_, ph.dim), lat_share, reduce, 0.5 / parts.size());
            us.push_back(std::move(u));
          }
        }
        return us;
      });
  }

  // Detailed ring step: one flow per leg, each with its own cap.
  std::vector<Unit> step_flows(const std::vector<std::vector<int>>& orders, double bytes, double min_time, double latency) {
    std::vector<Unit> us;
    int n = g_.n;
    for (auto& o : orders)
      for (int k = 0; k < n; ++k) {
        Unit u;
        add(u, o[static_cast<size_t>(k)], o[static_cast<size_t>((k + 1) % n)], bytes);
        u.c.min_time = min_time;
        u.c.latency = latency;
        us.push_back(std::move(u));
      }
    return us;
  }
  std::vector<Unit> split(const Unit& all) {
    std::vector<Unit> us;
    for (auto& l : all.c.legs) {
      Unit u;
      u.c.legs.push_back(l);
      u.c.min_time = all.c.min_time;
      u.c.latency = all.c.latency;
      us.push_back(std::move(u));
    }
    return us;
  }

  void next_phase() {
    if (phase_ >= phases_.size()) {
      finish();
      return;
    }
    std::vector<Unit> us = phases_[phase_++]();
    phases_[phase_ - 1] = nullptr;
    for (auto& m : mirrors_) {  // each image's unit k joins unit k (same structure, lockstep)
      if (m->phases_.size() < phase_) continue;
      std::vector<Unit> mu = m->phases_[phase_ - 1]();
      m->phases_[phase_ - 1] = nullptr;
      for (std::size_t k = 0; k < mu.size(); ++k) {
        if (k >= us.size()) {
          us.push_back(std::move(mu[k]));
          continue;
        }
        auto& c = us[k].c;
        c.legs.insert(c.legs.end(), mu[k].c.legs.begin(), mu[k].c.legs.end());
        c.extra.insert(c.extra.end(), mu[k].c.extra.begin(), mu[k].c.extra.end());
      }
    }
    outstanding_ = static_cast<int>(us.size());
    auto self = shared_from_this();
    if (us.empty()) {
      f_.core().after(0, [self] { self->next_phase(); });
      return;
    }
    for (auto& u : us) {
      legs_ += u.c.legs.size();
      double route_lat = 0;
      fluid::ActivitySpec a = f_.network().coupled_spec(u.c, &route_lat);
      if (a.usage.empty() && !std::isfinite(a.max_rate)) a.max_rate = 1e18;
      // The NCCL latency terms include the hardware hops; a slower fabric raises the floor.
      double lat = std::max(u.c.latency, u.steps * route_lat);
      EventCore* core = &f_.core();
      core->start(std::move(a), [self, core, lat] {
        core->after(to_ps(lat), [self] {
          if (--self->outstanding_ == 0) self->next_phase();
        });
      });
    }
  }

  void finish() {
    CollectiveResult r;
    r.time_s = to_s(f_.core().now() - start_ps_);
    r.algorithm = choice_.algo;
    r.protocol = choice_.proto;
    r.channels = channels_;
    r.ranks = g_.n;
    r.model_time_s = choice_.time();
    r.latency_s = choice_.latency;
    r.algbw = r.time_s > 0 ? spec_.bytes / r.time_s : 0;
    r.busbw = r.algbw * busbw_factor(spec_.op, g_.n);
    r.events = f_.core().events_processed() - events0_;
    r.flows = legs_;
    phases_.clear();
    auto done = std::move(done_);
    if (done) done(r);
  }
};

}  // namespace

void launch_collective(Fabric& fabric, const CollectiveSpec& spec, std::function<void(const CollectiveResult&)> done) {
  auto r = std::make_shared<Runner>(fabric, spec, std::move(done));
  r->start();
}

CollectiveResult simulate_collective(const System& sys, const CollectiveSpec& spec, EventCore* core) {
  std::unique_ptr<EventCore> own;
  if (!core) {
    own = std::make_unique<EventCore>();
    core = own.get();
  }
  Fabric f(sys, *core);
  CollectiveResult out;
  bool got = false;
  launch_collective(f, spec, [&](const CollectiveResult& r) {
    out = r;
    got = true;
  });
  core->run();
  if (!got) throw Error("internal: collective did not complete");
  return out;
}

}  // namespace orrery::coll
