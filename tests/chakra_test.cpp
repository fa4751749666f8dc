// Chakra execution traces: wire format, lossless round trip, generated training traces.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/errors.h"
#include "sim/error.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace chakra_test {

using namespace orrery;
namespace fs = std::filesystem;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string tmp(const std::string& name) { return (fs::temp_directory_path() / name).string(); }

ChakraTrace sample_trace() {
  ChakraTrace t;
  t.version = "0.0.4";
  t.metadata.push_back(ChakraAttr::make_string("generator", "test"));
  t.metadata.push_back(ChakraAttr::make_int64("rank", 3));
  ChakraNode a;
  a.id = 0;
  a.name = "gemm";
  a.type = ChakraNodeType::Comp;
  a.duration_micros = 123;
  a.start_time_micros = 7;
  a.attrs.push_back(ChakraAttr::make_int64("num_ops", 1LL << 40));
  a.attrs.push_back(ChakraAttr::make_uint64("tensor_size", 1ULL << 33));
  a.attrs.push_back(ChakraAttr::make_bool("is_cpu_op", false));
  a.has_inputs = true;
  a.inputs = {"[1, 2]", "[[4096, 4096]]", "[\"Tensor(c10::BFloat16)\"]"};
  // one attribute of every oneof kind
  ChakraAttr x;
  x.name = "d"; x.kind = ChakraAttr::Double; x.d = 0.1; a.attrs.push_back(x);
  x = {}; x.name = "f"; x.kind = ChakraAttr::Float; x.d = 0.5; a.attrs.push_back(x);
  x = {}; x.name = "i32"; x.kind = ChakraAttr::Int32; x.i = -7; a.attrs.push_back(x);
  x = {}; x.name = "u32"; x.kind = ChakraAttr::Uint32; x.u = 4000000000u; a.attrs.push_back(x);
  x = {}; x.name = "s32"; x.kind = ChakraAttr::Sint32; x.i = -3; a.attrs.push_back(x);
  x = {}; x.name = "s64"; x.kind = ChakraAttr::Sint64; x.i = -(1LL << 50); a.attrs.push_back(x);
  x = {}; x.name = "fx32"; x.kind = ChakraAttr::Fixed32; x.u = 17; a.attrs.push_back(x);
  x = {}; x.name = "fx64"; x.kind = ChakraAttr::Fixed64; x.u = 1ULL << 60; a.attrs.push_back(x);
  x = {}; x.name = "sfx32"; x.kind = ChakraAttr::Sfixed32; x.i = -17; a.attrs.push_back(x);
  x = {}; x.name = "sfx64"; x.kind = ChakraAttr::Sfixed64; x.i = -(1LL << 60); a.attrs.push_back(x);
  x = {}; x.name = "bytes"; x.kind = ChakraAttr::Bytes; x.s = std::string("\0\1\2", 3); a.attrs.push_back(x);
  x = {}; x.name = "dl"; x.kind = ChakraAttr::DoubleList; x.dl = {1.5, -2.25}; a.attrs.push_back(x);
  x = {}; x.name = "fl"; x.kind = ChakraAttr::FloatList; x.dl = {0.25}; a.attrs.push_back(x);
  x = {}; x.name = "il"; x.kind = ChakraAttr::Int64List; x.il = {-1, 2, 3}; a.attrs.push_back(x);
  x = {}; x.name = "i32l"; x.kind = ChakraAttr::Int32List; x.il = {-1, 2}; a.attrs.push_back(x);
  x = {}; x.name = "ul"; x.kind = ChakraAttr::Uint64List; x.ul = {1, 2}; a.attrs.push_back(x);
  x = {}; x.name = "u32l"; x.kind = ChakraAttr::Uint32List; x.ul = {5}; a.attrs.push_back(x);
  x = {}; x.name = "s32l"; x.kind = ChakraAttr::Sint32List; x.il = {-5}; a.attrs.push_back(x);
  x = {}; x.name = "s64l"; x.kind = ChakraAttr::Sint64List; x.il = {-6}; a.attrs.push_back(x);
  x = {}; x.name = "f32l"; x.kind = ChakraAttr::Fixed32List; x.ul = {7}; a.attrs.push_back(x);
  x = {}; x.name = "f64l"; x.kind = ChakraAttr::Fixed64List; x.ul = {8}; a.attrs.push_back(x);
  x = {}; x.name = "sf32l"; x.kind = ChakraAttr::Sfixed32List; x.il = {-9}; a.attrs.push_back(x);
  x = {}; x.name = "sf64l"; x.kind = ChakraAttr::Sfixed64List; x.il = {-10}; a.attrs.push_back(x);
  x = {}; x.name = "bl"; x.kind = ChakraAttr::BoolList; x.il = {1, 0, 1}; x.doc = "involved dims"; a.attrs.push_back(x);
  x = {}; x.name = "sl"; x.kind = ChakraAttr::StringList; x.sl = {"a", "b"}; a.attrs.push_back(x);
  x = {}; x.name = "byl"; x.kind = ChakraAttr::BytesList; x.sl = {"x"}; a.attrs.push_back(x);
  t.nodes.push_back(a);
  ChakraNode c;
  c.id = 1;
  c.name = "all_reduce";
  c.type = ChakraNodeType::CommColl;
  c.data_deps = {0};
  c.ctrl_deps = {0};
  c.attrs.push_back(ChakraAttr::make_int64("comm_type", static_cast<int>(ChakraCollType::AllReduce)));
  c.attrs.push_back(ChakraAttr::make_int64("comm_size", 1 << 20));
  t.nodes.push_back(c);
  ChakraNode s;
  s.id = 2;
  s.name = "send";
  s.type = ChakraNodeType::CommSend;
  s.data_deps = {1};
  s.attrs.push_back(ChakraAttr::make_int32("comm_src", 0));
  s.attrs.push_back(ChakraAttr::make_int32("comm_dst", 8));
  s.attrs.push_back(ChakraAttr::make_int32("comm_tag", 42));
  t.nodes.push_back(s);
  return t;
}

