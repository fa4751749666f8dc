// Serving simulation on the event engine: arrivals, per-replica engine steps (vLLM-like
// continuous batching over a paged KV cache), disaggregated prefill->decode KV transfers as
// flows on the fabric, and the latency/throughput/energy summary.
#include "workloads/serve.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <map>

#include "sim/engine.h"
#include "sim/error.h"
#include "sim/timeline.h"
#include "workloads/collective.h"

namespace orrery::serve {

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {  // linear interpolation between closest ranks (numpy's default)
    double x = q * static_cast<double>(v.size() - 1);
    size_t i = static_cast<size_t>(x);
    double f = x - static_cast<double>(i);
    return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
  };
  p.p50 = at(0.5);
  p.p90 = at(0.9);
  p.p99 = at(0.99);
  p.max = v.back();
  double s = 0;
  for (double x : v) s += x;
  p.mean = s / static_cast<double>(v.size());
  return p;
}

nlohmann::json Percentiles::to_json_ms() const {
  return {{"p50", p50 * 1e3}, {"p90", p90 * 1e3}, {"p99", p99 * 1e3}, {"mean", mean * 1e3}, {"max", max * 1e3}};
}

namespace {

enum class Role { Mixed, Prefill, Decode };
const char* role_name(Role r) { return r == Role::Mixed ? "mixed" : r == Role::Prefill ? "prefill" : "decode"; }

struct ReqState {
  long computed = 0, generated = 0;
  long blocks = 0;         // private KV blocks held
  long prefix_blocks = 0;  // shared prefix-cache blocks referenced
  bool swapped = false;
  bool inflight = false;   // in a step that has not finished (pipeline parallelism: several steps in flight)
};

struct PrefixEntry {
  long blocks = 0, refs = 0;
  double last_use = 0;
};

struct Replica {
  int id = 0, first_gpu = 0;
  Role role = Role::Mixed;
  std::deque<int> waiting;
  std::vector<int> running;  // admission order
  long total_blocks = 0, free_blocks = 0;
  int inflight = 0;        // steps in flight (up to pp: one per pipeline stage, as vLLM's virtual engines)
  long inflight_seqs = 0;  // sequences in those steps (max_batch applies per step, as per virtual engine)
  Ps stage_free = 0;       // when the first pipeline stage can take the next step
  bool kick_pending = false;
  long outstanding = 0;
  long transfers = 0;  // prefill replica: KV hand-offs in flight (their blocks are still held)
  std::map<long, PrefixEntry> prefix;
  std::vector<std::pair<int, long>> sched;  // (request, tokens) of the step being built
  int track = -1;
};

class Sim {
 public:
  Sim(const ServeOptions& o, const topo::System& sys, const CostModel& cost, const MemoryPlan& mp,
      const std::vector<Request>& reqs, EventCore& core, Timeline* tl)
      : o_(o), sys_(sys), cost_(cost), reqs_(reqs), core_(core), tl_(tl), st_(reqs.size()) {
    rec_.resize(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) rec_[i].req = reqs[i];
    const Deployment& d = o.cfg.dep;
    for (int r = 0; r < d.total_replicas(); ++r) {
      Replica R;
      R.id = r;
      R.first_gpu = r * d.gpus_per_replica();
      R.role = !d.disaggregated() ? Role::Mixed : r < d.prefill_replicas ? Role::Prefill : Role::Decode;
      R.total_blocks = R.free_blocks = mp.blocks;
      if (tl_) R.track = tl_->track("replica " + std::to_string(r) + " (" + role_name(R.role) + ")", "engine steps");
      reps_.push_back(std::move(R));
    }
    if (d.disaggregated()) fabric_ = std::make_unique<coll::Fabric>(sys_, core_);
    bs_ = mp.block_size;
    budget_ = static_cast<long>(o.cfg.p("token_budget"));
    max_batch_ = static_cast<long>(o.cfg.p("max_batch"));
  }

  void run() {
    if (!reqs_.empty()) core_.at(to_ps(reqs_[0].arrival), [this] { arrive(0); });
    core_.run();
  }

  std::vector<RequestRecord> rec_;
  std::vector<ServeResult::Sample> steps_;  // per step: t (end), batch, kv (occupancy) + start in `starts_`
  std::vector<double> starts_;
  std::vector<int> step_replica_;
  long preemptions_ = 0, prefix_hits_ = 0;
  double energy_dyn_ = 0;

