// `orrery cluster JOBS.json`: several jobs (training plans, Chakra trace directories) on one
// cluster, their traffic sharing the fabric; per job: step time together, alone, slowdown.
#include <cstdio>

#include "sim/error.h"
#include "tools/cluster_cli.h"
#include "workloads/cluster_jobs.h"
#include "workloads/json_io.h"

namespace orrery::cli {
namespace {
Spec cluster_spec() {
  Spec s;
  s.name = "cluster";
  s.summary = "several jobs on one cluster: step times together and alone (jobs file)";
  s.usage = "JOBS.json [--json out.json]";
  s.example = "cluster jobs.json --json out.json";
  s.flags = {{"--json", "FILE", "", "", "results as JSON"}};
  s.notes = "JOBS.json: {\"system\": ..., \"nodes\": N, \"jobs\": [{\"name\", \"gpus\": \"0-63\",\n"
            "           \"train\": {plan} | \"chakra\": DIR}, ...]}  (see docs/cluster.md)";
  return s;
}

Register cluster_reg(cluster_spec(), [](Args& a) {
               if (a.positional().size() != 1) throw make_error("cluster", "", "usage: orrery cluster " + cluster_spec().usage);
               ClusterRun r = run_cluster_jobs(a.positional()[0]);
               std::printf("system %s: %zu jobs\n", r.system.c_str(), r.jobs.size());
               std::printf("  %-16s %-7s %6s %12s %12s %9s\n", "job", "kind", "GPUs", "together", "alone", "slowdown");
               for (auto& j : r.jobs)
                 std::printf("  %-16s %-7s %6zu %12s %12s %8.3fx\n", j.name.c_str(), j.kind.c_str(), j.gpus.size(),
                             format_time(j.time_s).c_str(), format_time(j.alone_s).c_str(), j.slowdown());
               int world = 0;
               for (auto& j : r.jobs) world += static_cast<int>(j.gpus.size());
               print_cluster_report(r.exec, false, r.exec.ranks.size(), world);
               if (a.has("--json")) write_json_file(a.get("--json"), r.to_json());
               return 0;
});
}  // namespace
}  // namespace orrery::cli