// Hand-encoded protobuf bytes (wire format of the public et_def.proto), independent of the
// generated code: GlobalMetadata{version: "0.0.4"}, Node{id: 5, name: "mm", type: COMP_NODE,
// data_deps: [3], duration_micros: 9, attr: [{name: "num_ops", int64_val: 300}]}.
std::string hand_encoded() {
  std::string md = "\x0a\x05" "0.0.4";
  std::string attr = std::string("\x0a\x07", 2) + "num_ops" + std::string("\x48\xac\x02", 3);  // field 9 varint 300
  std::string node = std::string("\x08\x05", 2) + std::string("\x12\x02", 2) + "mm" + std::string("\x18\x04", 2) +
                     std::string("\x2a\x01\x03", 3) /* data_deps packed [3] */ + std::string("\x38\x09", 2) +
                     std::string("\x52", 1) + static_cast<char>(attr.size()) + attr;
  return static_cast<char>(md.size()) + md + static_cast<char>(node.size()) + node;
}
}  // namespace

TEST(Chakra, RoundTripIsLossless) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  ChakraTrace t = sample_trace();
  std::string p1 = tmp("orrery_chakra_rt1.et"), p2 = tmp("orrery_chakra_rt2.et");
  write_chakra(p1, t);
  ChakraTrace r = read_chakra(p1);
  EXPECT_EQ(r.version, "0.0.4");
  ASSERT_EQ(r.nodes.size(), 3u);
  EXPECT_TRUE(r == t);
  EXPECT_EQ(r.nodes[0].attr_num("num_ops", 0), static_cast<double>(1LL << 40));
  EXPECT_EQ(r.nodes[2].attr_num("comm_tag", 0), 42);
  EXPECT_EQ(r.nodes[1].data_deps, std::vector<std::uint64_t>{0});
  write_chakra(p2, r);
  EXPECT_EQ(slurp(p1), slurp(p2));  // byte-identical re-write
  fs::remove(p1);
  fs::remove(p2);
}

TEST(Chakra, ReadsTheWireFormatOfThePublicSchema) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  std::string p = tmp("orrery_chakra_hand.et");
  {
    std::ofstream out(p, std::ios::binary);
    out << hand_encoded();
  }
  ChakraTrace t = read_chakra(p);
  EXPECT_EQ(t.version, "0.0.4");
  ASSERT_EQ(t.nodes.size(), 1u);
  EXPECT_EQ(t.nodes[0].id, 5u);
  EXPECT_EQ(t.nodes[0].name, "mm");
  EXPECT_EQ(t.nodes[0].type, ChakraNodeType::Comp);
  EXPECT_EQ(t.nodes[0].data_deps, std::vector<std::uint64_t>{3});
  EXPECT_EQ(t.nodes[0].duration_micros, 9u);
  ASSERT_NE(t.nodes[0].attr("num_ops"), nullptr);
  EXPECT_EQ(t.nodes[0].attr("num_ops")->kind, ChakraAttr::Int64);
  EXPECT_EQ(t.nodes[0].attr_num("num_ops", 0), 300);
  // and writing it back produces the same bytes
  std::string p2 = tmp("orrery_chakra_hand2.et");
  write_chakra(p2, t);
  EXPECT_EQ(slurp(p2), hand_encoded());
  fs::remove(p);
  fs::remove(p2);
}