 private:
  const ServeOptions& o_;
  const topo::System& sys_;
  const CostModel& cost_;
  const std::vector<Request>& reqs_;
  EventCore& core_;
  Timeline* tl_;
  std::vector<ReqState> st_;
  std::vector<Replica> reps_;
  std::unique_ptr<coll::Fabric> fabric_;
  long bs_ = 16, budget_ = 2048, max_batch_ = 256;

  long known(int id) const { return reqs_[id].prompt + st_[id].generated; }

  int pick(Role role) const {
    int best = -1;
    for (auto& R : reps_)
      if (R.role == role && (best < 0 || R.outstanding < reps_[best].outstanding)) best = R.id;
    return best;
  }

  // Requests arriving at the same instant are queued together before any replica schedules.
  void arrive(size_t i) {
    size_t j = i;
    std::vector<int> touched;
    for (; j < reqs_.size() && reqs_[j].arrival == reqs_[i].arrival; ++j) {
      int r = pick(o_.cfg.dep.disaggregated() ? Role::Prefill : Role::Mixed);
      rec_[j].replica = r;
      reps_[r].outstanding++;
      reps_[r].waiting.push_back(static_cast<int>(j));
      touched.push_back(r);
    }
    if (j < reqs_.size()) core_.at(to_ps(reqs_[j].arrival), [this, j] { arrive(j); });
    for (int r : touched) try_step(reps_[r]);
  }

  // ---- KV blocks
  void evict_prefixes(Replica& R, long need) {
    while (R.free_blocks < need) {
      auto victim = R.prefix.end();
      for (auto it = R.prefix.begin(); it != R.prefix.end(); ++it)
        if (it->second.refs == 0 && (victim == R.prefix.end() || it->second.last_use < victim->second.last_use)) victim = it;
      if (victim == R.prefix.end()) return;
      R.free_blocks += victim->second.blocks;
      R.prefix.erase(victim);
    }
  }
  bool allocate(Replica& R, int id, long tokens) {
    ReqState& s = st_[id];
    long need = (tokens + bs_ - 1) / bs_ - s.blocks - s.prefix_blocks;
    if (need <= 0) return true;
    if (R.free_blocks < need) evict_prefixes(R, need);
    if (R.free_blocks < need) return false;
    R.free_blocks -= need;
    s.blocks += need;
    return true;
  }
  void release(Replica& R, int id) {
    ReqState& s = st_[id];
    R.free_blocks += s.blocks;
    s.blocks = 0;
    if (s.prefix_blocks > 0) {
      auto it = R.prefix.find(reqs_[id].prefix_id);
      if (it != R.prefix.end()) it->second.refs--;
      s.prefix_blocks = 0;
    }
  }
  void preempt(Replica& R, int id, double& extra) {
    R.running.erase(std::find(R.running.begin(), R.running.end(), id));
    ReqState& s = st_[id];
    if (o_.cfg.preempt_swap) {
      extra += cost_.swap_time(static_cast<double>(s.computed));
      s.swapped = true;
    } else {
      s.computed = 0;  // recompute prompt + generated tokens when readmitted
    }
    release(R, id);
    R.waiting.push_front(id);
    rec_[id].preemptions++;
    preemptions_++;
  }

  // ---- prefix cache
  void prefix_lookup(Replica& R, int id) {
    const Request& q = reqs_[id];
    ReqState& s = st_[id];
    if (!o_.cfg.prefix_caching || q.prefix_id < 0 || s.computed > 0 || s.swapped) return;
    auto it = R.prefix.find(q.prefix_id);
    if (it == R.prefix.end() || it->second.blocks == 0) return;
    s.prefix_blocks = it->second.blocks;
    it->second.refs++;
    it->second.last_use = core_.now_s();
    s.computed = std::min(s.prefix_blocks * bs_, known(id) - 1);
  }
  void prefix_register(Replica& R, int id) {
    const Request& q = reqs_[id];
    ReqState& s = st_[id];
    if (!o_.cfg.prefix_caching || q.prefix_id < 0 || s.prefix_blocks > 0 || R.prefix.count(q.prefix_id)) return;
    long eb = std::min(q.prefix_tokens / bs_, s.blocks);
    if (eb <= 0) return;
    R.prefix[q.prefix_id] = PrefixEntry{eb, 1, core_.now_s()};
    s.blocks -= eb;
    s.prefix_blocks = eb;
  }

