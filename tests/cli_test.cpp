// The command line as a user meets it: every command's --help against its parser and the docs,
// flags that would be silent no-ops, `list` / `describe NAME`, and round trips through files
// (topo --json -> --system, convert -> chakra-run, config.json -> rerun).
#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace cli_test {

namespace {

namespace fs = std::filesystem;

struct CliRun {
  int rc = -1;
  std::string out;  // stdout and stderr together
};

CliRun run(const std::string& args) {
  std::string cmd = std::string(ORRERY_BINARY) + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (p && fgets(buf, sizeof buf, p)) r.out += buf;
  r.rc = p ? pclose(p) : -1;
  return r;
}

std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }
std::string tmp(const std::string& name) { return testing::TempDir() + "/orrery_cli_" + name; }

bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// Commands listed by `orrery --help`.
std::vector<std::string> commands() {
  CliRun r = run("--help");
  std::vector<std::string> out;
  std::istringstream in(r.out);
  std::string line;
  bool in_list = false;
  while (std::getline(in, line)) {
    if (line == "commands:") in_list = true;
    else if (in_list && line.rfind("  ", 0) == 0) out.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return out;
}

// Flags listed in a command's --help: name -> takes a value.
std::map<std::string, bool> help_flags(const std::string& help) {
  std::map<std::string, bool> out;
  std::istringstream in(help);
  std::string line;
  bool in_opts = false;
  while (std::getline(in, line)) {
    if (line == "options:") {
      in_opts = true;
      continue;
    }
    if (!in_opts || line.rfind("  -", 0) != 0) {
      if (in_opts && !line.empty() && line[0] != ' ') in_opts = false;
      continue;
    }
    // The left column (flags and placeholder) ends at the first run of two spaces.
    std::string left = line.substr(2);
    auto gap = left.find("  ");
    if (gap != std::string::npos) left = left.substr(0, gap);
    std::istringstream ls(left);
    std::string tok;
    std::vector<std::string> names;
    bool value = false;
    while (ls >> tok) {
      if (tok[0] == '-') {
        if (tok.back() == ',') tok.pop_back();
        names.push_back(tok);
      } else {
        value = true;
      }
    }
    for (auto& n : names) out[n] = value;
  }
  return out;
}

TEST(Cli, TopLevelHelpListsEveryCommand) {
  CliRun r = run("--help");
  EXPECT_EQ(r.rc, 0);
  auto cmds = commands();
  for (const char* c : {"replay", "collective", "topo", "train", "convert", "chakra-run", "calibrate", "validate", "describe", "list"})
    EXPECT_NE(std::find(cmds.begin(), cmds.end(), c), cmds.end()) << c << "\n" << r.out;
  EXPECT_EQ(run("help topo").out, run("topo --help").out);
}

// Every command has usage, one example and its flags; every flag the help lists is accepted by
// the parser, and a flag it does not list is refused: the two come from one declaration.
TEST(Cli, EveryCommandHelpMatchesItsParser) {
  for (auto& c : commands()) {
    SCOPED_TRACE(c);
    CliRun h = run(c + " --help");
    ASSERT_EQ(h.rc, 0) << h.out;
    EXPECT_TRUE(has(h.out, "usage: orrery " + c)) << h.out;
    EXPECT_TRUE(has(h.out, "example:\n  orrery " + c)) << h.out;
    EXPECT_EQ(run(c + " -h").out, h.out);
    auto flags = help_flags(h.out);
    // Every listed flag on one command line: the parser reads all of its tokens before it checks
    // anything else, so a listed flag it does not declare is "unknown option" whatever its place
    // (the message names it). One run per command, not one per flag: the suite's cost here is
    // process start-up. A trailing positional makes most commands stop right after parsing.
    std::string line = c;
    for (auto& [flag, value] : flags)
      if (flag != "--help" && flag != "-h") line += " " + flag + (value ? " 1" : "");
    CliRun all = run(line + " __not_a_file__");
    EXPECT_FALSE(has(all.out, "unknown option")) << line << ": " << all.out;
    EXPECT_FALSE(has(all.out, "missing value")) << line << ": " << all.out;
    CliRun bad = run(c + " --no-such-flag 1");
    EXPECT_NE(bad.rc, 0);
    EXPECT_TRUE(has(bad.out, "--no-such-flag: unknown option")) << bad.out;
    // Defaults and units are printed with the flags that have them.
    if (c == "collective") {
      EXPECT_TRUE(has(h.out, "[bytes, binary suffixes K M G] (default: 8G)")) << h.out;
      for (const char* f : {"-d", "-o", "-n", "-w", "-c", "--iters", "--warmup_iters"}) EXPECT_TRUE(flags.count(f)) << f;
    }
  }
}

// Every `orrery CMD ... --flag` written in README.md and docs/*.md is a flag CMD's help lists, so
// the documentation cannot drift from what is parsed.
TEST(Cli, FlagsInTheDocsExist) {
  std::map<std::string, std::map<std::string, bool>> flags;
  for (auto& c : commands()) flags[c] = help_flags(run(c + " --help").out);
  std::vector<std::string> files = {src("README.md")};
  for (auto& e : fs::directory_iterator(src("docs")))
    if (e.path().extension() == ".md") files.push_back(e.path().string());
  std::regex flag_re("^(-{1,2}[A-Za-z][A-Za-z0-9_-]*)");
  int checked = 0;
  for (auto& f : files) {
    std::ifstream in(f);
    std::string line;
    int lineno = 0;
    while (std::getline(in, line)) {
      ++lineno;
      for (size_t at = line.find("orrery "); at != std::string::npos; at = line.find("orrery ", at + 1)) {
        if (at > 0 && line[at - 1] == '<') continue;  // "<orrery train flags>": a placeholder, not a command line
        std::istringstream ls(line.substr(at + 7));
        std::string cmd, tok;
        ls >> cmd;
        if (!flags.count(cmd)) continue;
        while (ls >> tok) {
          if (tok.find('`') != std::string::npos || tok == "|" || tok == "&&" || tok == ">" || tok == "#") break;
          if (tok == "--") break;  // what follows is passed through (emulate's script arguments)
          std::string t = tok;
          while (!t.empty() && (t[0] == '[' || t[0] == '(')) t.erase(0, 1);
          std::smatch m;
          if (!std::regex_search(t, m, flag_re)) continue;
          std::string name = m[1];
          if (name == "--help" || name == "-h") continue;
          ++checked;
          EXPECT_TRUE(flags[cmd].count(name)) << f << ":" << lineno << ": `orrery " << cmd << "` has no flag " << name << "\n" << line;
        }
      }
    }
  }
  EXPECT_GT(checked, 30);
}

// A flag the run never reads is an error, not a silent no-op.
TEST(Cli, FlagsWithoutEffectAreErrors) {
  CliRun r = run("replay " + src("examples/bundles/gpt_b") + " --source-hw h200 --quiet");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "--source-hw: given but has no effect")) << r.out;
  r = run("replay " + src("examples/bundles/gpt_b") + " --system dgx-a100 --quiet");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "no system is used")) << r.out;
  r = run("convert " + src("examples/bundles/gpt_b") + " -o " + tmp("conv_noop") + " --tp 2");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "--tp: given but has no effect")) << r.out;
  r = run("collective -b 8 -e 8 extra");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "unexpected argument")) << r.out;
  // nccl-tests flags that mean nothing in a simulation are accepted.
  r = run("collective -b 8 -e 8 -n 50 -w 10 -c 1 -d half -o max");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "half     max")) << r.out;
}

