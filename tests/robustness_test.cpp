// Robustness at real sizes (issue 10): each reproducer of the issue as a regression test. Bad
// flags and files end in ONE line naming the flag or the file and field (never a hang, a crash,
// a library's raw message or a silent wrong answer); streamed trace reading; checked
// picosecond arithmetic; byte-for-byte deterministic outputs.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "hw_models/accelerator.h"
#include "sim/data_files.h"
#include "sim/engine.h"
#include "sim/error.h"
#include "sim/limits.h"
#include "sim/units.h"
#include "support/errors.h"
#include "support/synthetic_bundle.h"
#include "topology/topology.h"
#include "validation/nccl_tests_log.h"
#include "workloads/chakra.h"
#include "workloads/json_io.h"
#include "workloads/json_stream.h"
#include "workloads/pytorch_trace.h"
#include "workloads/train.h"

namespace orrery::robustness_test {

namespace fs = std::filesystem;

struct CliRun {
  int rc = 0;
  std::string out;  // stdout + stderr
};

// Runs the CLI with a wall-clock guard (timeout(1)): a hang is a failure, not a stuck suite.
// `env`: "NAME=value " assignments for the run.
CliRun cli(const std::string& args, const std::string& env = "") {
  std::string cmd = env + "timeout 60 " + std::string(ORRERY_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r;
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) r.out += buf;
  int st = p ? pclose(p) : -1;
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// One line "orrery CMD: error: ..." that contains `names`, exit status 1.
void expect_one_line_error(const CliRun& r, const std::string& cmd, const std::string& names) {
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_EQ(r.out.rfind("orrery " + cmd + ": error: ", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find(names), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("json.exception"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("std::"), std::string::npos) << r.out;
}

std::string mlp() { return std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/mlp_fp32"; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- one flag: hangs and unbounded memory ----

TEST(Robustness, CollectiveZeroMinSizeIsAnErrorNotAHang) {
  expect_one_line_error(cli("collective --system dgx-h100 -b 0 -e 8M --engine event"), "collective", "-b");
}

TEST(Robustness, CollectiveTinyStepFactorIsBounded) {
  expect_one_line_error(cli("collective --system dgx-h100 -b 8 -e 8G -f 1.0000001 --engine event"), "collective", "-f");
}

TEST(Robustness, CollectiveHugeOrNonFiniteSizes) {
  expect_one_line_error(cli("collective --system dgx-h100 -b 8 -e 1e30 --engine event"), "collective", "-e");
  expect_one_line_error(cli("collective --system dgx-h100 -b 8 -e 8M -f inf --engine event"), "collective", "-f");
}

TEST(Robustness, TrainHugeGlobalBatchNamesTheFlag) {
  expect_one_line_error(cli("train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 2147483648 --engine event"),
                        "train", "--global-batch");
}

TEST(Robustness, TrainHugeMicroBatchNamesTheFlag) {
  expect_one_line_error(cli("train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1099511627776 --global-batch 8 --engine event"),
                        "train", "--micro-batch");
}

// ---- silent wrong answers from overflow ----

TEST(Robustness, IntegerFlagsMustFitTheirDestination) {
  // 4294967304 = 2^32 + 8 ran as 8 when a long was cast to int.
  expect_one_line_error(cli("replay " + mlp() + " --scale-dp 4294967304"), "replay", "--scale-dp");
  expect_one_line_error(cli("train --model llama3-8b --system dgx-h100 --micro-batch 1 --global-batch 8 --tp 4294967304"), "train", "--tp");
  expect_one_line_error(cli("topo dgx-h100 --nodes 4294967297"), "topo", "--nodes");
  expect_one_line_error(cli("train --model llama3-8b --system dgx-h100 --micro-batch 1 --global-batch 8 --tp 99999999999999999999"), "train", "--tp");
}

TEST(Robustness, KinetoInputDimsOverflowIsAnError) {
  std::string dir = syn::temp_dir("dims_overflow");
  syn::SynOp op;
  op.name = "aten::mm";
  op.n_inputs = 2;
  op.shape = {std::int64_t{1} << 32, std::int64_t{1} << 32};  // 2^64 elements: wrapped to 0 before
  op.kernels = {syn::SynKernel{}};
  syn::write_synthetic_bundle(dir, {op});
  fs::remove(dir + "/et.json");  // Kineto-only: the shapes come from "Input Dims"
  std::string e = syn::error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("kineto.json"), std::string::npos) << e;
  EXPECT_NE(e.find("Input Dims"), std::string::npos) << e;
}

TEST(Robustness, HugeLayerCountIsAnErrorNotA111DayIteration) {
  std::string dir = syn::temp_dir("layers");
  write_text_file(dir + "/big.json",
                  R"({"name": "big", "layers": 1000000000, "hidden": 1024, "heads": 16, "ffn": 4096, "vocab": 32000, "seq": 2048})");
  CliRun r = cli("train --model " + dir + "/big.json --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 8 --engine event");
  expect_one_line_error(r, "train", "layers");
}

TEST(Robustness, QuantityInfiniteAfterItsUnitIsAnError) {
  EXPECT_THROW(parse_quantity("1e300 TB/s", Unit::Bandwidth, "hbm_bandwidth"), Error);
  std::string e = syn::error_of([] { parse_quantity("1e300 TB/s", Unit::Bandwidth, "hbm_bandwidth"); });
  EXPECT_NE(e.find("hbm_bandwidth"), std::string::npos) << e;
  EXPECT_THROW(parse_quantity("1e7 s", Unit::Time, "t"), Error);  // beyond the per-value time bound
  EXPECT_DOUBLE_EQ(parse_quantity("3.35 TB/s", Unit::Bandwidth), 3.35e12);
  expect_one_line_error(cli("replay " + mlp() + " --set hbm_bandwidth=1e300TB/s"), "replay", "hbm_bandwidth");
}

TEST(Robustness, PicosecondSumsAreChecked) {
  EXPECT_EQ(add_ps(1, 2), 3);
  EXPECT_THROW(add_ps(std::numeric_limits<Ps>::max() - 5, 10), Error);
  EventCore core;
  core.at(to_ps(8e6), [] {});
  core.run();
  EXPECT_THROW(core.at(add_ps(core.now(), to_ps(8e6)), [] {}), Error);  // 16e6 s is beyond the time base
  EXPECT_THROW(core.at(-5, [] {}), Error);  // a wrapped (negative) time is an error, not "now"
}

// ---- one error path ----

TEST(Robustness, ErrorInsideTheSystemCProcessIsOneOrreryError) {
  auto core = make_engine("systemc");
  core->at(to_ps(1e-6), [] { throw make_error("model", "field", "failed inside the SystemC process"); });
  std::string e = syn::error_of([&] { core->run(); });
  EXPECT_EQ(e, "model: field: failed inside the SystemC process");
}

TEST(Robustness, FluidCompletionBeyondTheTimeBaseInsideSystemC) {
  // A completion at 1e9 s was computed by next_time() outside the guarded step: SystemC printed
  // its own 3-line report. Now it is the one orrery error.
  auto core = make_engine("systemc");
  auto r = core->fluid().add_resource("link", 1.0);
  core->at(1, [&] {
    fluid::ActivitySpec a;
    a.work = 1e9;
    a.usage = {{r, 1.0}};
    core->start(a, [] {});
  });
  std::string e = syn::error_of([&] { core->run(); });
  EXPECT_NE(e.find("beyond the simulator's range"), std::string::npos) << e;
}

TEST(Robustness, WronglyTypedMeasuredJsonNamesFileAndField) {
  std::string dir = syn::temp_dir("measured_types");
  syn::write_synthetic_bundle(dir, {syn::two_ms_of_work()}, 2.0);
  write_text_file(dir + "/measured.json", R"({"step_cuda_events": {"median_ms": "2.0"}})");
  std::string e = syn::error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("measured.json: step_cuda_events.median_ms"), std::string::npos) << e;
  write_text_file(dir + "/measured.json", R"({"step_cuda_events": {"median_ms": 2.0}, "max_mem_allocated": [1]})");
  e = syn::error_of([&] { load_bundle(dir); });
  EXPECT_NE(e.find("measured.json: max_mem_allocated"), std::string::npos) << e;
  expect_one_line_error(cli("replay " + dir), "replay", "max_mem_allocated");
}

TEST(Robustness, FilesystemErrorsNameThePath) {
  std::string longname(5000, 'a');  // ENAMETOOLONG: status() threw a raw filesystem_error
  CliRun r = cli("replay " + longname);
  expect_one_line_error(r, "replay", "aaaa");
  EXPECT_EQ(r.out.find("filesystem error"), std::string::npos) << r.out;
  r = cli("train --model " + longname + " --system dgx-h100 --micro-batch 1 --global-batch 8");
  expect_one_line_error(r, "train", "aaaa");
}

// ---- found by fuzzing (bench/fuzz.sh) ----

TEST(Robustness, NcclTestsRootColumnNotANumber) {
  // fuzz nccl_log: a root column "N/A" became NaN and was cast to int (undefined behaviour).
  std::string log =
      "#  Rank  0 Group  0 Pid   4242 on   gpu-node device  0 [0x18] NVIDIA H100 80GB HBM3\n"
      "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong\n"
      "        1024           256     float     sum     N/A     10.0    0.10    0.18      0     10.0    0.10    0.18      0\n";
  std::string e = syn::error_of([&] { parse_nccl_tests_text(log, "f.log"); });
  EXPECT_NE(e.find("f.log: line 3: bad root column 'N/A'"), std::string::npos) << e;
}

// ---- streamed reading ----

TEST(Robustness, StreamedJsonHandsOutElementsAndKeepsTheRest) {
  std::string dir = syn::temp_dir("stream");
  write_text_file(dir + "/t.json",
                  R"({"a": 1, "traceEvents": [{"x": 1, "drop": [1,2]}, 2, [3], {"x": {"drop": 5, "y": 6}}], "z": {"drop": 1, "w": 2}})");
  std::vector<std::string> seen;
  nlohmann::json rest = stream_json_file(dir + "/t.json", "traceEvents", {"drop"},
                                         [&](nlohmann::json&& e, size_t i) { seen.push_back(std::to_string(i) + e.dump()); });
  EXPECT_EQ(seen, (std::vector<std::string>{R"(0{"x":1})", "12", "2[3]", R"(3{"x":{"y":6}})"}));
  EXPECT_EQ(rest.dump(), R"({"a":1,"traceEvents":[],"z":{"w":2}})");
  // Without streaming: the same document, skipped keys dropped at every depth.
  EXPECT_EQ(read_json_file(dir + "/t.json", {"drop"}).dump(),
            R"({"a":1,"traceEvents":[{"x":1},2,[3],{"x":{"y":6}}],"z":{"w":2}})");
  write_text_file(dir + "/bad.json", R"({"traceEvents": [{"x": 1}, )");
  std::string e = syn::error_of([&] { stream_json_file(dir + "/bad.json", "traceEvents", {}, [](nlohmann::json&&, size_t) {}); });
  EXPECT_NE(e.find("bad.json: invalid JSON (parse error"), std::string::npos) << e;
}

TEST(Robustness, ManyKernelTraceLoadsEveryKernel) {
  // Every kernel of a Kineto-only trace of 3000 ops arrives (the reader keeps no DOM per event).
  std::string dir = syn::temp_dir("many");
  std::vector<syn::SynOp> ops(3000);
  for (auto& o : ops) o.kernels = {syn::SynKernel{}};
  syn::write_synthetic_bundle(dir, ops);
  fs::remove(dir + "/et.json");
  CapturedStep st = load_bundle(dir);
  EXPECT_EQ(st.device.size(), 3000u);
  EXPECT_EQ(st.device.back().grid, 1024);
  EXPECT_EQ(st.device.back().stream, 7);
}

// ---- determinism ----

void expect_same_files(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    std::string x = slurp(a[i]), y = slurp(b[i]);
    EXPECT_FALSE(x.empty()) << a[i];
    EXPECT_TRUE(x == y) << a[i] << " and " << b[i] << " differ";
  }
}

std::vector<std::string> outputs(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> v;
  for (auto& n : names) v.push_back(dir + "/" + n);
  return v;
}

TEST(Robustness, ReplayTrainCollectiveOutputsAreByteForByteDeterministic) {
  std::string root = syn::temp_dir("determinism");
  const std::vector<std::string> files = {"r.json", "r.config.json", "r.csv", "t.json"};
  // Both runs write to the same paths (the resolved configuration records the command line),
  // then each run's files are moved aside.
  for (const std::string run : {"1", "2"}) {
    std::string d = root + "/out";
    for (const char* sub : {"replay", "train", "coll"}) fs::create_directories(d + "/" + sub);
    ASSERT_EQ(cli("replay " + mlp() + " --json " + d + "/replay/r.json --csv " + d + "/replay/r.csv --timeline " +
                  d + "/replay/t.json").rc, 0);
    ASSERT_EQ(cli("train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 16 --json " + d +
                  "/train/r.json --csv " + d + "/train/r.csv --timeline " + d + "/train/t.json").rc, 0);
    ASSERT_EQ(cli("collective --op all_reduce --system dgx-h100 -b 8 -e 64M -f 8 --json " + d + "/coll/r.json --csv " + d +
                  "/coll/r.csv").rc, 0);
    fs::rename(d, root + "/" + run);
  }
  for (const std::string cmd : {"replay", "train"})
    expect_same_files(outputs(root + "/1/" + cmd, files), outputs(root + "/2/" + cmd, files));
  expect_same_files(outputs(root + "/1/coll", {"r.json", "r.config.json", "r.csv"}),
                    outputs(root + "/2/coll", {"r.json", "r.config.json", "r.csv"}));
}

// Found by fuzz_plan: a preset/model name longer than the filesystem allows escaped as a
// std::filesystem exception from the data-file lookup.
TEST(Robustness, OverlongModelNameIsAnUnknownModel) {
  expect_one_line_error(cli("train --model " + std::string(300, 'x') + " --system dgx-h100 --micro-batch 1 --global-batch 8"), "train", "--model");
  EXPECT_THROW(load_accelerator(std::string(5000, 'y')), Error);
}

// Found by fuzz_plan after 917,444 executions: the system lookup asked std::filesystem about a
// name longer than a path may be, and its exception terminated the process. Every lookup of a
// user-named path now uses the non-throwing calls (sim/data_files.h).
TEST(Robustness, OverlongSystemAndPathNamesAreOneLineErrors) {
  const std::string overlong(300, 's');
  expect_one_line_error(cli("train --model gpt-22b --system " + overlong + " --micro-batch 1 --global-batch 8"), "train", "--system");
  EXPECT_THROW(load_system_spec(overlong, 1), Error);
  EXPECT_FALSE(path_exists(overlong));
  EXPECT_FALSE(is_directory_path(overlong + "/" + overlong));
  EXPECT_FALSE(is_regular_file_path(std::string(5000, 'f')));
  expect_one_line_error(cli("replay " + overlong), "replay", overlong);
}

// Found by fuzz_system after 52,629 executions: a train-system file whose "name" (or "gpu") is
// not a string reached nlohmann's string conversion and terminated the process.
TEST(Robustness, SystemFileNameThatIsNotAStringIsAnError) {
  std::string dir = syn::temp_dir("system_name_number");
  for (const std::string key : {"name", "gpu"}) {
    const std::string path = dir + "/" + key + ".json";
    std::ofstream(path) << "{\n  \"" << key << "\": 4444444444444444444444444444444444444\n}\n";
    try {
      load_system_spec(path, 1);
      ADD_FAILURE() << key << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": " + key + ": expected a string"), std::string::npos) << e.what();
    }
    expect_one_line_error(cli("train --model gpt-22b --system " + path + " --micro-batch 1 --global-batch 8"), "train", key);
  }
}

