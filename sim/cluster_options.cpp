// Cluster what-ifs shared by the executor's front ends (see cluster_options.h).
#include "sim/cluster_options.h"

#include <set>

#include "sim/error.h"
#include "workloads/json_io.h"

namespace orrery {

nlohmann::json ClusterOptions::to_json() const {
  return {{"gpu_speed", gpu_speed}, {"gpu_set", gpu_set}, {"fail", fail},
          {"degrade", degrade},     {"rank_map", rank_map}, {"symmetry", !no_symmetry},
          {"components", components}};
}

namespace {

// "5" or "0-7" -> [first, last], inside the job.
std::pair<int, int> parse_ranks(const std::string& flag, const std::string& arg, const std::string& s, int world) {
  auto num = [&](const std::string& x) {
    std::size_t pos = 0;
    long v = -1;
    try {
      v = std::stol(x, &pos);
    } catch (...) {
      pos = 0;
    }
    if (pos != x.size() || x.empty()) throw make_error(flag, arg, "'" + x + "' is not a rank");
    if (v < 0 || v >= world)
      throw make_error(flag, arg, "rank " + x + " is outside the job's " + std::to_string(world) + " ranks");
    return static_cast<int>(v);
  };
  auto dash = s.find('-', 1);
  if (dash == std::string::npos) {
    int r = num(s);
    return {r, r};
  }
  int a = num(s.substr(0, dash)), b = num(s.substr(dash + 1));
  if (b < a) throw make_error(flag, arg, "empty rank range " + s);
  return {a, b};
}

// The whole text as a number, or -1 (which every caller rejects as out of range).
double number_or_minus_one(const std::string& x) {
  try {
    std::size_t pos = 0;
    double v = std::stod(x, &pos);
    return pos == x.size() ? v : -1;
  } catch (...) {
    return -1;
  }
}

}  // namespace

ClusterHardware::ClusterHardware(const std::string& preset, const std::vector<std::string>& overrides,
                                 const ClusterOptions& o, int world) {
  accs_.push_back(std::make_unique<Accelerator>(load_accelerator(preset, overrides)));
  base_ = accs_[0].get();
  for (const std::string& arg : o.gpu_speed) {
    auto eq = arg.find('=');
    if (eq == std::string::npos) throw make_error("--gpu-speed", arg, "expected RANK=FACTOR (RANK may be 0-7)");
    auto [a, b] = parse_ranks("--gpu-speed", arg, arg.substr(0, eq), world);
    double f = number_or_minus_one(arg.substr(eq + 1));
    if (!(f >= 1e-3) || !(f <= 1e3))  // (a rank a million times slower puts the step past the time base)
      throw make_error("--gpu-speed", arg, "the speed factor must be from 0.001 to 1000 (1 = nominal)");
    for (int r = a; r <= b; ++r) speed_[r] = f;
  }
  std::map<int, std::vector<std::string>> sets;
  for (const std::string& arg : o.gpu_set) {
    auto colon = arg.find(':');
    if (colon == std::string::npos || arg.find('=', colon) == std::string::npos)
      throw make_error("--gpu-set", arg, "expected RANK:param=value (RANK may be 0-7)");
    auto [a, b] = parse_ranks("--gpu-set", arg, arg.substr(0, colon), world);
    for (int r = a; r <= b; ++r) sets[r].push_back(arg.substr(colon + 1));
  }
  std::map<std::vector<std::string>, int> made;
  for (auto& [r, sv] : sets) {
    auto it = made.find(sv);
    if (it == made.end()) {
      std::vector<std::string> all = overrides;
      all.insert(all.end(), sv.begin(), sv.end());
      try {
        accs_.push_back(std::make_unique<Accelerator>(load_accelerator(preset, all)));
      } catch (const Error& e) {
        std::string what = e.what();  // (the preset's loader names its own --set: this flag is --gpu-set)
        if (what.rfind("--set: ", 0) == 0) what = what.substr(7);
        throw make_error("--gpu-set", std::to_string(r) + ":" + sv.back(), what);
      }
      it = made.emplace(sv, static_cast<int>(accs_.size()) - 1).first;
    }
    acc_of_rank_[r] = it->second;
  }
}

int ClusterHardware::class_of(int rank) const {
  auto it = acc_of_rank_.find(rank);
  return it == acc_of_rank_.end() ? 0 : it->second;
}

RankHardware ClusterHardware::of(int rank) const {
  RankHardware h;
  h.hw = accs_[static_cast<std::size_t>(class_of(rank))].get();
  auto it = speed_.find(rank);
  h.speed = it == speed_.end() ? 1.0 : it->second;
  return h;
}

void apply_faults(topo::System& sys, const ClusterOptions& o) {
  for (const std::string& e : o.fail) sys.topo.fail(e, "--fail");
  for (const std::string& arg : o.degrade) {
    auto eq = arg.rfind('=');
    if (eq == std::string::npos) throw make_error("--degrade", arg, "expected ELEMENT=FRACTION");
    double f = number_or_minus_one(arg.substr(eq + 1));
    sys.topo.degrade(arg.substr(0, eq), f, "--degrade");
  }
}

std::vector<int> load_placement(const ClusterOptions& o, int world, int gpus) {
  std::vector<int> place(static_cast<std::size_t>(world));
  for (int r = 0; r < world; ++r) place[static_cast<std::size_t>(r)] = r;
  if (o.rank_map.empty()) return place;
  nlohmann::json j = read_json_file(o.rank_map);
  if (j.is_object() && j.contains("ranks")) j = j["ranks"];
  if (!j.is_array()) throw make_error(o.rank_map, "ranks", "expected an array: the GPU of each rank");
  if (static_cast<int>(j.size()) != world)
    throw make_error(o.rank_map, "ranks",
                     "lists " + std::to_string(j.size()) + " ranks, the job has " + std::to_string(world));
  std::map<int, int> used;
  for (int r = 0; r < world; ++r) {
    const auto& v = j[static_cast<std::size_t>(r)];
    std::string field = "ranks[" + std::to_string(r) + "]";
    if (!v.is_number_integer()) throw make_error(o.rank_map, field, "expected a GPU index");
    long g = v.get<long>();
    if (g < 0 || g >= gpus)
      throw make_error(o.rank_map, field, "GPU " + std::to_string(g) + " does not exist (the system has " +
                                              std::to_string(gpus) + ")");
    auto [it, fresh] = used.emplace(static_cast<int>(g), r);
    if (!fresh)
      throw make_error(o.rank_map, field, "GPU " + std::to_string(g) + " is already given to rank " +
                                              std::to_string(it->second));
    place[static_cast<std::size_t>(r)] = static_cast<int>(g);
  }
  return place;
}

void check_connected(const wg::Workload& w, const topo::System& sys, const std::vector<int>& place) {
  if (!sys.topo.has_failures()) return;
  const auto& t = sys.topo;
  auto vtx = [&](int r) { return t.gpus[static_cast<std::size_t>(place[static_cast<std::size_t>(r)])]; };
  auto check = [&](const std::string& what, const std::vector<int>& ranks) {
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      int a = ranks[i], b = ranks[(i + 1) % ranks.size()];
      if (a == b) continue;
      if (!t.reachable(vtx(a), vtx(b)) || !t.reachable(vtx(b), vtx(a)))
        throw make_error("--fail", what,
                         "the failures partition the fabric: rank " + std::to_string(a) + " (" + t.vertex(vtx(a)).name +
                             ") cannot reach rank " + std::to_string(b) + " (" + t.vertex(vtx(b)).name + ")");
    }
  };
  for (auto& g : w.groups) {
    check("group " + g.name, g.ranks);
    for (auto& m : g.mirrors) check("group " + g.name, m);
  }
  for (auto& rg : w.ranks)
    for (auto& n : rg.nodes)
      if (n.kind == wg::Kind::Send) check("send", {rg.rank, n.peer});
}

}  // namespace orrery
