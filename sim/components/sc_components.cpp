// SystemC shells of the components and the TLM-2.0 bridge (see sc_components.h).
#include "sim/components/sc_components.h"

#include <cctype>
#include <exception>
#include <set>

#include "sim/error.h"

namespace orrery::comp {

ComponentModule::ComponentModule(sc_core::sc_module_name name, Hub& hub, int index)
    : sc_core::sc_module(name), hub_(hub), index_(index) {
  SC_METHOD(on_wake);
  sensitive << wake;
  dont_initialize();
}

// Runs in the delta cycle after the event that changed the load: same simulated time, so the
// new capacities apply from the instant the activity started or ended.
void ComponentModule::on_wake() {
  ++wakeups_;
  try {
    hub_.react(index_);
    hub_.core().reschedule();
  } catch (...) {
    static_cast<SystemCEngine&>(hub_.core()).fail(std::current_exception());
  }
}

namespace {
std::string legal(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  return out.empty() ? "v" : out;
}
}  // namespace

ClusterModule::ClusterModule(sc_core::sc_module_name name, Hub& hub) : sc_core::sc_module(name) {
  std::set<std::string> used;
  const auto& cs = hub.components();
  for (std::size_t i = 0; i < cs.size(); ++i) {
    std::string n = legal(cs[i].name);
    if (!used.insert(n).second) n += "_v" + std::to_string(i);
    used.insert(n);
    int k = static_cast<int>(i);
    switch (cs[i].kind) {
      case Kind::Gpu: parts_.push_back(std::make_unique<GpuModule>(n.c_str(), hub, k)); break;
      case Kind::Nic: parts_.push_back(std::make_unique<NicModule>(n.c_str(), hub, k)); break;
      case Kind::Switch: parts_.push_back(std::make_unique<SwitchModule>(n.c_str(), hub, k)); break;
    }
  }
}

ComponentModule* ClusterModule::find(const std::string& component_name) const {
  for (auto& p : parts_)
    if (p->hub().components()[static_cast<std::size_t>(p->index())].name == component_name) return p.get();
  return nullptr;
}

void wire_systemc(Hub& hub) {
  auto* sc = dynamic_cast<SystemCEngine*>(&hub.core());
  if (!sc) return;
  // Modules can only be made before the kernel starts (one SystemC simulation per process).
  if (sc_core::sc_get_status() != sc_core::SC_ELABORATION) {
    if (hub.has_models()) throw Error("internal: component models need a SystemC engine that has not run yet");
    return;
  }
  // Like the engine's own module, the shells live as long as the kernel (one simulation per
  // process): SystemC objects are not deleted while the simulation context exists.
  std::shared_ptr<ClusterModule> cluster(new ClusterModule("cluster", hub), [](ClusterModule*) {});
  if (hub.has_models()) {
    ClusterModule* c = cluster.get();
    hub.set_waker([c](int i) { c->parts()[static_cast<std::size_t>(i)]->wake.notify(sc_core::SC_ZERO_TIME); });
  }
  hub.shells = cluster;
}

TlmBridge::TlmBridge(sc_core::sc_module_name name, double probe_bytes)
    : sc_core::sc_module(name), socket("socket"), probe_bytes_(probe_bytes) {
  if (!(probe_bytes >= 1) || probe_bytes > (1 << 30)) throw make_error("TlmBridge", "probe_bytes", "must be 1 byte to 1 GiB");
  buffer_.assign(static_cast<std::size_t>(probe_bytes), 0);
}

double TlmBridge::capacity(const Load& load) {
  if (load.kind == Kind::Gpu && load.resource == "sm") return load.capacity;
  tlm::tlm_generic_payload p;
  LoadExtension ext;
  ext.load = load;
  p.set_command(tlm::TLM_READ_COMMAND);
  p.set_address(static_cast<sc_dt::uint64>(load.index));
  p.set_data_ptr(buffer_.data());
  p.set_data_length(static_cast<unsigned>(buffer_.size()));
  p.set_streaming_width(static_cast<unsigned>(buffer_.size()));
  p.set_byte_enable_ptr(nullptr);
  p.set_dmi_allowed(false);
  p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  p.set_extension(&ext);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  socket->b_transport(p, delay);
  p.clear_extension(&ext);
  ++transactions_;
  if (p.is_response_error())
    throw make_error("component", load.component, load.resource + ": the TLM model answered " + p.get_response_string());
  double s = delay.to_seconds();
  return s > 0 ? static_cast<double>(buffer_.size()) / s : load.nominal;
}

}  // namespace orrery::comp
