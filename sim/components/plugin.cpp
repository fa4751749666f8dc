// Loading component plugins (see plugin.h).
#include "sim/components/plugin.h"

#include <dlfcn.h>

#include "sim/error.h"

namespace orrery::comp {

std::function<void(Hub&)> load_plugins(const std::vector<std::string>& specs) {
  if (specs.empty()) return {};
  std::vector<std::pair<std::string, PluginEntry>> entries;
  for (const std::string& s : specs) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      throw make_error("--component", s, "expected TARGET=LIB.so (TARGET: gpu, nic, switch or a component name)");
    std::string lib = s.substr(eq + 1);
    // A bare file name would make dlopen search the system's library path: take it as a path.
    if (lib.find('/') == std::string::npos) lib = "./" + lib;
    void* h = dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
      const char* why = dlerror();
      throw make_error("--component", s, std::string("cannot load the plugin library (") + (why ? why : "?") + ")");
    }
    auto fn = reinterpret_cast<PluginEntry>(dlsym(h, "orrery_component_plugin"));
    if (!fn) throw make_error("--component", s, "the library does not export orrery_component_plugin");
    entries.emplace_back(s.substr(0, eq), fn);
  }
  return [entries](Hub& hub) {
    for (auto& [target, fn] : entries) fn(hub, target.c_str());
  };
}

}  // namespace orrery::comp
