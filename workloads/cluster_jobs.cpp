// Several jobs on one cluster: job file parsing, one combined workload graph, the shared run and
// each job alone (see cluster_jobs.h).
#include "workloads/cluster_jobs.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "sim/cluster_options.h"
#include "sim/error.h"
#include "workloads/chakra.h"
#include "workloads/json_io.h"
#include "workloads/models.h"
#include "workloads/train.h"

namespace orrery {

namespace {

void check_keys(const nlohmann::json& j, const std::set<std::string>& known, const std::string& file,
                const std::string& where) {
  if (!j.is_object()) throw make_error(file, where.empty() ? "(top level)" : where, "expected an object");
  for (auto& [k, v] : j.items())
    if (!known.count(k)) throw make_error(file, where.empty() ? k : where + "." + k, "unknown key");
}

long int_field(const nlohmann::json& j, const std::string& k, long def, const std::string& file, const std::string& where) {
  if (!j.contains(k)) return def;
  if (!j[k].is_number_integer() || j[k].get<long>() < 0 || j[k].get<long>() > (1L << 40))
    throw make_error(file, where + "." + k, "expected a non-negative integer");
  return j[k].get<long>();
}

// A field that must be at least 1 when given (a count or a size: 0 is not "the default").
long positive_field(const nlohmann::json& j, const std::string& k, long def, const std::string& file, const std::string& where,
                    long max = 1L << 40) {
  if (!j.contains(k)) return def;
  if (!j[k].is_number_integer() || j[k].get<long>() < 1 || j[k].get<long>() > max)
    throw make_error(file, (where.empty() ? "" : where + ".") + k, "expected a whole number from 1 to " + std::to_string(max));
  return j[k].get<long>();
}

std::string string_field(const nlohmann::json& j, const std::string& k, const std::string& def, const std::string& file,
                         const std::string& where) {
  if (!j.contains(k)) return def;
  if (!j[k].is_string()) throw make_error(file, (where.empty() ? "" : where + ".") + k, "expected a string");
  return j[k].get<std::string>();
}

bool bool_field(const nlohmann::json& j, const std::string& k, const std::string& file, const std::string& where) {
  if (!j.contains(k)) return false;
  if (!j[k].is_boolean()) throw make_error(file, where + "." + k, "expected true or false");
  return j[k].get<bool>();
}

// A list of strings ("name=value", element names); absent: empty.
std::vector<std::string> string_list(const nlohmann::json& j, const std::string& k, const std::string& file,
                                     const std::string& where, const char* what) {
  std::vector<std::string> out;
  if (!j.contains(k)) return out;
  std::string field = (where.empty() ? "" : where + ".") + k;
  if (!j[k].is_array()) throw make_error(file, field, std::string("expected an array of ") + what);
  for (auto& x : j[k]) {
    if (!x.is_string()) throw make_error(file, field, std::string("expected an array of ") + what);
    out.push_back(x.get<std::string>());
  }
  return out;
}

std::vector<int> parse_gpus(const nlohmann::json& g, const std::string& file, const std::string& field, int total) {
  std::vector<int> out;
  auto index = [](const std::string& t) {  // the whole text a number ("0,1" is not 0)
    std::size_t used = 0;
    int v = std::stoi(t, &used);
    if (used != t.size()) throw 1;
    return v;
  };
  auto one = [&](const std::string& s) {
    auto dash = s.find('-');
    try {
      int a = index(s.substr(0, dash)), b = dash == std::string::npos ? a : index(s.substr(dash + 1));
      if (b < a) throw 1;
      for (int x = a; x <= b; ++x) out.push_back(x);
    } catch (...) {
      throw make_error(file, field, "'" + s + "' is not a GPU index or range A-B");
    }
  };
  auto range = [&](const std::string& s) {  // "0-3", "0,1,2,3" or "0-1,4-5"
    std::size_t start = 0;
    for (std::size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1) one(s.substr(start, comma - start));
    one(s.substr(start));
  };
  if (g.is_string()) range(g.get<std::string>());
  else if (g.is_array())
    for (auto& x : g) {
      if (x.is_number_integer()) out.push_back(x.get<int>());
      else if (x.is_string()) range(x.get<std::string>());
      else throw make_error(file, field, "expected GPU indices or ranges");
    }
  else throw make_error(file, field, "expected a range \"A-B\" or a list of GPUs");
  if (out.empty()) throw make_error(file, field, "no GPUs");
  for (int x : out)
    if (x < 0 || x >= total)
      throw make_error(file, field, "GPU " + std::to_string(x) + " does not exist (the system has " + std::to_string(total) + ")");
  return out;
}

std::string flag_value(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  return v.dump();
}

TrainPlan parse_plan(const nlohmann::json& t, const std::string& file, const std::string& where, std::string& model,
                     std::vector<std::string>& sets, bool& check_memory) {
  check_keys(t, {"model", "tp", "pp", "vp", "dp", "cp", "ep", "micro_batch", "global_batch", "seq", "precision",
                 "grad_precision", "recompute", "sequence_parallel", "zero", "optimizer_offload", "attention", "set",
                 "no_memory_check"},
             file, where);
  if (!t.contains("model") || !t["model"].is_string()) throw make_error(file, where + ".model", "required (a model preset)");
  model = t["model"].get<std::string>();
  TrainPlan p;
  const long kDegree = 1L << 24;
  p.tp = static_cast<int>(positive_field(t, "tp", 1, file, where, kDegree));
  p.pp = static_cast<int>(positive_field(t, "pp", 1, file, where, kDegree));
  p.vp = static_cast<int>(positive_field(t, "vp", 1, file, where, kDegree));
  p.dp = static_cast<int>(positive_field(t, "dp", 1, file, where, kDegree));
  p.cp = static_cast<int>(positive_field(t, "cp", 1, file, where, kDegree));
  p.ep = static_cast<int>(positive_field(t, "ep", 1, file, where, kDegree));
  p.zero = static_cast<int>(int_field(t, "zero", 0, file, where));
  if (p.zero > 3) throw make_error(file, where + ".zero", "expected 0, 1, 2 or 3");
  if (t.contains("optimizer_offload")) {
    const auto& v = t["optimizer_offload"];
    if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1))
      throw make_error(file, where + ".optimizer_offload", "expected a fraction from 0 to 1");
    p.optimizer_offload = v.get<double>();
  }
  p.micro_batch = positive_field(t, "micro_batch", 1, file, where);
  if (!t.contains("global_batch")) throw make_error(file, where + ".global_batch", "required");
  p.global_batch = positive_field(t, "global_batch", 1, file, where);
  p.seq = positive_field(t, "seq", 0, file, where);  // absent: the model's
  if (t.contains("precision")) {
    std::string v = flag_value(t["precision"]);
    if (v != "bf16" && v != "fp8") throw make_error(file, where + ".precision", "expected bf16 or fp8");
    p.precision = v == "fp8" ? Dtype::FP8 : Dtype::BF16;
  }
  if (t.contains("grad_precision")) {
    std::string v = flag_value(t["grad_precision"]);
    if (v != "fp32" && v != "bf16") throw make_error(file, where + ".grad_precision", "expected fp32 or bf16");
    p.grad_precision = v == "fp32" ? Dtype::FP32 : Dtype::BF16;
  }
  if (t.contains("recompute")) p.recompute = parse_recompute(flag_value(t["recompute"]));
  if (t.contains("attention")) p.attention = parse_attention(flag_value(t["attention"]));
  p.sequence_parallel = bool_field(t, "sequence_parallel", file, where);
  check_memory = !bool_field(t, "no_memory_check", file, where);
  sets = string_list(t, "set", file, where, "\"name=value\" strings");
  return p;
}

