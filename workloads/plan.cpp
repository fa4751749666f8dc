// Parallel-plan search (see plan.h): enumerate, check, bound, simulate, rank, explain.
#include "workloads/plan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "sim/error.h"

namespace orrery {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Communication that costs nothing: the compute-only bound.
struct FreeComm : CommModel {
  double time(coll::Op, double, const CommGroup&) const override { return 0; }
  std::string name() const override { return "none (compute-only bound)"; }
};

std::vector<int> divisors_in(const std::vector<int>& want, long n) {
  std::vector<int> out;
  for (int d : want)
    if (d >= 1 && n % d == 0) out.push_back(d);
  return out;
}

// Fill plus steady state of (interleaved) 1F1B with per-chunk forward and backward times and no
// communication between stages, DP tail or optimizer: the simulation can only be slower.
double pipeline_bound(const ModelSpec& m, const TrainPlan& p, const LayerCosts& c) {
  double lpc = static_cast<double>(m.layers) / (p.pp * p.vp);
  double f = lpc * LayerCosts::total(c.layer_fwd, c.kernel_gap);
  double b = lpc * (LayerCosts::total(c.layer_bwd, c.kernel_gap) + LayerCosts::total(c.layer_recompute, c.kernel_gap));
  return (static_cast<double>(p.micro_batches()) * p.vp + p.pp - 1) * (f + b);
}

// What stage 0 cannot overlap with compute, as train models it: the stage-to-stage sends of the
// pipeline fill and drain (2 (PP-1) sends), the gradient reduction of its last chunk after its
// final backward, the ZeRO-1/2 parameter all-gather or the ZeRO-3 gather before its first
// forward, and the optimizer step. Same formulas as run_training (workloads/train.cpp).
double serial_tail(const ModelSpec& m, const TrainPlan& p, const Accelerator& hw, const CommModel& comm, const Groups& g) {
  const double lpc = static_cast<double>(m.layers) / (p.pp * p.vp);
  double dense = m.attention_params() + m.router_params() + m.norm_params() + (m.moe() ? 0.0 : m.mlp_params_per_expert());
  double chunk0 = lpc * dense / p.tp + m.embedding_params() / p.tp;  // virtual stage 0 (embedding)
  double t = 0;
  if (p.pp > 1) {
    double p2p_bytes = static_cast<double>(p.micro_batch) * (p.seq / p.cp) * m.hidden * 2.0 / p.tp;
    t += 2.0 * (p.pp - 1) * comm.time(coll::Op::SendRecv, p2p_bytes, g.pp);
  }
  if (p.dp * p.cp > 1) {
    t += comm.time(p.zero == 0 ? coll::Op::AllReduce : coll::Op::ReduceScatter, chunk0 * p.grad_bytes(), g.dp);
    if (p.zero >= 3) t += comm.time(coll::Op::AllGather, chunk0 * 2, g.dp);
  }
  MemoryBreakdown mb = stage_memory(m, p, 0, inflight_chunks(p, 0));
  if (p.dp * p.cp > 1 && (p.zero == 1 || p.zero == 2)) t += comm.time(coll::Op::AllGather, mb.params * 2, g.dp);
  double local = mb.optimizer / 12.0, gb = p.grad_bytes();
  t += hw.memory_time(local * (gb + (gb + 24) + 6) + mb.gradients);
  return t;
}

double peak_memory(const ModelSpec& m, const TrainPlan& p) {
  double peak = 0;
  for (int i = 0; i < p.pp; ++i) peak = std::max(peak, stage_memory(m, p, i, inflight_chunks(p, i)).total());
  return peak;
}

// The flag an invalid plan is rejected on ("--tp", "--pp/--vp", ...): counts by reason.
std::string reason_key(const std::string& msg) {
  auto c = msg.find(':');
  return c == std::string::npos ? msg : msg.substr(0, c);
}

struct Space {
  std::vector<int> tp, pp, vp, cp, ep, zero;
  std::vector<long> mb;
  std::vector<Recompute> rc;
};

Space make_space(const PlanOptions& o, const ModelSpec& m, int gpn) {
  Space s;
  auto pick = [](const std::vector<int>& given, std::vector<int> def) { return given.empty() ? def : given; };
  s.tp = pick(o.tp, divisors_in({1, 2, 4, 8, 16}, gpn));
  std::vector<int> pps;
  for (int d = 1; d <= std::min<long>(m.layers, 128); ++d)
    if (m.layers % d == 0) pps.push_back(d);
  s.pp = pick(o.pp, pps);
  s.vp = pick(o.vp, {1, 2, 3, 4, 5, 6, 8});
  s.cp = pick(o.cp, {1, 2, 4, 8});
  std::vector<int> eps = {1};
  if (m.moe()) eps = divisors_in({1, 2, 4, 8, 16, 32, 64}, m.experts);
  s.ep = pick(o.ep, eps);
  s.zero = pick(o.zero, {0, 1, 2, 3});
  s.mb = o.micro_batch.empty() ? std::vector<long>{1, 2, 4, 8} : o.micro_batch;
  s.rc = o.recompute.empty() ? std::vector<Recompute>{Recompute::None, Recompute::Selective, Recompute::Full} : o.recompute;
  return s;
}

template <class F>
void for_each_plan(const Space& s, const PlanOptions& o, long seq, F&& f) {
  for (int tp : s.tp)
    for (int sp = 0; sp < (tp > 1 ? 2 : 1); ++sp)
      for (int cp : s.cp)
        for (int pp : s.pp) {
          long rest = static_cast<long>(o.gpus) / (static_cast<long>(tp) * cp * pp);
          if (rest < 1 || rest * tp * cp * pp != o.gpus) continue;
          for (int vp : s.vp) {
            if (vp > 1 && pp < 2) continue;
            for (int ep : s.ep)
              for (long mb : s.mb)
                for (Recompute rc : s.rc)
                  for (int z : s.zero) {
                    TrainPlan p;
                    p.tp = tp; p.pp = pp; p.vp = vp; p.cp = cp; p.ep = ep; p.dp = static_cast<int>(rest);
                    p.sequence_parallel = sp == 1;
                    p.micro_batch = mb; p.global_batch = o.global_batch; p.seq = seq;
                    p.recompute = rc; p.zero = z; p.precision = o.precision;
                    f(p);
                  }
          }
        }
}

std::string pct(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f%%", b > 0 ? 100 * (a - b) / b : 0.0);
  return buf;
}

// What `a` (the best) gains over `b`, component by component, largest first.
std::string explain(const PlanCandidate& a, const PlanCandidate& b) {
  std::vector<std::pair<double, std::string>> d;
  for (auto it = a.breakdown_s.begin(); it != a.breakdown_s.end(); ++it)
    d.push_back({b.breakdown_s.value(it.key(), 0.0) - it.value().get<double>(), it.key()});
  std::sort(d.begin(), d.end(), [](auto& x, auto& y) { return std::abs(x.first) > std::abs(y.first); });
  std::ostringstream os;
  os << plan_label(a.plan) << " beats " << (b.label.empty() ? "" : b.label + " = ") << plan_label(b.plan) << " ("
     << pct(b.iteration_time_s, a.iteration_time_s) << " slower):";
  int n = 0;
  for (auto& [delta, k] : d) {
    if (n++ >= 3 || std::abs(delta) < 1e-4) break;
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s %s %.3f s", k.c_str(), delta > 0 ? "saves" : "costs", std::abs(delta));
    os << buf << (n < 3 ? ";" : "");
  }
  char mem[96];
  std::snprintf(mem, sizeof mem, " (memory %.1f vs %.1f GB per GPU)", a.peak_memory_bytes / 1e9, b.peak_memory_bytes / 1e9);
  os << mem;
  return os.str();
}

void simulate(PlanCandidate& c, const PlanOptions& o, int nodes, const std::string& comm) {
  TrainOptions t;
  t.model = o.model;
  t.system = o.system;
  t.nodes = nodes;
  t.plan = c.plan;
  t.engine = "event";
  t.comm = comm;
  t.hw_overrides = o.hw_overrides;
  t.sys_overrides = o.sys_overrides;
  c.simulated = true;
  try {
    TrainResult r = run_training(t);
    c.iteration_time_s = r.iteration_time_s;
    c.mfu = r.mfu;
    c.tokens_per_s_per_gpu = r.tokens_per_s_per_gpu;
    c.breakdown_s = r.to_json()["breakdown_s"];
  } catch (const Error& e) {
    c.error = e.what();
  }
}

}  // namespace

