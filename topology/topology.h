#pragma once
// Cluster topology: a Boost.Graph of GPUs, NICs, NVSwitches and network switches joined by
// directed links (bandwidth per direction, latency), plus routing.
//
// Public API (stable):
//   System load_system(name_or_path, nodes = 0, overrides = {})   systems/NAME.json or a path (+ --sys-set)
//   Topology build_topology(const nlohmann::json& desc, where)     from a "topology" object
//   Topology::route(src_vertex, dst_vertex, flow_hash) -> Route     links with the fraction of
//       the flow each carries (NVSwitch planes are sprayed: fractions sum to 1 per stage)
//   Topology::route_ranks(rank_a, rank_b, flow_hash)
//   Topology::summary() / to_dot() / to_json()
// Routing is closed-form where the builder knows the structure: up/down for the fat tree of
// an NVSwitch cluster (rail-optimized, PXN for cross-rail), dimension order for tori; other
// graphs use shortest paths with ECMP chosen by a deterministic flow hash (per-destination BFS,
// computed on demand and cached), so no all-pairs table is ever built.
// Kernel-free: plain C++.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/graph/adjacency_list.hpp>
#include <nlohmann/json.hpp>

#include "sim/params.h"

namespace orrery::topo {

enum class Kind { GPU, NVSwitch, Switch, NIC };
const char* kind_name(Kind k);

struct VertexProps {
  std::string name;
  Kind kind = Kind::Switch;
  int rank = -1;         // GPU: global rank
  int node = -1;         // server index (GPUs, NICs, NVSwitches)
  int local = -1;        // index inside the server (GPU local rank, NIC rail)
  int level = 0;         // network tier for switches (1 = leaf)
  double latency = 0;    // switch port-to-port latency, seconds
};

struct EdgeProps {
  int id = -1;  // index into Topology::links
};

// boost::adjacency_list declares a copy constructor and copy assignment but no move, so a Topology
// returned into an existing System (`s.topo = build_topology(...)`) or moved anywhere copied its
// whole graph: a fifth of loading an 8-node system. Moves swap the graph instead.
struct Graph : boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, VertexProps, EdgeProps> {
  Graph() = default;
  Graph(const Graph&) = default;
  Graph& operator=(const Graph&) = default;
  Graph(Graph&& o) noexcept { swap(o); }
  Graph& operator=(Graph&& o) noexcept {
    swap(o);
    return *this;
  }
};

// One directed link (one direction of a cable).
struct Link {
  int src = 0, dst = 0;
  double bandwidth = 0;  // bytes/s in this direction
  double latency = 0;    // seconds
  std::string type;      // "nvlink", "pcie", "net", "ici", "link"
};

struct Hop {
  int link;
  double fraction;  // share of the flow's bytes that cross this link
};

struct Route {
  std::vector<Hop> hops;
  double latency = 0;  // propagation + switch latency along the (longest) path, seconds
  int length = 0;      // links on the path
};

enum class Routing { ECMP, FatTree, Torus };

struct Summary {
  int gpus = 0, switches = 0, nvswitches = 0, nics = 0, cables = 0, links = 0;
  int diameter = 0;          // hops between GPUs
  bool diameter_exact = true;
  double bisection = 0;      // bytes/s, per direction, between rank halves (max-flow min-cut)
  bool bisection_computed = true;
  std::string text() const;
  nlohmann::json to_json() const;
};

class Topology {
 public:
  std::string name;
  std::string type;  // builder name
  Graph g;
  std::vector<Link> links;
  std::vector<int> gpus;  // vertex of each rank
  int nodes = 1;          // servers (NVSwitch clusters) or 1
  int gpus_per_node = 0;  // 0 when not node-structured
  Routing routing = Routing::ECMP;
  nlohmann::json params;  // resolved builder parameters (for --json / config output)

  int add_vertex(VertexProps v);
  // A cable: two directed links. Throws for non-positive bandwidth.
  void add_cable(int a, int b, double bandwidth, double latency, const std::string& type);
  int link_between(int a, int b) const;  // directed link id or -1
  int num_gpus() const { return static_cast<int>(gpus.size()); }
  int num_vertices() const { return static_cast<int>(boost::num_vertices(g)); }
  const VertexProps& vertex(int v) const { return g[static_cast<std::size_t>(v)]; }
  int node_of_rank(int r) const { return gpus_per_node > 0 ? r / gpus_per_node : 0; }
  int local_of_rank(int r) const { return gpus_per_node > 0 ? r % gpus_per_node : r; }

  // Route between two vertices (GPU or NIC). Deterministic for a given flow_hash.
  Route route(int src, int dst, std::uint64_t flow_hash = 0) const;
  Route route_ranks(int ra, int rb, std::uint64_t flow_hash = 0) const;

  // Every GPU reaches every GPU, every bandwidth > 0: else Error naming the node or link.
  void validate(const std::string& where) const;

  // Faults (--fail, --degrade). ELEMENT is a vertex name as `orrery topo --json` prints it (a
  // switch, NIC, NVSwitch or GPU: all its links), a cable "a--b" (both directions) or a directed
  // link "a->b". A failed link carries nothing; routing then goes around it over shortest paths
  // (ECMP over the remaining graph). Degrade multiplies the bandwidth by fraction (0, 1].
  // Errors name `flag` and the element.
  void fail(const std::string& element, const std::string& flag = "--fail");
  void degrade(const std::string& element, double fraction, const std::string& flag = "--degrade");
  bool link_up(int link) const { return link_down_.empty() || !link_down_[static_cast<size_t>(link)]; }
  bool has_failures() const { return failures_ > 0; }
  // True when a path from vertex a to vertex b exists over working links.
  bool reachable(int a, int b) const;
  Summary summary() const;
  std::string to_dot() const;
  nlohmann::json to_json() const;

