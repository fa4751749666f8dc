#include "workloads/chakra.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <set>

#include "sim/components/plugin.h"
#include "sim/data_files.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/units.h"
#include "workloads/json_io.h"

#ifdef ORRERY_HAVE_PROTOBUF
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/delimited_message_util.h>

#include "workloads/chakra/et_def.pb.h"  // generated into the build tree (chakra_gen/)
#endif

namespace orrery {

bool ChakraAttr::numeric(double* out) const {
  switch (kind) {
    case Double: case Float: *out = d; return true;
    case Int32: case Int64: case Sint32: case Sint64: case Sfixed32: case Sfixed64: case Bool:
      *out = static_cast<double>(i); return true;
    case Uint32: case Uint64: case Fixed32: case Fixed64: *out = static_cast<double>(u); return true;
    default: return false;
  }
}

bool ChakraAttr::operator==(const ChakraAttr& o) const {
  return name == o.name && doc == o.doc && kind == o.kind && (d == o.d || (std::isnan(d) && std::isnan(o.d))) &&
         i == o.i && u == o.u && s == o.s && dl == o.dl && il == o.il && ul == o.ul && sl == o.sl;
}

const ChakraAttr* ChakraNode::attr(const std::string& n) const {
  for (auto& a : attrs)
    if (a.name == n) return &a;
  return nullptr;
}
double ChakraNode::attr_num(const std::string& n, double def) const {
  const ChakraAttr* a = attr(n);
  double v;
  return a && a->numeric(&v) ? v : def;
}
bool ChakraNode::operator==(const ChakraNode& o) const {
  return id == o.id && name == o.name && type == o.type && ctrl_deps == o.ctrl_deps && data_deps == o.data_deps &&
         start_time_micros == o.start_time_micros && duration_micros == o.duration_micros &&
         has_inputs == o.has_inputs && has_outputs == o.has_outputs && inputs == o.inputs && outputs == o.outputs &&
         attrs == o.attrs && unknown_fields == o.unknown_fields;
}

#ifdef ORRERY_HAVE_PROTOBUF
bool chakra_available() { return true; }

namespace {
namespace pb = ChakraProtoMsg;

ChakraAttr from_pb(const pb::AttributeProto& a) {
  ChakraAttr r;
  r.name = a.name();
  r.doc = a.doc_string();
  r.kind = static_cast<ChakraAttr::Kind>(a.value_case());
  switch (a.value_case()) {
    case pb::AttributeProto::kDoubleVal: r.d = a.double_val(); break;
    case pb::AttributeProto::kFloatVal: r.d = a.float_val(); break;
    case pb::AttributeProto::kInt32Val: r.i = a.int32_val(); break;
    case pb::AttributeProto::kInt64Val: r.i = a.int64_val(); break;
    case pb::AttributeProto::kUint32Val: r.u = a.uint32_val(); break;
    case pb::AttributeProto::kUint64Val: r.u = a.uint64_val(); break;
    case pb::AttributeProto::kSint32Val: r.i = a.sint32_val(); break;
    case pb::AttributeProto::kSint64Val: r.i = a.sint64_val(); break;
    case pb::AttributeProto::kFixed32Val: r.u = a.fixed32_val(); break;
    case pb::AttributeProto::kFixed64Val: r.u = a.fixed64_val(); break;
    case pb::AttributeProto::kSfixed32Val: r.i = a.sfixed32_val(); break;
    case pb::AttributeProto::kSfixed64Val: r.i = a.sfixed64_val(); break;
    case pb::AttributeProto::kBoolVal: r.i = a.bool_val(); break;
    case pb::AttributeProto::kStringVal: r.s = a.string_val(); break;
    case pb::AttributeProto::kBytesVal: r.s = a.bytes_val(); break;
    case pb::AttributeProto::kDoubleList: r.dl.assign(a.double_list().values().begin(), a.double_list().values().end()); break;
    case pb::AttributeProto::kFloatList: r.dl.assign(a.float_list().values().begin(), a.float_list().values().end()); break;
    case pb::AttributeProto::kInt32List: r.il.assign(a.int32_list().values().begin(), a.int32_list().values().end()); break;
    case pb::AttributeProto::kInt64List: r.il.assign(a.int64_list().values().begin(), a.int64_list().values().end()); break;
    case pb::AttributeProto::kUint32List: r.ul.assign(a.uint32_list().values().begin(), a.uint32_list().values().end()); break;
    case pb::AttributeProto::kUint64List: r.ul.assign(a.uint64_list().values().begin(), a.uint64_list().values().end()); break;
    case pb::AttributeProto::kSint32List: r.il.assign(a.sint32_list().values().begin(), a.sint32_list().values().end()); break;
    case pb::AttributeProto::kSint64List: r.il.assign(a.sint64_list().values().begin(), a.sint64_list().values().end()); break;
    case pb::AttributeProto::kFixed32List: r.ul.assign(a.fixed32_list().values().begin(), a.fixed32_list().values().end()); break;
    case pb::AttributeProto::kFixed64List: r.ul.assign(a.fixed64_list().values().begin(), a.fixed64_list().values().end()); break;
    case pb::AttributeProto::kSfixed32List: r.il.assign(a.sfixed32_list().values().begin(), a.sfixed32_list().values().end()); break;
    case pb::AttributeProto::kSfixed64List: r.il.assign(a.sfixed64_list().values().begin(), a.sfixed64_list().values().end()); break;
    case pb::AttributeProto::kBoolList: r.il.assign(a.bool_list().values().begin(), a.bool_list().values().end()); break;
    case pb::AttributeProto::kStringList: r.sl.assign(a.string_list().values().begin(), a.string_list().values().end()); break;
    case pb::AttributeProto::kBytesList: r.sl.assign(a.bytes_list().values().begin(), a.bytes_list().values().end()); break;
    case pb::AttributeProto::VALUE_NOT_SET: r.kind = ChakraAttr::None; break;
  }
  return r;
}

template <class L, class V>
void fill(L* list, const std::vector<V>& v) {
  for (auto& x : v) list->add_values(x);
}

void to_pb(const ChakraAttr& r, pb::AttributeProto* a) {
  a->set_name(r.name);
  if (!r.doc.empty()) a->set_doc_string(r.doc);
  switch (r.kind) {
    case ChakraAttr::Double: a->set_double_val(r.d); break;
    case ChakraAttr::Float: a->set_float_val(static_cast<float>(r.d)); break;
    case ChakraAttr::Int32: a->set_int32_val(static_cast<std::int32_t>(r.i)); break;
    case ChakraAttr::Int64: a->set_int64_val(r.i); break;
    case ChakraAttr::Uint32: a->set_uint32_val(static_cast<std::uint32_t>(r.u)); break;
    case ChakraAttr::Uint64: a->set_uint64_val(r.u); break;
    case ChakraAttr::Sint32: a->set_sint32_val(static_cast<std::int32_t>(r.i)); break;
    case ChakraAttr::Sint64: a->set_sint64_val(r.i); break;
    case ChakraAttr::Fixed32: a->set_fixed32_val(static_cast<std::uint32_t>(r.u)); break;
    case ChakraAttr::Fixed64: a->set_fixed64_val(r.u); break;
    case ChakraAttr::Sfixed32: a->set_sfixed32_val(static_cast<std::int32_t>(r.i)); break;
    case ChakraAttr::Sfixed64: a->set_sfixed64_val(r.i); break;
    case ChakraAttr::Bool: a->set_bool_val(r.i != 0); break;
    case ChakraAttr::String: a->set_string_val(r.s); break;
    case ChakraAttr::Bytes: a->set_bytes_val(r.s); break;
    case ChakraAttr::DoubleList: fill(a->mutable_double_list(), r.dl); break;
    case ChakraAttr::FloatList: for (double x : r.dl) a->mutable_float_list()->add_values(static_cast<float>(x)); break;
    case ChakraAttr::Int32List: for (auto x : r.il) a->mutable_int32_list()->add_values(static_cast<std::int32_t>(x)); break;
    case ChakraAttr::Int64List: fill(a->mutable_int64_list(), r.il); break;
    case ChakraAttr::Uint32List: for (auto x : r.ul) a->mutable_uint32_list()->add_values(static_cast<std::uint32_t>(x)); break;
    case ChakraAttr::Uint64List: fill(a->mutable_uint64_list(), r.ul); break;
    case ChakraAttr::Sint32List: for (auto x : r.il) a->mutable_sint32_list()->add_values(static_cast<std::int32_t>(x)); break;
    case ChakraAttr::Sint64List: fill(a->mutable_sint64_list(), r.il); break;
    case ChakraAttr::Fixed32List: for (auto x : r.ul) a->mutable_fixed32_list()->add_values(static_cast<std::uint32_t>(x)); break;
    case ChakraAttr::Fixed64List: fill(a->mutable_fixed64_list(), r.ul); break;
    case ChakraAttr::Sfixed32List: for (auto x : r.il) a->mutable_sfixed32_list()->add_values(static_cast<std::int32_t>(x)); break;
    case ChakraAttr::Sfixed64List: fill(a->mutable_sfixed64_list(), r.il); break;
    case ChakraAttr::BoolList: for (auto x : r.il) a->mutable_bool_list()->add_values(x != 0); break;
    case ChakraAttr::StringList: for (auto& x : r.sl) a->mutable_string_list()->add_values(x); break;
    case ChakraAttr::BytesList: for (auto& x : r.sl) a->mutable_bytes_list()->add_values(x); break;
    case ChakraAttr::None: break;
  }
}
}  // namespace

long chakra_metadata_world(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 0;
  google::protobuf::LogSilencer quiet;
  google::protobuf::io::IstreamInputStream zin(&in);
  pb::GlobalMetadata md;
  bool clean_eof = false;
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&md, &zin, &clean_eof)) return 0;
  for (auto& a : md.attr()) {
    ChakraAttr x = from_pb(a);
    double v = 0;
    if (x.name == "world_size" && x.numeric(&v) && v >= 0 && v <= 1e6) return static_cast<long>(v);
  }
  return 0;
}