std::string plan_label(const TrainPlan& p) {
  std::ostringstream os;
  os << "TP" << p.tp << (p.sequence_parallel ? "+SP" : "") << " PP" << p.pp;
  if (p.vp > 1) os << " VP" << p.vp;
  os << " DP" << p.dp;
  if (p.cp > 1) os << " CP" << p.cp;
  if (p.ep > 1) os << " EP" << p.ep;
  os << " mb" << p.micro_batch << " ZeRO-" << p.zero << " rc=" << recompute_name(p.recompute);
  return os.str();
}

TrainPlan parse_plan_spec(const std::string& spec, const std::string& where) {
  TrainPlan p;
  p.dp = 0;  // derived from the GPU count
  std::stringstream ss(spec);
  std::string kv;
  while (std::getline(ss, kv, ',')) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) throw make_error(where, kv, "expected key=value (tp, pp, vp, dp, cp, ep, sp, mb, zero, recompute)");
    std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "recompute") { p.recompute = parse_recompute(v); continue; }
    long x = 0;
    try {
      size_t pos = 0;
      x = std::stol(v, &pos);
      if (pos != v.size()) throw 1;
    } catch (...) {
      throw make_error(where, k, "'" + v + "' is not an integer");
    }
    if (x < 0 || x > (1L << 30)) throw make_error(where, k, "out of range: " + v);
    int xi = static_cast<int>(x);
    if (k == "tp") p.tp = xi;
    else if (k == "pp") p.pp = xi;
    else if (k == "vp") p.vp = xi;
    else if (k == "dp") p.dp = xi;
    else if (k == "cp") p.cp = xi;
    else if (k == "ep") p.ep = xi;
    else if (k == "sp") p.sequence_parallel = x != 0;
    else if (k == "mb" || k == "micro_batch") p.micro_batch = x;
    else if (k == "zero") p.zero = xi;
    else throw make_error(where, k, "unknown plan key (known: tp, pp, vp, dp, cp, ep, sp, mb, zero, recompute)");
  }
  return p;
}