struct Job {
  JobResult res;
  wg::Workload w;
  std::unique_ptr<ClusterHardware> hw;
  TrainResult train;
  int base = 0;
};

// The cluster of a jobs file: its system (nodes, sys_set) with the failed and degraded elements.
struct Cluster {
  std::string sysname;
  std::vector<std::string> sys_set;
  topo::System sys;
};

Cluster load_cluster(const nlohmann::json& j, const std::string& path) {
  Cluster c;
  c.sysname = string_field(j, "system", "dgx-h100", path, "");
  int nodes = static_cast<int>(positive_field(j, "nodes", 0, path, "", 1L << 24));  // absent: the system's
  c.sys_set = string_list(j, "sys_set", path, "", "\"key=value\" strings");
  c.sys = topo::load_system(c.sysname, nodes, c.sys_set, {path + ": system", path + ": nodes"});
  ClusterOptions faults;
  faults.fail = string_list(j, "fail", path, "", "element names");
  faults.degrade = string_list(j, "degrade", path, "", "\"element=fraction\" strings");
  apply_faults(c.sys, faults);
  return c;
}

// An error the plan's checks word for the command line ("--tp/--dp: ...", "--model: nosuch: ...")
// names the jobs file's keys instead: "jobs[0].train.tp/dp: ...", "jobs[0].train.model: ...".
std::string as_job_fields(const std::string& msg, const std::string& prefix) {
  if (msg.rfind("--", 0) != 0) return msg;
  auto colon = msg.find(": ");
  if (colon == std::string::npos) return msg;
  std::string flags = msg.substr(0, colon), out;
  std::stringstream parts(flags);
  for (std::string f; std::getline(parts, f, '/');) {
    if (f.rfind("--", 0) != 0) return msg;  // (not a list of flags)
    f = f.substr(2);
    std::replace(f.begin(), f.end(), '-', '_');
    out += (out.empty() ? prefix : "/") + f;
  }
  return out + msg.substr(colon);
}