ChakraTrace read_chakra(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw make_error(path, "", "cannot open Chakra trace");
  // A damaged file is reported by the one error below, not by protobuf's own log lines on stderr.
  google::protobuf::LogSilencer quiet;
  google::protobuf::io::IstreamInputStream zin(&in);
  ChakraTrace t;
  pb::GlobalMetadata md;
  bool clean_eof = false;
  if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&md, &zin, &clean_eof)) {
    if (clean_eof) throw make_error(path, "GlobalMetadata", "empty file (expected a Chakra execution trace)");
    throw make_error(path, "GlobalMetadata", "truncated or not a Chakra execution trace");
  }
  t.version = md.version();
  for (auto& a : md.attr()) t.metadata.push_back(from_pb(a));
  pb::Node n;
  for (std::size_t k = 0;; ++k) {
    n.Clear();
    clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&n, &zin, &clean_eof)) {
      if (clean_eof) break;
      throw make_error(path, "node " + std::to_string(k), "truncated or invalid Node message");
    }
    ChakraNode c;
    c.id = n.id();
    c.name = n.name();
    c.type = static_cast<ChakraNodeType>(n.type());
    c.ctrl_deps.assign(n.ctrl_deps().begin(), n.ctrl_deps().end());
    c.data_deps.assign(n.data_deps().begin(), n.data_deps().end());
    c.start_time_micros = n.start_time_micros();
    c.duration_micros = n.duration_micros();
    c.has_inputs = n.has_inputs();
    c.has_outputs = n.has_outputs();
    if (c.has_inputs) c.inputs = {n.inputs().values(), n.inputs().shapes(), n.inputs().types()};
    if (c.has_outputs) c.outputs = {n.outputs().values(), n.outputs().shapes(), n.outputs().types()};
    for (auto& a : n.attr()) c.attrs.push_back(from_pb(a));
    c.unknown_fields = n.GetReflection()->GetUnknownFields(n).empty()
                           ? std::string()
                           : [&] {
                               std::string s;
                               n.GetReflection()->GetUnknownFields(n).SerializeToString(&s);
                               return s;
                             }();
    t.nodes.push_back(std::move(c));
  }
  return t;
}

void write_chakra(const std::string& path, const ChakraTrace& t) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw make_error(path, "", "cannot write Chakra trace");
  pb::GlobalMetadata md;
  md.set_version(t.version);
  for (auto& a : t.metadata) to_pb(a, md.add_attr());
  if (!google::protobuf::util::SerializeDelimitedToOstream(md, &out)) throw make_error(path, "GlobalMetadata", "write failed");
  pb::Node n;
  for (auto& c : t.nodes) {
    n.Clear();
    n.set_id(c.id);
    n.set_name(c.name);
    n.set_type(static_cast<pb::NodeType>(c.type));
    for (auto d : c.ctrl_deps) n.add_ctrl_deps(d);
    for (auto d : c.data_deps) n.add_data_deps(d);
    n.set_start_time_micros(c.start_time_micros);
    n.set_duration_micros(c.duration_micros);
    if (c.has_inputs) {
      n.mutable_inputs()->set_values(c.inputs.values);
      n.mutable_inputs()->set_shapes(c.inputs.shapes);
      n.mutable_inputs()->set_types(c.inputs.types);
    }
    if (c.has_outputs) {
      n.mutable_outputs()->set_values(c.outputs.values);
      n.mutable_outputs()->set_shapes(c.outputs.shapes);
      n.mutable_outputs()->set_types(c.outputs.types);
    }
    for (auto& a : c.attrs) to_pb(a, n.add_attr());
    if (!c.unknown_fields.empty()) n.GetReflection()->MutableUnknownFields(&n)->ParseFromString(c.unknown_fields);
    if (!google::protobuf::util::SerializeDelimitedToOstream(n, &out))
      throw make_error(path, "node " + std::to_string(c.id), "write failed");
  }
  out.flush();
  if (!out) throw make_error(path, "", "write failed");
}

#else  // no protobuf

bool chakra_available() { return false; }
long chakra_metadata_world(const std::string&) { return 0; }
ChakraTrace read_chakra(const std::string& path) {
  throw make_error(path, "", "orrery was built without protobuf: Chakra traces are unavailable (install libprotobuf-dev and protobuf-compiler, then rebuild)");
}
void write_chakra(const std::string& path, const ChakraTrace&) {
  throw make_error(path, "", "orrery was built without protobuf: Chakra traces are unavailable (install libprotobuf-dev and protobuf-compiler, then rebuild)");
}
#endif


// ======================================================================== communicator groups
void write_comm_groups(const std::string& path, const ChakraCommGroups& groups) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto& [id, ranks] : groups) j[std::to_string(id)] = ranks;
  std::ofstream out(path);
  if (!out) throw make_error(path, "", "cannot write the communicator-group file");
  out << j.dump() << "\n";
  if (!out) throw make_error(path, "", "write failed");
}

