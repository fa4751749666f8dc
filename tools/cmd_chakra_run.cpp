// `orrery chakra-run DIR`: run Chakra execution traces (*.et) on a system's GPU and network model.
#include <cstdio>

#include "sim/error.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

namespace orrery::cli {
namespace {
Spec spec() {
  Spec s;
  s.name = "chakra-run";
  s.summary = "simulate a directory of Chakra execution traces (*.et) on a system";
  s.usage = "DIR [--system NAME|FILE] [--nodes N] [--comm auto|fabric|builtin]";
  s.example = "chakra-run traces --system dgx-h100";
  s.flags = {system_flag(),
             {"--nodes", "N", "1", "", "nodes of the system"},
             {"--comm", "auto|fabric|builtin", "auto", "", "collective model", Flag::MeaningDefault},
             set_flag(),
             sys_set_flag()};
  s.notes = "DIR: one <prefix>.<rank>.et per rank (Chakra's own traces and orrery convert output). Self-dependencies\n"
            "are dropped with a note, as Chakra's feeder never waits on them. See docs/chakra.md.";
  return s;
}

Register reg(spec(), [](Args& a) {
  if (a.positional().size() != 1) throw Error("usage: orrery chakra-run " + spec().usage);
  SystemSpec s = load_system(a.get("--system"), static_cast<int>(a.get_int("--nodes", 1)), a.all("--sys-set"));
  Accelerator hw = load_accelerator(s.gpu, a.all("--set"));
  auto comm = make_comm_model(s, a.get("--comm"));
  ChakraRunResult r = run_chakra_dir(a.positional()[0], hw, *comm);
  for (auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  std::printf("traces %zu, nodes %llu\n", r.files.size(), static_cast<unsigned long long>(r.nodes));
  for (size_t k = 0; k < r.files.size(); ++k) std::printf("  %-50s %.6f s\n", r.files[k].c_str(), r.rank_time_s[k]);
  std::printf("makespan_s %.6f\n", r.makespan_s);
  if (!a.defaults_used().empty()) std::printf("defaults used: %s\n", a.defaults_used().c_str());
  return 0;
});
}  // namespace
}  // namespace orrery::cli