nlohmann::json PlanCandidate::to_json() const {
  nlohmann::json j = plan.to_json();
  j["plan"] = plan_label(plan);
  if (!label.empty()) j["label"] = label;
  j["rank"] = rank;
  if (rank_max > rank) j["rank_max"] = rank_max;
  j["iteration_time_s"] = iteration_time_s;
  j["mfu"] = mfu;
  j["tokens_per_s_per_gpu"] = tokens_per_s_per_gpu;
  j["compute_bound_s"] = compute_bound_s;
  j["bound_s"] = bound_s;
  j["peak_memory_bytes"] = peak_memory_bytes;
  j["breakdown_s"] = breakdown_s;
  if (verified) j["estimate_s"] = estimate_s;
  j["verified"] = verified;
  if (!error.empty()) j["error"] = error;
  return j;
}

nlohmann::json PlanSearch::to_json() const {
  nlohmann::json j;
  j["model"] = model;
  j["system"] = system;
  j["gpu"] = gpu;
  j["gpus"] = options.gpus;
  j["global_batch"] = options.global_batch;
  j["seq"] = seq;
  j["comm_model"] = comm_model;
  if (!screen_model.empty()) j["screen_model"] = screen_model;
  nlohmann::json plans = nlohmann::json::array();
  for (size_t i = 0; i < ranked.size() && static_cast<int>(i) < options.top; ++i) plans.push_back(ranked[i].to_json());
  j["plans"] = plans;
  nlohmann::json refs = nlohmann::json::array();
  for (auto& r : references) refs.push_back(r.to_json());
  j["references"] = refs;
  j["search"] = {{"enumerated", enumerated}, {"invalid", invalid}, {"over_memory", over_memory},
                 {"pruned_compute_bound", pruned_compute}, {"pruned_bound", pruned_bound}, {"simulated", simulated},
                 {"twins", twins}, {"over_budget", over_budget},
                 {"failed", failed}, {"budget_exhausted", budget_exhausted}, {"invalid_reasons", invalid_reasons},
                 {"verified", verified}};
  j["why"] = why;
  return j;  // (wall times stay out: the JSON is deterministic)
}

