#include "sim/timeline.h"

#include <cstdio>
#include <fstream>

#include "sim/error.h"

namespace orrery {

namespace {
double us(Ps t) { return static_cast<double>(t) * 1e-6; }
}  // namespace

int Timeline::pid_of(const std::string& process) {
  for (size_t i = 0; i < processes_.size(); ++i)
    if (processes_[i] == process) return static_cast<int>(i) + 1;
  processes_.push_back(process);
  return static_cast<int>(processes_.size());
}

int Timeline::track(const std::string& process, const std::string& thread) {
  for (size_t i = 0; i < tracks_.size(); ++i)
    if (tracks_[i].process == process && tracks_[i].thread == thread) return static_cast<int>(i);
  int pid = pid_of(process);
  int tid = 1;
  for (auto& t : tracks_)
    if (t.pid == pid) ++tid;
  tracks_.push_back({process, thread, pid, tid});
  return static_cast<int>(tracks_.size() - 1);
}

void Timeline::slice(int track, const std::string& name, const std::string& cat, Ps start, Ps end,
                     nlohmann::json args) {
  const Track& t = tracks_.at(static_cast<size_t>(track));
  nlohmann::json e = {{"ph", "X"}, {"name", name}, {"cat", cat}, {"pid", t.pid}, {"tid", t.tid},
                      {"ts", us(start)}, {"dur", us(end - start)}};
  if (!args.is_null()) e["args"] = std::move(args);
  events_.push_back(std::move(e));
}

void Timeline::flow(int a, Ps ta, int b, Ps tb) {
  const Track& x = tracks_.at(static_cast<size_t>(a));
  const Track& y = tracks_.at(static_cast<size_t>(b));
  std::uint64_t id = next_flow_++;
  events_.push_back({{"ph", "s"}, {"id", id}, {"name", "launch"}, {"cat", "flow"}, {"pid", x.pid}, {"tid", x.tid}, {"ts", us(ta)}});
  events_.push_back({{"ph", "f"}, {"id", id}, {"name", "launch"}, {"cat", "flow"}, {"bp", "e"}, {"pid", y.pid}, {"tid", y.tid}, {"ts", us(tb)}});
}

void Timeline::counter(const std::string& process, const std::string& name, Ps t, double value) {
  int pid = pid_of(process);
  events_.push_back({{"ph", "C"}, {"name", name}, {"pid", pid}, {"ts", us(t)}, {"args", {{name, value}}}});
}

nlohmann::json Timeline::to_json() const {
  nlohmann::json ev = nlohmann::json::array();
  for (size_t i = 0; i < processes_.size(); ++i) {
    ev.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", i + 1}, {"args", {{"name", processes_[i]}}}});
    ev.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", i + 1}, {"args", {{"sort_index", i}}}});
  }
  for (auto& t : tracks_) {
    ev.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", t.pid}, {"tid", t.tid}, {"args", {{"name", t.thread}}}});
    ev.push_back({{"ph", "M"}, {"name", "thread_sort_index"}, {"pid", t.pid}, {"tid", t.tid}, {"args", {{"sort_index", t.tid}}}});
  }
  for (auto& e : events_) ev.push_back(e);
  return {{"traceEvents", ev}, {"displayTimeUnit", "ns"}, {"otherData", {{"generator", "orrery"}}}};
}

void Timeline::write(const std::string& path) const {
  std::ofstream out(path);
  if (!out) throw make_error(path, "", "cannot write timeline");
  out << to_json().dump() << "\n";
}

}  // namespace orrery
