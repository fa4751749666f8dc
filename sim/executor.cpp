// The cluster executor (see executor.h): dependency tracking per rank, GPU streams, collective and
// point-to-point rendezvous, flows on the fabric, and the run's statistics.
#include "sim/executor.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>

#include "hw_models/gpu.h"
#include "sim/error.h"
#include "workloads/collective.h"

namespace orrery {

namespace {

using wg::Kind;
using wg::Node;

// A collective instance: the k-th collective of a group, as its simulated members reach it.
struct Rendezvous {
  int arrived = 0;
  Ps first = -1;
  std::vector<std::function<void()>> done;
};

class Executor {
 public:
  Executor(const wg::Workload& w, const topo::System& sys, const std::vector<RankHardware>& hw, EventCore& core,
           const ExecOptions& opt)
      : w_(w), sys_(sys), hw_(hw), core_(core), opt_(opt), fabric_(sys, core) {
    if (hw.size() != w.ranks.size()) throw Error("internal: executor needs the hardware of every simulated rank");
    for (std::size_t i = 0; i < w.ranks.size(); ++i) index_of_rank_[w.ranks[i].rank] = static_cast<int>(i);
    for (auto& g : w.ranks)
      if (phys(g.rank) >= sys.topo.num_gpus())
        throw make_error("--system", sys.name,
                         "has " + std::to_string(sys.topo.num_gpus()) + " GPUs, the workload needs " +
                             std::to_string(w.world) + " (use --nodes or a larger system)");
    for (auto& g : w.groups) {
      int n = 0;
      for (int r : g.ranks) n += is_simulated(r) ? 1 : 0;
      members_.push_back(n);
    }
    setup_ranks();
    hub_ = std::make_unique<comp::Hub>(fabric_.network(), core_);
    if (opt_.components) opt_.components(*hub_);
    comp::wire_systemc(*hub_);
    setup_link_series();  // last: nothing throws after the solver holds `this`
  }
  ~Executor() { core_.fluid().set_rate_observer(nullptr); }

  ExecResult run();

 private:
  // A graph's dependency structure, shared by the rank that owns the nodes and its replicas.
  struct Structure {
    std::vector<int> preds;                   // predecessors per node (deps + stream order)
    std::vector<std::uint32_t> succ_at;       // node k's dependents: succ[succ_at[k] .. succ_at[k+1])
    std::vector<int> succ;
  };
  struct Rank {
    const wg::RankGraph* g = nullptr;
    const std::vector<Node>* nodes = nullptr;  // its own, or the shared ones of a replica
    const Structure* st = nullptr;
    std::unique_ptr<GpuSim> gpu;
    std::vector<int> pending;                 // unfinished predecessors per node
    std::vector<Ps> issue_at;                 // Node::issue_delay_s after deps[0] completed
    std::map<int, int> coll_seen;             // group -> collectives reached so far
    std::map<std::tuple<int, int, std::int64_t>, int> p2p_seen;
    RankStats stats;
    double speed = 1;
  };

  const wg::Workload& w_;
  const topo::System& sys_;
  const std::vector<RankHardware>& hw_;
  EventCore& core_;
  ExecOptions opt_;
  coll::Fabric fabric_;
  std::vector<int> members_;  // simulated members per group
  std::vector<Rank> ranks_;
  std::map<std::size_t, std::unique_ptr<Structure>> structures_;  // by the owning rank's index
  std::map<int, int> index_of_rank_;
  std::map<std::pair<int, int>, Rendezvous> colls_;                              // (group, k)
  struct P2P {
    bool delivered = false;
    Ps recv_arrived = -1;
    std::function<void()> send_done, recv_done;
  };
  std::map<std::tuple<int, int, std::int64_t, int>, P2P> p2p_;  // (src, dst, tag, k)
  std::map<std::string, CollectiveStat> stats_;
  // stats_'s row of a collective (group, op, bytes) or of a send (group -1), found without
  // formatting its name: a step launches hundreds of thousands.
  std::map<std::tuple<int, int, double>, CollectiveStat*> stat_rows_;
  std::map<std::tuple<int, double, std::vector<int>>, double> alone_cache_;
  // A send's fluid spec by (src, dst, mirror list, bytes): every micro-batch sends the same legs
  // (with their mirrors, hundreds of replicas' routes), so they are routed and merged once.
  struct P2PSpec {
    fluid::ActivitySpec spec;
    std::size_t legs = 0;
  };
  std::map<std::tuple<int, int, int, double>, P2PSpec> p2p_specs_;
  std::size_t done_nodes_ = 0, flows_ = 0;
  std::unique_ptr<comp::Hub> hub_;
  // Utilisation of each link resource over time, (t, used / capacity) at every rate change
  // (timeline counters); is_link_: 1 link, 0 other resource, -1 not looked at yet.
  std::vector<std::vector<std::pair<Ps, double>>> link_series_;
  std::vector<signed char> is_link_;

