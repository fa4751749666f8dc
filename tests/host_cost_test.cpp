// Host cost of captured ops (workloads/host_cost.h): the dispatch table, autocast casts, the
// structural fallback, optimizer steps per parameter, the capture host's own table, and bad
// host tables. Kernel-free: ops are built here, except the last tests, which replay real H200
// captures that carry their host table (examples/bundles_h200_more/).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "hw_models/calibrate.h"
#include "sim/error.h"
#include "support/errors.h"
#include "workloads/host_cost.h"
#include "workloads/replay.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace host_cost_test {

using namespace orrery;
using orrery::syn::error_of;
namespace fs = std::filesystem;

namespace {
constexpr double us = 1e-6;

EtArg tensor(Dtype d) {
  EtArg a;
  a.is_tensor = true;
  a.dtype = d;
  a.shape = {64, 64};
  return a;
}

// A step of ops: add(name, parent) appends an op and returns its index.
struct Step {
  CapturedStep st;
  int add(const std::string& name, int parent = -1, Dtype d = Dtype::BF16) {
    EtOp op;
    op.id = static_cast<std::int64_t>(st.ops.size()) + 1;
    op.name = name;
    op.inputs.push_back(tensor(d));
    st.ops.push_back(op);
    int i = static_cast<int>(st.ops.size()) - 1;
    if (parent >= 0) st.ops[static_cast<std::size_t>(parent)].children.push_back(i);
    return i;
  }
  void launch(int op) {
    DeviceActivity d;
    d.op = op;
    st.device.push_back(d);
  }
};

Accelerator host_preset(std::map<std::string, double> table) {
  Accelerator hw = load_accelerator("h100");
  hw.host_dispatch = std::move(table);
  return hw;
}
}  // namespace

TEST(HostCost, TableEntryPricesAnOpAndItsAutocastCastsAreAdded) {
  Accelerator hw = host_preset({{"aten::linear/bf16", 20 * us}, {"aten::to_dtype/bf16", 10 * us}, {"aten::addmm/bf16", 15 * us}});
  Step s;
  int plain = s.add("aten::linear");
  s.add("aten::addmm", plain);
  int cast = s.add("aten::linear");
  s.add("aten::to", cast);  // autocast's weight cast: the table measured linear without it
  s.add("aten::addmm", cast);
  HostCostModel m(s.st, hw);
  EXPECT_NEAR(m.op_cost(plain), 20 * us, 1e-12);  // the table, not its children (which it includes)
  EXPECT_NEAR(m.op_cost(cast), 30 * us, 1e-12);
  EXPECT_EQ(m.table_key(cast), "aten::linear/bf16");
}

// A cast is recorded as aten::to -> aten::_to_copy -> (empty_strided, copy_): the _to_copy is the
// cast the table's aten::to_dtype entry ran (x.to(dtype)), not an autocast cast on top of it. As
// an autocast weight cast under linear, and as the whole of a backward node (ToCopyBackward0,
// the backward of every autocast cast), it costs the entry once.
TEST(HostCost, ACastsOwnCopyIsNotPricedTwice) {
  Accelerator hw = host_preset({{"aten::linear/bf16", 20 * us}, {"aten::to_dtype/bf16", 10 * us}, {"aten::addmm/bf16", 15 * us}});
  auto cast_under = [](Step& s, int parent) {
    int to = s.add("aten::to", parent);
    int copy = s.add("aten::_to_copy", to);
    s.add("aten::empty_strided", copy);
    s.add("aten::copy_", copy);
    return to;
  };
  Step s;
  int lin = s.add("aten::linear");
  cast_under(s, lin);
  s.add("aten::addmm", lin);
  int node = s.add("ToCopyBackward0");
  int cast = cast_under(s, node);
  HostCostModel m(s.st, hw);
  EXPECT_NEAR(m.op_cost(cast), 10 * us, 1e-12);
  EXPECT_NEAR(m.op_cost(lin), 30 * us, 1e-12);
  EXPECT_NEAR(m.op_cost(node), hw.p("op_overhead") + 10 * us, 1e-12);
}