// Found by fuzz_system (ASan: heap-use-after-free after 244,693 executions): a torus system
// without "dims" read the missing key through a const JSON object before the torus builder
// could say what was missing.
TEST(Robustness, TorusWithoutDimsIsOneLineError) {
  std::string dir = syn::temp_dir("torus_no_dims");
  const std::string path = dir + "/torus.json";
  std::ofstream(path) << R"({"name": "t", "topology": {"type": "torus", "link_latency": "0.1 us"}})";
  try {
    topo::load_system(path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("dims: torus needs"), std::string::npos) << e.what();
  }
  expect_one_line_error(cli("topo " + path), "topo", "dims");
}

// Without a timeline the replay frees the capture's records once its graph is built, and the
// CLI runs itself again with a huge-page heap (tools/orrery.cpp): neither may move a result.
TEST(Robustness, ReplayResultsDoNotDependOnTimelineOrHugePages) {
  std::string d = syn::temp_dir("shed");
  auto run = [&](const std::string& env, const std::string& tag, const std::string& extra) {
    EXPECT_EQ(cli("replay " + mlp() + " --json " + d + "/" + tag + ".json --csv " + d + "/" + tag + ".csv" + extra, env).rc, 0);
  };
  run("", "timeline", " --timeline " + d + "/t.json");
  run("", "plain", "");
  run("ORRERY_NO_HUGE_PAGES=1 ", "small_pages", "");
  for (const std::string tag : {"plain", "small_pages"})
    expect_same_files({d + "/timeline.json", d + "/timeline.csv"}, {d + "/" + tag + ".json", d + "/" + tag + ".csv"});
}

