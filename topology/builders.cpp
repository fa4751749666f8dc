// Topology builders from JSON descriptions, and system loading (systems/NAME.json).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sim/data_files.h"
#include "hw_models/accelerator.h"
#include "sim/error.h"
#include "topology/topology.h"

namespace orrery::topo {

SizeLimits& size_limits() {
  static SizeLimits limits;
  return limits;
}

namespace {

ParamDecl bw(const std::string& n, const std::string& def, const std::string& d) {
  return ParamDecl{n, Unit::Bandwidth, def, d, true};
}
ParamDecl lat(const std::string& n, const std::string& def, const std::string& d) {
  return ParamDecl{n, Unit::Time, def, d, false};
}
ParamDecl cnt(const std::string& n, const std::string& def, const std::string& d, bool pos = true) {
  return ParamDecl{n, Unit::Count, def, d, pos};
}

const std::map<std::string, ParamSet>& param_sets() {
  static const std::map<std::string, ParamSet> sets = [] {
    std::map<std::string, ParamSet> m;
    m.emplace("ring", ParamSet("topology.ring", "bidirectional ring of GPUs",
                               {cnt("gpus", "8", "number of GPUs"),
                                bw("link_bandwidth", "50 GB/s", "per direction"),
                                lat("link_latency", "1 us", "per link")}));
    m.emplace("fully_connected", ParamSet("topology.fully_connected", "a direct link between every pair of GPUs",
                                          {cnt("gpus", "8", "number of GPUs"),
                                           bw("link_bandwidth", "50 GB/s", "per direction, per pair"),
                                           lat("link_latency", "1 us", "per link")}));
    m.emplace("single_switch", ParamSet("topology.single_switch", "every GPU on one switch",
                                        {cnt("gpus", "8", "number of GPUs"),
                                         bw("link_bandwidth", "50 GB/s", "GPU-switch, per direction"),
                                         lat("link_latency", "0.5 us", "per link"),
                                         lat("switch_latency", "0.3 us", "port to port")}));
    m.emplace("nvswitch", ParamSet("topology.nvswitch",
                                   "NVSwitch servers (DGX/HGX) joined by a rail-optimized fat tree, one NIC per GPU",
                                   {cnt("nodes", "1", "servers"),
                                    cnt("gpus_per_node", "8", "GPUs per server"),
                                    cnt("nvswitches", "4", "NVSwitch chips per server"),
                                    cnt("nvlinks_per_gpu", "18", "NVLink ports per GPU, spread over the NVSwitches"),
                                    bw("nvlink_bandwidth", "25 GB/s", "per NVLink, per direction"),
                                    lat("nvlink_latency", "0.25 us", "GPU-NVSwitch link"),
                                    lat("nvswitch_latency", "0.25 us", "NVSwitch port to port"),
                                    bw("pcie_bandwidth", "64 GB/s", "GPU-NIC PCIe per direction (Gen5 x16)"),
                                    lat("pcie_latency", "0.5 us", "GPU-NIC"),
                                    bw("nic_bandwidth", "400 Gb/s", "per NIC, per direction"),
                                    lat("net_link_latency", "0.5 us", "network cable"),
                                    lat("switch_latency", "0.3 us", "network switch port to port"),
                                    cnt("switch_radix", "64", "ports per network switch"),
                                    ParamDecl{"oversubscription", Unit::Ratio, "1", "leaf down:up port ratio", true},
                                    cnt("tiers", "0", "fat-tree tiers: 2, 3, or 0 = fewest that fit", false),
                                    cnt("rail_optimized", "1", "1: leaf switches group one rail (NIC i of every server); 0: a server's NICs share leaves", false)}));
    m.emplace("torus", ParamSet("topology.torus", "2D/3D torus with wrap-around (TPU-style); \"dims\": [x, y, z]",
                                {bw("link_bandwidth", "100 GB/s", "per neighbour link, per direction"),
                                 lat("link_latency", "1 us", "per link"),
                                 cnt("wrap", "1", "1: wrap-around links (torus); 0: open edges (2D/3D mesh, wafer-style)", false)}));
    m.emplace("dragonfly", ParamSet("topology.dragonfly", "groups of all-to-all routers joined by global links",
                                    {cnt("groups", "9", "groups"),
                                     cnt("routers_per_group", "4", "routers per group (all-to-all inside)"),
                                     cnt("gpus_per_router", "2", "GPUs (terminals) per router"),
                                     cnt("global_links_per_router", "2", "global ports per router"),
                                     bw("terminal_bandwidth", "50 GB/s", "GPU-router"),
                                     bw("local_bandwidth", "50 GB/s", "router-router inside a group"),
                                     bw("global_bandwidth", "50 GB/s", "between groups"),
                                     lat("link_latency", "0.5 us", "local links"),
                                     lat("global_latency", "2 us", "global links"),
                                     lat("switch_latency", "0.3 us", "router port to port")}));
    m.emplace("graph", ParamSet("topology.graph",
                                "arbitrary graph: \"vertices\": [{name, kind, latency}], \"links\": [{a, b, bandwidth, latency, type}]",
                                {}));
    return m;
  }();
  static bool reg = [] {
    for (auto& [k, s] : sets) register_param_set(&s);
    return true;
  }();
  (void)reg;
  return sets;
}

int as_int(double v) { return static_cast<int>(std::llround(v)); }


// A count parameter: a whole number no larger than `hi` (a fraction or 1e308 would otherwise be
// rounded or overflow an int without a word).
int count(const ParamValues& p, const char* k, const std::string& where, double hi = size_limits().gpus) {
  double v = p.get(k);
  if (!(v == std::floor(v)) || !(v <= hi)) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "must be a whole number from 0 to %.0f (got %.17g)", hi, v);
    throw make_error(where, k, buf);
  }
  return static_cast<int>(v);
}

