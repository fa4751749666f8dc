// Replay of captured PyTorch steps: accuracy bounds on the bundled H100 captures, multi-stream
// behaviour on built traces, outputs, and bad input. Each test runs in its own process.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "hw_models/transfer.h"
#include "sim/error.h"
#include "support/errors.h"
#include "support/synthetic_bundle.h"
#include "workloads/json_io.h"
#include "workloads/op_cost.h"
#include "workloads/pytorch_trace.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace replay_test {

using namespace orrery;
using orrery::syn::error_of;
namespace fs = std::filesystem;

namespace {
std::string bundle(const std::string& name) { return std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/" + name; }

ReplayResult run(const std::string& b, ReplayMode mode, const std::string& engine = "event") {
  ReplayOptions o;
  o.bundle = b;
  o.mode = mode;
  o.engine = engine;
  return replay_bundle(o);
}
}  // namespace

// ---- accuracy on the four real H100 captures (bounds we honestly reach; see README) ----
class BundleAccuracy : public ::testing::TestWithParam<const char*> {};

TEST_P(BundleAccuracy, MeasuredModeWithin5Percent) {
  ReplayResult r = run(bundle(GetParam()), ReplayMode::Measured, "systemc");
  ASSERT_TRUE(r.has_measured);
  EXPECT_LT(std::fabs(r.error_pct), 5.0) << GetParam() << " predicted " << r.step_time_s * 1e3 << " ms";
}

TEST_P(BundleAccuracy, RooflineModeWithin15Percent) {
  ReplayResult r = run(bundle(GetParam()), ReplayMode::Roofline);
  ASSERT_TRUE(r.has_measured);
  EXPECT_LT(std::fabs(r.error_pct), 15.0) << GetParam() << " predicted " << r.step_time_s * 1e3 << " ms";
}

INSTANTIATE_TEST_SUITE_P(H100, BundleAccuracy, ::testing::Values("mlp_fp32", "gpt_a_ddp", "gpt_b", "llama_s"));

TEST(Replay, TransferToH200IsFasterButBoundedByHardwareRatios) {
  ReplayOptions o;
  o.bundle = bundle("gpt_b");
  o.engine = "event";
  o.mode = ReplayMode::Transfer;
  o.source_hw = "h100";
  o.hw = "h200";
  ReplayResult t = replay_bundle(o);
  ReplayResult m = run(bundle("gpt_b"), ReplayMode::Measured);
  EXPECT_LT(t.step_time_s, m.step_time_s);
  // No kernel can speed up by more than the larger of the compute and bandwidth ratios.
  EXPECT_GT(t.step_time_s, m.step_time_s / (4.8 / 3.35));
}

TEST(Replay, LinksEtAndKinetoNatively) {
  CapturedStep st = load_bundle(bundle("gpt_a_ddp"));
  size_t linked = 0;
  for (auto& d : st.device)
    if (d.op >= 0) ++linked;
  EXPECT_EQ(st.device.size(), 1132u);
  EXPECT_GT(linked, st.device.size() * 95 / 100);
  // DDP buckets: record_param_comms are collectives (one each, not two).
  size_t allreduce = 0;
  for (auto& c : st.collectives) allreduce += c.name == "all_reduce";
  EXPECT_GE(allreduce, 5u);
  for (auto& c : st.collectives) EXPECT_GT(c.bytes, 0);
  // Backward runs on the autograd thread: two host threads.
  std::set<int> tids;
  for (auto& h : st.host) tids.insert(h.tid);
  EXPECT_GE(tids.size(), 2u);
}

TEST(Replay, PeakMemoryFromTensorLifetimesIsInTheRightRange) {
  CapturedStep st = load_bundle(bundle("gpt_b"));
  double measured = st.measured.value("max_mem_allocated", 0.0);
  ASSERT_GT(measured, 0);
  EXPECT_GT(st.peak_memory_bytes, 0.5 * measured);
  EXPECT_LT(st.peak_memory_bytes, 1.5 * measured);
}

TEST(Replay, OutputIsDeterministic) {
  ReplayResult a = run(bundle("mlp_fp32"), ReplayMode::Measured);
  ReplayResult b = run(bundle("mlp_fp32"), ReplayMode::Measured);
  EXPECT_EQ(a.to_json().dump(), b.to_json().dump());
}

TEST(Replay, TimelineHasHostAndStreamTracksAndFlows) {
  std::string dir = syn::temp_dir("timeline");
  ReplayOptions o;
  o.bundle = bundle("mlp_fp32");
  o.engine = "event";
  o.timeline_path = dir + "/t.json";
  replay_bundle(o);
  nlohmann::json t = read_json_file(o.timeline_path);
  bool host = false, stream = false;
  size_t kernels = 0, flows = 0;
  for (auto& e : t["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") {
      std::string n = e["args"]["name"];
      host |= n.rfind("host thread", 0) == 0;
      stream |= n.rfind("stream", 0) == 0;
    }
    if (e["ph"] == "X" && e.value("cat", "") != "host") ++kernels;
    if (e["ph"] == "s") ++flows;
  }
  EXPECT_TRUE(host);
  EXPECT_TRUE(stream);
  EXPECT_EQ(kernels, 60u);
  EXPECT_EQ(flows, 60u);
}

// ---- multi-stream behaviour on built traces ----
namespace {
syn::SynKernel mem_kernel(int stream) {
  syn::SynKernel k;
  k.stream = stream;
  // 4096x4096 fp32 add: 64 MiB in + 64 MiB out at ~2.9 TB/s effective ~ 47 us
  k.dur_us = 47;
  k.grid = 16384;
  return k;
}
syn::SynOp mem_op(std::vector<syn::SynKernel> ks) {
  syn::SynOp op;
  op.name = "aten::add";
  op.shape = {4096, 4096};
  op.kernels = std::move(ks);
  return op;
}
syn::SynOp gemm_op(int stream, double dur_us) {
  syn::SynOp op;
  op.name = "aten::mm";
  op.shape = {4096, 4096};
  op.dtype = "c10::BFloat16";
  op.n_inputs = 2;
  syn::SynKernel k;
  k.name = "sm90_xmma_gemm_bf16bf16_bf16f32";
  k.stream = stream;
  k.dur_us = dur_us;
  k.grid = 528;
  op.kernels = {k};
  return op;
}
}  // namespace

TEST(MultiStream, TwoMemoryBoundKernelsShareHbm) {
  std::string dir = syn::temp_dir("share_hbm");
  // Two adds (each moving 128 MiB, ~47 us alone at full bandwidth) on two streams.
  syn::write_synthetic_bundle(dir, {mem_op({mem_kernel(7)}), mem_op({mem_kernel(8)})});
  ReplayResult r = run(dir, ReplayMode::Measured);
  // Concurrent but bandwidth-bound: together they take about as long as back to back.
  EXPECT_GT(r.step_time_s, 1.7 * 47e-6);
  std::string dir2 = syn::temp_dir("one_kernel");
  syn::write_synthetic_bundle(dir2, {mem_op({mem_kernel(7)})});
  ReplayResult one = run(dir2, ReplayMode::Measured);
  EXPECT_LT(one.step_time_s, 1.3 * 47e-6 + 60e-6);
}

TEST(MultiStream, ComputeAndMemoryBoundKernelsOverlap) {
  std::string dir = syn::temp_dir("overlap");
  auto ops = std::vector<syn::SynOp>{gemm_op(7, 175), mem_op({mem_kernel(8)})};
  syn::write_synthetic_bundle(dir, ops);
  ReplayResult r = run(dir, ReplayMode::Measured);
  ReplayResult serial;
  {
    std::string d2 = syn::temp_dir("serial");
    auto s = std::vector<syn::SynOp>{gemm_op(7, 175), mem_op({mem_kernel(7)})};
    syn::write_synthetic_bundle(d2, s);
    serial = run(d2, ReplayMode::Measured);
  }
  EXPECT_LT(r.step_time_s, serial.step_time_s - 30e-6);
  EXPECT_GT(r.step_time_s, 175e-6);
}

TEST(MultiStream, StreamWaitEventOrdersWork) {
  std::string dir = syn::temp_dir("events");
  std::vector<syn::SynOp> ops;
  syn::SynOp a = mem_op({mem_kernel(7)});
  a.kernels[0].dur_us = 200;
  a.runtime_after = "cudaEventRecord";
  a.event_stream = 7;
  ops.push_back(a);
  // Correlations are assigned in order: kernel 101, record 102.
  syn::SynOp w;
  w.name = "aten::view";
  w.runtime_after = "cudaStreamWaitEvent";
  w.event_stream = 8;
  w.wait_on_record = 102;
  ops.push_back(w);
  syn::SynOp b = mem_op({mem_kernel(8)});
  b.kernels[0].dur_us = 10;
  ops.push_back(b);
  syn::write_synthetic_bundle(dir, ops);
  ReplayResult r = run(dir, ReplayMode::Measured);
  EXPECT_GE(r.step_time_s, 210e-6);
  // Without the wait the stream-8 kernel runs alongside.
  ops[1].runtime_after.clear();
  std::string dir2 = syn::temp_dir("noevents");
  syn::write_synthetic_bundle(dir2, ops);
  ReplayResult free = run(dir2, ReplayMode::Measured);
  EXPECT_LT(free.step_time_s, r.step_time_s);
}

TEST(Host, SmallKernelsAreLaunchBound) {
  std::string dir = syn::temp_dir("hostbound");
  std::vector<syn::SynOp> ops;
  for (int i = 0; i < 50; ++i) {
    syn::SynOp op;
    op.name = "aten::add";
    op.shape = {256};
    syn::SynKernel k;
    k.dur_us = 2;
    op.kernels = {k};
    ops.push_back(op);
  }
  syn::write_synthetic_bundle(dir, ops);
  ReplayResult r = run(dir, ReplayMode::Measured);
  EXPECT_GT(r.step_time_s, 40 * 8e-6);             // host dispatch dominates
  EXPECT_LT(r.gpu_busy_s, 0.3 * r.step_time_s);     // the GPU mostly waits
}

// A CUDA graph launch (torch.compile's "reduce-overhead" mode, vLLM's decode steps) is one host
// call whose kernels all carry its correlation id: every node replays, the host pays one launch,
// and each node follows the previous one by graph_node_gap, not kernel_gap.
TEST(Host, ACudaGraphLaunchReplaysEveryNodeForOneLaunch) {
  auto step = [](bool graph, std::vector<std::string> sets) {
    syn::SynOp op;
    op.name = "Torch-Compiled Region: 0/0";  // (no host table entry: priced by its launches)
    op.shape = {256};
    op.graph = graph;
    syn::SynKernel k;
    k.dur_us = 2;
    op.kernels.assign(40, k);
    std::string dir = syn::temp_dir(graph ? "graph" + std::to_string(sets.size()) : "eager");
    syn::write_synthetic_bundle(dir, {op});
    ReplayOptions o;
    o.bundle = dir;
    o.mode = ReplayMode::Measured;
    o.engine = "event";
    o.overrides = std::move(sets);
    return replay_bundle(o);
  };
  ReplayResult g = step(true, {}), e = step(false, {});
  EXPECT_EQ(g.kernels.size(), 40u);  // (each node, not the last one alone)
  EXPECT_EQ(e.kernels.size(), 40u);
  EXPECT_EQ(g.graph_launches, 1u);
  EXPECT_EQ(g.graph_nodes, 40u);
  EXPECT_EQ(e.graph_launches, 0u);
  EXPECT_EQ(g.to_json()["graph_nodes"], 40);
  EXPECT_LT(g.host_busy_s, e.host_busy_s - 30 * 4e-6);  // one launch, not 40
  EXPECT_LT(g.step_time_s, e.step_time_s);
  ReplayResult slow = step(true, {"graph_node_gap=2us"});
  EXPECT_NEAR(slow.step_time_s - g.step_time_s, 39 * 1.5e-6, 2e-6);
}

TEST(Host, DeviceSynchronizeBlocksTheHost) {
  std::string dir = syn::temp_dir("sync");
  syn::SynOp a = mem_op({mem_kernel(7)});
  a.kernels[0].dur_us = 500;
  a.runtime_after = "cudaDeviceSynchronize";
  syn::SynOp b = mem_op({mem_kernel(7)});
  b.kernels[0].dur_us = 5;
  syn::write_synthetic_bundle(dir, {a, b});
  ReplayResult r = run(dir, ReplayMode::Measured);
  // b can only be launched after the sync returns: its kernel starts after 500 us + launch.
  EXPECT_GT(r.step_time_s, 505e-6 + 4e-6);
}

// ---- bad input: one clear error naming the file and field ----
TEST(BadInput, MissingBundleOrFile) {
  EXPECT_NE(error_of([] { load_bundle("/nonexistent/bundle"); }).find("/nonexistent/bundle"), std::string::npos);
  std::string dir = syn::temp_dir("missing");
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("et.json"), std::string::npos) << e;
}