// Found by fuzz_preset (bench/fuzz.sh): a preset file whose top level is not an object reached
// nlohmann's iterator key() and terminated the process.
TEST(Robustness, PresetThatIsNotAnObjectIsAnError) {
  std::string dir = syn::temp_dir("preset_not_object");
  std::string path = dir + "/p.json";
  std::ofstream(path) << "[1, 2]";
  std::string e = syn::error_of([&] { load_accelerator(path, {}); });
  EXPECT_NE(e.find("p.json"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a JSON object"), std::string::npos) << e;
}

// Found by fuzz_preset (1M-execution run): a preset whose "name" is not a string ended the process
// inside nlohmann; now one line naming the file and the field.
TEST(Robustness, PresetNameThatIsNotAStringIsAnError) {
  std::string dir = syn::temp_dir("preset_name_type");
  std::string path = dir + "/p.json";
  std::ofstream(path) << R"({"name": 17, "params": {}})";
  std::string e = syn::error_of([&] { load_accelerator(path, {}); });
  EXPECT_NE(e.find("p.json: name: expected a string"), std::string::npos) << e;
  std::ofstream(path) << R"({"description": [1], "params": {}})";
  e = syn::error_of([&] { load_accelerator(path, {}); });
  EXPECT_NE(e.find("p.json: description: expected a string"), std::string::npos) << e;
}

// Found by the bad-input sweep of 2026-12-01: a system file nesting 60,000 objects overflowed the
// stack when the loader copied it (SIGSEGV, nothing printed). Every JSON input now stops at
// kMaxJsonDepth levels, DOM-parsed (systems, presets) and streamed (traces) alike.
TEST(Robustness, DeeplyNestedJsonIsOneLineError) {
  std::string dir = syn::temp_dir("deep_json");
  const std::string sys = dir + "/deep_system.json", et = dir + "/deep_stream.json";
  {
    std::ofstream out(sys);
    out << "{\"topology\":";
    for (int i = 0; i < 60000; ++i) out << "{\"a\":";
    out << 1 << std::string(60001, '}');
  }
  expect_one_line_error(cli("topo " + sys), "topo", "levels deep");
  {
    std::ofstream out(et);
    out << "{\"nodes\":[" << std::string(5000, '[') << std::string(5000, ']') << "]}";
  }
  try {
    stream_json_file(et, "nodes", {}, [](nlohmann::json&&, size_t) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("levels deep"), std::string::npos) << e.what();
  }
}

// Also from that sweep: a 100,000-node ET whose nodes each hang under the previous one took
// 125 s to load (each node walked its whole parent chain twice: the cycle check and the host
// items). Each walk now stops at a node already resolved; the chain still loads, and a cycle in
// it is still one line.
TEST(Robustness, DeepParentChainLoadsAndCyclesAreStillFound) {
  std::string dir = syn::temp_dir("deep_chain");
  std::vector<syn::SynOp> ops;
  syn::SynOp root;
  ops.push_back(root);
  write_synthetic_bundle(dir, ops);
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir + "/et.json"));
  std::int64_t next = 1000000;
  std::int64_t parent = j["nodes"].back()["id"].get<std::int64_t>();
  for (int i = 0; i < 50000; ++i, ++next) {
    j["nodes"].push_back({{"id", next}, {"name", "aten::view"}, {"ctrl_deps", parent},
                          {"inputs", {{"values", nlohmann::json::array()}, {"shapes", nlohmann::json::array()}, {"types", nlohmann::json::array()}}},
                          {"outputs", {{"values", nlohmann::json::array()}, {"shapes", nlohmann::json::array()}, {"types", nlohmann::json::array()}}},
                          {"attrs", nlohmann::json::array()}});
    parent = next;
  }
  std::ofstream(dir + "/et.json") << j.dump();
  CapturedStep st = load_bundle(dir);
  EXPECT_GE(st.ops.size(), 50000u);
  j["nodes"][j["nodes"].size() - 50000]["ctrl_deps"] = next - 1;  // the chain's head under its tail
  std::ofstream(dir + "/et.json") << j.dump();
  try {
    load_bundle(dir);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle in parent"), std::string::npos) << e.what();
  }
}

