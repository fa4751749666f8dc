// Component models, kernel-free part (see component.h): the components of a topology, models
// attached to them, and applying a model's capacities to the fluid solver when the load changes.
#include "sim/components/component.h"

#include <cmath>

#include "sim/error.h"
#include "sim/network.h"

namespace orrery::comp {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Gpu: return "gpu";
    case Kind::Nic: return "nic";
    case Kind::Switch: return "switch";
  }
  return "?";
}

Hub::Hub(net::Network& net, EventCore& core) : net_(net), core_(core) {
  const topo::Topology& t = net.topology();
  for (int v = 0; v < t.num_vertices(); ++v) {
    const topo::VertexProps& p = t.vertex(v);
    Component c;
    c.vertex = v;
    c.name = p.name;
    c.kind = p.kind == topo::Kind::GPU ? Kind::Gpu : p.kind == topo::Kind::NIC ? Kind::Nic : Kind::Switch;
    comps_.push_back(std::move(c));
  }
}

Hub::~Hub() {
  if (attached_ > 0) core_.set_activity_observer(nullptr);
}

void Hub::resolve(Component& c) {
  const topo::Topology& t = net_.topology();
  fluid::Solver& s = core_.fluid();
  auto add = [&](fluid::ResourceId id, const std::string& name) {
    c.resources.push_back({id, name, s.capacity(id)});
  };
  if (c.kind == Kind::Gpu) {
    net::GpuResources g = net_.gpu(t.vertex(c.vertex).rank);
    add(g.sm, "sm");
    add(g.hbm, "hbm");
    return;
  }
  for (std::size_t l = 0; l < t.links.size(); ++l) {
    const topo::Link& L = t.links[l];
    bool mine = c.kind == Kind::Nic ? (L.src == c.vertex || L.dst == c.vertex) : L.src == c.vertex;
    if (mine) add(net_.link_resource(static_cast<int>(l)), t.vertex(L.src).name + "->" + t.vertex(L.dst).name);
  }
}

int Hub::attach(const std::string& target, std::shared_ptr<Model> m) {
  if (!m) throw Error("internal: null component model");
  bool by_kind = target == "gpu" || target == "nic" || target == "switch";
  int n = 0;
  for (std::size_t i = 0; i < comps_.size(); ++i) {
    Component& c = comps_[i];
    if (by_kind ? target != kind_name(c.kind) : target != c.name) continue;
    if (c.resources.empty()) resolve(c);
    for (auto& r : c.resources) {
      if (owner_.size() <= static_cast<std::size_t>(r.id)) owner_.resize(static_cast<std::size_t>(r.id) + 1, -1);
      int& o = owner_[static_cast<std::size_t>(r.id)];
      if (o >= 0 && o != static_cast<int>(i))
        throw make_error("component", c.name, "resource " + r.name + " already has a model (on " + comps_[o].name + ")");
      o = static_cast<int>(i);
    }
    c.model = m;
    ++n;
  }
  if (n == 0) throw make_error("component", target, "no GPU, NIC or switch of the system has this name (nor is it gpu, nic or switch)");
  if (attached_ == 0)
    core_.set_activity_observer([this](const std::vector<fluid::Usage>& u, int) { on_activity(u); });
  attached_ += n;
  return n;
}

void Hub::on_activity(const std::vector<fluid::Usage>& usage) {
  int last = -1;
  for (auto& u : usage) {
    if (static_cast<std::size_t>(u.resource) >= owner_.size()) continue;
    int c = owner_[static_cast<std::size_t>(u.resource)];
    if (c < 0 || c == last) continue;
    last = c;
    if (waker_) waker_(c);
    else react(c);
  }
}

void Hub::react(int ci) {
  Component& c = comps_.at(static_cast<std::size_t>(ci));
  if (!c.model) return;
  ++c.reactions;
  fluid::Solver& s = core_.fluid();
  for (std::size_t k = 0; k < c.resources.size(); ++k) {
    const Component::Resource& r = c.resources[k];
    Load l;
    l.component = c.name;
    l.kind = c.kind;
    l.resource = r.name;
    l.index = static_cast<int>(k);
    l.now_s = core_.now_s();
    l.activities = s.users(r.id);
    l.nominal = r.nominal;
    l.capacity = s.capacity(r.id);
    double cap = c.model->capacity(l);
    if (!(cap > 0) || !std::isfinite(cap))
      throw make_error("component", c.name, r.name + ": the model returned capacity " + std::to_string(cap) +
                                                 " (must be finite and greater than zero)");
    if (cap != l.capacity) s.set_capacity(r.id, cap);
  }
}

}  // namespace orrery::comp