  // ---- one engine step
  void schedule_running(Replica& R, long& budget, double& extra, bool& preempted) {
    for (size_t i = 0; i < R.running.size() && budget > 0;) {
      int id = R.running[i];
      if (st_[id].inflight) {
        ++i;
        continue;
      }
      long n = std::min(known(id) - st_[id].computed, budget);
      bool self = false;
      while (!allocate(R, id, st_[id].computed + n)) {
        int victim = -1;  // the most recently admitted request that is not in a step in flight
        for (auto it = R.running.rbegin(); it != R.running.rend() && victim < 0; ++it)
          if (!st_[*it].inflight) victim = *it;
        preempted = true;
        preempt(R, victim, extra);
        if (victim == id) { self = true; break; }
      }
      if (self) continue;
      R.sched.emplace_back(id, n);
      budget -= n;
      ++i;
    }
  }
  void schedule_waiting(Replica& R, long& budget, double& extra) {
    while (!R.waiting.empty() && static_cast<long>(R.running.size()) - R.inflight_seqs < max_batch_ && budget > 0) {
      int id = R.waiting.front();
      ReqState& s = st_[id];
      long before = s.computed;
      prefix_lookup(R, id);
      long n = std::min(known(id) - s.computed, budget);
      bool whole = o_.cfg.chunked_prefill || n == known(id) - s.computed;
      if (!whole || !allocate(R, id, s.computed + n)) {
        if (s.prefix_blocks > 0) {
          R.prefix[reqs_[id].prefix_id].refs--;
          s.prefix_blocks = 0;
          s.computed = before;
        }
        break;
      }
      if (s.computed > before) {
        rec_[id].prefix_hit_tokens += s.computed - before;
        prefix_hits_ += s.computed - before;
      }
      if (s.swapped) {
        extra += cost_.swap_time(static_cast<double>(s.computed));
        s.swapped = false;
      }
      R.waiting.pop_front();
      R.running.push_back(id);
      R.sched.emplace_back(id, n);
      budget -= n;
    }
  }

  StepShape shape_of(const Replica& R) const {
    StepShape sh;
    for (auto [id, n] : R.sched) {
      const ReqState& s = st_[id];
      bool completes = s.computed + n == known(id);
      if (n == 1 && s.computed == known(id) - 1 && s.generated > 0) {
        sh.decodes++;
        sh.decode_ctx_tokens += static_cast<double>(s.computed + 1);
        sh.max_decode_ctx = std::max(sh.max_decode_ctx, s.computed + 1);
      } else {
        sh.prefill_tokens += n;
        sh.prefill_attn_pairs += static_cast<double>(n) * (static_cast<double>(s.computed) + 0.5 * static_cast<double>(n + 1));
        sh.prefill_ctx_tokens += static_cast<double>(s.computed);
      }
      if (completes) sh.logits++;
    }
    return sh;
  }

  void kick_at(Replica& R, Ps t) {
    if (R.kick_pending) return;
    R.kick_pending = true;
    int rid = R.id;
    core_.at(t, [this, rid] {
      reps_[rid].kick_pending = false;
      try_step(reps_[rid]);
    });
  }

