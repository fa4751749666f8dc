#include "hw_models/gpu.h"

#include <algorithm>
#include <cmath>

namespace orrery {

GpuSim::GpuSim(EventCore& engine, const Accelerator& hw, int index, Timeline* timeline)
    : eng_(engine), hw_(hw), index_(index), tl_(timeline) {
  std::string p = "gpu" + std::to_string(index) + ".";
  // Capacities are normalized to 1: a work item's shares are fractions of the whole.
  sm_ = eng_.fluid().add_resource(p + "sm", 1.0);
  hbm_ = eng_.fluid().add_resource(p + "hbm", 1.0);
  h2d_ = eng_.fluid().add_resource(p + "h2d", 1.0);
  d2h_ = eng_.fluid().add_resource(p + "d2h", 1.0);
}

void GpuSim::adopt_resources(fluid::ResourceId sm, double sm_capacity, fluid::ResourceId hbm, double hbm_capacity) {
  sm_ = sm;
  sm_cap_ = sm_capacity;
  hbm_ = hbm;
  hbm_cap_ = hbm_capacity;
}

std::vector<int> GpuSim::streams() const {
  std::vector<int> s;
  for (auto& [k, v] : streams_) s.push_back(k);
  return s;
}

void GpuSim::enqueue(int stream, Ps ready, DeviceWork w) {
  Stream& s = streams_[stream];
  if (s.track < 0 && tl_) s.track = tl_->track("GPU " + std::to_string(index_) + " (" + hw_.name + ")", "stream " + std::to_string(stream));
  Item it;
  it.kind = Item::Work;
  it.ready = ready;
  it.work = std::move(w);
  s.q.push_back(std::move(it));
  pump(stream);
}

void GpuSim::record_event(int stream, std::int64_t key) {
  events_[key] = false;
  Item it;
  it.kind = Item::Record;
  it.key = key;
  it.ready = eng_.now();
  streams_[stream].q.push_back(std::move(it));
  pump(stream);
}

void GpuSim::wait_event(int stream, std::int64_t key) {
  Item it;
  it.kind = Item::Wait;
  it.key = key;
  it.ready = eng_.now();
  streams_[stream].q.push_back(std::move(it));
  pump(stream);
}

void GpuSim::when_idle(std::function<void()> cb) {
  if (all_idle()) {
    cb();
    return;
  }
  idle_waiters_.push_back(std::move(cb));
}

void GpuSim::when_stream_idle(int stream, std::function<void()> cb) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || (!it->second.running && it->second.q.empty())) {
    cb();
    return;
  }
  stream_waiters_[stream].push_back(std::move(cb));
}

void GpuSim::when_event(std::int64_t key, std::function<void()> cb) {
  auto it = events_.find(key);
  if (it == events_.end() || it->second) {
    cb();
    return;
  }
  event_waiters_[key].push_back(std::move(cb));
}

bool GpuSim::all_idle() const {
  for (auto& [k, s] : streams_)
    if (s.running || !s.q.empty()) return false;
  return true;
}

void GpuSim::check_idle() {
  for (auto& [id, s] : streams_) {
    if (s.running || !s.q.empty()) continue;
    auto w = stream_waiters_.find(id);
    if (w != stream_waiters_.end()) {
      auto cbs = std::move(w->second);
      stream_waiters_.erase(w);
      for (auto& cb : cbs) cb();
    }
  }
  if (all_idle() && !idle_waiters_.empty()) {
    auto cbs = std::move(idle_waiters_);
    idle_waiters_.clear();
    for (auto& cb : cbs) cb();
  }
}

void GpuSim::pump(int sid) {
  Stream& s = streams_[sid];
  while (!s.running && !s.q.empty()) {
    Item& head = s.q.front();
    if (head.kind == Item::Record) {
      std::int64_t key = head.key;
      s.q.pop_front();
      events_[key] = true;
      auto w = event_waiters_.find(key);
      if (w != event_waiters_.end()) {
        auto cbs = std::move(w->second);
        event_waiters_.erase(w);
        for (auto& cb : cbs) cb();
      }
      continue;
    }
    if (head.kind == Item::Wait) {
      auto e = events_.find(head.key);
      if (e == events_.end() || e->second) {
        s.q.pop_front();
        continue;
      }
      // Block the stream until the event completes.
      s.running = true;
      std::int64_t key = head.key;
      event_waiters_[key].push_back([this, sid] {
        Stream& st = streams_[sid];
        st.q.pop_front();
        st.running = false;
        pump(sid);
        check_idle();
      });
      return;
    }
    // Work: eligible at max(ready, previous end + back-to-back gap).
    Ps start = head.ready;
    if (s.last_end >= 0)
      start = std::max(start, s.last_end + to_ps(hw_.p(head.work.graph_node ? "graph_node_gap" : "kernel_gap")));
    if (start > eng_.now()) {
      if (!s.waiting_timer) {
        s.waiting_timer = true;
        eng_.at(start, [this, sid] {
          streams_[sid].waiting_timer = false;
          pump(sid);
        });
      }
      return;
    }
    s.running = true;
    Ps t0 = eng_.now();
    if (running_++ == 0) busy_since_ = t0;
    DeviceWork& w = head.work;
    if (w.custom) {
      w.custom([this, sid, t0] { finish(sid, t0); });
      return;
    }
    fluid::ActivitySpec spec;
    double T = std::max(w.standalone_s, 1e-12);
    spec.work = 1.0;
    spec.max_rate = 1.0 / T;
    spec.weight = 1.0 / T;  // equal progress fraction per unit time when sharing
    auto use = [&](fluid::ResourceId r, double share, double capacity) {
      if (share > 0) spec.usage.push_back({r, std::min(share, 1.0) * T * capacity});
    };
    use(sm_, w.sm_share, sm_cap_);
    use(hbm_, w.hbm_share, hbm_cap_);
    use(h2d_, w.h2d_share, 1.0);
    use(d2h_, w.d2h_share, 1.0);
    eng_.start(std::move(spec), [this, sid, t0] { finish(sid, t0); });
  }
}

void GpuSim::finish(int sid, Ps t0) {
  Stream& s = streams_[sid];
  Item it = std::move(s.q.front());
  s.q.pop_front();
  s.running = false;
  Ps t1 = eng_.now();
  s.last_end = t1;
  last_end_ = std::max(last_end_, t1);
  if (--running_ == 0) busy_ps_ += t1 - busy_since_;
  if (tl_ && s.track >= 0)
    tl_->slice(s.track, it.work.name, it.work.cat, t0, t1, it.work.args);
  if (it.work.on_start_end) it.work.on_start_end(t0, t1);
  pump(sid);
  check_idle();
}

}  // namespace orrery
