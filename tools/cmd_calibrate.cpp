// `orrery calibrate MICRO.json... --hw h100 -o out.json`: fits a preset's efficiency curves, host
// dispatch and launch costs from microbenchmark files (see docs/validation.md).
#include <cstdio>

#include "hw_models/accelerator.h"
#include "hw_models/calibrate.h"
#include "sim/error.h"
#include "tools/command.h"
#include "workloads/replay.h"

namespace orrery::cli {
namespace {
int run_kernel_families(const Args& a) {
  auto bundles = a.positional();
  std::string hw = a.get("--hw", "h100");
  auto fits = fit_kernel_families(bundles, hw, a.all("--set"));
  std::printf("elementwise kernel families on %s: simulated / measured kernel time (roofline, memory-bound kernels\n"
              "moving >= 4 MB, family efficiencies at 1), over %zu bundle(s)\n\n", hw.c_str(), bundles.size());
  std::printf("%-11s %8s %14s %14s   %s\n", "family", "kernels", "median ratio", "time-weighted", "fit");
  std::string sets;
  for (auto& f : fits) {
    std::string fit;
    if (f.parameter.empty()) {
      fit = "reference (the memory curve from the microbenchmarks)";
    } else if (!f.fitted) {
      fit = "too few kernels: keep " + f.parameter + " = 1";
    } else if (f.median_ratio >= 1.0) {
      // (an efficiency is a fraction of the curve: kernels as fast as the vectorized ones or faster keep 1)
      fit = "as fast as the memory curve or faster: keep " + f.parameter + " = 1";
    } else {
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s = %.2f", f.parameter.c_str(), f.median_ratio);
      fit = buf;
      std::snprintf(buf, sizeof buf, " --set %s=%.2f", f.parameter.c_str(), f.median_ratio);
      sets += buf;
    }
    std::printf("%-11s %8d %14.3f %14.3f   %s\n", f.family.c_str(), f.kernels, f.median_ratio, f.time_ratio, fit.c_str());
  }
  if (!sets.empty()) std::printf("\nuse:%s   (or put the values in the preset's params)\n", sets.c_str());
  return 0;
}

Spec calibrate_spec() {
  Spec s;
  s.name = "calibrate";
  s.summary = "fit a hardware preset's efficiency curves from microbenchmark JSON files";
  s.usage = "MICRO.json [MICRO.json...] [--hw BASE] [-o OUT.json] [--note TEXT]\n"
            "       orrery calibrate --kernel-families BUNDLE... [--hw h100] [--set NAME=VALUE]...";
  s.example = "calibrate validation/data/h100/host_device_micro.json validation/data/h100/micro.json --hw h100 -o h100.json";
  s.flags = {
      {"--hw", "NAME|FILE", "h100", "", "base preset: its datasheet parameters are kept"},
      {"-o, --output", "FILE", "", "", "output preset (default: print to stdout)"},
      {"--note", "TEXT", "", "", "note stored in the preset"},
      {"--min-gemm-ms", "MS", "0.1", "ms", "legacy GEMM rows faster than this are host-bound and skipped"},
      {"--min-sdpa-ms", "MS", "0.05", "ms", "legacy attention rows faster than this are host-bound and skipped"},
      {"--kernel-families", "", "", "", "fit unrolled_/strided_elementwise_efficiency from capture bundles' measured kernels"},
      set_flag(),
  };
  s.notes = "MICRO.json: validation/cuda orrery_micro output (\"format\": \"orrery-micro/1\"), a host_device_micro.json\n"
            "(device_side + host_dispatch) or a legacy micro.json; device-side files take priority. See docs/validation.md.";
  return s;
}

Register calibrate_reg(calibrate_spec(), [](Args& a) {
      if (a.has("--kernel-families")) return run_kernel_families(a);
      if (a.positional().empty()) throw Error("usage: orrery calibrate " + calibrate_spec().usage);
      CalibrateOptions opt;
      opt.micro_paths = a.positional();
      opt.hw = a.get("--hw");
      opt.note = a.get("--note");
      opt.min_legacy_gemm_ms = a.get_double("--min-gemm-ms", 0.1);
      if (opt.min_legacy_gemm_ms < 0) throw make_error("--min-gemm-ms", a.get("--min-gemm-ms"), "must not be negative");
      opt.min_legacy_sdpa_ms = a.get_double("--min-sdpa-ms", 0.05);
      auto preset = calibrate_preset(opt);
      std::string out = a.get("-o");
      if (out.empty()) {
        std::printf("%s\n", preset.dump(1).c_str());
        return 0;
      }
      write_preset(preset, out);
      // Check the result loads as a preset.
      Accelerator acc = load_accelerator(out);
      std::fprintf(stderr, "wrote %s (%zu gemm curves, %zu memory points, %zu host dispatch entries)\n",
                   out.c_str(), acc.gemm_eff.size(), acc.memory_eff.points.size(), acc.host_dispatch.size());
      return 0;
});
}  // namespace
}  // namespace orrery::cli
