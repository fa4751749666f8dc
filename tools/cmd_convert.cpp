// `orrery convert`: write Chakra execution traces (et_def.proto) from a generated workload.
#include <cstdio>
#include <filesystem>

#include "sim/error.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

namespace orrery::cli {

TrainOptions parse_train_options(const Args& a);  // tools/cmd_train.cpp

namespace {
Register reg(
    "convert",
    "write Chakra execution traces (.et) from a capture bundle or a generated training step (--from-train ...)",
    [](const std::vector<std::string>& args) {
      std::vector<std::string> with_value = train_flags_with_value();
      with_value.push_back("-o");
      with_value.push_back("--output");
      with_value.push_back("--prefix");
      std::vector<std::string> bools = train_bool_flags();
      bools.push_back("--from-train");
      bools.push_back("--all-ranks");
      Args a(args, with_value, bools);
      std::string out = a.get("-o", a.get("--output"));
      if (out.empty()) throw make_error("-o", "", "required: output directory");
      if (!chakra_available())
        throw make_error("convert", "", "orrery was built without protobuf: Chakra traces are unavailable");
      if (a.positional().size() > 1) throw make_error("convert", a.positional()[1], "one capture bundle at a time");
      if (!a.positional().empty()) {
        if (a.has("--from-train")) throw make_error("convert", "", "give a bundle or --from-train, not both");
        std::string bundle = a.positional()[0];
        std::string prefix = a.get("--prefix", std::filesystem::path(bundle).filename().string());
        if (prefix.empty()) prefix = "trace";
        auto files = write_bundle_chakra(bundle, out, prefix);
        std::printf("wrote %zu Chakra traces from capture bundle %s to %s\n", files.size(), bundle.c_str(), out.c_str());
        for (auto& f : files) std::printf("  %s\n", f.c_str());
        return 0;
      }
      if (!a.has("--from-train"))
        throw make_error("convert", "", "nothing to convert: give a capture bundle directory or --from-train <orrery train flags>");
      TrainOptions o = parse_train_options(a);
      o.engine = "event";
      o.timeline_path.clear();
      ModelSpec m = load_model(o.model);
      SystemSpec s = load_system(o.system, o.nodes);
      Accelerator hw = load_accelerator(s.gpu, o.hw_overrides);
      auto comm = make_comm_model(s, o.comm);
      EventCore core;
      TrainResult r = run_training(m, s, o.plan, hw, *comm, core, o.check_memory, /*record=*/true);
      std::string prefix = a.get("--prefix", m.name);
      bool all = a.has("--all-ranks");
      auto files = write_train_chakra(r, out, prefix, all);
      std::printf("wrote %zu Chakra traces (%s) to %s\n", files.size(),
                  all ? "one per GPU" : "one per pipeline stage's representative rank", out.c_str());
      if (files.size() <= 64)
        for (auto& f : files) std::printf("  %s\n", f.c_str());
      std::printf("simulated iteration_time_s %.4f\n", r.iteration_time_s);
      return 0;
    });
}  // namespace
}  // namespace orrery::cli
