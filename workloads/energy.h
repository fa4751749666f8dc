#pragma once
// Energy and cost of what `train`, `replay` and `collective` simulate: turns each simulation's
// per-kernel activity into the power model's inputs (hw_models/power.h) and the per-step report.
#include "hw_models/power.h"
#include "workloads/collective.h"
#include "workloads/replay.h"
#include "workloads/train.h"

namespace orrery {

// Training step: every pipeline stage's kernels (compute: tensor and HBM utilisation from their
// FLOPs, bytes and time; TP/CP/EP collectives: HBM and NVLink traffic), optimizer, DP gradient
// traffic; GPU energy averaged over stages, peak = the most power-hungry kernel. Tokens =
// global batch x sequence.
EnergyInputs train_energy_inputs(const TrainResult& r, const Accelerator& hw, const PowerModel& pm);
EnergyReport train_energy(const TrainResult& r, const Accelerator& hw, const PowerModel& pm);

// Replay: the GPU energy replay computes (ReplayResult::energy_j, rank 0) and the peak over its
// kernels; GPUs = ranks x scale_dp; tokens unknown (0) unless given.
EnergyReport replay_energy(const ReplayResult& r, const Accelerator& hw, const PowerModel& pm, int gpus_per_node,
                           double tokens = 0);

// One collective on `gpus` GPUs: each GPU's NVLink carries the bus bandwidth and its HBM about
// three times that (read, receive, reduce).
EnergyReport collective_energy(const coll::CollectiveResult& r, int gpus, int gpus_per_node, const Accelerator& hw,
                               const PowerModel& pm);

}  // namespace orrery
