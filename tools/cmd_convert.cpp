// `orrery convert`: write Chakra execution traces (et_def.proto) from a capture bundle or from the
// per-rank graph of a generated training step (the graph `orrery train` runs on the executor).
#include <cstdio>
#include <filesystem>

#include "sim/cluster_options.h"
#include "sim/error.h"
#include "tools/command.h"
#include "workloads/chakra.h"
#include "workloads/train.h"

namespace orrery::cli {

TrainOptions parse_train_options(const Args& a);  // tools/cmd_train.cpp
std::vector<Flag> train_flags(bool required);      // tools/cmd_train.cpp

namespace {
// The traces' file name prefix: a name inside -o's directory, never a path out of it.
std::string file_prefix(const std::string& p) {
  if (p.empty() || p == "." || p == ".." || p.find_first_of("/\\\n\r") != std::string::npos)
    throw make_error("--prefix", p, "expected a file name prefix (no '/', not '.' or '..')");
  return p;
}

Spec convert_spec() {
  Spec s;
  s.name = "convert";
  s.summary = "write Chakra execution traces (.et) from a capture bundle or a generated training step (--from-train ...)";
  s.usage = "BUNDLE -o DIR [--prefix NAME]\n       orrery convert --from-train <orrery train flags> -o DIR [--prefix NAME] [--all-ranks]";
  s.example = "convert --from-train --model gpt-22b --tp 8 --pp 2 --micro-batch 1 --global-batch 8 -o traces";
  s.flags = {{"-o, --output", "DIR", "", "", "output directory (one <prefix>.<rank>.et per rank and <prefix>.comm_groups.json)", Flag::Required},
             {"--prefix", "NAME", "", "", "trace file prefix (default: the bundle's directory name or the model's name)"},
             {"--from-train", "", "", "", "convert a generated training iteration; takes the train flags below"},
             {"--all-ranks", "", "", "", "with --from-train: one trace per GPU (default: one per pipeline stage)"}};
  for (auto& f : train_flags(false))
    if (f.names != "--timeline" && f.names != "--engine") s.flags.push_back(f);  // convert runs the event engine, no timeline
  s.notes = "BUNDLE: a PyTorch capture folder (et[.<rank>].json[.gz] + kineto[.<rank>].json[.gz]); the train flags apply\n"
            "only with --from-train (given with a bundle they are an error). See docs/chakra.md.";
  return s;
}

Register convert_reg(convert_spec(), [](Args& a) {
      std::string out = a.get("-o", a.get("--output"));
      if (out.empty()) throw make_error("-o", "", "required: output directory");
      if (!chakra_available())
        throw make_error("convert", "", "orrery was built without protobuf: Chakra traces are unavailable");
      if (a.positional().size() > 1) throw make_error("convert", a.positional()[1], "one capture bundle at a time");
      if (!a.positional().empty()) {
        if (a.has("--from-train")) throw make_error("convert", "", "give a bundle or --from-train, not both");
        std::string bundle = a.positional()[0];
        std::filesystem::path bp(bundle);
        std::string name = bp.has_filename() ? bp.filename().string() : bp.parent_path().filename().string();
        if (name.empty() || name == "." || name == "..") name = "trace";
        std::string prefix = file_prefix(a.get("--prefix", name));
        auto files = write_bundle_chakra(bundle, out, prefix);
        std::printf("wrote %zu Chakra traces from capture bundle %s to %s\n", files.size(), bundle.c_str(), out.c_str());
        for (auto& f : files) std::printf("  %s\n", f.c_str());
        return 0;
      }
      if (!a.has("--from-train"))
        throw make_error("convert", "", "nothing to convert: give a capture bundle directory or --from-train <orrery train flags>");
      TrainOptions o = parse_train_options(a);
      if (o.comm != "fabric")
        throw make_error("--comm", o.comm, "convert writes the graph the cluster executor runs (--comm fabric)");
      ModelSpec m = load_model(o.model);
      SystemSpec s = load_system_spec(o.system, o.nodes, o.sys_overrides);
      s.job_gpus = o.gpus;
      if (s.fabric.empty())
        throw make_error("--system", o.system, "has no topology description: the per-rank graph needs one");
      topo::System fabric = topo::load_system(s.fabric, s.fixed_topology ? 0 : s.nodes, s.overrides);
      apply_faults(fabric, o.cluster);
      ClusterHardware chw(s.gpu, o.hw_overrides, o.cluster, s.gpus());
      bool all = a.has("--all-ranks") || o.cluster.no_symmetry || o.cluster.breaks_symmetry();
      TrainJob job = train_job(m, s, o.plan, chw, fabric, /*symmetric=*/!all, o.check_memory);
      std::string prefix = file_prefix(a.get("--prefix", m.name));
      auto files = write_workload_chakra(job.workload, out, prefix,
                                         {ChakraAttr::make_string("model", m.name),
                                          ChakraAttr::make_string("plan", job.result.plan.to_json().dump())});
      std::printf("wrote %zu Chakra traces (%s) to %s\n", files.size(),
                  all ? "one per GPU" : "one per pipeline stage's representative rank", out.c_str());
      if (files.size() <= 64)
        for (auto& f : files) std::printf("  %s\n", f.c_str());
      EventCore core;  // the job just written, run as it is (built once)
      std::size_t simulated = job.workload.ranks.size();
      int world = job.workload.world;
      TrainResult r = execute_training_job(std::move(job), fabric, chw, o.cluster, core);
      std::printf("simulated iteration_time_s %.6f (%zu of %d ranks simulated%s on %s)\n", r.iteration_time_s, simulated,
                  world, simulated < static_cast<std::size_t>(world) ? ", symmetric replicas" : "", fabric.name.c_str());
      return 0;
});
}  // namespace
}  // namespace orrery::cli