TEST(BadInput, TruncatedGzip) {
  std::string dir = syn::temp_dir("truncated");
  fs::copy_file(bundle("mlp_fp32") + "/kineto.json.gz", dir + "/kineto.json.gz");
  std::ifstream in(bundle("mlp_fp32") + "/et.json.gz", std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir + "/et.json.gz", std::ios::binary) << data.substr(0, data.size() / 2);
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("et.json.gz"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(BadInput, InvalidJson) {
  std::string dir = syn::temp_dir("invalid");
  fs::copy_file(bundle("mlp_fp32") + "/et.json.gz", dir + "/et.json.gz");
  std::ofstream(dir + "/kineto.json") << "{\"traceEvents\": [ {\"ph\": \"X\", ";
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("kineto.json"), std::string::npos) << e;
  EXPECT_NE(e.find("invalid JSON"), std::string::npos) << e;
}

TEST(BadInput, EtAndKinetoFromDifferentRuns) {
  std::string dir = syn::temp_dir("mixed");
  fs::copy_file(bundle("gpt_b") + "/et.json.gz", dir + "/et.json.gz");
  fs::copy_file(bundle("llama_s") + "/kineto.json.gz", dir + "/kineto.json.gz");
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("different runs"), std::string::npos) << e;
  EXPECT_NE(e.find("kineto.json.gz"), std::string::npos) << e;
}