// A channels-last batch norm over more than one block row of its grid zeroes its cross-block
// semaphores (Normalization.cuh: aten::zeros under native_batch_norm); at the table's tiny shape
// it does not. The zeros the capture shows is priced on top of the entry; without it, the entry.
TEST(HostCost, ZeroedScratchBelowATablePricedOpIsAdded) {
  Accelerator hw = host_preset({{"aten::batch_norm/bf16", 30 * us}, {"aten::empty/bf16", 2 * us}, {"aten::fill_/bf16", 7 * us}});
  Step s;
  int tiny = s.add("aten::batch_norm");
  s.add("aten::native_batch_norm", s.add("aten::_batch_norm_impl_index", tiny));
  int real = s.add("aten::batch_norm");
  int native = s.add("aten::native_batch_norm", s.add("aten::_batch_norm_impl_index", real));
  s.add("aten::empty", native);
  int zeros = s.add("aten::zeros", native);
  s.add("aten::empty", zeros);
  s.add("aten::fill_", s.add("aten::zero_", zeros));
  HostCostModel m(s.st, hw);
  EXPECT_NEAR(m.op_cost(tiny), 30 * us, 1e-12);
  // zeros: its overhead + empty + zero_ (the table's fill_); the other empty stays in the entry
  double z = hw.p("op_overhead") + 2 * us + 7 * us;
  EXPECT_NEAR(m.op_cost(zeros), z, 1e-12);
  EXPECT_NEAR(m.op_cost(real), 30 * us + z, 1e-12);
}

TEST(HostCost, AnOpTheTableLacksCostsOverheadLaunchesAndChildren) {
  Accelerator hw = host_preset({{"aten::view/bf16", 2 * us}});
  Step s;
  int op = s.add("mylib::fused_thing");
  s.add("aten::view", op);
  s.launch(op);
  s.launch(op);
  HostCostModel m(s.st, hw);
  EXPECT_NEAR(m.op_cost(op), hw.p("op_overhead") + 2 * hw.p("launch_cost") + 2 * us, 1e-12);
  EXPECT_EQ(m.table_key(op), "");
}

TEST(HostCost, OptimizerStepGrowsWithItsParameters) {
  Accelerator hw = host_preset({{"optim::adamw_fused_step_16_params", 100 * us}, {"optim::adamw_fused_step_128_params", 380 * us}});
  auto step_with = [&](std::size_t n) {
    Step s;
    int opt = s.add("Optimizer.step#AdamW.step");
    int fused = s.add("aten::_fused_adamw_", opt);
    EtArg list;
    list.type = "GenericList[Tensor(float)]";
    list.elems.assign(n, tensor(Dtype::FP32));
    s.st.ops[static_cast<std::size_t>(fused)].inputs = {list};
    HostCostModel m(s.st, hw);
    return m.op_cost(opt);
  };
  // The two measured sizes come back; in between it is linear (2.5 us per parameter here).
  EXPECT_NEAR(step_with(16), 100 * us, 1e-9);
  EXPECT_NEAR(step_with(128), 380 * us, 1e-9);
  EXPECT_NEAR(step_with(148), 430 * us, 1e-9);
  // Without the fused kernel below it, the fused entry does not apply.
  Step s;
  int opt = s.add("Optimizer.step#AdamW.step");
  HostCostModel m(s.st, hw);
  EXPECT_LT(m.op_cost(opt), 10 * us);
}

TEST(HostCost, TheCaptureHostsTableGivesItsSpeed) {
  Accelerator hw = host_preset({{"aten::mm/bf16", 10 * us}, {"aten::add/bf16", 8 * us}, {"aten::view/bf16", 2 * us},
                                {"aten::mul/bf16", 4 * us}});
  Step s;
  int mm = s.add("aten::mm"), add = s.add("aten::add"), mul = s.add("aten::mul"), conv = s.add("aten::conv2d");
  int odd = s.add("mylib::op");
  // A 1.5x slower host (median of 1.5, 1.5, 2.0); conv2d only it measured.
  s.st.host_dispatch = {{"aten::mm/bf16", 15 * us}, {"aten::view/bf16", 3 * us}, {"aten::mul/bf16", 8 * us},
                        {"aten::conv2d/bf16", 40 * us}};
  s.st.host_dispatch_path = "bundle/host_dispatch.json";
  HostCostModel preset(s.st, hw, false), own(s.st, hw, true);
  EXPECT_EQ(preset.table().source, "preset");
  EXPECT_NEAR(preset.op_cost(mm), 10 * us, 1e-12);
  EXPECT_EQ(preset.table_key(conv), "");
  EXPECT_EQ(own.table().source, "bundle/host_dispatch.json");
  EXPECT_NEAR(own.table().speed_ratio, 1.5, 1e-12);
  EXPECT_EQ(own.table().shared, 3);
  EXPECT_NEAR(own.op_cost(mm), 15 * us, 1e-12);
  EXPECT_NEAR(own.op_cost(add), 12 * us, 1e-12);   // the preset's x 1.5: not measured there
  EXPECT_NEAR(own.op_cost(mul), 6 * us, 1e-12);    // the preset's x 1.5, not the single 2x entry
  EXPECT_NEAR(own.op_cost(conv), 40 * us, 1e-12);  // what only the capture host measured
  EXPECT_NEAR(own.op_cost(odd), 1.5 * hw.p("op_overhead"), 1e-12);  // the fallback scales too
}

