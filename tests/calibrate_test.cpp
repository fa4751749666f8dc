// orrery calibrate: layouts, the bootstrap algorithm behind the bundled presets, bad input.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hw_models/accelerator.h"
#include "hw_models/calibrate.h"
#include "sim/error.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace calibrate_test {

using namespace orrery;

namespace {
std::string src(const std::string& rel) { return std::string(ORRERY_SOURCE_DIR) + "/" + rel; }
nlohmann::ordered_json read(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::ordered_json::parse(in);
}
std::string error_of(const CalibrateOptions& o) {
  try {
    calibrate_preset(o);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Calibrate, MergeWithinATenthOfADecade) {
  // 100 and 120 (0.08 decade) merge; 130 is within 0.1 decade of 120 (the group's last x) and merges
  // too; 1000 starts a new group.
  CurvePoints pts = {{1000, 0.9}, {100, 0.1}, {120, 0.2}, {130, 0.3}};
  auto m = merge_curve_points(pts);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_DOUBLE_EQ(m[0].first, 116.7);
  EXPECT_DOUBLE_EQ(m[0].second, 0.2);
  EXPECT_DOUBLE_EQ(m[1].first, 1000);
  EXPECT_DOUBLE_EQ(m[1].second, 0.9);
  // Rounding: y to 4 decimals.
  auto r = merge_curve_points({{10, 0.123456}});
  EXPECT_DOUBLE_EQ(r[0].second, 0.1235);
}

TEST(Calibrate, DetectsTheThreeLayouts) {
  EXPECT_EQ(detect_micro_layout(read(src("tests/data/calibrate/orrery_micro_sample.json")), "a"), MicroLayout::Orrery);
  EXPECT_EQ(detect_micro_layout(read(src("validation/data/h100/host_device_micro.json")), "b"), MicroLayout::HostDevice);
  EXPECT_EQ(detect_micro_layout(read(src("validation/data/h100/micro.json")), "c"), MicroLayout::Legacy);
  EXPECT_THROW(detect_micro_layout(read(src("tests/data/calibrate/unknown_layout.json")), "d"), Error);
}

// The bundled presets were produced by this algorithm from these files: calibrating again gives the
// same curves and host dispatch table.
TEST(Calibrate, ReproducesTheBundledH100Preset) {
  CalibrateOptions o;
  o.micro_paths = {src("validation/data/h100/host_device_micro.json"), src("validation/data/h100/micro.json")};
  o.hw = "h100";
  auto got = calibrate_preset(o);
  auto want = read(src("hw_models/presets/h100.json"));
  EXPECT_EQ(got["params"], want["params"]);
  EXPECT_EQ(got["efficiency"], want["efficiency"]);
  EXPECT_EQ(got["host"], want["host"]);
  EXPECT_EQ(got["arch"], want["arch"]);  // the architecture description is carried, not calibrated
  EXPECT_EQ(got["calibration"]["source"].size(), 2u);
  // gemm: device-side dtypes first (bf16, fp32), then legacy-only dtypes (tf32, fp16).
  std::vector<std::string> keys;
  for (auto it = got["efficiency"]["gemm"].begin(); it != got["efficiency"]["gemm"].end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"bf16", "fp32", "tf32", "fp16"}));
}

TEST(Calibrate, ReproducesTheBundledH200Preset) {
  CalibrateOptions o;
  o.micro_paths = {src("validation/data/h200/host_device_micro.json"), src("validation/data/h100/micro.json")};
  o.hw = "h200";
  auto got = calibrate_preset(o);
  auto want = read(src("hw_models/presets/h200.json"));
  EXPECT_EQ(got["efficiency"], want["efficiency"]);
  EXPECT_EQ(got["host"], want["host"]);
}