ChakraCommGroups read_comm_groups(const std::string& path) {
  nlohmann::json j = parse_json_path(path);
  if (!j.is_object()) throw make_error(path, "", "expected {\"<group id>\": [ranks...]} (a communicator-group file)");
  ChakraCommGroups g;
  for (auto it = j.begin(); it != j.end(); ++it) {
    long id = 0;
    try {
      size_t pos = 0;
      id = std::stol(it.key(), &pos);
      if (pos != it.key().size()) throw 1;
    } catch (...) {
      throw make_error(path, it.key(), "group id must be an integer (ASTRA-sim reads it with stoi)");
    }
    if (!it->is_array() || it->empty()) throw make_error(path, it.key(), "expected a non-empty list of ranks");
    for (auto& r : *it) {
      if (!r.is_number_integer() || r.get<long>() < 0) throw make_error(path, it.key(), "ranks must be non-negative integers");
      g[id].push_back(r.get<long>());
    }
  }
  return g;
}

std::string find_comm_groups(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> found;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() >= 16 && n.compare(n.size() - 16, 16, "comm_groups.json") == 0) found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  if (found.size() > 1) throw make_error(dir, "", "several communicator-group files (" + found[0] + ", " + found[1] + "): keep one");
  return found.empty() ? "" : found[0];
}

namespace {
// Nodes that could never run when `use_ctrl` deps count (Kahn's order over in-trace deps).
std::size_t stuck_nodes(const ChakraTrace& t, bool use_ctrl) {
  std::map<std::uint64_t, std::size_t> index;
  for (std::size_t n = 0; n < t.nodes.size(); ++n) index.emplace(t.nodes[n].id, n);
  std::vector<int> missing(t.nodes.size(), 0);
  std::vector<std::vector<std::size_t>> children(t.nodes.size());
  for (std::size_t n = 0; n < t.nodes.size(); ++n)
    for (auto* deps : {&t.nodes[n].data_deps, &t.nodes[n].ctrl_deps}) {
      if (deps == &t.nodes[n].ctrl_deps && !use_ctrl) continue;
      for (auto d : *deps) {
        auto it = index.find(d);
        if (it == index.end()) continue;
        ++missing[n];
        children[it->second].push_back(n);
      }
    }
  std::vector<std::size_t> ready;
  for (std::size_t n = 0; n < t.nodes.size(); ++n)
    if (missing[n] == 0) ready.push_back(n);
  std::size_t done = 0;
  while (!ready.empty()) {
    std::size_t x = ready.back();
    ready.pop_back();
    ++done;
    for (auto c : children[x])
      if (--missing[c] == 0) ready.push_back(c);
  }
  return t.nodes.size() - done;
}

// Group sizes from the "## process_group:init ##" metadata node Chakra's PyTorch converter keeps
// (its inputs hold PyTorch's process groups as JSON: pg_name, ranks, group_size).
std::map<std::string, long> pytorch_group_sizes(const ChakraTrace& t, const std::string& path) {
  std::map<std::string, long> out;
  for (auto& n : t.nodes) {
    if (n.type != ChakraNodeType::Metadata || n.name.find("process_group:init") == std::string::npos) continue;
    const std::string& v = n.inputs.values;
    auto a = v.find("[{"), b = v.rfind("}]");
    if (a == std::string::npos || b == std::string::npos || b < a) continue;
    nlohmann::json pgs = nlohmann::json::parse(v.substr(a, b + 2 - a), nullptr, false);
    if (!pgs.is_array()) throw make_error(path, "node " + std::to_string(n.id) + ": inputs", "process_group:init holds no readable process-group list");
    for (auto& pg : pgs) {
      if (!pg.is_object() || !pg.contains("pg_name") || !pg["pg_name"].is_string()) continue;
      long size = pg.contains("ranks") && pg["ranks"].is_array() && !pg["ranks"].empty() ? static_cast<long>(pg["ranks"].size())
                  : pg.value("group_size", nlohmann::json(0)).is_number_integer() ? pg.value("group_size", 0L) : 0L;
      if (size > 0) out[pg["pg_name"].get<std::string>()] = size;
    }
  }
  return out;
}

std::size_t drop_self_deps(ChakraTrace& t) {
  std::size_t dropped = 0;
  for (auto& n : t.nodes)
    for (auto* deps : {&n.data_deps, &n.ctrl_deps}) {
      auto end = std::remove(deps->begin(), deps->end(), n.id);
      dropped += static_cast<std::size_t>(deps->end() - end);
      deps->erase(end, deps->end());
    }
  return dropped;
}

// Dependencies on ids no node of the trace has (a converter that filtered nodes out): dropped, and
// said, since the node they name cannot be waited on. `first` names one.
std::size_t drop_dangling_deps(ChakraTrace& t, std::string& first) {
  std::set<std::uint64_t> ids;
  for (auto& n : t.nodes) ids.insert(n.id);
  std::size_t dropped = 0;
  for (auto& n : t.nodes)
    for (auto* deps : {&n.data_deps, &n.ctrl_deps}) {
      auto end = std::remove_if(deps->begin(), deps->end(), [&](std::uint64_t d) {
        if (ids.count(d)) return false;
        if (first.empty()) first = "node " + std::to_string(n.id) + " on " + std::to_string(d);
        return true;
      });
      dropped += static_cast<std::size_t>(deps->end() - end);
      deps->erase(end, deps->end());
    }
  return dropped;
}
}  // namespace

ChakraTrace read_chakra_for_run(const std::string& path, const ChakraCommGroups& groups, std::vector<std::string>* notes) {
  ChakraTrace t = read_chakra(path);
  auto note = [&](const std::string& s) {
    if (notes) notes->push_back(path + ": " + s);
  };
  if (std::size_t d = drop_self_deps(t))
    note(std::to_string(d) + " self-dependencies dropped (a node never waits on itself; Chakra's PyTorch converter writes them)");
  std::string first;
  if (std::size_t d = drop_dangling_deps(t, first))
    note(std::to_string(d) + " dependencies on nodes not in the trace dropped (" + first + ")");
  if (stuck_nodes(t, true) > 0 && stuck_nodes(t, false) == 0) {
    std::size_t n = 0;
    for (auto& x : t.nodes) {
      n += x.ctrl_deps.size();
      x.ctrl_deps.clear();
    }
    note("ctrl_deps form a cycle; scheduled on data_deps only, as Chakra's ETFeeder does (" + std::to_string(n) +
         " ctrl_deps ignored: the PyTorch converter writes the calling op there)");
  }
  std::size_t sized = 0;
  const std::map<std::string, long> pt_sizes = pytorch_group_sizes(t, path);
  for (auto& x : t.nodes) {
    if (x.type != ChakraNodeType::CommColl || x.attr("comm_group_size")) continue;
    const ChakraAttr* pg = x.attr("pg_name");
    if (!pg || pg->kind != ChakraAttr::String) continue;
    if (auto it = pt_sizes.find(pg->s); it != pt_sizes.end()) {
      x.attrs.push_back(ChakraAttr::make_int64("comm_group_size", it->second));
      ++sized;
      continue;
    }
    try {
      size_t pos = 0;
      long id = std::stol(pg->s, &pos);
      auto it = groups.find(id);
      if (pos != pg->s.size() || it == groups.end()) continue;
      x.attrs.push_back(ChakraAttr::make_int64("comm_group_size", static_cast<std::int64_t>(it->second.size())));
      ++sized;
    } catch (const std::exception&) {
    }
  }
  if (sized) note(std::to_string(sized) + " collectives sized by their pg_name (communicator-group file or process_group:init)");
  return t;
}

