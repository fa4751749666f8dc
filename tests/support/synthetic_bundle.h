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

// Writes et.json + kineto.json (+ measured.json when measured_ms > 0) into dir.
// Returns the correlation ids of each op's runtime_after call (or -1).
inline std::vector<std::int64_t> write_synthetic_bundle(const std::string& dir, const std::vector<SynOp>& ops,
                                                        double measured_ms = 0, SynRank rk = {}) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  auto attrs = [](std::int64_t rf, int tid) {
    return nlohmann::json::array({{{"name", "rf_id"}, {"type", "uint64"}, {"value", rf}},
                                  {{"name", "tid"}, {"type", "uint64"}, {"value", tid}}});
  };
  nlohmann::json nodes = nlohmann::json::array();
  auto empty_io = nlohmann::json{{"values", nlohmann::json::array()}, {"shapes", nlohmann::json::array()}, {"types", nlohmann::json::array()}};
  nodes.push_back({{"id", 1}, {"name", "[pytorch|profiler|execution_trace|process]"}, {"ctrl_deps", 1}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", attrs(0, 0)}});
  nodes.push_back({{"id", 2}, {"name", "[pytorch|profiler|execution_trace|thread]"}, {"ctrl_deps", 1}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", attrs(0, 1)}});
  nodes.push_back({{"id", 3}, {"name", "ProfilerStep#1"}, {"ctrl_deps", 2}, {"inputs", empty_io}, {"outputs", empty_io}, {"attrs", attrs(1, 1)}});
  nlohmann::json ev = nlohmann::json::array();
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
    std::int64_t numel = 1;
    // Wrapping product: tests give shapes whose element count overflows on purpose (the ET's
    // numel is then meaningless; those tests read the Kineto shapes).
    for (auto d : op.shape) numel = static_cast<std::int64_t>(static_cast<std::uint64_t>(numel) * static_cast<std::uint64_t>(d));
    nlohmann::json tensor = nlohmann::json::array({static_cast<std::int64_t>(500 + i), static_cast<std::int64_t>(500 + i), 0, numel, 4, "cuda:0"});
    nlohmann::json in = {{"values", nlohmann::json::array()}, {"shapes", nlohmann::json::array()}, {"types", nlohmann::json::array()}};
    for (int k = 0; k < op.n_inputs; ++k) {
      in["values"].push_back(tensor);
      in["shapes"].push_back(op.shape);
      in["types"].push_back("Tensor(" + op.dtype + ")");
    }
    nlohmann::json extra_attrs = nlohmann::json::array();
    if (op.name == "record_param_comms") {  // NCCL-style: [tensors], [seq, is_p2p], [pg name, desc], ...
      in = {{"values", nlohmann::json::array({nlohmann::json::array({tensor}), nlohmann::json::array({op.seq, false}),
                                              nlohmann::json::array({"0", "default_pg"})})},
            {"shapes", nlohmann::json::array({nlohmann::json::array({op.shape}), nlohmann::json::array(), nlohmann::json::array()})},
            {"types", nlohmann::json::array({"GenericList[Tensor(" + op.dtype + ")]", "Tuple[Int,Bool]", "Tuple[String,String]"})}};
      extra_attrs = nlohmann::json::array({{{"name", "collective_name"}, {"type", "string"}, {"value", "allreduce"}},
                                           {{"name", "dtype"}, {"type", "string"}, {"value", "Float"}},
                                           {{"name", "in_msg_nelems"}, {"type", "uint64"}, {"value", numel}},
                                           {{"name", "out_msg_nelems"}, {"type", "uint64"}, {"value", numel}},
                                           {{"name", "pg_name"}, {"type", "string"}, {"value", "0"}}});
    }
    if (op.name.rfind("c10d::", 0) == 0) {  // gloo-style: tensor list, object, peer/tag
      in = {{"values", nlohmann::json::array({nlohmann::json::array({tensor}), "<Object>", op.peer, 0})},
            {"shapes", nlohmann::json::array({nlohmann::json::array({op.shape}), nlohmann::json::array(), nlohmann::json::array(), nlohmann::json::array()})},
            {"types", nlohmann::json::array({"GenericList[Tensor(" + op.dtype + ")]", "Object", "Int", "Int"})}};
    }
    nlohmann::json out = {{"values", nlohmann::json::array({tensor})}, {"shapes", nlohmann::json::array({op.shape})},
                          {"types", nlohmann::json::array({"Tensor(" + op.dtype + ")"})}};
    nlohmann::json at = attrs(rf, 1);
    for (auto& x : extra_attrs) at.push_back(x);
    nodes.push_back({{"id", 4 + i}, {"name", op.name}, {"ctrl_deps", 3}, {"inputs", in}, {"outputs", out}, {"attrs", at}});
    double dur = 40 + 10.0 * op.kernels.size();
    // Kineto's record_shapes args (what a Kineto-only replay reads), as PyTorch writes them.
    nlohmann::json kargs = {{"External id", ext}, {"Record function id", rf}};
    {
      nlohmann::json dims = nlohmann::json::array(), types = nlohmann::json::array(), conc = nlohmann::json::array();
      std::string kdt = op.dtype == "float" ? "float" : op.dtype;
      if (op.name == "record_param_comms") {
        dims.push_back(nlohmann::json::array({op.shape}));
        types.push_back("TensorList");
        conc.push_back("");
        kargs["Collective name"] = "allreduce";
        kargs["dtype"] = "Float";
        kargs["In msg nelems"] = numel;
        kargs["Out msg nelems"] = numel;
        kargs["Process Group Name"] = "0";
      } else if (op.name.rfind("c10d::", 0) == 0) {
        dims = nlohmann::json::array({nlohmann::json::array({op.shape}), nlohmann::json::array(), nlohmann::json::array(),
                                      nlohmann::json::array()});
        types = nlohmann::json::array({"TensorList", "", "Scalar", "Scalar"});
        conc = nlohmann::json::array({"", "", std::to_string(op.peer), "0"});
      } else {
        for (int k = 0; k < op.n_inputs; ++k) {
          dims.push_back(op.shape);
          types.push_back(kdt);
          conc.push_back("");
        }
      }
      kargs["Input Dims"] = dims;
      kargs["Input type"] = types;
      kargs["Concrete Inputs"] = conc;
    }
    ev.push_back({{"ph", "X"}, {"cat", "cpu_op"}, {"name", op.name}, {"pid", 1}, {"tid", 1}, {"ts", t}, {"dur", dur},
                  {"args", kargs}});
    double lt = t + 5;
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
      nlohmann::json gargs = {{"External id", ext}, {"stream", k.stream}, {"correlation", corr}};
      if (copy) gargs["bytes"] = k.bytes;
      else gargs.update({{"grid", {k.grid, 1, 1}}, {"block", {128, 1, 1}}});
      ev.push_back({{"ph", "X"}, {"cat", k.cat}, {"name", k.name}, {"pid", 0}, {"tid", k.stream}, {"ts", gpu_t}, {"dur", k.dur_us},
                    {"args", gargs}});
      gpu_t += k.dur_us + 2;
      if (!op.graph) lt += 10;
    }
    std::int64_t ac = -1;
    if (!op.runtime_after.empty()) {
      ac = ++corr;
      nlohmann::json args = {{"External id", ext}, {"correlation", ac}};
      if (op.event_stream >= 0) args["stream"] = op.event_stream;
      if (op.wait_on_record >= 0) args["wait_on_cuda_event_record_corr_id"] = op.wait_on_record;
      ev.push_back({{"ph", "X"}, {"cat", "cuda_runtime"}, {"name", op.runtime_after}, {"pid", 1}, {"tid", 1}, {"ts", lt}, {"dur", 3}, {"args", args}});
    }
    after_corr.push_back(ac);
    t += dur + 10;
  }
  nlohmann::json et = {{"schema", "1.1.1-chakra.0.0.4"}, {"pid", 1}, {"nodes", nodes}};
  nlohmann::json kin = {{"schemaVersion", 1}, {"traceEvents", ev}};
  std::string suffix;
  if (rk.rank >= 0) {
    suffix = "." + std::to_string(rk.rank);
    nlohmann::json ranks = nlohmann::json::array();
    for (int i = 0; i < rk.world; ++i) ranks.push_back(i);
    kin["distributedInfo"] = {{"backend", "gloo"}, {"rank", rk.rank}, {"world_size", rk.world},
                              {"pg_config", nlohmann::json::array({{{"pg_name", "0"}, {"pg_size", rk.world}, {"ranks", ranks}}})}};
  }
  write_json_file((fs::path(dir) / ("et" + suffix + ".json")).string(), et);
  write_json_file((fs::path(dir) / ("kineto" + suffix + ".json")).string(), kin);
  if (measured_ms > 0)
    write_json_file((fs::path(dir) / "measured.json").string(),
                    {{"name", "synthetic"}, {"step_cuda_events", {{"median_ms", measured_ms}, {"min_ms", measured_ms}, {"max_ms", measured_ms}}}});
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
