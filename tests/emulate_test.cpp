// `orrery emulate`: the four captured workloads written as scripts emulate to the captures' op
// sequences and roofline step times; the TP x PP toy's per-rank collectives equal a real gloo
// run's; bad input ends in one line. Needs PyTorch (apt python3-torch): skipped without it.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/json_io.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace emulate_test {

namespace {
namespace fs = std::filesystem;

const std::string kSrc = ORRERY_SOURCE_DIR;

bool have_torch() {
  if (const char* p = std::getenv("ORRERY_PYTHON"); p && *p) return true;
  return fs::exists("/usr/lib/python3/dist-packages/torch/__init__.py");
}

struct Shell {
  int status = 0;
  std::string out;
};

Shell sh(const std::string& cmd) {
  Shell r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.status = ::pclose(p);
  return r;
}

std::string orrery() { return ORRERY_BINARY; }

fs::path tmpdir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("orrery_emulate_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

std::string py() {
  const char* p = std::getenv("ORRERY_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

#define NEED_TORCH() \
  if (!have_torch()) GTEST_SKIP() << "PyTorch not installed (apt-get install python3-torch)"

// The distinct (grid, block) pairs of a trace's kernels whose name holds `kernel`.
std::set<std::string> launches_of(const fs::path& kineto, const std::string& kernel) {
  std::set<std::string> out;
  if (!fs::exists(kineto)) return {"(missing " + kineto.string() + ")"};
  const nlohmann::json trace = orrery::read_json_file(kineto.string());  // outlives the loop
  for (const auto& e : trace["traceEvents"])
    if (e.value("cat", "") == "kernel" && e.value("name", "").find(kernel) != std::string::npos)
      out.insert(e["args"].value("grid", nlohmann::json()).dump() + e["args"].value("block", nlohmann::json()).dump());
  return out;
}

// Emulates examples/emulate/NAME.py, replays examples/bundles/NAME in roofline mode: the step
// times agree within 3 %, and the GPU-launching op sequences (ops with shapes) match in order.
nlohmann::json check_bundle_script(const std::string& name, double min_match) {
  fs::path d = tmpdir(name);
  Shell e = sh(orrery() + " emulate " + kSrc + "/examples/emulate/" + name + ".py --hw h100 --write-bundle " +
             (d / "bundle").string() + " --json " + (d / "emu.json").string() + " --quiet");
  EXPECT_EQ(e.status, 0) << e.out;
  if (e.status != 0) return {};
  Shell r = sh(orrery() + " replay " + kSrc + "/examples/bundles/" + name + " --mode roofline --quiet --json " +
             (d / "real.json").string());
  EXPECT_EQ(r.status, 0) << r.out;
  nlohmann::json ej = read_json(d / "emu.json");
  double emu = ej["step_time_ms"].get<double>();
  double real = read_json(d / "real.json")["step_time_ms"].get<double>();
  EXPECT_NEAR(emu / real, 1.0, 0.03) << name << ": emulated " << emu << " ms, capture (roofline) " << real << " ms";
  Shell c = sh("cd " + kSrc + "/workloads/emulate && " + py() + " -m orrery_emulate.compare " + kSrc + "/examples/bundles/" +
             name + " " + (d / "bundle").string() + " --json " + (d / "cmp.json").string());
  EXPECT_EQ(c.status, 0) << c.out;
  nlohmann::json cmp = read_json(d / "cmp.json");
  EXPECT_GE(cmp["match_fraction"].get<double>(), min_match) << c.out;
  EXPECT_NEAR(cmp["emulated_ops"].get<double>() / cmp["real_ops"].get<double>(), 1.0, 0.10) << c.out;
  // Launches whose grid the replay prices (a grid on fewer units than the chip: layer norm
  // backward's GammaBetaBackward; the loss's single-block reductions; embedding backward's two
  // summing kernels, a thread per feature for every possible segment, and the feature kernel of
  // the few-index position embedding) carry the capture's grid and block.
  for (const char* k : {"GammaBetaBackward", "_reduce_cuda_kernel_2d", "compute_grad_weight", "sum_and_scatter",
                        "embedding_backward_feature_kernel"})
    EXPECT_EQ(launches_of(d / "bundle" / "kineto.json", k),
              launches_of(fs::path(kSrc) / "examples/bundles" / name / "kineto.json.gz", k)) << k;
  fs::remove_all(d);
  return ej;
}

TEST(Emulate, MlpScriptMatchesItsCapture) {
  NEED_TORCH();
  check_bundle_script("mlp_fp32", 0.80);
}

TEST(Emulate, GptBScriptMatchesItsCapture) {
  NEED_TORCH();
  check_bundle_script("gpt_b", 0.95);
}

TEST(Emulate, LlamaScriptMatchesItsCapture) {
  NEED_TORCH();
  check_bundle_script("llama_s", 0.80);
}

TEST(Emulate, DdpScriptMatchesItsCaptureAndBuckets) {
  NEED_TORCH();
  nlohmann::json j = check_bundle_script("gpt_a_ddp", 0.80);
  // DDP's 13 gradient all-reduces (25 MB buckets rebuilt in readiness order), as captured.
  ASSERT_TRUE(j.contains("emulation"));
  EXPECT_EQ(j["emulation"]["collectives_in_step"]["0"].get<int>(), 13);
}

// ResNet-50's stem (examples/emulate/resnet_stem.py) emulated in both layouts: its backward runs on
// fake tensors (convolution_backward has no fake kernel on Debian's PyTorch 1.13: the emulator
// gives its outputs' shapes) and launches the gradients its output mask asks for, and its max pooling launches as the real ResNet-50 captures'
// (examples/bundles_h200_more/resnet50 channels-last, resnet50_nchw) did, PyTorch's grids and
// blocks, so the replay prices the emulated and the captured pooling kernels alike.
TEST(Emulate, ResnetStemPoolsLaunchAsCaptured) {
  NEED_TORCH();
  for (const char* layout : {"", "--nchw"}) {
    std::string capture = kSrc + "/examples/bundles_h200_more/" + (*layout ? "resnet50_nchw" : "resnet50");
    fs::path d = tmpdir(std::string("stem") + layout);
    Shell e = sh(orrery() + " emulate " + kSrc + "/examples/emulate/resnet_stem.py --hw h200 --write-bundle " +
                 (d / "bundle").string() + " --quiet -- " + layout);
    ASSERT_EQ(e.status, 0) << e.out;
    // its one convolution's input (the images) needs no gradient: wgrad only, as the captures'
    // first convolution (convolution_backward's output_mask)
    const nlohmann::json trace = orrery::read_json_file((d / "bundle" / "kineto.json").string());
    int dgrad = 0, wgrad = 0;
    for (const auto& ev : trace["traceEvents"]) {
      std::string n = ev.value("name", "");
      dgrad += ev.value("cat", "") == "kernel" && n.find("dgrad") != std::string::npos;
      wgrad += ev.value("cat", "") == "kernel" && n.find("wgrad") != std::string::npos;
    }
    EXPECT_EQ(dgrad, 0) << layout;
    EXPECT_EQ(wgrad, 1) << layout;
    std::set<std::string> emulated = launches_of(d / "bundle" / "kineto.json", "max_pool_");
    EXPECT_EQ(emulated.size(), 2u) << layout;  // forward and backward
    EXPECT_EQ(emulated, launches_of(fs::path(capture) / "kineto.json.gz", "max_pool_")) << layout;
    auto pool_us = [](const std::string& bundle, const fs::path& csv) {
      Shell r = sh(orrery() + " replay " + bundle + " --hw h200 --mode roofline --quiet --csv " + csv.string());
      EXPECT_EQ(r.status, 0) << r.out;
      std::ifstream in(csv);
      double us = 0;
      for (std::string line; std::getline(in, line);) {
        if (line.find("max_pool_") == std::string::npos) continue;
        // index,name,class,op,measured_us,simulated_us,...: the name is quoted when it holds commas
        std::vector<std::string> f(1);
        bool quoted = false;
        for (char ch : line) {
          if (ch == '"') quoted = !quoted;
          else if (ch == ',' && !quoted) f.emplace_back();
          else f.back() += ch;
        }
        std::string simulated = f.size() > 5 ? f[5] : "0";
        us += std::stod(simulated);
      }
      return us;
    };
    double emu = pool_us((d / "bundle").string(), d / "emu.csv"), real = pool_us(capture, d / "real.csv");
    EXPECT_GT(real, 500) << layout;  // forward + backward: hundreds of microseconds each
    EXPECT_NEAR(emu / real, 1.0, 0.01) << layout << ": emulated " << emu << " us, captured " << real << " us";
    fs::remove_all(d);
  }
}

// Two emulations of the same script write the same bundle (tensor and storage ids are counters,
// not addresses) and give the same peak memory: an address the allocator reuses for a new
// storage must not extend the old storage's lifetime.
TEST(Emulate, TwoRunsWriteTheSameBundle) {
  NEED_TORCH();
  fs::path d = tmpdir("determinism");
  std::string peak[2];
  for (int i = 0; i < 2; ++i) {
    std::string b = (d / ("b" + std::to_string(i))).string(), j = (d / ("r" + std::to_string(i) + ".json")).string();
    Shell e = sh(orrery() + " emulate " + kSrc + "/examples/emulate/gpt_tp_pp.py --world-size 4 --system dgx-h100 --hw h100 --write-bundle " +
                 b + " --json " + j + " --quiet -- --tp 2 --pp 2");
    ASSERT_EQ(e.status, 0) << e.out;
    peak[i] = read_json(j)["peak_memory_bytes"].dump();
  }
  EXPECT_EQ(peak[0], peak[1]);
  for (auto& f : fs::directory_iterator(d / "b0")) {
    std::ifstream a(f.path()), b(d / "b1" / f.path().filename());
    std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
    EXPECT_TRUE(sa == sb) << f.path().filename() << " differs between two runs";
  }
  fs::remove_all(d);
}

TEST(Emulate, TensorPipelineParallelCollectivesEqualGlooReference) {
  NEED_TORCH();
  fs::path d = tmpdir("tp_pp");
  nlohmann::json ref = read_json(kSrc + "/tests/data/emulate/gpt_tp_pp_gloo8.json");
  std::string args;
  for (auto& a : ref["args"]) args += " " + a.get<std::string>();
  Shell e = sh(orrery() + " emulate " + kSrc + "/examples/emulate/gpt_tp_pp.py --world-size 8 --system dgx-h100 --write-bundle " +
             (d / "b").string() + " --json " + (d / "e.json").string() + " --quiet --" + args);
  ASSERT_EQ(e.status, 0) << e.out;
  nlohmann::json j = read_json(d / "e.json");
  // Two pipeline stages: one rank of each was emulated, the other six are mapped onto them.
  EXPECT_EQ(j["emulation"]["ranks_emulated"], nlohmann::json({0, 4}));
  EXPECT_EQ(j["ranks"].get<int>(), 8);
  EXPECT_GT(j["step_time_ms"].get<double>(), 0);
  Shell c = sh("cd " + kSrc + "/workloads/emulate && " + py() + " -m orrery_emulate.compare --collectives " + kSrc +
             "/tests/data/emulate/gpt_tp_pp_gloo8.json " + (d / "b").string());
  EXPECT_EQ(c.status, 0) << c.out;
  EXPECT_NE(c.out.find("all ranks equal"), std::string::npos) << c.out;
  fs::remove_all(d);
}

// FSDP (auto-wrapped blocks), torch.compile, a profiler, a side stream and an event: FULL_SHARD's
// all-gather before each block's forward and backward and reduce-scatter after its backward.
TEST(Emulate, FsdpCompileProfilerAndStreams) {
  NEED_TORCH();
  fs::path d = tmpdir("fsdp");
  Shell e = sh(orrery() + " emulate " + kSrc + "/tests/data/emulate/fsdp_compile.py --world-size 4 --write-bundle " +
             (d / "b").string() + " --json " + (d / "e.json").string() + " --quiet");
  ASSERT_EQ(e.status, 0) << e.out;
  nlohmann::json et = read_json(d / "b" / "et.0.json");
  int gathers = 0, scatters = 0, waits = 0;
  for (auto& n : et["nodes"]) {
    std::string name = n["name"];
    if (name == "orrery::wait_event") ++waits;
    if (name != "record_param_comms") continue;
    for (auto& at : n["attrs"])
      if (at["name"] == "collective_name") {
        gathers += at["value"] == "_allgather_base";
        scatters += at["value"] == "_reduce_scatter_base";
      }
  }
  EXPECT_EQ(gathers, 6);   // 3 wrapped blocks x (forward + backward)
  EXPECT_EQ(scatters, 3);  // 3 wrapped blocks
  EXPECT_GE(waits, 1);     // the compute stream waits for the side stream's event
  EXPECT_EQ(read_json(d / "e.json")["ranks"].get<int>(), 4);
  fs::remove_all(d);
}

// 40 G parameters (160 GB of fp32 weights, more than the machine has): fake tensors allocate none.
TEST(Emulate, HugeModelAllocatesNoWeights) {
  NEED_TORCH();
  fs::path d = tmpdir("huge");
  Shell e = sh(orrery() + " emulate " + kSrc + "/tests/data/emulate/huge.py --json " + (d / "e.json").string() + " --quiet");
  ASSERT_EQ(e.status, 0) << e.out;
  nlohmann::json j = read_json(d / "e.json");
  // 4 GEMMs forward, 8 backward, each 2 x 8 x 1e5 x 1e5 FLOP: the step is compute-bound and real.
  EXPECT_GT(j["step_time_ms"].get<double>(), 1.0);
  fs::remove_all(d);
}

// One line, prefixed like every orrery error, containing `want`.
void expect_one_line_error(const std::string& args, const std::string& want) {
  Shell r = sh(orrery() + " emulate " + args);
  EXPECT_NE(r.status, 0) << r.out;
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;
  EXPECT_EQ(out.rfind("orrery emulate: error: ", 0), 0u) << out;
  EXPECT_NE(out.find(want), std::string::npos) << out;
}

TEST(Emulate, BadInputIsOneLine) {
  NEED_TORCH();
  const std::string data = kSrc + "/tests/data/emulate/";
  expect_one_line_error(data + "fails.py", "the script failed: fails.py:4: RuntimeError: the data loader found no files");
  expect_one_line_error(data + "no_step.py", "completed no training step");
  expect_one_line_error(data + "no_ops.py", "never calls a tensor op");
  expect_one_line_error(data + "nonzero.py", "nonzero.py:6: aten::nonzero cannot run on fake tensors");
  expect_one_line_error(kSrc + "/examples/emulate/gpt_tp_pp.py --world-size 6 -- --tp 2 --pp 2",
                        "ValueError: world size 6 is not a multiple of tp x pp = 4");
  expect_one_line_error(kSrc + "/examples/emulate/gpt_tp_pp.py --world-size 6 -- --tp 2 --pp 2", "the script failed: gpt_tp_pp.py:");
  expect_one_line_error(data + "reads_item.py --strict-data", "reads_item.py:9: the script reads a tensor's value");
  expect_one_line_error(data + "missing.py", "no such script");
  expect_one_line_error(data + "reads_item.py --world-size 0", "--world-size");
}

TEST(Emulate, DataDependentReadsUsePlaceholderAndNameTheLine) {
  NEED_TORCH();
  Shell r = sh(orrery() + " emulate " + kSrc + "/tests/data/emulate/reads_item.py");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("note: reads_item.py:9: reads a tensor's value"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step time"), std::string::npos) << r.out;
}

TEST(Emulate, MissingPythonIsOneLine) {
  Shell r = sh("ORRERY_PYTHON=/nonexistent/python3 " + orrery() + " emulate " + kSrc + "/tests/data/emulate/reads_item.py");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("orrery emulate: error: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ORRERY_PYTHON"), std::string::npos) << r.out;
}

}  // namespace

}  // namespace emulate_test
