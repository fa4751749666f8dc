// The LLM training generator's per-rank workload graph: each rank's Megatron schedule (1F1B or
// interleaved), with TP/CP/EP collectives on its own groups, pipeline sends and receives between
// stages, DP gradient reductions (ZeRO 0-3), the optimizer and post-step parameter gathers.
// Kernels of one (virtual stage, micro-batch, pass) are one compute node (their summed standalone
// time); the TP/EP collectives of that pass follow it on the compute stream, one node per
// distinct collective with its repeat count, so each is paid in full on the fabric.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "sim/error.h"
#include "workloads/train.h"

namespace orrery {

namespace {

enum Streams { kCompute = 0, kSend = 1, kRecv = 2, kDP = 3, kCP = 4, kOptimizer = 5 };

// Megatron rank coordinates: TP innermost, then CP, DP, PP outermost.
struct Layout {
  int tp, cp, dp, pp;
  int rank(int s, int t, int c, int d) const { return t + tp * (c + cp * (d + dp * s)); }
};

// One pass over a chunk: compute (summed), the TP/EP collectives in order of first appearance
// with their counts, and the CP exchange.
struct Pass {
  double compute_s = 0, flops = 0, bytes = 0;
  std::vector<std::pair<const Kernel*, int>> colls;  // TP/EP kernels x repeat
  double cp_bytes = 0;
  void add(const std::vector<Kernel>& ks, double gap, long times) {
    for (auto& k : ks) {
      if (k.cls == "cp") {
        cp_bytes += times * k.bytes;
      } else if (k.comm()) {
        auto it = std::find_if(colls.begin(), colls.end(), [&](auto& x) {
          return x.first->cls == k.cls && x.first->op == k.op && x.first->bytes == k.bytes;
        });
        if (it == colls.end()) colls.push_back({&k, static_cast<int>(times)});
        else it->second += static_cast<int>(times);
      } else {
        compute_s += times * (k.time + gap);
        flops += times * k.flops;
        bytes += times * k.bytes;
      }
    }
  }
};

// One rank's graph while it is built: its coordinates and groups, the nodes so far, the DP
// reductions issued (the optimizer waits for them), the pipeline mirror sets by destination stage.
struct RankState {
  int s, t, c, d, rank;
  long m;                                      // micro-batches
  int tp_g, cp_g, ep_g, dp_g, edp_g;           // group ids (-1: none)
  double p2p_bytes;
  wg::RankGraph g;
  std::map<int, int> mirror_to;                // destination stage -> p2p mirror set
  std::vector<long> bwd_left;                  // backward passes left per chunk (ZeRO <= 1 reduce after the last)
  std::vector<std::int32_t> dp_nodes;
  std::int32_t last_compute = -1;
  std::int32_t next_gather = -1;               // ZeRO-3: the next op's parameter gather, prefetched
  std::int32_t add(wg::Node n) {
    g.nodes.push_back(std::move(n));
    return static_cast<std::int32_t>(g.nodes.size() - 1);
  }
  // Pipeline tags: (virtual stage, micro-batch, direction) identify a transfer between two ranks.
  std::int64_t tag(int vs, long mb, bool fwd) const { return (static_cast<std::int64_t>(vs) * (m + 1) + mb) * 2 + (fwd ? 0 : 1); }
};

class Builder {
 public:
  Builder(const TrainGraphInput& in) : in_(in), p_(in.plan), L_{in.plan.tp, in.plan.cp, in.plan.dp, in.plan.pp} {}
  wg::Workload build();

 private:
  const TrainGraphInput& in_;
  const TrainPlan& p_;
  Layout L_;
  wg::Workload w_;