TEST(Chakra, TruncatedAndMissingFilesAreErrors) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  std::string p = tmp("orrery_chakra_trunc.et");
  std::string bytes = hand_encoded();
  {
    std::ofstream out(p, std::ios::binary);
    out << bytes.substr(0, bytes.size() - 4);
  }
  try {
    read_chakra(p);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  fs::remove(p);
  EXPECT_THROW(read_chakra(tmp("orrery_no_such_trace.et")), Error);
}

// The training step's per-rank graph (what `orrery train` runs on the executor) written as Chakra
// traces and run again by chakra-run: one trace per GPU reproduces the executor's step exactly.
TEST(Chakra, TrainingGraphRoundTripsThroughChakra) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  ModelSpec m = load_model("gpt-22b");
  SystemSpec s = load_system_spec("dgx-h100", 2);
  TrainPlan p;
  p.tp = 8;
  p.pp = 2;
  p.micro_batch = 1;
  p.global_batch = 4;
  p.seq = 2048;
  p.sequence_parallel = true;
  p.recompute = Recompute::Selective;
  topo::System fabric = topo::load_system(s.fabric, s.nodes, s.overrides);
  ClusterOptions copt;
  ClusterHardware chw(s.gpu, {}, copt, s.gpus());
  EventCore core;
  TrainResult r = run_training_fabric(m, s, p, chw, fabric, copt, core);
  std::string dir = tmp("orrery_chakra_train");
  fs::remove_all(dir);

  // Every rank: the same graph, so the same step to rounding.
  TrainJob all = train_job(m, s, p, chw, fabric, /*symmetric=*/false);
  auto files = write_workload_chakra(all.workload, dir, "gpt");
  ASSERT_EQ(files.size(), 16u);
  ChakraTrace t13 = read_chakra(dir + "/gpt.13.et");
  int comp = 0, coll = 0, recv = 0;
  for (auto& n : t13.nodes) {
    comp += n.type == ChakraNodeType::Comp;
    coll += n.type == ChakraNodeType::CommColl;
    if (n.type == ChakraNodeType::CommColl) {
      EXPECT_GT(n.attr_num("comm_size", 0), 0) << n.name;
    }
    if (n.type != ChakraNodeType::CommRecv) continue;
    ++recv;  // rank 13 = stage 1, TP rank 5: receives from rank 5 of stage 0
    EXPECT_EQ(n.attr_num("comm_src", -1), 5);
    EXPECT_EQ(n.attr_num("comm_dst", -1), 13);
  }
  EXPECT_GT(comp, 0);
  EXPECT_GT(coll, 0);
  EXPECT_EQ(recv, 4);  // 4 micro-batches' activations
  std::string again = files[0] + ".copy";
  write_chakra(again, read_chakra(files[0]));
  EXPECT_EQ(slurp(again), slurp(files[0]));
  fs::remove(again);
  ChakraRunResult all_run = run_chakra_dir(dir, "dgx-h100");
  EXPECT_EQ(all_run.files.size(), 16u);
  EXPECT_NEAR(all_run.makespan_s, r.iteration_time_s, 1e-9 * r.iteration_time_s);
  fs::remove_all(dir);

  // One representative per stage: the stage's collectives wait for no absent member, so the step
  // is close to, not exactly, the full run.
  TrainJob reps = train_job(m, s, p, chw, fabric, /*symmetric=*/true);
  auto rf = write_workload_chakra(reps.workload, dir, "gpt");
  ASSERT_EQ(rf.size(), 2u);
  EXPECT_TRUE(fs::exists(dir + "/gpt.0.et"));
  EXPECT_TRUE(fs::exists(dir + "/gpt.8.et"));
  EXPECT_TRUE(fs::exists(dir + "/gpt.comm_groups.json"));
  ChakraRunResult cr = run_chakra_dir(dir, "dgx-h100");
  EXPECT_NEAR(cr.makespan_s, r.iteration_time_s, 0.03 * r.iteration_time_s);
  fs::remove_all(dir);
}