  void try_step(Replica& R) {
    if (R.inflight >= o_.cfg.dep.pp) return;
    if (core_.now() < R.stage_free) return kick_at(R, R.stage_free);
    R.sched.clear();
    long budget = budget_;
    double extra = 0;
    bool preempted = false;
    schedule_running(R, budget, extra, preempted);
    if (!preempted) schedule_waiting(R, budget, extra);  // vLLM V1: no new admissions after a preemption
    if (R.sched.empty()) {
      if ((!R.running.empty() || !R.waiting.empty()) && R.transfers == 0 && R.inflight == 0) {
        int id = !R.running.empty() ? R.running.front() : R.waiting.front();
        throw make_error("serve", "kv cache", "request of " + std::to_string(known(id)) + " tokens cannot fit in " +
                                                  std::to_string(R.total_blocks * bs_) + " KV tokens of replica " +
                                                  std::to_string(R.id));
      }
      return;
    }
    StepShape sh = shape_of(R);
    StepCost c = cost_.step(sh);
    R.inflight++;
    R.inflight_seqs += static_cast<long>(R.sched.size());
    for (auto [id, n] : R.sched) st_[id].inflight = true;
    // The step's kernels cover every layer of one TP rank: the pipeline stages split them, so the
    // replica's dynamic energy is that times the TP ranks (not times tp x pp).
    energy_dyn_ += c.energy_dyn * o_.cfg.dep.tp;
    Ps dt = std::max<Ps>(1, to_ps(c.time + extra));
    if (tl_)
      tl_->slice(R.track, sh.prefill_tokens > 0 ? (sh.decodes > 0 ? "mixed step" : "prefill step") : "decode step", "step",
                 core_.now(), core_.now() + dt,
                 {{"sequences", R.sched.size()}, {"prefill_tokens", sh.prefill_tokens}, {"decodes", sh.decodes},
                  {"cuda_graph", c.graph}});
    int rid = R.id;
    Ps start = core_.now();
    core_.after(dt, [this, rid, start, sched = std::move(R.sched)] { finish_step(reps_[rid], sched, start); });
    R.sched.clear();
    // The first pipeline stage takes the next step after its share of this one.
    R.stage_free = start + std::max<Ps>(1, dt / o_.cfg.dep.pp);
    if (o_.cfg.dep.pp > 1) kick_at(R, R.stage_free);
  }

  void finish_step(Replica& R, const std::vector<std::pair<int, long>>& sched, Ps start) {
    double now = core_.now_s();
    long batch = static_cast<long>(sched.size());
    R.inflight--;
    R.inflight_seqs -= batch;
    for (auto [id, n] : sched) st_[id].inflight = false;
    for (auto [id, n] : sched) {
      ReqState& s = st_[id];
      s.computed += n;
      if (s.computed < known(id)) continue;
      s.generated++;
      if (s.generated == 1) {
        rec_[id].first_token = now;
        prefix_register(R, id);
      }
      if (s.generated >= reqs_[id].output) finish(R, id, now);
      else if (R.role == Role::Prefill) hand_off(R, id);
    }
    double kv = R.total_blocks > 0 ? 1.0 - static_cast<double>(R.free_blocks) / static_cast<double>(R.total_blocks) : 0;
    steps_.push_back({now, static_cast<double>(batch), kv});
    starts_.push_back(to_s(start));
    step_replica_.push_back(R.id);
    if (tl_) {
      std::string p = "replica " + std::to_string(R.id) + " (" + role_name(R.role) + ")";
      tl_->counter(p, "batch", start, static_cast<double>(batch));
      tl_->counter(p, "kv_occupancy", core_.now(), kv);
    }
    try_step(R);
  }

  void finish(Replica& R, int id, double now) {
    rec_[id].finish = now;
    release(R, id);
    R.running.erase(std::find(R.running.begin(), R.running.end(), id));
    R.outstanding--;
  }

