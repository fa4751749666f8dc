#pragma once
// Collective communication on the cluster fabric: NCCL-style algorithms and protocols, an
// `auto` tuner that chooses the way NCCL's tuner does, and flow-level execution on the
// topology through the fluid solver.
//
// Public API (stable):
//   topo::System load_system(name_or_path, nodes = 0)               (re-exported from topology/)
//   CollectiveResult simulate_collective(const System&, const CollectiveSpec&,
//                                        EventCore* core = nullptr)   runs one collective to
//       completion (standalone: a private event engine; with `core`: in that engine, which
//       must be idle, and returns after core->run()).
//   void launch_collective(Fabric&, const CollectiveSpec&, std::function<void(const CollectiveResult&)>)
//       starts a collective inside a running simulation (the Fabric's EventCore) and calls
//       back at completion: trace replay and training generators run collectives concurrently
//       with compute this way. Concurrent collectives share links, SMs and HBM max-min fairly.
//   double collective_time_estimate(const System&, const CollectiveSpec&, Choice* = nullptr)
//       closed-form NCCL-style time (seconds, no simulation; O(1) for ring/tree/NVLS at any
//       scale): what `auto` minimizes.
//   Choice choose(const System&, const CollectiveSpec&)   the tuner's algorithm and protocol.
//   double busbw_factor(Op, n)                             nccl-tests' busbw / algbw.
//
// Sizes follow nccl-tests: all_gather `bytes` is the total output, reduce_scatter the total
// input, alltoall the per-rank buffer, others the per-rank buffer.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw_models/accelerator.h"
#include "sim/engine.h"
#include "sim/network.h"
#include "sim/params.h"
#include "topology/topology.h"

namespace orrery::coll {

using topo::load_system;
using topo::System;

enum class Op { AllReduce, AllGather, ReduceScatter, AllToAll, Broadcast, Reduce, SendRecv };
// Torus: multi-dimensional bidirectional rings on a torus/mesh (every dimension, both directions).
enum class Algo { Auto, Ring, Tree, NVLS, NVLSTree, CollNet, PAT, Direct, HalvingDoubling, Torus };
enum class Proto { Auto, LL, LL128, Simple };

Op parse_op(const std::string& s);  // "all_reduce", "allreduce", "all_gather", ... ; Error otherwise
Algo parse_algo(const std::string& s);
Proto parse_proto(const std::string& s);
const char* op_name(Op o);
const char* algo_name(Algo a);    // NCCL spelling: "Ring", "Tree", "NVLS", "NVLSTree", "CollNet", ...
const char* proto_name(Proto p);  // "LL", "LL128", "Simple"
double busbw_factor(Op o, int n);

struct CollectiveSpec {
  Op op = Op::AllReduce;
  double bytes = 0;
  std::vector<int> ranks;  // the group (global ranks); empty = every GPU of the system
  Algo algo = Algo::Auto;
  Proto proto = Proto::Auto;
  Dtype dtype = Dtype::FP32;
  int root = 0;            // broadcast/reduce root: index into the group
  bool detailed = false;   // step by step (one event per step, one flow per leg) instead of
                           // the pipelined aggregate; small cases and cross-checks
  // Symmetric images of the group (same size, same placement class), run in lockstep with it:
  // their flows join each phase's activities, so the links carry the traffic of every copy of
  // the group while only one is simulated (the cluster executor's symmetry reduction).
  std::vector<std::vector<int>> mirrors;
};

struct Choice {
  Algo algo = Algo::Ring;
  Proto proto = Proto::Simple;
  double latency = 0;   // seconds
  double bw_time = 0;   // seconds
  double time() const { return latency + bw_time; }
};

struct CollectiveResult {
  double time_s = 0;
  double algbw = 0;  // bytes/s (nccl-tests: bytes / time)
  double busbw = 0;  // bytes/s (algbw * busbw_factor)
  Algo algorithm = Algo::Ring;
  Proto protocol = Proto::Simple;
  int channels = 0;
  int ranks = 0;
  double model_time_s = 0;  // the tuner's closed-form estimate for the same choice
  double latency_s = 0;     // latency part of the model
  std::uint64_t events = 0;
  std::size_t flows = 0;    // legs simulated
};

// Tuner constants (NCCL's public cost model, src/graph/tuning.cc), declared with units.
const ParamSet& collective_params();

// A system bound to an engine: topology, network, tuner constants. Reuse it to run several
// collectives in one simulation.
class Fabric {
 public:
  Fabric(const System& sys, EventCore& core);
  ~Fabric();
  const System& system() const { return *sys_; }
  net::Network& network() { return *net_; }
  EventCore& core() { return *core_; }
  const ParamValues& tuning() const { return tuning_; }

 private:
  const System* sys_;
  EventCore* core_;
  std::unique_ptr<net::Network> net_;
  ParamValues tuning_;
};

Choice choose(const System& sys, const CollectiveSpec& spec);
double collective_time_estimate(const System& sys, const CollectiveSpec& spec, Choice* choice = nullptr);
CollectiveResult simulate_collective(const System& sys, const CollectiveSpec& spec, EventCore* core = nullptr);
void launch_collective(Fabric& fabric, const CollectiveSpec& spec, std::function<void(const CollectiveResult&)> done);

}  // namespace orrery::coll