TEST(BadInput, UnknownPresetAndZeroBandwidth) {
  ReplayOptions o;
  o.bundle = bundle("mlp_fp32");
  o.engine = "event";
  o.hw = "h900";
  std::string e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("h900"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown hardware preset"), std::string::npos) << e;
  o.hw = "h100";
  o.overrides = {"hbm_bandwidth=0 GB/s"};
  e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("hbm_bandwidth"), std::string::npos) << e;
  std::string dir = syn::temp_dir("zero_preset");
  std::ifstream in(std::string(ORRERY_SOURCE_DIR) + "/hw_models/presets/h100.json");
  nlohmann::json p = nlohmann::json::parse(in);
  p["params"]["hbm_bandwidth"] = "0 TB/s";
  write_json_file(dir + "/zero.json", p);
  o.overrides.clear();
  o.hw = dir + "/zero.json";
  e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("zero.json"), std::string::npos) << e;
  EXPECT_NE(e.find("hbm_bandwidth"), std::string::npos) << e;
}

TEST(BadInput, UnknownPresetKey) {
  std::string dir = syn::temp_dir("badkey");
  std::ifstream in(std::string(ORRERY_SOURCE_DIR) + "/hw_models/presets/h100.json");
  nlohmann::json p = nlohmann::json::parse(in);
  p["params"]["hbm_bandwith"] = "3 TB/s";
  write_json_file(dir + "/typo.json", p);
  std::string e = error_of([&] { load_accelerator(dir + "/typo.json"); });
  EXPECT_NE(e.find("hbm_bandwith"), std::string::npos) << e;
  EXPECT_NE(e.find("typo.json"), std::string::npos) << e;
}