// A host table from another machine: what it measures replaces the base's, what it does not
// measure is the base's scaled by the median ratio over the entries both have (here 2x).
TEST(Calibrate, UnmeasuredHostEntriesScaleWithTheMeasuredHost) {
  std::string path = (std::filesystem::temp_directory_path() / "orrery_calibrate_host2x.json").string();
  std::ofstream(path) << R"({"host_dispatch": {"aten::mm/bf16": {"median_us": 22.54}, "aten::add/bf16": {"median_us": 15.48},
                              "aten::view/bf16": {"median_us": 4.14}}})";
  CalibrateOptions o;
  o.micro_paths = {path};
  o.hw = "h200";
  auto got = calibrate_preset(o);
  EXPECT_EQ(got["host"]["dispatch"]["aten::mm/bf16"], "22.54 us");
  EXPECT_EQ(got["host"]["dispatch"]["aten::conv2d/bf16"], "24.60 us");  // 12.30 us in the h200 preset
  EXPECT_EQ(got["host"]["dispatch"].size(), read(src("hw_models/presets/h200.json"))["host"]["dispatch"].size());
  std::remove(path.c_str());
}

TEST(Calibrate, LegacyRowsBelowThresholdAreIgnored) {
  // Legacy micro.json alone: bf16 rows below 0.1 ms (host-bound, 2048^3 and smaller) do not enter
  // the curve; the smallest kept is 128x12288x12288 (0.138 ms).
  CalibrateOptions o;
  o.micro_paths = {src("validation/data/h100/micro.json")};
  auto got = calibrate_preset(o);
  auto& bf16 = got["efficiency"]["gemm"]["bf16"];
  ASSERT_FALSE(bf16.empty());
  EXPECT_DOUBLE_EQ(bf16[0][0].get<double>(), 2.0 * 128 * 12288 * 12288);
  // Memory from large legacy copies only; host dispatch kept from the base preset.
  EXPECT_FALSE(got["efficiency"]["memory"].empty());
  auto kept = got["calibration"]["kept_from_base"];
  EXPECT_NE(std::find(kept.begin(), kept.end(), "host.dispatch"), kept.end());
}

TEST(Calibrate, OrreryLayoutGivesCurvesAndLaunchCosts) {
  CalibrateOptions o;
  o.micro_paths = {src("tests/data/calibrate/orrery_micro_sample.json")};
  o.hw = "h100";
  auto got = calibrate_preset(o);
  auto& g = got["efficiency"]["gemm"];
  ASSERT_TRUE(g.contains("fp8"));
  // fp8 4096^3 in 0.1 ms = 1374.4 TFLOP/s over 1979 TFLOP/s.
  EXPECT_NEAR(g["fp8"][0][1].get<double>(), 0.6945, 1e-4);
  EXPECT_EQ(g["bf16"].size(), 2u);
  // Dtypes not measured keep the base preset's curves, and the calibration section says so.
  EXPECT_TRUE(g.contains("tf32"));
  auto kept = got["calibration"]["kept_from_base"];
  EXPECT_NE(std::find(kept.begin(), kept.end(), "attention"), kept.end());
  EXPECT_NE(std::find(kept.begin(), kept.end(), "gemm.tf32"), kept.end());
  // Memory: x = bytes moved, y = achieved / hbm_bandwidth.
  auto& mem = got["efficiency"]["memory"];
  ASSERT_EQ(mem.size(), 3u);
  EXPECT_DOUBLE_EQ(mem[0][0].get<double>(), 2097152.0);
  EXPECT_NEAR(mem[2][1].get<double>(), 805306368.0 / 0.268e-3 / 3.35e12, 1e-4);
  // Launch: min_kernel_time = graph period - gap; launch_latency = round trip - period.
  EXPECT_EQ(got["params"]["min_kernel_time"], "0.50 us");
  EXPECT_EQ(got["params"]["kernel_gap"], "0.74 us");
  EXPECT_EQ(got["params"]["launch_latency"], "8.00 us");
  // Host link: mean of both directions over copies >= 64 MiB.
  EXPECT_EQ(got["params"]["host_link_bandwidth"], "55.4 GB/s");
  // Datasheet parameters come from the base preset.
  EXPECT_EQ(got["params"]["hbm_bandwidth"], "3.35 TB/s");

  // The written file loads as a preset.
  auto path = std::filesystem::temp_directory_path() / "orrery_calibrate_test_preset.json";
  write_preset(got, path.string());
  Accelerator a = load_accelerator(path.string());
  EXPECT_NEAR(a.p("min_kernel_time"), 0.5e-6, 1e-12);
  EXPECT_NEAR(a.gemm_efficiency(Dtype::FP8, 2.0 * 4096 * 4096 * 4096), 0.6945, 1e-4);
  std::filesystem::remove(path);
}

