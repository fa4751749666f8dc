#include "sim/network.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace orrery::net {

Network::Network(const topo::Topology& t, EventCore& core, GpuSpec gpu)
    : topo_(&t), core_(&core), spec_(gpu) {
  link_res_.assign(t.links.size(), -1);
  gpu_res_.assign(static_cast<size_t>(t.num_gpus()), GpuResources{});
}

fluid::ResourceId Network::link_resource(int link) {
  auto& r = link_res_.at(static_cast<size_t>(link));
  if (r < 0) {
    const topo::Link& l = topo_->links[static_cast<size_t>(link)];
    r = core_->fluid().add_resource(topo_->vertex(l.src).name + "->" + topo_->vertex(l.dst).name, l.bandwidth);
    ++used_links_;
  }
  return r;
}

GpuResources Network::gpu(int rank) {
  if (rank < 0 || rank >= topo_->num_gpus())
    throw Error("rank " + std::to_string(rank) + " does not exist (" + std::to_string(topo_->num_gpus()) + " GPUs)");
  auto& g = gpu_res_[static_cast<size_t>(rank)];
  if (g.sm < 0) {
    std::string n = topo_->vertex(topo_->gpus[static_cast<size_t>(rank)]).name;
    g.sm = core_->fluid().add_resource(n + ".sm", spec_.sm_count);
    g.hbm = core_->fluid().add_resource(n + ".hbm", spec_.hbm_bandwidth);
  }
  return g;
}

fluid::ActivityId Network::send(int a, int b, double bytes, EventCore::Callback done, FlowOptions opt) {
  if (a < 0 || b < 0 || a >= topo_->num_gpus() || b >= topo_->num_gpus())
    throw Error("send: rank " + std::to_string(a < 0 || a >= topo_->num_gpus() ? a : b) + " does not exist (" +
                std::to_string(topo_->num_gpus()) + " GPUs)");
  return send_vertices(topo_->gpus[static_cast<size_t>(a)], topo_->gpus[static_cast<size_t>(b)], bytes, std::move(done), opt);
}

std::size_t Network::RouteKeyHash::operator()(const RouteKey& k) const {
  return static_cast<std::size_t>(topo::mix_hash(
      k.hash, (static_cast<std::uint64_t>(static_cast<std::uint32_t>(k.src)) << 32) | static_cast<std::uint32_t>(k.dst)));
}

const topo::Route& Network::route(int src, int dst, std::uint64_t hash) {
  RouteKey k{src, dst, hash};
  auto it = routes_.find(k);
  if (it == routes_.end()) it = routes_.emplace(k, topo_->route(src, dst, hash)).first;
  return it->second;
}

fluid::ActivityId Network::send_vertices(int src, int dst, double bytes, EventCore::Callback done, FlowOptions opt) {
  const topo::Route& r = route(src, dst, opt.hash);
  fluid::ActivitySpec s;
  s.work = bytes;
  s.max_rate = opt.max_rate;
  s.weight = kTransferWeight * opt.weight;
  for (const auto& h : r.hops) s.usage.push_back({link_resource(h.link), h.fraction});
  double lat = opt.add_latency ? r.latency : 0.0;
  EventCore* core = core_;
  if (lat <= 0) return core_->start(std::move(s), std::move(done));
  return core_->start(std::move(s), [core, lat, done = std::move(done)]() mutable { core->after(to_ps(lat), std::move(done)); });
}

fluid::ActivitySpec Network::coupled_spec(const Coupled& c, double* route_latency) {
  if (scratch_.size() != link_res_.size()) scratch_.assign(link_res_.size(), 0.0);
  scratch_touched_.clear();
  double max_rate = c.min_time > 0 ? 1.0 / c.min_time : fluid::kInf;
  double lat = 0;
  auto add = [&](int link, double coef) {
    if (scratch_[static_cast<size_t>(link)] == 0.0) scratch_touched_.push_back(link);
    scratch_[static_cast<size_t>(link)] += coef;
  };
  for (const Leg& leg : c.legs) {
    if (!(leg.bytes > 0)) continue;
    if (std::isfinite(leg.cap)) max_rate = std::min(max_rate, leg.cap / leg.bytes);
    if (!leg.hops.empty()) {
      for (const auto& h : leg.hops) {
        if (!topo_->link_up(h.link)) {
          const auto& L = topo_->links[static_cast<size_t>(h.link)];
          throw make_error("--fail", "link " + topo_->vertex(L.src).name + "->" + topo_->vertex(L.dst).name,
                           "has failed and the collective algorithm needs it (NVSwitch planes, in-network "
                           "reduction: their legs do not route around a failure)");
        }
        add(h.link, leg.bytes * h.fraction);
      }
    } else {
      if (leg.src == leg.dst) continue;
      const topo::Route& r = route(leg.src, leg.dst, leg.hash);
      lat = std::max(lat, r.latency);
      for (const auto& h : r.hops) add(h.link, leg.bytes * h.fraction);
    }
  }
  fluid::ActivitySpec s;
  s.work = 1.0;
  s.max_rate = max_rate;
  // Deterministic resource order (link id). A transfer that touches a good part of the fabric (the
  // pipeline sends of every replica at once) walks the links instead of sorting its list.
  if (scratch_touched_.size() * 16 < scratch_.size()) {
    std::sort(scratch_touched_.begin(), scratch_touched_.end());
  } else {
    scratch_touched_.clear();
    for (std::size_t l = 0; l < scratch_.size(); ++l)
      if (scratch_[l] != 0.0) scratch_touched_.push_back(static_cast<int>(l));
  }
  s.usage.reserve(scratch_touched_.size() + c.extra.size());
  // Byte-fair sharing: a coupled transfer is a set of flows, so on its most loaded link it takes
  // the share of one flow there (weight 1/those bytes: its byte rate there grows like a plain
  // flow's, whose work is bytes at weight 1),
  // not one share of normalized progress, which would let a 4 MiB send wait as long as a
  // concurrent multi-GiB ring.
  double heaviest = 0;
  for (int l : scratch_touched_) {
    heaviest = std::max(heaviest, scratch_[static_cast<size_t>(l)]);
    s.usage.push_back({link_resource(l), scratch_[static_cast<size_t>(l)]});
    scratch_[static_cast<size_t>(l)] = 0.0;
  }
  s.weight = kTransferWeight * c.weight / (heaviest > 0 ? heaviest : 1.0);
  for (const auto& u : c.extra) s.usage.push_back(u);
  if (route_latency) *route_latency = lat;
  return s;
}

fluid::ActivityId Network::start_coupled(const Coupled& c, EventCore::Callback done) {
  return start_spec(coupled_spec(c), c.latency, std::move(done));
}

fluid::ActivityId Network::start_spec(fluid::ActivitySpec s, double lat, EventCore::Callback done) {
  EventCore* core = core_;
  if (s.usage.empty() && !std::isfinite(s.max_rate)) s.max_rate = 1e18;  // nothing to move
  if (lat <= 0) return core_->start(std::move(s), std::move(done));
  return core_->start(std::move(s), [core, lat, done = std::move(done)]() mutable { core->after(to_ps(lat), std::move(done)); });
}

double Network::link_bytes(int link) const {
  auto r = link_res_.at(static_cast<size_t>(link));
  return r < 0 ? 0.0 : core_->fluid().used_integral(r);
}

}  // namespace orrery::net
