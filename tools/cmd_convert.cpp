// `orrery convert`: write Chakra execution traces (et_def.proto) from a generated workload.
#include <cstdio>

#include "sim/error.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

namespace orrery::cli {

TrainOptions parse_train_options(const Args& a);  // tools/cmd_train.cpp

namespace {
Register reg(
    "convert",
    "write Chakra execution traces (.et) from a generated training step (--from-train ...)",
    [](const std::vector<std::string>& args) {
      std::vector<std::string> with_value = train_flags_with_value();
      with_value.push_back("-o");
      with_value.push_back("--output");
      with_value.push_back("--prefix");
      std::vector<std::string> bools = train_bool_flags();
      bools.push_back("--from-train");
      Args a(args, with_value, bools);
      std::string out = a.get("-o", a.get("--output"));
      if (out.empty()) throw make_error("-o", "", "required: output directory");
      if (!a.positional().empty())
        throw make_error(a.positional()[0], "",
                         "converting a PyTorch capture bundle to Chakra is not supported yet; use --from-train");
      if (!a.has("--from-train")) throw make_error("convert", "", "nothing to convert: use --from-train <orrery train flags>");
      if (!chakra_available())
        throw make_error("convert", "", "orrery was built without protobuf: Chakra traces are unavailable");
      TrainOptions o = parse_train_options(a);
      o.engine = "event";
      o.timeline_path.clear();
      ModelSpec m = load_model(o.model);
      SystemSpec s = load_system(o.system, o.nodes);
      Accelerator hw = load_accelerator(s.gpu);
      auto comm = make_comm_model(s, o.comm);
      EventCore core;
      TrainResult r = run_training(m, s, o.plan, hw, *comm, core, o.check_memory, /*record=*/true);
      std::string prefix = a.get("--prefix", m.name);
      auto files = write_train_chakra(r, out, prefix);
      std::printf("wrote %zu Chakra traces (one per pipeline stage's representative rank) to %s\n", files.size(), out.c_str());
      for (auto& f : files) std::printf("  %s\n", f.c_str());
      std::printf("simulated iteration_time_s %.4f\n", r.iteration_time_s);
      return 0;
    });
}  // namespace
}  // namespace orrery::cli
