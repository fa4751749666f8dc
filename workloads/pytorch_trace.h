#pragma once
// Captured PyTorch step: PyTorch Execution Trace (ET) + Kineto trace of the same step, linked
// natively (ET rf_id <-> Kineto cpu_op "Record function id"; GPU activity <-> its launch by
// correlation; launch <-> enclosing op by "External id"). Kernel-free: plain data for the replay.
// Per-kernel records hold names as interned Names (workloads/interned_name.h): a 1M-kernel trace
// repeats a few hundred distinct names, each stored once.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "workloads/tensor_iterator.h"
#include "workloads/interned_name.h"

namespace orrery {

struct EtArg {
  Name type;                        // "Tensor(float)", "Int", "GenericList[Tensor(float),...]"
  nlohmann::json value;
  std::vector<std::int64_t> shape;  // tensors only
  bool is_tensor = false;
  Dtype dtype = Dtype::UNKNOWN;
  std::int64_t tensor_id = -1, storage_id = -1, offset = 0, numel = 0, elem_bytes = 0;
  // Elements at distinct addresses: a broadcast dimension (stride 0, as `expand` makes) holds one
  // element however long it is, and reading it again hits the cache. -1: numel (no strides known).
  std::int64_t distinct_numel = -1;
  Name device;
  // Tensor lists (e.g. GenericList[Tensor...]) expand here.
  std::vector<EtArg> elems;
  std::int64_t distinct() const { return distinct_numel >= 0 ? distinct_numel : numel; }
};

struct EtOp {
  std::int64_t id = 0, parent = 0, rf_id = -1;
  int tid = 0;
  Name name;
  std::vector<EtArg> inputs, outputs;
  std::vector<int> children;  // indices into CapturedStep::ops, in id (issue) order
  // Communication attributes (record_param_comms)
  Name collective_name, pg_name, comm_dtype;
  std::int64_t in_msg_nelems = 0, out_msg_nelems = 0, pg_size = 0, seq = -1;
  // The autograd sequence number current when the op ran (ET attrs.seq_id, Kineto "Sequence
  // number"): the number of the next autograd node, so the ops of one recorded node share it;
  // -1 when none was recorded (grad mode off, or a trace without it).
  std::int64_t autograd_seq = -1;
  // Positions in `inputs` of the op's out= arguments (its schema's keyword-only mutable tensors,
  // ET attrs.op_schema): tensors it writes, not reads. Empty without a schema.
  std::vector<int> out_args;
  // Dimensions an elementwise kernel over this op's tensors walks after TensorIterator coalesces
  // them (workloads/tensor_iterator.h), from the ET's strides; 0 when the trace has none.
  int iter_dims = 0;
  // Each operand's access pattern in that iteration (the output, then the tensor inputs), kept
  // only when one operand is walked across its stride (a transposing copy: it moves a memory
  // sector per element); empty otherwise.
  std::vector<IterAccess> iter_access;
  Dtype first_dtype() const;  // dtype of the first tensor input (host-cost and FLOP model key)
};

enum class DevKind { Kernel, Memcpy, Memset };

struct DeviceActivity {
  DevKind kind = DevKind::Kernel;
  Name name;
  int stream = 0;
  double trace_ts = 0, trace_dur = 0;  // seconds, from Kineto (dur is the measured kernel time)
  std::int64_t correlation = -1;
  double bytes = 0;                    // memcpy / memset
  Name copy_kind;                     // "HtoD", "DtoH", "DtoD", "HtoH", "PtoP"
  bool copy_pageable = false;          // host side pageable (cudaMemcpyAsync then blocks)
  std::int64_t grid = 0, block = 0;    // total blocks / threads per block
  int op = -1;                         // innermost ET op that launched it (index), -1 unknown
  // A node of a CUDA graph launch (cudaGraphLaunch: every kernel of the graph carries the launch's
  // correlation id): its position among them in start order, 0 for the first; -1: launched alone.
  int graph_node = -1;
};

enum class CallKind { Launch, DeviceSync, StreamSync, EventSync, EventRecord, StreamWaitEvent, Other };

struct HostCall {
  CallKind kind = CallKind::Other;
  Name name;
  double frac = 0;       // position inside its host item (0..1), from the profiled trace
  double trace_ts = 0, trace_dur = 0;
  int device = -1;       // DeviceActivity index for launches
  std::int64_t correlation = -1;
  int stream = -1;       // for EventRecord / StreamWaitEvent / StreamSync when known
  std::int64_t wait_on_record = -1;  // StreamWaitEvent: correlation of the cudaEventRecord
};

struct HostItem {       // a top-level op on a host thread, or a runtime call outside any op
  Name name;
  int tid = 0;
  double trace_ts = 0, trace_dur = 0;
  int op = -1;          // ET op index (-1 for loose runtime calls)
  std::vector<HostCall> calls;
  std::vector<int> collectives;  // indices into CapturedStep::collectives, in issue order
};

struct CollectiveCall {
  std::string name;     // all_reduce, all_gather, reduce_scatter, broadcast, send, recv, ...
  std::string pg_name;
  std::int64_t pg_size = 1, seq = -1;
  double bytes = 0;     // message size (input bytes)
  int op = -1;          // record_param_comms / c10d op index
  int host_item = -1;
  int peer = -1;        // send/recv peer rank
};

struct CapturedStep {
  std::string dir, et_path, kineto_path, measured_path;
  std::string step_name;              // "ProfilerStep#2"
  double profiled_step_s = 0;
  std::vector<EtOp> ops;
  std::map<std::int64_t, int> op_by_rf;
  std::vector<HostItem> host;         // issue order (merged across host threads by time)
  std::vector<DeviceActivity> device; // in launch order
  std::vector<CollectiveCall> collectives;
  std::map<int, std::string> thread_names;
  bool has_measured = false;
  // The capture host's dispatch table (host_dispatch.json beside the traces, written by capture.py):
  // seconds per call by "op/dtype"; empty when the bundle has none.
  std::map<std::string, double> host_dispatch;
  std::string host_dispatch_path;
  nlohmann::json measured;
  std::string device_name;
  int rank = 0, world_size = 1;
  double peak_memory_bytes = 0;       // from ET tensor lifetimes
  std::map<std::string, std::vector<int>> process_groups;  // Kineto distributedInfo pg_config
};

// Loads bundle `dir`: et[.<rank>].json[.gz], kineto[.<rank>].json[.gz], optional measured.json.
// rank < 0: the single-rank file names. Errors name the file and field.
CapturedStep load_bundle(const std::string& dir, int rank = -1);
// Finds ranks present in a multi-rank bundle (et.<rank>.json[.gz]); empty for single-rank.
std::vector<int> bundle_ranks(const std::string& dir);

// Kernel classification by name and enclosing op.
std::string classify_kernel(const std::string& kernel_name, const std::string& op_name, DevKind kind);

}  // namespace orrery