// --set / --sys-set keys nothing reads are errors on every command that takes them.
TEST(Cli, UnknownSetKeysAreErrorsOnEveryCommand) {
  const std::string bundle = src("examples/bundles/gpt_b");
  const std::string train = "--model gpt-22b --tp 8 --micro-batch 1 --global-batch 8";
  std::vector<std::string> set_cmds = {
      "replay " + bundle,
      "train " + train,
      "convert --from-train " + train + " -o " + tmp("conv_set"),
      "chakra-run " + tmp("no_dir"),
      "validate " + bundle,
      "calibrate --kernel-families " + bundle,
  };
  for (auto& c : set_cmds) {
    CliRun r = run(c + " --set no_such_param=1");
    EXPECT_NE(r.rc, 0) << c;
    EXPECT_TRUE(has(r.out, "no_such_param: unknown parameter of accelerator")) << c << "\n" << r.out;
    // The chip's NVLink copy was read by nothing: the old name says where it went.
    r = run(c + " --set nvlink_bandwidth=900GB/s");
    EXPECT_NE(r.rc, 0) << c;
    EXPECT_TRUE(has(r.out, "--sys-set nvlink_bandwidth")) << c << "\n" << r.out;
  }
  std::vector<std::string> sys_cmds = {
      "collective -b 8 -e 8", "topo dgx-h100", "train " + train, "convert --from-train " + train + " -o " + tmp("conv_sys"),
      "chakra-run " + tmp("no_dir"), "validate --nccl-tests " + src("tests/data/nccl_tests/all_reduce_perf_8xh100.log") + " --system dgx-h100",
  };
  for (auto& c : sys_cmds) {
    CliRun r = run(c + " --sys-set no_such_key=1");
    EXPECT_NE(r.rc, 0) << c;
    EXPECT_TRUE(has(r.out, "no_such_key: unknown parameter")) << c << "\n" << r.out;
  }
  // A GPU preset file that still carries the old key gets the same migration message.
  std::string preset = tmp("old_preset.json");
  {
    std::ifstream in(src("hw_models/presets/h100.json"));
    nlohmann::json j = nlohmann::json::parse(in);
    j["params"]["nvlink_bandwidth"] = "450 GB/s";
    std::ofstream(preset) << j.dump();
  }
  CliRun r = run("replay " + bundle + " --hw " + preset + " --quiet");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "nvlink_bandwidth: no longer a parameter of accelerator")) << r.out;
  // memcpy_cost was declared but read by nothing: a what-if on it changed nothing.
  r = run("replay " + bundle + " --set memcpy_cost=1us --quiet");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "memcpy_cost: no longer a parameter of accelerator: nothing read it")) << r.out;
}