TEST(BadInput, CliPrintsOneLineError) {
  std::string cmd = std::string(ORRERY_BINARY) + " replay /nonexistent/bundle 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  int rc = pclose(f);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("/nonexistent/bundle"), std::string::npos) << out;
}

TEST(Replay, EnergyIsBetweenIdleAndFullPowerAndWhatIfsMoveIt) {
  ReplayResult r = run(bundle("gpt_b"), ReplayMode::Roofline);
  EXPECT_GT(r.energy_j, 90.0 * r.step_time_s);   // power_idle
  EXPECT_LT(r.energy_j, 700.0 * r.step_time_s);  // power_tdp
  ReplayOptions o;
  o.bundle = bundle("gpt_b");
  o.engine = "event";
  o.mode = ReplayMode::Roofline;
  o.overrides = {"hbm_bandwidth=4.8TB/s"};
  ReplayResult fast = replay_bundle(o);
  EXPECT_LT(fast.step_time_s, r.step_time_s);
  EXPECT_LT(fast.energy_j, r.energy_j);
  EXPECT_EQ(fast.to_json()["overrides"][0], "hbm_bandwidth=4.8TB/s");
}

TEST(BadInput, CycleInEtParentChain) {
  std::string dir = syn::temp_dir("cycle");
  syn::SynOp a;
  a.name = "aten::add";
  syn::write_synthetic_bundle(dir, {a, a});
  nlohmann::json et = read_json_file(dir + "/et.json");
  for (auto& n : et["nodes"]) {
    if (n["id"] == 3) n["ctrl_deps"] = 4;  // ProfilerStep -> op -> ProfilerStep
    if (n["id"] == 4) n["ctrl_deps"] = 3;
  }
  write_json_file(dir + "/et.json", et);
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("cycle"), std::string::npos) << e;
  EXPECT_NE(e.find("et.json"), std::string::npos) << e;
}

TEST(BadInput, NotATrace) {
  std::string dir = syn::temp_dir("notatrace");
  syn::write_synthetic_bundle(dir, {syn::SynOp{}});
  write_json_file(dir + "/kineto.json", nlohmann::json{{"events", nlohmann::json::array()}});
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("kineto.json: traceEvents"), std::string::npos) << e;
}

// Corrupted fields inside otherwise valid traces: each is one error naming the file and the
// field, never a silent change of the answer (found by mutating real captures field by field).
namespace {
nlohmann::json load_plain(const std::string& path) { return read_json_file(path); }
std::string corrupted_bundle(const std::string& tag, const std::function<void(nlohmann::json& et, nlohmann::json& kin)>& edit) {
  std::string dir = syn::temp_dir(tag);
  nlohmann::json et = load_plain(bundle("mlp_fp32") + "/et.json.gz");
  nlohmann::json kin = load_plain(bundle("mlp_fp32") + "/kineto.json.gz");
  edit(et, kin);
  std::ofstream(dir + "/et.json") << et.dump();
  std::ofstream(dir + "/kineto.json") << kin.dump();
  return dir;
}
nlohmann::json& some_kernel(nlohmann::json& kin) {
  std::vector<nlohmann::json*> ks;
  for (auto& e : kin["traceEvents"])
    if (e.value("cat", "") == "kernel") ks.push_back(&e);
  return *ks[ks.size() / 2];
}
}  // namespace

TEST(BadInput, KernelDurationMissingNegativeOrNotANumber) {
  for (nlohmann::json bad : {nlohmann::json(-5), nlohmann::json("x"), nlohmann::json()}) {
    std::string dir = corrupted_bundle("baddur", [&](nlohmann::json&, nlohmann::json& kin) {
      if (bad.is_null()) some_kernel(kin).erase("dur");
      else some_kernel(kin)["dur"] = bad;
    });
    std::string e = error_of([&] { load_bundle(dir); });
    EXPECT_NE(e.find("kineto.json: traceEvents[] dur"), std::string::npos) << e;
  }
}

TEST(BadInput, FieldOfTheWrongTypeNamesTheFile) {
  std::string dir = corrupted_bundle("badtype", [](nlohmann::json&, nlohmann::json& kin) { some_kernel(kin)["name"] = 5; });
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("kineto.json"), std::string::npos) << e;
  EXPECT_NE(e.find("malformed trace"), std::string::npos) << e;
}

TEST(BadInput, KernelStartingBeforeItsLaunch) {
  // A corrupted timestamp far in the past used to stretch the capture window and change the
  // clock correction (47.1 -> 54.2 ms) without a word.
  std::string dir = corrupted_bundle("badts", [](nlohmann::json&, nlohmann::json& kin) { some_kernel(kin)["ts"] = -1e15; });
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("before its launch"), std::string::npos) << e;
}

