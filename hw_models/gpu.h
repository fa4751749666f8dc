#pragma once
// Simulated GPU on the event engine: streams (in-order queues), events between streams, and
// kernels/copies running as fluid activities that share compute units (SMs), HBM bandwidth and
// the host link with everything else running on the chip.
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hw_models/accelerator.h"
#include "sim/engine.h"
#include "sim/timeline.h"

namespace orrery {

// One unit of device work. `standalone_s` is its time alone on an idle GPU; the shares say how
// much of each capacity it uses at that speed (a compute-bound GEMM ~ sm 1.0; a copy ~ hbm 0.9).
struct DeviceWork {
  std::string name;
  std::string cat;          // kernel class or "copy"/"memset"/"communication"
  double standalone_s = 0;
  double sm_share = 0;      // fraction of SMs
  double hbm_share = 0;     // fraction of HBM bandwidth
  double h2d_share = 0, d2h_share = 0;  // fraction of host link per direction
  bool graph_node = false;  // a CUDA graph's node after its first: graph_node_gap after the previous work
  nlohmann::json args;      // for the timeline
  std::function<void(Ps start, Ps end)> on_start_end;  // optional observer
  // Custom work: when set, the stream calls it at start with a "done" continuation instead of
  // running a fluid activity (collectives on a fabric).
  std::function<void(std::function<void()> done)> custom;
};

class GpuSim {
 public:
  GpuSim(EventCore& engine, const Accelerator& hw, int index, Timeline* timeline);

  // Enqueues work on `stream`; it becomes eligible at `ready` (launch latency applied by the caller).
  // Returns the work's sequence number on that stream.
  void enqueue(int stream, Ps ready, DeviceWork w);
  // cudaEventRecord: the event completes when everything enqueued on `stream` so far is done.
  void record_event(int stream, std::int64_t key);
  // cudaStreamWaitEvent: later work on `stream` waits for event `key`.
  void wait_event(int stream, std::int64_t key);
  // Host-side waits: callback when the device / a stream / an event is done.
  void when_idle(std::function<void()> cb);
  void when_stream_idle(int stream, std::function<void()> cb);
  void when_event(std::int64_t key, std::function<void()> cb);

  // Use another model's SM and HBM resources (e.g. the fabric's per-GPU resources, which
  // collectives occupy), so kernels and collectives on this GPU share one set of capacities.
  void adopt_resources(fluid::ResourceId sm, double sm_capacity, fluid::ResourceId hbm, double hbm_capacity);

  Ps last_end() const { return last_end_; }
  double busy_s() const { return to_s(busy_ps_); }
  int index() const { return index_; }
  std::vector<int> streams() const;

 private:
  struct Item {
    enum Kind { Work, Record, Wait } kind = Work;
    Ps ready = 0;
    DeviceWork work;
    std::int64_t key = 0;
  };
  struct Stream {
    std::deque<Item> q;
    bool running = false;
    bool waiting_timer = false;
    Ps last_end = -1;
    int track = -1;
  };
  void pump(int s);
  void finish(int s, Ps start);
  void check_idle();
  bool all_idle() const;

  EventCore& eng_;
  const Accelerator& hw_;
  int index_;
  Timeline* tl_;
  std::map<int, Stream> streams_;
  fluid::ResourceId sm_, hbm_, h2d_, d2h_;
  double sm_cap_ = 1.0, hbm_cap_ = 1.0;  // capacities of sm_/hbm_ (shares are scaled by them)
  std::map<std::int64_t, bool> events_;  // key -> completed
  std::map<std::int64_t, std::vector<std::function<void()>>> event_waiters_;
  std::vector<std::function<void()>> idle_waiters_;
  std::map<int, std::vector<std::function<void()>>> stream_waiters_;
  Ps last_end_ = 0;
  Ps busy_ps_ = 0;
  Ps busy_since_ = -1;
  int running_ = 0;
};

}  // namespace orrery