// Second stage: the best screened plans and the references run again with o.comm (every rank on
// the cluster executor); those are ranked first, by that time, the others after them by their
// screened time.
void verify_best(std::vector<PlanCandidate>& sims, PlanSearch& out, const PlanOptions& o, int nodes) {
  auto t = Clock::now();
  size_t n = std::min(sims.size(), static_cast<size_t>(o.verify > 0 ? o.verify : std::max(1, o.top)));
  auto again = [&](PlanCandidate& c) {
    c.estimate_s = c.iteration_time_s;
    simulate(c, o, nodes, o.comm);
    c.verified = c.error.empty();
    ++out.verified;
  };
  for (size_t i = 0; i < n; ++i) again(sims[i]);
  for (auto& r : out.references)
    if (r.simulated && r.error.empty()) again(r);
  std::stable_sort(sims.begin(), sims.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
    if (a.verified != b.verified) return a.verified;
    if (a.error.empty() != b.error.empty()) return a.error.empty();
    if (a.iteration_time_s != b.iteration_time_s) return a.iteration_time_s < b.iteration_time_s;
    return plan_label(a.plan) < plan_label(b.plan);
  });
  out.verify_wall_s = since(t);
}

namespace {
// One plan search, step by step: enumerate and bound the plans (rejecting invalid and over-memory
// ones), simulate the references, branch and bound in bound order, rank the references exactly
// within --rank-sims, rank (and verify) the simulated plans, say why the best wins. Owns the
// loaded model, system, accelerator and comm models, and the search's working lists.
class PlanSearcher {
 public:
  PlanSearcher(const PlanOptions& o, Clock::time_point t0) : o_(o), t0_(t0) {
    m_ = load_model(o.model);
    SystemSpec s0 = load_system_spec(o.system, 0, o.sys_overrides);
    gpn_ = s0.fixed_topology ? s0.gpus() : s0.gpus_per_node;
    if (!s0.fixed_topology && o.gpus % gpn_ != 0)
      throw make_error("--gpus", std::to_string(o.gpus), "not a multiple of the " + std::to_string(gpn_) + " GPUs per node of " + s0.name);
    nodes_ = s0.fixed_topology ? 0 : o.gpus / gpn_;
    s_ = load_system_spec(o.system, nodes_, o.sys_overrides);
    hw_ = load_accelerator(s_.gpu, o.hw_overrides);
    comm_ = make_comm_model(s_, o.comm);
    out_.options = o;
    out_.model = m_.name;
    out_.system = s_.name;
    out_.gpu = hw_.name;
    out_.comm_model = o.comm == "auto" || o.comm == "fabric" ? std::string("fabric (every rank on the cluster executor)") : comm_->name();
    out_.seq = o.seq > 0 ? o.seq : m_.seq;
    if (!(o.memory_fraction > 0 && o.memory_fraction <= 1)) throw make_error("--memory-fraction", std::to_string(o.memory_fraction), "expected a fraction in (0, 1]");
    out_.hbm_capacity = hw_.p("hbm_capacity") * o.memory_fraction;
  }

  PlanSearch search() {
    enumerate();
    choose_screen();
    auto t1 = Clock::now();
    simulate_references();
    branch_and_bound();
    rank_references_exactly();
    out_.simulate_wall_s = since(t1);
    rank();
    explain_best();
    out_.wall_s = since(t0_);
    return std::move(out_);
  }

 private:
  // Validates p and bounds it: false (c.error says why) when it is invalid or over memory; else
  // c's peak memory, compute-only bound and full bound (with communication and the serial tail).
  bool check(TrainPlan p, PlanCandidate& c) {
    try {
      validate_plan(m_, p, s_);
    } catch (const Error& e) {
      c.error = e.what();
      out_.invalid_reasons[reason_key(e.what())]++;
      return false;
    }
    c.peak_memory_bytes = peak_memory(m_, p);
    if (c.peak_memory_bytes > out_.hbm_capacity) {
      c.error = "does not fit: " + format_bytes(c.peak_memory_bytes) + " per GPU";
      return false;
    }
    Groups g = make_groups(p, s_.gpus_per_node);
    c.compute_bound_s = pipeline_bound(m_, p, layer_costs(m_, p, hw_, free_comm_, g));
    c.bound_s = pipeline_bound(m_, p, layer_costs(m_, p, hw_, *comm_, g)) + serial_tail(m_, p, hw_, *comm_, g);
    return true;
  }

