#include "sim/fluid.h"

#include <algorithm>
#include <cmath>

#include "sim/error.h"

namespace orrery::fluid {

ResourceId Solver::add_resource(const std::string& name, double capacity) {
  if (!(capacity > 0) || !std::isfinite(capacity))
    throw Error("resource '" + name + "': capacity must be finite and greater than zero");
  Resource r;
  r.name = name;
  r.capacity = capacity;
  res_.push_back(r);
  return static_cast<ResourceId>(res_.size() - 1);
}

void Solver::set_capacity(ResourceId r, double capacity) {
  if (!(capacity > 0) || !std::isfinite(capacity))
    throw Error("resource '" + res_.at(r).name + "': capacity must be finite and greater than zero");
  res_.at(r).capacity = capacity;
  dirty_ = true;
}

Solver::Activity& Solver::act(ActivityId id) { return acts_.at(static_cast<size_t>(id)); }
const Solver::Activity& Solver::act(ActivityId id) const { return acts_.at(static_cast<size_t>(id)); }

ActivityId Solver::start(double now, ActivitySpec spec) {
  advance(now);
  for (auto& u : spec.usage) {
    if (u.resource < 0 || static_cast<size_t>(u.resource) >= res_.size())
      throw Error("internal: activity uses unknown resource " + std::to_string(u.resource));
    if (!(u.coef >= 0)) throw Error("internal: negative resource coefficient");
  }
  if (!(spec.weight > 0)) spec.weight = 1.0;
  Activity a;
  a.remaining = std::max(0.0, spec.work);
  a.spec = std::move(spec);
  a.alive = true;
  acts_.push_back(std::move(a));
  ActivityId id = static_cast<ActivityId>(acts_.size() - 1);
  active_.push_back(id);
  dirty_ = true;
  return id;
}

void Solver::cancel(double now, ActivityId id) {
  advance(now);
  Activity& a = act(id);
  if (!a.alive) return;
  a.alive = false;
  active_.erase(std::find(active_.begin(), active_.end(), id));
  dirty_ = true;
}

void Solver::advance(double now) {
  if (now <= now_) return;
  if (dirty_) solve();
  double dt = now - now_;
  for (ActivityId id : active_) {
    Activity& a = acts_[id];
    a.remaining = std::max(0.0, a.remaining - a.rate * dt);
  }
  for (auto& r : res_) r.used_integral += r.used * dt;
  now_ = now;
}

// Weighted progressive filling: all unfrozen activities grow their rate at weight * level;
// an activity freezes when a resource it uses saturates or it reaches its cap.
void Solver::solve() {
  dirty_ = false;
  ++solves_;
  for (auto& r : res_) r.used = 0;
  if (active_.empty()) return;
  std::vector<ActivityId> live;
  live.reserve(active_.size());
  std::vector<ResourceId> touched;
  std::int64_t stamp = static_cast<std::int64_t>(solves_);
  for (ActivityId id : active_) {
    Activity& a = acts_[id];
    a.rate = 0;
    a.frozen = false;
    if (a.spec.usage.empty()) {
      // Pure delay (or instantaneous) activity.
      a.rate = a.spec.max_rate;
      a.frozen = true;
      continue;
    }
    live.push_back(id);
    for (auto& u : a.spec.usage) {
      Resource& r = res_[u.resource];
      if (r.stamp != stamp) {
        r.stamp = stamp;
        r.left = r.capacity;
        r.demand = 0;
        touched.push_back(u.resource);
      }
      r.demand += a.spec.weight * u.coef;
    }
  }
  const double eps = 1e-12;
  while (!live.empty()) {
    double delta = kInf;
    for (ResourceId rid : touched) {
      Resource& r = res_[rid];
      if (r.demand > eps * r.capacity) delta = std::min(delta, r.left / r.demand);
    }
    for (ActivityId id : live) {
      Activity& a = acts_[id];
      if (std::isfinite(a.spec.max_rate)) delta = std::min(delta, (a.spec.max_rate - a.rate) / a.spec.weight);
    }
    if (!std::isfinite(delta)) {
      // Only zero-coefficient usages left and no caps: unbounded (instantaneous).
      for (ActivityId id : live) acts_[id].rate = kInf;
      break;
    }
    delta = std::max(0.0, delta);
    for (ActivityId id : live) acts_[id].rate += acts_[id].spec.weight * delta;
    for (ResourceId rid : touched) {
      Resource& r = res_[rid];
      r.left -= r.demand * delta;
    }
    // Freeze activities at their cap or on a saturated resource.
    std::vector<ActivityId> next;
    next.reserve(live.size());
    for (ActivityId id : live) {
      Activity& a = acts_[id];
      bool freeze = std::isfinite(a.spec.max_rate) && a.rate >= a.spec.max_rate * (1 - 1e-12);
      if (!freeze)
        for (auto& u : a.spec.usage) {
          Resource& r = res_[u.resource];
          if (u.coef > 0 && r.left <= eps * r.capacity) { freeze = true; break; }
        }
      if (freeze) {
        a.frozen = true;
        for (auto& u : a.spec.usage) res_[u.resource].demand -= a.spec.weight * u.coef;
      } else {
        next.push_back(id);
      }
    }
    if (next.size() == live.size()) break;  // numerical safety: no progress possible
    live.swap(next);
  }
  for (ActivityId id : active_) {
    Activity& a = acts_[id];
    if (!std::isfinite(a.rate)) continue;
    for (auto& u : a.spec.usage) res_[u.resource].used += a.rate * u.coef;
  }
}

double Solver::next_completion() {
  if (dirty_) solve();
  double best = kInf;
  for (ActivityId id : active_) {
    const Activity& a = acts_[id];
    double t;
    if (a.remaining <= 0) t = now_;
    else if (a.rate > 0) t = now_ + a.remaining / a.rate;
    else continue;
    best = std::min(best, t);
  }
  return best;
}

std::vector<ActivityId> Solver::take_completed(double now) {
  advance(now);
  if (dirty_) solve();
  std::vector<ActivityId> done;
  std::vector<ActivityId> keep;
  keep.reserve(active_.size());
  for (ActivityId id : active_) {
    Activity& a = acts_[id];
    // Finished, or would finish within a picosecond (time base of the engine).
    bool fin = a.remaining <= a.spec.work * 1e-12 || (a.rate > 0 && a.remaining / a.rate <= 1e-12);
    if (fin) {
      a.alive = false;
      a.remaining = 0;
      done.push_back(id);
    } else {
      keep.push_back(id);
    }
  }
  if (!done.empty()) {
    active_.swap(keep);
    dirty_ = true;
  }
  return done;
}

bool Solver::running(ActivityId id) const { return act(id).alive; }
double Solver::rate(ActivityId id) {
  if (dirty_) solve();
  return act(id).rate;
}
double Solver::remaining(ActivityId id) const { return act(id).remaining; }
std::int64_t Solver::tag(ActivityId id) const { return act(id).spec.tag; }

}  // namespace orrery::fluid
