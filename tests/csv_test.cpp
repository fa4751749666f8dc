// CSV output (sim/csv.h) and the --csv option of the commands, plus the gather traffic model.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/csv.h"
#include "workloads/op_cost.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace csv_test {

using namespace orrery;

namespace {
// Minimal RFC 4180 reader: rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cell;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      row.push_back(cell);
      cell.clear();
      any = true;
    } else if (c == '\n') {
      row.push_back(cell);
      rows.push_back(row);
      row.clear();
      cell.clear();
      any = false;
    } else {
      cell += c;
      any = true;
    }
  }
  if (any) {
    row.push_back(cell);
    rows.push_back(row);
  }
  return rows;
}
std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
int run(const std::string& args) {
  std::string cmd = std::string(ORRERY_BINARY) + " " + args + " > /dev/null 2>&1";
  int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }
std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("orrery_csv_" + std::to_string(::getpid()) + "_" + name)).string();
}
// Every row has as many fields as the header; returns the rows without the header.
std::vector<std::vector<std::string>> table(const std::string& path, std::vector<std::string>* header) {
  auto rows = parse_csv(slurp(path));
  EXPECT_FALSE(rows.empty()) << path;
  if (rows.empty()) return {};
  *header = rows[0];
  for (size_t i = 1; i < rows.size(); ++i) EXPECT_EQ(rows[i].size(), header->size()) << path << " row " << i;
  return {rows.begin() + 1, rows.end()};
}
size_t col(const std::vector<std::string>& header, const std::string& name) {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  ADD_FAILURE() << "no column " << name;
  return 0;
}
}  // namespace

TEST(Csv, QuotingAndColumnsFollowRfc4180) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  rows.push_back({{"name", "void f<4, float>(char*)"}, {"n", 3}, {"x", 0.5}});
  rows.push_back({{"name", "say \"hi\"\nbye"}, {"flag", true}, {"n", nullptr}});
  std::string text = to_csv(rows);
  EXPECT_EQ(text,
            "name,n,x,flag\n"
            "\"void f<4, float>(char*)\",3,0.5,\n"
            "\"say \"\"hi\"\"\nbye\",,,true\n");
  auto back = parse_csv(text);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2][0], "say \"hi\"\nbye");
  EXPECT_EQ(csv_cell(1e-7), "1e-07");
  EXPECT_EQ(csv_cell(123456789012LL), "123456789012");
  EXPECT_EQ(to_csv(nlohmann::ordered_json::array()), "\n");
}

TEST(CsvCli, ReplayWritesOneRowPerKernel) {
  std::string csv = tmp("replay.csv"), json = tmp("replay.json");
  ASSERT_EQ(run("replay " + src("examples/bundles/mlp_fp32") + " --engine event --quiet --csv " + csv + " --json " + json), 0);
  std::vector<std::string> h;
  auto rows = table(csv, &h);
  auto j = nlohmann::json::parse(slurp(json));
  EXPECT_EQ(rows.size(), j["kernel_count"].get<size_t>());
  EXPECT_EQ(h[0], "index");
  double sum = 0;
  for (auto& r : rows) sum += std::stod(r[col(h, "simulated_us")]);
  EXPECT_GT(sum, 0);
  std::filesystem::remove(csv);
  std::filesystem::remove(json);
  std::filesystem::remove(tmp("replay.config.json"));
}

TEST(CsvCli, CollectiveRowsMatchTheSweep) {
  std::string csv = tmp("coll.csv");
  ASSERT_EQ(run("collective --op all_reduce --system dgx-h100 -b 1M -e 64M -f 4 --engine event --csv " + csv), 0);
  std::vector<std::string> h;
  auto rows = table(csv, &h);
  ASSERT_EQ(rows.size(), 4u);  // 1M, 4M, 16M, 64M
  EXPECT_EQ(rows[0][col(h, "bytes")], "1048576");
  EXPECT_EQ(rows[3][col(h, "bytes")], "67108864");
  EXPECT_GT(std::stod(rows[3][col(h, "busbw_gbps")]), std::stod(rows[0][col(h, "busbw_gbps")]));
  std::filesystem::remove(csv);
}

TEST(CsvCli, TrainAndValidate) {
  std::string csv = tmp("train.csv");
  ASSERT_EQ(run("train --model llama3-8b --system dgx-h100 --nodes 1 --tp 8 --micro-batch 1 --global-batch 1 --engine event --csv " + csv), 0);
  std::vector<std::string> h;
  auto rows = table(csv, &h);
  std::set<std::string> phases;
  for (auto& r : rows) phases.insert(r[col(h, "phase")]);
  EXPECT_TRUE(phases.count("layer_forward") && phases.count("layer_backward") && phases.count("head_forward")) << rows.size();
  std::string v = tmp("validate.csv");
  ASSERT_EQ(run("validate " + src("examples/bundles/mlp_fp32") + " --mode measured,roofline --quiet --csv " + v), 0);
  auto vr = table(v, &h);
  ASSERT_EQ(vr.size(), 2u);
  EXPECT_EQ(vr[0][col(h, "kind")], "step");
  EXPECT_EQ(vr[1][col(h, "mode")], "roofline");
  EXPECT_EQ(run("collective --system dgx-h100 -b 1M -e 1M --csv /nonexistent_dir/x.csv"), 1);
  std::filesystem::remove(csv);
  std::filesystem::remove(v);
}

TEST(OpCost, GatherReadsThePickedElementsNotTheWholeSource) {
  auto tensor = [](std::int64_t id, std::vector<std::int64_t> shape, std::int64_t elem) {
    EtArg a;
    a.is_tensor = true;
    a.tensor_id = id;
    a.shape = shape;
    a.numel = 1;
    for (auto d : shape) a.numel *= d;
    a.elem_bytes = elem;
    a.dtype = elem == 8 ? Dtype::UNKNOWN : Dtype::FP32;
    a.type = elem == 8 ? "Tensor(long int)" : "Tensor(float)";
    return a;
  };
  EtOp op;
  op.name = "aten::gather";
  EtArg dim;
  dim.type = "Int";
  op.inputs = {tensor(1, {50304, 1024}, 4), dim, tensor(2, {8192, 1}, 8), tensor(3, {8192, 1}, 4)};  // out=
  op.outputs = {tensor(3, {8192, 1}, 4)};
  op.out_args = {3};  // (as the ET reader finds it in the op's schema)
  OpWork w = op_work(op);
  // indices read (64 KiB) + picked elements read and written (2 x 32 KiB); not the 206 MB table.
  EXPECT_DOUBLE_EQ(w.bytes, 8192.0 * 8 + 2 * 8192.0 * 4);
  EXPECT_TRUE(w.known);
}

}  // namespace csv_test
