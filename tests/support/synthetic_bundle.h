#pragma once
// Builds small capture bundles (ET + Kineto JSON) for tests: multi-stream behaviour, events,
// host-bound steps, and malformed inputs. Times in microseconds as in Kineto.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/json_io.h"

namespace orrery::syn {

struct SynKernel {
  std::string name = "void at::native::vectorized_elementwise_kernel<4, FillFunctor>";
  int stream = 7;
  double dur_us = 10;
  std::int64_t grid = 1024;
  std::string cat = "kernel";  // "gpu_memcpy": a copy (name says HtoD/DtoH), launched by cudaMemcpyAsync
  std::int64_t bytes = 0;      // gpu_memcpy: bytes copied
};

struct SynOp {
  std::string name = "aten::add";
  std::vector<SynKernel> kernels;
  std::string runtime_after;  // e.g. "cudaDeviceSynchronize", "cudaEventRecord", "cudaStreamWaitEvent"
  int event_stream = -1;      // stream for EventRecord / StreamWaitEvent
  std::int64_t wait_on_record = -1;  // correlation of the record for StreamWaitEvent
  std::vector<std::int64_t> shape = {1024, 1024};
  std::string dtype = "float";
  int n_inputs = 1;           // tensors of `shape` passed as inputs (2 for aten::mm)
  int peer = -1;              // c10d::send / c10d::recv_: peer rank (inputs.values[2])
  int seq = 0;                // record_param_comms: sequence number (inputs.values[1][0])
  bool graph = false;         // the kernels are the nodes of one cudaGraphLaunch (one correlation id)
};

struct SynRank {
  int rank = -1;   // >= 0: writes et.<rank>.json / kineto.<rank>.json with distributedInfo
  int world = 1;
};

namespace detail {

using nlohmann::json;

inline json et_attrs(std::int64_t rf, int tid) {
  return json::array({{{"name", "rf_id"}, {"type", "uint64"}, {"value", rf}}, {{"name", "tid"}, {"type", "uint64"}, {"value", tid}}});
}

// Element count of op's shape (wrapping: tests give shapes whose count overflows on purpose; the
// ET's numel is then meaningless and those tests read the Kineto shapes).
inline std::int64_t numel_of(const SynOp& op) {
  std::int64_t numel = 1;
  for (auto d : op.shape) numel = static_cast<std::int64_t>(static_cast<std::uint64_t>(numel) * static_cast<std::uint64_t>(d));
  return numel;
}

// The ET node of op i (record function id rf): its tensors, and for a collective NCCL's or gloo's
// argument layout.
inline json et_node(const SynOp& op, size_t i, std::int64_t rf) {
  std::int64_t numel = numel_of(op);
  json tensor = json::array({static_cast<std::int64_t>(500 + i), static_cast<std::int64_t>(500 + i), 0, numel, 4, "cuda:0"});
  json in = {{"values", json::array()}, {"shapes", json::array()}, {"types", json::array()}};
  for (int k = 0; k < op.n_inputs; ++k) {
    in["values"].push_back(tensor);
    in["shapes"].push_back(op.shape);
    in["types"].push_back("Tensor(" + op.dtype + ")");
  }
  json extra_attrs = json::array();
  if (op.name == "record_param_comms") {  // NCCL-style: [tensors], [seq, is_p2p], [pg name, desc], ...
    in = {{"values", json::array({json::array({tensor}), json::array({op.seq, false}), json::array({"0", "default_pg"})})},
          {"shapes", json::array({json::array({op.shape}), json::array(), json::array()})},
          {"types", json::array({"GenericList[Tensor(" + op.dtype + ")]", "Tuple[Int,Bool]", "Tuple[String,String]"})}};
    extra_attrs = json::array({{{"name", "collective_name"}, {"type", "string"}, {"value", "allreduce"}},
                               {{"name", "dtype"}, {"type", "string"}, {"value", "Float"}},
                               {{"name", "in_msg_nelems"}, {"type", "uint64"}, {"value", numel}},
                               {{"name", "out_msg_nelems"}, {"type", "uint64"}, {"value", numel}},
                               {{"name", "pg_name"}, {"type", "string"}, {"value", "0"}}});
  }
  if (op.name.rfind("c10d::", 0) == 0) {  // gloo-style: tensor list, object, peer/tag
    in = {{"values", json::array({json::array({tensor}), "<Object>", op.peer, 0})},
          {"shapes", json::array({json::array({op.shape}), json::array(), json::array(), json::array()})},
          {"types", json::array({"GenericList[Tensor(" + op.dtype + ")]", "Object", "Int", "Int"})}};
  }
  json out = {{"values", json::array({tensor})}, {"shapes", json::array({op.shape})}, {"types", json::array({"Tensor(" + op.dtype + ")"})}};
  json at = et_attrs(rf, 1);
  for (auto& x : extra_attrs) at.push_back(x);
  return {{"id", 4 + i}, {"name", op.name}, {"ctrl_deps", 3}, {"inputs", in}, {"outputs", out}, {"attrs", at}};
}

// Kineto's record_shapes args of op's cpu_op (what a Kineto-only replay reads), as PyTorch writes them.
inline json kineto_op_args(const SynOp& op, std::int64_t ext, std::int64_t rf) {
  std::int64_t numel = numel_of(op);
  json kargs = {{"External id", ext}, {"Record function id", rf}};
  json dims = json::array(), types = json::array(), conc = json::array();
  if (op.name == "record_param_comms") {
    dims.push_back(json::array({op.shape}));
    types.push_back("TensorList");
    conc.push_back("");
    kargs["Collective name"] = "allreduce";
    kargs["dtype"] = "Float";
    kargs["In msg nelems"] = numel;
    kargs["Out msg nelems"] = numel;
    kargs["Process Group Name"] = "0";
  } else if (op.name.rfind("c10d::", 0) == 0) {
    dims = json::array({json::array({op.shape}), json::array(), json::array(), json::array()});
    types = json::array({"TensorList", "", "Scalar", "Scalar"});
    conc = json::array({"", "", std::to_string(op.peer), "0"});
  } else {
    for (int k = 0; k < op.n_inputs; ++k) {
      dims.push_back(op.shape);
      types.push_back(op.dtype);
      conc.push_back("");
    }
  }
  kargs["Input Dims"] = dims;
  kargs["Input type"] = types;
  kargs["Concrete Inputs"] = conc;
  return kargs;
}

// op's launches from host time lt (one cudaGraphLaunch for all its kernels when op.graph) and its
// GPU activities from gpu_t; corr is the last correlation id used. Returns the host time after them.
inline double launch_events(const SynOp& op, std::int64_t ext, double lt, double& gpu_t, std::int64_t& corr, json& ev) {
  for (std::size_t ki = 0; ki < op.kernels.size(); ++ki) {
    const SynKernel& k = op.kernels[ki];
    const bool copy = k.cat == "gpu_memcpy", node = op.graph && ki > 0;
    if (!node) {
      ++corr;
      ev.push_back({{"ph", "X"}, {"cat", "cuda_runtime"},
                    {"name", op.graph ? "cudaGraphLaunch" : copy ? "cudaMemcpyAsync" : "cudaLaunchKernel"}, {"pid", 1},
                    {"tid", 1}, {"ts", lt}, {"dur", 5}, {"args", {{"External id", ext}, {"correlation", corr}}}});
    }
    gpu_t = std::max(gpu_t, lt + 5);  // as in real captures, GPU work starts after its launch
    json gargs = {{"External id", ext}, {"stream", k.stream}, {"correlation", corr}};
    if (copy) gargs["bytes"] = k.bytes;
    else gargs.update({{"grid", {k.grid, 1, 1}}, {"block", {128, 1, 1}}});
    ev.push_back({{"ph", "X"}, {"cat", k.cat}, {"name", k.name}, {"pid", 0}, {"tid", k.stream}, {"ts", gpu_t}, {"dur", k.dur_us},
                  {"args", gargs}});
    gpu_t += k.dur_us + 2;
    if (!op.graph) lt += 10;
  }
  return lt;
}

// et[.rank].json, kineto[.rank].json (with distributedInfo for a rank) and measured.json.
inline void write_bundle_files(const std::string& dir, const json& nodes, json ev, double measured_ms, SynRank rk) {
  namespace fs = std::filesystem;
  json et = {{"schema", "1.1.1-chakra.0.0.4"}, {"pid", 1}, {"nodes", nodes}};
  json kin = {{"schemaVersion", 1}, {"traceEvents", std::move(ev)}};
  std::string suffix;
  if (rk.rank >= 0) {
    suffix = "." + std::to_string(rk.rank);
    json ranks = json::array();
    for (int i = 0; i < rk.world; ++i) ranks.push_back(i);
    kin["distributedInfo"] = {{"backend", "gloo"}, {"rank", rk.rank}, {"world_size", rk.world},
                              {"pg_config", json::array({{{"pg_name", "0"}, {"pg_size", rk.world}, {"ranks", ranks}}})}};
  }
  write_json_file((fs::path(dir) / ("et" + suffix + ".json")).string(), et);
  write_json_file((fs::path(dir) / ("kineto" + suffix + ".json")).string(), kin);
  if (measured_ms > 0)
    write_json_file((fs::path(dir) / "measured.json").string(),
                    {{"name", "synthetic"}, {"step_cuda_events", {{"median_ms", measured_ms}, {"min_ms", measured_ms}, {"max_ms", measured_ms}}}});
}

}  // namespace detail

// Writes et.json + kineto.json (+ measured.json when measured_ms > 0) into dir.
// Returns the correlation ids of each op's runtime_after call (or -1).
inline std::vector<std::int64_t> write_synthetic_bundle(const std::string& dir, const std::vector<SynOp>& ops,
                                                        double measured_ms = 0, SynRank rk = {}) {
  using nlohmann::json;
  std::filesystem::create_directories(dir);
  json nodes = json::array();
  auto empty_io = json{{"values", json::array()}, {"shapes", json::array()}, {"types", json::array()}};
  nodes.push_back({{"id", 1}, {"name", "[pytorch|profiler|execution_trace|process]"}, {"ctrl_deps", 1}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", detail::et_attrs(0, 0)}});
  nodes.push_back({{"id", 2}, {"name", "[pytorch|profiler|execution_trace|thread]"}, {"ctrl_deps", 1}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", detail::et_attrs(0, 1)}});
  nodes.push_back({{"id", 3}, {"name", "ProfilerStep#1"}, {"ctrl_deps", 2}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", detail::et_attrs(1, 1)}});
  json ev = json::array();
  double t = 1000;  // us
  std::int64_t corr = 100;
  double total = 0;
  for (auto& op : ops) total += 50 + 10.0 * op.kernels.size();
  ev.push_back({{"ph", "X"}, {"cat", "user_annotation"}, {"name", "ProfilerStep#1"}, {"pid", 1}, {"tid", 1}, {"ts", t}, {"dur", total + 100000}, {"args", {{"External id", 1}, {"Record function id", 1}}}});
  std::vector<std::int64_t> after_corr;
  double gpu_t = t + 100;
  for (size_t i = 0; i < ops.size(); ++i) {
    const SynOp& op = ops[i];
    std::int64_t rf = 10 + static_cast<std::int64_t>(i);
    std::int64_t ext = 1000 + static_cast<std::int64_t>(i);
    nodes.push_back(detail::et_node(op, i, rf));
    double dur = 40 + 10.0 * op.kernels.size();
    ev.push_back({{"ph", "X"}, {"cat", "cpu_op"}, {"name", op.name}, {"pid", 1}, {"tid", 1}, {"ts", t}, {"dur", dur},
                  {"args", detail::kineto_op_args(op, ext, rf)}});
    double lt = detail::launch_events(op, ext, t + 5, gpu_t, corr, ev);
    std::int64_t ac = -1;
    if (!op.runtime_after.empty()) {
      ac = ++corr;
      json args = {{"External id", ext}, {"correlation", ac}};
      if (op.event_stream >= 0) args["stream"] = op.event_stream;
      if (op.wait_on_record >= 0) args["wait_on_cuda_event_record_corr_id"] = op.wait_on_record;
      ev.push_back({{"ph", "X"}, {"cat", "cuda_runtime"}, {"name", op.runtime_after}, {"pid", 1}, {"tid", 1}, {"ts", lt}, {"dur", 3}, {"args", args}});
    }
    after_corr.push_back(ac);
    t += dur + 10;
  }
  detail::write_bundle_files(dir, nodes, std::move(ev), measured_ms, rk);
  return after_corr;
}

inline std::string temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() / ("orrery_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// A 256 MiB fp32 NCCL all-reduce as PyTorch records it (record_param_comms with its sequence
// number) with its NCCL kernel on stream 7 (behind compute, as after a wait on the gradients).
inline SynOp nccl_allreduce(int seq) {
  SynOp c;
  c.name = "record_param_comms";
  c.shape = {64 << 20};
  c.seq = seq;
  SynKernel k;
  k.name = "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)";
  k.stream = 7;
  k.dur_us = 10;
  k.grid = 16;
  c.kernels = {k};
  return c;
}

// 2 ms of elementwise work on a 4096 x 4096 tensor (one full-GPU kernel).
inline SynOp two_ms_of_work() {
  SynOp work;
  work.name = "aten::add";
  work.shape = {4096, 4096};
  SynKernel big;
  big.dur_us = 2000;
  big.grid = 16384;
  work.kernels = {big};
  return work;
}

}  // namespace orrery::syn
