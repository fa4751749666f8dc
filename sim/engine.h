#pragma once
// Discrete-event engine: timed callbacks plus the fluid solver, time base 1 ps.
// The event logic is kernel-free (EventCore); the SystemC backend (SystemCEngine) drives it from
// one SC_METHOD with timed event notification. One SystemC simulation per process.
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "sim/fluid.h"
#include "sim/units.h"

namespace orrery {

class EventCore {
 public:
  using Callback = std::function<void()>;
  EventCore() = default;
  virtual ~EventCore() = default;

  Ps now() const { return now_; }
  double now_s() const { return to_s(now_); }
  // Runs `fn` at absolute time t (>= now). Same-time callbacks run in scheduling order.
  void at(Ps t, Callback fn);
  void after(Ps dt, Callback fn) { at(now_ + dt, std::move(fn)); }

  fluid::Solver& fluid() { return fluid_; }
  // Starts a fluid activity now; `done` runs when it completes.
  fluid::ActivityId start(fluid::ActivitySpec spec, Callback done);

  // Runs everything due at the earliest pending time; returns false when nothing is pending.
  bool step();
  // Earliest pending time (timed callback or fluid completion), or -1 when idle.
  Ps next_time();
  std::uint64_t events_processed() const { return events_; }

  // Runs to completion. Backends override to drive time from their kernel.
  virtual void run();
  // Re-plans the next wake-up after a model changed the fluid state outside an event (a
  // component model woken by its own sc_event changed a capacity). Nothing to do here.
  virtual void reschedule() {}
  // Observer of fluid activities starting (+1) and finishing (-1) with the resources they use
  // (sim/components: component models react to their load). At most one; empty to remove.
  using ActivityObserver = std::function<void(const std::vector<fluid::Usage>& usage, int delta)>;
  void set_activity_observer(ActivityObserver f) { observer_ = std::move(f); }
  // Processes everything due at t (used by the SystemC backend's SC_METHOD).
  void process_at_public(Ps t) { process_at(t); }

 protected:
  void process_at(Ps t);

 private:
  struct Timed {
    Ps t;
    std::uint64_t seq;
    Callback fn;
  };
  struct Later {
    bool operator()(const Timed& a, const Timed& b) const {
      return a.t != b.t ? a.t > b.t : a.seq > b.seq;
    }
  };
  std::priority_queue<Timed, std::vector<Timed>, Later> queue_;
  std::vector<Callback> on_done_;  // by activity id
  fluid::Solver fluid_;
  Ps now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t events_ = 0;
  ActivityObserver observer_;
};

// The SystemC-driven engine. Construct at most one per process.
class SystemCEngine : public EventCore {
 public:
  SystemCEngine();
  ~SystemCEngine() override;
  void run() override;
  void reschedule() override;
  // Stops the kernel; run() rethrows `e` (an error in another module's process).
  void fail(std::exception_ptr e);

 private:
  struct Module;
  Module* module_;  // owned by the SystemC kernel's object hierarchy lifetime
};

// Chooses the backend: "systemc" (default) or "event" (plain C++ queue).
std::unique_ptr<EventCore> make_engine(const std::string& backend);

}  // namespace orrery