  // Disaggregated: the prompt's KV goes to a decode replica, one flow per GPU pair on the fabric.
  void hand_off(Replica& P, int id) {
    P.running.erase(std::find(P.running.begin(), P.running.end(), id));
    P.outstanding--;
    int d = pick(Role::Decode);
    rec_[id].decode_replica = d;
    reps_[d].outstanding++;
    int pairs = o_.cfg.dep.gpus_per_replica();
    double bytes = cost_.kv_transfer_bytes(reqs_[id].prompt) / pairs;
    auto left = std::make_shared<int>(pairs);
    int pid = P.id;
    P.transfers++;
    Ps t0 = core_.now();
    for (int g = 0; g < pairs; ++g) {
      coll::CollectiveSpec spec;
      spec.op = coll::Op::SendRecv;
      spec.bytes = bytes;
      spec.dtype = Dtype::BF16;
      spec.ranks = {P.first_gpu + g, reps_[d].first_gpu + g};
      coll::launch_collective(*fabric_, spec, [this, left, pid, d, id, t0](const coll::CollectiveResult&) {
        if (--*left > 0) return;
        Replica& P2 = reps_[pid];
        P2.transfers--;
        release(P2, id);  // private blocks and any prefix-cache reference stay with the prefill replica
        if (tl_) tl_->slice(reps_[d].track, "kv in", "kv_transfer", t0, core_.now(), {{"request", id}});
        reps_[d].waiting.push_back(id);
        try_step(reps_[d]);
        try_step(P2);
      });
    }
  }
};

topo::System load_serving_system(const ServeOptions& o, int gpus) {
  topo::System sys = topo::load_system(o.system, o.nodes, o.sys_overrides);
  if (sys.topo.num_gpus() >= gpus) return sys;
  int per_node = std::max(1, sys.raw.contains("topology") ? sys.raw["topology"].value("gpus_per_node", 0) : 0);
  bool parametric = sys.raw.contains("topology") && sys.raw["topology"].value("type", "") == "nvswitch";
  if (o.nodes == 0 && parametric) {  // (the nodes the deployment needs: a bad count is its --replicas')
    topo::SystemSource from;
    from.nodes = "--replicas: " + std::to_string(o.cfg.dep.replicas) + " (" + std::to_string(gpus) + " GPUs, replicas x tp x pp) on nodes";
    return topo::load_system(o.system, (gpus + per_node - 1) / per_node, o.sys_overrides, from);
  }
  throw make_error("--system", o.system, "has " + std::to_string(sys.topo.num_gpus()) + " GPUs; the deployment needs " +
                                             std::to_string(gpus) + " (replicas x tp x pp)");
}

void validate(const ServeOptions& o, const ModelSpec& m) {
  const Deployment& d = o.cfg.dep;
  auto pos = [](const char* flag, long v) {
    if (v < 1) throw make_error(flag, std::to_string(v), "must be at least 1");
  };
  pos("--tp", d.tp);
  pos("--pp", d.pp);
  pos("--ep", d.ep);
  pos("--replicas", d.replicas);
  if (m.heads % d.tp) throw make_error("--tp", std::to_string(d.tp), "must divide the model's heads (" + std::to_string(m.heads) + ")");
  if (m.layers % d.pp) throw make_error("--pp", std::to_string(d.pp), "must divide the model's layers (" + std::to_string(m.layers) + ")");
  if (d.ep > 1 && (!m.moe() || d.tp % d.ep || m.experts % d.ep))
    throw make_error("--ep", std::to_string(d.ep), "needs an MoE model, must divide --tp and the experts (EP shards experts over the TP ranks)");
  if (d.disaggregated() && d.decode_replicas < 1) throw make_error("--disagg", "", "needs at least one decode replica (P:D)");
}

}  // namespace

std::vector<Request> make_requests(const ServeOptions& o) {
  ModelSpec m = load_model(o.model);
  std::vector<Request> reqs = o.trace.empty() ? synth_requests(o.synth) : load_requests(o.trace);
  long ctx = o.cfg.max_model_len > 0 ? o.cfg.max_model_len : m.seq;
  std::string where = o.trace.empty() ? "--prompt/--output" : o.trace;
  for (size_t i = 0; i < reqs.size(); ++i)
    if (reqs[i].prompt + reqs[i].output > ctx)
      throw make_error(o.trace.empty() ? where : where + ": request " + std::to_string(i + 1), "prompt_tokens",
                       std::to_string(reqs[i].prompt) + " + output_tokens " + std::to_string(reqs[i].output) +
                           " exceed the context of " + std::to_string(ctx) + " tokens (" + m.name + " seq, or --max-model-len)");
  return reqs;
}

