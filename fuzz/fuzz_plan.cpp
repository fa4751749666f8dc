// Fuzz target: `orrery train` plan flags (one argument per line) through the CLI's own parser,
// then the plan checks against a bundled model and system (no simulation). Arguments naming
// files are dropped: the target is the flags, not the file system.
#include <sstream>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "tools/command.h"
#include "topology/topology.h"
#include "workloads/models.h"
#include "workloads/train.h"

namespace orrery::cli {
TrainOptions parse_train_options(const Args& a);  // tools/cmd_train.cpp
std::vector<Flag> train_flags(bool required);      // tools/cmd_train.cpp
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_text(data, size, [](const std::string& text) {
    std::vector<std::string> args;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.find('/') != std::string::npos || line.find(".json") != std::string::npos) return;
      args.push_back(line);
    }
    orrery::cli::Spec spec;
    spec.name = "train";
    spec.flags = orrery::cli::train_flags(false);
    orrery::cli::Args a(args, spec);
    orrery::TrainOptions o = orrery::cli::parse_train_options(a);
    orrery::ModelSpec m = orrery::load_model(o.model);
    orrery::SystemSpec s = orrery::load_system_spec(o.system, o.nodes, o.sys_overrides);
    orrery::validate_plan(m, o.plan, s);
  });
  return 0;
}

// Topologies capped at 256 GPUs and 65536 cables here (`--nodes 170` on dgx-h100, 1360 GPUs, took
// 140 ms under ASan, 50 times a typical input; the GPT-3 seed plans 128 GPUs, not 1024, for the
// same reason): the flags and plan checks run on every input; the real limits are tested in
// tests/topology_test.cpp and tests/robustness_test.cpp.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  orrery::topo::size_limits() = {256, 65536};
  return 0;
}
