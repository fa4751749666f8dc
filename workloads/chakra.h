#pragma once
// Chakra execution traces (MLCommons Chakra, et_def.proto): a file is a varint-length-delimited
// stream of one GlobalMetadata message then Node messages. Read and write with protobuf
// (workloads/chakra/et_def.proto, generated at build time); without protobuf every function
// throws Error("... built without protobuf").
//
// orrery's in-memory form keeps every field of the schema it declares (attributes keep their
// protobuf value type), so write -> read is lossless.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/pytorch_trace.h"
#include "workloads/train.h"

namespace orrery {

bool chakra_available();  // built with protobuf

enum class ChakraNodeType {
  Invalid = 0, Metadata = 1, MemLoad = 2, MemStore = 3, Comp = 4, CommSend = 5, CommRecv = 6,
  CommColl = 7, Storage = 8, Batch = 9, Checkpoint = 10
};
enum class ChakraCollType {
  AllReduce = 0, Reduce = 1, AllGather = 2, Gather = 3, Scatter = 4, Broadcast = 5, AllToAll = 6,
  ReduceScatter = 7, ReduceScatterBlock = 8, Barrier = 9
};

// One AttributeProto. `kind` is the protobuf oneof field number (3 = double_val ... 32 =
// bytes_list); the value lives in the member matching its type family.
struct ChakraAttr {
  enum Kind {
    Double = 3, DoubleList = 4, Float = 5, FloatList = 6, Int32 = 7, Int32List = 8, Int64 = 9,
    Int64List = 10, Uint32 = 11, Uint32List = 12, Uint64 = 13, Uint64List = 14, Sint32 = 15,
    Sint32List = 16, Sint64 = 17, Sint64List = 18, Fixed32 = 19, Fixed32List = 20, Fixed64 = 21,
    Fixed64List = 22, Sfixed32 = 23, Sfixed32List = 24, Sfixed64 = 25, Sfixed64List = 26, Bool = 27,
    BoolList = 28, String = 29, StringList = 30, Bytes = 31, BytesList = 32, None = 0
  };
  std::string name, doc;
  Kind kind = None;
  double d = 0;                       // Double, Float
  std::int64_t i = 0;                 // signed ints, Bool
  std::uint64_t u = 0;                // unsigned ints
  std::string s;                      // String, Bytes
  std::vector<double> dl;             // DoubleList, FloatList
  std::vector<std::int64_t> il;       // signed int lists, BoolList
  std::vector<std::uint64_t> ul;      // unsigned int lists
  std::vector<std::string> sl;        // StringList, BytesList

  static ChakraAttr make_int64(const std::string& n, std::int64_t v) { ChakraAttr a; a.name = n; a.kind = Int64; a.i = v; return a; }
  static ChakraAttr make_uint64(const std::string& n, std::uint64_t v) { ChakraAttr a; a.name = n; a.kind = Uint64; a.u = v; return a; }
  static ChakraAttr make_int32(const std::string& n, std::int32_t v) { ChakraAttr a; a.name = n; a.kind = Int32; a.i = v; return a; }
  static ChakraAttr make_bool(const std::string& n, bool v) { ChakraAttr a; a.name = n; a.kind = Bool; a.i = v; return a; }
  static ChakraAttr make_double(const std::string& n, double v) { ChakraAttr a; a.name = n; a.kind = Double; a.d = v; return a; }
  static ChakraAttr make_string(const std::string& n, const std::string& v) { ChakraAttr a; a.name = n; a.kind = String; a.s = v; return a; }
  // Numeric value of a scalar attribute whatever its integer/float type (lists: not numeric).
  bool numeric(double* out) const;
  bool operator==(const ChakraAttr& o) const;
};

struct ChakraIO {
  std::string values, shapes, types;
  bool operator==(const ChakraIO& o) const { return values == o.values && shapes == o.shapes && types == o.types; }
};

struct ChakraNode {
  std::uint64_t id = 0;
  std::string name;
  ChakraNodeType type = ChakraNodeType::Invalid;
  std::vector<std::uint64_t> ctrl_deps, data_deps;
  std::uint64_t start_time_micros = 0, duration_micros = 0;
  bool has_inputs = false, has_outputs = false;
  ChakraIO inputs, outputs;
  std::vector<ChakraAttr> attrs;
  std::string unknown_fields;  // serialized fields this schema doesn't declare (kept on write)