  // Every plan of the space: counted, the valid ones that fit bounded into cands_.
  void enumerate() {
    for_each_plan(make_space(o_, m_, gpn_), o_, out_.seq, [&](const TrainPlan& p) {
      ++out_.enumerated;
      PlanCandidate c;
      c.plan = p;
      if (!check(p, c)) {
        if (c.error.rfind("does not fit", 0) == 0) ++out_.over_memory;
        else ++out_.invalid;
        return;
      }
      cands_.push_back(std::move(c));
    });
    out_.enumerate_wall_s = since(t0_);
  }

  // Screening comm model: the closed form unless the answer's model is itself closed-form.
  void choose_screen() {
    two_stage_ = o_.screen != "fabric" && o_.comm != "analytical" && o_.comm != "builtin";
    if (o_.screen != "fabric" && o_.screen != "analytical")
      throw make_error("--screen", o_.screen, "expected analytical (screen, then verify the best on the fabric) or fabric");
    screen_comm_ = two_stage_ ? std::string("analytical") : o_.comm;
    if (two_stage_) out_.screen_model = "analytical";
  }

  // References (published recipes), completed from the options: simulated whatever their bound.
  void simulate_references() {
    for (auto& [name, p0] : o_.references) {
      TrainPlan p = p0;
      p.global_batch = o_.global_batch;
      p.seq = out_.seq;
      p.precision = o_.precision;
      if (p.dp == 0) p.dp = std::max(1, o_.gpus / std::max(1, p.tp * p.pp * p.cp));
      PlanCandidate c;
      c.plan = p;
      c.label = name;
      if (check(p, c)) simulate(c, o_, nodes_, screen_comm_);
      out_.references.push_back(c);
    }
  }

  double threshold() const { return static_cast<int>(best_.size()) >= o_.top ? best_[o_.top - 1] : 1e300; }

  // Simulates c unless a twin (same plan but for a recompute policy that changes neither the
  // kernels nor the memory, e.g. selective recompute under flash attention) already was: twins
  // are counted, not ranked twice.
  void evaluate(PlanCandidate& c) {
    TrainPlan tw = c.plan;
    tw.recompute = Recompute::None;
    char key[160];
    std::snprintf(key, sizeof key, "|%.12g|%.12g|%.12g", c.bound_s, c.compute_bound_s, c.peak_memory_bytes);
    std::string twin_key = plan_label(tw) + key;
    if (twins_.count(twin_key)) { ++out_.twins; return; }
    simulate(c, o_, nodes_, screen_comm_);
    ++out_.simulated;
    if (!c.error.empty()) { ++out_.failed; return; }
    best_.insert(std::upper_bound(best_.begin(), best_.end(), c.iteration_time_s), c.iteration_time_s);
    twins_[twin_key] = c;
    sims_.push_back(c);
  }

  // Branch and bound in order of the bound: simulate while the bound can still beat the k-th best
  // (or a reference, to rank it); the others wait in pending_ with the count they are in.
  void branch_and_bound() {
    std::sort(cands_.begin(), cands_.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
      if (a.bound_s != b.bound_s) return a.bound_s < b.bound_s;
      return plan_label(a.plan) < plan_label(b.plan);
    });
    for (auto& c : cands_) {
      double th = threshold();
      if (c.compute_bound_s >= th) { ++out_.pruned_compute; pending_.push_back({&c, &out_.pruned_compute}); continue; }
      if (c.bound_s >= th) { ++out_.pruned_bound; pending_.push_back({&c, &out_.pruned_bound}); continue; }
      if (out_.simulated >= o_.max_sims) { out_.budget_exhausted = true; ++out_.over_budget; pending_.push_back({&c, &out_.over_budget}); continue; }
      evaluate(c);
    }
  }

