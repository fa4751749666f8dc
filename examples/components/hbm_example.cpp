// Worked example (docs/components.md): run a data-parallel workload on a system with the
// built-in HBM, or with the user's HBM controller in place of every GPU's HBM:
//   example_hbm_controller [--engine systemc|event] [--model builtin|hbm] [--system NAME] [--ranks N]
// With --engine systemc the controller is the TLM-2.0 target HbmController behind a TlmBridge,
// and every GPU, NIC and switch is an sc_module; with --engine event it is the kernel-free
// HbmEfficiency. Both give the same step time. Prints "makespan_s <seconds>".
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "examples/components/hbm_controller.h"
#include "examples/components/overlap_workload.h"
#include "hw_models/accelerator.h"
#include "sim/error.h"
#include "sim/executor.h"
#include "topology/topology.h"

int main(int argc, char** argv) {
  std::string engine = "systemc", model = "hbm", system = "dgx-h100";
  int ranks = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--engine") engine = v;
    else if (k == "--model") model = v;
    else if (k == "--system") system = v;
    else if (k == "--ranks") ranks = std::stoi(v);
    else {
      std::fprintf(stderr, "example_hbm_controller: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  try {
    orrery::topo::System sys = orrery::topo::load_system(system);
    orrery::Accelerator hw = orrery::load_accelerator(sys.accelerator);
    auto core = orrery::make_engine(engine);
    orrery::wg::Workload w = hbm_example::overlap_workload(ranks, 8);
    std::vector<orrery::RankHardware> rh(static_cast<std::size_t>(ranks), orrery::RankHardware{&hw, 1.0});
    orrery::ExecOptions opt;
    hbm_example::HbmController* ctrl = nullptr;
    std::shared_ptr<orrery::comp::TlmBridge> bridge;
    if (model == "hbm" && engine == "systemc") {
      // SystemC objects are made before the run (elaboration) and live as long as the kernel.
      ctrl = new hbm_example::HbmController("hbm_controller");
      bridge = std::make_shared<orrery::comp::TlmBridge>("hbm_bridge");
      bridge->socket.bind(ctrl->socket);
      opt.components = [&](orrery::comp::Hub& hub) { hub.attach("gpu", bridge); };
    } else if (model == "hbm") {
      opt.components = [](orrery::comp::Hub& hub) { hub.attach("gpu", std::make_shared<hbm_example::HbmEfficiency>()); };
    } else if (model != "builtin") {
      throw orrery::make_error("--model", model, "expected builtin or hbm");
    }
    orrery::ExecResult r = orrery::execute(w, sys, rh, *core, opt);
    std::printf("system %s, %d ranks, engine %s, model %s\n", sys.name.c_str(), ranks, engine.c_str(), model.c_str());
    std::printf("events %llu\n", static_cast<unsigned long long>(r.events));
    if (ctrl) std::printf("tlm_transactions %llu\n", static_cast<unsigned long long>(ctrl->transactions));
    std::printf("makespan_s %.9f\n", r.makespan_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_hbm_controller: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