TEST(Calibrate, MissingFieldNamesFileAndField) {
  CalibrateOptions o;
  o.micro_paths = {src("tests/data/calibrate/missing_field.json")};
  std::string e = error_of(o);
  EXPECT_NE(e.find("missing_field.json"), std::string::npos) << e;
  EXPECT_NE(e.find("device_side.gemm[1].k"), std::string::npos) << e;
  EXPECT_NE(e.find("missing field"), std::string::npos) << e;
}

TEST(Calibrate, BadFilesAreClearErrors) {
  CalibrateOptions o;
  o.micro_paths = {src("tests/data/calibrate/unknown_layout.json")};
  EXPECT_NE(error_of(o).find("unrecognised microbenchmark layout"), std::string::npos);
  o.micro_paths = {src("tests/data/calibrate/does_not_exist.json")};
  EXPECT_NE(error_of(o).find("cannot open"), std::string::npos);
  o.micro_paths = {};
  EXPECT_FALSE(error_of(o).empty());
  o.micro_paths = {src("validation/data/h100/micro.json")};
  o.hw = "no_such_gpu";
  EXPECT_NE(error_of(o).find("unknown hardware preset"), std::string::npos);
}

// The CUDA producer (validation/cuda/orrery_micro.cu, not built without nvcc) writes every field the
// calibration reads: a guard against the two drifting apart on machines without a GPU.
TEST(Calibrate, OrreryMicroSourceWritesTheFieldsCalibrationReads) {
  std::ifstream in(src("validation/cuda/orrery_micro.cu"));
  ASSERT_TRUE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string cu = ss.str();
  for (const char* field : {"\"orrery-micro/1\"", "[\"gemm\"]", "[\"dtype\"]", "[\"m\"]", "[\"n\"]", "[\"k\"]",
                            "[\"device_ms\"]", "[\"memory\"]", "[\"kernel\"]", "[\"bytes_moved\"]", "[\"launch\"]",
                            "[\"graph_kernel_period_us\"]", "[\"kernel_gap_us\"]", "[\"round_trip_us\"]",
                            "[\"host_device\"]", "[\"bytes\"]", "\"h2d_gbps\"", "\"d2h_gbps\"", "[\"env\"]"})
    EXPECT_NE(cu.find(field), std::string::npos) << field;
}

// Found by fuzzing the microbenchmark files: a zero or negative GEMM size, a negative legacy
// median_ms (silently skipped) or a row implying 1e300 x the peak fitted a curve the preset
// loader then rejected, naming the output file instead of the row; truncated JSON printed
// nlohmann's exception tag.
TEST(Calibrate, ImplausibleRowsNameTheInputRow) {
  std::string dir = (std::filesystem::temp_directory_path() / "orrery_calib_fuzz").string();
  std::filesystem::create_directories(dir);
  auto base = read(src("validation/data/h100/host_device_micro.json"));
  auto err = [&](const nlohmann::ordered_json& j, const std::string& text = "") {
    std::string p = dir + "/micro_bad.json";
    std::ofstream(p) << (text.empty() ? j.dump() : text);
    CalibrateOptions o;
    o.micro_paths = {p};
    return error_of(o);
  };
  EXPECT_EQ(err(base), "");
  auto j = base;
  j["device_side"]["gemm"][6]["n"] = -0.001;
  std::string e = err(j);
  EXPECT_NE(e.find("micro_bad.json: device_side.gemm[6].n: must be greater than zero"), std::string::npos) << e;
  j = base;
  j["device_side"]["gemm"][2]["tflops"] = 1e300;
  e = err(j);
  EXPECT_NE(e.find("micro_bad.json: device_side.gemm[2].tflops"), std::string::npos) << e;
  auto legacy = read(src("validation/data/h100/micro.json"));
  legacy["gemm"][52]["median_ms"] = -1;
  e = err(legacy);
  EXPECT_NE(e.find("gemm[52].median_ms"), std::string::npos) << e;
  e = err(base, base.dump().substr(0, 100));
  EXPECT_NE(e.find("invalid JSON (parse error"), std::string::npos) << e;
  EXPECT_EQ(e.find("json.exception"), std::string::npos) << e;
  std::filesystem::remove_all(dir);
}

