#pragma once
// Chrome/Perfetto trace-event output: tracks (pid/tid with names), complete events, flow arrows.
// Times in picoseconds, written in microseconds with ns precision. Deterministic.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/units.h"

namespace orrery {

class Timeline {
 public:
  // Returns a track id; same (process, thread) names give the same id.
  int track(const std::string& process, const std::string& thread);
  void slice(int track, const std::string& name, const std::string& cat, Ps start, Ps end,
             nlohmann::json args = nullptr);
  // Flow arrow from (track_a, t_a) to (track_b, t_b); both ends must be inside slices.
  void flow(int track_a, Ps t_a, int track_b, Ps t_b);
  void counter(const std::string& process, const std::string& name, Ps t, double value);
  std::size_t size() const { return events_.size(); }
  // Link-utilisation counter tracks the cluster executor adds (hottest links first); 0: none.
  int link_counters = 16;
  nlohmann::json to_json() const;
  void write(const std::string& path) const;

 private:
  struct Track {
    std::string process, thread;
    int pid, tid;
  };
  std::vector<Track> tracks_;
  std::vector<std::string> processes_;
  std::vector<nlohmann::json> events_;
  std::uint64_t next_flow_ = 1;
  int pid_of(const std::string& process);
};

}  // namespace orrery