// CUDA graph nodes recorded under correlation ids no runtime call has (or runtime events only
// partly recorded): most of the step's kernels would silently not replay. One line instead.
TEST(BadInput, GpuActivitiesNoLaunchClaims) {
  syn::SynOp op;
  op.name = "Torch-Compiled Region: 0/0";
  op.graph = true;
  op.kernels.assign(20, syn::SynKernel{});
  std::string dir = syn::temp_dir("unclaimed");
  syn::write_synthetic_bundle(dir, {op});
  EXPECT_NO_THROW(load_bundle(dir));
  nlohmann::json kin = read_json_file(dir + "/kineto.json");
  int id = 9000;
  for (auto& e : kin["traceEvents"])
    if (e.value("cat", "") == "kernel" && ++id % 2 == 0) e["args"]["correlation"] = id;  // half of the nodes
  write_json_file(dir + "/kineto.json", kin);
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("kineto.json: traceEvents: 10 of 20 GPU activities in the step have no runtime call"), std::string::npos) << e;
}

TEST(BadInput, ParentThatIsNotInTheTrace) {
  std::string dir = corrupted_bundle("badparent", [](nlohmann::json& et, nlohmann::json&) {
    et["nodes"][et["nodes"].size() / 2]["ctrl_deps"] = 987654321;
  });
  std::string e = error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("ctrl_deps"), std::string::npos) << e;
  EXPECT_NE(e.find("987654321 is not a node of the trace"), std::string::npos) << e;
}

TEST(BadInput, AbsurdKernelDurationFinishesInsteadOfHanging) {
  // 1e12 us (11.6 days): late in such a run a double's resolution of `now` exceeds a picosecond;
  // the engine used to spin forever on an activity due "now". 1e15 us is beyond the time base.
  std::string dir = corrupted_bundle("longdur", [](nlohmann::json&, nlohmann::json& kin) { some_kernel(kin)["dur"] = 1e12; });
  ReplayOptions o;
  o.bundle = dir;
  o.engine = "event";
  ReplayResult r = replay_bundle(o);
  EXPECT_GT(r.step_time_s, 1e6);
  dir = corrupted_bundle("toolong", [](nlohmann::json&, nlohmann::json& kin) { some_kernel(kin)["dur"] = 1e15; });
  o.bundle = dir;
  std::string e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("beyond the simulator's range"), std::string::npos) << e;
}

// ---- Kineto-only bundles (torch.profiler without ExecutionTraceObserver) ----
namespace {
std::string kineto_only_copy(const std::string& name) {
  std::string dir = syn::temp_dir("kineto_only_" + name);
  fs::copy_file(bundle(name) + "/kineto.json.gz", dir + "/kineto.json.gz");
  fs::copy_file(bundle(name) + "/measured.json", dir + "/measured.json");
  return dir;
}
}  // namespace

TEST(KinetoOnly, MeasuredReplayMatchesTheEtBundle) {
  for (const char* name : {"mlp_fp32", "gpt_b"}) {
    ReplayResult with_et = run(bundle(name), ReplayMode::Measured);
    ReplayResult alone = run(kineto_only_copy(name), ReplayMode::Measured);
    EXPECT_EQ(alone.kernels.size(), with_et.kernels.size()) << name;
    EXPECT_NEAR(alone.step_time_s, with_et.step_time_s, 0.005 * with_et.step_time_s) << name;
    EXPECT_TRUE(alone.has_measured);
    EXPECT_EQ(alone.peak_memory_bytes, 0) << "no tensor ids without the ET";
  }
}

TEST(KinetoOnly, OpTreeFromNestingAndShapesFromRecordShapes) {
  CapturedStep st = load_bundle(kineto_only_copy("gpt_b"));
  EXPECT_TRUE(st.et_path.empty());
  ASSERT_FALSE(st.host.empty());
  // Every op except the process root has a parent that is an op of the trace.
  std::set<std::int64_t> ids;
  for (auto& op : st.ops) ids.insert(op.id);
  const EtOp* addmm = nullptr;
  for (auto& op : st.ops) {
    EXPECT_TRUE(ids.count(op.parent)) << op.name;
    if (!addmm && op.name == "aten::addmm") addmm = &op;
  }
  ASSERT_NE(addmm, nullptr);
  // addmm(bias, x, w): three bf16 tensors with their shapes, a matrix op for the cost model.
  int tensors = 0;
  for (auto& a : addmm->inputs)
    if (a.is_tensor) {
      ++tensors;
      EXPECT_EQ(a.dtype, Dtype::BF16);
    }
  EXPECT_EQ(tensors, 3);
  EXPECT_TRUE(op_work(*addmm).matrix);
  EXPECT_GT(op_work(*addmm).flops, 0);
  // Kernels link to their ops through External id as with an ET.
  size_t linked = 0;
  for (auto& d : st.device) linked += d.op >= 0;
  EXPECT_GT(linked, st.device.size() * 9 / 10);
}

