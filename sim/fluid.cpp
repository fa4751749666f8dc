#include "sim/fluid.h"

#include <algorithm>
#include <limits>
#include <cmath>
#include <queue>

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
  dirty_res_.push_back(r);
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
  a.t0 = now_;
  a.spec = std::move(spec);
  a.alive = true;
  acts_.push_back(std::move(a));
  ActivityId id = static_cast<ActivityId>(acts_.size() - 1);
  ++alive_count_;
  for (auto& u : acts_[static_cast<size_t>(id)].spec.usage) res_[u.resource].members.push_back(id);
  dirty_acts_.push_back(id);
  dirty_ = true;
  return id;
}

void Solver::cancel(double now, ActivityId id) {
  advance(now);
  Activity& a = act(id);
  if (!a.alive) return;
  settle(a);
  a.alive = false;
  --alive_count_;
  forget(id);
  dirty_ = true;
}

void Solver::forget(ActivityId id) {
  for (auto& u : acts_[static_cast<size_t>(id)].spec.usage) {
    auto& m = res_[u.resource].members;
    auto it = std::find(m.begin(), m.end(), id);
    if (it != m.end()) {
      *it = m.back();
      m.pop_back();
    }
    dirty_res_.push_back(u.resource);
  }
  // (a finished activity keeps its slot, for its id, but not its resource list: a long run starts
  // millions, and a collective's list names every link it crosses)
  std::vector<Usage>().swap(acts_[static_cast<size_t>(id)].spec.usage);
}

void Solver::collect_component() {
  std::int64_t stamp = ++seen_stamp_;
  comp_.clear();
  comp_res_.clear();
  std::vector<ResourceId> stack;
  auto visit_act = [&](ActivityId id) {
    Activity& a = acts_[static_cast<size_t>(id)];
    if (!a.alive || a.seen == stamp) return;
    a.seen = stamp;
    comp_.push_back(id);
    for (auto& u : a.spec.usage) stack.push_back(u.resource);
  };
  for (ActivityId id : dirty_acts_) visit_act(id);
  for (ResourceId r : dirty_res_) stack.push_back(r);
  while (!stack.empty()) {
    ResourceId rid = stack.back();
    stack.pop_back();
    Resource& r = res_[rid];
    if (r.seen == stamp) continue;
    r.seen = stamp;
    comp_res_.push_back(rid);
    for (ActivityId id : r.members) visit_act(id);
  }
  dirty_acts_.clear();
  dirty_res_.clear();
  // Start order, as a full solve would see them (ties are broken by it).
  std::sort(comp_.begin(), comp_.end());
}

void Solver::advance(double now) {
  if (now <= now_) return;
  if (dirty_) solve();
  now_ = now;
}

void Solver::settle(Activity& a) {
  double dt = now_ - a.t0;
  if (dt > 0 && a.rate > 0) a.remaining = std::max(0.0, a.remaining - a.rate * dt);
  a.t0 = now_;
}

void Solver::settle(Resource& r) {
  r.used_integral += r.used * (now_ - r.t0);
  r.t0 = now_;
}

double Solver::due_time(const Activity& a) const {
  if (a.remaining <= 0 || a.rate == kInf) return a.t0;
  return a.rate > 0 ? a.t0 + a.remaining / a.rate : kInf;
}

void Solver::requeue_component() {
  for (ActivityId id : comp_) {
    Activity& a = acts_[static_cast<size_t>(id)];
    if (!a.alive) continue;
    ++a.version;
    double t = due_time(a);
    if (t < kInf) due_.push({t, id, a.version});
  }
}

bool Solver::due_top_live() {
  while (!due_.empty()) {
    const Due& d = due_.top();
    const Activity& a = acts_[static_cast<size_t>(d.id)];
    if (a.alive && a.version == d.version) return true;
    due_.pop();
  }
  return false;
}

// Weighted progressive filling: all unfrozen activities grow their rate at weight * level;
// an activity freezes when a resource it uses saturates or it reaches its cap.
void Solver::solve() {
  solve_component();
  requeue_component();
  if (rate_observer_)
    for (ResourceId r : comp_res_) rate_observer_(now_, r, res_[r].used);
}

void Solver::solve_component() {
  collect_component();
  if (algo_ == Algorithm::Reference) return solve_reference();
  // Progressive filling does one pass over all activities per bottleneck level: when there can
  // only be a few levels (few resources, few caps) it beats the heap's bookkeeping.
  size_t levels = 0;
  std::int64_t stamp = -static_cast<std::int64_t>(solves_) - 2;  // distinct from solve stamps
  for (ActivityId id : comp_) {
    const Activity& a = acts_[id];
    if (std::isfinite(a.spec.max_rate)) ++levels;
    for (auto& u : a.spec.usage) {
      Resource& r = res_[u.resource];
      if (r.stamp != stamp) {
        r.stamp = stamp;
        ++levels;
      }
    }
    if (levels > 8) break;
  }
  if (levels <= 8) solve_reference();
  else solve_heap();
}

