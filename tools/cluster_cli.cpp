// Command-line side of the cluster executor (see cluster_cli.h).
#include "tools/cluster_cli.h"

#include <cmath>
#include <cstdio>

#include "sim/error.h"

namespace orrery::cli {

std::vector<Flag> cluster_flags() {
  return {
      {"--gpu-speed", "RANK=FACTOR", "", "", "compute speed of a rank or range (0-7=0.8): stragglers", Flag::Repeat},
      {"--gpu-set", "RANK:NAME=VALUE", "", "", "GPU parameter for one rank or range (see orrery describe accelerator)", Flag::Repeat},
      {"--fail", "ELEMENT", "", "", "fail a link or switch (names as orrery topo --json prints them)", Flag::Repeat},
      {"--degrade", "ELEMENT=FRACTION", "", "", "run a link or switch at a fraction of its bandwidth", Flag::Repeat},
      {"--rank-map", "FILE", "", "", "rank -> GPU placement (JSON)"},
      {"--no-symmetry", "", "", "", "simulate every rank even when ranks are symmetric"},
      {"--component", "TARGET=LIB.so", "", "", "component model plugin for gpu, nic, switch or one component (docs/components.md)", Flag::Repeat},
  };
}

ClusterOptions parse_cluster_options(const Args& a) {
  ClusterOptions o;
  o.gpu_speed = a.all("--gpu-speed");
  o.gpu_set = a.all("--gpu-set");
  o.fail = a.all("--fail");
  o.degrade = a.all("--degrade");
  o.rank_map = a.get("--rank-map");
  o.no_symmetry = a.has("--no-symmetry");
  o.components = a.all("--component");
  return o;
}

topo::System load_job_system(const Args& a, int world) {
  std::string name = a.get("--system", "dgx-h100");
  int nodes = static_cast<int>(a.get_int("--nodes", 0));
  if (a.has("--nodes") && nodes < 1) throw make_error("--nodes", a.get("--nodes"), "must be at least 1");
  topo::System s = topo::load_system(name, nodes, a.all("--sys-set"));
  if (!a.has("--nodes") && s.topo.num_gpus() < world && s.topo.gpus_per_node > 0 && s.topo.type == "nvswitch") {
    int need = (world + s.topo.gpus_per_node - 1) / s.topo.gpus_per_node;
    s = topo::load_system(name, need, a.all("--sys-set"));
  }
  if (s.topo.num_gpus() < world)
    throw make_error("--system", name,
                     "has " + std::to_string(s.topo.num_gpus()) + " GPUs, the job has " + std::to_string(world) + " ranks");
  return s;
}

void print_cluster_report(const ExecResult& r, bool symmetric, std::size_t simulated, int world) {
  std::printf("\nexecutor   %zu of %d ranks simulated%s, %zu nodes, %zu flows, %llu events, %.2f s wall\n", simulated,
              world, symmetric ? " (symmetry: one per class of identical ranks)" : "", r.nodes, r.flows,
              static_cast<unsigned long long>(r.events), r.wall_s);
  std::printf("%s", r.text().c_str());
}

}  // namespace orrery::cli