void check_size(double n, double hi, const std::string& where, const std::string& field, const char* what) {
  if (n > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f %s is beyond the simulator's limit of %.0f", n, what, hi);
    throw make_error(where, field, buf);
  }
}

void only_keys(const nlohmann::json& j, std::initializer_list<const char*> known, const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    std::string list;
    for (const char* k : known) {
      ok |= it.key() == k;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    if (!ok) throw make_error(where, it.key(), "unknown field (" + list + ")");
  }
}

void build_ring(Topology& t, const ParamValues& p, bool full, const std::string& where) {
  int n = count(p, "gpus", where);
  if (full) check_size(0.5 * n * (n - 1.0), size_limits().cables, where, "gpus", "cables");
  for (int i = 0; i < n; ++i) {
    VertexProps v{"gpu" + std::to_string(i), Kind::GPU, i, 0, i};
    t.gpus.push_back(t.add_vertex(v));
  }
  double b = p.get("link_bandwidth"), l = p.get("link_latency");
  if (full) {
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) t.add_cable(t.gpus[i], t.gpus[j], b, l, "link");
  } else if (n == 2) {
    t.add_cable(t.gpus[0], t.gpus[1], b, l, "link");
  } else if (n > 2) {
    for (int i = 0; i < n; ++i) t.add_cable(t.gpus[i], t.gpus[(i + 1) % n], b, l, "link");
  }
}

void build_single_switch(Topology& t, const ParamValues& p, const std::string& where) {
  int n = count(p, "gpus", where);
  VertexProps sw{"switch0", Kind::Switch};
  sw.level = 1;
  sw.latency = p.get("switch_latency");
  int s = t.add_vertex(sw);
  for (int i = 0; i < n; ++i) {
    int g = t.add_vertex(VertexProps{"gpu" + std::to_string(i), Kind::GPU, i, 0, i});
    t.gpus.push_back(g);
    t.add_cable(g, s, p.get("link_bandwidth"), p.get("link_latency"), "link");
  }
}