TEST(Cli, TrainRequiresItsBatchAndPrintsMeaningDefaults) {
  CliRun r = run("train --model gpt-22b --tp 8");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "required")) << r.out;
  EXPECT_TRUE(has(r.out, "--micro-batch") || has(r.out, "--global-batch")) << r.out;
  r = run("train --model gpt-22b --tp 8 --micro-batch 1 --global-batch 8 --engine event");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "defaults used        --system dgx-h100 --precision bf16")) << r.out;
  r = run("train --model gpt-22b --tp 8 --micro-batch 1 --global-batch 8 --engine event --system dgx-h100 --precision bf16 "
          "--grad-precision fp32 --recompute none --attention flash --zero 0 --comm auto");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_FALSE(has(r.out, "defaults used")) << r.out;
}

// Megatron's block method recomputes a whole chunk when --recompute-layers exceeds its layers; the
// plan line says so rather than "first 64 layers".
TEST(Cli, TrainSaysWhenBlockRecomputeCoversTheChunk) {
  const std::string base = "train --model gpt-22b --tp 8 --micro-batch 1 --global-batch 8 --engine event --recompute full ";
  CliRun r = run(base + "--recompute-layers 64");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "--recompute-layers 64 covers every layer of each chunk, at most 48: all recomputed")) << r.out;
  r = run(base + "--recompute-layers 4");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "(first 4 layers of each chunk)")) << r.out;
}

