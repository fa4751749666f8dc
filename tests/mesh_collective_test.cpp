// Collectives on meshes of direct links (a full mesh such as 8 x MI300X on Infinity Fabric): the
// ring algorithm runs one ring per edge-disjoint Hamiltonian cycle, in both directions, and the
// direct algorithm sends to every peer on its own link: textbook closed forms.
#include <gtest/gtest.h>

#include <cmath>

#include "sim/engine.h"
#include "sim/error.h"
#include "topology/topology.h"
#include "workloads/collective.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace mesh_collective_test {

using namespace orrery;
using namespace orrery::coll;

namespace {
constexpr double GiB = 1073741824.0;
constexpr double B = 64e9;  // link bandwidth per direction

topo::System full_mesh(int gpus) {
  nlohmann::json j = {{"name", "mesh"},
                      {"accelerator", "mi300x"},
                      {"topology", {{"type", "fully_connected"}, {"gpus", gpus}, {"link_bandwidth", "64 GB/s"}, {"link_latency", "1 us"}}}};
  return topo::system_from_json(j, "test");
}

CollectiveResult all_reduce(const topo::System& sys, double bytes, Algo a, int ranks = 0) {
  CollectiveSpec s;
  s.op = Op::AllReduce;
  s.bytes = bytes;
  s.algo = a;
  s.proto = Proto::Simple;
  for (int r = 0; r < ranks; ++r) s.ranks.push_back(r);
  EventCore core;
  return simulate_collective(sys, s, &core);
}
}  // namespace

// K_n has floor((n-1)/2) edge-disjoint Hamiltonian cycles; each in both directions gives every GPU
// 2 x floor((n-1)/2) links' worth of ring bandwidth. Were two rings to share a link, the fluid
// solver would split it and the bus bandwidth would fall short of this.
TEST(MeshCollective, FullMeshRingsUseEveryCycleInBothDirections) {
  for (int n : {3, 5, 8, 20}) {
    topo::System sys = full_mesh(n);
    CollectiveResult r = all_reduce(sys, 4 * GiB, Algo::Ring);
    double rings = 2.0 * ((n - 1) / 2);
    double bw_time = 2.0 * (n - 1) / n * 4 * GiB / (rings * B);
    EXPECT_NEAR(r.time_s - r.latency_s, bw_time, bw_time * 1e-6) << n << " GPUs";
    double busbw = 2.0 * (n - 1) / n * 4 * GiB / (bw_time + r.latency_s);  // rings x B, less the latency
    EXPECT_NEAR(r.busbw, busbw, busbw * 1e-6) << n << " GPUs";
    EXPECT_GT(r.busbw, 0.9 * rings * B) << n << " GPUs";
  }
}

// Direct: each rank's shard to and from every peer at once, one link each: busbw = (n-1) links.
TEST(MeshCollective, FullMeshDirectSendsOnEveryLinkAtOnce) {
  topo::System sys = full_mesh(8);
  CollectiveResult r = all_reduce(sys, 4 * GiB, Algo::Direct);
  EXPECT_NEAR(r.time_s - r.latency_s, 2.0 * (4 * GiB / 8) / B, 1e-9);
  EXPECT_GT(r.busbw, 6.5 * B);
}

// A subgroup of a mesh is a mesh of its own links: 4 of 8 GPUs have one Hamiltonian cycle (two
// rings), 2 GPUs one link.
TEST(MeshCollective, SubgroupsUseTheirOwnLinks) {
  topo::System sys = full_mesh(8);
  EXPECT_NEAR(all_reduce(sys, 4 * GiB, Algo::Ring, 4).busbw, 2 * B, 0.01 * 2 * B);
  EXPECT_NEAR(all_reduce(sys, 4 * GiB, Algo::Ring, 2).busbw, B, 0.01 * B);
}

// The bundled 8 x MI300X platform: the tuner picks rings for a large all-reduce, at 6 links' worth.
// The platform preset drives each xGMI link at RCCL's usable rate (48 of 64 GB/s:
// direct_link_efficiency 0.75); at line rate (efficiency 1) the same rings reach 6 links.
TEST(MeshCollective, Mi300xPlatformPreset) {
  topo::System sys = topo::load_system("mi300x-8");
  CollectiveResult r = all_reduce(sys, 4 * GiB, Algo::Auto);
  EXPECT_EQ(r.algorithm, Algo::Ring);
  EXPECT_NEAR(r.busbw, 6 * 0.75 * B, 0.02 * 6 * B);
  sys.collective["direct_link_efficiency"] = 1.0;
  EXPECT_NEAR(all_reduce(sys, 4 * GiB, Algo::Auto).busbw, 6 * B, 0.02 * 6 * B);
  sys.collective["direct_link_efficiency"] = 1.5;  // a usable fraction above 1: one-line error
  EXPECT_THROW(all_reduce(sys, 4 * GiB, Algo::Auto), orrery::Error);
}

}  // namespace mesh_collective_test