// The servers: per node, `nvswitches` NVSwitch planes and `gpus_per_node` GPUs, each GPU's
// NVLinks spread over the planes (18 over 4 -> 5, 5, 4, 4).
void build_nvlink_servers(Topology& t, Topology::FatTree& f, const ParamValues& p, int nodes, int gpn, int nsw, int nl) {
  double nvbw = p.get("nvlink_bandwidth"), nvlat = p.get("nvlink_latency");
  std::vector<int> per(static_cast<size_t>(nsw), nl / nsw);
  for (int s = 0; s < nl % nsw; ++s) ++per[static_cast<size_t>(s)];
  for (int s = 0; s < nsw; ++s) f.plane_fraction.push_back(static_cast<double>(per[static_cast<size_t>(s)]) / nl);
  f.nvswitch.resize(static_cast<size_t>(nodes));
  for (int n = 0; n < nodes; ++n) {
    for (int s = 0; s < nsw; ++s) {
      VertexProps v{"n" + std::to_string(n) + ".nvs" + std::to_string(s), Kind::NVSwitch, -1, n, s};
      v.latency = p.get("nvswitch_latency");
      f.nvswitch[static_cast<size_t>(n)].push_back(t.add_vertex(v));
    }
    for (int g = 0; g < gpn; ++g) {
      int r = n * gpn + g;
      int gv = t.add_vertex(VertexProps{"n" + std::to_string(n) + ".gpu" + std::to_string(g), Kind::GPU, r, n, g});
      t.gpus.push_back(gv);
      for (int s = 0; s < nsw; ++s)
        t.add_cable(gv, f.nvswitch[static_cast<size_t>(n)][static_cast<size_t>(s)], per[static_cast<size_t>(s)] * nvbw, nvlat, "nvlink");
    }
  }
}

// The scale-out fat tree's shape from the switch radix and oversubscription: ports down and up
// per leaf, tiers (2 or 3; 0 = the fewest that hold the leaves), leaves per pod. Returns the
// number of leaves; `pods` is set.
int plan_fat_tree(Topology::FatTree& f, const ParamValues& p, int endpoints, int& pods, const std::string& where) {
  int radix = count(p, "switch_radix", where);
  if (radix < 2) throw make_error(where, "switch_radix", "must be at least 2");
  double o = p.get("oversubscription");
  f.down = radix / 2;
  f.up = std::max(1, as_int(std::floor(f.down / o)));
  int leaves = (endpoints + f.down - 1) / f.down;
  int tiers = count(p, "tiers", where);
  if (tiers == 0) tiers = leaves <= radix ? 2 : 3;
  if (tiers != 2 && tiers != 3) throw make_error(where, "tiers", "must be 2 or 3 (or 0 for automatic)");
  if (tiers == 2 && leaves > radix)
    throw make_error(where, "tiers", std::to_string(leaves) + " leaf switches exceed a two-tier fat tree of radix " +
                                         std::to_string(radix) + " (use 3 tiers)");
  f.tiers = tiers;
  f.pod_leaves = tiers == 3 ? radix / 2 : leaves;
  pods = (leaves + f.pod_leaves - 1) / f.pod_leaves;
  if (tiers == 3 && pods > radix)
    throw make_error(where, "nodes", "cluster too large for a three-tier fat tree of radix " + std::to_string(radix));
  return leaves;
}

// One NIC per GPU (PCIe), and the leaf switches: rail-optimized, endpoints are rail-major
// (e = rail * nodes + node), so a leaf holds one rail of consecutive servers; otherwise
// node-major (e = node * gpn + rail).
void build_nics_and_leaves(Topology& t, Topology::FatTree& f, const ParamValues& p, int nodes, int gpn, int leaves) {
  int E = nodes * gpn;
  double nicbw = p.get("nic_bandwidth"), netlat = p.get("net_link_latency");
  for (int e = 0; e < E; ++e) {
    int rail = f.rail_major ? e / nodes : e % gpn, node = f.rail_major ? e % nodes : e / gpn;
    VertexProps v{"n" + std::to_string(node) + ".nic" + std::to_string(rail), Kind::NIC, -1, node, rail};
    int nv = t.add_vertex(v);
    f.nic.push_back(nv);
    f.nic_of_gpu[static_cast<size_t>(node * gpn + rail)] = e;
    t.add_cable(t.gpus[static_cast<size_t>(node * gpn + rail)], nv, p.get("pcie_bandwidth"), p.get("pcie_latency"), "pcie");
  }
  for (int l = 0; l < leaves; ++l) {
    VertexProps v{"leaf" + std::to_string(l), Kind::Switch};
    v.level = 1;
    v.latency = p.get("switch_latency");
    int lv = t.add_vertex(v);
    f.leaf.push_back(lv);
    for (int e = l * f.down; e < std::min(E, (l + 1) * f.down); ++e) t.add_cable(f.nic[static_cast<size_t>(e)], lv, nicbw, netlat, "net");
  }
}