// The autograd sequence numbers (ET attrs seq_id, Kineto args "Sequence number") reach the ops
// from either file: the forward's distinct numbers are the nodes its backward evaluates (all but
// the AccumulateGrad leaves), which the host model charges autograd::record_per_op each.
TEST(KinetoOnly, AutogradSequenceNumbersCountTheBackwardsNodes) {
  auto forward_nodes = [](const CapturedStep& st) {
    std::set<std::int64_t> seqs;
    std::size_t nodes = 0;
    bool backward = false;
    for (auto& op : st.ops) {  // issue order
      const std::string& n = op.name.str();
      if (n.rfind("autograd::engine::evaluate_function: ", 0) == 0) {
        backward = true;
        nodes += n.find("AccumulateGrad") == std::string::npos;
      }
      if (!backward && op.autograd_seq >= 0) seqs.insert(op.autograd_seq);
    }
    return std::make_pair(seqs, nodes);
  };
  auto [et_seqs, et_nodes] = forward_nodes(load_bundle(bundle("gpt_b")));
  auto [k_seqs, k_nodes] = forward_nodes(load_bundle(kineto_only_copy("gpt_b")));
  EXPECT_GT(et_nodes, 300u);
  EXPECT_EQ(et_seqs.size(), et_nodes);
  EXPECT_EQ(k_seqs, et_seqs);
  EXPECT_EQ(k_nodes, et_nodes);
}

TEST(KinetoOnly, MultiRankGlooNeedsTheExecutionTraces) {
  std::string dir = syn::temp_dir("kineto_only_ranks");
  for (int r = 0; r < 4; ++r)
    fs::copy_file(std::string(ORRERY_SOURCE_DIR) + "/tests/data/multirank_gloo4/kineto." + std::to_string(r) + ".json.gz",
                  dir + "/kineto." + std::to_string(r) + ".json.gz");
  EXPECT_EQ(bundle_ranks(dir), (std::vector<int>{0, 1, 2, 3}));
  std::string e = error_of([&] { load_bundle(dir, 0); });
  EXPECT_NE(e.find("gloo collective"), std::string::npos) << e;
  EXPECT_NE(e.find("kineto.0.json.gz"), std::string::npos) << e;
}

// NCCL-style per-rank Kineto traces (record_param_comms with its args): the multi-rank replay
// without ETs matches the one with them (collectives matched by order within the process group).
TEST(KinetoOnly, MultiRankNcclMatchesTheEtReplay) {
  std::string with = syn::temp_dir("nccl_with_et"), without = syn::temp_dir("nccl_kineto_only");
  auto comm = syn::nccl_allreduce;
  syn::SynOp work = syn::two_ms_of_work();
  for (const std::string& d : {with, without}) {
    syn::write_synthetic_bundle(d, {comm(0), work, comm(1)}, 0, {0, 2});
    syn::write_synthetic_bundle(d, {work, comm(0), comm(1)}, 0, {1, 2});
  }
  for (int r = 0; r < 2; ++r) ASSERT_TRUE(fs::remove(without + "/et." + std::to_string(r) + ".json"));
  EXPECT_TRUE(load_bundle(without, 1).et_path.empty());
  ReplayResult a = run(with, ReplayMode::Measured), b = run(without, ReplayMode::Measured);
  ASSERT_EQ(a.rank_step_s.size(), 2u);
  ASSERT_EQ(b.rank_step_s.size(), 2u);
  for (int r = 0; r < 2; ++r) EXPECT_NEAR(b.rank_step_s[r], a.rank_step_s[r], 0.01 * a.rank_step_s[r]) << r;
  EXPECT_GT(b.step_time_s, 2.3e-3);  // the collectives wait for the slower rank and cost their fabric time
}

// Elementwise kernel families: the efficiency of a family scales only that family's memory time,
// and the fit reads the captures' kernels (not measured.json) and names the parameters it sets.
TEST(KernelFamilies, EfficiencyScalesOnlyItsFamilyAndTheFitNamesItsParameters) {
  EXPECT_STREQ(elementwise_family("void at::native::vectorized_elementwise_kernel<4, ...>"), "vectorized");
  EXPECT_STREQ(elementwise_family("void at::native::unrolled_elementwise_kernel<at::native::direct_copy...>"), "unrolled");
  EXPECT_STREQ(elementwise_family("void at::native::elementwise_kernel<128, 4, ...>"), "strided");
  EXPECT_STREQ(elementwise_family("sm90_xmma_gemm_bf16bf16_bf16f32"), "");
  auto run_with = [](const std::string& unrolled) {
    ReplayOptions o;
    o.bundle = bundle("gpt_b");
    o.mode = ReplayMode::Roofline;
    o.engine = "event";
    o.overrides = {"unrolled_elementwise_efficiency=" + unrolled, "strided_elementwise_efficiency=1"};
    return replay_bundle(o);
  };
  // (0.5 and 0.25: the curve's time stays above the description's lower bound for these kernels,
  // replay's calibrated_lower_bounds, so the parameter alone moves them)
  ReplayResult one = run_with("0.5"), half = run_with("0.25");
  ASSERT_EQ(one.kernels.size(), half.kernels.size());
  int unrolled_seen = 0;
  for (size_t i = 0; i < one.kernels.size(); ++i) {
    const auto& a = one.kernels[i];
    const auto& b = half.kernels[i];
    std::string f = elementwise_family(a.name);
    if (f == "unrolled" && a.bound == "memory" && a.bytes > 64e6) {
      ++unrolled_seen;
      EXPECT_NEAR(b.simulated_s / a.simulated_s, 2.0, 0.05) << a.name;
    } else if (f == "vectorized") {
      EXPECT_NEAR(b.simulated_s, a.simulated_s, 1e-3 * a.simulated_s) << a.name;
    }
  }
  EXPECT_GT(unrolled_seen, 10);
  auto fits = fit_kernel_families({bundle("gpt_b")}, "h100");
  ASSERT_EQ(fits.size(), 3u);
  EXPECT_EQ(fits[0].family, "vectorized");
  EXPECT_EQ(fits[0].parameter, "");
  EXPECT_EQ(fits[1].parameter, "unrolled_elementwise_efficiency");
  EXPECT_GT(fits[1].kernels, 20);
  EXPECT_TRUE(fits[1].fitted);
  EXPECT_GT(fits[1].median_ratio, 0);
  EXPECT_FALSE(fits[2].fitted);  // gpt_b has a single strided kernel: not enough to fit
  EXPECT_NE(syn::error_of([] { fit_kernel_families({}, "h100"); }).find("--kernel-families"), std::string::npos);
}