// A job's workload and hardware: a training plan on `world` GPUs (whole nodes of the system) or
// a Chakra trace directory. Errors name the jobs file and the job.
void job_workload(Job& job, const nlohmann::json& jj, const std::string& path, const std::string& where, const Cluster& cl,
                  int world) {
  const topo::System& sys = cl.sys;
  try {
    if (jj.contains("train")) {
      job.res.kind = "train";
      std::string model;
      std::vector<std::string> sets;
      bool check_memory = true;
      TrainPlan p = parse_plan(jj["train"], path, where + ".train", model, sets, check_memory);
      int gpn = sys.topo.gpus_per_node > 0 ? sys.topo.gpus_per_node : world;
      if (world % gpn != 0)
        throw make_error(path, where + ".gpus", std::to_string(world) + " GPUs is not a whole number of " +
                                                    std::to_string(gpn) + "-GPU nodes");
      SystemSpec s = load_system_spec(cl.sysname, sys.topo.gpus_per_node > 0 ? world / gpn : 0, cl.sys_set);
      s.nodes = world / gpn;
      s.gpus_per_node = gpn;
      job.hw = std::make_unique<ClusterHardware>(s.gpu, sets, ClusterOptions{}, world);
      TrainJob tj = train_job(load_model(model), s, p, *job.hw, sys, false, check_memory);
      job.train = std::move(tj.result);
      job.w = std::move(tj.workload);
    } else {
      job.res.kind = "chakra";
      job.hw = std::make_unique<ClusterHardware>(sys.accelerator, std::vector<std::string>{}, ClusterOptions{}, world);
      ChakraWorkload cw = chakra_workload(flag_value(jj["chakra"]), *job.hw, sys);
      job.w = std::move(cw.w);
      job.w.validate(flag_value(jj["chakra"]));
    }
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    std::string fields = as_job_fields(msg, jj.contains("train") ? where + ".train." : where + ".");
    throw fields != msg ? make_error(path, "", fields) : make_error(path, where, msg);
  }
}

// jobs[k]: its name and GPUs (each GPU in one job only: `owner`), its workload, whose rank count
// must be its GPU count.
void read_job(Job& job, const nlohmann::json& jj, std::size_t k, const std::string& path, const Cluster& cl,
              std::map<int, std::string>& owner) {
  std::string where = "jobs[" + std::to_string(k) + "]";
  check_keys(jj, {"name", "gpus", "train", "chakra"}, path, where);
  job.res.name = string_field(jj, "name", "job" + std::to_string(k), path, where);
  if (job.res.name.empty() || job.res.name.find_first_of("/\n\r") != std::string::npos)
    throw make_error(path, where + ".name", "expected a non-empty name without '/' or line breaks");
  if (!jj.contains("gpus")) throw make_error(path, where + ".gpus", "required");
  job.res.gpus = parse_gpus(jj["gpus"], path, where + ".gpus", cl.sys.topo.num_gpus());
  for (int g : job.res.gpus) {
    auto [it, fresh] = owner.emplace(g, job.res.name);
    if (!fresh)
      throw make_error(path, where + ".gpus", "GPU " + std::to_string(g) + " is already used by job '" + it->second + "'");
  }
  int world = static_cast<int>(job.res.gpus.size());
  if (jj.contains("train") == jj.contains("chakra"))
    throw make_error(path, where, "give exactly one of \"train\" (a plan) or \"chakra\" (a trace directory)");
  job_workload(job, jj, path, where, cl, world);
  if (job.w.world != world)
    throw make_error(path, where + ".gpus", "the job has " + std::to_string(job.w.world) + " ranks but " +
                                                std::to_string(world) + " GPUs");
}