// A captured CUDA graph's nodes follow each other by graph_node_gap, not kernel_gap: a replay
// converted to Chakra and run again keeps that (the orrery_graph_node attribute).
TEST(Chakra, CudaGraphNodesKeepTheirGapThroughChakra) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  auto makespan = [](bool graph) {
    wg::Workload w;
    w.world = 1;
    wg::RankGraph g;
    for (int i = 0; i < 10; ++i) {
      wg::Node n;
      n.kind = wg::Kind::Compute;
      n.stream = 7;
      n.name = "kernel";
      n.cls = "elementwise";
      n.time_s = 2e-6;
      n.graph_node = graph && i > 0;
      if (i > 0) n.deps = {i - 1};
      g.nodes.push_back(n);
    }
    w.ranks.push_back(g);
    std::string dir = tmp(graph ? "orrery_chakra_graph" : "orrery_chakra_eager");
    fs::remove_all(dir);
    write_workload_chakra(w, dir, "g");
    double t = run_chakra_dir(dir, "dgx-h100").makespan_s;
    fs::remove_all(dir);
    return t;
  };
  EXPECT_NEAR(makespan(false) - makespan(true), 9 * 0.5e-6, 0.05e-6);  // kernel_gap 1 us, graph_node_gap 0.5 us
}

TEST(Chakra, CaptureBundleConvertsOneTracePerRank) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  std::string bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/gpt_b";
  if (!fs::exists(bundle)) GTEST_SKIP() << "example bundle missing";
  std::string dir = tmp("orrery_chakra_bundle");
  fs::remove_all(dir);
  auto files = write_bundle_chakra(bundle, dir, "gpt_b");
  ASSERT_EQ(files.size(), 1u);
  CapturedStep st = load_bundle(bundle);
  ChakraTrace t = read_chakra(files[0]);
  ASSERT_EQ(t.nodes.size(), st.device.size());
  double measured = 0, written = 0;
  for (auto& d : st.device) measured += d.trace_dur;
  for (auto& n : t.nodes) written += static_cast<double>(n.duration_micros) * 1e-6;
  EXPECT_NEAR(written, measured, 1e-6 * static_cast<double>(t.nodes.size()) + 1e-9);
  fs::remove_all(dir);

  std::string multi = std::string(ORRERY_SOURCE_DIR) + "/tests/data/multirank_gloo4";
  if (fs::exists(multi)) {
    auto mf = write_bundle_chakra(multi, dir, "m");
    EXPECT_EQ(mf.size(), 4u);
    EXPECT_TRUE(fs::exists(dir + "/m.3.et"));
    // gloo records no group size: the collectives carry the process group's (4 ranks), never 0
    // (which chakra-run used to cost as nothing).
    int colls = 0;
    for (auto& n : read_chakra(mf[0]).nodes)
      if (n.type == ChakraNodeType::CommColl) {
        ++colls;
        EXPECT_EQ(n.attr_num("comm_group_size", -1), 4) << n.name;
      }
    EXPECT_GT(colls, 0);
    fs::remove_all(dir);
  }
}

