#pragma once
// Command-line side of the cluster executor, shared by `train`, `replay` (Chakra directories)
// and `chakra-run`: the cluster what-if flags, sizing the system to the job, and the report.
#include <string>
#include <vector>

#include "sim/cluster_options.h"
#include "sim/executor.h"
#include "tools/command.h"
#include "topology/topology.h"

namespace orrery::cli {

// The cluster what-if flags (--gpu-speed, --gpu-set, --fail, --degrade, --rank-map, --no-symmetry)
// as declared flags, for the Spec of every command that takes them.
std::vector<Flag> cluster_flags();
ClusterOptions parse_cluster_options(const Args& a);
// --system NAME [--nodes N] [--sys-set ...]: a parametric NVSwitch cluster without --nodes gets
// as many nodes as `world` ranks need.
topo::System load_job_system(const Args& a, int world);
// The per-collective breakdown and hottest links, and the cluster part of --json.
void print_cluster_report(const ExecResult& r, bool symmetric, std::size_t simulated, int world);
// `orrery chakra-run DIR` (also `orrery replay DIR` of *.et files).
int run_chakra_command(const Args& a, const std::string& dir);

}  // namespace orrery::cli