  // Exact ranks for the references: simulate the pruned plans whose bound is below a reference's
  // time (fastest reference first) within --rank-sims more simulations; the rest stay in left_.
  void rank_references_exactly() {
    std::vector<double> ref_times;
    for (auto& r : out_.references) if (r.simulated && r.error.empty()) ref_times.push_back(r.iteration_time_s);
    std::sort(ref_times.begin(), ref_times.end());
    long extra = 0;
    for (auto [c, counter] : pending_) {  // (pending is in bound order)
      bool below = !ref_times.empty() && c->bound_s < ref_times.back();
      if (below && extra < o_.rank_sims && out_.simulated < o_.max_sims + o_.rank_sims) {
        --*counter;
        long before = out_.simulated;
        evaluate(*c);
        extra += out_.simulated - before;
      } else {
        left_.push_back(c);
      }
    }
  }

  // Ranks the simulated plans (ties: by label, deterministic), verifying the best when screened.
  // A reference's rank: 1 + the simulated plans faster than it (verified against its verified
  // time, screened against its screened time); plans never simulated whose bound is below its
  // time might be faster too: the rank is then a range.
  void rank() {
    std::sort(sims_.begin(), sims_.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
      if (a.iteration_time_s != b.iteration_time_s) return a.iteration_time_s < b.iteration_time_s;
      return plan_label(a.plan) < plan_label(b.plan);
    });
    if (two_stage_) verify_best(sims_, out_, o_, nodes_);
    for (size_t i = 0; i < sims_.size(); ++i) sims_[i].rank = static_cast<int>(i) + 1;
    for (auto& r : out_.references) {
      if (!r.simulated || !r.error.empty()) continue;
      auto screened_s = [](const PlanCandidate& x) { return x.verified ? x.estimate_s : x.iteration_time_s; };
      double screened = screened_s(r);
      r.rank = 1;
      for (auto& c : sims_) {
        bool both_verified = c.verified && r.verified;
        if (both_verified ? c.iteration_time_s < r.iteration_time_s : screened_s(c) < screened) ++r.rank;
      }
      r.rank_max = r.rank;
      for (PlanCandidate* c : left_) if (c->bound_s < screened) ++r.rank_max;
    }
    out_.ranked = std::move(sims_);
  }

  // Why the best wins: against the runner-up (the first plan that is measurably slower: ties,
  // e.g. selective recompute that recomputes nothing under flash attention, say nothing) and
  // against each reference.
  void explain_best() {
    if (out_.ranked.empty()) return;
    std::string w;
    for (size_t i = 1; i < out_.ranked.size(); ++i)
      if (out_.ranked[i].iteration_time_s > out_.ranked[0].iteration_time_s * 1.0005) {
        w += explain(out_.ranked[0], out_.ranked[i]);
        break;
      }
    for (auto& r : out_.references)
      if (r.simulated && r.error.empty() && plan_label(r.plan) != plan_label(out_.ranked[0].plan))
        w += (w.empty() ? "" : "\n") + explain(out_.ranked[0], r);
    out_.why = w;
  }

  const PlanOptions& o_;
  const Clock::time_point t0_;
  ModelSpec m_;
  SystemSpec s_;
  Accelerator hw_;
  std::unique_ptr<CommModel> comm_;
  FreeComm free_comm_;
  int gpn_ = 1, nodes_ = 0;
  PlanSearch out_;
  bool two_stage_ = false;
  std::string screen_comm_;
  std::vector<PlanCandidate> cands_;  // valid, fitting plans (bound order after branch_and_bound)
  std::vector<PlanCandidate> sims_;   // simulated plans
  std::vector<double> best_;          // sorted simulated times
  std::vector<std::pair<PlanCandidate*, long*>> pending_;  // not simulated (and the count it is in)
  std::map<std::string, PlanCandidate> twins_;
  std::vector<PlanCandidate*> left_;  // never simulated
};
}  // namespace

PlanSearch search_plans(const PlanOptions& o) {
  auto t0 = Clock::now();
  if (o.gpus < 1) throw make_error("--gpus", std::to_string(o.gpus), "must be at least 1");
  if (o.global_batch < 1) throw make_error("--global-batch", std::to_string(o.global_batch), "required, at least 1");
  if (o.top < 1) throw make_error("--top", std::to_string(o.top), "must be at least 1");
  return PlanSearcher(o, t0).search();
}

}  // namespace orrery