// Spines (per pod, `up` of them above the pod's leaves) and, with three tiers, the cores.
void build_spines_and_cores(Topology& t, Topology::FatTree& f, const ParamValues& p, int leaves, int pods) {
  double nicbw = p.get("nic_bandwidth"), netlat = p.get("net_link_latency"), swlat = p.get("switch_latency");
  f.spine.resize(static_cast<size_t>(pods));
  for (int pd = 0; pd < pods; ++pd) {
    for (int j = 0; j < f.up; ++j) {
      VertexProps v{(f.tiers == 3 ? "pod" + std::to_string(pd) + "." : std::string()) + "spine" + std::to_string(j), Kind::Switch};
      v.level = 2;
      v.latency = swlat;
      int sv = t.add_vertex(v);
      f.spine[static_cast<size_t>(pd)].push_back(sv);
      for (int l = pd * f.pod_leaves; l < std::min(leaves, (pd + 1) * f.pod_leaves); ++l)
        t.add_cable(f.leaf[static_cast<size_t>(l)], sv, nicbw, netlat, "net");
    }
  }
  if (f.tiers != 3) return;
  int cores = f.pod_leaves;  // spine up ports = down ports
  f.core.resize(static_cast<size_t>(f.up));
  for (int j = 0; j < f.up; ++j)
    for (int c = 0; c < cores; ++c) {
      VertexProps v{"core" + std::to_string(j) + "." + std::to_string(c), Kind::Switch};
      v.level = 3;
      v.latency = swlat;
      int cv = t.add_vertex(v);
      f.core[static_cast<size_t>(j)].push_back(cv);
      for (int pd = 0; pd < pods; ++pd) t.add_cable(f.spine[static_cast<size_t>(pd)][static_cast<size_t>(j)], cv, nicbw, netlat, "net");
    }
}

// NVSwitch servers, joined (more than one node) by a rail-optimized or node-major fat tree.
void build_nvswitch(Topology& t, const ParamValues& p, const std::string& where) {
  int nodes = count(p, "nodes", where), gpn = count(p, "gpus_per_node", where);
  int nsw = count(p, "nvswitches", where), nl = count(p, "nvlinks_per_gpu", where);
  check_size(static_cast<double>(nodes) * gpn, size_limits().gpus, where, "nodes", "GPUs (nodes x gpus_per_node)");
  check_size(static_cast<double>(nodes) * gpn * nsw, size_limits().cables, where, "nvswitches", "NVLink cables (GPUs x nvswitches)");
  if (nl < nsw) throw make_error(where, "nvlinks_per_gpu", "fewer NVLinks than NVSwitches");
  t.nodes = nodes;
  t.gpus_per_node = gpn;
  t.routing = Routing::FatTree;
  auto f = std::make_shared<Topology::FatTree>();
  t.fat = f;
  build_nvlink_servers(t, *f, p, nodes, gpn, nsw, nl);
  f->nic_of_gpu.assign(static_cast<size_t>(nodes * gpn), -1);
  if (nodes == 1) return;  // a single server: NVLink only
  f->rail_major = p.get("rail_optimized") > 0;
  int pods = 0;
  int leaves = plan_fat_tree(*f, p, nodes * gpn, pods, where);
  build_nics_and_leaves(t, *f, p, nodes, gpn, leaves);
  if (leaves == 1) {
    f->tiers = 1;
    return;
  }
  build_spines_and_cores(t, *f, p, leaves, pods);
}

void build_torus(Topology& t, const nlohmann::json& desc, const ParamValues& p, const std::string& where) {
  if (!desc.contains("dims") || !desc["dims"].is_array() || desc["dims"].empty() || desc["dims"].size() > 3)
    throw make_error(where, "dims", "torus needs \"dims\": an array of 1 to 3 sizes");
  auto tor = std::make_shared<Topology::Torus>();
  double total_d = 1;
  for (auto& d : desc["dims"]) {
    if (!d.is_number_integer() || d.get<long long>() < 1 || d.get<long long>() > static_cast<long long>(size_limits().gpus))
      throw make_error(where, "dims", "sizes must be positive integers");
    tor->dims.push_back(static_cast<int>(d.get<long long>()));
    total_d *= d.get<double>();
  }
  check_size(total_d, size_limits().gpus, where, "dims", "GPUs");
  long total = static_cast<long>(total_d);
  t.torus = tor;
  t.routing = Routing::Torus;
  for (int r = 0; r < total; ++r) {
    std::string nm = "gpu";
    int x = r;
    for (size_t d = 0; d < tor->dims.size(); ++d) {
      nm += (d ? "_" : "") + std::to_string(x % tor->dims[d]);
      x /= tor->dims[d];
    }
    t.gpus.push_back(t.add_vertex(VertexProps{nm, Kind::GPU, r, 0, r}));
  }
  double b = p.get("link_bandwidth"), l = p.get("link_latency");
  tor->wrap = p.get("wrap") > 0;
  long stride = 1;
  for (size_t d = 0; d < tor->dims.size(); ++d) {
    int k = tor->dims[d];
    for (long r = 0; r < total; ++r) {
      int c = static_cast<int>((r / stride) % k);
      if (k < 2) continue;
      if (k == 2 && c == 1) continue;  // one cable between the two
      if (c == k - 1 && !tor->wrap) continue;  // mesh: open edge
      long nb = r + ((c + 1) % k - c) * stride;
      t.add_cable(t.gpus[static_cast<size_t>(r)], t.gpus[static_cast<size_t>(nb)], b, l, "ici");
    }
    stride *= k;
  }
}

