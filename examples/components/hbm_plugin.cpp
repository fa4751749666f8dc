// The HBM controller example as a component plugin (docs/components.md), built as
// build/libhbm_controller_plugin.so:
//   orrery train ... --component gpu=build/libhbm_controller_plugin.so
// Under the SystemC engine it plugs the TLM-2.0 HbmController in through a TlmBridge; under the
// event engine, the kernel-free HbmEfficiency (the same answer).
#include "examples/components/hbm_controller.h"
#include "sim/components/plugin.h"

extern "C" void orrery_component_plugin(orrery::comp::Hub& hub, const char* target) {
  if (dynamic_cast<orrery::SystemCEngine*>(&hub.core())) {
    // Made during elaboration; like every SystemC object here they live as long as the process.
    auto* ctrl = new hbm_example::HbmController(sc_core::sc_gen_unique_name("hbm_controller"));
    auto bridge = std::make_shared<orrery::comp::TlmBridge>(sc_core::sc_gen_unique_name("hbm_bridge"));
    bridge->socket.bind(ctrl->socket);
    hub.attach(target, bridge);
  } else {
    hub.attach(target, std::make_shared<hbm_example::HbmEfficiency>());
  }
}