TEST(Cli, ListAndDescribeEveryPresetSystemAndModel) {
  CliRun l = run("list");
  EXPECT_EQ(l.rc, 0);
  for (const char* n : {"h100", "h200", "a100", "dgx-h100", "h100-cluster", "gpt3-175b", "llama3-8b"}) EXPECT_TRUE(has(l.out, n)) << n;
  EXPECT_FALSE(has(run("list systems").out, "gpt3-175b"));
  EXPECT_NE(run("list gpus").rc, 0);
  for (auto& kind : {"presets", "systems", "models"}) {
    std::istringstream in(run(std::string("list ") + kind).out);
    std::string line;
    std::getline(in, line);  // heading
    while (std::getline(in, line)) {
      std::string name = line.substr(2, line.find(' ', 2) - 2);
      CliRun d = run("describe " + name);
      EXPECT_EQ(d.rc, 0) << name << "\n" << d.out;
      EXPECT_TRUE(has(d.out, "parameter") && has(d.out, "default") && has(d.out, "value") && has(d.out, "source")) << d.out;
    }
  }
  CliRun h = run("describe h100");
  EXPECT_TRUE(std::regex_search(h.out, std::regex("hbm_bandwidth +B/s +\\(required\\) +3\\.35 TB/s +file"))) << h.out;
  EXPECT_TRUE(std::regex_search(h.out, std::regex("kernel_gap +s +1 us +1 us +file"))) << h.out;
  CliRun s = run("describe dgx-h100");
  EXPECT_TRUE(std::regex_search(s.out, std::regex("nvlink_bandwidth +B/s +25 GB/s +25 GB/s +file"))) << s.out;
  EXPECT_TRUE(std::regex_search(s.out, std::regex("nvlink_latency +s +0.25 us +250 ns +default"))) << s.out;
  EXPECT_TRUE(has(s.out, "collective tuner")) << s.out;
  EXPECT_TRUE(std::regex_search(run("describe gpt3-175b").out, std::regex("layers +count +\\(required\\) +96 +file")));
  CliRun bad = run("describe h1000");
  EXPECT_NE(bad.rc, 0);
  EXPECT_TRUE(has(bad.out, "orrery describe: error: describe: h1000: not a component")) << bad.out;
  // a file of a preset, system or model, as --hw / --system / --model take it; a broken one names its error
  EXPECT_TRUE(has(run("describe " + src("systems/ring8.json")).out, "system ring8"));
  EXPECT_TRUE(has(run("describe " + src("hw_models/presets/h100.json")).out, "hardware preset h100"));
  EXPECT_TRUE(has(run("describe " + src("workloads/models/llama3-8b.json")).out, "model llama3-8b"));
  std::string broken = tmp("broken_model.json");
  std::ofstream(broken) << "{\"layers\": 2,";
  CliRun b = run("describe " + broken);
  EXPECT_NE(b.rc, 0);
  EXPECT_TRUE(has(b.out, broken + ": invalid JSON")) << b.out;
}