// More from the sweep of 2026-12-01: runs that exited 0 with an answer that was no answer.
// A measured step of zero time (every error against it read +0.0%), a median outside its own
// min-max, and a capture whose kernels and launches do not meet (its GPU activity missing: the
// step replayed as 1 ms of host work) are now one-line errors; `validate` prints its table's
// header only above a line of it, so a bundle that fails is its error alone.
TEST(Robustness, CapturesThatCannotBeTheStepTheyClaimAreOneLineErrors) {
  std::string dir = syn::temp_dir("claims");
  syn::SynOp op;
  op.kernels = {syn::SynKernel{}};
  std::vector<syn::SynOp> ops(4, op);
  auto bundle = [&](const std::string& name) {
    std::string d = dir + "/" + name;
    write_synthetic_bundle(d, ops, 10.0);
    return d;
  };
  auto edit = [](const std::string& path, const std::function<void(nlohmann::json&)>& f) {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(path));
    f(j);
    std::ofstream(path) << j.dump();
  };
  std::string zero = bundle("zero_step");
  edit(zero + "/measured.json", [](nlohmann::json& m) { m["step_cuda_events"]["median_ms"] = 0; });
  expect_one_line_error(cli("validate " + zero), "validate", "median_ms");
  std::string order = bundle("min_above_median");
  edit(order + "/measured.json", [](nlohmann::json& m) { m["step_cuda_events"]["min_ms"] = 100; });
  expect_one_line_error(cli("replay " + order), "replay", "min_ms <= median_ms <= max_ms");
  auto without = [&](const std::string& name, const std::string& cat) {  // a bundle missing one event category
    std::string d = bundle(name);
    edit(d + "/kineto.json", [&](nlohmann::json& k) {
      nlohmann::json kept = nlohmann::json::array();
      for (auto& e : k["traceEvents"])
        if (e.value("cat", "") != cat) kept.push_back(e);
      k["traceEvents"] = kept;
    });
    return d;
  };
  expect_one_line_error(cli("replay " + without("no_kernels", "kernel")), "replay", "4 of 4 kernel launches");
  expect_one_line_error(cli("replay " + without("no_runtime", "cuda_runtime")), "replay", "no runtime call");
  EXPECT_EQ(cli("replay " + bundle("intact")).rc, 0);
}

// A bandwidth below 1 B/s made the collective's time overflow to 0 (printed as 0.00 us, busbw 0,
// $0) and a kernel's inf: such a rate is now refused where it is read, file or flag.
TEST(Robustness, RatesBelowOneUnitPerSecondAreRefused) {
  std::string dir = syn::temp_dir("tiny_rates");
  std::ofstream(dir + "/ring.json") << R"({"name": "r", "accelerator": "h100", "topology": {"type": "ring", "gpus": 4, "link_bandwidth": 1e-300}})";
  expect_one_line_error(cli("collective --system " + dir + "/ring.json -b 4M -e 4M"), "collective", "below 1 B/s");
  expect_one_line_error(cli("kernel --hw h100 --set hbm_bandwidth=1e-300 memory 1G"), "kernel", "below 1 B/s");
  expect_one_line_error(cli("kernel --hw h100 --set peak_bf16=0.5 gemm 1024x1024x1024 bf16"), "kernel", "below 1 FLOP/s");
}

// `sweep -j 0` printed its progress line before the error, and -j 100000 forked that many
// workers for two points.
TEST(Robustness, SweepChecksItsOptionsBeforeItStarts) {
  std::string dir = syn::temp_dir("sweep_opts");
  std::ofstream(dir + "/s.json") << R"({"command": "collective", "base": {"system": "dgx-h100", "b": "1M", "e": "1M"},
                                        "axes": [{"name": "op", "values": ["all_reduce", "all_gather"]}], "output": ")" << dir << R"(/r.jsonl"})";
  expect_one_line_error(cli("sweep " + dir + "/s.json -j 0"), "sweep", "-j");
  expect_one_line_error(cli("sweep " + dir + "/s.json -o " + dir + "/missing/dir/r.jsonl"), "sweep", "cannot write");
  CliRun r = cli("sweep " + dir + "/s.json -j 100000 --no-progress");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("2 of 2 points"), std::string::npos) << r.out;
}