  int phys(int r) const {
    return opt_.placement.empty() ? r : opt_.placement[static_cast<std::size_t>(r)];
  }
  std::vector<int> phys(const std::vector<int>& rs) const {
    std::vector<int> out;
    for (int r : rs) out.push_back(phys(r));
    return out;
  }
  bool is_simulated(int r) const { return index_of_rank_.count(r) > 0; }
  const Structure& structure(std::size_t owner);
  void setup_ranks();
  std::function<void()> host_finish(int ri, int ni);
  void ready(int ri, int ni);
  void complete(int ri, int ni);
  void arrive_collective(int ri, int ni, std::function<void()> done);
  void launch_collective(int gid, int k, const Node& n, int repeat_left, Ps launch);
  void arrive_p2p(int ri, int ni, std::function<void()> done);
  const P2PSpec& p2p_spec(int src, int dst, const Node& n);  // built on a pair's first send
  void finish_p2p(const std::tuple<int, int, std::int64_t, int>& key);
  CollectiveStat& stat_row(int gid, coll::Op op, double bytes);
  double alone_time(const coll::CollectiveSpec& spec);
  void deadlock_error() const;
  std::vector<LinkStat> hottest_links(double makespan);
  void setup_link_series();
  void record_rate(double now, fluid::ResourceId r, double used);
  void write_link_counters(double makespan);
};

const Executor::Structure& Executor::structure(std::size_t owner) {
  auto& slot = structures_[owner];
  if (slot) return *slot;
  slot = std::make_unique<Structure>();
  Structure& S = *slot;
  const auto& nodes = w_.ranks[owner].nodes;
  // Each node's distinct predecessors (deps + the previous node of its stream), flattened; then
  // the dependents of every node as one compressed array (two passes: count, then place in
  // node order), with no per-node container (a million-kernel capture has millions of nodes).
  std::vector<int> flat, small;
  std::vector<std::uint32_t> flat_at{0};
  flat_at.reserve(nodes.size() + 1);
  S.preds.assign(nodes.size(), 0);
  std::map<int, int> last_on_stream;
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    small.assign(nodes[k].deps.begin(), nodes[k].deps.end());
    auto it = last_on_stream.find(nodes[k].stream);
    if (it != last_on_stream.end()) small.push_back(it->second);
    last_on_stream[nodes[k].stream] = static_cast<int>(k);
    std::sort(small.begin(), small.end());
    small.erase(std::unique(small.begin(), small.end()), small.end());
    flat.insert(flat.end(), small.begin(), small.end());
    flat_at.push_back(static_cast<std::uint32_t>(flat.size()));
    S.preds[k] = static_cast<int>(small.size());
  }
  S.succ_at.assign(nodes.size() + 1, 0);
  for (int p : flat) ++S.succ_at[static_cast<std::size_t>(p) + 1];
  for (std::size_t k = 0; k < nodes.size(); ++k) S.succ_at[k + 1] += S.succ_at[k];
  S.succ.assign(flat.size(), 0);
  std::vector<std::uint32_t> fill(S.succ_at.begin(), S.succ_at.end() - 1);
  for (std::size_t k = 0; k < nodes.size(); ++k)
    for (std::uint32_t i = flat_at[k]; i < flat_at[k + 1]; ++i) S.succ[fill[static_cast<std::size_t>(flat[i])]++] = static_cast<int>(k);
  return S;
}

void Executor::setup_ranks() {
  ranks_.resize(w_.ranks.size());
  for (std::size_t i = 0; i < w_.ranks.size(); ++i) {
    Rank& R = ranks_[i];
    R.g = &w_.ranks[i];
    R.nodes = &w_.nodes_of(i);
    R.speed = hw_[i].speed;
    if (!(R.speed > 0) || !std::isfinite(R.speed))
      throw make_error("--gpu-speed", std::to_string(R.g->rank), "the speed factor must be a positive number");
    R.stats.rank = R.g->rank;
    R.gpu = std::make_unique<GpuSim>(core_, *hw_[i].hw, R.g->rank, opt_.timeline);
    net::GpuResources res = fabric_.network().gpu(phys(R.g->rank));
    const net::GpuSpec& gs = fabric_.network().gpu_spec();
    R.gpu->adopt_resources(res.sm, gs.sm_count, res.hbm, gs.hbm_bandwidth);
    R.st = &structure(R.g->copy_of >= 0 ? static_cast<std::size_t>(R.g->copy_of) : i);
    R.pending = R.st->preds;
    R.issue_at.assign(R.nodes->size(), 0);
  }
}

// Completion of a node that holds no GPU stream (reported to ExecOptions::node_done when set).
std::function<void()> Executor::host_finish(int ri, int ni) {
  if (!opt_.node_done) return [this, ri, ni] { complete(ri, ni); };
  return [this, ri, ni, t0 = core_.now()] {
    opt_.node_done(static_cast<std::size_t>(ri), ni, t0, core_.now());
    complete(ri, ni);
  };
}

void Executor::ready(int ri, int ni) {
  Rank& R = ranks_[static_cast<std::size_t>(ri)];
  const Node& n = (*R.nodes)[static_cast<std::size_t>(ni)];
  switch (n.kind) {
    case Kind::Delay:
      core_.after(to_ps(n.time_s), host_finish(ri, ni));
      return;
    case Kind::Alloc:
    case Kind::Free:
      core_.after(0, host_finish(ri, ni));
      return;
    case Kind::Collective:
      if (n.stream < 0) return arrive_collective(ri, ni, host_finish(ri, ni));  // host-side (CPU collective)
      break;
    case Kind::Send:
    case Kind::Recv:
      if (n.stream < 0) return arrive_p2p(ri, ni, host_finish(ri, ni));
      break;
    default: break;
  }
  DeviceWork d;
  d.name = n.name;
  d.cat = n.cls;
  if (n.kind == Kind::Compute) {
    d.standalone_s = n.time_s / R.speed;
    d.sm_share = n.sm_share;
    d.hbm_share = n.hbm_share;
    d.h2d_share = n.h2d_share;
    d.d2h_share = n.d2h_share;
    d.graph_node = n.graph_node;
  } else if (n.kind == Kind::Collective) {
    d.custom = [this, ri, ni](std::function<void()> done) { arrive_collective(ri, ni, std::move(done)); };
  } else {
    d.custom = [this, ri, ni](std::function<void()> done) { arrive_p2p(ri, ni, std::move(done)); };
  }
  if (opt_.node_args && opt_.timeline) d.args = opt_.node_args(static_cast<std::size_t>(ri), ni);
  d.on_start_end = [this, ri, ni](Ps t0, Ps t1) {
    Rank& Rr = ranks_[static_cast<std::size_t>(ri)];
    const Node& nn = (*Rr.nodes)[static_cast<std::size_t>(ni)];
    double dt = to_s(t1 - t0);
    Rr.stats.busy_by_class[nn.cls] += dt;
    Rr.stats.stream_busy_s[nn.stream] += dt;
    Rr.stats.stream_end_s[nn.stream] = std::max(Rr.stats.stream_end_s[nn.stream], to_s(t1));
    if (opt_.node_done) opt_.node_done(static_cast<std::size_t>(ri), ni, t0, t1);
    complete(ri, ni);
  };
  R.gpu->enqueue(n.stream, std::max(core_.now(), R.issue_at[static_cast<std::size_t>(ni)]), std::move(d));
}

void Executor::complete(int ri, int ni) {
  Rank& R = ranks_[static_cast<std::size_t>(ri)];
  ++done_nodes_;
  R.stats.end_s = std::max(R.stats.end_s, core_.now_s());
  const Structure& S = *R.st;
  for (std::uint32_t j = S.succ_at[static_cast<std::size_t>(ni)]; j < S.succ_at[static_cast<std::size_t>(ni) + 1]; ++j) {
    int s = S.succ[j];
    const Node& sn = (*R.nodes)[static_cast<std::size_t>(s)];
    if (sn.issue_delay_s > 0 && !sn.deps.empty() && sn.deps[0] == ni)
      R.issue_at[static_cast<std::size_t>(s)] = core_.now() + to_ps(sn.issue_delay_s);
    if (--R.pending[static_cast<std::size_t>(s)] == 0) ready(ri, s);
  }
}

void Executor::arrive_collective(int ri, int ni, std::function<void()> done) {
  Rank& R = ranks_[static_cast<std::size_t>(ri)];
  const Node& n = (*R.nodes)[static_cast<std::size_t>(ni)];
  const int gid = w_.group_of(static_cast<std::size_t>(ri), n);
  int k = R.coll_seen[gid]++;
  Rendezvous& rv = colls_[{gid, k}];
  if (rv.first < 0) rv.first = core_.now();
  rv.done.push_back(std::move(done));
  if (++rv.arrived < members_[static_cast<std::size_t>(gid)]) return;
  const wg::Group& G = w_.groups[static_cast<std::size_t>(gid)];
  CollectiveStat& st = stat_row(gid, n.op, n.bytes);
  st.group = G.name;
  st.op = coll::op_name(n.op);
  st.bytes = n.bytes;
  st.members = static_cast<int>(G.ranks.size());
  st.wait_s += to_s(core_.now() - rv.first);
  launch_collective(gid, k, n, n.repeat, core_.now());
}

void Executor::launch_collective(int gid, int k, const Node& n, int repeat_left, Ps launch) {
  const wg::Group& G = w_.groups[static_cast<std::size_t>(gid)];
  coll::CollectiveSpec spec;
  spec.op = n.op;
  spec.bytes = n.bytes;
  spec.ranks = phys(G.ranks);
  for (auto& m : G.mirrors) spec.mirrors.push_back(phys(m));
  CollectiveStat* row = &stat_row(gid, n.op, n.bytes);
  coll::launch_collective(fabric_, spec, [this, gid, k, &n, repeat_left, launch, row, spec](const coll::CollectiveResult& r) {
    CollectiveStat& st = *row;
    st.algorithm = coll::algo_name(r.algorithm);
    flows_ += r.flows;
    if (repeat_left > 1) {
      launch_collective(gid, k, n, repeat_left - 1, launch);
      return;
    }
    st.count += n.repeat;
    st.total_s += to_s(core_.now() - launch);
    if (opt_.collective_baseline) st.alone_s += n.repeat * alone_time(spec);
    auto it = colls_.find({gid, k});
    auto cbs = std::move(it->second.done);
    colls_.erase(it);
    for (auto& cb : cbs) cb();
  });
}

CollectiveStat& Executor::stat_row(int gid, coll::Op op, double bytes) {
  CollectiveStat*& row = stat_rows_[std::make_tuple(gid, static_cast<int>(op), bytes)];
  if (row) return *row;
  std::string key = gid < 0 ? "p2p send_recv" : w_.groups[static_cast<std::size_t>(gid)].name + " " + coll::op_name(op);
  row = &stats_[key + " " + format_bytes(bytes)];
  return *row;
}

double Executor::alone_time(const coll::CollectiveSpec& spec0) {
  coll::CollectiveSpec spec = spec0;
  spec.mirrors.clear();
  auto key = std::make_tuple(static_cast<int>(spec.op), spec.bytes, spec.ranks);
  auto it = alone_cache_.find(key);
  if (it != alone_cache_.end()) return it->second;
  double t = 0;
  if (alone_cache_.size() < 4096) t = coll::simulate_collective(sys_, spec).time_s;
  alone_cache_.emplace(key, t);
  return t;
}

const Executor::P2PSpec& Executor::p2p_spec(int src, int dst, const Node& n) {
  auto [it, fresh] = p2p_specs_.try_emplace(std::make_tuple(src, dst, n.mirror_pairs, n.bytes));
  if (!fresh) return it->second;
  net::Coupled c;
  auto add_leg = [&](int a, int b) {
    net::Leg l;
    l.src = sys_.topo.gpus[static_cast<std::size_t>(phys(a))];
    l.dst = sys_.topo.gpus[static_cast<std::size_t>(phys(b))];
    l.bytes = n.bytes;
    l.hash = topo::mix_hash(static_cast<std::uint64_t>(a), static_cast<std::uint64_t>(b) + 0x9e37);
    c.legs.push_back(l);
  };
  add_leg(src, dst);
  if (n.mirror_pairs >= 0)
    for (auto& [a, b] : w_.p2p_mirrors[static_cast<std::size_t>(n.mirror_pairs)]) add_leg(a, b);
  it->second.legs = c.legs.size();
  it->second.spec = fabric_.network().coupled_spec(c);
  return it->second;
}

// Point to point is eager: the send's flow starts when the send is reached (the receiver's
// buffer is assumed posted, as Megatron's batched isend/irecv pairs ensure), and the receive
// completes once it is reached and the data has arrived.
void Executor::arrive_p2p(int ri, int ni, std::function<void()> done) {
  Rank& R = ranks_[static_cast<std::size_t>(ri)];
  const Node& n = (*R.nodes)[static_cast<std::size_t>(ni)];
  bool send = n.kind == Kind::Send;
  int src = send ? R.g->rank : n.peer, dst = send ? n.peer : R.g->rank;
  auto base = std::make_tuple(src, dst, n.tag);
  int k = R.p2p_seen[base]++;
  auto key = std::make_tuple(src, dst, n.tag, k);
  P2P& x = p2p_[key];
  if (!send) {
    x.recv_arrived = core_.now();
    x.recv_done = std::move(done);
    if (x.delivered) finish_p2p(key);
    return;
  }
  x.send_done = std::move(done);
  const P2PSpec& ps = p2p_spec(src, dst, n);
  flows_ += ps.legs;
  CollectiveStat& st = stat_row(-1, coll::Op::SendRecv, n.bytes);
  st.group = n.cls.empty() ? "p2p" : n.cls;
  st.op = "send_recv";
  st.algorithm = "P2P";
  st.bytes = n.bytes;
  st.members = 2;
  Ps launch = core_.now();
  double bytes = n.bytes;
  fabric_.network().start_spec(ps.spec, 0.0, [this, key, row = &st, launch, bytes, src, dst] {
    CollectiveStat& st2 = *row;
    st2.count += 1;
    st2.total_s += to_s(core_.now() - launch);
    if (opt_.collective_baseline) {
      coll::CollectiveSpec spec;
      spec.op = coll::Op::SendRecv;
      spec.bytes = bytes;
      spec.ranks = {phys(src), phys(dst)};
      st2.alone_s += alone_time(spec);
    }
    P2P& y = p2p_[key];
    y.delivered = true;
    auto sd = std::move(y.send_done);
    if (y.recv_done) finish_p2p(key);
    if (sd) sd();
  });
}

void Executor::finish_p2p(const std::tuple<int, int, std::int64_t, int>& key) {
  auto it = p2p_.find(key);
  auto cb = std::move(it->second.recv_done);
  p2p_.erase(it);
  if (cb) cb();
}

void Executor::deadlock_error() const {
  for (auto& [key, rv] : colls_) {
    const wg::Group& G = w_.groups[static_cast<std::size_t>(key.first)];
    throw Error("collective #" + std::to_string(key.second) + " of group " + G.name + " (" +
                std::to_string(G.ranks.size()) + " ranks): only " + std::to_string(rv.arrived) + " of " +
                std::to_string(members_[static_cast<std::size_t>(key.first)]) +
                " simulated members reached it (mismatched collectives or a dependency cycle)");
  }
  for (auto& [key, x] : p2p_)
    throw Error("send " + std::to_string(std::get<0>(key)) + " -> " + std::to_string(std::get<1>(key)) + " tag " +
                std::to_string(std::get<2>(key)) + (x.recv_done ? ": the receive never got its send" : ": nothing received it"));
  for (auto& R : ranks_)
    for (std::size_t k = 0; k < R.pending.size(); ++k)
      if (R.pending[k] > 0)
        throw Error("rank " + std::to_string(R.g->rank) + " node " + std::to_string(k) + " (" + (*R.nodes)[k].name +
                    "): never became ready (deadlock)");
  throw Error("internal: the workload did not complete");
}

std::vector<LinkStat> Executor::hottest_links(double makespan) {
  std::vector<LinkStat> out;
  const auto& t = sys_.topo;
  for (std::size_t l = 0; l < t.links.size(); ++l) {
    double b = fabric_.network().link_bytes(static_cast<int>(l));
    if (b <= 0) continue;
    const topo::Link& L = t.links[l];
    LinkStat s;
    s.name = t.vertex(L.src).name + "->" + t.vertex(L.dst).name;
    s.type = L.type;
    s.bytes = b;
    s.utilization = makespan > 0 ? b / (L.bandwidth * makespan) : 0;
    out.push_back(s);
  }
  std::stable_sort(out.begin(), out.end(), [](const LinkStat& a, const LinkStat& b) { return a.utilization > b.utilization; });
  if (static_cast<int>(out.size()) > opt_.hottest_links) out.resize(static_cast<std::size_t>(opt_.hottest_links));
  return out;
}

// Link-utilisation counters: the fluid solver reports each resource's usage after every solve;
// links' changes are kept, and the hottest links' series go to the timeline at the end.
void Executor::setup_link_series() {
  if (!opt_.timeline || opt_.timeline->link_counters <= 0) return;
  core_.fluid().set_rate_observer([this](double now, fluid::ResourceId r, double used) { record_rate(now, r, used); });
}

void Executor::record_rate(double now, fluid::ResourceId r, double used) {
  auto i = static_cast<std::size_t>(r);
  if (is_link_.size() <= i) {
    is_link_.resize(i + 1, -1);
    link_series_.resize(i + 1);
  }
  fluid::Solver& s = core_.fluid();
  if (is_link_[i] < 0) is_link_[i] = s.resource_name(r).find("->") != std::string::npos ? 1 : 0;
  if (!is_link_[i]) return;
  auto& v = link_series_[i];
  Ps t = to_ps(now);
  double u = std::clamp(used / s.capacity(r), 0.0, 1.0);
  if (!v.empty() && v.back().first == t) v.pop_back();
  if (!v.empty() && std::abs(v.back().second - u) <= 1e-9) return;
  v.emplace_back(t, u);
}

void Executor::write_link_counters(double makespan) {
  if (!opt_.timeline || opt_.timeline->link_counters <= 0) return;
  const auto& t = sys_.topo;
  std::vector<std::pair<double, int>> by_util;  // (average utilisation, link)
  for (std::size_t l = 0; l < t.links.size(); ++l) {
    double b = fabric_.network().link_bytes(static_cast<int>(l));
    if (b > 0 && makespan > 0) by_util.emplace_back(b / (t.links[l].bandwidth * makespan), static_cast<int>(l));
  }
  std::stable_sort(by_util.begin(), by_util.end(), [](auto& a, auto& b) { return a.first > b.first; });
  if (by_util.size() > static_cast<std::size_t>(opt_.timeline->link_counters))
    by_util.resize(static_cast<std::size_t>(opt_.timeline->link_counters));
  for (auto& [avg, l] : by_util) {
    const topo::Link& L = t.links[static_cast<std::size_t>(l)];
    std::string name = t.vertex(L.src).name + "->" + t.vertex(L.dst).name;
    auto r = static_cast<std::size_t>(fabric_.network().link_resource(l));
    if (r >= link_series_.size()) continue;
    for (auto& [ts, u] : link_series_[r]) opt_.timeline->counter("link utilisation", name, ts, u);
  }
}

ExecResult Executor::run() {
  auto wall0 = std::chrono::steady_clock::now();
  std::uint64_t ev0 = core_.events_processed();
  for (std::size_t i = 0; i < ranks_.size(); ++i)
    for (std::size_t k = 0; k < ranks_[i].pending.size(); ++k)
      if (ranks_[i].pending[k] == 0) {
        int ri = static_cast<int>(i), ni = static_cast<int>(k);
        core_.at(0, [this, ri, ni] { ready(ri, ni); });
      }
  core_.run();
  if (done_nodes_ != w_.node_count()) deadlock_error();
  ExecResult r;
  for (auto& R : ranks_) {
    R.stats.gpu_busy_s = R.gpu->busy_s();
    r.ranks.push_back(R.stats);
    r.makespan_s = std::max(r.makespan_s, R.stats.end_s);
  }
  for (auto& [k, s] : stats_) r.collectives.push_back(s);
  std::stable_sort(r.collectives.begin(), r.collectives.end(),
                   [](const CollectiveStat& a, const CollectiveStat& b) { return a.total_s > b.total_s; });
  r.hottest_links = hottest_links(r.makespan_s);
  write_link_counters(r.makespan_s);
  r.events = core_.events_processed() - ev0;
  r.nodes = done_nodes_;
  r.flows = flows_;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return r;
}

}  // namespace