// topo --json -> a system file -> the same topology and the same collective results.
TEST(Cli, TopoJsonLoadsBackAsTheSameSystem) {
  for (auto& [sys, nodes] : std::vector<std::pair<std::string, std::string>>{{"dgx-h100", ""}, {"h100-cluster", " --nodes 4"}, {"ring8", ""}}) {
    SCOPED_TRACE(sys);
    std::string f = tmp(sys + "_topo.json");
    CliRun a = run("topo " + sys + nodes + " --json " + f);
    ASSERT_EQ(a.rc, 0) << a.out;
    CliRun b = run("topo " + f);
    ASSERT_EQ(b.rc, 0) << b.out;
    EXPECT_EQ(a.out, b.out);
    std::string sweep = " -b 64K -e 1G -f 16";
    CliRun c1 = run("collective --system " + sys + nodes + sweep), c2 = run("collective --system " + f + sweep);
    EXPECT_EQ(c1.rc, 0) << c1.out;
    EXPECT_EQ(c1.out, c2.out);
  }
  // A single DGX H100 all-reduce stays NVLS at ~487 GB/s bus bandwidth through the file.
  CliRun r = run("collective --system " + tmp("dgx-h100_topo.json") + " -b 8G -e 8G --csv " + tmp("ar.csv"));
  std::ifstream csv(tmp("ar.csv"));
  std::string header, row;
  std::getline(csv, header);
  std::getline(csv, row);
  EXPECT_TRUE(has(row, "NVLS")) << row;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(" 4[89][0-9]\\.[0-9][0-9] +N/A"))) << r.out;
  // An edited graph is not silently ignored.
  std::string f = tmp("dgx-h100_topo.json"), edited = tmp("edited.json");
  {
    std::ifstream in(f);
    nlohmann::json j = nlohmann::json::parse(in);
    j["graph"]["links"][0]["bandwidth"] = "1 GB/s";
    std::ofstream(edited) << j.dump();
  }
  CliRun e = run("collective --system " + edited);
  EXPECT_NE(e.rc, 0);
  EXPECT_TRUE(has(e.out, edited + ": graph: differs from the graph")) << e.out;
}

// nccl-tests columns: out-of-place and in-place time/algbw/busbw, #wrong N/A, the same header
// lines; validate --nccl-tests reads orrery's table as it reads the real tool's.
TEST(Cli, CollectiveTableIsNcclTestsShaped) {
  std::string log = tmp("orrery_all_reduce.log");
  CliRun r = run("collective --op all_reduce --system dgx-h100 -b 1K -e 64M -f 4");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ofstream(log) << r.out;
  std::ifstream real(src("tests/data/nccl_tests/all_reduce_perf_8xh100.log"));
  std::string first;
  std::getline(real, first);
  // Same header lines (the values differ).
  for (const char* h : {"# nThread 1 nGpus", " minBytes ", " maxBytes ", " step: 4(factor) warmup iters: 5 iters: 20 ",
                        "# Collective test starting: all_reduce_perf", "# Using devices", "#  Rank  0 Group  0 Pid",
                        "out-of-place", "in-place", "#wrong", "# Avg bus bandwidth    : "})
    EXPECT_TRUE(has(r.out, h)) << h << "\n" << r.out;
  EXPECT_TRUE(has(first, "# nThread 1 nGpus"));
  CliRun v = run("validate --nccl-tests " + log + " --system dgx-h100");
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_TRUE(std::regex_search(v.out, std::regex("\\+0\\.0%"))) << v.out;  // the model against its own table
  // -d takes nccl-tests' type names only: a misspelt one is an error, not a float
  CliRun bad = run("collective --op all_reduce --system dgx-h100 -b 1K -e 1K -d float17");
  EXPECT_NE(bad.rc, 0);
  EXPECT_TRUE(has(bad.out, "orrery collective: error: -d: float17: unknown data type")) << bad.out;
  EXPECT_EQ(run("collective --op all_reduce --system dgx-h100 -b 1K -e 1K -d uint8").rc, 0);
}

// A sweep whose every point fails (a misspelt option) exits non-zero with the first reason.
TEST(Cli, SweepWhosePointsAllFailIsAnError) {
  std::string spec = tmp("sweep_all_fail.json"), out = tmp("sweep_all_fail.jsonl");
  std::ofstream(spec) << R"({"command": "collective", "base": {"op": "all_reduce", "system": "dgx-h100", "b": "1K", "e": "1K"},
                            "axes": {"frobnicate": [1, 2]}})";
  CliRun r = run("sweep " + spec + " -o " + out + " --no-progress");
  EXPECT_NE(r.rc, 0);
  EXPECT_TRUE(has(r.out, "orrery sweep: error: " + spec + ": points: all 2 points failed (rows in ")) << r.out;
}