// Also from that sweep: an ET whose tensor sizes are negative, fractional or not a list, or whose
// values/types/shapes lists differ in length, or an op without its inputs, priced its kernels at
// the launch floor in roofline mode (a 47 ms step replayed as 1-3 ms, rc 0). Each is now one line
// naming the node; measured mode, which needs no shapes, still replays the op without inputs.
TEST(Robustness, EtSizesAndMissingInputsAreOneLineErrors) {
  std::string dir = syn::temp_dir("et_sizes");
  syn::SynOp mm;
  mm.name = "aten::mm";
  mm.n_inputs = 2;
  mm.shape = {2048, 2048};
  syn::SynKernel k;
  k.name = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64";
  k.dur_us = 500;
  mm.kernels = {k};
  auto bundle = [&](const std::string& name, const std::function<void(nlohmann::json&)>& f) {
    std::string d = dir + "/" + name;
    syn::write_synthetic_bundle(d, {mm}, 1.0);
    nlohmann::json j = nlohmann::json::parse(std::ifstream(d + "/et.json"));
    for (auto& n : j["nodes"])
      if (n["name"] == "aten::mm") f(n);
    std::ofstream(d + "/et.json") << j.dump();
    return d;
  };
  expect_one_line_error(cli("replay " + bundle("neg", [](nlohmann::json& n) { n["inputs"]["shapes"][0][0] = -2048; })),
                        "replay", "expected whole sizes >= 0");
  expect_one_line_error(cli("replay " + bundle("frac", [](nlohmann::json& n) { n["inputs"]["shapes"][0][1] = 1.5; })),
                        "replay", "expected whole sizes >= 0");
  expect_one_line_error(cli("replay " + bundle("short", [](nlohmann::json& n) { n["inputs"]["shapes"].erase(1); })),
                        "replay", "expected lists of one length");
  std::string bare = bundle("no_inputs", [](nlohmann::json& n) { n.erase("inputs"); });
  expect_one_line_error(cli("replay " + bare + " --mode roofline"), "replay", "(aten::mm): no work to cost its kernel");
  EXPECT_EQ(cli("replay " + bare + " --mode measured").rc, 0);
  // Operands that cannot be multiplied, of an unknown element type, or so large the kernel
  // outlasts the time base: the ET node, not a GEMM costed anyway or the Kineto kernel's duration.
  auto mm_roof = [&](const std::string& name, const std::function<void(nlohmann::json&)>& f) {
    return cli("replay " + bundle(name, f) + " --mode roofline");
  };
  expect_one_line_error(mm_roof("mismatch", [](nlohmann::json& n) { n["inputs"]["shapes"][1] = {1024, 2048}; }), "replay",
                        "(aten::mm): aten::mm: operands [2048,2048] and [1024,2048] cannot be multiplied");
  expect_one_line_error(mm_roof("quantum", [](nlohmann::json& n) { n["inputs"]["types"][0] = "Tensor(quantum)"; }), "replay",
                        "operand element type 'Tensor(quantum)'");
  expect_one_line_error(mm_roof("huge", [](nlohmann::json& n) {
                          n["inputs"]["shapes"] = {{1000000000000LL, 1000000}, {1000000, 1000000000000LL}};
                        }),
                        "replay", "et.json: node");
  expect_one_line_error(cli("replay " + bundle("attrs", [](nlohmann::json& n) { n["attrs"] = "x"; })), "replay",
                        "attrs: expected an array");
}

// And flags the sweep found taken for something else: a reversed or empty --ranks meant every
// GPU, --nodes 0 the preset's default, a --power file that is not an object the JSON library's
// own message.
TEST(Robustness, FlagsThatMeantSomethingElseAreOneLineErrors) {
  expect_one_line_error(cli("collective --ranks 7-0 -b 1M -e 1M"), "collective", "empty rank range");
  expect_one_line_error(cli("collective --ranks '' -b 1M -e 1M"), "collective", "no ranks");
  expect_one_line_error(cli("collective --ranks 0-3x -b 1M -e 1M"), "collective", "--ranks");
  expect_one_line_error(cli("collective --nodes 0 -b 1M -e 1M"), "collective", "--nodes");
  expect_one_line_error(cli("topo dgx-h100 --nodes 0"), "topo", "--nodes");
  std::string dir = syn::temp_dir("power_not_object");
  std::ofstream(dir + "/p.json") << "[]";
  expect_one_line_error(cli("replay " + mlp() + " --power " + dir + "/p.json"), "replay", "expected a JSON object");
  EXPECT_EQ(cli("collective --ranks 0-3,5 -b 1M -e 1M").rc, 0);
  // --component was ignored by a multi-rank replay (rc 0 whatever the library), and a single-rank
  // one blamed --no-symmetry for it.
  std::string gloo = std::string(ORRERY_SOURCE_DIR) + "/tests/data/multirank_gloo4";
  expect_one_line_error(cli("replay " + gloo + " --component gpu=/nonexistent/plugin.so"), "replay", "cannot load the plugin");
  expect_one_line_error(cli("replay " + mlp() + " --component gpu=/nonexistent/plugin.so"), "replay", "--component:");
  expect_one_line_error(cli("serve --model llama3-8b --requests 10000000"), "serve", "104 days");
  // kernel: a negative pad, a block no launch has, a GEMM of 2e18 s printed as an answer.
  expect_one_line_error(cli("kernel --hw h100 conv 64 64 56 56 64 3 3 bf16 --pad -5"), "kernel", "--pad");
  expect_one_line_error(cli("kernel --hw h100 memory 1G --grid 1 --block 100000"), "kernel", "--block");
  expect_one_line_error(cli("kernel --hw h100 gemm 99999999999x99999999999x99999999999 bf16"), "kernel", "beyond the simulator's range");
  // kernel pool: a pad beyond half the window, a window larger than the input, an unknown layout.
  expect_one_line_error(cli("kernel --hw h100 pool 64 64 112 112 3 bf16 --pad 2"), "kernel", "--pad");
  expect_one_line_error(cli("kernel --hw h100 pool 64 64 2 2 3 bf16"), "kernel", "larger than the padded input");
  // validate with nothing to compare printed its whole usage over three lines.
  expect_one_line_error(cli("validate"), "validate", "nothing to validate");
  expect_one_line_error(cli("kernel --hw h100 pool 64 64 112 112 3 bf16 --layout nc"), "kernel", "--layout");
  expect_one_line_error(cli("validate --nccl-tests x.log --system dgx-h100 --nccl-tolerance -1"), "validate", "--nccl-tolerance");
  // A bad --sys-set topology value names the flag, not the system file it was written into.
  expect_one_line_error(cli("collective --sys-set nvlink_bandwidth=0.5 -b 1M -e 1M"), "collective", "--sys-set: nvlink_bandwidth");
  // Found by a sweep of bad inputs (2026-12-02), each {command, what its one line names}: a
  // trailing x and a misspelt dtype were read as a 3-d shape and fp32; a transfer's unknown source
  // GPU blamed --hw; pinned degrees that divide nothing said "fits in memory"; latency's batch
  // blamed --requests; sm_count 1e12 gave -0 waves; nan in the tuner's --sys-set section ran with
  // rc 0; a straggler a billion times slower was blamed on a collective's members.
  const std::pair<std::string, std::string> sweep_2026_12_02[] = {
      {"kernel --hw h100 gemm 8x8x8x bf16", "'8x8x8x': expected 3 sizes"},
      {"kernel --hw h100 gemm 8x8x8 float17", "'float17'"},
      {"replay " + mlp() + " --mode transfer --source-hw nosuch", "--source-hw: nosuch"},
      {"plan --model llama3-8b --gpus 8 --global-batch 8 --tp 3", "has the pinned degrees"},
      {"latency --model llama3-8b --batch 100000000", "--batch: 100000000"},
      {"kernel --hw h100 --set sm_count=1e12 gemm 64x64x64 bf16", "sm_count"},
      {"collective --sys-set nvlink_bandwidth=inf -b 1M -e 1M", "--sys-set: nvlink_bandwidth=inf"},
      {"collective --sys-set collective.nvls=nan -b 1M -e 1M", "--sys-set: collective.nvls=nan"},
      {"train --model llama3-8b --tp 8 --micro-batch 1 --global-batch 8 --gpu-speed 0=1e-9", "--gpu-speed: 0=1e-9"},
  };
  for (const auto& [cmd, names] : sweep_2026_12_02)
    expect_one_line_error(cli(cmd), cmd.substr(0, cmd.find(' ')), names);
}

