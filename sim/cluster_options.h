#pragma once
// What users can change about the cluster a workload runs on, shared by `train`, `replay`,
// `chakra-run` and `cluster`: stragglers (--gpu-speed), heterogeneous GPUs (--gpu-set), faults
// (--fail, --degrade), placement (--rank-map) and the symmetry switch (--no-symmetry). Resolves
// them into per-rank hardware, an edited topology and a rank -> GPU placement. Errors name the flag.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw_models/accelerator.h"
#include "sim/executor.h"
#include "topology/topology.h"

namespace orrery {

struct ClusterOptions {
  std::vector<std::string> gpu_speed;  // "RANK=FACTOR", RANK may be a range "0-7"
  std::vector<std::string> gpu_set;    // "RANK:param=value"
  std::vector<std::string> fail;       // topology element
  std::vector<std::string> degrade;    // "ELEMENT=FRACTION"
  std::string rank_map;                // JSON file: [gpu of rank 0, gpu of rank 1, ...]
  bool no_symmetry = false;
  std::vector<std::string> components;  // "TARGET=LIB.so": component model plugins
  // Anything that makes ranks or links differ: symmetry reduction is then not provable.
  bool breaks_symmetry() const {
    return !gpu_speed.empty() || !gpu_set.empty() || !fail.empty() || !degrade.empty() || !rank_map.empty() ||
           !components.empty();
  }
  nlohmann::json to_json() const;
};

// Per-rank hardware of a job of `world` ranks: the base preset, with --gpu-set overrides and
// --gpu-speed factors on the ranks they name. Owns the per-rank accelerators it makes.
class ClusterHardware {
 public:
  ClusterHardware(const std::string& preset, const std::vector<std::string>& overrides, const ClusterOptions& o,
                  int world);
  RankHardware of(int rank) const;
  const Accelerator& base() const { return *base_; }
  // Distinct accelerators (0 = base) and which one each rank uses: front ends that cost kernels
  // themselves cost once per distinct accelerator.
  const std::vector<std::unique_ptr<Accelerator>>& distinct() const { return accs_; }
  int class_of(int rank) const;

 private:
  std::vector<std::unique_ptr<Accelerator>> accs_;
  const Accelerator* base_ = nullptr;
  std::map<int, int> acc_of_rank_;
  std::map<int, double> speed_;
};

// Applies --fail / --degrade to the system's topology (errors name the flag and element).
void apply_faults(topo::System& sys, const ClusterOptions& o);
// --rank-map: rank -> GPU index of the system (a JSON array); identity when no file. Errors name
// the file and the entry (a GPU twice, a GPU the system lacks, a wrong length).
std::vector<int> load_placement(const ClusterOptions& o, int world, int gpus);
// Every group and send of `w` is connected on the (possibly failed) fabric; else one Error naming
// the partitioned ranks.
void check_connected(const wg::Workload& w, const topo::System& sys, const std::vector<int>& placement);

}  // namespace orrery
