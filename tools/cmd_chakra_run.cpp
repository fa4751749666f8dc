// `orrery chakra-run DIR`: run Chakra execution traces (*.et) on a system's GPU and network model.
#include <cstdio>

#include "sim/error.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

namespace orrery::cli {
namespace {
Register reg("chakra-run", "simulate a directory of Chakra execution traces (*.et) on a system",
             [](const std::vector<std::string>& args) {
               Args a(args, {"--system", "--nodes", "--comm", "--sys-set"}, {});
               if (a.positional().size() != 1) throw make_error("chakra-run", "", "usage: orrery chakra-run DIR --system dgx-h100|dgx-a100|system.json");
               SystemSpec s = load_system(a.get("--system", "dgx-h100"), static_cast<int>(a.get_int("--nodes", 1)), a.all("--sys-set"));
               Accelerator hw = load_accelerator(s.gpu);
               auto comm = make_comm_model(s, a.get("--comm", "auto"));
               ChakraRunResult r = run_chakra_dir(a.positional()[0], hw, *comm);
               std::printf("traces %zu, nodes %llu\n", r.files.size(), static_cast<unsigned long long>(r.nodes));
               for (size_t k = 0; k < r.files.size(); ++k) std::printf("  %-50s %.6f s\n", r.files[k].c_str(), r.rank_time_s[k]);
               std::printf("makespan_s %.6f\n", r.makespan_s);
               return 0;
             });
}  // namespace
}  // namespace orrery::cli