// chakra-run: a trace it cannot run faithfully is one error naming the file, node and field,
// never a silently shorter makespan (cycle, duplicate id) or a NaN/negative size taken as zero.
TEST(Chakra, BadTracesNameFileNodeAndField) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  auto chain = [] {
    ChakraTrace t;
    t.version = "0.0.4";
    for (std::uint64_t k = 0; k < 4; ++k) {
      ChakraNode n;
      n.id = 10 + k;
      n.name = "k" + std::to_string(k);
      n.type = k == 2 ? ChakraNodeType::CommColl : ChakraNodeType::Comp;
      n.duration_micros = 5;
      if (k > 0) n.data_deps.push_back(9 + k);
      if (k == 2) {
        n.attrs.push_back(ChakraAttr::make_int64("comm_size", 1 << 20));
        n.attrs.push_back(ChakraAttr::make_int64("comm_group_size", 8));
      }
      t.nodes.push_back(n);
    }
    return t;
  };
  auto error_of = [&](const ChakraTrace& t) -> std::string {
    std::string dir = tmp("orrery_chakra_bad");
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_chakra(dir + "/bad.0.et", t);
    try {
      run_chakra_dir(dir, "dgx-h100");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error_of(chain()), "");  // the unmodified chain runs
  ChakraTrace t = chain();
  t.nodes[0].data_deps.push_back(13);  // 10 -> 13 -> 12 -> 11 -> 10
  std::string e = error_of(t);
  EXPECT_NE(e.find("bad.0.et"), std::string::npos) << e;
  EXPECT_NE(e.find("dependency cycle"), std::string::npos) << e;
  t = chain();
  t.nodes[3].id = 11;
  e = error_of(t);
  EXPECT_NE(e.find("node 11: duplicate node id"), std::string::npos) << e;
  // Self-dependencies (Chakra's PyTorch converter writes them) are dropped with a note; a cycle
  // only ctrl_deps close runs on data_deps, as Chakra's ETFeeder schedules.
  auto notes_of = [&](const ChakraTrace& tr) {
    std::string dir = tmp("orrery_chakra_notes");
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_chakra(dir + "/n.0.et", tr);
    std::string all;
    for (auto& n : run_chakra_dir(dir, "dgx-h100").notes) all += n + "\n";
    return all;
  };
  t = chain();
  t.nodes[1].ctrl_deps.push_back(11);
  EXPECT_EQ(error_of(t), "");
  EXPECT_NE(notes_of(t).find("1 self-dependencies dropped"), std::string::npos) << notes_of(t);
  t = chain();
  t.nodes[3].data_deps.push_back(987654);  // a node the trace does not have: dropped, and said
  EXPECT_EQ(error_of(t), "");
  EXPECT_NE(notes_of(t).find("1 dependencies on nodes not in the trace dropped (node 13 on 987654)"), std::string::npos)
      << notes_of(t);
  t = chain();
  t.nodes[0].ctrl_deps.push_back(13);
  EXPECT_EQ(error_of(t), "");
  EXPECT_NE(notes_of(t).find("scheduled on data_deps only"), std::string::npos) << notes_of(t);
  EXPECT_EQ(notes_of(chain()), "");
  t = chain();
  t.nodes[2].attrs[0] = ChakraAttr::make_double("comm_size", std::nan(""));
  EXPECT_NE(error_of(t).find("node 12: comm_size: nan is out of range"), std::string::npos) << error_of(t);
  t = chain();
  t.nodes[2].attrs[1] = ChakraAttr::make_int64("comm_group_size", -8);
  EXPECT_NE(error_of(t).find("node 12: comm_group_size"), std::string::npos);
  t = chain();
  t.nodes[1].duration_micros = ~0ULL;
  e = error_of(t);
  EXPECT_NE(e.find("bad.0.et: node 11"), std::string::npos) << e;
  EXPECT_NE(e.find("beyond the simulator's range"), std::string::npos) << e;
  // Sizes no hardware moves or computes in the simulator's range: the node and field, not a
  // step of hundreds of digits.
  t = chain();
  t.nodes[2].attrs[0] = ChakraAttr::make_double("comm_size", 1e300);
  e = error_of(t);
  EXPECT_NE(e.find("bad.0.et: node 12: comm_size: 1e+300 is out of range (expected a number from 0 to 1e+18)"),
            std::string::npos) << e;
  for (const char* f : {"num_ops", "tensor_size"}) {
    t = chain();
    t.nodes[1].duration_micros = 0;
    t.nodes[1].attrs.push_back(ChakraAttr::make_double(f, 1e300));
    e = error_of(t);
    EXPECT_NE(e.find("bad.0.et: node 11"), std::string::npos) << f << ": " << e;
    EXPECT_NE(e.find(f), std::string::npos) << e;
  }
  fs::remove_all(tmp("orrery_chakra_bad"));
}

// A receive whose send is in no trace never completes: the error names the trace and the node.
TEST(Chakra, UnmatchedReceiveNamesTraceAndNode) {
  if (!chakra_available()) GTEST_SKIP() << "built without protobuf";
  std::string dir = tmp("orrery_chakra_deadlock");
  fs::remove_all(dir);
  fs::create_directories(dir);
  ChakraTrace r0, r1;
  ChakraNode recv;
  recv.id = 42;
  recv.name = "recv_from_1";
  recv.type = ChakraNodeType::CommRecv;
  recv.attrs = {ChakraAttr::make_int64("comm_src", 1), ChakraAttr::make_int64("comm_dst", 0),
                ChakraAttr::make_int64("comm_tag", 7), ChakraAttr::make_int64("comm_size", 1 << 20)};
  r0.nodes.push_back(recv);
  ChakraNode comp;
  comp.id = 1;
  comp.name = "gemm";
  comp.type = ChakraNodeType::Comp;
  comp.duration_micros = 10;
  r1.nodes.push_back(comp);
  write_chakra(dir + "/t.0.et", r0);
  write_chakra(dir + "/t.1.et", r1);
  SystemSpec s = load_system_spec("dgx-h100", 1);
  Accelerator hw = load_accelerator(s.gpu);
  auto comm = make_comm_model(s, "builtin");
  std::string e = syn::error_of([&] { run_chakra_dir(dir, "dgx-h100"); });
  EXPECT_NE(e.find("node 42"), std::string::npos) << e;
  EXPECT_NE(e.find("never matched a send"), std::string::npos) << e;
  fs::remove_all(dir);
}

}  // namespace chakra_test