// A training step's forward ops record the autograd graph (autograd::record_per_op each);
// backward, optimizer and inference ops do not.
TEST(HostCost, TrainingForwardOpsPayTheAutogradRecording) {
  Accelerator hw = host_preset({{"aten::add/bf16", 8 * us}, {"aten::view/bf16", 2 * us}, {"aten::linear/bf16", 20 * us},
                                {"autograd::record_per_op", 4 * us}});
  auto build = [](bool backward) {
    Step s;
    int add = s.add("aten::add");
    int ddp = s.add("DistributedDataParallel.forward");  // a Python-level wrapper: its aten ops record
    s.add("aten::linear", ddp);
    s.add("aten::view", ddp);
    int bwd = backward ? s.add("autograd::engine::evaluate_function: AddBackward0") : -1;
    int opt = s.add("Optimizer.step#SGD.step");
    for (int op : {add, ddp, bwd, opt})
      if (op >= 0) {
        HostItem h;
        h.op = op;
        s.st.host.push_back(h);
      }
    return s;
  };
  Step train = build(true), infer = build(false);
  HostCostModel t(train.st, hw), i(infer.st, hw);
  EXPECT_NEAR(t.item_cost(train.st.host[0]), 8 * us + 4 * us, 1e-12);
  EXPECT_NEAR(t.item_cost(train.st.host[1]), t.op_cost(1) + 2 * 4 * us, 1e-12);
  EXPECT_NEAR(t.item_cost(train.st.host[2]), t.op_cost(4), 1e-12);  // the backward node records nothing
  EXPECT_NEAR(t.item_cost(train.st.host[3]), t.op_cost(5), 1e-12);  // nor the optimizer
  EXPECT_NEAR(i.item_cost(infer.st.host[0]), 8 * us, 1e-12);        // inference: no backward, no graph
  EXPECT_NEAR(i.item_cost(infer.st.host[1]), i.op_cost(1), 1e-12);
  EXPECT_NEAR(t.table().autograd_record, 4 * us, 1e-12);
  // A trace recorded below the autograd engine (orrery emulate): the backward starts at the first
  // *_backward aten op.
  Step emu;
  int fwd = emu.add("aten::add");
  int bwd = emu.add("aten::nll_loss_backward");
  for (int op : {fwd, bwd}) {
    HostItem h;
    h.op = op;
    emu.st.host.push_back(h);
  }
  HostCostModel e(emu.st, hw);
  EXPECT_NEAR(e.item_cost(emu.st.host[0]), 8 * us + 4 * us, 1e-12);
  EXPECT_NEAR(e.item_cost(emu.st.host[1]), e.op_cost(bwd), 1e-12);
}

// With autograd sequence numbers (a profiled capture's ET seq_id / Kineto "Sequence number"), the
// forward pays one recording per autograd node: a linear under autocast records its cast and its
// t and addmm, three nodes, not one; an op that records none (arange: grad mode on, no grad input)
// peeks the number the next node takes, and that node is charged to the op that takes it.
TEST(HostCost, TrainingForwardPaysOneRecordingPerAutogradNode) {
  Accelerator hw = host_preset({{"aten::linear/bf16", 20 * us}, {"aten::arange/bf16", 5 * us},
                                {"aten::add/bf16", 8 * us}, {"autograd::record_per_op", 4 * us}});
  Step s;
  auto seq = [&s](int op, std::int64_t n) { s.st.ops[static_cast<std::size_t>(op)].autograd_seq = n; };
  int lin = s.add("aten::linear");
  seq(lin, 10);
  seq(s.add("aten::to", lin), 10);           // the cast: ToCopyBackward0 is node 10
  seq(s.add("aten::t", lin), 11);
  seq(s.add("aten::addmm", lin), 12);
  seq(s.add("aten::empty", s.add("aten::_to_copy", lin)), -1);  // below autograd: no number
  int ar = s.add("aten::arange");
  seq(ar, 13);                                // records nothing; add takes node 13
  int add = s.add("aten::add");
  seq(add, 13);
  int bwd = s.add("autograd::engine::evaluate_function: AddBackward0");
  for (int op : {lin, ar, add, bwd}) {
    HostItem h;
    h.op = op;
    s.st.host.push_back(h);
  }
  HostCostModel m(s.st, hw);
  EXPECT_NEAR(m.item_cost(s.st.host[0]), m.op_cost(lin) + 3 * 4 * us, 1e-12);
  EXPECT_NEAR(m.item_cost(s.st.host[1]), 5 * us, 1e-12);
  EXPECT_NEAR(m.item_cost(s.st.host[2]), 8 * us + 4 * us, 1e-12);
}