namespace {

void check_requests_fit(const ServeOptions& o, const ServeResult& res, const std::vector<Request>& reqs) {
  long longest = 0;
  for (auto& r : reqs) longest = std::max(longest, r.prompt + r.output);
  if (longest > res.memory.kv_tokens())
    throw make_error(o.trace.empty() ? "--prompt/--output" : o.trace, "prompt_tokens",
                     "a request of " + std::to_string(longest) + " tokens does not fit in the KV cache (" +
                         std::to_string(res.memory.kv_tokens()) + " tokens per replica)");
  if (!o.cfg.chunked_prefill)
    for (auto& r : reqs)
      if (r.prompt + r.output > static_cast<long>(o.cfg.p("token_budget")))
        throw make_error("--no-chunked-prefill", "token_budget", "a request of " + std::to_string(r.prompt + r.output) +
                                                                     " tokens exceeds the token budget; raise it or chunk prefills");
}

// Percentiles, throughput, goodput; returns the output tokens.
double summarize_latency(const ServeOptions& o, const std::vector<Request>& reqs, ServeResult& res) {
  std::vector<double> ttft, tpot, e2e;
  double first = reqs.front().arrival, last = first, out_tok = 0, all_tok = 0;
  long good = 0;
  for (auto& r : res.requests) {
    if (r.finish < 0) throw Error("serve: internal: a request never finished");
    ttft.push_back(r.ttft());
    if (r.req.output > 1) tpot.push_back(r.tpot());
    e2e.push_back(r.e2e());
    last = std::max(last, r.finish);
    out_tok += static_cast<double>(r.req.output);
    all_tok += static_cast<double>(r.req.output + r.req.prompt);
    good += (o.slo_ttft <= 0 || r.ttft() <= o.slo_ttft) && (o.slo_tpot <= 0 || r.tpot() <= o.slo_tpot);
  }
  res.ttft = percentiles(ttft);
  res.tpot = percentiles(tpot);
  res.e2e = percentiles(e2e);
  res.makespan_s = std::max(1e-12, last - first);
  res.output_tokens_per_s = out_tok / res.makespan_s;
  res.total_tokens_per_s = all_tok / res.makespan_s;
  res.requests_per_s = static_cast<double>(reqs.size()) / res.makespan_s;
  res.slo_attainment = static_cast<double>(good) / static_cast<double>(reqs.size());
  res.goodput_rps = static_cast<double>(good) / res.makespan_s;
  return out_tok;
}

// Batch and KV occupancy over time (time-weighted, 200 buckets), their means and the peak.
void summarize_timeseries(const std::vector<ServeResult::Sample>& steps, const std::vector<double>& starts, double first,
                          int replicas, ServeResult& res) {
  const int nb = 200;
  double width = res.makespan_s / nb;
  std::vector<double> bsum(nb, 0), ksum(nb, 0);
  double bw_total = 0, busy_total = 0, kv_total = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    double a = starts[i], b = steps[i].t, d = b - a;
    const auto& s = steps[i];
    bw_total += s.batch * d;
    busy_total += d;
    kv_total += s.kv * d;
    res.peak_kv_occupancy = std::max(res.peak_kv_occupancy, s.kv);
    for (int k = std::max(0, static_cast<int>((a - first) / width)); k < nb && first + k * width < b; ++k) {
      double ov = std::min(b, first + (k + 1) * width) - std::max(a, first + k * width);
      if (ov <= 0) continue;
      bsum[k] += s.batch * ov / width;
      ksum[k] += s.kv * ov / width / replicas;
    }
  }
  res.mean_batch = busy_total > 0 ? bw_total / busy_total : 0;
  res.mean_kv_occupancy = busy_total > 0 ? kv_total / busy_total : 0;
  for (int k = 0; k < nb; ++k) res.timeseries.push_back({first + (k + 0.5) * width, bsum[k], ksum[k]});
}

// Breakdowns: a prefill of the mean prompt (o.breakdown_prompts of them), a decode at the mean batch.
void representative_steps(const ServeOptions& o, const std::vector<Request>& reqs, const CostModel& cost, ServeResult& res) {
  double mp = 0, mo = 0;
  for (auto& r : reqs) mp += static_cast<double>(r.prompt), mo += static_cast<double>(r.output);
  mp /= static_cast<double>(reqs.size());
  mo /= static_cast<double>(reqs.size());
  StepShape ps;
  long budget = static_cast<long>(o.cfg.p("token_budget"));
  long each = std::max(1L, std::min(static_cast<long>(std::lround(mp)), budget));
  long n = std::max(1L, std::min(o.breakdown_prompts, budget / each));
  ps.prefill_tokens = n * each;
  ps.prefill_attn_pairs = static_cast<double>(n) * 0.5 * static_cast<double>(each) * static_cast<double>(each + 1);
  ps.logits = n;
  res.prefill_step = cost.step(ps, true);
  StepShape ds;
  ds.decodes = std::max(1L, static_cast<long>(std::lround(res.mean_batch)));
  ds.decode_ctx_tokens = static_cast<double>(ds.decodes) * (mp + mo / 2);
  ds.logits = ds.decodes;
  res.decode_step = cost.step(ds, true);
}

}  // namespace