// Found by a third sweep of bad inputs (2026-12-03): a constraint nested 30,000 deep crashed the
// sweep (its parser recursed without a bound); a constraint's 1e999 was a raw `stod`; a jobs
// file's nodes of 2^32 + 2 ran on 2 nodes, its seq 0 on the model's length, two jobs of one name
// merged their statistics, a name with a line break broke the error in two; a directory given
// as a JSON file was the library's read error; a trace with every event repeated replayed at
// +282%; a kernel at ts 1e300 ran; --prefix ../x wrote outside -o; set.* keys of a collective
// sweep were never read; plan --verify 0 verified five plans.
TEST(Robustness, ThirdSweepOfBadInputsIsOneLineErrors) {
  std::string dir = syn::temp_dir("sweep_2026_12_03");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  std::string deep = std::string(30000, '(') + "nodes" + std::string(30000, ')') + " == 1";
  std::string sw = write("deep.json", R"({"command": "collective", "axes": {"nodes": [1, 2]}, "constraints": [")" + deep + R"("]})");
  std::string job = R"({"name": "a", "gpus": "0-7", "train": {"model": "llama3-8b", "tp": 8, "global_batch": 8, "seq": 1024}})";
  auto jobs = [&](const std::string& name, const std::string& top, const std::string& list) {
    return write(name, "{" + top + R"("jobs": [)" + list + "]}");
  };
  std::string seq0 = job;
  seq0.replace(seq0.find("1024"), 4, "0");
  std::string newline = job;
  newline.replace(newline.find("\"a\""), 3, "\"a\\nb\"");
  std::string bundle = dir + "/repeated";
  syn::write_synthetic_bundle(bundle, {syn::two_ms_of_work()});
  nlohmann::json k = parse_json_path(bundle + "/kineto.json");
  nlohmann::json ev = k["traceEvents"];
  for (auto& e : ev) k["traceEvents"].push_back(e);
  write_json_file(bundle + "/kineto.json", k);
  const std::pair<std::string, std::string> cases[] = {
      {"sweep " + sw + " --dry-run -o " + dir + "/o.jsonl", "nested more than 256 deep"},
      {"sweep --axis nodes=1,2 --constraint 'nodes == 1e999' --dry-run -o " + dir + "/o.jsonl", "number out of range"},
      {"cluster " + jobs("n.json", R"("nodes": 4294967298, )", job), "n.json: nodes:"},
      {"cluster " + jobs("s.json", "", seq0), "jobs[0].train.seq"},
      {"cluster " + jobs("d.json", R"("nodes": 2, )", job + ", " + std::string(job).replace(job.find("0-7"), 3, "8-15")),
       "jobs[1].name: 'a' is also jobs[0]'s name"},
      {"cluster " + jobs("l.json", "", newline), "jobs[0].name"},
      {"cluster " + jobs("y.json", R"("system": 5, )", job), "y.json: system: expected a string"},
      {"sweep " + dir, "is a directory, not a file"},
      {"replay " + bundle, "events repeated in the trace"},
      {"convert " + mlp() + " -o " + dir + "/cv --prefix ../evil", "--prefix"},
      {"sweep --command collective --axis set.nosuch=1,2 --no-progress -o " + dir + "/c.jsonl", "set.nosuch: unknown option"},
      {"plan --model llama3-8b --gpus 8 --global-batch 8 --verify 0", "--verify"},
      {"collective --op $'x\\ny' -b 1M -e 1M", "x\\ny"},
      // A flag's value blamed on the file it was written into.
      {"collective --system dgx-h100 --nodes 1000000000 -b 1M -e 1M", "--nodes: 1000000000"},
      {"serve --model llama3-8b --replicas 100000 --requests 4", "--replicas: 100000"},
      {"replay " + mlp() + " --pue 0.5", "--pue: 0.5"},
      {"replay " + mlp() + " --power-set foo=1", "--power-set: foo"},
      {"replay " + mlp() + " --power-set pue=0.5", "--power-set: pue"},
      // A value that read as "not given": a prefix id of -1; more outputs than a reduction's inputs.
      {"serve --model llama3-8b --trace " + write("p.jsonl", R"({"arrival": 0, "prompt_tokens": 10, "output_tokens": 5, "prefix_id": -1})" "\n"),
       "line 1: prefix_id"},
      {"kernel --hw h100 reduce 1M bf16 --grid 1 --block 128 --outputs 100000000", "--outputs"},
      // Flags accepted and doing nothing: a request stream's for one batch, a transfer's source GPU in roofline.
      {"latency --model llama3-8b --hw h100 --rate 5", "--rate: 5"},
      {"serve --single --model llama3-8b --hw h100 --replicas 4", "--replicas: 4"},
      {"latency --bundle " + mlp() + " --hw h200 --source-hw a100", "--source-hw: a100"},
      // A graph system's switch that no link names passed `topo`.
      {"topo " + write("g.json", R"({"name": "g", "topology": {"type": "graph", "vertices": [{"name": "g0", "kind": "gpu"},
         {"name": "g1", "kind": "gpu"}, {"name": "s0", "kind": "switch"}, {"name": "s9", "kind": "switch"}],
         "links": [{"a": "g0", "b": "s0", "bandwidth": "50 GB/s"}, {"a": "g1", "b": "s0", "bandwidth": "50 GB/s"}]}})"),
       "s9: topology is disconnected: no link connects it"},
  };
  for (const auto& [cmd, names] : cases)
    expect_one_line_error(cli(cmd), cmd.substr(0, cmd.find(' ')), names);
  EXPECT_FALSE(fs::exists(dir + "/evil.0.et"));
}