// ======================================================================== workload graphs
namespace {
std::uint64_t micros(double s) { return static_cast<std::uint64_t>(std::llround(s * 1e6)); }

ChakraCollType chakra_coll_type(coll::Op op) {
  switch (op) {
    case coll::Op::AllReduce: return ChakraCollType::AllReduce;
    case coll::Op::AllGather: return ChakraCollType::AllGather;
    case coll::Op::ReduceScatter: return ChakraCollType::ReduceScatter;
    case coll::Op::AllToAll: return ChakraCollType::AllToAll;
    case coll::Op::Broadcast: return ChakraCollType::Broadcast;
    case coll::Op::Reduce: return ChakraCollType::Reduce;
    case coll::Op::SendRecv: break;
  }
  throw Error("internal: a point-to-point transfer is not a Chakra collective");
}

using A = ChakraAttr;

// One workload-graph node as a Chakra node. What Chakra's schema has no field for is kept exactly
// in orrery_* attributes (a microsecond duration would round a kernel of a few µs); chakra_workload
// reads them back from traces whose metadata names generator "orrery".
ChakraNode chakra_node(const wg::Workload& w, const wg::Node& n) {
  ChakraNode c;
  c.name = n.name;
  c.duration_micros = micros(n.time_s);
  c.attrs.push_back(A::make_bool("is_cpu_op", n.stream < 0));
  c.attrs.push_back(A::make_int64("orrery_stream", n.stream));
  if (!n.cls.empty()) c.attrs.push_back(A::make_string("op_class", n.cls));
  if (n.issue_delay_s > 0) c.attrs.push_back(A::make_double("orrery_issue_delay_s", n.issue_delay_s));
  if (n.graph_node) c.attrs.push_back(A::make_bool("orrery_graph_node", true));
  switch (n.kind) {
    case wg::Kind::Compute:
      c.type = ChakraNodeType::Comp;
      c.attrs.push_back(A::make_int64("num_ops", static_cast<std::int64_t>(n.flops)));
      c.attrs.push_back(A::make_uint64("tensor_size", static_cast<std::uint64_t>(n.bytes)));
      c.attrs.push_back(A::make_double("orrery_time_s", n.time_s));
      c.attrs.push_back(A::make_double("orrery_sm_share", n.sm_share));
      c.attrs.push_back(A::make_double("orrery_hbm_share", n.hbm_share));
      break;
    case wg::Kind::Collective: {
      const wg::Group& g = w.groups.at(static_cast<std::size_t>(n.group));
      c.type = ChakraNodeType::CommColl;
      c.attrs.push_back(A::make_int64("comm_type", static_cast<std::int64_t>(chakra_coll_type(n.op))));
      c.attrs.push_back(A::make_int64("comm_size", static_cast<std::int64_t>(n.bytes)));
      c.attrs.push_back(A::make_string("pg_name", std::to_string(n.group + 1)));
      c.attrs.push_back(A::make_string("pg_desc", g.name));
      c.attrs.push_back(A::make_int64("comm_group_size", static_cast<std::int64_t>(g.ranks.size())));
      if (n.repeat > 1) c.attrs.push_back(A::make_int64("orrery_repeat", n.repeat));
      break;
    }
    case wg::Kind::Send:
    case wg::Kind::Recv: {
      bool send = n.kind == wg::Kind::Send;
      c.type = send ? ChakraNodeType::CommSend : ChakraNodeType::CommRecv;
      c.attrs.push_back(A::make_int64("comm_peer", n.peer));
      if (n.tag >= 0 && n.tag <= std::numeric_limits<std::int32_t>::max())  // Chakra readers take 32 bits
        c.attrs.push_back(A::make_int32("comm_tag", static_cast<std::int32_t>(n.tag)));
      else
        c.attrs.push_back(A::make_int64("comm_tag", n.tag));
      c.attrs.push_back(A::make_int64("comm_size", static_cast<std::int64_t>(n.bytes)));
      break;
    }
    case wg::Kind::Delay:
      c.type = ChakraNodeType::Metadata;
      c.attrs.push_back(A::make_double("orrery_time_s", n.time_s));
      break;
    case wg::Kind::Alloc:
    case wg::Kind::Free:
      c.type = n.kind == wg::Kind::Alloc ? ChakraNodeType::MemLoad : ChakraNodeType::MemStore;
      c.attrs.push_back(A::make_uint64("tensor_size", static_cast<std::uint64_t>(n.bytes)));
      break;
  }
  return c;
}

// One rank's graph as a trace: node id = its index; data_deps = its dependencies plus the previous
// node of its stream (Chakra has no streams: the in-order stream is spelled out for other tools).
ChakraTrace rank_trace(const wg::Workload& w, const wg::RankGraph& g, const std::vector<ChakraAttr>& meta) {
  ChakraTrace t;
  t.version = "0.0.4";
  t.metadata = meta;
  t.metadata.push_back(A::make_string("generator", "orrery"));
  t.metadata.push_back(A::make_string("workload", w.name));
  t.metadata.push_back(A::make_int64("rank", g.rank));
  t.metadata.push_back(A::make_int64("world_size", w.world));
  std::map<int, std::uint64_t> last_on_stream;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const wg::Node& n = g.nodes[i];
    ChakraNode c = chakra_node(w, n);
    c.id = i;
    for (auto d : n.deps) c.data_deps.push_back(static_cast<std::uint64_t>(d));
    if (auto it = last_on_stream.find(n.stream); it != last_on_stream.end()) c.data_deps.push_back(it->second);
    std::sort(c.data_deps.begin(), c.data_deps.end());
    c.data_deps.erase(std::unique(c.data_deps.begin(), c.data_deps.end()), c.data_deps.end());
    last_on_stream[n.stream] = i;
    t.nodes.push_back(std::move(c));
  }
  // Point-to-point: Chakra's comm_src / comm_dst (global ranks).
  for (auto& c : t.nodes) {
    if (c.type != ChakraNodeType::CommSend && c.type != ChakraNodeType::CommRecv) continue;
    auto peer = static_cast<std::int32_t>(c.attr_num("comm_peer", -1));
    bool send = c.type == ChakraNodeType::CommSend;
    c.attrs.push_back(A::make_int32("comm_src", send ? g.rank : peer));
    c.attrs.push_back(A::make_int32("comm_dst", send ? peer : g.rank));
    c.attrs.erase(std::remove_if(c.attrs.begin(), c.attrs.end(), [](const A& a) { return a.name == "comm_peer"; }),
                  c.attrs.end());
  }
  return t;
}
}  // namespace

std::vector<std::string> write_workload_chakra(const wg::Workload& w, const std::string& dir, const std::string& prefix,
                                               const std::vector<ChakraAttr>& metadata) {
  if (!chakra_available()) write_chakra(dir, {});  // throws "built without protobuf"
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!is_directory_path(dir)) throw make_error(dir, "", "cannot create the output directory");
  std::vector<std::string> files;
  for (auto& g : w.ranks) {
    std::string path = (fs::path(dir) / (prefix + "." + std::to_string(g.rank) + ".et")).string();
    write_chakra(path, rank_trace(w, g, metadata));
    files.push_back(path);
  }
  ChakraCommGroups groups;
  for (std::size_t i = 0; i < w.groups.size(); ++i)
    groups[static_cast<long>(i) + 1] = std::vector<long>(w.groups[i].ranks.begin(), w.groups[i].ranks.end());
  write_comm_groups((fs::path(dir) / (prefix + ".comm_groups.json")).string(), groups);
  return files;
}

// ======================================================================== capture bundles
namespace {
// Communicator group ids: PyTorch names process groups "0", "1", ...: that number is the id; a name
// that is not a number gets an id from 1048576 up (first seen first) and is kept as pg_desc.
class GroupIds {
 public:
  long id(const std::string& name) {
    try {
      size_t pos = 0;
      long v = std::stol(name, &pos);
      if (pos == name.size() && v >= 0) return v;
    } catch (const std::exception&) {
    }
    auto it = named_ids_.find(name);
    if (it != named_ids_.end()) return it->second;
    long id = 1048576 + static_cast<long>(named_ids_.size());
    named_ids_[name] = id;
    return id;
  }