// Side kernels of a fused attention op (cuDNN's dO.O rowsum, dQ conversion, GQA head reduction)
// stream what they move (the rowsum also zeroes the fp32 dQ accumulator: the conversion's input,
// so it moves more than the conversion); the main backward kernel carries the op's attention time.
TEST(Roofline, AttentionSideKernelsStreamAndTheMainKernelCarriesTheOp) {
  ReplayResult r = run(bundle("llama_s"), ReplayMode::Roofline);
  double side = 0, bprop = 0;
  int n_side = 0, n_bprop = 0;
  for (auto& k : r.kernels) {
    if (k.name.find("reduce_head") != std::string::npos || k.name.find("dot_do_o") != std::string::npos ||
        k.name.find("convert_dq") != std::string::npos) {
      ++n_side;
      side += k.simulated_s;
      EXPECT_GT(k.simulated_s, 5e-6) << k.name;  // not the 1.4 us latency floor
    }
    if (k.name.find("flash_bprop") != std::string::npos) {
      ++n_bprop;
      bprop += k.simulated_s;
    }
  }
  ASSERT_EQ(n_side, 32);  // 8 layers x (dot_do_o, convert_dq, 2 x reduce_head)
  ASSERT_EQ(n_bprop, 8);
  double dot = 0, conv = 0;
  for (auto& k : r.kernels) {
    if (k.name.find("dot_do_o") != std::string::npos) dot += k.simulated_s;
    if (k.name.find("convert_dq") != std::string::npos) conv += k.simulated_s;
  }
  EXPECT_GT(dot, 1.1 * conv);  // (2 + 2 + 4 bytes an element against 4 + 2)
  EXPECT_GT(bprop / n_bprop, 5 * side / n_side);
}

// --gemm-precision: the 16-bit GEMMs alone move (fp8 doubles the H100 peak); other kernels and the
// fp32 GEMMs stay; the what-if is not compared with the measured step.
TEST(WhatIf, GemmPrecisionMovesOnlyThe16BitGemms) {
  auto run_p = [](const std::string& b, const std::string& p) {
    ReplayOptions o;
    o.bundle = bundle(b);
    o.engine = "event";
    o.gemm_precision = p;
    return replay_bundle(o);
  };
  ReplayResult base = run_p("gpt_b", ""), fp8 = run_p("gpt_b", "fp8");
  ASSERT_EQ(base.kernels.size(), fp8.kernels.size());
  double g0 = 0, g1 = 0;
  for (size_t i = 0; i < base.kernels.size(); ++i) {
    if (base.kernels[i].kernel_class == "gemm") {
      g0 += base.kernels[i].simulated_s;
      g1 += fp8.kernels[i].simulated_s;
    } else if (base.kernels[i].kernel_class == "elementwise") {
      EXPECT_NEAR(fp8.kernels[i].simulated_s, base.kernels[i].simulated_s, 0.05 * base.kernels[i].simulated_s + 1e-7);
    }
  }
  EXPECT_LT(g1, 0.6 * g0);
  EXPECT_LT(fp8.step_time_s, base.step_time_s);
  EXPECT_TRUE(base.has_measured);
  EXPECT_FALSE(fp8.has_measured);
  EXPECT_EQ(fp8.config["gemm_precision"], "fp8");
  // fp32 GEMMs (mlp_fp32) stay as captured.
  EXPECT_NEAR(run_p("mlp_fp32", "fp8").step_time_s, run_p("mlp_fp32", "").step_time_s, 1e-9);
  EXPECT_NE(syn::error_of([&] { run_p("mlp_fp32", "int4"); }).find("--gemm-precision"), std::string::npos);
}

// ---- the four real H200 captures (examples/bundles_h200, copied from shared/fixtures/h200) ----
namespace {
std::string bundle_h200(const std::string& name) {
  return std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200/" + name;
}
}  // namespace

class BundleAccuracyH200 : public ::testing::TestWithParam<const char*> {};

TEST_P(BundleAccuracyH200, MeasuredModeWithin5PercentOnTheH200) {
  ReplayOptions o;
  o.bundle = bundle_h200(GetParam());
  o.hw = "h200";
  o.engine = "event";
  ReplayResult r = replay_bundle(o);
  ASSERT_TRUE(r.has_measured);
  EXPECT_FALSE(r.what_if);
  EXPECT_LT(std::fabs(r.error_pct), 5.0) << GetParam() << " predicted " << r.step_time_s * 1e3 << " ms";
}