void build_dragonfly(Topology& t, const ParamValues& p, const std::string& where) {
  int G = count(p, "groups", where), a = count(p, "routers_per_group", where), tp = count(p, "gpus_per_router", where);
  int h = count(p, "global_links_per_router", where);
  check_size(static_cast<double>(G) * a * tp, size_limits().gpus, where, "groups", "GPUs (groups x routers_per_group x gpus_per_router)");
  check_size(G * (a * (a - 1.0) / 2 + a * tp) + G * (G - 1.0) / 2, size_limits().cables, where, "groups", "cables");
  if (a * h < G - 1)
    throw make_error(where, "global_links_per_router", "routers_per_group * global_links_per_router must be >= groups - 1");
  std::vector<int> router;
  int rank = 0;
  for (int g = 0; g < G; ++g)
    for (int r = 0; r < a; ++r) {
      VertexProps v{"g" + std::to_string(g) + ".r" + std::to_string(r), Kind::Switch};
      v.level = 1;
      v.latency = p.get("switch_latency");
      router.push_back(t.add_vertex(v));
      for (int k = 0; k < tp; ++k, ++rank) {
        int gv = t.add_vertex(VertexProps{"g" + std::to_string(g) + ".r" + std::to_string(r) + ".gpu" + std::to_string(k),
                                          Kind::GPU, rank, g, r * tp + k});
        t.gpus.push_back(gv);
        t.add_cable(gv, router.back(), p.get("terminal_bandwidth"), p.get("link_latency"), "link");
      }
    }
  for (int g = 0; g < G; ++g)
    for (int i = 0; i < a; ++i)
      for (int j = i + 1; j < a; ++j)
        t.add_cable(router[static_cast<size_t>(g * a + i)], router[static_cast<size_t>(g * a + j)], p.get("local_bandwidth"),
                    p.get("link_latency"), "local");
  for (int i = 0; i < G; ++i)
    for (int j = i + 1; j < G; ++j) {
      int ri = (((j - i - 1) % G + G) % G) / h % a;
      int rj = (((i - j - 1) % G + G) % G) / h % a;
      t.add_cable(router[static_cast<size_t>(i * a + ri)], router[static_cast<size_t>(j * a + rj)], p.get("global_bandwidth"),
                  p.get("global_latency"), "global");
    }
}

Kind parse_kind(const std::string& s, const std::string& where) {
  if (s == "gpu") return Kind::GPU;
  if (s == "nvswitch") return Kind::NVSwitch;
  if (s == "switch") return Kind::Switch;
  if (s == "nic") return Kind::NIC;
  throw make_error(where, "kind", "unknown vertex kind '" + s + "' (gpu, switch, nvswitch, nic)");
}