  const LayerCosts& costs(int rank) const {
    return in_.costs[static_cast<std::size_t>(in_.cost_class.empty() ? 0 : in_.cost_class[static_cast<std::size_t>(rank)])];
  }
  Pass pass(int rank, int vs, bool fwd) const;
  // Group of the ranks varying `dim` (0 tp, 1 cp, 2 dp) around rank (s,t,c,d); `dsel` picks the
  // DP members (EP / expert-DP subgroups). With symmetry, mirrors are the group's images.
  int group(const std::string& name, int s, int t, int c, int d, int dim, int size = 0, int stride = 1);
  bool isolated(const std::vector<int>& ranks) const;
  void rank_graph(int s, int t, int c, int d);
  RankState rank_state(int s, int t, int c, int d);
  int p2p_mirror(const RankState& r, int s_to);
  std::int32_t dp_node(RankState& r, const std::string& name, coll::Op op, double bytes, int grp, std::vector<std::int32_t> deps);
  double grads(int vs, bool dense) const {
    return dense ? in_.dp_dense_params[static_cast<std::size_t>(vs)] : in_.dp_expert_params[static_cast<std::size_t>(vs)];
  }
  void reduce(RankState& r, int vs, std::int32_t after);
  void schedule_op(RankState& r, const PipelineOp& op, const PipelineOp* next);
  std::int32_t zero3_gather(RankState& r, int vs);
  std::vector<std::int32_t> pass_nodes(RankState& r, const PipelineOp& op, int vs, const std::vector<std::int32_t>& deps,
                                       std::int32_t& tail);
  void optimizer(RankState& r);
};

bool Builder::isolated(const std::vector<int>& ranks) const {
  // Traffic that stays inside one NVSwitch node touches only that node's links.
  if (!in_.node_isolated || in_.gpus_per_node <= 0) return false;
  for (int r : ranks)
    if (r / in_.gpus_per_node != ranks[0] / in_.gpus_per_node) return false;
  return true;
}

int Builder::group(const std::string& name, int s, int t, int c, int d, int dim, int size, int stride) {
  auto members = [&](int t0, int c0, int d0) {
    std::vector<int> out;
    if (dim == 0) for (int i = 0; i < L_.tp; ++i) out.push_back(L_.rank(s, i, c0, d0));
    if (dim == 1) for (int i = 0; i < L_.cp; ++i) out.push_back(L_.rank(s, t0, i, d0));
    if (dim == 3)  // DP x CP: the gradient-reduction group
      for (int d2 = 0; d2 < L_.dp; ++d2)
        for (int c2 = 0; c2 < L_.cp; ++c2) out.push_back(L_.rank(s, t0, c2, d2));
    if (dim == 2) {
      int base = size > 0 ? d0 - (stride == 1 ? d0 % size : (d0 / stride % size) * stride) : 0;
      int n = size > 0 ? size : L_.dp;
      for (int i = 0; i < n; ++i) out.push_back(L_.rank(s, t0, c0, base + i * stride));
    }
    return out;
  };
  std::vector<int> ranks = members(t, c, d);
  int id = w_.group(name, ranks);
  wg::Group& G = w_.groups[static_cast<std::size_t>(id)];
  if (!in_.symmetric || !G.mirrors.empty() || isolated(ranks)) return id;
  std::vector<int> own = ranks;
  std::sort(own.begin(), own.end());
  std::set<std::vector<int>> seen{own};
  for (int t2 = 0; t2 < L_.tp; ++t2)
    for (int c2 = 0; c2 < L_.cp; ++c2)
      for (int d2 = 0; d2 < L_.dp; ++d2) {
        std::vector<int> m = members(t2, c2, d2), key = m;
        std::sort(key.begin(), key.end());
        if (seen.insert(key).second) w_.groups[static_cast<std::size_t>(id)].mirrors.push_back(m);
      }
  return id;
}

Pass Builder::pass(int rank, int vs, bool fwd) const {
  const LayerCosts& c = costs(rank);
  const int P = p_.pp * p_.vp;
  const long lpc = std::lround(chunk_layers(in_.model, p_, vs));
  Pass x;
  if (fwd) {
    if (vs == 0) x.add(c.embed_fwd, c.kernel_gap, 1);
    x.add(c.layer_fwd, c.kernel_gap, lpc);
    if (vs == P - 1) x.add(c.head_fwd, c.kernel_gap, 1);
  } else {
    if (vs == P - 1) x.add(c.head_bwd, c.kernel_gap, 1);
    x.add(c.layer_recompute, c.kernel_gap, std::lround(recomputed_layers(in_.model, p_, vs)));
    x.add(c.layer_bwd, c.kernel_gap, lpc);
    if (vs == 0) x.add(c.embed_bwd, c.kernel_gap, 1);
  }
  // The stream adds one back-to-back gap before each node itself.
  x.compute_s = std::max(0.0, x.compute_s - c.kernel_gap);
  return x;
}

// The rank's coordinates and its groups (created in this order: tp, cp, ep, dp, expert dp).
RankState Builder::rank_state(int s, int t, int c, int d) {
  RankState r{s, t, c, d, L_.rank(s, t, c, d), p_.micro_batches(), -1, -1, -1, -1, -1, 0, {}, {}, {}, {}, -1};
  r.g.rank = r.rank;
  r.tp_g = p_.tp > 1 ? group("tp", s, t, c, d, 0) : -1;
  r.cp_g = p_.cp > 1 ? group("cp", s, t, c, d, 1) : -1;
  r.ep_g = p_.ep > 1 ? group("ep", s, t, c, d, 2, p_.ep, 1) : -1;
  r.dp_g = p_.dp * p_.cp > 1 ? group("dp", s, t, c, d, 3) : -1;
  r.edp_g = (p_.ep > 1 && p_.dp / p_.ep > 1) ? group("edp", s, t, c, d, 2, p_.dp / p_.ep, p_.ep) : -1;
  // Megatron scatter-gather: each TP rank sends 1/TP of the activation to the next stage.
  r.p2p_bytes = static_cast<double>(p_.micro_batch) * (p_.seq / p_.cp) * in_.model.hidden * 2.0 / p_.tp;
  r.bwd_left.assign(static_cast<std::size_t>(p_.vp), r.m);
  return r;
}

// With symmetry: the mirror set of this rank's sends to stage s_to (every other (t, c, d) pair
// of the two stages), -1 without symmetry or when the transfer stays inside one node.
int Builder::p2p_mirror(const RankState& r, int s_to) {
  if (!in_.symmetric) return -1;
  std::vector<std::pair<int, int>> pairs;
  for (int t2 = 0; t2 < L_.tp; ++t2)
    for (int c2 = 0; c2 < L_.cp; ++c2)
      for (int d2 = 0; d2 < L_.dp; ++d2)
        if (t2 || c2 || d2) pairs.push_back({L_.rank(r.s, t2, c2, d2), L_.rank(s_to, t2, c2, d2)});
  if (pairs.empty() || isolated({r.rank, L_.rank(s_to, r.t, r.c, r.d)})) return -1;
  w_.p2p_mirrors.push_back(std::move(pairs));
  return static_cast<int>(w_.p2p_mirrors.size()) - 1;
}

// A collective on the DP stream.
std::int32_t Builder::dp_node(RankState& r, const std::string& name, coll::Op op, double bytes, int grp,
                              std::vector<std::int32_t> deps) {
  wg::Node n;
  n.kind = wg::Kind::Collective;
  n.name = name;
  n.cls = "dp";
  n.stream = kDP;
  n.op = op;
  n.bytes = bytes;
  n.group = grp;
  n.deps = std::move(deps);
  return r.add(n);
}

// Gradient reduction of virtual stage vs after node `after`: dense over DP, experts over expert DP.
void Builder::reduce(RankState& r, int vs, std::int32_t after) {
  coll::Op op = p_.zero == 0 ? coll::Op::AllReduce : coll::Op::ReduceScatter;
  const char* nm = p_.zero == 0 ? "dp_all_reduce(grads)" : "dp_reduce_scatter(grads)";
  if (r.dp_g >= 0 && grads(vs, true) > 0) r.dp_nodes.push_back(dp_node(r, nm, op, grads(vs, true) * p_.grad_bytes(), r.dp_g, {after}));
  if (r.edp_g >= 0 && grads(vs, false) > 0)
    r.dp_nodes.push_back(dp_node(r, std::string(nm) + "[experts]", op, grads(vs, false) * p_.grad_bytes(), r.edp_g, {after}));
}

// A pass's compute node (after deps), its TP/EP collectives on the compute stream and the CP
// exchange beside them; returns the nodes a send waits for, `tail` the last on the compute stream.
std::vector<std::int32_t> Builder::pass_nodes(RankState& r, const PipelineOp& op, int vs, const std::vector<std::int32_t>& deps,
                                              std::int32_t& tail) {
  Pass x = pass(r.rank, vs, op.fwd);
  const double hbm = in_.hbm_bandwidth;
  wg::Node cn;
  cn.kind = wg::Kind::Compute;
  cn.name = std::string(op.fwd ? "forward" : "backward") + " chunk " + std::to_string(op.chunk) + " mb " + std::to_string(op.mb);
  cn.cls = "compute";
  cn.stream = kCompute;
  cn.time_s = x.compute_s;
  cn.flops = x.flops;
  cn.bytes = x.bytes;
  cn.sm_share = 1.0;
  cn.hbm_share = x.compute_s > 0 && hbm > 0 ? std::min(1.0, x.bytes / (hbm * x.compute_s)) : 0;
  cn.deps = deps;
  tail = r.add(cn);
  r.last_compute = tail;
  for (auto& [k, times] : x.colls) {
    wg::Node n;
    n.kind = wg::Kind::Collective;
    n.name = k->name;
    n.cls = k->cls;
    n.stream = kCompute;
    n.op = k->op;
    n.bytes = k->bytes;
    n.group = k->cls == "ep" ? r.ep_g : r.tp_g;
    n.repeat = times;
    if (n.group < 0) continue;
    tail = r.add(n);
  }
  std::vector<std::int32_t> ends{tail};
  if (r.cp_g >= 0 && x.cp_bytes > 0) {
    wg::Node n;
    n.kind = wg::Kind::Collective;
    n.name = "cp_kv_exchange";
    n.cls = "cp";
    n.stream = kCP;
    n.op = coll::Op::AllGather;
    n.bytes = x.cp_bytes * p_.cp / (p_.cp - 1);
    n.group = r.cp_g;
    n.deps = deps;
    ends.push_back(r.add(n));
  }
  return ends;
}

std::int32_t Builder::zero3_gather(RankState& r, int vs) {
  return dp_node(r, "zero3_param_all_gather", coll::Op::AllGather, grads(vs, true) * 2, r.dp_g, {});
}

// One op of the rank's schedule: receive its input from the neighbouring stage, (ZeRO-3) gather
// its parameters, the pass, send its output on, reduce gradients after the chunk's last backward
// (every backward with ZeRO >= 2). ZeRO-3 prefetches the next op's parameters as this op starts:
// on the FIFO DP stream that gather goes ahead of this op's reduction (the event core's order).
void Builder::schedule_op(RankState& r, const PipelineOp& op, const PipelineOp* next) {
  const int P = p_.pp * p_.vp;
  const int vs = op.chunk * p_.pp + r.s;
  std::vector<std::int32_t> deps;
  int from = op.fwd ? vs - 1 : vs + 1;
  if (from >= 0 && from < P && p_.pp > 1) {
    wg::Node rn;
    rn.kind = wg::Kind::Recv;
    rn.name = op.fwd ? "pp_recv(activations)" : "pp_recv(gradients)";
    rn.cls = "pp";
    rn.stream = kRecv;
    rn.peer = L_.rank(from % p_.pp, r.t, r.c, r.d);
    rn.bytes = r.p2p_bytes;
    rn.tag = r.tag(vs, op.mb, op.fwd);
    deps.push_back(r.add(rn));
  }
  if (p_.zero >= 3 && r.dp_g >= 0) {  // ZeRO-3: this chunk's parameters before the pass
    deps.push_back(r.next_gather >= 0 ? r.next_gather : zero3_gather(r, vs));
    r.next_gather = next ? zero3_gather(r, next->chunk * p_.pp + r.s) : -1;
  }
  std::int32_t tail = -1;
  std::vector<std::int32_t> ends = pass_nodes(r, op, vs, deps, tail);
  int to = op.fwd ? vs + 1 : vs - 1;
  if (to >= 0 && to < P && p_.pp > 1) {
    wg::Node sn;
    sn.kind = wg::Kind::Send;
    sn.name = op.fwd ? "pp_send(activations)" : "pp_send(gradients)";
    sn.cls = "pp";
    sn.stream = kSend;
    int s_to = to % p_.pp;
    sn.peer = L_.rank(s_to, r.t, r.c, r.d);
    sn.bytes = r.p2p_bytes;
    sn.tag = r.tag(to, op.mb, op.fwd);
    if (!r.mirror_to.count(s_to)) r.mirror_to[s_to] = p2p_mirror(r, s_to);
    sn.mirror_pairs = r.mirror_to[s_to];
    sn.deps = ends;
    r.add(sn);
  } else if (ends.size() > 1) {
    r.last_compute = ends.back();
  }
  if (!op.fwd) {
    if (p_.zero >= 2) reduce(r, vs, tail);
    else if (--r.bwd_left[static_cast<std::size_t>(op.chunk)] == 0) reduce(r, vs, tail);
  }
}

// Optimizer after every reduction; ZeRO-1/2 gather the updated parameters afterwards.
void Builder::optimizer(RankState& r) {
  wg::Node on;
  on.kind = wg::Kind::Compute;
  on.name = "optimizer_step";
  on.cls = "optimizer";
  on.stream = kOptimizer;
  on.time_s = in_.optimizer_s[static_cast<std::size_t>(r.s)];
  on.sm_share = 0.2;
  on.hbm_share = 1.0;
  on.deps = r.dp_nodes;
  if (r.last_compute >= 0) on.deps.push_back(r.last_compute);
  std::int32_t opt = r.add(on);
  if ((p_.zero == 1 || p_.zero == 2) && r.dp_g >= 0 && in_.post_gather_params[static_cast<std::size_t>(r.s)] > 0)
    dp_node(r, "dp_all_gather(params)", coll::Op::AllGather, in_.post_gather_params[static_cast<std::size_t>(r.s)] * 2, r.dp_g, {opt});
}

void Builder::rank_graph(int s, int t, int c, int d) {
  RankState r = rank_state(s, t, c, d);
  const std::vector<PipelineOp> order = stage_op_order(p_.pp, p_.vp, r.m, s);
  for (std::size_t k = 0; k < order.size(); ++k) schedule_op(r, order[k], k + 1 < order.size() ? &order[k + 1] : nullptr);
  optimizer(r);
  w_.ranks.push_back(std::move(r.g));
}

wg::Workload Builder::build() {
  w_.name = in_.model.name;
  w_.world = p_.gpus();
  w_.symmetric = in_.symmetric;
  for (int s = 0; s < p_.pp; ++s) {
    if (in_.symmetric) {
      rank_graph(s, 0, 0, 0);
      continue;
    }
    for (int d = 0; d < p_.dp; ++d)
      for (int c = 0; c < p_.cp; ++c)
        for (int t = 0; t < p_.tp; ++t) rank_graph(s, t, c, d);
  }
  std::stable_sort(w_.ranks.begin(), w_.ranks.end(), [](auto& a, auto& b) { return a.rank < b.rank; });
  return std::move(w_);
}

}  // namespace

wg::Workload train_workload(const TrainGraphInput& in) {
  Builder b(in);
  return b.build();
}

}  // namespace orrery