// Chakra's own traces (its repository's test data) run: self-dependencies dropped with a note,
// the ctrl_deps cycle handled as Chakra's feeder does.
TEST(Cli, ChakraRepositoryTraceRuns) {
  std::string dir = tmp("chakra_repo");
  fs::create_directories(dir);
  std::string et = dir + "/chakra.0.et";
  ASSERT_EQ(std::system(("gzip -dc " + src("tests/data/chakra/chakra.0.et.gz") + " > " + et).c_str()), 0);
  CliRun r = run("chakra-run " + dir);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "383 self-dependencies dropped")) << r.out;
  EXPECT_TRUE(has(r.out, "scheduled on data_deps only, as Chakra's ETFeeder does")) << r.out;
  EXPECT_TRUE(has(r.out, "traces 1, nodes 3664")) << r.out;
  // The output of Chakra's PyTorch converter (METADATA_NODE, is_cpu_op, stream...) runs as is; its
  // input carried no timings, so every node is 0 us, as the reference simulator would skip them.
  std::string dir2 = tmp("chakra_converter");
  fs::create_directories(dir2);
  ASSERT_EQ(std::system(("gzip -dc " + src("tests/data/chakra/pytorch_converter.0.et.gz") + " > " + dir2 + "/pytorch_converter.0.et").c_str()), 0);
  r = run("chakra-run " + dir2);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "traces 1, nodes 262")) << r.out;
  EXPECT_FALSE(has(r.out, "note:")) << r.out;
}

// The non-monotonic step at 128 KiB on 4 nodes (69.0 us, then 68.2 us at 256 KiB) is the tuner's
// protocol switch: NCCL's model picks LL at 128 KiB (its estimate is below LL128's), the fabric adds
// its hop latencies to LL's smaller latency floor; each protocol alone is monotonic.
TEST(Cli, CollectiveTimeStepIsTheTunersProtocolSwitch) {
  auto rows = [](const std::string& proto) {
    std::string js = tmp("mono_" + proto + ".json");
    CliRun r = run("collective --system h100-cluster --nodes 4 -b 32K -e 1M --engine event --proto " + proto + " --json " + js);
    EXPECT_EQ(r.rc, 0) << r.out;
    std::ifstream in(js);
    return nlohmann::json::parse(in)["rows"];
  };
  nlohmann::json autos = rows("auto"), ll = rows("ll"), ll128 = rows("ll128");
  for (auto* rs : {&ll, &ll128})
    for (size_t k = 1; k < rs->size(); ++k) EXPECT_GT((*rs)[k]["time_us"].get<double>(), (*rs)[k - 1]["time_us"].get<double>());
  for (size_t k = 0; k < autos.size(); ++k) {
    double chosen = autos[k]["model_time_us"], a = ll[k]["model_time_us"], b = ll128[k]["model_time_us"];
    EXPECT_LE(chosen, std::min(a, b) + 1e-9) << autos[k];  // the tuner's choice is its model's minimum
  }
  EXPECT_EQ(autos[2]["protocol"], "LL");  // 128 KiB
  EXPECT_EQ(autos[3]["protocol"], "LL128");
  EXPECT_GT(autos[2]["time_us"].get<double>(), autos[3]["time_us"].get<double>());
  EXPECT_GT(ll[2]["time_us"].get<double>(), ll128[2]["time_us"].get<double>());  // LL128 would have been faster
}