ServeResult run_serving(const ServeOptions& o, const std::vector<Request>& reqs) {
  auto wall0 = std::chrono::steady_clock::now();
  ServeResult res;
  res.model = load_model(o.model);
  validate(o, res.model);
  topo::System sys = load_serving_system(o, o.cfg.dep.total_replicas() * o.cfg.dep.gpus_per_replica());
  Accelerator hw = load_accelerator(o.hw.empty() ? sys.accelerator : o.hw, o.hw_overrides);
  res.gpu = hw.name;
  res.system = sys.name;
  res.cfg = o.cfg;
  CostModel cost(res.model, hw, res.cfg, &sys);
  res.memory = cost.memory_plan(res.model.source_path.empty() ? o.model : res.model.source_path);
  check_requests_fit(o, res, reqs);
  auto core = make_engine(o.engine);
  std::unique_ptr<Timeline> tl = o.timeline_path.empty() ? nullptr : std::make_unique<Timeline>();
  Sim sim(o, sys, cost, res.memory, reqs, *core, tl.get());
  sim.run();
  res.events = core->events_processed();
  res.requests = std::move(sim.rec_);
  res.preemptions = sim.preemptions_;
  res.prefix_hit_tokens = sim.prefix_hits_;
  res.steps = static_cast<long>(sim.steps_.size());
  double out_tok = summarize_latency(o, reqs, res);
  // Energy: every GPU of the deployment idles all along; steps add the dynamic range.
  int gpus = o.cfg.dep.total_replicas() * o.cfg.dep.gpus_per_replica();
  res.energy_j = hw.p("power_idle") * res.makespan_s * gpus + (hw.p("power_tdp") - hw.p("power_idle")) * sim.energy_dyn_;
  res.energy_per_token_j = res.energy_j / out_tok;
  summarize_timeseries(sim.steps_, sim.starts_, reqs.front().arrival, o.cfg.dep.total_replicas(), res);
  representative_steps(o, reqs, cost, res);
  if (tl) tl->write(o.timeline_path);
  res.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return res;
}

nlohmann::json ServeResult::to_json() const {
  nlohmann::json j;
  j["model"] = model.name;
  j["gpu"] = gpu;
  j["system"] = system;
  const Deployment& d = cfg.dep;
  j["deployment"] = {{"tp", d.tp}, {"pp", d.pp}, {"ep", d.ep}, {"replicas", d.total_replicas()},
                     {"prefill_replicas", d.prefill_replicas}, {"decode_replicas", d.decode_replicas},
                     {"gpus", d.total_replicas() * d.gpus_per_replica()}, {"precision", precision_name(cfg.precision)},
                     {"kv_dtype", dtype_name(cfg.kv_dtype)}};
  j["memory_per_gpu"] = memory.to_json();
  j["requests"] = requests.size();
  j["ttft_ms"] = ttft.to_json_ms();
  j["tpot_ms"] = tpot.to_json_ms();
  j["e2e_ms"] = e2e.to_json_ms();
  j["makespan_s"] = makespan_s;
  j["output_tokens_per_s"] = output_tokens_per_s;
  j["total_tokens_per_s"] = total_tokens_per_s;
  j["requests_per_s"] = requests_per_s;
  j["slo_attainment"] = slo_attainment;
  j["goodput_rps"] = goodput_rps;
  j["energy_j"] = energy_j;
  j["energy_per_output_token_j"] = energy_per_token_j;
  j["steps"] = steps;
  j["preemptions"] = preemptions;
  j["prefix_hit_tokens"] = prefix_hit_tokens;
  j["mean_batch"] = mean_batch;
  j["mean_kv_occupancy"] = mean_kv_occupancy;
  j["peak_kv_occupancy"] = peak_kv_occupancy;
  nlohmann::json ts = nlohmann::json::array();
  for (auto& s : timeseries) ts.push_back({{"t_s", s.t}, {"batch", s.batch}, {"kv_occupancy", s.kv}});
  j["timeseries"] = ts;
  auto ks = [](const StepCost& c) {
    nlohmann::json a = nlohmann::json::array();
    for (auto& k : c.kernels)
      a.push_back({{"name", k.name}, {"class", k.cls}, {"flops", k.flops}, {"bytes", k.bytes}, {"time_s", k.time}});
    return nlohmann::json{{"time_s", c.time}, {"device_s", c.device}, {"cuda_graph", c.graph}, {"kernels", a}};
  };
  j["prefill_step"] = ks(prefill_step);
  j["decode_step"] = ks(decode_step);
  j["simulation"] = {{"events", events}, {"wall_s", wall_s}};
  return j;
}

}  // namespace orrery::serve
