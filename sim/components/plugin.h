#pragma once
// Component models from shared libraries (`--component TARGET=LIB.so`, docs/components.md).
// A plugin exports
//   extern "C" void orrery_component_plugin(orrery::comp::Hub& hub, const char* target);
// which attaches its model(s) to `target` (a component name, or gpu / nic / switch) with
// hub.attach(); under the SystemC engine it may build SystemC/TLM-2.0 modules first (it is called
// during elaboration). Libraries stay loaded for the life of the process.
#include <functional>
#include <string>
#include <vector>

#include "sim/components/component.h"

namespace orrery::comp {

using PluginEntry = void (*)(Hub& hub, const char* target);

// The ExecOptions::components callback for these specs ("TARGET=PATH"); empty when none.
// Loads every library now: a bad spec, a library that does not load or lacks the entry point is
// one Error naming `--component` and the spec.
std::function<void(Hub&)> load_plugins(const std::vector<std::string>& specs);

}  // namespace orrery::comp