// What the third sweep left as found (docs/robustness.md): options that were accepted and did
// nothing, and errors that named no file or flag.
TEST(Robustness, LeftAsFoundInTheThirdSweepAreOneLineErrors) {
  std::string dir = syn::temp_dir("left_2026_12_03");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  std::string trace = write("t.jsonl", R"({"arrival": 0, "prompt_tokens": 10, "output_tokens": 5})" "\n");
  // a model whose sizes make one step last months; NVSwitch planes failed under a TP group that
  // the network still connects (the partition check passes; the collective's legs need the planes)
  std::string huge = write("huge.json", R"({"name": "huge", "layers": 65536, "hidden": 1638400, "heads": 32,
      "kv_heads": 8, "ffn": 14336000, "vocab": 128256, "seq": 8192, "activation": "swiglu"})");
  ASSERT_EQ(cli("collective -b 8 -e 64 --json " + dir + "/c.json").rc, 0);
  nlohmann::json cfg = parse_json_path(dir + "/c.config.json");
  cfg["argv"].push_back("--nosuch");
  write_json_file(dir + "/bad.config.json", cfg);
  std::string nvs = " --fail n0.nvs0 --fail n0.nvs1 --fail n0.nvs2 --fail n0.nvs3";
  const std::pair<std::string, std::string> cases[] = {
      {"sweep --command collective --axis nodes=1 --metric nosuch --no-progress -o " + dir + "/m.jsonl",
       "--metric: nosuch: is not a number in the collective results (they have: algbw_gbps"},
      {"sweep " + write("s.json", R"({"command": "collective", "axes": {"nodes": [1]}, "metric": "nosuch"})") +
           " --no-progress -o " + dir + "/s.jsonl",
       "s.json: metric: 'nosuch' is not a number"},
      {"serve --model llama3-8b --disagg 1:1 --replicas 4 --requests 4", "--replicas: 4: --disagg P:D sets the replicas"},
      {"serve --model llama3-8b --trace " + trace + " --rate 5", "--rate: 5: is an option of the synthetic requests"},
      {"serve --model llama3-8b --requests 4 --prefix-len 64", "--prefix-len: 64: takes --prefix-groups"},
      {"serve --model llama3-8b --requests 4 --prefix-groups 4", "--prefix-groups: 4: takes --prefix-len"},
      {"collective -g x -b 8 -e 8", "-g: 'x' is not an integer"},
      {"collective -n -3 -b 8 -e 8", "-n: -3 is out of range"},
      {"collective -c 2 -b 8 -e 8", "-c: 2 is out of range"},
      {"train --model llama3-8b --system dgx-h100 --nodes 2 --tp 8 --dp 2 --micro-batch 1 --global-batch 2 --seq 1024" + nvs,
       "--fail: link n0.gpu"},
      {"train --model " + huge + " --system dgx-h100 --tp 8 --dp 1 --micro-batch 1 --global-batch 1 --no-memory-check",
       "huge.json: layers: 65536 layers of this size take"},
      {"rerun " + dir + "/bad.config.json", "bad.config.json: argv: --nosuch: unknown option"},
  };
  for (const auto& [cmd, names] : cases)
    expect_one_line_error(cli(cmd), cmd.substr(0, cmd.find(' ')), names);
  // Sequence parallelism splits activations over the TP group: at TP 1 it is off (as Megatron-LM
  // turns it off), and the plan says so.
  std::string sp = "train --model llama3-8b --system dgx-h100 --micro-batch 1 --zero 3 --recompute full --seq 1024 "
                   "--sequence-parallel --global-batch 8 ";
  CliRun one = cli(sp + "--tp 1 --dp 8");
  ASSERT_EQ(one.rc, 0) << one.out;
  EXPECT_NE(one.out.find("plan         TP 1 PP 1"), std::string::npos) << one.out;
  CliRun two = cli(sp + "--tp 2 --dp 4");
  ASSERT_EQ(two.rc, 0) << two.out;
  EXPECT_NE(two.out.find("plan         TP 2+SP PP 1"), std::string::npos) << two.out;
}

// Found by a fourth sweep of bad inputs (2026-12-03), each {command, what its one line names}: a
// bursty generator with a huge CV ran without end; a tile's byte count wrapped an int; flags that
// did nothing were reported after the whole result had printed (and --rates, a plan's no-valid
// message, a rerun's changed configuration likewise); fp8 ran on the A100 at the bf16 rate; a
// vertex without its kind became a switch; "25" was 25 B/s; the nccl-tests log's nGpus and a time
// of 1e300 us were taken; a trace without kernel durations replayed as an idle GPU; flags were
// blamed that the user never gave (--nodes, --set, the model's layers).
TEST(Robustness, FoundInTheFourthSweepAreOneLineErrors) {
  std::string dir = syn::temp_dir("fourth_sweep");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  };
  auto edit = [&](const std::string& from, const std::string& name, const std::string& a, const std::string& b) {
    std::string t = read_file_maybe_gz(from);
    auto at = t.find(a);
    EXPECT_NE(at, std::string::npos) << a;
    if (at != std::string::npos) t.replace(at, a.size(), b);
    return write(name, t);
  };
  std::string src = ORRERY_SOURCE_DIR;
  std::string log = src + "/tests/data/nccl_tests/all_reduce_perf_8xh100.log";
  std::string ngpus3 = edit(log, "ngpus3.log", "nGpus 8", "nGpus 3");
  std::string huge_time = edit(log, "huge.log", "-1    22.63", "-1    1e300");
  std::string nvlink25 = edit(src + "/systems/dgx-h100.json", "nv25.json", "\"nvlink_bandwidth\": \"25 GB/s\"",
                              "\"nvlink_bandwidth\": \"25\"");
  std::string kindless = write("g.json", R"({"name": "g", "accelerator": "h100", "topology": {"type": "graph",
      "vertices": [{"name": "g0", "kind": "gpu"}, {"name": "g1"}],
      "links": [{"a": "g0", "b": "g1", "bandwidth": "50 GB/s"}]}})");
  syn::SynOp op;
  op.kernels = {syn::SynKernel{}, syn::SynKernel{}};
  op.kernels[0].dur_us = op.kernels[1].dur_us = 0;
  syn::write_synthetic_bundle(dir + "/zero", {op, op}, 1.0);
  ASSERT_EQ(cli("collective -b 8 -e 64 --json " + dir + "/c.json").rc, 0);
  nlohmann::json cfg = parse_json_path(dir + "/c.config.json");
  cfg["argv"] = {"train", "--model", "llama3-8b", "--tp", "0", "--micro-batch", "1", "--global-batch", "8"};
  write_json_file(dir + "/tp0.config.json", cfg);
  std::string cal = write("cal.json", R"({"format": "orrery-micro/1",
      "launch": {"graph_kernel_period_us": 1.24, "kernel_gap_us": -1, "round_trip_us": 9}})");
  std::string sweep = write("s.json", R"({"command": "collective", "base": {"b": "1M"},
      "axes": [{"name": "e", "values": [true]}]})");
  std::string steps = write("t.json", R"({"command": "collective", "base": {"b": "1M"},
      "axes": [{"name": "e", "values": ["1M"], "steps": 3}]})");
  const std::string serve = "serve --model llama3-8b --hw h100 ";
  const std::string train = "train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 8 --seq 1024 ";
  const std::pair<std::string, std::string> cases[] = {
      {serve + "--rate 1 --duration 10s --arrivals bursty --cv 1e5", "--cv: 100000: must be at most 30"},
      {serve + "--rate 1 --duration 10s --cv 2", "--cv: 2: shapes --arrivals bursty only"},
      {serve + "--rate 1 --duration 10s --requests 5", "--duration: 10s: and --requests both end"},
      {serve + "--duration 10s --report " + dir + "/r.html --rates 1,0", "--rates: 0"},
      {serve + "--rate 1 --duration 10s --rates 1,2", "--rates: given but has no effect"},
      {"kernel --hw h100 --set mma_m=1e9 gemm 4096x4096x4096 bf16", "1000000000x8 instruction tile (64000000512 bytes)"},
      {"kernel --hw h100 gemm 8x8x8 bf16 --vt 4", "--vt: given but has no effect"},
      {"kernel --hw h100 gemm nanx8x8 bf16", "kernel: gemm MxNxK: 'nan' is not finite"},
      {"kernel --hw h100 elementwise 1048576 bf16 --vt 1", "--vt: the vectorized kernel's elements per thread"},
      {"kernel --hw h100 elementwise 1048576 bf16 --dims 5", "--dims: applies to --family strided or cat"},
      {"kernel --hw h100 --hw-model calibrated --set first_principles=1 gemm 8x8x8 bf16", "first_principles: chooses the hardware model"},
      {"kernel --hw h100 --set first_principles=5 gemm 8x8x8 bf16", "first_principles: expected 0 (calibrated) or 1"},
      {"kernel --hw h100 describe gemm", "describe takes no arguments"},
      {"kernel --hw a100 --hw-model calibrated gemm 1024x1024x1024 fp8", "the a100 has no fp8 matrix engine"},
      {"train --model llama3-8b --system dgx-a100 --tp 8 --micro-batch 1 --global-batch 8 --seq 1024 --precision fp8",
       "--precision: fp8: the a100 has no fp8 matrix engine"},
      {train + "--timeline-links 4", "--timeline-links: given but has no effect"},
      {train + "--gpu-set 0:hbm_bandwidth=0", "--gpu-set: 0:hbm_bandwidth=0: hbm_bandwidth: must be"},
      {"plan --model llama3-8b --gpus 8 --global-batch 8 --zero 5", "--zero: 5: expected 0, 1, 2 or 3"},
      {"plan --model llama3-8b --gpus 1000000000 --global-batch 8", "--gpus: 1000000000 is out of range"},
      {"latency --serve-set max_batch=0", "--serve-set: max_batch: must be greater than zero"},
      {"latency --gpu-mem-util 0.01", "--gpu-mem-util: 0.01: does not fit at any batch"},
      {"describe /nonexistent/model.json", "/nonexistent/model.json: no such file"},
      {"validate --nccl-tests " + ngpus3 + " --system dgx-h100", "ngpus3.log: nGpus: nThread x nGpus = 3"},
      {"validate --nccl-tests " + huge_time + " --system dgx-h100", "us is beyond 1e6 s"},
      {"replay " + dir + "/zero --hw h100", "4 of the step's 4 kernels last 0 us"},
      {"topo " + kindless, "vertices[1]: kind: missing"},
      {"topo " + nvlink25, "nvlink_bandwidth: '25' has no unit"},
      {"rerun " + dir + "/tp0.config.json", "tp0.config.json: argv: --tp: 0"},
      {"calibrate " + cal + " --hw h100 -o " + dir + "/out.json", "launch.kernel_gap_us: must be from 0 to the graph kernel period"},
      {"sweep " + sweep + " --no-progress -o " + dir + "/s.jsonl", "e: true is not a value of this option"},
      {"sweep " + steps + " --no-progress -o " + dir + "/t.jsonl", "axes[0].steps: applies to a range axis"},
  };
  for (const auto& [cmd, names] : cases)
    expect_one_line_error(cli(cmd), cmd.substr(0, cmd.find(' ')), names);
}