  const ChakraAttr* attr(const std::string& name) const;
  double attr_num(const std::string& name, double def) const;  // num_ops, tensor_size, comm_size, comm_type...
  bool operator==(const ChakraNode& o) const;
};

struct ChakraTrace {
  std::string version;
  std::vector<ChakraAttr> metadata;
  std::vector<ChakraNode> nodes;
  bool operator==(const ChakraTrace& o) const {
    return version == o.version && metadata == o.metadata && nodes == o.nodes;
  }
};

// Errors (missing file, truncated message, not a Chakra trace) throw Error naming the file and
// the message index.
ChakraTrace read_chakra(const std::string& path);
// The job's rank count a trace's metadata records ("world_size", as orrery convert writes it;
// 0 when absent or unreadable).
long chakra_metadata_world(const std::string& path);
void write_chakra(const std::string& path, const ChakraTrace& trace);

// Communicator groups, the JSON file ASTRA-sim reads with --comm-group-configuration:
// {"<id>": [global ranks...]}; a collective node names its group by the attribute pg_name = the
// id in decimal (as Chakra's PyTorch converter copies PyTorch's process-group name), and orrery
// adds pg_desc (tp, cp, dp, ep, pp, or the capture's group description).
using ChakraCommGroups = std::map<long, std::vector<long>>;
void write_comm_groups(const std::string& path, const ChakraCommGroups& groups);
ChakraCommGroups read_comm_groups(const std::string& path);  // Error naming the file and key
// The communicator-group file of a trace directory: its one *comm_groups.json ("" if none).
std::string find_comm_groups(const std::string& dir);

// Reads a trace for simulation the way Chakra's reference tools read it (the lossless form is
// read_chakra): self-dependencies are dropped (the PyTorch converter writes them; the feeder
// never waits on a node's own id); when ctrl_deps close a cycle that data_deps alone do not,
// the trace is scheduled on data_deps only, as Chakra's ETFeeder does (it ignores ctrl_deps);
// a cycle through data_deps stays an error. Collectives without comm_group_size take the size
// of their pg_name's group in `groups`. Each change is described in one line of `notes`.
ChakraTrace read_chakra_for_run(const std::string& path, const ChakraCommGroups& groups, std::vector<std::string>* notes);

// Chakra traces of a per-rank workload graph (what `orrery train` runs on the cluster executor):
// one trace per rank of `w` (all of them, or one per symmetry class), <prefix>.<global rank>.et in
// `dir`, plus <prefix>.comm_groups.json (every group with its ranks; a collective names its group
// by pg_name = the group's id and pg_desc = its kind, tp|cp|dp|ep|pp). Node kinds map one to one
// (graph.h): Compute -> COMP_NODE (num_ops, tensor_size, duration_micros), Collective ->
// COMM_COLL_NODE (comm_type, comm_size, comm_group_size), Send/Recv -> COMM_SEND/RECV_NODE
// (comm_src, comm_dst, comm_tag, comm_size), Delay -> METADATA_NODE, Alloc/Free ->
// MEM_LOAD/STORE_NODE; data_deps = the node's dependencies plus the previous node of its stream.
// Exact times, streams, SM/HBM shares and repeats travel in orrery_* attributes, which
// chakra_workload honours for traces whose metadata names generator "orrery": such a directory
// of every rank runs on `chakra-run` exactly as the graph runs on the executor. `metadata` is
// added to each trace's (e.g. the training plan). Returns the trace files written.
std::vector<std::string> write_workload_chakra(const wg::Workload& w, const std::string& dir, const std::string& prefix,
                                               const std::vector<ChakraAttr>& metadata = {});

// Chakra traces of a PyTorch capture bundle (et[.<rank>].json[.gz] + kineto[.<rank>].json[.gz],
// read with load_bundle): one trace per rank, <prefix>.<rank>.et. Every GPU activity (kernel,
// memcpy, memset) becomes a node with its measured duration: COMP_NODE (num_ops 0, tensor_size
// for copies) or, for a kernel launched by a collective, COMM_COLL_NODE (comm_type, comm_size,
// pg_name, comm_group_size) / COMM_SEND_NODE / COMM_RECV_NODE. Dependencies: launch order on
// each GPU stream (data_deps). Host-side time and cross-stream events are not represented.
// Also writes <prefix>.comm_groups.json from the capture's process groups (pg_name: the group's
// id, numeric as in PyTorch; pg_desc: the capture's name where that was not a number).
std::vector<std::string> write_bundle_chakra(const std::string& bundle_dir, const std::string& out_dir,
                                             const std::string& prefix);

// `orrery chakra-run`: the traces of a directory (*.et, one per rank, rank from <prefix>.<rank>.et)
// as the per-rank workload graph, run by the cluster executor on a system. COMP nodes take
// duration_micros (or num_ops/tensor_size costed on the rank's accelerator when 0); collectives
// run as flows on the fabric over their group: comm_group.json beside the traces ({"<pg_name>":
// [ranks]}, Chakra's communicator groups) when it names the node's pg_name, else the block of
// comm_group_size ranks holding the rank (absent or 0: every trace); sends and receives are
// matched by (src, dst, tag); a transfer whose other side has no trace costs its time alone.
struct ChakraWorkload {
  wg::Workload w;
  std::vector<std::string> files;  // in rank order
  std::vector<std::string> notes;  // what read_chakra_for_run changed, per trace
};
// Ranks of the job a trace directory describes: its file names, its comm groups and the first
// trace's world_size metadata (convert's representative traces hold only some of the ranks).
int chakra_world(const std::string& dir);
// The ranks DIR's *.et files hold (<prefix>.<rank>.et, else by file order); `first_file`: the
// first of them by name.
std::vector<long> chakra_trace_ranks(const std::string& dir, std::string* first_file = nullptr);
ChakraWorkload chakra_workload(const std::string& dir, const ClusterHardware& hw, const topo::System& sys);

struct ChakraRunResult {
  std::vector<std::string> files;  // in rank order
  std::vector<double> rank_time_s;
  double makespan_s = 0;
  std::uint64_t nodes = 0;
  double compute_s = 0, comm_s = 0;  // summed over ranks
  ExecResult exec;
  std::vector<std::string> notes;    // what read_chakra_for_run changed, per trace
};
ChakraRunResult run_chakra_dir(const std::string& dir, const topo::System& sys, const ClusterHardware& hw,
                               const ClusterOptions& cluster, EventCore& core, Timeline* timeline = nullptr);
// The same on a named system (its preset GPUs), sized to the traces when it is a parametric
// NVSwitch cluster, on the kernel-free engine (tests, tools).
ChakraRunResult run_chakra_dir(const std::string& dir, const std::string& system);

}  // namespace orrery