TEST(HostCost, BundleTableIsUsedOnlyOnTheCapturesGpuAndWhenAsked) {
  CapturedStep st;
  st.device_name = "NVIDIA H200";
  st.host_dispatch = {{"aten::mm/bf16", 15 * us}};
  ReplayOptions o;
  EXPECT_TRUE(use_bundle_host(o, st, load_accelerator("h200")));
  EXPECT_FALSE(use_bundle_host(o, st, load_accelerator("h100")));  // another GPU: another host
  o.host_table = "preset";
  EXPECT_FALSE(use_bundle_host(o, st, load_accelerator("h200")));
  o.host_table = "bundle-ish";
  EXPECT_NE(error_of([&] { use_bundle_host(o, st, load_accelerator("h200")); }).find("--host-table"), std::string::npos);
  st.host_dispatch.clear();
  o.host_table = "auto";
  EXPECT_FALSE(use_bundle_host(o, st, load_accelerator("h200")));
}

TEST(HostCost, BadHostTableNamesFileAndKey) {
  fs::path dir = fs::temp_directory_path() / "orrery_host_cost_test";
  fs::create_directories(dir);
  auto write = [&](const std::string& body) {
    std::ofstream(dir / "t.json") << body;
    return error_of([&] { read_host_dispatch_file((dir / "t.json").string()); });
  };
  std::string e = write(R"({"host_dispatch": {"aten::mm/bf16": {"median_us": -3}}})");
  EXPECT_NE(e.find("t.json"), std::string::npos) << e;
  EXPECT_NE(e.find("aten::mm/bf16"), std::string::npos) << e;
  e = write(R"({"host": {}})");
  EXPECT_NE(e.find("host_dispatch"), std::string::npos) << e;
  e = write(R"({"host_dispatch": {"aten::mm/bf16": {"median_us": 1e999}}})");
  EXPECT_NE(e.find("t.json"), std::string::npos) << e;
  e = write("{not json");
  EXPECT_NE(e.find("t.json"), std::string::npos) << e;
  fs::remove_all(dir);
}

// A real capture with its host's table: replayed with it (auto) and with the preset's. The
// table is the capture host's; the result moves by the host's speed, and says which it used.
TEST(HostCost, ReplayOfACaptureWithItsHostTable) {
  ReplayOptions o;
  o.bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200_more/decode_3";
  o.hw = "h200";
  o.engine = "event";
  ReplayResult own = replay_bundle(o);
  o.host_table = "preset";
  ReplayResult preset = replay_bundle(o);
  EXPECT_NE(own.host_table.find("host_dispatch.json"), std::string::npos);
  EXPECT_EQ(preset.host_table, "preset");
  EXPECT_GT(own.host_speed_ratio, 0.5);
  EXPECT_LT(own.host_speed_ratio, 2.0);
  EXPECT_EQ(own.config["host_table"]["source"], own.host_table);
  // decode is host-bound: a slower host table gives a longer step, a faster one a shorter one.
  EXPECT_EQ(own.host_busy_s > preset.host_busy_s, own.host_speed_ratio > 1) << own.host_busy_s << " " << preset.host_busy_s;
}

// --host-table FILE: the target host's table prices the capture on any GPU (here an H200
// capture transferred to the H100, which would otherwise take the H100 preset's table). The
// given table is decode_3's with every entry doubled: the host runs at twice its speed ratio.
TEST(HostCost, GivenHostTableFilePricesAnyGpu) {
  fs::path dir = fs::temp_directory_path() / "orrery_host_table_file_test";
  fs::create_directories(dir);
  std::string bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200_more/decode_3";
  nlohmann::json t = nlohmann::json::parse(std::ifstream(bundle + "/host_dispatch.json"));
  for (auto& [k, v] : t["host_dispatch"].items()) v["median_us"] = 2 * v["median_us"].get<double>();
  std::ofstream(dir / "slow_host.json") << t.dump();
  ReplayOptions o;
  o.bundle = bundle;
  o.hw = "h100";
  o.engine = "event";
  o.mode = ReplayMode::Transfer;
  o.source_hw = "h200";
  ReplayResult preset = replay_bundle(o);
  EXPECT_EQ(preset.host_table, "preset");  // not the capture's GPU: the preset's table
  o.host_table = (dir / "slow_host.json").string();
  ReplayResult given = replay_bundle(o);
  EXPECT_TRUE(given.host_table_given);
  EXPECT_EQ(given.host_table, o.host_table);
  o.host_table = bundle + "/host_dispatch.json";
  ReplayResult own = replay_bundle(o);
  EXPECT_NEAR(given.host_speed_ratio, 2 * own.host_speed_ratio, 0.01 * own.host_speed_ratio);
  EXPECT_GT(given.host_busy_s, 1.8 * own.host_busy_s);
  EXPECT_GT(given.step_time_s, own.step_time_s);  // decode is host-bound
  o.host_table = (dir / "missing.json").string();
  std::string e = error_of([&] { replay_bundle(o); });
  EXPECT_NE(e.find("--host-table"), std::string::npos) << e;
  fs::remove_all(dir);
}

}  // namespace host_cost_test
