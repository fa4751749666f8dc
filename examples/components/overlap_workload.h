#pragma once
// The workload of the component example: data-parallel training steps where each layer's
// gradient all-reduce (stream 1) overlaps the next layer's kernels (stream 0), so kernels and
// collective copies share each GPU's HBM, and the all-reduces load NVLink / the NICs.
#include <string>
#include <vector>

#include "workloads/graph.h"

namespace hbm_example {

inline orrery::wg::Workload overlap_workload(int ranks, int layers, double grad_bytes = 16.0 * (1 << 20)) {
  using orrery::wg::Kind;
  using orrery::wg::Node;
  orrery::wg::Workload w;
  w.name = "overlap";
  w.world = ranks;
  std::vector<int> all;
  for (int r = 0; r < ranks; ++r) all.push_back(r);
  int g = w.group("dp", all);
  for (int r = 0; r < ranks; ++r) {
    orrery::wg::RankGraph rg;
    rg.rank = r;
    for (int l = 0; l < layers; ++l) {
      Node gemm;
      gemm.name = "gemm" + std::to_string(l);
      gemm.cls = "gemm";
      gemm.time_s = 300e-6;
      gemm.sm_share = 0.8;
      gemm.hbm_share = 0.5;
      rg.nodes.push_back(gemm);
      Node ew;
      ew.name = "elementwise" + std::to_string(l);
      ew.cls = "elementwise";
      ew.time_s = 200e-6;
      ew.sm_share = 0.3;
      ew.hbm_share = 0.95;
      rg.nodes.push_back(ew);
      Node ar;
      ar.kind = Kind::Collective;
      ar.name = "allreduce" + std::to_string(l);
      ar.cls = "dp";
      ar.stream = 1;
      ar.op = orrery::coll::Op::AllReduce;
      ar.bytes = grad_bytes;
      ar.group = g;
      ar.deps = {static_cast<int>(rg.nodes.size()) - 1};
      rg.nodes.push_back(ar);
    }
    w.ranks.push_back(std::move(rg));
  }
  w.validate("overlap workload");
  return w;
}

}  // namespace hbm_example