 private:
  std::map<std::string, long> named_ids_;
};

// A device activity that a collective launched: send / recv with peers and tag, or a collective
// with its type and group size; its size and process group.
void collective_attrs(ChakraNode& n, const CollectiveCall& cc, const CapturedStep& st, GroupIds& ids) {
  if (cc.name == "send" || cc.name == "recv") {
    n.type = cc.name == "send" ? ChakraNodeType::CommSend : ChakraNodeType::CommRecv;
    int self = st.rank;
    n.attrs.push_back(ChakraAttr::make_int32("comm_src", cc.name == "send" ? self : cc.peer));
    n.attrs.push_back(ChakraAttr::make_int32("comm_dst", cc.name == "send" ? cc.peer : self));
    n.attrs.push_back(ChakraAttr::make_int32("comm_tag", static_cast<std::int32_t>(cc.seq)));
  } else {
    n.type = ChakraNodeType::CommColl;
    ChakraCollType ct = ChakraCollType::AllReduce;
    if (cc.name.find("all_gather") != std::string::npos || cc.name.find("allgather") != std::string::npos) ct = ChakraCollType::AllGather;
    else if (cc.name.find("reduce_scatter") != std::string::npos) ct = ChakraCollType::ReduceScatter;
    else if (cc.name.find("all_to_all") != std::string::npos || cc.name.find("alltoall") != std::string::npos) ct = ChakraCollType::AllToAll;
    else if (cc.name.find("broadcast") != std::string::npos) ct = ChakraCollType::Broadcast;
    else if (cc.name.find("barrier") != std::string::npos) ct = ChakraCollType::Barrier;
    else if (cc.name == "reduce" || cc.name == "_reduce") ct = ChakraCollType::Reduce;
    n.attrs.push_back(ChakraAttr::make_int64("comm_type", static_cast<std::int64_t>(ct)));
    // gloo captures record no group size: take the process group's ranks from Kineto's
    // distributedInfo, else the world size (0 would mean "unknown").
    std::int64_t group = cc.pg_size;
    if (group <= 0) {
      auto pg = st.process_groups.find(cc.pg_name);
      group = pg != st.process_groups.end() && !pg->second.empty() ? static_cast<std::int64_t>(pg->second.size())
                                                                   : static_cast<std::int64_t>(st.world_size);
    }
    n.attrs.push_back(ChakraAttr::make_int64("comm_group_size", group));
  }
  n.attrs.push_back(ChakraAttr::make_int64("comm_size", static_cast<std::int64_t>(cc.bytes)));
  long gid = ids.id(cc.pg_name);
  n.attrs.push_back(ChakraAttr::make_string("pg_name", std::to_string(gid)));
  if (std::to_string(gid) != cc.pg_name) n.attrs.push_back(ChakraAttr::make_string("pg_desc", cc.pg_name));
}

// Any other device activity: a compute node with its bytes, kind, class and ATen op.
void compute_attrs(ChakraNode& n, const DeviceActivity& d, const CapturedStep& st) {
  n.type = ChakraNodeType::Comp;
  n.attrs.push_back(ChakraAttr::make_int64("num_ops", 0));
  n.attrs.push_back(ChakraAttr::make_uint64("tensor_size", static_cast<std::uint64_t>(d.bytes)));
  const char* kind = d.kind == DevKind::Kernel ? "kernel" : d.kind == DevKind::Memcpy ? "memcpy" : "memset";
  n.attrs.push_back(ChakraAttr::make_string("activity", kind));
  std::string opname = d.op >= 0 && static_cast<std::size_t>(d.op) < st.ops.size() ? st.ops[static_cast<std::size_t>(d.op)].name : "";
  n.attrs.push_back(ChakraAttr::make_string("op_class", classify_kernel(d.name, opname, d.kind)));
  if (!opname.empty()) n.attrs.push_back(ChakraAttr::make_string("aten_op", opname));
}

// One rank's capture as a Chakra trace: a node per device activity, timed from the first, each
// depending on the previous activity of its stream.
ChakraTrace bundle_rank_trace(const CapturedStep& st, const std::string& bundle_dir, GroupIds& ids) {
  // device activity -> collective (via the host item that launched it)
  std::map<int, int> coll_of;
  for (auto& item : st.host)
    if (!item.collectives.empty())
      for (auto& call : item.calls)
        if (call.kind == CallKind::Launch && call.device >= 0) coll_of[call.device] = item.collectives.front();
  ChakraTrace t;
  t.version = "0.0.4";
  t.metadata.push_back(ChakraAttr::make_string("generator", "orrery convert (PyTorch capture bundle)"));
  t.metadata.push_back(ChakraAttr::make_string("bundle", bundle_dir));
  t.metadata.push_back(ChakraAttr::make_int64("rank", st.rank));
  t.metadata.push_back(ChakraAttr::make_int64("world_size", st.world_size));
  if (!st.device_name.empty()) t.metadata.push_back(ChakraAttr::make_string("device", st.device_name));
  std::map<int, std::uint64_t> last_on_stream;
  double t0 = st.device.empty() ? 0 : st.device.front().trace_ts;
  for (auto& d : st.device) t0 = std::min(t0, d.trace_ts);
  for (std::size_t k = 0; k < st.device.size(); ++k) {
    const DeviceActivity& d = st.device[k];
    ChakraNode n;
    n.id = k;
    n.name = d.name;
    n.start_time_micros = micros(d.trace_ts - t0);
    n.duration_micros = micros(d.trace_dur);
    n.attrs.push_back(ChakraAttr::make_bool("is_cpu_op", false));
    n.attrs.push_back(ChakraAttr::make_int64("stream", d.stream));
    auto c = coll_of.find(static_cast<int>(k));
    if (c != coll_of.end()) collective_attrs(n, st.collectives[static_cast<std::size_t>(c->second)], st, ids);
    else compute_attrs(n, d, st);
    auto prev = last_on_stream.find(d.stream);
    if (prev != last_on_stream.end()) n.data_deps.push_back(prev->second);
    last_on_stream[d.stream] = n.id;
    t.nodes.push_back(std::move(n));
  }
  return t;
}
}  // namespace

std::vector<std::string> write_bundle_chakra(const std::string& bundle_dir, const std::string& out_dir,
                                             const std::string& prefix) {
  if (!chakra_available()) write_chakra(out_dir, {});  // throws "built without protobuf"
  namespace fs = std::filesystem;
  std::vector<int> ranks = bundle_ranks(bundle_dir);
  bool multi = !ranks.empty();
  if (!multi) ranks.push_back(-1);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!is_directory_path(out_dir)) throw make_error(out_dir, "", "cannot create the output directory");
  std::vector<std::string> files;
  ChakraCommGroups groups;
  GroupIds ids;
  for (int rk : ranks) {
    CapturedStep st = load_bundle(bundle_dir, rk);
    for (auto& [name, members] : st.process_groups)
      if (!members.empty()) groups[ids.id(name)] = std::vector<long>(members.begin(), members.end());
    ChakraTrace t = bundle_rank_trace(st, bundle_dir, ids);
    std::string path = (fs::path(out_dir) / (prefix + "." + std::to_string(multi ? rk : st.rank) + ".et")).string();
    write_chakra(path, t);
    files.push_back(path);
  }
  if (!groups.empty()) write_comm_groups((fs::path(out_dir) / (prefix + ".comm_groups.json")).string(), groups);
  return files;
}

