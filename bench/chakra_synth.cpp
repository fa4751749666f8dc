// Synthetic Chakra workload for side-by-side runs with other Chakra simulators
// (bench/astra_side_by_side.sh): N ranks, each doing L layers of one compute node followed by one
// all-reduce over every rank (data-parallel style), written with write_workload_chakra.
//   build/chakra_synth --ranks N --layers L --compute-us T --bytes B [--involved-dims K] -o DIR
// writes DIR/synth.<rank>.et and DIR/synth.comm_groups.json (group "1" = every rank).
// --involved-dims K adds ASTRA-sim's `involved_dim` attribute (K x true) to each collective: its
// readers assume one network dimension without it.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/error.h"
#include "workloads/chakra.h"

using namespace orrery;

int main(int argc, char** argv) {
  int ranks = 1024, layers = 8, dims = 0;
  double compute_us = 1000, bytes = 64.0 * 1024 * 1024;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--ranks") ranks = std::atoi(v.c_str());
    else if (k == "--layers") layers = std::atoi(v.c_str());
    else if (k == "--compute-us") compute_us = std::atof(v.c_str());
    else if (k == "--bytes") bytes = std::atof(v.c_str());
    else if (k == "--involved-dims") dims = std::atoi(v.c_str());
    else if (k == "-o") out = v;
    else {
      std::fprintf(stderr, "chakra_synth: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (out.empty() || ranks < 1 || layers < 1 || !(compute_us >= 0) || !(bytes > 0)) {
    std::fprintf(stderr, "usage: chakra_synth --ranks N --layers L --compute-us T --bytes B -o DIR\n");
    return 2;
  }
  try {
    wg::Workload w;
    w.name = "synthetic";
    w.world = ranks;
    std::vector<int> all;
    for (int r = 0; r < ranks; ++r) all.push_back(r);
    int g = w.group("all", all);
    for (int r = 0; r < ranks; ++r) {
      wg::RankGraph rg;
      rg.rank = r;
      for (int l = 0; l < layers; ++l) {
        wg::Node c;
        c.kind = wg::Kind::Compute;
        c.name = "layer" + std::to_string(l);
        c.cls = "compute";
        c.time_s = compute_us * 1e-6;
        if (!rg.nodes.empty()) c.deps.push_back(static_cast<std::int32_t>(rg.nodes.size() - 1));
        rg.nodes.push_back(c);
        wg::Node a;
        a.kind = wg::Kind::Collective;
        a.name = "all_reduce" + std::to_string(l);
        a.cls = "dp";
        a.stream = 1;
        a.op = coll::Op::AllReduce;
        a.bytes = bytes;
        a.group = g;
        a.deps.push_back(static_cast<std::int32_t>(rg.nodes.size() - 1));
        rg.nodes.push_back(a);
      }
      w.ranks.push_back(std::move(rg));
    }
    auto files = write_workload_chakra(w, out, "synth");
    if (dims > 0)
      for (auto& f : files) {
        ChakraTrace t = read_chakra(f);
        ChakraAttr inv;
        inv.name = "involved_dim";
        inv.kind = ChakraAttr::BoolList;
        inv.il.assign(static_cast<std::size_t>(dims), 1);
        for (auto& n : t.nodes)
          if (n.type == ChakraNodeType::CommColl) n.attrs.push_back(inv);
        write_chakra(f, t);
      }
    std::printf("wrote %zu traces to %s\n", files.size(), out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chakra_synth: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