void build_graph(Topology& t, const nlohmann::json& desc, const std::string& where) {
  if (!desc.contains("vertices") || !desc["vertices"].is_array())
    throw make_error(where, "vertices", "graph needs an array of vertices");
  if (!desc.contains("links") || !desc["links"].is_array()) throw make_error(where, "links", "graph needs an array of links");
  std::map<std::string, int> by_name;
  int rank = 0;
  for (size_t i = 0; i < desc["vertices"].size(); ++i) {
    const auto& v = desc["vertices"][i];
    std::string w = where + ": vertices[" + std::to_string(i) + "]";
    if (!v.is_object() || !v.contains("name") || !v["name"].is_string()) throw make_error(w, "name", "missing vertex name");
    only_keys(v, {"name", "kind", "latency", "node"}, w);
    VertexProps p;
    p.name = v["name"].get<std::string>();
    if (!v.contains("kind"))  // (a GPU that forgot its kind would silently become a switch)
      throw make_error(w, "kind", "missing: one of gpu, switch, nvswitch, nic");
    p.kind = parse_kind(json_string_field(v, "kind", "switch", w), w);
    if (v.contains("latency")) {
      if (!v["latency"].is_string() && !v["latency"].is_number()) throw make_error(w, "latency", "expected a time such as \"300 ns\"");
      try {
        p.latency = parse_quantity(v["latency"].is_string() ? v["latency"].get<std::string>() : v["latency"].dump(), Unit::Time, "latency");
      } catch (const Error& e) {
        throw make_error(w, "", e.what());
      }
    }
    if (v.contains("node")) {
      if (!v["node"].is_number_integer() || v["node"].get<long long>() < 0 || v["node"].get<long long>() > static_cast<long long>(size_limits().gpus))
        throw make_error(w, "node", "expected a whole number");
      p.node = v["node"].get<int>();
    }
    if (p.kind == Kind::GPU) p.rank = rank++;
    if (by_name.count(p.name)) throw make_error(w, p.name, "duplicate vertex name");
    int id = t.add_vertex(p);
    by_name[p.name] = id;
    if (p.kind == Kind::GPU) t.gpus.push_back(id);
  }
  for (size_t i = 0; i < desc["links"].size(); ++i) {
    const auto& l = desc["links"][i];
    std::string w = where + ": links[" + std::to_string(i) + "]";
    if (!l.is_object()) throw make_error(w, "", "expected an object {a, b, bandwidth, latency, type}");
    only_keys(l, {"a", "b", "bandwidth", "latency", "type"}, w);
    auto end = [&](const char* k) {
      if (!l.contains(k) || !l[k].is_string()) throw make_error(w, k, "missing vertex name");
      auto it = by_name.find(l[k].get<std::string>());
      if (it == by_name.end()) throw make_error(w, k, "unknown vertex '" + l[k].get<std::string>() + "'");
      return it->second;
    };
    int a = end("a"), b = end("b");
    auto q = [&](const char* k, Unit u, const char* def) {
      if (!l.contains(k)) return parse_quantity(def, u, k);
      if (!l[k].is_string() && !l[k].is_number())
        throw make_error(w, k, std::string("expected a quantity with its unit, not ") + l[k].type_name());
      try {  // (a bare number is the unit's base, through the same checks as a string)
        return parse_quantity(l[k].is_string() ? l[k].get<std::string>() : l[k].dump(), u, k);
      } catch (const Error& e) {
        throw make_error(w, "", e.what());
      }
    };
    if (!l.contains("bandwidth")) throw make_error(w, "bandwidth", "required");
    double b_ = q("bandwidth", Unit::Bandwidth, "0");
    if (!(b_ >= 1)) throw make_error(w, "bandwidth", std::string(b_ > 0 ? "below 1 B/s" : "must be greater than zero") + " (link " + l["a"].get<std::string>() + " <-> " + l["b"].get<std::string>() + ")");
    t.add_cable(a, b, b_, q("latency", Unit::Time, "1 us"), json_string_field(l, "type", "link", w));
  }
  // A vertex no link names is a typo in a link's end or a forgotten cable (a GPU's would be
  // "disconnected" later; a switch's or NIC's would pass unseen).
  std::vector<char> linked(static_cast<size_t>(t.num_vertices()), 0);
  for (const auto& l : t.links) linked[static_cast<size_t>(l.src)] = linked[static_cast<size_t>(l.dst)] = 1;
  for (int v = 0; v < t.num_vertices(); ++v)
    if (!linked[static_cast<size_t>(v)] && t.num_vertices() > 1)
      throw make_error(where + ": vertices", t.vertex(v).name, "topology is disconnected: no link connects it");
}

}  // namespace