// Common start of a solve: rates reset, pure-delay activities (no usage) run at their cap,
// the others are `live`; each resource they use (`touched`) gets its scratch reset and the
// unfrozen demand (sum of weight x coef) and user list. False when nothing is active.
bool Solver::begin_solve(std::vector<ActivityId>& live, std::vector<ResourceId>& touched) {
  dirty_ = false;
  ++solves_;
  for (ResourceId r : comp_res_) {
    settle(res_[r]);
    res_[r].used = 0;
  }
  if (comp_.empty()) return false;
  std::int64_t stamp = static_cast<std::int64_t>(solves_);
  live.reserve(comp_.size());
  for (ActivityId id : comp_) {
    Activity& a = acts_[id];
    settle(a);
    a.rate = 0;
    a.frozen = false;
    if (a.spec.usage.empty()) {
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
        r.frozen_use = 0;
        r.users.clear();
        touched.push_back(u.resource);
      }
      if (u.coef > 0) {
        r.demand += a.spec.weight * u.coef;
        r.users.push_back(id);
      }
    }
  }
  return true;
}

// Common end of a solve: current usage of every resource from the final rates.
void Solver::finish_solve() {
  for (ActivityId id : comp_) {
    Activity& a = acts_[id];
    if (!std::isfinite(a.rate)) continue;
    for (auto& u : a.spec.usage) res_[u.resource].used += a.rate * u.coef;
  }
}

// Weighted max-min fairness by saturation levels. Every unfrozen activity runs at
// weight x level; resource r saturates at level (capacity - used by frozen) / (unfrozen demand);
// an activity with a cap freezes at level cap / weight. The lowest such level is processed
// first; freezing an activity updates the levels of its other resources.
void Solver::solve_heap() {
  std::vector<ActivityId> live;
  std::vector<ResourceId> touched;
  if (!begin_solve(live, touched)) return;
  struct Entry {
    double level;
    std::int64_t key;  // >= 0: resource id; < 0: -(activity id) - 1 (rate cap)
    std::uint32_t version;
    bool operator>(const Entry& o) const { return level != o.level ? level > o.level : key > o.key; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  auto level_of = [&](const Resource& r) {
    return r.demand > 1e-300 ? std::max(0.0, r.capacity - r.frozen_use) / r.demand : kInf;
  };
  for (ResourceId rid : touched) {
    Resource& r = res_[rid];
    r.version++;
    double l = level_of(r);
    if (std::isfinite(l)) heap.push({l, rid, r.version});
  }
  for (ActivityId id : live) {
    const Activity& a = acts_[id];
    if (std::isfinite(a.spec.max_rate)) heap.push({a.spec.max_rate / a.spec.weight, -id - 1, 0});
  }
  size_t unfrozen = live.size();
  auto freeze = [&](ActivityId id, double level) {
    Activity& a = acts_[id];
    if (a.frozen) return;
    a.frozen = true;
    a.rate = a.spec.weight * level;
    --unfrozen;
    for (auto& u : a.spec.usage) {
      if (u.coef <= 0) continue;
      Resource& q = res_[u.resource];
      q.frozen_use += a.rate * u.coef;
      q.demand -= a.spec.weight * u.coef;
      if (q.demand < 1e-12 * a.spec.weight * u.coef) q.demand = 0;
      q.version++;
      double l = level_of(q);
      if (std::isfinite(l)) heap.push({l, u.resource, q.version});
    }
  };
  while (unfrozen > 0 && !heap.empty()) {
    Entry e = heap.top();
    heap.pop();
    if (e.key >= 0) {
      Resource& r = res_[static_cast<size_t>(e.key)];
      if (e.version != r.version) continue;  // stale
      for (ActivityId id : r.users) freeze(id, e.level);
      r.users.clear();
    } else {
      freeze(-e.key - 1, e.level);
    }
  }
  // Activities whose resources all have zero coefficients and no cap: unbounded.
  for (ActivityId id : live)
    if (!acts_[id].frozen) acts_[id].rate = kInf;
  finish_solve();
}

void Solver::solve_reference() {
  std::vector<ActivityId> live;
  std::vector<ResourceId> touched;
  if (!begin_solve(live, touched)) return;
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
  finish_solve();
}

double Solver::next_completion() {
  if (dirty_) solve();
  return due_top_live() ? std::max(now_, due_.top().t) : kInf;
}

std::vector<ActivityId> Solver::take_completed(double now) {
  advance(now);
  if (dirty_) solve();
  std::vector<ActivityId> done;
  // Finished, or would finish within a picosecond (time base of the engine) or within the
  // resolution of `now` as a double (late in long runs an ulp of now exceeds a picosecond:
  // without this an activity could be due at a time indistinguishable from now, forever).
  const double tol = std::max(1e-12, 16 * std::numeric_limits<double>::epsilon() * now_);
  while (due_top_live()) {
    Activity& a = acts_[static_cast<size_t>(due_.top().id)];
    settle(a);
    bool fin = a.remaining <= a.spec.work * 1e-12 || (a.rate > 0 && a.remaining / a.rate <= tol);
    if (!fin) break;
    ActivityId id = due_.top().id;
    due_.pop();
    a.alive = false;
    a.remaining = 0;
    --alive_count_;
    forget(id);
    done.push_back(id);
  }
  if (!done.empty()) {
    std::sort(done.begin(), done.end());  // start order
    dirty_ = true;
  }
  return done;
}

bool Solver::running(ActivityId id) const { return act(id).alive; }
double Solver::rate(ActivityId id) {
  if (dirty_) solve();
  return act(id).rate;
}
double Solver::remaining(ActivityId id) const {
  const Activity& a = act(id);
  double dt = now_ - a.t0;
  return a.alive && dt > 0 && a.rate > 0 ? std::max(0.0, a.remaining - a.rate * dt) : a.remaining;
}
std::int64_t Solver::tag(ActivityId id) const { return act(id).spec.tag; }

}  // namespace orrery::fluid