// Found by a fifth sweep (2026-12-03): "-" as an output file wrote a file named "-"; a remedy
// named the optimizer offload on a chip that refuses it, or repeated --recompute full; measured
// mode took a kernel-model --set and moved the step the wrong way (a faster HBM, a slower step).
TEST(Robustness, FoundInTheFifthSweepAreOneLineErrors) {
  std::string dir = syn::temp_dir("fifth_sweep");
  const std::string train = "train --model llama3-8b --system dgx-h100 --tp 8 --micro-batch 1 --global-batch 8 --seq 1024 ";
  const std::pair<std::string, std::string> cases[] = {
      {train + "--json -", "--json: -: standard output is not an output file here"},
      {train + "--timeline=-", "--timeline: -: standard output is not an output file here"},
      {"topo dgx-h100 --dot -", "--dot: -: standard output"},
      {"replay " + mlp() + " --set hbm_bandwidth=100TB/s", "--set: hbm_bandwidth=100TB/s: measured mode replays the captured kernel times"},
      {"train --model llama3-70b --system tpu-v5p-4x4x4 --tp 4 --pp 2 --dp 8 --micro-batch 1 --global-batch 128 --zero 1 "
       "--sequence-parallel",
       "does not fit"},
      {"train --model llama3-8b --system dgx-h100 --dp 8 --micro-batch 1 --global-batch 8 --zero 1 --recompute full "
       "--recompute-layers 2",
       "it fits with --recompute full without --recompute-layers ("},
      {train + "--optimizer-offload 0.5 --set host_memory_bandwidth=0", "host_memory_bandwidth is 0 for the h100"},
      {"train --model llama3-8b --tp \"\" --micro-batch 1 --global-batch 8", "--tp: an empty value"},
      {train + "--optimizer-offload \"\"", "--optimizer-offload: an empty value"},
      {"replay " + std::string(ORRERY_SOURCE_DIR) + "/tests/data/multirank_gloo4 --degrade 'n0.gpu0->n0.nvs0=1e-300'",
       "--degrade: n0.gpu0->n0.nvs0: the remaining bandwidth fraction must be from 0.001 to 1"},
  };
  for (const auto& [cmd, names] : cases) {
    CliRun r = cli(cmd);
    expect_one_line_error(r, cmd.substr(0, cmd.find(' ')), names);
    EXPECT_EQ(r.out.find("--optimizer-offload 1"), std::string::npos) << r.out;  // (tpu-v5p has no host figure)
  }
  EXPECT_FALSE(fs::exists("-"));
  EXPECT_EQ(cli("replay " + mlp() + " --set launch_cost=2us").rc, 0);  // a host what-if stays one of measured mode's
  // convert's representative traces (one per stage) run as the 8-rank job they came from (they
  // ran as 7: the ranks in no group the traces use were not counted), and a straggler on a rank
  // without a trace is an error, not a step unchanged
  if (!chakra_available()) return;
  std::string cv = dir + "/cv";
  ASSERT_EQ(cli("convert --from-train --model llama3-8b --tp 2 --pp 2 --dp 2 --micro-batch 1 --global-batch 4 --zero 1 -o " + cv).rc, 0);
  CliRun run = cli("chakra-run " + cv);
  EXPECT_EQ(run.rc, 0) << run.out;
  EXPECT_NE(run.out.find("2 of 8 ranks simulated"), std::string::npos) << run.out;
  expect_one_line_error(cli("chakra-run " + cv + " --gpu-speed 7=0.5"), "chakra-run", "--gpu-speed: 7=0.5: rank 7 has no trace");
}

}  // namespace orrery::robustness_test