const ParamSet& topology_params(const std::string& type) {
  const auto& s = param_sets();
  auto it = s.find(type);
  if (it == s.end()) {
    std::string known;
    for (auto& [k, v] : s) known += (known.empty() ? "" : ", ") + k;
    throw make_error("", "type", "unknown topology type '" + type + "' (known: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> topology_types() {
  std::vector<std::string> out;
  for (auto& [k, v] : param_sets()) out.push_back(k);
  return out;
}

Topology build_topology(const nlohmann::json& desc, const std::string& where) {
  if (!desc.is_object()) throw make_error(where, "topology", "expected an object");
  if (!desc.contains("type") || !desc["type"].is_string()) throw make_error(where, "topology.type", "missing topology type");
  std::string type = desc["type"].get<std::string>();
  const ParamSet* ps;
  try {
    ps = &topology_params(type);
  } catch (const Error& e) {
    throw Error(where + ": topology." + e.what());
  }
  nlohmann::json numeric = nlohmann::json::object();
  for (auto it = desc.begin(); it != desc.end(); ++it) {
    const std::string& k = it.key();
    if (k == "type" || k == "name" || k == "description" || (type == "torus" && k == "dims") ||
        (type == "graph" && (k == "vertices" || k == "links")))
      continue;
    numeric[k] = it.value();
  }
  ParamValues p = ps->resolve(numeric, where + ": topology");
  Topology t;
  t.type = type;
  t.name = json_string_field(desc, "name", type, where + ": topology");
  t.params = p.to_json(*ps);
  // (desc is const: its operator[] on a missing key reads past the map; build_torus names the gap)
  if (type == "torus" && desc.contains("dims")) t.params["dims"] = desc["dims"];
  const std::string wt = where + ": topology";
  try {
    if (type == "ring") build_ring(t, p, false, wt);
    else if (type == "fully_connected") build_ring(t, p, true, wt);
    else if (type == "single_switch") build_single_switch(t, p, wt);
    else if (type == "nvswitch") build_nvswitch(t, p, wt);
    else if (type == "torus") build_torus(t, desc, p, wt);
    else if (type == "dragonfly") build_dragonfly(t, p, wt);
    else build_graph(t, desc, wt);
  } catch (const Error& e) {
    // Cable checks (Topology::add_cable) know the link, not the file.
    std::string m = e.what();
    if (m.rfind(where, 0) == 0) throw;
    throw make_error(wt, "", m);
  }
  t.validate(where);
  return t;
}

std::string systems_dir() { return data_dir("ORRERY_SYSTEMS", "systems"); }

std::vector<std::string> list_systems() { return json_stems(systems_dir()); }

namespace {
// "summary" and "graph" are outputs of topo --json: they must describe what "topology" builds.
void check_derived(const nlohmann::json& j, const System& s, const std::string& where) {
  if (j.contains("graph") && j["graph"] != s.topo.to_json())
    throw make_error(where, "graph",
                     "differs from the graph that \"topology\" builds (edited?); \"graph\" is derived output: to simulate an "
                     "edited graph make it the topology (\"topology\": {\"type\": \"graph\", \"vertices\": ..., \"links\": ...}), "
                     "else delete \"graph\"");
  if (j.contains("summary") && j["summary"] != s.topo.summary().to_json())
    throw make_error(where, "summary", "differs from the summary of what \"topology\" builds (derived output: delete it or fix topology)");
}
}  // namespace

System system_from_json(const nlohmann::json& j0, const std::string& where, int nodes,
                        const std::vector<std::string>& overrides, const SystemSource& from) {
  if (!j0.is_object()) throw make_error(where, "", "expected a JSON object");
  nlohmann::json j = j0;
  if (!j.contains("topology")) throw make_error(where, "topology", "missing");
  if (!j["topology"].is_object()) throw make_error(where, "topology", "expected an object");
  // --sys-set: written into the description before it is checked, so a what-if goes through the
  // same validation (units, ranges, unknown keys) as the file.
  for (const std::string& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == o.size())
      throw make_error("--sys-set", o, "expected key=value (e.g. nvlink_bandwidth=50GB/s or collective.nvls=0)");
    std::string key = o.substr(0, eq), value = o.substr(eq + 1);
    std::string section;
    if (key.rfind("topology.", 0) == 0) {
      section = "topology";
      key = key.substr(9);
    } else if (key.rfind("collective.", 0) == 0) {
      section = "collective";
      key = key.substr(11);
    } else {
      std::string type = json_string_field(j["topology"], "type", "", where + ": topology");
      const ParamSet* ps = nullptr;
      for (auto& t : topology_types())
        if (t == type) ps = &topology_params(type);
      bool topo_key = ps && ps->find(key) != nullptr;
      section = topo_key ? "topology" : "collective";  // the tuner rejects a key it does not know
    }
    if (key.empty()) throw make_error("--sys-set", o, "empty parameter name");
    if (section == "collective" && j.contains("collective") && !j["collective"].is_object())
      throw make_error(where, "collective", "expected an object");
    // Numbers stay numbers (counts, ratios); anything with a unit stays text for the parser.
    char* end = nullptr;
    double num = std::strtod(value.c_str(), &end);
    if (end && *end == 0 && !std::isfinite(num))  // (inf and nan parse as numbers; JSON has neither)
      throw make_error("--sys-set", o, "expected a finite value");
    j[section][key] = end && *end == 0 ? nlohmann::json(num) : nlohmann::json(value);
    // A topology value is checked here, so that a bad one names the flag, not the system file.
    if (section == "topology" && j["topology"].contains("type") && j["topology"]["type"].is_string()) {
      std::string type = j["topology"]["type"].get<std::string>();
      for (auto& t : topology_types())
        if (t == type && topology_params(type).find(key)) topology_params(type).check_value(key, j[section][key], "--sys-set");
    }
  }
  if (nodes > 0) {
    if (json_string_field(j["topology"], "type", "", where + ": topology") != "nvswitch")
      throw make_error(from.nodes, std::to_string(nodes), where + " is not an NVSwitch-node cluster (topology type nvswitch): it takes no node count");
    j["topology"]["nodes"] = nodes;
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "name" && it.key() != "description" && it.key() != "accelerator" && it.key() != "topology" &&
        it.key() != "collective" && it.key() != "summary" && it.key() != "graph")
      throw make_error(where, it.key(), "unknown field (name, description, accelerator, topology, collective; summary and graph as topo --json writes them)");
  System s;
  s.source_path = where;
  s.name = json_string_field(j, "name", std::filesystem::path(where).stem().string(), where);
  s.description = json_string_field(j, "description", "", where);
  s.accelerator = json_string_field(j, "accelerator", "h100", where);
  {
    // hw_models/presets/NAME.json or a preset file: an unknown name would silently run as an H100.
    auto known = list_presets();
    if (std::find(known.begin(), known.end(), s.accelerator) == known.end() && !is_regular_file_path(s.accelerator)) {
      std::string names;
      for (auto& k : known) names += (names.empty() ? "" : ", ") + k;
      throw make_error(where, "accelerator", "unknown hardware preset '" + s.accelerator + "' (known: " + names + ", or a preset file)");
    }
  }
  if (j.contains("collective") && !j["collective"].is_object()) throw make_error(where, "collective", "expected an object");
  s.collective = j.value("collective", nlohmann::json::object());
  try {
    s.topo = build_topology(j["topology"], where);
  } catch (const Error& e) {  // a node count the caller gave (from.nodes), not the file's
    std::string m = e.what();
    auto at = m.find(": nodes: ");
    if (nodes <= 0 || at == std::string::npos) throw;
    throw make_error(from.nodes, std::to_string(nodes), m.substr(at + 9));
  }
  if (!j["topology"].contains("name")) s.topo.name = s.name;
  check_derived(j, s, where);
  s.raw = j;
  s.raw.erase("summary");
  s.raw.erase("graph");
  return s;
}

nlohmann::json system_to_json(const System& s) {
  nlohmann::json j;
  j["name"] = s.name;
  j["description"] = s.description;
  j["accelerator"] = s.accelerator;
  nlohmann::json t = s.raw.at("topology");
  if (s.topo.type != "graph") {
    // Every parameter as resolved (defaults written out), so the file does not depend on them.
    t = s.topo.params;
    t["type"] = s.topo.type;
    if (s.raw["topology"].contains("name")) t["name"] = s.raw["topology"]["name"];
  }
  j["topology"] = t;
  if (!s.collective.empty()) j["collective"] = s.collective;
  j["summary"] = s.topo.summary().to_json();
  j["graph"] = s.topo.to_json();
  return j;
}

System load_system(const std::string& name_or_path, int nodes, const std::vector<std::string>& overrides,
                   const SystemSource& from) {
  std::string path = find_data_file(name_or_path, systems_dir(), from.system, "unknown system", "known", ", or a JSON file");
  return system_from_json(parse_json_path(path), path, nodes, overrides, from);
}

}  // namespace orrery::topo
