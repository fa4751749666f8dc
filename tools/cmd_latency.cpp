// `orrery latency`: on-device latency of one LLM request (or one batch) with its kernel
// breakdown (the same as `orrery serve --single`), or with --bundle the forward pass of a
// captured model replayed on the target accelerator.
#include <cstdio>
#include <string>
#include <vector>

#include "sim/error.h"
#include "tools/command.h"
#include "workloads/serve_forward.h"

namespace orrery::cli {
int serve_main(Args& a, bool single);  // tools/cmd_serve.cpp
std::vector<Flag> serve_flags();       // tools/cmd_serve.cpp

namespace {

int bundle_latency(Args& a) {
  if (!a.positional().empty()) throw make_error("latency", a.positional()[0], "unexpected argument");
  ReplayOptions o;
  o.bundle = a.get("--bundle");
  o.hw = a.get("--hw", "h100");
  o.source_hw = a.get("--source-hw", "h100");
  std::string mode = a.get("--mode", "roofline");
  if (mode == "roofline") o.mode = ReplayMode::Roofline;
  else if (mode == "transfer") o.mode = ReplayMode::Transfer;
  else throw make_error("--mode", mode, "expected roofline or transfer (a forward pass on other hardware)");
  if (a.has("--source-hw") && o.mode != ReplayMode::Transfer)
    throw make_error("--source-hw", a.get("--source-hw"), "is the capture's GPU for --mode transfer (roofline prices the kernels on --hw alone)");
  o.overrides = a.all("--set");
  o.engine = a.get("--engine");
  serve::ForwardLatency f = serve::forward_latency(o);
  std::printf("forward pass of %s (the kernels before the first backward op of the captured step) on %s, %s mode\n",
              o.bundle.c_str(), f.replay.hw.c_str(), mode.c_str());
  std::printf("kernels              %zu\n", f.kernels);
  std::printf("latency (CUDA graph) %.3f ms  (kernels %.3f ms + gaps %.3f ms)\n", f.graph_latency() * 1e3,
              f.device_s * 1e3, f.gaps_s * 1e3);
  std::printf("latency (eager)      %.3f ms  (host launches %.3f ms)\n", f.eager_latency() * 1e3, f.launch_bound_s * 1e3);
  std::printf("captured kernels     %.3f ms on the capture's GPU (reference, not a prediction)\n", f.captured_s * 1e3);
  std::printf("by class:");
  for (auto& [c, t] : f.by_class) std::printf(" %s %.3f ms", c.c_str(), t * 1e3);
  std::printf("\n");
  for (auto& k : f.top)
    std::printf("    %-48.48s %-11s %9.3f ms\n", k.name.c_str(), k.kernel_class.c_str(), k.simulated_s * 1e3);
  return 0;
}

Spec latency_spec() {
  Spec s;
  s.name = "latency";
  s.summary = "latency of one LLM request or batch on one device (= serve --single), or --bundle: a captured forward pass";
  s.usage = "--model NAME|FILE --hw NAME [--batch B] [--prompt N] [--output M] [serve options]\n"
            "       orrery latency --bundle DIR --hw PRESET [--mode roofline|transfer] [--source-hw h100] [--set k=v]";
  s.example = "latency --model llama3-8b --hw drive-orin --batch 1 --prompt 256 --output 64";
  s.flags = serve_flags();
  s.flags.push_back({"--bundle", "DIR", "", "", "a captured bundle: its forward pass (the kernels before the first backward op)"});
  s.flags.push_back({"--mode", "roofline|transfer", "roofline", "", "--bundle: kernel times from the cost model or transferred"});
  s.flags.push_back({"--source-hw", "NAME|FILE", "h100", "", "--bundle --mode transfer: the capture's GPU"});
  s.notes = "See docs/serving.md.";
  return s;
}

Register latency_reg(latency_spec(), [](Args& a) { return a.has("--bundle") ? bundle_latency(a) : serve_main(a, true); });
}  // namespace
}  // namespace orrery::cli
