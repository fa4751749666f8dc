#pragma once
// Flow-level, congestion-aware network on a topology, driven by an EventCore.
//
// Every directed link of the topology is a fluid resource (capacity = bandwidth per direction),
// created on first use so that 16k-GPU fabrics cost only what the traffic touches. Transfers
// share links max-min fairly through the one fluid solver (orrery::fluid::Solver).
//
// Public API (stable):
//   Network(const topo::Topology&, EventCore&, GpuSpec)
//   GpuResources gpu(rank)            per-GPU SM and HBM resources, shared with compute models:
//                                     sm capacity = SM count, hbm capacity = bytes/s. A compute
//                                     kernel of standalone time T on all SMs uses
//                                     {sm, sm_count * T} with work 1, max_rate 1/T.
//   ActivityId send(src_rank, dst_rank, bytes, done, FlowOptions)   point-to-point flow; done
//                                     runs after the last byte drains plus the path latency.
//   ActivityId start_coupled(Coupled, done)   several legs (src -> dst, bytes) that progress
//                                     together as one activity, at the pace of the slowest
//                                     leg: a pipelined ring/tree/NVLS phase as an aggregate.
//                                     done runs `latency` seconds after the data drains.
//   double link_bytes(link)           bytes carried so far by a directed link (utilization).
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "sim/engine.h"
#include "sim/fluid.h"
#include "topology/topology.h"

namespace orrery::net {

// Fairness weight of network transfers per byte/s. Transfers share links byte-fairly among
// themselves (a coupled transfer weighs 1/its heaviest link's bytes). Against kernels (weight
// 1/standalone time) the scale makes a transfer win the SMs and HBM it uses: a collective's
// blocks are resident on their SMs and copy traffic is not starved, so overlapped kernels get
// what is left.
constexpr double kTransferWeight = 1e12;

struct GpuSpec {
  double sm_count = 132;
  double hbm_bandwidth = 3.35e12;
};

struct GpuResources {
  fluid::ResourceId sm = -1, hbm = -1;
};

struct FlowOptions {
  double max_rate = fluid::kInf;  // bytes/s injection cap
  std::uint64_t hash = 0;         // ECMP flow hash
  bool add_latency = true;        // completion waits for the path latency
  double weight = 1.0;
};

// One leg of a coupled transfer: `bytes` from src to dst (vertices), or over explicit hops.
struct Leg {
  int src = -1, dst = -1;       // topology vertices (ignored when hops is set)
  double bytes = 0;
  std::uint64_t hash = 0;
  double cap = fluid::kInf;     // bytes/s this leg can sustain (protocol, channels)
  std::vector<topo::Hop> hops;  // explicit route (e.g. GPU -> NVSwitch planes)
};

struct Coupled {
  std::vector<Leg> legs;
  // Extra per-unit usage, e.g. {gpu(r).sm, SMs} or {gpu(r).hbm, bytes}: scaled so that the
  // coefficient is the amount used over the whole transfer (work is normalized to 1).
  std::vector<fluid::Usage> extra;
  double latency = 0;      // seconds added after the data drains
  double min_time = 0;     // lower bound on the transfer time (rate cap 1/min_time)
  double weight = 1.0;
};

class Network {
 public:
  Network(const topo::Topology& t, EventCore& core, GpuSpec gpu = {});
  const topo::Topology& topology() const { return *topo_; }
  EventCore& core() { return *core_; }
  const GpuSpec& gpu_spec() const { return spec_; }

  fluid::ResourceId link_resource(int link);
  GpuResources gpu(int rank);

  fluid::ActivityId send(int src_rank, int dst_rank, double bytes, EventCore::Callback done, FlowOptions opt = {});
  fluid::ActivityId send_vertices(int src, int dst, double bytes, EventCore::Callback done, FlowOptions opt = {});
  fluid::ActivityId start_coupled(const Coupled& c, EventCore::Callback done);
  // Starts a spec coupled_spec made (a caller that sends the same legs again keeps it), `done`
  // `latency` seconds after the data drains.
  fluid::ActivityId start_spec(fluid::ActivitySpec s, double latency, EventCore::Callback done);
  // The fluid spec of a coupled transfer (resources created as needed), for callers that
  // start it themselves. Returns the longest leg route latency in *route_latency.
  fluid::ActivitySpec coupled_spec(const Coupled& c, double* route_latency = nullptr);

  double link_bytes(int link) const;
  std::size_t links_in_use() const { return used_links_; }

 private:
  const topo::Topology* topo_;
  EventCore* core_;
  GpuSpec spec_;
  std::vector<fluid::ResourceId> link_res_;
  std::vector<GpuResources> gpu_res_;
  std::size_t used_links_ = 0;
  std::vector<double> scratch_;       // per-link coefficient accumulation
  std::vector<int> scratch_touched_;
  // Routes by (source, destination, hash): a step sends between the same pairs again and again
  // (every micro-batch's pipeline sends, every bucket's ring), and the fabric does not change
  // during a run (failures are set before it starts).
  struct RouteKey {
    int src, dst;
    std::uint64_t hash;
    bool operator==(const RouteKey& o) const { return src == o.src && dst == o.dst && hash == o.hash; }
  };
  struct RouteKeyHash {
    std::size_t operator()(const RouteKey& k) const;
  };
  std::unordered_map<RouteKey, topo::Route, RouteKeyHash> routes_;
  const topo::Route& route(int src, int dst, std::uint64_t hash);
};

}  // namespace orrery::net