// ======================================================================== chakra-run
namespace {
std::string node_label(const ChakraNode& n) { return "node " + std::to_string(n.id); }
constexpr double kMaxNodeBytes = 1e18, kMaxNodeOps = 1e24;

// The attributes chakra-run reads must hold numbers in their range: a NaN, negative or
// non-numeric size would otherwise cost nothing (or wrap a group size) without a word.
void check_run_node(const std::string& file, const ChakraNode& n, int traces) {
  if (static_cast<int>(n.type) < 0 || static_cast<int>(n.type) > static_cast<int>(ChakraNodeType::Checkpoint))
    throw make_error(file, node_label(n) + ": type", std::to_string(static_cast<int>(n.type)) + " is not a Chakra NodeType (0-10)");
  auto num = [&](const char* name, double lo, double hi, bool integer, double def) {
    const ChakraAttr* a = n.attr(name);
    if (!a) return def;
    double v;
    if (!a->numeric(&v)) throw make_error(file, node_label(n) + ": " + name, "expected a number");
    if (!(v >= lo && v <= hi) || (integer && v != std::floor(v))) {
      char buf[160];
      if (hi >= std::numeric_limits<double>::max())
        std::snprintf(buf, sizeof buf, "%.15g is out of range (expected a finite number >= %g)", v, lo);
      else
        std::snprintf(buf, sizeof buf, "%.15g is out of range (expected %s from %.15g to %.15g)", v, integer ? "an integer" : "a number", lo, hi);
      throw make_error(file, node_label(n) + ": " + name, buf);
    }
    return v;
  };
  // An exabyte and 1e24 operations: beyond them no node's time fits the simulator's range on any
  // hardware (a 1e18 FLOP/s chip takes 1e6 s), and a larger value is a broken field.
  num("num_ops", 0, kMaxNodeOps, false, 0);
  num("tensor_size", 0, kMaxNodeBytes, false, 0);
  num("comm_size", 0, kMaxNodeBytes, false, 0);
  num("comm_type", 0, 9, true, 0);  // CollectiveCommType: ALL_REDUCE .. BARRIER
  // 0: group size unknown (what `orrery convert` writes for a capture without "Group size").
  double gs = num("comm_group_size", 0, 1 << 24, true, traces);
  num("comm_group_per_node", 1, std::max(1.0, gs), true, 1);
  for (const char* r : {"comm_src", "comm_dst", "comm_tag"}) num(r, -2147483648.0, 2147483647.0, true, 0);
}

// Kahn's order over the in-trace dependencies; nodes left over sit on (or behind) a cycle and
// would never run. Walking back along unfinished dependencies from one of them reaches a node
// of the cycle, which the error names.
void check_acyclic(const std::string& file, const ChakraTrace& t, const std::map<std::uint64_t, std::size_t>& index,
                   std::vector<int> missing, const std::vector<std::vector<std::size_t>>& children) {
  const std::size_t N = t.nodes.size();
  std::vector<std::size_t> ready;
  for (std::size_t n = 0; n < N; ++n)
    if (missing[n] == 0) ready.push_back(n);
  std::size_t done = 0;
  while (!ready.empty()) {
    std::size_t x = ready.back();
    ready.pop_back();
    ++done;
    for (auto ch : children[x])
      if (--missing[ch] == 0) ready.push_back(ch);
  }
  if (done == N) return;
  std::size_t x = 0;
  while (missing[x] == 0) ++x;
  std::vector<char> seen(N, 0);
  while (!seen[x]) {
    seen[x] = 1;
    for (auto* deps : {&t.nodes[x].data_deps, &t.nodes[x].ctrl_deps})
      for (auto d : *deps) {
        auto it = index.find(d);
        if (it != index.end() && missing[it->second] > 0) {
          x = it->second;
          goto next;
        }
      }
  next:;
  }
  throw make_error(file, node_label(t.nodes[x]),
                   "dependency cycle (data_deps/ctrl_deps): " + std::to_string(N - done) + " of " + std::to_string(N) + " nodes could never run");
}
}  // namespace

namespace {

struct RankTrace {
  long rank = 0;
  std::string file;
  ChakraTrace t;
  std::vector<std::size_t> order;  // topological order of the nodes
};

// Reads every *.et of `dir` (rank from <prefix>.<rank>.et, else the file's index), checks node
// ids, attributes and dependencies, and orders each trace's nodes topologically.
std::vector<RankTrace> load_rank_traces(const std::string& dir, std::vector<std::string>& files,
                                        std::vector<std::string>* notes) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw make_error(dir, "", "not a directory of Chakra traces (*.et)");
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".et") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw make_error(dir, "", "no *.et Chakra traces found");
  const int R = static_cast<int>(files.size());
  std::vector<RankTrace> out(static_cast<std::size_t>(R));
  std::set<long> seen;
  // Read as Chakra's tools read traces (self-dependencies dropped, group sizes from pg_name).
  std::string groups_file = find_comm_groups(dir);
  const ChakraCommGroups groups = groups_file.empty() ? ChakraCommGroups{} : read_comm_groups(groups_file);
  for (int k = 0; k < R; ++k) {
    RankTrace& rt = out[static_cast<std::size_t>(k)];
    rt.file = files[static_cast<std::size_t>(k)];
    rt.t = read_chakra_for_run(rt.file, groups, notes);
    std::string stem = fs::path(rt.file).stem().string();
    auto dot = stem.rfind('.');
    rt.rank = k;
    try {
      if (dot != std::string::npos) rt.rank = std::stol(stem.substr(dot + 1));
    } catch (...) {
    }
    if (rt.rank < 0 || rt.rank > 1000000 || !seen.insert(rt.rank).second)
      throw make_error(rt.file, "rank", "rank " + std::to_string(rt.rank) + " from the file name is negative, huge or taken by another trace");
    auto& t = rt.t;
    std::map<std::uint64_t, std::size_t> index;
    for (std::size_t n = 0; n < t.nodes.size(); ++n) {
      auto ins = index.emplace(t.nodes[n].id, n);
      if (!ins.second)
        throw make_error(rt.file, node_label(t.nodes[n]), "duplicate node id (messages " + std::to_string(ins.first->second + 1) +
                                                              " and " + std::to_string(n + 1) + " of the trace)");
    }
    std::vector<int> missing(t.nodes.size(), 0);
    std::vector<std::vector<std::size_t>> children(t.nodes.size());
    for (std::size_t n = 0; n < t.nodes.size(); ++n) {
      check_run_node(rt.file, t.nodes[n], R);
      for (auto* deps : {&t.nodes[n].data_deps, &t.nodes[n].ctrl_deps})
        for (auto d : *deps) {
          if (d == t.nodes[n].id) throw make_error(rt.file, node_label(t.nodes[n]), "depends on itself");
          auto it = index.find(d);
          if (it == index.end()) continue;  // dependency outside the trace: ignored
          missing[n]++;
          children[it->second].push_back(n);
        }
    }
    check_acyclic(rt.file, t, index, missing, children);
    std::deque<std::size_t> q;
    for (std::size_t n = 0; n < t.nodes.size(); ++n)
      if (missing[n] == 0) q.push_back(n);
    while (!q.empty()) {
      std::size_t n = q.front();
      q.pop_front();
      rt.order.push_back(n);
      for (auto ch : children[n])
        if (--missing[ch] == 0) q.push_back(ch);
    }
  }
  return out;
}

coll::Op chakra_coll_op(double type) {
  switch (static_cast<int>(type)) {
    case 0: return coll::Op::AllReduce;
    case 1: return coll::Op::Reduce;
    case 2: return coll::Op::AllGather;
    case 5: return coll::Op::Broadcast;
    case 6: return coll::Op::AllToAll;
    case 7: case 8: return coll::Op::ReduceScatter;
    default: return coll::Op::AllReduce;
  }
}