// convert writes the communicator groups next to the traces; chakra-run reads them back.
TEST(Cli, ConvertWritesCommGroupsAndRunsBack) {
  std::string dir = tmp("conv_groups");
  fs::remove_all(dir);
  CliRun c = run("convert --from-train --model gpt-22b --nodes 2 --tp 8 --pp 2 --micro-batch 1 --global-batch 4 --all-ranks -o " + dir);
  ASSERT_EQ(c.rc, 0) << c.out;
  std::ifstream g(dir + "/gpt-22b.comm_groups.json");
  ASSERT_TRUE(g.good());
  nlohmann::json groups = nlohmann::json::parse(g);
  // TP groups of 8 consecutive ranks per stage (pipeline transfers are sends/receives, no group).
  auto holds = [&](const nlohmann::json& ranks) {
    for (auto& [id, v] : groups.items())
      if (v == ranks) return true;
    return false;
  };
  EXPECT_TRUE(holds({0, 1, 2, 3, 4, 5, 6, 7})) << groups;
  EXPECT_TRUE(holds({8, 9, 10, 11, 12, 13, 14, 15})) << groups;
  EXPECT_EQ(groups.size(), 2u) << groups;
  CliRun r = run("chakra-run " + dir);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "traces 16")) << r.out;
}

}  // namespace

namespace {

// Output lines that are the same from run to run (wall time and "wrote FILE" lines dropped).
std::string stable(const std::string& out) {
  std::istringstream in(out);
  std::string line, keep;
  while (std::getline(in, line))
    if (!has(line, "wall") && line.rfind("wrote ", 0) != 0 && !has(line, "rerun: ")) keep += line + "\n";
  return keep;
}

// convert --from-train <flags> into dir, then chakra-run: the step both print must agree to 1e-4.
void expect_chakra_run_gives_the_train_step(const std::string& dir, const std::string& flags, const std::string& simulated) {
  fs::remove_all(dir);
  CliRun c = run("convert --from-train " + flags + " -o " + dir);
  ASSERT_EQ(c.rc, 0) << c.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c.out, m, std::regex("simulated iteration_time_s ([0-9.]+) \\(" + simulated))) << c.out;
  double train_s = std::stod(m[1]);
  CliRun r = run("chakra-run " + dir);
  ASSERT_EQ(r.rc, 0) << r.out;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("makespan_s ([0-9.]+)"))) << r.out;
  double chakra_s = std::stod(m[1]);
  EXPECT_NEAR(chakra_s / train_s, 1.0, 1e-4) << "train " << train_s << " s, chakra-run " << chakra_s << " s";
}

// convert --from-train -> chakra-run: the traces are the graph train runs on the executor, so
// chakra-run gives the same step (to the printed digits).
TEST(Cli, ConvertThenChakraRunGivesTheTrainStep) {
  expect_chakra_run_gives_the_train_step(
      tmp("conv_step"), "--model gpt-22b --nodes 2 --tp 8 --pp 2 --micro-batch 1 --global-batch 4 --all-ranks", "16 of 16");
}

// The default representative traces (one per stage) run as a job of all the communicator groups'
// ranks: their TP and DP collectives keep their members without a trace (not waited for), so
// chakra-run still gives the train step. (Before, the groups shrank to the traced rank and every
// collective was free: 0.267 s for this 0.359 s step.)
TEST(Cli, RepresentativeTracesKeepTheirCollectives) {
  expect_chakra_run_gives_the_train_step(
      tmp("conv_rep"), "--model gpt-22b --tp 4 --dp 2 --micro-batch 1 --global-batch 4 --zero 1", "1 of 8");
}

