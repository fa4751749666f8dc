// `orrery topo SYSTEM [--nodes N] [--dot out.dot] [--json out.json]`: topology summary and export.
#include <cstdio>
#include <fstream>

#include "sim/error.h"
#include "tools/command.h"
#include "topology/topology.h"
#include "workloads/collective.h"

namespace orrery::cli {
namespace {
Spec topo_spec() {
  Spec s;
  s.name = "topo";
  s.summary = "summarize a system's topology (GPUs, switches, links, diameter, bisection); --dot, --json";
  s.usage = "SYSTEM [--nodes N] [--sys-set KEY=VALUE]... [--dot out.dot] [--json out.json]";
  s.example = "topo dgx-h100 --nodes 4 --json sys.json   (then: orrery collective --system sys.json)";
  s.flags = {nodes_flag(), sys_set_flag(),
             {"--dot", "FILE", "", "", "Graphviz drawing of the graph"},
             {"--json", "FILE", "", "", "the system as a loadable system file (--system FILE), with the summary and the explicit graph"}};
  s.notes = "SYSTEM: a preset (orrery list systems) or a system JSON file.";
  return s;
}

Register topo_reg(topo_spec(), [](Args& a) {
               if (a.positional().size() != 1) throw Error("usage: orrery topo " + topo_spec().usage);
               long nodes = a.get_int("--nodes", 0);
               if (nodes < 0 || (a.has("--nodes") && nodes < 1)) throw make_error("--nodes", std::to_string(nodes), "must be at least 1");
               topo::System sys = topo::load_system(a.positional()[0], static_cast<int>(nodes), a.all("--sys-set"));
               // The collective section is checked as `collective` and `train` check it (unknown keys,
               // units): a system topo accepts must not fail later.
               coll::collective_params().resolve(sys.collective, sys.source_path + ": collective");
               topo::Summary s = sys.topo.summary();
               std::printf("system:     %s\n", sys.name.c_str());
               if (!sys.description.empty()) std::printf("            %s\n", sys.description.c_str());
               std::printf("topology:   %s%s\n", sys.topo.type.c_str(),
                           sys.topo.routing == topo::Routing::FatTree ? " (NVSwitch nodes, rail-optimized fat tree, up/down routing)"
                           : sys.topo.routing == topo::Routing::Torus ? " (dimension-order routing)"
                                                                      : " (shortest path, ECMP)");
               if (sys.topo.fat && sys.topo.nodes > 1)
                 std::printf("nodes:      %d x %d GPUs, fat tree of %d tier(s), %zu leaf switches\n", sys.topo.nodes,
                             sys.topo.gpus_per_node, sys.topo.fat->tiers + 0, sys.topo.fat->leaf.size());
               std::printf("%s", s.text().c_str());
               if (a.has("--dot")) {
                 std::ofstream out(a.get("--dot"));
                 if (!out) throw make_error("--dot", a.get("--dot"), "cannot write");
                 out << sys.topo.to_dot();
               }
               if (a.has("--json")) {
                 std::ofstream out(a.get("--json"));
                 if (!out) throw make_error("--json", a.get("--json"), "cannot write");
                 out << topo::system_to_json(sys).dump(1) << "\n";
               }
               return 0;
             });
}  // namespace
}  // namespace orrery::cli