// The job's size by orrery convert's communicator-group file (its groups list every rank, also
// those without a trace: one representative trace per stage); 0 without the file.
int comm_groups_world(const std::string& dir) {
  std::string path = find_comm_groups(dir);
  if (path.empty() || !path_exists(path)) return 0;
  nlohmann::json j = read_json_file(path);
  long world = 0;
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_array())
        for (auto& r : v)
          if (r.is_number_integer() && r.get<long>() >= 0 && r.get<long>() < 1000000) world = std::max(world, r.get<long>() + 1);
  return static_cast<int>(world);
}

// Communicator groups beside the traces ({"<pg>": [ranks]}), if any: the directory's
// *comm_groups.json (what orrery convert writes, see find_comm_groups), else comm_group.json.
std::map<std::string, std::vector<int>> load_comm_groups(const std::string& dir, int world) {
  std::map<std::string, std::vector<int>> out;
  std::string path = find_comm_groups(dir);
  // orrery convert's file lists every group of the job, also of ranks without a trace (one
  // representative trace per stage): such a group is left out (its collectives take
  // comm_group_size, which read_chakra_for_run set from it).
  const bool partial_ok = !path.empty();
  if (path.empty()) path = (std::filesystem::path(dir) / "comm_group.json").string();
  if (!path_exists(path)) return out;
  nlohmann::json j = read_json_file(path);
  if (!j.is_object()) throw make_error(path, "", "expected an object: communicator group -> ranks");
  for (auto& [k, v] : j.items()) {
    if (!v.is_array() || v.empty()) throw make_error(path, k, "expected a non-empty array of ranks");
    bool outside = false;
    for (auto& r : v) outside |= r.is_number_integer() && r.get<long>() >= world;
    if (partial_ok && outside) continue;
    for (auto& r : v) {
      if (!r.is_number_integer() || r.get<long>() < 0 || r.get<long>() >= world)
        throw make_error(path, k, "ranks must be integers of the job (0.." + std::to_string(world - 1) + ")");
      out[k].push_back(r.get<int>());
    }
  }
  return out;
}

// What write_workload_chakra keeps exactly (orrery_* attributes) onto the node read from the
// Chakra fields: stream, time, SM/HBM shares, repeat, launch delay, memory nodes.
void apply_exact(const ChakraNode& c, wg::Node& x) {
  auto num = [&](const char* name, double def, double lo, double hi) {
    double v = c.attr_num(name, def);
    if (!(v >= lo && v <= hi)) throw Error(std::string(name) + ": " + std::to_string(v) + " is out of range");
    return v;
  };
  x.stream = static_cast<int>(num("orrery_stream", x.stream, -1e6, 1e6));
  if (const ChakraAttr* cls = c.attr("op_class"); cls && cls->kind == ChakraAttr::String) x.cls = cls->s;
  x.issue_delay_s = num("orrery_issue_delay_s", 0, 0, kMaxSimSeconds);
  x.graph_node = num("orrery_graph_node", 0, 0, 1) != 0;
  if (c.attr("orrery_time_s")) x.time_s = num("orrery_time_s", 0, 0, kMaxSimSeconds);
  if (x.kind == wg::Kind::Compute) {
    x.sm_share = num("orrery_sm_share", x.sm_share, 0, 1);
    x.hbm_share = num("orrery_hbm_share", x.hbm_share, 0, 1);
  }
  if (x.kind == wg::Kind::Collective) x.repeat = static_cast<int>(num("orrery_repeat", 1, 1, 1e9));
  if (c.type == ChakraNodeType::MemLoad || c.type == ChakraNodeType::MemStore) {
    x.kind = c.type == ChakraNodeType::MemLoad ? wg::Kind::Alloc : wg::Kind::Free;
    x.bytes = num("tensor_size", 0, 0, 1e18);
    x.time_s = 0;
  }
}

// What translating one rank's Chakra nodes reads: its trace and accelerator, the job's traces and
// communicator groups, the system (a send/recv whose peer has no trace runs alone on it), the
// workload (its groups).
struct RankCtx {
  const RankTrace& rt;
  const Accelerator& hw;
  const std::vector<RankTrace>& traces;
  std::map<std::string, std::vector<int>>& groups;
  const topo::System& sys;
  wg::Workload& w;
  long world;
  int rank;
  // f(), with an Error from it named by the trace file and node.
  double in_node(const ChakraNode& c, const std::function<double()>& f) const {
    try {
      return f();
    } catch (const Error& e) {
      throw make_error(rt.file, node_label(c), e.what());
    }
  }
};

// A compute node: its recorded duration, else (0 us) the accelerator's time for its FLOPs and bytes.
void comp_node(const RankCtx& k, const ChakraNode& c, wg::Node& x, double d) {
  x.kind = wg::Kind::Compute;
  x.cls = "compute";
  double fl = c.attr_num("num_ops", 0), by = c.attr_num("tensor_size", 0);
  if (c.duration_micros == 0 && (fl > 0 || by > 0))
    d = k.in_node(c, [&] { return k.hw.kernel_time(fl, by, Dtype::BF16, fl > 0); });
  x.time_s = d;
  x.flops = fl;
  x.bytes = by;
}

// A collective on its communicator group (pg_name), else on the block of comm_group_size ranks
// holding this rank; a timed collective without a size is its recorded duration.
void coll_node(const RankCtx& k, const ChakraNode& c, wg::Node& x, double d, double size) {
  x.stream = 1;
  x.cls = "comm";
  if (d > 0 && size <= 0) {  // a timed collective without a size: its recorded duration
    x.kind = wg::Kind::Delay;
    x.time_s = d;
    return;
  }
  x.kind = wg::Kind::Collective;
  x.op = chakra_coll_op(c.attr_num("comm_type", 0));
  x.bytes = size;
  std::vector<int> members;
  const ChakraAttr* pg = c.attr("pg_name");
  if (pg && k.groups.count(pg->s)) {
    members = k.groups[pg->s];
  } else {
    int gs = static_cast<int>(c.attr_num("comm_group_size", static_cast<double>(k.world)));
    if (gs <= 0 || gs > k.world) gs = static_cast<int>(k.world);  // 0 / absent: every trace
    // The block of comm_group_size ranks holding this rank, whether or not every member
    // has a trace (representative-rank traces): members without one are not waited for.
    int base = k.rank / gs * gs;
    for (int r = base; r < base + gs; ++r) members.push_back(r);
  }
  std::string gname = pg && !pg->s.empty() ? pg->s : "group" + std::to_string(members.size());
  x.group = k.w.group(gname, members);
}

// A send or receive; when the other side has no trace, the transfer alone on the fabric (a delay).
void p2p_node(const RankCtx& k, const ChakraNode& c, wg::Node& x, double size) {
  bool send = c.type == ChakraNodeType::CommSend;
  x.kind = send ? wg::Kind::Send : wg::Kind::Recv;
  x.cls = "p2p";
  x.stream = 1;
  x.peer = static_cast<int>(send ? c.attr_num("comm_dst", -1) : c.attr_num("comm_src", -1));
  x.tag = static_cast<std::int64_t>(c.attr_num("comm_tag", 0));
  x.bytes = size;
  bool present = false;
  for (auto& o : k.traces) present = present || o.rank == x.peer;
  if (present) return;
  if (x.peer < 0 || x.peer >= k.sys.topo.num_gpus())
    throw make_error(k.rt.file, node_label(c), "peer rank " + std::to_string(x.peer) + " is not in the system");
  coll::CollectiveSpec spec;
  spec.op = coll::Op::SendRecv;
  spec.bytes = size;
  spec.ranks = {k.rank, x.peer};
  x.kind = wg::Kind::Delay;
  x.time_s = k.in_node(c, [&] { return coll::simulate_collective(k.sys, spec).time_s; });
}