ExecResult execute(const wg::Workload& w, const topo::System& sys, const std::vector<RankHardware>& hw,
                   EventCore& core, const ExecOptions& opt) {
  Executor ex(w, sys, hw, core, opt);
  return ex.run();
}

nlohmann::json ExecResult::to_json() const {
  nlohmann::json j;
  j["makespan_s"] = makespan_s;
  j["simulated_ranks"] = ranks.size();
  j["nodes"] = nodes;
  j["flows"] = flows;
  j["events"] = events;
  nlohmann::json cs = nlohmann::json::array();
  for (auto& c : collectives)
    cs.push_back({{"group", c.group}, {"op", c.op}, {"algorithm", c.algorithm}, {"bytes", c.bytes},
                  {"members", c.members}, {"count", c.count}, {"total_s", c.total_s}, {"alone_s", c.alone_s},
                  {"queueing_s", c.queueing_s()}, {"wait_s", c.wait_s}});
  j["collectives"] = cs;
  nlohmann::json ls = nlohmann::json::array();
  for (auto& l : hottest_links)
    ls.push_back({{"link", l.name}, {"type", l.type}, {"bytes", l.bytes}, {"utilization", l.utilization}});
  j["hottest_links"] = ls;
  nlohmann::json rs = nlohmann::json::array();
  for (auto& r : ranks) rs.push_back({{"rank", r.rank}, {"end_s", r.end_s}, {"busy_by_class_s", r.busy_by_class}});
  j["ranks"] = rs;
  return j;
}

