// Forward-pass latency of a captured model on a target accelerator (see serve_forward.h).
#include "workloads/serve_forward.h"

#include <algorithm>

#include "hw_models/accelerator.h"
#include "sim/error.h"

namespace orrery::serve {

ForwardLatency forward_latency(const ReplayOptions& opt) {
  ForwardLatency f;
  f.replay = replay_bundle(opt);
  Accelerator hw = load_accelerator(opt.hw, opt.overrides);
  std::vector<KernelRow> fwd;
  for (const KernelRow& k : f.replay.kernels) {
    if (k.op.find("backward") != std::string::npos || k.kernel_class == "optimizer") break;
    fwd.push_back(k);
  }
  if (fwd.empty()) throw make_error(opt.bundle, "kernels", "no forward kernels before the first backward op");
  if (fwd.size() == f.replay.kernels.size())
    throw make_error(opt.bundle, "kernels", "no backward op found: cannot tell the forward pass from the rest of the capture");
  f.kernels = fwd.size();
  for (const KernelRow& k : fwd) {
    f.device_s += k.simulated_s;
    f.captured_s += k.measured_s;
    f.by_class[k.kernel_class.empty() ? "other" : k.kernel_class] += k.simulated_s;
  }
  f.gaps_s = hw.p("kernel_gap") * static_cast<double>(fwd.size());
  f.launch_bound_s = hw.p("launch_cost") * static_cast<double>(fwd.size());
  std::stable_sort(fwd.begin(), fwd.end(), [](const KernelRow& a, const KernelRow& b) { return a.simulated_s > b.simulated_s; });
  fwd.resize(std::min<std::size_t>(fwd.size(), 8));
  f.top = fwd;
  return f;
}

}  // namespace orrery::serve