// Found by fuzz_calibrate (its input, tests/data/calibrate/fuzz_env_device_null.json): env.device
// null reached nlohmann's string conversion and terminated the process. Informative only: no error.
TEST(Calibrate, NonStringEnvDeviceNamesNoDevice) {
  CalibrateOptions o;
  o.micro_paths = {src("tests/data/calibrate/fuzz_env_device_null.json")};
  EXPECT_NO_THROW(error_of(o));
}

// device_side.sdpa rows (validation/capture/device_micro.py): the attention curve comes from the
// forward rows of one backend (cuDNN when measured), ahead of the legacy sdpa calls; a bad row
// names the file and field.
TEST(Calibrate, DeviceSideAttentionRowsWinOverLegacyCalls) {
  auto dir = std::filesystem::temp_directory_path() / ("orrery_cal_sdpa_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string f = (dir / "hdm.json").string();
  auto row = [](const char* be, const char* pass, double flops, double tflops) {
    return nlohmann::json{{"b", 1}, {"h", 1}, {"s", 1}, {"d", 64}, {"causal", true}, {"backend", be}, {"pass", pass},
                          {"device_ms", flops / (tflops * 1e9)}, {"tflops", tflops}};
  };
  nlohmann::json j = {{"device_side",
                       {{"sdpa", {row("flash", "fwd", 1e10, 300), row("cudnn", "fwd", 1e10, 400), row("cudnn", "bwd", 2.5e10, 350),
                                  row("cudnn", "fwd", 1e11, 600)}}}}};
  std::ofstream(f) << j.dump();
  CalibrateOptions o;
  o.micro_paths = {f, src("validation/data/h100/micro.json")};
  auto got = calibrate_preset(o);
  auto& att = got["efficiency"]["attention"];
  ASSERT_EQ(att.size(), 2u);  // the two cuDNN forward rows, not flash, not backward, not legacy
  EXPECT_NEAR(att[0][0].get<double>(), 1e10, 1e4);
  EXPECT_NEAR(att[0][1].get<double>(), 400e12 / 989e12, 1e-3);
  EXPECT_NEAR(att[1][1].get<double>(), 600e12 / 989e12, 1e-3);
  j["device_side"]["sdpa"][1].erase("pass");
  std::ofstream(f) << j.dump();
  o.micro_paths = {f};
  EXPECT_NE(error_of(o).find("device_side.sdpa[1].pass"), std::string::npos) << error_of(o);
  std::filesystem::remove_all(dir);
}

// A base loaded once (the fuzz harness's way) calibrates to the same preset as loading it per call,
// and stays usable for the next file.
TEST(Calibrate, BaseLoadedOnceGivesTheSamePreset) {
  CalibrateOptions o;
  o.micro_paths = {src("validation/data/h100/host_device_micro.json"), src("validation/data/h100/micro.json")};
  o.hw = "h100";
  const CalibrationBase base = load_calibration_base("h100");
  EXPECT_EQ(calibrate_preset(o, base).dump(), calibrate_preset(o).dump());
  o.micro_paths = {src("validation/data/h100/micro.json")};
  EXPECT_EQ(calibrate_preset(o, base).dump(), calibrate_preset(o).dump());
}

}  // namespace calibrate_test
