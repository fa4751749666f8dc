#pragma once
// The one sharing mechanism: capacities (link bandwidth, HBM bandwidth, compute units) shared
// by concurrent activities (flows, kernels, copies) with weighted max-min fairness.
// Kernel-free: plain C++, time in seconds as double. Rates are recomputed lazily when the set of
// activities changes; progress is integrated lazily too: an activity's remaining work and a
// resource's used capacity-seconds are brought up to date only when its rate changes or it is
// asked, and completions come from a queue of due times, so an event costs what its component
// does, not what every running activity does.
#include <cstdint>
#include <functional>
#include <queue>
#include <limits>
#include <string>
#include <vector>

namespace orrery::fluid {

using ResourceId = std::int32_t;
using ActivityId = std::int64_t;
constexpr double kInf = std::numeric_limits<double>::infinity();

// An activity consumes `coef` units of resource capacity per unit of work rate.
// A network flow of S bytes over links: work = S, coef = 1 on each link (capacity in B/s).
// A kernel of standalone time T: work = 1, max_rate = 1/T, coef on SMs = compute share * T, ...
struct Usage {
  ResourceId resource;
  double coef;
};

struct ActivitySpec {
  double work = 0;          // total work (bytes, or 1 for normalized kernels)
  std::vector<Usage> usage; // resources used
  double max_rate = kInf;   // rate cap (work/s): a flow's injection limit, a kernel's standalone rate
  double weight = 1.0;      // fairness weight: rates grow proportionally to weight
  std::int64_t tag = 0;     // user data
};

class Solver {
 public:
  ResourceId add_resource(const std::string& name, double capacity);
  void set_capacity(ResourceId r, double capacity);
  double capacity(ResourceId r) const { return res_[r].capacity; }
  const std::string& resource_name(ResourceId r) const { return res_[r].name; }
  std::size_t resource_count() const { return res_.size(); }

  // Starts an activity at time `now` (progress of the others is integrated up to now first).
  ActivityId start(double now, ActivitySpec spec);
  void cancel(double now, ActivityId id);
  // Integrates progress of all running activities up to `now`.
  void advance(double now);
  // Absolute time of the earliest completion (kInf when idle).
  double next_completion();
  // Removes and returns activities finished by `now` (call after advance(now)), in start order.
  std::vector<ActivityId> take_completed(double now);

  bool running(ActivityId id) const;
  double rate(ActivityId id);
  double remaining(ActivityId id) const;
  std::int64_t tag(ActivityId id) const;
  std::size_t active_count() const { return alive_count_; }
  // Running activities using resource r, and the resources an activity (running or finished) used.
  std::size_t users(ResourceId r) const { return res_[r].members.size(); }
  const std::vector<Usage>& usage(ActivityId id) const { return act(id).spec.usage; }
  // Called after every rate solve with (now, resource, capacity used) for each resource whose
  // rates were recomputed (link-utilisation counters). At most one; empty to remove.
  using RateObserver = std::function<void(double now, ResourceId r, double used)>;
  void set_rate_observer(RateObserver f) { rate_observer_ = std::move(f); }
  // Integral of used capacity over time per resource (capacity-seconds): utilization stats.
  double used_integral(ResourceId r) const { return res_[r].used_integral + res_[r].used * (now_ - res_[r].t0); }
  // Rate recomputations done (for benchmarks).
  std::uint64_t solves() const { return solves_; }
  // Solve algorithm: Heap (default) freezes resources in order of their saturation level with
  // a priority queue, O((activities x resources each + resources) log); Reference is plain
  // progressive filling, O(levels x (activities + resources)), kept to cross-check in tests.
  enum class Algorithm { Heap, Reference };
  void set_algorithm(Algorithm a) {
    algo_ = a;
    dirty_ = true;
  }

 private:
  struct Resource {
    std::string name;
    double capacity = 0;
    double used = 0;           // current usage
    double used_integral = 0;  // capacity-seconds used up to t0
    double t0 = 0;
    // scratch for the solve
    double left = 0, demand = 0;
    std::int64_t stamp = -1;
    double frozen_use = 0;      // capacity taken by frozen activities (heap solve)
    std::uint32_t version = 0;  // heap entries older than this are stale
    std::vector<ActivityId> users;  // unfrozen activities using it (heap solve)
    std::vector<ActivityId> members;  // every running activity using it (components)
    std::int64_t seen = -1;           // component search stamp
  };
  struct Activity {
    ActivitySpec spec;
    double remaining = 0;  // at time t0
    double t0 = 0;
    double rate = 0;
    std::uint32_t version = 0;  // due-queue entries older than this are stale
    bool frozen = false;
    bool alive = false;
    std::int64_t seen = -1;  // component search stamp
  };
  struct Due {  // when an activity finishes at its current rate
    double t;
    ActivityId id;
    std::uint32_t version;
    bool operator>(const Due& o) const { return t != o.t ? t > o.t : id > o.id; }
  };
  void settle(Activity& a);            // remaining work brought to now_
  void settle(Resource& r);            // used capacity-seconds brought to now_
  double due_time(const Activity& a) const;
  void requeue_component();            // new due times of the activities just re-solved
  bool due_top_live();                 // drops stale entries; true when one is left
  void solve();
  void solve_component();
  // The activities and resources whose rates may change: the connected components (activities
  // linked by shared resources) of what started, ended or changed capacity since the last solve.
  // Rates elsewhere stay as they are, so an event on one GPU costs what that GPU's component does.
  void collect_component();
  void solve_reference();
  bool begin_solve(std::vector<ActivityId>& live, std::vector<ResourceId>& touched);
  void finish_solve();
  void forget(ActivityId id);  // leaves its resources' member lists, marks them dirty
  void solve_heap();
  Algorithm algo_ = Algorithm::Heap;
  Activity& act(ActivityId id);
  const Activity& act(ActivityId id) const;

  std::vector<Resource> res_;
  std::vector<Activity> acts_;          // indexed by id
  std::size_t alive_count_ = 0;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  std::vector<ActivityId> dirty_acts_;  // started since the last solve
  std::vector<ResourceId> dirty_res_;   // lost a member or changed capacity since the last solve
  std::vector<ActivityId> comp_;        // component being solved (start order)
  std::vector<ResourceId> comp_res_;
  std::int64_t seen_stamp_ = 0;
  double now_ = 0;
  bool dirty_ = false;
  std::uint64_t solves_ = 0;
  RateObserver rate_observer_;
};

}  // namespace orrery::fluid
