// Energy and cost of train / replay / collective steps (see energy.h).
#include "workloads/energy.h"

#include <algorithm>

namespace orrery {
namespace {

// SMs a collective keeps busy (NCCL channels: ~16 SMs, as replay assumes).
double comm_sm_share(const Accelerator& hw) { return std::min(1.0, 16.0 / hw.p("sm_count")); }

struct KernelPower {
  double watts = 0;  // board power while the kernel runs
  double dyn_j = 0;  // energy above idle
};

// Compute kernels: tensor utilisation from FLOPs (GEMM and attention; other kernels leave the
// tensor cores idle), HBM utilisation from bytes. Collectives: HBM ~3x and NVLink 1x the message
// bytes of a ring step (read, receive, reduce).
KernelPower kernel_power(const Kernel& k, const Accelerator& hw, const PowerModel& pm, Dtype prec) {
  KernelPower kp;
  if (k.time <= 0) return kp;
  double us = 1, uc = 0, um = 0, ul = 0;
  if (k.comm()) {
    us = comm_sm_share(hw);
    um = 3 * k.bytes / (k.time * hw.hbm_bandwidth());
    ul = k.bytes / (k.time * pm.p("gpu_link_bandwidth"));
  } else {
    if (k.cls == "gemm" || k.cls == "attention") uc = k.flops / (k.time * hw.peak_flops(prec));
    um = k.bytes / (k.time * hw.hbm_bandwidth());
  }
  kp.watts = pm.gpu_power(us, uc, um, ul);
  kp.dyn_j = (kp.watts - pm.gpu_idle_w) * k.time;
  return kp;
}

struct ListEnergy {
  double dyn_j = 0, peak_w = 0;
};
ListEnergy list_energy(const std::vector<Kernel>& ks, const Accelerator& hw, const PowerModel& pm, Dtype prec) {
  ListEnergy e;
  for (auto& k : ks) {
    KernelPower kp = kernel_power(k, hw, pm, prec);
    e.dyn_j += kp.dyn_j;
    e.peak_w = std::max(e.peak_w, kp.watts);
  }
  return e;
}

// Bytes one GPU of a stage sends over DP (x CP: the gradient-reduction group) in a step (ring:
// (n-1)/n of the buffer per pass).
double dp_bytes(const TrainPlan& p, const MemoryBreakdown& mb) {
  const int n = p.dp * p.cp;
  if (n <= 1) return 0;
  double f = static_cast<double>(n - 1) / n, m = static_cast<double>(p.micro_batches());
  double grads = mb.params * p.grad_bytes() * f * (p.zero == 0 ? 2 : 1) * (p.zero >= 2 ? m : 1);
  double gathers = p.zero == 1 || p.zero == 2 ? mb.params * 2 * f : 0;
  if (p.zero >= 3) gathers = mb.params * 2 * f * 2 * m;  // forward and backward, every micro-batch
  return grads + gathers;
}

}  // namespace

EnergyInputs train_energy_inputs(const TrainResult& r, const Accelerator& hw, const PowerModel& pm) {
  const TrainPlan& p = r.plan;
  const LayerCosts& c = r.costs;
  const double T = r.iteration_time_s, m = static_cast<double>(r.micro_batches);
  ListEnergy f = list_energy(c.layer_fwd, hw, pm, p.precision), b = list_energy(c.layer_bwd, hw, pm, p.precision),
             rc = list_energy(c.layer_recompute, hw, pm, p.precision);
  ListEnergy ef = list_energy(c.embed_fwd, hw, pm, p.precision), eb = list_energy(c.embed_bwd, hw, pm, p.precision);
  ListEnergy hf = list_energy(c.head_fwd, hw, pm, p.precision), hb = list_energy(c.head_bwd, hw, pm, p.precision);
  // Joules per byte a GPU sends over DP (overlapped with compute: the link and HBM traffic only).
  double j_per_byte = 3 * pm.p("gpu_hbm_power") / hw.hbm_bandwidth() + pm.p("gpu_link_power") / pm.p("gpu_link_bandwidth");
  EnergyInputs in;
  in.step_s = T;
  in.gpus = p.gpus();
  in.gpus_per_node = r.system.fixed_topology ? 0 : r.system.gpus_per_node;  // (a torus, ring or graph: no servers)
  in.tokens = static_cast<double>(p.global_batch) * static_cast<double>(p.seq);
  in.gpu_peak_w = std::max({f.peak_w, b.peak_w, rc.peak_w, ef.peak_w, eb.peak_w, hf.peak_w, hb.peak_w});
  double total = 0;
  for (int s = 0; s < p.pp; ++s) {
    double dyn = m * (stage_layers(r.model, p, s) * (f.dyn_j + b.dyn_j) + stage_recomputed_layers(r.model, p, s) * rc.dyn_j);
    if (s == 0) dyn += m * (ef.dyn_j + eb.dyn_j);
    if (s == p.pp - 1) dyn += m * (hf.dyn_j + hb.dyn_j);
    // Optimizer: HBM-bound passes (time of the critical stage's, about the same on every stage).
    dyn += (pm.gpu_power(1, 0, 0.9) - pm.gpu_idle_w) * r.optimizer_s;
    if (s < static_cast<int>(r.memory.size())) dyn += dp_bytes(p, r.memory[s]) * j_per_byte;
    total += std::min(pm.gpu_tdp_w * T, pm.gpu_idle_w * T + dyn);
  }
  in.gpu_energy_j = total / p.pp;
  return in;
}

EnergyReport train_energy(const TrainResult& r, const Accelerator& hw, const PowerModel& pm) {
  return energy_report(pm, train_energy_inputs(r, hw, pm));
}

EnergyReport replay_energy(const ReplayResult& r, const Accelerator& hw, const PowerModel& pm, int gpus_per_node,
                           double tokens) {
  EnergyInputs in;
  in.step_s = r.step_time_s;
  in.gpus = std::max(1, r.ranks) * std::max(1, r.scale_dp);
  in.gpus_per_node = gpus_per_node;
  in.gpu_energy_j = r.energy_j;
  in.tokens = tokens;
  for (auto& k : r.kernels) {
    if (k.simulated_s <= 0) continue;
    double uc = k.kernel_class == "gemm" || k.kernel_class == "attention" ? k.flops / (k.simulated_s * hw.peak_flops(Dtype::BF16)) : 0;
    in.gpu_peak_w = std::max(in.gpu_peak_w, pm.gpu_power(1, uc, k.bytes / (k.simulated_s * hw.hbm_bandwidth())));
  }
  return energy_report(pm, in);
}

EnergyReport collective_energy(const coll::CollectiveResult& r, int gpus, int gpus_per_node, const Accelerator& hw,
                               const PowerModel& pm) {
  EnergyInputs in;
  in.step_s = r.time_s;
  in.gpus = gpus;
  in.gpus_per_node = gpus_per_node;
  double w = pm.gpu_power(comm_sm_share(hw), 0, 3 * r.busbw / hw.hbm_bandwidth(), r.busbw / pm.p("gpu_link_bandwidth"));
  in.gpu_energy_j = w * r.time_s;
  in.gpu_peak_w = w;
  return energy_report(pm, in);
}

}  // namespace orrery
