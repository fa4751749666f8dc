#include "sim/engine.h"

#include <cmath>

#include "sim/error.h"

namespace orrery {

void EventCore::at(Ps t, Callback fn) {
  if (t > static_cast<Ps>(kMaxSimSeconds * 1e12)) throw_time_out_of_range(to_s(t));
  // A negative absolute time is a sum that wrapped (after(), a model's start + duration): an
  // error, not an event scheduled "now" that makes a wrong answer look valid.
  if (t < 0)
    throw Error("simulated time overflowed the picosecond time base (about 104 days): an input duration or size is implausibly large");
  if (t < now_) t = now_;
  queue_.push(Timed{t, seq_++, std::move(fn)});
}

fluid::ActivityId EventCore::start(fluid::ActivitySpec spec, Callback done) {
  fluid::ActivityId id = fluid_.start(now_s(), std::move(spec));
  if (on_done_.size() <= static_cast<size_t>(id)) on_done_.resize(static_cast<size_t>(id) + 1);
  on_done_[static_cast<size_t>(id)] = std::move(done);
  if (observer_) observer_(fluid_.usage(id), +1);
  return id;
}

Ps EventCore::next_time() {
  Ps best = -1;
  if (!queue_.empty()) best = queue_.top().t;
  double f = fluid_.next_completion();
  if (std::isfinite(f)) {
    if (f >= kMaxSimSeconds) throw_time_out_of_range(f);
    // Round up to the next picosecond so the activity has finished when we get there.
    Ps fp = static_cast<Ps>(std::ceil(f * 1e12 - 1e-6));
    if (fp < now_) fp = now_;
    if (best < 0 || fp < best) best = fp;
  }
  return best;
}

void EventCore::process_at(Ps t) {
  now_ = t;
  // Fluid completions first (they were due at or before t), then timed callbacks; repeat
  // while either produces work for this same instant.
  for (;;) {
    bool did = false;
    auto done = fluid_.take_completed(now_s());
    for (auto id : done) {
      did = true;
      ++events_;
      if (observer_) observer_(fluid_.usage(id), -1);
      Callback cb = std::move(on_done_[static_cast<size_t>(id)]);
      if (cb) cb();
    }
    while (!queue_.empty() && queue_.top().t <= now_) {
      did = true;
      ++events_;
      Callback cb = std::move(const_cast<Timed&>(queue_.top()).fn);
      queue_.pop();
      if (cb) cb();
    }
    if (!did) break;
  }
}

bool EventCore::step() {
  Ps t = next_time();
  if (t < 0) return false;
  process_at(t);
  return true;
}

void EventCore::run() {
  while (step()) {
  }
}

std::unique_ptr<EventCore> make_engine(const std::string& backend) {
  if (backend == "systemc") return std::make_unique<SystemCEngine>();
  if (backend == "event") return std::make_unique<EventCore>();
  throw make_error("--engine", backend, "unknown engine backend (systemc, event)");
}

}  // namespace orrery
