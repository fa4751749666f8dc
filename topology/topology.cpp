#include "topology/topology.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <sstream>

#include <boost/graph/push_relabel_max_flow.hpp>

#include "sim/error.h"
#include "sim/units.h"

namespace orrery::topo {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::GPU: return "gpu";
    case Kind::NVSwitch: return "nvswitch";
    case Kind::Switch: return "switch";
    case Kind::NIC: return "nic";
  }
  return "switch";
}

std::uint64_t mix_hash(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

int Topology::add_vertex(VertexProps v) {
  auto d = boost::add_vertex(v, g);
  return static_cast<int>(d);
}

void Topology::add_cable(int a, int b, double bw, double lat, const std::string& type) {
  // (a graph's links are of type "link": not "link link")
  const std::string what = (type == "link" ? "link " : type + " link ") + vertex(a).name + " <-> " + vertex(b).name;
  if (!(bw > 0)) throw Error(name + ": " + what + ": bandwidth must be greater than zero");
  if (!std::isfinite(bw)) throw Error(name + ": " + what + ": bandwidth must be finite");
  if (!(lat >= 0)) throw Error(name + ": " + what + ": latency must not be negative");
  if (!(lat <= 1.0)) throw Error(name + ": " + what + ": latency " + format_time(lat) + " is implausible (more than 1 s per link)");
  if (a == b) throw Error(name + ": " + what + ": a link must join two different vertices");
  for (int dir = 0; dir < 2; ++dir) {
    int s = dir == 0 ? a : b, d = dir == 0 ? b : a;
    if (out_links_.size() <= static_cast<size_t>(s)) out_links_.resize(static_cast<size_t>(s) + 1);
    auto& out = out_links_[static_cast<size_t>(s)];
    auto it = std::lower_bound(out.begin(), out.end(), std::pair<int, int>{d, -1});
    if (it != out.end() && it->first == d) {
      // Parallel cables between the same pair aggregate into one link of summed bandwidth.
      links[static_cast<size_t>(it->second)].bandwidth += bw;
      continue;
    }
    Link l{s, d, bw, lat, type};
    int id = static_cast<int>(links.size());
    links.push_back(l);
    out.insert(it, {d, id});
    EdgeProps ep;
    ep.id = id;
    boost::add_edge(static_cast<size_t>(s), static_cast<size_t>(d), ep, g);
  }
}

int Topology::link_between(int a, int b) const {  // on the routing hot path: a short sorted scan
  if (a < 0 || static_cast<size_t>(a) >= out_links_.size()) return -1;
  const auto& out = out_links_[static_cast<size_t>(a)];
  auto it = std::lower_bound(out.begin(), out.end(), std::pair<int, int>{b, -1});
  return it != out.end() && it->first == b ? it->second : -1;
}

void Topology::add_hop(Route& r, int a, int b, double frac) const {
  int l = link_between(a, b);
  if (l < 0) throw Error("internal: no link " + vertex(a).name + " -> " + vertex(b).name);
  r.hops.push_back({l, frac});
}

const Topology::Bfs& Topology::distances_to(int dst, int src) const {
  auto [it, fresh] = bfs_.try_emplace(dst);
  Bfs& b = it->second;
  if (fresh) {
    b.dist.emplace(dst, 0);
    b.layer.push_back(dst);
  }
  std::vector<int> next;
  while (!b.done && !b.dist.count(src)) {  // (a layer is expanded whole: src's layer is then complete)
    next.clear();
    for (int v : b.layer) {
      const int d = b.dist.at(v) + 1;
      for (auto [e, end] = boost::in_edges(static_cast<size_t>(v), g); e != end; ++e) {
        if (!link_up(g[*e].id)) continue;
        int u = static_cast<int>(boost::source(*e, g));
        if (b.dist.emplace(u, d).second) next.push_back(u);
      }
    }
    b.layer.swap(next);
    b.done = b.layer.empty();
  }
  return b;
}

Route Topology::route_ecmp(int src, int dst, std::uint64_t h) const {
  Route r;
  const auto& dist = distances_to(dst, src).dist;
  auto hops = [&](int v) {
    auto f = dist.find(v);
    return f == dist.end() ? -1 : f->second;
  };
  if (hops(src) < 0) throw Error(name + ": no path from " + vertex(src).name + " to " + vertex(dst).name);
  int u = src;
  std::vector<int> cand;
  while (u != dst) {
    cand.clear();
    for (auto [e, end] = boost::out_edges(static_cast<size_t>(u), g); e != end; ++e) {
      if (!link_up(g[*e].id)) continue;
      int v = static_cast<int>(boost::target(*e, g));
      if (hops(v) == hops(u) - 1) cand.push_back(v);
    }
    int v = cand[mix_hash(h, static_cast<std::uint64_t>(u)) % cand.size()];
    add_hop(r, u, v, 1.0);
    r.latency += links[static_cast<size_t>(r.hops.back().link)].latency;
    if (v != dst) r.latency += vertex(v).latency;
    u = v;
  }
  r.length = static_cast<int>(r.hops.size());
  return r;
}

Route Topology::route_torus(int src, int dst, std::uint64_t h) const {
  Route r;
  const auto& dims = torus->dims;
  std::vector<int> cur(dims.size()), to(dims.size());
  auto coords = [&](int rank, std::vector<int>& c) {
    for (size_t d = 0; d < dims.size(); ++d) {
      c[d] = rank % dims[d];
      rank /= dims[d];
    }
  };
  auto rank_of = [&](const std::vector<int>& c) {
    int rank = 0;
    for (size_t d = dims.size(); d-- > 0;) rank = rank * dims[d] + c[d];
    return rank;
  };
  int rs = vertex(src).rank, rd = vertex(dst).rank;
  coords(rs, cur);
  coords(rd, to);
  for (size_t d = 0; d < dims.size(); ++d) {
    int k = dims[d];
    int fwd = ((to[d] - cur[d]) % k + k) % k;
    if (fwd == 0) continue;
    int back = k - fwd;
    int dir = fwd < back ? 1 : fwd > back ? -1 : ((mix_hash(h, d) & 1) ? 1 : -1);
    int steps = std::min(fwd, back);
    if (!torus->wrap) {  // mesh: straight along the dimension
      dir = to[d] > cur[d] ? 1 : -1;
      steps = std::abs(to[d] - cur[d]);
    }
    for (int s = 0; s < steps; ++s) {
      int a = gpus[static_cast<size_t>(rank_of(cur))];
      cur[d] = ((cur[d] + dir) % k + k) % k;
      int b = gpus[static_cast<size_t>(rank_of(cur))];
      add_hop(r, a, b, 1.0);
      r.latency += links[static_cast<size_t>(r.hops.back().link)].latency;
    }
  }
  r.length = static_cast<int>(r.hops.size());
  return r;
}

Route Topology::route_fat(int src, int dst, std::uint64_t h) const {
  const FatTree& f = *fat;
  Route r;
  auto stage_lat = [&](int link, int via) {
    r.latency += links[static_cast<size_t>(link)].latency;
    if (via >= 0) r.latency += vertex(via).latency;
  };
  // NVLink through all NVSwitch planes of a node (traffic is striped across them).
  auto nvlink = [&](int a, int b) {
    int node = vertex(a).node;
    const auto& sw = f.nvswitch[static_cast<size_t>(node)];
    for (size_t s = 0; s < sw.size(); ++s) {
      add_hop(r, a, sw[s], f.plane_fraction[s]);
      add_hop(r, sw[s], b, f.plane_fraction[s]);
    }
    stage_lat(link_between(a, sw[0]), sw[0]);
    stage_lat(link_between(sw[0], b), -1);
    r.length += 2;
  };
  auto one = [&](int a, int b, int via) {
    add_hop(r, a, b, 1.0);
    stage_lat(r.hops.back().link, via);
    r.length += 1;
  };
  auto net = [&](int ea, int eb) {
    int la = ea / f.down, lb = eb / f.down;
    int na = f.nic[static_cast<size_t>(ea)], nb = f.nic[static_cast<size_t>(eb)];
    int va = f.leaf[static_cast<size_t>(la)], vb = f.leaf[static_cast<size_t>(lb)];
    one(na, va, va);
    if (la != lb) {
      int pa = f.tiers == 3 ? la / f.pod_leaves : 0, pb = f.tiers == 3 ? lb / f.pod_leaves : 0;
      int j = static_cast<int>(mix_hash(h, 1) % static_cast<std::uint64_t>(f.up));
      int sa = f.spine[static_cast<size_t>(pa)][static_cast<size_t>(j)];
      one(va, sa, sa);
      if (pa != pb) {
        const auto& cores = f.core[static_cast<size_t>(j)];
        int c = cores[mix_hash(h, 2) % cores.size()];
        int sb = f.spine[static_cast<size_t>(pb)][static_cast<size_t>(j)];
        one(sa, c, c);
        one(c, sb, sb);
        sa = sb;
      }
      one(sa, vb, vb);
    }
    one(vb, nb, -1);
  };
  const VertexProps& A = vertex(src);
  const VertexProps& B = vertex(dst);
  if (A.kind == Kind::GPU && B.kind == Kind::GPU && A.node == B.node) {
    nvlink(src, dst);
  } else {
    int ea, eb, gb = -1;
    int cur = src;
    if (B.kind == Kind::GPU) {
      gb = dst;
      eb = f.nic_of_gpu[static_cast<size_t>(B.rank)];
    } else {
      eb = f.endpoint(B.node, B.local, nodes, gpus_per_node);
    }
    if (A.kind == Kind::GPU) {
      // PXN: leave through the NIC on the destination's rail (NVLink hop to that rail's GPU).
      int rail = B.local;
      int via = gpus[static_cast<size_t>(A.node * gpus_per_node + rail)];
      if (via != src) nvlink(src, via);
      cur = via;
      ea = f.nic_of_gpu[static_cast<size_t>(vertex(via).rank)];
      if (ea < 0 || eb < 0) throw Error(name + ": GPU without a NIC cannot reach another node");
      one(cur, f.nic[static_cast<size_t>(ea)], -1);
    } else {
      ea = f.endpoint(A.node, A.local, nodes, gpus_per_node);
    }
    net(ea, eb);
    if (gb >= 0) one(f.nic[static_cast<size_t>(eb)], gb, -1);
  }
  return r;
}

Route Topology::route(int src, int dst, std::uint64_t h) const {
  if (src == dst) return Route{};
  if (failures_ > 0) return route_ecmp(src, dst, h);  // closed forms assume an intact fabric
  switch (routing) {
    case Routing::FatTree: return route_fat(src, dst, h);
    case Routing::Torus: return route_torus(src, dst, h);
    case Routing::ECMP: break;
  }
  return route_ecmp(src, dst, h);
}

std::vector<int> Topology::element_links(const std::string& el, const std::string& flag) const {
  std::vector<int> out;
  auto vertex_named = [&](const std::string& n) {
    for (int v = 0; v < num_vertices(); ++v)
      if (vertex(v).name == n) return v;
    throw make_error(flag, el, "no vertex named '" + n + "' in " + name + " (see orrery topo --json)");
  };
  auto sep = el.find("->");
  bool both = false;
  if (sep == std::string::npos) {
    sep = el.find("--");
    both = sep != std::string::npos;
  }
  if (sep == std::string::npos) {
    int v = vertex_named(el);
    for (size_t l = 0; l < links.size(); ++l)
      if (links[l].src == v || links[l].dst == v) out.push_back(static_cast<int>(l));
    return out;
  }
  int a = vertex_named(el.substr(0, sep)), b = vertex_named(el.substr(sep + 2));
  int l = link_between(a, b);
  if (l < 0) throw make_error(flag, el, "no link between " + vertex(a).name + " and " + vertex(b).name);
  out.push_back(l);
  if (both && link_between(b, a) >= 0) out.push_back(link_between(b, a));
  return out;
}

void Topology::fail(const std::string& element, const std::string& flag) {
  if (link_down_.empty()) link_down_.assign(links.size(), 0);
  for (int l : element_links(element, flag)) {
    if (!link_down_[static_cast<size_t>(l)]) ++failures_;
    link_down_[static_cast<size_t>(l)] = 1;
  }
  bfs_.clear();
}

void Topology::degrade(const std::string& element, double fraction, const std::string& flag) {
  // (as --gpu-speed's 0.001: below, a step's transfers leave the simulator's time range, an error
  // that named no flag)
  if (!(fraction >= 0.001 && fraction <= 1))
    throw make_error(flag, element, "the remaining bandwidth fraction must be from 0.001 to 1 (use --fail for 0)");
  for (int l : element_links(element, flag)) links[static_cast<size_t>(l)].bandwidth *= fraction;
}

bool Topology::reachable(int a, int b) const {
  return a == b || distances_to(b, a).dist.count(a) > 0;
}

Route Topology::route_ranks(int ra, int rb, std::uint64_t h) const {
  if (ra < 0 || rb < 0 || ra >= num_gpus() || rb >= num_gpus())
    throw Error(name + ": rank " + std::to_string(ra < 0 || ra >= num_gpus() ? ra : rb) +
                " does not exist (" + std::to_string(num_gpus()) + " GPUs)");
  return route(gpus[static_cast<size_t>(ra)], gpus[static_cast<size_t>(rb)], h);
}

void Topology::validate(const std::string& where) const {
  if (gpus.empty()) throw make_error(where, "topology", "no GPUs");
  for (int v = 0; v < num_vertices(); ++v)
    if (!(vertex(v).latency >= 0 && vertex(v).latency <= 1.0))
      throw make_error(where, vertex(v).name, "latency must be from 0 to 1 s");
  for (const Link& l : links)
    if (!(l.bandwidth > 0))
      throw make_error(where, l.type + " link " + vertex(l.src).name + " -> " + vertex(l.dst).name,
                       "bandwidth must be greater than zero");
  // Connectivity: every GPU reachable from GPU 0 and back (directed BFS both ways).
  for (int dir = 0; dir < 2; ++dir) {
    std::vector<char> seen(static_cast<size_t>(num_vertices()), 0);
    std::deque<int> q{gpus[0]};
    seen[static_cast<size_t>(gpus[0])] = 1;
    while (!q.empty()) {
      int v = q.front();
      q.pop_front();
      auto visit = [&](int u) {
        if (!seen[static_cast<size_t>(u)]) {
          seen[static_cast<size_t>(u)] = 1;
          q.push_back(u);
        }
      };
      if (dir == 0)
        for (auto [e, end] = boost::out_edges(static_cast<size_t>(v), g); e != end; ++e)
          visit(static_cast<int>(boost::target(*e, g)));
      else
        for (auto [e, end] = boost::in_edges(static_cast<size_t>(v), g); e != end; ++e)
          visit(static_cast<int>(boost::source(*e, g)));
    }
    for (int v : gpus)
      if (!seen[static_cast<size_t>(v)])
        throw make_error(where, vertex(v).name,
                         "topology is disconnected: " + vertex(v).name + (dir == 0 ? " is unreachable from " : " cannot reach ") +
                             vertex(gpus[0]).name);
  }
}

std::string Summary::text() const {
  std::ostringstream os;
  os << "GPUs:       " << gpus << "\n";
  os << "switches:   " << switches << " network, " << nvswitches << " NVSwitch\n";
  os << "NICs:       " << nics << "\n";
  os << "links:      " << cables << " cables (" << links << " directed)\n";
  os << "diameter:   " << diameter << " hops between GPUs" << (diameter_exact ? "" : " (from a sample of sources)") << "\n";
  if (bisection_computed)
    os << "bisection:  " << format_quantity(bisection, Unit::Bandwidth, 5)
       << " per direction (min cut between rank halves)\n";
  else
    os << "bisection:  not computed (" << (gpus < 2 ? "one GPU: no halves" : "graph too large") << ")\n";
  return os.str();
}

nlohmann::json Summary::to_json() const {
  nlohmann::json j;
  j["gpus"] = gpus;
  j["switches"] = switches;
  j["nvswitches"] = nvswitches;
  j["nics"] = nics;
  j["cables"] = cables;
  j["links"] = links;
  j["diameter"] = diameter;
  j["diameter_exact"] = diameter_exact;
  if (bisection_computed) j["bisection_bandwidth_Bps"] = bisection;
  return j;
}

namespace {
double bisection_maxflow(const Topology& t) {
  using Traits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
  using FG = boost::adjacency_list<
      boost::vecS, boost::vecS, boost::directedS, boost::no_property,
      boost::property<boost::edge_capacity_t, double,
                      boost::property<boost::edge_residual_capacity_t, double,
                                      boost::property<boost::edge_reverse_t, Traits::edge_descriptor>>>>;
  int n = t.num_vertices();
  FG fg(static_cast<size_t>(n + 2));
  auto cap = boost::get(boost::edge_capacity, fg);
  auto rev = boost::get(boost::edge_reverse, fg);
  auto add = [&](int a, int b, double c) {
    auto e1 = boost::add_edge(static_cast<size_t>(a), static_cast<size_t>(b), fg).first;
    auto e2 = boost::add_edge(static_cast<size_t>(b), static_cast<size_t>(a), fg).first;
    cap[e1] = c;
    cap[e2] = 0;
    rev[e1] = e2;
    rev[e2] = e1;
  };
  for (const Link& l : t.links) add(l.src, l.dst, l.bandwidth);
  int S = n, T = n + 1;
  int half = t.num_gpus() / 2;
  const double big = 1e30;
  for (int r = 0; r < t.num_gpus(); ++r) {
    if (r < half) add(S, t.gpus[static_cast<size_t>(r)], big);
    else if (r < 2 * half) add(t.gpus[static_cast<size_t>(r)], T, big);
  }
  return boost::push_relabel_max_flow(fg, static_cast<size_t>(S), static_cast<size_t>(T));
}
}  // namespace

Summary Topology::summary() const {
  Summary s;
  s.gpus = num_gpus();
  for (int v = 0; v < num_vertices(); ++v) {
    switch (vertex(v).kind) {
      case Kind::Switch: ++s.switches; break;
      case Kind::NVSwitch: ++s.nvswitches; break;
      case Kind::NIC: ++s.nics; break;
      case Kind::GPU: break;
    }
  }
  s.links = static_cast<int>(links.size());
  s.cables = s.links / 2;
  // Diameter: BFS (undirected hop count) from every GPU, or from an even sample of 32.
  int n = num_gpus();
  int sources = std::min(n, n <= 256 ? n : 32);
  s.diameter_exact = sources == n;
  std::vector<int> dist(static_cast<size_t>(num_vertices()));
  for (int k = 0; k < sources; ++k) {
    int src = gpus[static_cast<size_t>(static_cast<long>(k) * n / sources)];
    std::fill(dist.begin(), dist.end(), -1);
    std::deque<int> q{src};
    dist[static_cast<size_t>(src)] = 0;
    while (!q.empty()) {
      int v = q.front();
      q.pop_front();
      for (auto [e, end] = boost::out_edges(static_cast<size_t>(v), g); e != end; ++e) {
        int u = static_cast<int>(boost::target(*e, g));
        if (dist[static_cast<size_t>(u)] < 0) {
          dist[static_cast<size_t>(u)] = dist[static_cast<size_t>(v)] + 1;
          q.push_back(u);
        }
      }
    }
    for (int gv : gpus) s.diameter = std::max(s.diameter, dist[static_cast<size_t>(gv)]);
  }
  s.bisection_computed = num_vertices() <= 200000 && n >= 2;
  if (s.bisection_computed) s.bisection = bisection_maxflow(*this);
  return s;
}

std::string Topology::to_dot() const {
  std::ostringstream os;
  os << "graph \"" << name << "\" {\n  graph [overlap=false];\n";
  for (int v = 0; v < num_vertices(); ++v) {
    const auto& p = vertex(v);
    const char* shape = p.kind == Kind::GPU ? "box" : p.kind == Kind::NIC ? "ellipse" : "diamond";
    const char* color = p.kind == Kind::GPU ? "palegreen" : p.kind == Kind::NVSwitch ? "lightblue"
                        : p.kind == Kind::NIC ? "lightyellow" : "lightgray";
    os << "  \"" << p.name << "\" [shape=" << shape << ", style=filled, fillcolor=" << color << "];\n";
  }
  for (const Link& l : links) {
    if (l.src > l.dst && link_between(l.dst, l.src) >= 0) continue;  // one line per cable
    os << "  \"" << vertex(l.src).name << "\" -- \"" << vertex(l.dst).name << "\" [label=\""
       << format_quantity(l.bandwidth, Unit::Bandwidth, 4) << "\"];\n";
  }
  os << "}\n";
  return os.str();
}

nlohmann::json Topology::to_json() const {
  // The arbitrary-graph description: loads back with build_topology (type "graph").
  nlohmann::json j;
  j["type"] = "graph";
  j["name"] = name;
  nlohmann::json vs = nlohmann::json::array();
  for (int v = 0; v < num_vertices(); ++v) {
    const auto& p = vertex(v);
    nlohmann::json x{{"name", p.name}, {"kind", kind_name(p.kind)}};
    if (p.latency > 0) x["latency"] = format_quantity(p.latency, Unit::Time, 6);
    if (p.node >= 0) x["node"] = p.node;
    vs.push_back(x);
  }
  j["vertices"] = vs;
  nlohmann::json ls = nlohmann::json::array();
  for (const Link& l : links) {
    if (l.src > l.dst && link_between(l.dst, l.src) >= 0) continue;
    ls.push_back({{"a", vertex(l.src).name},
                  {"b", vertex(l.dst).name},
                  {"bandwidth", format_quantity(l.bandwidth, Unit::Bandwidth, 8)},
                  {"latency", format_quantity(l.latency, Unit::Time, 8)},
                  {"type", l.type}});
  }
  j["links"] = ls;
  return j;
}

}  // namespace orrery::topo
