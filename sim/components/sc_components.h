#pragma once
// SystemC side of the components (see component.h): every GPU, NIC and switch of the cluster is
// an sc_module (GpuModule, NicModule, SwitchModule) under one "cluster" module, woken by its
// sc_event `wake` when the load on its resources changes; its SC_METHOD asks the attached model
// for capacities and re-plans the engine's next wake-up. TlmBridge lets that model be any
// TLM-2.0 loosely-timed target (an HBM controller, a NIC): the bridge sends it one probe
// transaction per resource and takes capacity = probe bytes / annotated delay.
// Include only from code that runs the SystemC engine (one SystemC simulation per process).
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "sim/components/component.h"

namespace orrery::comp {

// The shell of one component: thin, all arithmetic is in the Hub and the model.
class ComponentModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ComponentModule);
  ComponentModule(sc_core::sc_module_name name, Hub& hub, int index);
  sc_core::sc_event wake;  // notified (delta) when an activity on the component starts or ends
  int index() const { return index_; }
  const Hub& hub() const { return hub_; }
  std::uint64_t wakeups() const { return wakeups_; }

 private:
  void on_wake();
  Hub& hub_;
  int index_;
  std::uint64_t wakeups_ = 0;
};

struct GpuModule : ComponentModule { using ComponentModule::ComponentModule; const char* kind() const override { return "orrery_gpu"; } };
struct NicModule : ComponentModule { using ComponentModule::ComponentModule; const char* kind() const override { return "orrery_nic"; } };
struct SwitchModule : ComponentModule { using ComponentModule::ComponentModule; const char* kind() const override { return "orrery_switch"; } };

// The cluster as a module hierarchy: cluster.<vertex name> (names made SystemC-legal).
class ClusterModule : public sc_core::sc_module {
 public:
  ClusterModule(sc_core::sc_module_name name, Hub& hub);
  const std::vector<std::unique_ptr<ComponentModule>>& parts() const { return parts_; }
  ComponentModule* find(const std::string& component_name) const;

 private:
  std::vector<std::unique_ptr<ComponentModule>> parts_;
};

// The load of the resource a probe asks about, attached to every probe transaction.
struct LoadExtension : tlm::tlm_extension<LoadExtension> {
  Load load;
  tlm::tlm_extension_base* clone() const override { return new LoadExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& e) override { load = static_cast<const LoadExtension&>(e).load; }
};

// A Model backed by a TLM-2.0 target: bind `socket` to the target's socket before the run.
// For each resource the bridge sends a READ of `probe_bytes` at address = resource index, with
// a LoadExtension, through b_transport (the target must not wait(): it annotates the delay) and
// returns probe_bytes / delay (bytes/s) as the capacity; a zero delay keeps the nominal one.
// Only bytes/s resources are probed (HBM, links); SMs keep their capacity.
class TlmBridge : public sc_core::sc_module, public Model {
 public:
  TlmBridge(sc_core::sc_module_name name, double probe_bytes = 1 << 20);
  tlm_utils::simple_initiator_socket<TlmBridge> socket;
  double capacity(const Load& load) override;
  std::uint64_t transactions() const { return transactions_; }

 private:
  double probe_bytes_;
  std::vector<unsigned char> buffer_;
  std::uint64_t transactions_ = 0;
};

}  // namespace orrery::comp