  // Builder-internal structure used by closed-form routing.
  struct FatTree {
    int tiers = 2, down = 32, up = 32, pod_leaves = 0;
    bool rail_major = true;                // rail-optimized endpoint order
    std::vector<int> nic;                  // NIC vertex by endpoint id
    int endpoint(int node, int rail, int nodes, int gpn) const {
      return rail_major ? rail * nodes + node : node * gpn + rail;
    }
    std::vector<int> leaf;                 // leaf switch vertices
    std::vector<std::vector<int>> spine;   // [pod][j] (2 tiers: one pod)
    std::vector<std::vector<int>> core;    // [j][c] (3 tiers)
    std::vector<std::vector<int>> nvswitch;  // [node][s]
    std::vector<double> plane_fraction;    // share of a GPU's NVLink bandwidth per NVSwitch
    std::vector<int> nic_of_gpu;           // NIC endpoint id of each rank (-1: none)
  };
  std::shared_ptr<FatTree> fat;
  struct Torus {
    std::vector<int> dims;
    bool wrap = true;  // false: a mesh (no wrap-around links)
  };
  std::shared_ptr<Torus> torus;

 private:
  std::vector<std::vector<std::pair<int, int>>> out_links_;  // per source vertex: (destination, link), sorted
  std::vector<char> link_down_;
  int failures_ = 0;
  std::vector<int> element_links(const std::string& element, const std::string& flag) const;
  // ECMP: per-destination BFS over the links into it (hop counts), grown on demand one whole layer
  // at a time only as far as the source asked about, and kept sparse: a ring's neighbour routes
  // touch a few vertices, not all of them (100k GPUs: a full map per destination was 40 GB).
  struct Bfs {
    std::unordered_map<int, int> dist;  // vertices found so far -> hop count to the destination
    std::vector<int> layer;             // the last layer found, not yet expanded
    bool done = false;                  // every vertex that reaches the destination is in dist
  };
  mutable std::unordered_map<int, Bfs> bfs_;
  // The BFS toward `dst`, complete up to `src`'s layer (or to the end when src cannot reach it):
  // every vertex nearer to dst than src is in its map.
  const Bfs& distances_to(int dst, int src) const;
  Route route_ecmp(int src, int dst, std::uint64_t h) const;
  Route route_fat(int src, int dst, std::uint64_t h) const;
  Route route_torus(int src, int dst, std::uint64_t h) const;
  void add_hop(Route& r, int a, int b, double frac) const;
};

// Deterministic 64-bit mixing (flow hashing for ECMP).
std::uint64_t mix_hash(std::uint64_t a, std::uint64_t b = 0);

// Bounds on what a description may ask the builders to create (memory and time grow with both);
// beyond them a description is an error naming the field. Lowered only by the fuzz harnesses
// (fuzz/fuzz_system.cpp, fuzz_plan.cpp), where every input must run in milliseconds; these
// defaults are what users get and what tests/topology_test.cpp checks.
struct SizeLimits {
  double gpus = 1 << 18;    // 262144 GPUs
  double cables = 1 << 23;  // ~8.4 M cables
};
SizeLimits& size_limits();

// Builds from a topology description {"type": ..., params...}; `where` names the file.
Topology build_topology(const nlohmann::json& desc, const std::string& where);
// Parameter declarations of every builder (registered for `orrery describe`).
const ParamSet& topology_params(const std::string& type);
std::vector<std::string> topology_types();

// A system: topology + the accelerator preset its GPUs use + collective tuning overrides.
struct System {
  std::string name, description, source_path;
  std::string accelerator = "h100";
  Topology topo;
  nlohmann::json collective;  // optional "collective" object (tuner parameter overrides)
  nlohmann::json raw;         // the description as loaded (after --nodes)
};

// systems/NAME.json (ORRERY_SYSTEMS overrides the folder) or a JSON file path.
// nodes > 0 overrides topology.nodes (parametric clusters). overrides ("--sys-set"): "key=value"
// with key `topology.K`, `collective.K`, or a bare K (a parameter of the topology's type, else of
// the collective tuner), e.g. nvlink_bandwidth=50GB/s, nic_bandwidth=800Gb/s, collective.nvls=0.
// Errors name the file and field.
// Who gave the system's name and node count, for the errors they cause: a command's flags by
// default, a file's fields otherwise (a jobs file: {"jobs.json: system", "jobs.json: nodes"}).
struct SystemSource {
  std::string system = "--system";
  std::string nodes = "--nodes";
};
System load_system(const std::string& name_or_path, int nodes = 0, const std::vector<std::string>& overrides = {},
                   const SystemSource& from = {});
System system_from_json(const nlohmann::json& j, const std::string& where, int nodes = 0,
                        const std::vector<std::string>& overrides = {}, const SystemSource& from = {});
// The system as a file that load_system reads back to the same system (`orrery topo --json`):
// name, description, accelerator, collective, the topology as resolved (every parameter, after
// --nodes and --sys-set) and two derived fields, "summary" and "graph" (the explicit vertices and
// links). On load the derived fields are checked against what the topology builds: an edited
// graph is an error that says how to run it (as the topology, type "graph"), never ignored.
nlohmann::json system_to_json(const System& s);
std::string systems_dir();
std::vector<std::string> list_systems();

}  // namespace orrery::topo