// config.json -> orrery rerun -> the same output and the same resolved configuration, for every
// command that writes one.
TEST(Cli, ConfigReruns) {
  std::vector<std::pair<std::string, std::string>> cmds = {
      {"train", "train --model gpt-22b --tp 8 --micro-batch 1 --global-batch 8 --engine event"},
      {"collective", "collective --op all_gather --system h100-cluster --nodes 2 -b 1M -e 64M -f 8 --sys-set collective.nvls=0"},
      {"replay", "replay " + src("examples/bundles/gpt_b") + " --mode roofline --set hbm_bandwidth=4TB/s"},
  };
  for (auto& [name, cmd] : cmds) {
    SCOPED_TRACE(name);
    std::string a = tmp(name + "_a.json"), b = tmp(name + "_b.json");
    CliRun first = run(cmd + " --json " + a);
    ASSERT_EQ(first.rc, 0) << first.out;
    CliRun again = run("rerun " + tmp(name + "_a.config.json") + " --json " + b);
    ASSERT_EQ(again.rc, 0) << again.out;
    EXPECT_TRUE(has(again.out, "rerun: configuration identical")) << again.out;
    EXPECT_EQ(stable(first.out), stable(again.out));
    std::ifstream ia(a), ib(b);
    nlohmann::json ja = nlohmann::json::parse(ia), jb = nlohmann::json::parse(ib);
    for (auto* j : {&ja, &jb}) j->erase("sim_wall_s");
    if (name == "replay") EXPECT_EQ(ja["step_time_ms"], jb["step_time_ms"]);
    else if (name == "train") EXPECT_EQ(ja["iteration_time_s"], jb["iteration_time_s"]);
    else EXPECT_EQ(ja["rows"], jb["rows"]);
  }
  // without --json the configuration is checked all the same: a recorded plan the command now
  // resolves differently fails
  std::string cfg = tmp("train_a.config.json"), changed = tmp("train_changed.config.json");
  std::ifstream in(cfg);
  nlohmann::json c = nlohmann::json::parse(in);
  CliRun plain = run("rerun " + cfg);
  EXPECT_EQ(plain.rc, 0) << plain.out;
  EXPECT_TRUE(has(plain.out, "rerun: configuration identical")) << plain.out;
  ASSERT_TRUE(c.contains("plan") && c["plan"].contains("tp")) << c.dump().substr(0, 400);
  c["plan"]["tp"] = 4;
  std::ofstream(changed) << c.dump();
  CliRun differs = run("rerun " + changed);
  EXPECT_NE(differs.rc, 0);
  EXPECT_TRUE(has(differs.out, "resolved differently now")) << differs.out;
  CliRun bad = run("rerun " + src("systems/dgx-h100.json"));
  EXPECT_NE(bad.rc, 0);
  EXPECT_TRUE(has(bad.out, "argv: missing")) << bad.out;
}

}  // namespace

// calibrate --kernel-families prints a `use:` line of --set values: an efficiency is a fraction of
// the memory curve, so a family whose kernels run faster than the curve (the H100 captures' strided
// kernels, median ratio 1.03) keeps 1 instead of a value --set refuses, and the line round-trips.
TEST(Cli, KernelFamilyFitsAreValuesSetAccepts) {
  std::string b = src("examples/bundles/");
  CliRun r = run("calibrate --kernel-families " + b + "gpt_a_ddp " + b + "gpt_b " + b + "llama_s");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(has(r.out, "faster: keep strided_elementwise_efficiency = 1")) << r.out;
  auto at = r.out.find("use:");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string sets = r.out.substr(at + 4, r.out.find("   (or", at) - at - 4);
  EXPECT_FALSE(has(sets, "strided")) << sets;
  CliRun v = run("replay " + b + "mlp_fp32 --mode roofline" + sets);
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_FALSE(has(v.out, "error:")) << v.out;
}

// `--json -` and `--csv -` name standard output; only `orrery kernel --json -` prints there. Other
// commands used to write a file called "-" (and "-.config.json") without a word: now one line.
TEST(Cli, DashIsNotAnOutputFile) {
  std::string b = src("examples/bundles/mlp_fp32");
  for (const char* flag : {"--json", "--csv"}) {
    CliRun r = run("replay " + b + " --quiet " + flag + " -");
    EXPECT_NE(r.rc, 0) << flag;
    EXPECT_TRUE(has(r.out, "orrery replay: error:")) << r.out;
    EXPECT_TRUE(has(r.out, "give a file name")) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists("-"));
  EXPECT_FALSE(std::filesystem::exists("-.config.json"));
}

}  // namespace cli_test
