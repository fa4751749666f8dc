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

Register reg(
    "calibrate", "fit a hardware preset's efficiency curves from microbenchmark JSON files",
    [](const std::vector<std::string>& args) {
      Args a(args, {"--hw", "-o", "--output", "--note", "--min-gemm-ms", "--min-sdpa-ms", "--set"},
             {"--help", "--kernel-families"});
      if (a.has("--kernel-families")) return run_kernel_families(a);
      if (a.has("--help") || a.positional().empty()) {
        std::printf(
            "usage: orrery calibrate MICRO.json [MICRO.json...] --hw BASE -o OUT.json [--note TEXT]\n"
            "  MICRO.json  validation/cuda orrery_micro output (\"format\": \"orrery-micro/1\"),\n"
            "              a host_device_micro.json (device_side + host_dispatch), or a legacy micro.json;\n"
            "              device-side files take priority, legacy GEMM rows fill dtypes they lack\n"
            "  --hw        base preset (name or path): datasheet params kept (default h100)\n"
            "  -o          output preset (default: print to stdout)\n"
            "  --min-gemm-ms / --min-sdpa-ms  legacy rows faster than this are host-bound (0.1 / 0.05)\n"
            "       orrery calibrate --kernel-families BUNDLE... [--hw h100] [--set k=v]...\n"
            "  fits unrolled_/strided_elementwise_efficiency from the capture bundles' measured kernels\n");
        return a.has("--help") ? 0 : 2;
      }
      CalibrateOptions opt;
      opt.micro_paths = a.positional();
      opt.hw = a.get("--hw", "h100");
      opt.note = a.get("--note");
      opt.min_legacy_gemm_ms = a.get_double("--min-gemm-ms", 0.1);
      opt.min_legacy_sdpa_ms = a.get_double("--min-sdpa-ms", 0.05);
      auto preset = calibrate_preset(opt);
      std::string out = a.get("-o", a.get("--output"));
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