// One workload: every job's ranks shifted by its base, groups renamed per job; place: rank -> GPU,
// hw: each rank's hardware.
wg::Workload merge_jobs(const std::vector<Job>& jobs, const std::string& path, int world, std::vector<int>& place,
                        std::vector<RankHardware>& hw) {
  wg::Workload all;
  all.world = world;
  all.name = path;
  place.assign(static_cast<std::size_t>(world), 0);
  for (auto& job : jobs) {
    for (std::size_t r = 0; r < job.res.gpus.size(); ++r) place[static_cast<std::size_t>(job.base) + r] = job.res.gpus[r];
    for (std::size_t i = 0; i < job.w.ranks.size(); ++i) {
      const wg::RankGraph& rg = job.w.ranks[i];
      wg::RankGraph g = job.w.materialized(i);
      g.rank += job.base;
      for (auto& n : g.nodes) {
        if (n.peer >= 0) n.peer += job.base;
        if (n.group >= 0) {
          std::vector<int> ranks = job.w.groups[static_cast<std::size_t>(n.group)].ranks;
          for (int& x : ranks) x += job.base;
          n.group = all.group(job.res.name + "/" + job.w.groups[static_cast<std::size_t>(n.group)].name, ranks);
        }
        n.mirror_pairs = -1;
      }
      hw.push_back(job.hw->of(rg.rank));
      all.ranks.push_back(std::move(g));
    }
  }
  return all;
}

// The same job alone on its GPUs (a kernel-free engine: SystemC runs once per process).
double alone_time(const Job& job, const topo::System& sys) {
  std::vector<RankHardware> jh;
  for (auto& rg : job.w.ranks) jh.push_back(job.hw->of(rg.rank));
  EventCore alone_core;
  ExecOptions ao;
  ao.placement = job.res.gpus;
  ao.collective_baseline = false;
  return execute(job.w, sys, jh, alone_core, ao).makespan_s;
}

}  // namespace

nlohmann::json ClusterRun::to_json() const {
  nlohmann::json j;
  j["system"] = system;
  nlohmann::json js = nlohmann::json::array();
  for (auto& r : jobs)
    js.push_back({{"name", r.name}, {"kind", r.kind}, {"gpus", r.gpus.size()}, {"step_time_s", r.time_s},
                  {"alone_s", r.alone_s}, {"slowdown", r.slowdown()}});
  j["jobs"] = js;
  j["cluster"] = exec.to_json();
  return j;
}

ClusterRun run_cluster_jobs(const std::string& path) {
  nlohmann::json j = read_json_file(path);
  check_keys(j, {"system", "nodes", "sys_set", "engine", "jobs", "description", "fail", "degrade"}, path, "");
  Cluster cl = load_cluster(j, path);
  const topo::System& sys = cl.sys;
  if (!j.contains("jobs") || !j["jobs"].is_array() || j["jobs"].empty())
    throw make_error(path, "jobs", "expected a non-empty list of jobs");
  std::map<int, std::string> owner;
  std::vector<Job> jobs(j["jobs"].size());
  int base = 0;
  std::map<std::string, std::size_t> named;
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    read_job(jobs[k], j["jobs"][k], k, path, cl, owner);
    auto [it, fresh] = named.emplace(jobs[k].res.name, k);
    if (!fresh)  // (their groups and statistics would merge under one name)
      throw make_error(path, "jobs[" + std::to_string(k) + "].name",
                       "'" + jobs[k].res.name + "' is also jobs[" + std::to_string(it->second) + "]'s name");
    jobs[k].base = base;
    base += static_cast<int>(jobs[k].res.gpus.size());
  }
  std::vector<int> place;
  std::vector<RankHardware> hw;
  wg::Workload all = merge_jobs(jobs, path, base, place, hw);
  check_connected(all, sys, place);
  ClusterRun out;
  out.system = sys.name;
  auto core = make_engine(string_field(j, "engine", "event", path, ""));
  ExecOptions eo;
  eo.placement = place;
  out.exec = execute(all, sys, hw, *core, eo);
  for (auto& job : jobs) {
    for (auto& rs : out.exec.ranks)
      if (rs.rank >= job.base && rs.rank < job.base + static_cast<int>(job.res.gpus.size()))
        job.res.time_s = std::max(job.res.time_s, rs.end_s);
    job.res.alone_s = alone_time(job, sys);
    out.jobs.push_back(job.res);
  }
  return out;
}

}  // namespace orrery
