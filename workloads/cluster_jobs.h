#pragma once
// Several jobs on one cluster (`orrery cluster JOBS.json`): each job (a training plan or a
// directory of Chakra traces) gets its GPUs; their workload graphs run together on the cluster
// executor, so their traffic shares the fabric, and each job is also run alone on the same GPUs
// to say how much the others slowed it.
//
// Job file:
//   {"system": "h100-cluster", "nodes": 16, "sys_set": ["oversubscription=2"], "engine": "event",
//    "jobs": [
//      {"name": "llama", "gpus": "0-63",
//       "train": {"model": "llama3-8b", "tp": 4, "pp": 2, "dp": 8, "micro_batch": 1,
//                 "global_batch": 32, "seq": 2048, ...every `orrery train` plan flag, with _ for -}},
//      {"name": "replay", "gpus": [64, 65, ...], "chakra": "traces/"}]}
// "gpus": a range "A-B", a list of GPU indices, or a list of ranges. Errors name the file and
// field (jobs[1].gpus: GPU 12 is already used by job 'llama').
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/executor.h"

namespace orrery {

struct JobResult {
  std::string name, kind;     // kind: "train" or "chakra"
  std::vector<int> gpus;
  double time_s = 0;          // step time with every job on the cluster
  double alone_s = 0;         // the same job alone on the same GPUs
  double slowdown() const { return alone_s > 0 ? time_s / alone_s : 1.0; }
};

struct ClusterRun {
  std::string system;
  std::vector<JobResult> jobs;
  ExecResult exec;            // the shared run
  nlohmann::json to_json() const;
};

ClusterRun run_cluster_jobs(const std::string& path);

}  // namespace orrery