// One Chakra node as a workload node (without dependencies); `exact`: orrery's own attributes
// override. A duration beyond the simulator's range is an error.
wg::Node node_from_chakra(const RankCtx& k, const ChakraNode& c, bool exact) {
  wg::Node x;
  x.name = c.name.empty() ? node_label(c) : node_label(c) + ": " + c.name;
  double d = static_cast<double>(c.duration_micros) * 1e-6;
  double size = c.attr_num("comm_size", 0);
  switch (c.type) {
    case ChakraNodeType::Comp: comp_node(k, c, x, d); break;
    case ChakraNodeType::CommColl: coll_node(k, c, x, d, size); break;
    case ChakraNodeType::CommSend:
    case ChakraNodeType::CommRecv: p2p_node(k, c, x, size); break;
    default:
      x.kind = wg::Kind::Delay;
      x.cls = "other";
      x.time_s = d;
  }
  if (exact) k.in_node(c, [&] { return apply_exact(c, x), 0.0; });
  if (!(x.time_s >= 0 && x.time_s < kMaxSimSeconds))
    throw make_error(k.rt.file, node_label(c),
                     std::string("duration") + (c.duration_micros == 0 ? " (from num_ops, tensor_size, comm_size)" : "") +
                         " beyond the simulator's range (about 104 days)");
  return x;
}

// One rank's graph: its nodes in trace order, each depending on the earlier nodes its data and
// control dependencies name (sorted, unique).
wg::RankGraph rank_graph_from_chakra(const RankCtx& k) {
  const RankTrace& rt = k.rt;
  bool exact = false;  // written by write_workload_chakra: orrery_* attributes hold exact values
  for (auto& m : rt.t.metadata) exact = exact || (m.name == "generator" && m.s == "orrery");
  wg::RankGraph g;
  g.rank = k.rank;
  std::map<std::size_t, std::int32_t> new_index;
  std::map<std::uint64_t, std::size_t> by_id;
  for (std::size_t m = 0; m < rt.t.nodes.size(); ++m) by_id[rt.t.nodes[m].id] = m;
  for (std::size_t n : rt.order) {
    const ChakraNode& c = rt.t.nodes[n];
    wg::Node x = node_from_chakra(k, c, exact);
    for (auto* deps : {&c.data_deps, &c.ctrl_deps})
      for (auto dep : *deps) {
        auto it = by_id.find(dep);
        if (it != by_id.end() && new_index.count(it->second)) x.deps.push_back(new_index[it->second]);
      }
    std::sort(x.deps.begin(), x.deps.end());
    x.deps.erase(std::unique(x.deps.begin(), x.deps.end()), x.deps.end());
    new_index[n] = static_cast<std::int32_t>(g.nodes.size());
    g.nodes.push_back(std::move(x));
  }
  return g;
}

}  // namespace

ChakraWorkload chakra_workload(const std::string& dir, const ClusterHardware& chw_or_null_hw, const topo::System& sys) {
  ChakraWorkload out;
  std::vector<RankTrace> traces = load_rank_traces(dir, out.files, &out.notes);
  std::stable_sort(traces.begin(), traces.end(), [](auto& a, auto& b) { return a.rank < b.rank; });
  out.files.clear();
  for (auto& rt : traces) out.files.push_back(rt.file);
  // Representative traces (one per stage) run in a job of all the groups' ranks: their
  // collectives span the ranks without a trace too, which are not waited for.
  // (orrery convert writes one trace per pipeline stage by default, and each trace's metadata
  // says how many ranks the job has: the ranks without a trace are in no group the traces use)
  long world = comm_groups_world(dir);
  for (auto& rt : traces) {
    world = std::max(world, rt.rank + 1);
    for (auto& a : rt.t.metadata) {
      double v = 0;
      if (a.name == "world_size" && a.numeric(&v) && v >= 0 && v <= 1e6) world = std::max(world, static_cast<long>(v));
    }
  }
  out.w.world = static_cast<int>(world);
  out.w.name = dir;
  auto groups = load_comm_groups(dir, out.w.world);
  for (auto& rt : traces) {
    const Accelerator& hw = *chw_or_null_hw.of(static_cast<int>(rt.rank)).hw;
    RankCtx k{rt, hw, traces, groups, sys, out.w, world, static_cast<int>(rt.rank)};
    out.w.ranks.push_back(rank_graph_from_chakra(k));
  }
  std::stable_sort(out.w.ranks.begin(), out.w.ranks.end(), [](auto& a, auto& b) { return a.rank < b.rank; });
  for (auto& g : out.w.groups)
    for (int r : g.ranks) out.w.world = std::max(out.w.world, r + 1);
  return out;
}

std::vector<long> chakra_trace_ranks(const std::string& dir, std::string* first_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(dir, ec))
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".et") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (first_file) *first_file = files.empty() ? "" : files.front();
  std::vector<long> ranks;
  for (std::size_t k = 0; k < files.size(); ++k) {  // as load_rank_traces names ranks
    std::string stem = fs::path(files[k]).stem().string();
    auto dot = stem.rfind('.');
    long rank = static_cast<long>(k);
    try {
      if (dot != std::string::npos) rank = std::stol(stem.substr(dot + 1));
    } catch (...) {
    }
    if (rank >= 0 && rank <= 1000000) ranks.push_back(rank);
  }
  return ranks;
}

int chakra_world(const std::string& dir) {
  std::string first;
  long world = 0;
  for (long r : chakra_trace_ranks(dir, &first)) world = std::max(world, r + 1);
  if (!first.empty()) world = std::max(world, chakra_metadata_world(first));
  return std::max(static_cast<int>(world), comm_groups_world(dir));
}

ChakraRunResult run_chakra_dir(const std::string& dir, const std::string& system) {
  int world = chakra_world(dir);
  topo::System sys = topo::load_system(system);
  if (sys.topo.num_gpus() < world && sys.topo.type == "nvswitch" && sys.topo.gpus_per_node > 0)
    sys = topo::load_system(system, (world + sys.topo.gpus_per_node - 1) / sys.topo.gpus_per_node);
  ClusterOptions none;
  ClusterHardware hw(sys.accelerator, {}, none, std::max(world, sys.topo.num_gpus()));
  EventCore core;
  return run_chakra_dir(dir, sys, hw, none, core);
}

namespace {
// Busy time of these classes is communication (chakra-run's classes, and the training graph's
// group kinds in traces written by write_workload_chakra); anything else is compute.
bool comm_class(const std::string& cls) {
  for (const char* c : {"comm", "p2p", "tp", "cp", "ep", "dp", "pp"})
    if (cls == c) return true;
  return false;
}
}  // namespace

ChakraRunResult run_chakra_dir(const std::string& dir, const topo::System& sys, const ClusterHardware& hw,
                               const ClusterOptions& o, EventCore& core, Timeline* timeline) {
  // The workload needs a system with its ranks: checked before costing anything on it.
  ChakraWorkload cw = chakra_workload(dir, hw, sys);
  cw.w.validate(dir);
  std::vector<int> place = load_placement(o, cw.w.world, sys.topo.num_gpus());
  check_connected(cw.w, sys, place);
  std::vector<RankHardware> rh;
  for (auto& g : cw.w.ranks) rh.push_back(hw.of(g.rank));
  ExecOptions eo;
  eo.timeline = timeline;
  eo.placement = place;
  eo.components = comp::load_plugins(o.components);
  ChakraRunResult res;
  res.files = cw.files;
  res.notes = cw.notes;
  res.nodes = cw.w.node_count();
  res.exec = execute(cw.w, sys, rh, core, eo);
  for (auto& r : res.exec.ranks) {
    res.rank_time_s.push_back(r.end_s);
    for (auto& [cls, t] : r.busy_by_class) (comm_class(cls) ? res.comm_s : res.compute_s) += t;
  }
  res.makespan_s = res.exec.makespan_s;
  return res;
}

}  // namespace orrery