std::string ExecResult::text() const {
  std::ostringstream o;
  char buf[256];
  o << "collectives (simulated on the fabric; alone = the same collective on an idle fabric):\n";
  std::snprintf(buf, sizeof buf, "  %-6s %-15s %10s %6s %8s %-9s %11s %11s %11s %11s\n", "group", "op", "size", "ranks",
                "count", "algo", "total", "alone", "queueing", "skew wait");
  o << buf;
  int shown = 0;
  for (auto& c : collectives) {
    if (++shown > 12) break;
    std::snprintf(buf, sizeof buf, "  %-6s %-15s %10s %6d %8ld %-9s %11s %11s %11s %11s\n", c.group.c_str(), c.op.c_str(),
                  format_bytes(c.bytes).c_str(), c.members, c.count, c.algorithm.c_str(),
                  format_time(c.total_s).c_str(), c.alone_s > 0 ? format_time(c.alone_s).c_str() : "-",
                  c.alone_s > 0 ? format_time(c.queueing_s()).c_str() : "-", format_time(c.wait_s).c_str());
    o << buf;
  }
  if (!hottest_links.empty()) {
    o << "hottest links (average utilization over the step):\n";
    for (auto& l : hottest_links) {
      std::snprintf(buf, sizeof buf, "  %-40s %-7s %12s %6.1f%%\n", l.name.c_str(), l.type.c_str(),
                    format_bytes(l.bytes).c_str(), 100 * l.utilization);
      o << buf;
    }
  }
  return o.str();
}

}  // namespace orrery