TEST_P(BundleAccuracyH200, RooflineModeWithin15PercentOnTheH200) {
  ReplayOptions o;
  o.bundle = bundle_h200(GetParam());
  o.hw = "h200";
  o.engine = "event";
  o.mode = ReplayMode::Roofline;
  ReplayResult r = replay_bundle(o);
  ASSERT_TRUE(r.has_measured);
  EXPECT_LT(std::fabs(r.error_pct), 15.0) << GetParam() << " predicted " << r.step_time_s * 1e3 << " ms";
}

TEST_P(BundleAccuracyH200, H100CaptureTransferredToH200Within8PercentOfTheH200Step) {
  ReplayOptions o;
  o.bundle = bundle(GetParam());
  o.hw = "h200";
  o.source_hw = "h100";
  o.engine = "event";
  o.mode = ReplayMode::Transfer;
  ReplayResult r = replay_bundle(o);
  EXPECT_TRUE(r.what_if);
  EXPECT_FALSE(r.has_measured);  // the H100 measured.json is not the H200's ground truth
  compare_with_measured(r, bundle_h200(GetParam()) + "/measured.json");
  ASSERT_TRUE(r.has_measured);
  EXPECT_LT(std::fabs(r.error_pct), 8.0) << GetParam() << " predicted " << r.step_time_s * 1e3 << " ms";
}

// gpt_a_ddp is not listed: on the H200 machine its step is host-bound in a way the host model does
// not capture yet (measured 33.5 ms vs 28.3 ms predicted; docs/replay.md "H200").
INSTANTIATE_TEST_SUITE_P(H200, BundleAccuracyH200, ::testing::Values("mlp_fp32", "gpt_b", "llama_s"));

TEST(WhatIf, OtherHardwareClaimsNoErrorAndSaysWhy) {
  ReplayOptions o;
  o.bundle = bundle("mlp_fp32");
  o.engine = "event";
  o.overrides = {"hbm_bandwidth=4.8TB/s"};
  // measured mode keeps the captured kernel times, which the HBM cannot move: an error (it
  // shifted only the clock correction's compute share, a faster HBM giving a slower step)
  std::string e;
  try {
    replay_bundle(o);
  } catch (const Error& x) {
    e = x.what();
  }
  EXPECT_NE(e.find("--set: hbm_bandwidth=4.8TB/s: measured mode replays the captured kernel times"), std::string::npos) << e;
  o.mode = ReplayMode::Roofline;
  ReplayResult set = replay_bundle(o);
  EXPECT_TRUE(set.what_if);
  EXPECT_FALSE(set.has_measured);
  EXPECT_NE(set.what_if_reason.find("--set hbm_bandwidth=4.8TB/s"), std::string::npos);
  o.mode = ReplayMode::Measured;
  o.overrides = {"launch_cost=2us"};  // a host what-if is one of measured mode's
  EXPECT_TRUE(replay_bundle(o).what_if);
  nlohmann::json j = set.to_json();
  EXPECT_EQ(j["ground_truth"], "what-if, no ground truth");
  EXPECT_FALSE(j.contains("error_pct"));
  // A capture taken on an H200 replayed on the (default) H100 preset.
  ReplayOptions h;
  h.bundle = bundle_h200("mlp_fp32");
  h.engine = "event";
  ReplayResult other = replay_bundle(h);
  EXPECT_TRUE(other.what_if);
  EXPECT_NE(other.what_if_reason.find("NVIDIA H200"), std::string::npos);
  // The same capture on its own GPU compares with its measured.json.
  h.hw = "h200";
  ReplayResult own = replay_bundle(h);
  EXPECT_FALSE(own.what_if);
  EXPECT_TRUE(own.has_measured);
}

TEST(BadInput, CaptureDeviceDifferentFromSourceHwNamesTheFile) {
  ReplayOptions o;
  o.bundle = bundle_h200("mlp_fp32");
  o.engine = "event";
  o.mode = ReplayMode::Transfer;
  o.source_hw = "h100";
  o.hw = "h200";
  std::string e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("kineto.json.gz: deviceProperties[0].name: the capture was taken on NVIDIA H200"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
}

TEST(Energy, SameJoulesInEveryModeAndWithoutTheEt) {
  ReplayResult m = run(bundle("llama_s"), ReplayMode::Measured);
  ReplayResult r = run(bundle("llama_s"), ReplayMode::Roofline);
  // Dynamic energy comes from each kernel's work, not from how long a mode says it takes; only
  // the idle power over a different step time moves the total.
  double idle_diff = 90.0 * std::fabs(m.step_time_s - r.step_time_s);
  EXPECT_NEAR(m.energy_j, r.energy_j, 0.02 * m.energy_j + idle_diff);
  fs::path ko = fs::temp_directory_path() / "orrery_energy_kineto_only";
  fs::remove_all(ko);
  fs::create_directories(ko);
  fs::copy_file(bundle("llama_s") + "/kineto.json.gz", ko / "kineto.json.gz");
  ReplayResult k = run(ko.string(), ReplayMode::Measured);
  EXPECT_NEAR(k.energy_j, m.energy_j, 0.04 * m.energy_j);
  fs::remove_all(ko);
}

}  // namespace replay_test
