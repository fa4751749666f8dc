#pragma once
// Pluggable component models (kernel-free core). The cluster is made of components, one per GPU,
// NIC and switch of the topology; each owns fluid resources (a GPU its SMs and HBM, a NIC its
// links, a switch its egress links). By default the fluid solver prices them at their nominal
// capacities. A Model attached to a component is asked for each resource's capacity whenever the
// load on the component changes (an activity using it starts or finishes), so a hardware team can
// put its own HBM controller, NIC or switch model in place of the built-in one (docs/components.md).
// Under the SystemC engine every component is an sc_module woken by an sc_event
// (sim/components/sc_components.h) and a Model may be a TLM-2.0 target behind a TlmBridge; under
// the event engine the Hub calls models directly. Both give the same answer.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/fluid.h"

namespace orrery::net {
class Network;
}

namespace orrery::comp {

enum class Kind { Gpu, Nic, Switch };
const char* kind_name(Kind k);

// What a model sees of one of its component's resources when asked for its capacity.
struct Load {
  std::string component;      // topology vertex name ("node0.gpu3"), as `orrery topo --json` prints
  Kind kind = Kind::Gpu;
  std::string resource;       // "sm", "hbm" (GPU) or the link "a->b" (NIC, switch)
  int index = 0;              // position of the resource in the component
  double now_s = 0;
  std::size_t activities = 0; // running activities (kernels, flows) using the resource
  double nominal = 0;         // built-in capacity: bytes/s (HBM, links) or SMs
  double capacity = 0;        // capacity in force now
};

class Model {
 public:
  virtual ~Model() = default;
  // Capacity of the resource under this load (same unit as Load::nominal; finite, > 0).
  // Called at simulated time now_s; must not depend on anything but the load and its own state.
  virtual double capacity(const Load& load) = 0;
};

struct Component {
  Kind kind = Kind::Gpu;
  std::string name;
  int vertex = -1;
  struct Resource {
    fluid::ResourceId id = -1;
    std::string name;
    double nominal = 0;
  };
  std::vector<Resource> resources;  // resolved when a model is attached
  std::shared_ptr<Model> model;     // null: built-in (nominal capacities)
  std::uint64_t reactions = 0;      // times the model was consulted
};

class Hub {
 public:
  // Every GPU, NIC and switch of the network's topology (no fluid resource is created).
  Hub(net::Network& net, EventCore& core);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  const std::vector<Component>& components() const { return comps_; }
  // Attaches `m` to the component named `target`, or to every component of a kind when target
  // is "gpu", "nic" or "switch". Throws Error when nothing matches or a resource is taken.
  // Returns the number of components it was attached to.
  int attach(const std::string& target, std::shared_ptr<Model> m);
  bool has_models() const { return attached_ > 0; }

  // How a component whose load changed is woken; default: react at once (kernel-free).
  // The SystemC wiring replaces it with an sc_event notification.
  void set_waker(std::function<void(int component)> w) { waker_ = std::move(w); }
  // Asks the component's model for the capacity of each of its resources and applies them.
  void react(int component);

  EventCore& core() { return core_; }
  // The SystemC shells' owner (set by wire_systemc), kept alive with the hub.
  std::shared_ptr<void> shells;

 private:
  net::Network& net_;
  EventCore& core_;
  std::vector<Component> comps_;
  std::vector<int> owner_;  // component owning each fluid resource (-1: none)
  std::function<void(int)> waker_;
  int attached_ = 0;
  void resolve(Component& c);
  void on_activity(const std::vector<fluid::Usage>& usage);
};

// Wires the components as sc_modules when `core` is the SystemC engine (one shell per GPU, NIC
// and switch; each woken by its sc_event when a model is attached); does nothing otherwise.
// Defined in sc_components.cpp, the only file here that includes SystemC.
void wire_systemc(Hub& hub);

}  // namespace orrery::comp
