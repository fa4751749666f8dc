// `orrery train`: one training iteration of a decoder transformer from its model and parallel plan.
#include <cstdio>
#include <fstream>
#include <limits>

#include "sim/csv.h"
#include "sim/error.h"
#include "hw_models/accelerator.h"
#include "hw_models/arch.h"
#include "tools/cluster_cli.h"
#include "tools/command.h"
#include "tools/power_options.h"
#include "workloads/energy.h"
#include "topology/topology.h"
#include "workloads/json_io.h"
#include "workloads/train.h"

namespace orrery::cli {

// The flags of a training run, shared with `orrery convert --from-train`. `required`: --model,
// --global-batch and --micro-batch are required flags of the command (train); convert checks
// them in parse_train_options when --from-train is given.
std::vector<Flag> train_flags(bool required) {
  unsigned req = required ? static_cast<unsigned>(Flag::Required) : 0u;
  std::vector<Flag> flags{
      {"--model", "NAME|FILE", "", "", "model preset (orrery list models) or model JSON", req},
      system_flag(),
      {"--nodes", "N", "", "", "nodes (default: the size the system describes; one node of a built-in NVSwitch system)"},
      {"--gpus", "N", "", "", "run on the first N GPUs of one node or fixed topology (e.g. 64 of gb200-nvl72; default: all)"},
      {"--tp", "T", "1", "", "tensor-parallel degree"},
      {"--pp", "P", "1", "", "pipeline-parallel stages"},
      {"--vp", "V", "1", "", "virtual (interleaved) pipeline chunks per stage"},
      {"--dp", "D", "1", "", "data-parallel degree"},
      {"--cp", "C", "1", "", "context-parallel degree"},
      {"--ep", "E", "1", "", "expert-parallel degree (MoE models)"},
      {"--micro-batch", "m", "", "sequences", "micro-batch size per data-parallel rank", req},
      {"--global-batch", "B", "", "sequences", "global batch (a multiple of micro-batch x DP)", req},
      {"--seq", "S", "", "tokens", "sequence length (default: the model's)"},
      {"--precision", "bf16|fp8", "bf16", "", "matmul precision", Flag::MeaningDefault},
      {"--grad-precision", "fp32|bf16", "fp32", "", "gradient reduction precision", Flag::MeaningDefault},
      {"--recompute", "none|selective|full", "none", "", "activation recomputation", Flag::MeaningDefault},
      {"--recompute-layers", "N", "", "", "with --recompute full: only the first N layers of each virtual stage (Megatron's --recompute-method block --recompute-num-layers N)"},
      {"--attention", "flash|unfused", "flash", "", "attention implementation", Flag::MeaningDefault},
      {"--sequence-parallel", "", "", "", "Megatron sequence parallelism (with TP >= 2; off at TP 1, as in Megatron-LM)"},
      {"--account-for-embedding-in-pipeline-split", "", "", "", "Megatron's: the embedding counts as a layer of the first virtual stage (uneven split)"},
      {"--account-for-loss-in-pipeline-split", "", "", "", "Megatron's: output layer and loss count as a layer of the last virtual stage"},
      {"--zero", "0|1|2|3", "0", "", "ZeRO / distributed-optimizer stage", Flag::MeaningDefault},
      {"--optimizer-offload", "F", "0", "", "fraction of the optimizer states held and stepped on the host CPU (Megatron-core's --optimizer-cpu-offload --optimizer-offload-fraction F)"},
      {"--comm", "fabric|analytical|builtin", "fabric", "", "collective model: every rank on the fabric (cluster executor) or the closed form", Flag::MeaningDefault},
      {"--engine", "systemc|event", "systemc", "", "event engine"},
      {"--no-memory-check", "", "", "", "run even when the plan does not fit in HBM"},
      {"--timeline", "FILE", "", "", "Chrome/Perfetto trace of the iteration"},
      {"--timeline-links", "N", "16", "", "link-utilisation counter tracks in the timeline (hottest links; 0: none)"},
      set_flag(),
      sys_set_flag(),
      hw_model_flag(),
  };
  for (auto& f : cluster_flags()) flags.push_back(f);
  return flags;
}

// Shared with `orrery convert --from-train`.
TrainOptions parse_train_options(const Args& a) {
  TrainOptions o;
  // Required: a run without them would silently pick a batch the user never chose.
  for (const char* f : {"--model", "--micro-batch", "--global-batch"})
    if (!a.has(f)) throw make_error(f, "", "required (see orrery train --help)");
  o.model = a.get("--model");
  o.system = a.get("--system", "dgx-h100");
  // Without --nodes: the size the system describes (a fixed topology's GPUs, a cluster file's
  // node count, one node of the built-in systems).
  o.nodes = a.get_int("--nodes", 0);
  if (a.has("--nodes") && o.nodes < 1) throw make_error("--nodes", a.get("--nodes"), "must be at least 1");
  o.gpus = a.get_int("--gpus", 0);
  if (a.has("--gpus") && o.gpus < 1) throw make_error("--gpus", a.get("--gpus"), "must be at least 1");
  TrainPlan& p = o.plan;
  // Range-checked where parsed: each count fits its destination (int), and batch sizes stay far
  // below what would overflow token counts or blow up the simulated schedule (docs/robustness.md).
  constexpr long kMaxBatch = 1L << 24;  // sequences; 16M: beyond any published global batch
  p.tp = a.get_int("--tp", 1);
  p.pp = a.get_int("--pp", 1);
  p.vp = a.get_int("--vp", 1);
  p.dp = a.get_int("--dp", 1);
  p.cp = a.get_int("--cp", 1);
  p.ep = a.get_int("--ep", 1);
  p.micro_batch = a.get_int("--micro-batch", 0L, std::numeric_limits<long>::min(), kMaxBatch);
  p.global_batch = a.get_int("--global-batch", 0L, std::numeric_limits<long>::min(), kMaxBatch);
  p.seq = a.get_int("--seq", 0L, std::numeric_limits<long>::min(), 1L << 24);
  if (a.has("--seq") && p.seq < 1) throw make_error("--seq", a.get("--seq"), "must be at least 1");
  std::string prec = a.get("--precision", "bf16");
  if (prec == "bf16") p.precision = Dtype::BF16;
  else if (prec == "fp8") p.precision = Dtype::FP8;
  else throw make_error("--precision", prec, "expected bf16 or fp8");
  std::string gp = a.get("--grad-precision", "fp32");
  if (gp == "fp32") p.grad_precision = Dtype::FP32;
  else if (gp == "bf16") p.grad_precision = Dtype::BF16;
  else throw make_error("--grad-precision", gp, "expected fp32 or bf16");
  p.recompute = parse_recompute(a.get("--recompute", "none"));
  p.recompute_layers = a.get_int("--recompute-layers", 0, 0, 1 << 20);
  if (a.has("--recompute-layers") && p.recompute_layers < 1) throw make_error("--recompute-layers", a.get("--recompute-layers"), "must be at least 1");
  p.attention = parse_attention(a.get("--attention", "flash"));
  p.sequence_parallel = a.has("--sequence-parallel");
  p.embedding_in_split = a.has("--account-for-embedding-in-pipeline-split");
  p.loss_in_split = a.has("--account-for-loss-in-pipeline-split");
  p.zero = a.get_int("--zero", 0);
  p.optimizer_offload = a.get_double("--optimizer-offload", 0, 0, 1);
  o.engine = a.get("--engine", "systemc");
  o.comm = a.get("--comm", "fabric");
  o.cluster = parse_cluster_options(a);
  o.timeline_path = a.get("--timeline");
  if (!o.timeline_path.empty()) o.timeline_links = a.get_int("--timeline-links", 16, 0, 100000);
  o.check_memory = !a.has("--no-memory-check");
  o.hw_overrides = a.all("--set");
  apply_hw_model(a.get("--hw-model"), o.hw_overrides);
  o.sys_overrides = a.all("--sys-set");
  return o;
}

namespace {

// Declared parameter sets of the train generator, registered at startup for `orrery describe`.
const bool params_registered = (model_params(), train_system_params(), true);

// " (first N layers of each chunk)"; Megatron's block method recomputes a whole chunk when N
// exceeds its layers, and the line says so.
std::string block_recompute_text(const TrainResult& r) {
  const TrainPlan& p = r.plan;
  if (!p.recompute_layers) return "";
  double most = 0;
  for (int vs = 0; vs < p.pp * p.vp; ++vs) most = std::max(most, chunk_layers(r.model, p, vs));
  std::string n = std::to_string(p.recompute_layers);
  char m[32];
  std::snprintf(m, sizeof m, "%g", most);
  if (p.recompute_layers >= most)
    return " (--recompute-layers " + n + " covers every layer of each chunk, at most " + m + ": all recomputed)";
  return " (first " + n + " layers of each chunk)";
}

void print_result(const TrainResult& r, bool check_memory, const EnergyReport& e) {
  const TrainPlan& p = r.plan;
  std::printf("model        %s (%.1fB params), seq %ld\n", r.model.name.c_str(), r.model.total_params() / 1e9, p.seq);
  std::string used = p.gpus() < r.system.gpus() ? " (the job runs on the first " + std::to_string(p.gpus()) + ")" : "";
  std::printf("system       %s: %d nodes x %d %s = %d GPUs%s; comm: %s\n", r.system.name.c_str(), r.system.nodes,
              r.system.gpus_per_node, r.gpu.c_str(), r.system.gpus(), used.c_str(), r.comm_model.c_str());
  std::string offload = p.optimizer_offload > 0 ? " (optimizer " + std::to_string(static_cast<int>(std::lround(p.optimizer_offload * 100))) + "% on the host)" : "";
  std::printf("plan         TP %d%s PP %d (vp %d) DP %d CP %d EP %d, ZeRO-%d%s, micro-batch %ld x %ld, global batch %ld, %s (grads %s), recompute %s%s, attention %s\n",
              p.tp, p.sequence_parallel ? "+SP" : "", p.pp, p.vp, p.dp, p.cp, p.ep, p.zero, offload.c_str(), p.micro_batch,
              p.micro_batches(), p.global_batch, dtype_name(p.precision), dtype_name(p.grad_precision), recompute_name(p.recompute),
              block_recompute_text(r).c_str(),
              attention_name(p.attention));
  std::printf("iteration_time_s      %.4f\n", r.iteration_time_s);
  std::printf("tokens_per_s_per_gpu  %.1f\n", r.tokens_per_s_per_gpu);
  std::printf("mfu                   %.3f  (hfu %.3f)\n", r.mfu, r.hfu);
  std::printf("breakdown (critical pipeline rank):\n");
  auto row = [&](const char* n, double v) {
    std::printf("  %-18s %9.4f s  %5.1f%%\n", n, v, 100.0 * v / r.iteration_time_s);
  };
  row("compute", r.compute_s);
  row("exposed TP comm", r.tp_exposed_s);
  if (p.cp > 1) row("exposed CP comm", r.cp_exposed_s);
  if (p.ep > 1) row("exposed EP comm", r.ep_exposed_s);
  row("exposed PP comm", r.pp_exposed_s);
  row("pipeline bubble", r.bubble_s);
  row("exposed DP comm", r.dp_exposed_s);
  row("optimizer", r.optimizer_s);
  int worst = 0;
  for (size_t i = 0; i < r.memory.size(); ++i) if (r.memory[i].total() > r.memory[worst].total()) worst = static_cast<int>(i);
  const MemoryBreakdown& w = r.memory[worst];
  std::string host = w.optimizer_host > 0 ? "; " + format_bytes(w.optimizer_host) + " of optimizer states in host memory" : "";
  std::printf("peak memory per GPU   %s (stage %d: weights %s, grads %s, optimizer %s, activations %s, transient %s) of %s%s\n",
              format_bytes(r.peak_memory_bytes).c_str(), worst, format_bytes(w.weights).c_str(),
              format_bytes(w.gradients).c_str(), format_bytes(w.optimizer).c_str(), format_bytes(w.activations).c_str(),
              format_bytes(w.transient).c_str(), format_bytes(r.hbm_capacity).c_str(), host.c_str());
  if (!check_memory)
    std::printf("memory check         skipped (--no-memory-check): the plan %s; not modelled either way: CUDA "
                "context, cuBLAS/NCCL workspaces, allocator fragmentation, fp8 weight copies\n",
                r.peak_memory_bytes > r.hbm_capacity ? "does NOT fit (it was simulated anyway)" : "fits");
  std::printf("%s", format_energy(e).c_str());
  std::printf("simulation           %llu events, %.3f s wall\n", static_cast<unsigned long long>(r.sim_events), r.sim_wall_s);
  if (r.simulated_ranks > 0) print_cluster_report(r.exec, r.symmetric, static_cast<std::size_t>(r.simulated_ranks), p.gpus());
}

Spec train_spec() {
  Spec s;
  s.name = "train";
  s.summary = "simulate one LLM training iteration from a model and a parallel plan";
  s.usage = "--model NAME|FILE --micro-batch m --global-batch B [--system NAME|FILE] [--nodes N]\n"
            "       [--tp T] [--pp P] [--vp V] [--dp D] [--cp C] [--ep E] [options]";
  s.example = "train --model gpt3-175b --system dgx-h100 --nodes 128 --tp 8 --pp 16 --dp 8 --micro-batch 1 --global-batch 1536";
  s.flags = with_power_flags(train_flags(true));
  s.flags.push_back({"--json", "FILE", "", "", "results as JSON (writes FILE.config.json: the resolved configuration)"});
  s.flags.push_back({"--csv", "FILE", "", "", "one row per kernel of a micro-batch per phase"});
  s.notes = "Defaults that change what is simulated (--system, --precision, --comm, ...) are printed in the summary\n"
            "when used. Models: workloads/models/*.json (orrery list models; docs/training.md).";
  return s;
}

Register train_reg(train_spec(), [](Args& a) {
               if (!a.positional().empty()) throw make_error("train", a.positional()[0], "unexpected argument");
               TrainOptions o = parse_train_options(a);
               power_overrides(a);  // bad prices fail before the run
               TrainResult r = run_training(o);
               Accelerator hw = load_accelerator(r.gpu, o.hw_overrides);
               PowerModel pm = power_model_from(a, hw);
               EnergyReport energy = train_energy(r, hw, pm);
               print_result(r, o.check_memory, energy);
               if (!a.defaults_used().empty()) std::printf("defaults used        %s\n", a.defaults_used().c_str());
               if (a.has("--csv")) {
                 // The kernels of one micro-batch, per phase, with their cost on the critical path.
                 nlohmann::ordered_json rows = nlohmann::ordered_json::array();
                 const LayerCosts& c = r.costs;
                 for (auto& [phase, ks] : std::vector<std::pair<const char*, const std::vector<Kernel>*>>{
                          {"embedding_forward", &c.embed_fwd}, {"layer_forward", &c.layer_fwd},
                          {"layer_recompute", &c.layer_recompute}, {"layer_backward", &c.layer_bwd},
                          {"head_forward", &c.head_fwd}, {"head_backward", &c.head_bwd}, {"embedding_backward", &c.embed_bwd}})
                   for (auto& k : *ks)
                     rows.push_back({{"phase", phase}, {"name", k.name}, {"class", k.cls}, {"flops", k.flops},
                                     {"bytes", k.bytes}, {"time_us", k.time * 1e6}});
                 write_csv_file(a.get("--csv"), rows);
               }
               if (a.has("--json")) {
                 // Resolved configuration next to the results: every input that shaped the numbers.
                 nlohmann::json cfg;
                 cfg["command"] = a.raw();
                 cfg["argv"] = a.argv();  // orrery rerun
                 cfg["model"] = r.model.to_json();
                 cfg["plan"] = r.plan.to_json();
                 cfg["system"] = r.system.to_json();
                 if (!r.system.fabric.empty())
                   cfg["fabric"] = topo::load_system(r.system.fabric, r.system.fixed_topology ? 0 : r.system.nodes,
                                                     o.sys_overrides).raw;
                 cfg["accelerator"] = hw.to_json();
                 cfg["power"] = pm.to_json();
                 cfg["comm_model"] = r.comm_model;
                 cfg["engine"] = o.engine;
                 cfg["cluster"] = o.cluster.to_json();
                 write_json_file(config_path_for(a.get("--json")), cfg);
                 std::ofstream out(a.get("--json"));
                 if (!out) throw make_error(a.get("--json"), "", "cannot write");
                 nlohmann::json j = r.to_json();
                 nlohmann::json ej = energy.to_json();
                 j["energy"] = ej;
                 for (const char* k : {"energy_j", "kwh_per_mtok", "avg_power_w", "cost_usd", "cost_usd_per_mtok"}) j[k] = ej[k];
                 out << j.dump(1) << "\n";
               }
               return 0;
             });
}  // namespace
}  // namespace orrery::cli
