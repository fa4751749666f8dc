// Published GEMM and all-reduce figures against the chip and fabric models (published_hardware.h).
#include "validation/published_hardware.h"

#include "hw_models/accelerator.h"
#include "hw_models/mapping.h"
#include "sim/data_files.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/limits.h"
#include "topology/topology.h"
#include "workloads/collective.h"
#include "workloads/json_io.h"

namespace orrery {

namespace {

// The row's prediction; a preset, system or collective the model refuses is named by the row.
template <class F>
auto for_row(const std::string& where, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    std::string m = e.what();
    throw m.rfind(where, 0) == 0 ? e : Error(where + ": " + m);  // (the row's own checks name it already)
  }
}

// A string field of the row; `def` empty: required.
std::string text(const nlohmann::json& row, const char* k, const std::string& where, const std::string& def = "") {
  if (def.empty() && !row.contains(k)) throw make_error(where, k, "missing field");
  return json_string_field(row, k, def, where);
}

// The array `key` of the file (absent: none), each entry an object.
const nlohmann::json& rows_of(const nlohmann::json& j, const char* key, const std::string& path) {
  static const nlohmann::json none = nlohmann::json::array();
  if (!j.contains(key)) return none;
  if (!j[key].is_array()) throw make_error(path, key, "expected an array of rows");
  for (size_t i = 0; i < j[key].size(); ++i)
    if (!j[key][i].is_object())
      throw make_error(path + ": " + key + "[" + std::to_string(i) + "]", "", "expected an object");
  return j[key];
}

PublishedGemmRow gemm_row(const nlohmann::json& row, const std::string& where, const std::vector<std::string>& sets) {
  PublishedGemmRow g;
  g.source = json_string_field(row, "source", "", where);
  g.hw = text(row, "hw", where);
  g.dtype = text(row, "dtype", where);
  g.m = json_positive_field(row, "m", where, true, 1e12);  // (orrery kernel's bound on a GEMM size)
  g.n = json_positive_field(row, "n", where, true, 1e12);
  g.k = json_positive_field(row, "k", where, true, 1e12);
  g.published_tflops = json_positive_field(row, "tflops", where);
  Dtype d = parse_dtype(g.dtype);
  if (d == Dtype::UNKNOWN) throw make_error(where, "dtype", "'" + g.dtype + "': unknown data type");
  double flops = 2 * g.m * g.n * g.k;
  std::vector<std::string> fp_sets = sets;
  fp_sets.push_back("first_principles=1");
  Accelerator fp = load_accelerator(g.hw, fp_sets);
  g.first_principles_tflops = flops / fp.mapper->gemm(g.m, g.n, g.k, d, 1).time_s / 1e12;
  Accelerator cal = load_accelerator(g.hw, sets);
  g.calibrated_tflops = flops / cal.gemm_time(g.m, g.n, g.k, d, 1) / 1e12;
  return g;
}

PublishedCollectiveRow collective_row(const nlohmann::json& row, const std::string& where) {
  PublishedCollectiveRow c;
  c.source = json_string_field(row, "source", "", where);
  c.system = text(row, "system", where);
  c.op = text(row, "op", where, "all_reduce");
  c.algorithm = text(row, "algorithm", where, "auto");
  c.nodes = row.contains("nodes") ? static_cast<int>(json_positive_field(row, "nodes", where, true, topo::size_limits().gpus)) : 1;
  c.ranks = static_cast<int>(json_positive_field(row, "ranks", where, true, topo::size_limits().gpus));
  c.bytes = json_positive_field(row, "bytes", where, true, kMaxCliSize);
  c.published_busbw = json_positive_field(row, "busbw_gbps", where) * 1e9;
  topo::System sys = topo::load_system(c.system, c.nodes > 1 ? c.nodes : 0);
  if (c.ranks > sys.topo.num_gpus())
    throw make_error(where, "ranks",
                     std::to_string(c.ranks) + " GPUs but system " + sys.name + " has " + std::to_string(sys.topo.num_gpus()));
  coll::CollectiveSpec s;
  s.op = coll::parse_op(c.op);
  s.algo = coll::parse_algo(c.algorithm);
  s.proto = coll::Proto::Auto;
  s.dtype = Dtype::FP32;
  s.bytes = c.bytes;
  for (int r = 0; r < c.ranks; ++r) s.ranks.push_back(r);
  EventCore core;
  coll::CollectiveResult r = coll::simulate_collective(sys, s, &core);
  c.predicted_busbw = r.busbw;
  c.chosen = coll::algo_name(r.algorithm);
  return c;
}

}  // namespace

bool is_published_hardware(const nlohmann::json& j) {
  return j.is_object() && !j.contains("rows") && (j.contains("gemm") || j.contains("collectives"));
}

PublishedHardware validate_published_hardware(const std::string& path, const std::vector<std::string>& hw_overrides) {
  nlohmann::json j = read_json_file(path);
  if (!is_published_hardware(j)) throw make_error(path, "gemm", "missing: not a published-hardware file (\"gemm\" or \"collectives\")");
  PublishedHardware out;
  const auto& gemm = rows_of(j, "gemm", path);
  for (size_t i = 0; i < gemm.size(); ++i) {
    std::string where = path + ": gemm[" + std::to_string(i) + "]";
    out.gemm.push_back(for_row(where, [&] { return gemm_row(gemm[i], where, hw_overrides); }));
  }
  const auto& colls = rows_of(j, "collectives", path);
  for (size_t i = 0; i < colls.size(); ++i) {
    std::string where = path + ": collectives[" + std::to_string(i) + "]";
    out.collectives.push_back(for_row(where, [&] { return collective_row(colls[i], where); }));
  }
  return out;
}

}  // namespace orrery
