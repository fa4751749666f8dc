// `orrery serve`: LLM serving on a cluster of replicas (latency percentiles, throughput, goodput,
// KV occupancy, energy), and `--single` on-device latency of one request or one batch.
#include <cmath>
#include <cstdio>
#include <map>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "sim/csv.h"
#include "sim/error.h"
#include "tools/command.h"
#include "workloads/json_io.h"
#include "workloads/serve.h"

namespace orrery::serve {
std::string serve_report_html(const ServeResult& main, const std::vector<std::pair<double, ServeResult>>& sweep);
}

namespace orrery::cli {

namespace {

double time_arg(const Args& a, const std::string& flag, double def) {
  if (!a.has(flag)) return def;
  std::string v = a.get(flag);
  bool bare = !v.empty() && v.find_first_not_of("0123456789.eE+-") == std::string::npos;
  return parse_quantity(bare ? v + " s" : v, Unit::Time, flag);
}

void parse_slo(const std::string& text, serve::ServeOptions& o) {
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto eq = part.find('=');
    std::string k = part.substr(0, eq), v = eq == std::string::npos ? "" : part.substr(eq + 1);
    double t = parse_quantity(v, Unit::Time, "--slo " + k);
    if (!(t > 0)) throw make_error("--slo", k, "must be greater than zero");
    if (k == "ttft") o.slo_ttft = t;
    else if (k == "tpot") o.slo_tpot = t;
    else throw make_error("--slo", k, "unknown objective (ttft, tpot)");
  }
}

void parse_deployment(const Args& a, serve::Deployment& d) {
  d.tp = static_cast<int>(a.get_int("--tp", 1));
  d.pp = static_cast<int>(a.get_int("--pp", 1));
  d.ep = static_cast<int>(a.get_int("--ep", 1));
  d.replicas = static_cast<int>(a.get_int("--replicas", a.get_int("--dp", 1)));
  if (a.has("--disagg")) {
    std::string v = a.get("--disagg");
    for (const char* f : {"--replicas", "--dp"})  // (P:D is the replica count: R would be ignored)
      if (a.has(f)) throw make_error(f, a.get(f), "--disagg P:D sets the replicas (P prefill + D decode): give one of them");
    auto colon = v.find(':');
    try {
      if (colon == std::string::npos) throw 1;
      d.prefill_replicas = std::stoi(v.substr(0, colon));
      d.decode_replicas = std::stoi(v.substr(colon + 1));
    } catch (...) {
      throw make_error("--disagg", v, "expected P:D (prefill replicas : decode replicas)");
    }
    if (d.prefill_replicas < 1 || d.decode_replicas < 1) throw make_error("--disagg", v, "both pools need at least one replica");
  }
}

void parse_scheduler(const Args& a, serve::ServeConfig& c) {
  c.precision = serve::parse_precision(a.get("--precision", "bf16"));
  std::string kv = a.get("--kv-dtype", "bf16");
  if (kv != "bf16" && kv != "fp8") throw make_error("--kv-dtype", kv, "expected bf16 or fp8");
  c.kv_dtype = kv == "fp8" ? Dtype::FP8 : Dtype::BF16;
  c.max_model_len = a.get_int("--max-model-len", 0);
  if (a.has("--max-model-len") && c.max_model_len < 1) throw make_error("--max-model-len", a.get("--max-model-len"), "must be at least 1");
  c.chunked_prefill = !a.has("--no-chunked-prefill");
  std::string pre = a.get("--preempt", "recompute");
  if (pre != "recompute" && pre != "swap") throw make_error("--preempt", pre, "expected recompute or swap");
  c.preempt_swap = pre == "swap";
  c.prefix_caching = a.has("--prefix-caching");
  c.cuda_graphs = !a.has("--no-cuda-graphs");
  c.split_k = !a.has("--no-split-k");
  c.params = serve::serve_params().resolve(nlohmann::json::object(), "serve");
  for (auto [flag, name] : {std::pair{"--max-batch", "max_batch"}, {"--token-budget", "token_budget"},
                            {"--block-size", "block_size"}, {"--gpu-mem-util", "memory_utilization"}})
    if (a.has(flag)) {
      try {
        c.params.apply_override(serve::serve_params(), std::string(name) + "=" + a.get(flag));
      } catch (const Error&) {
        throw make_error(flag, a.get(flag), "must be a number greater than zero");
      }
    }
  for (auto& s : a.all("--serve-set")) c.params.apply_override(serve::serve_params(), s, "--serve-set");
  for (auto& d : serve::serve_params().decls())
    if (d.positive && !(c.params.get(d.name) > 0)) throw make_error("--serve-set", d.name, "must be greater than zero");
  if (c.p("memory_utilization") > 1) throw make_error("--gpu-mem-util", a.get("--gpu-mem-util"), "must be at most 1");
}

void parse_requests(const Args& a, serve::ServeOptions& o) {
  o.trace = a.get("--trace");
  if (a.has("--trace"))  // (the trace's requests replace the generator: its options would do nothing)
    for (const char* f : {"--rate", "--duration", "--requests", "--arrivals", "--cv", "--lengths", "--prompt", "--output",
                          "--prefix-groups", "--prefix-len", "--seed"})
      if (a.has(f)) throw make_error(f, a.get(f), "is an option of the synthetic requests, which --trace replaces");
  serve::SynthSpec& s = o.synth;
  s.rate = a.get_double("--rate", 1);
  if (a.has("--rate") && !(s.rate > 0 && std::isfinite(s.rate)))
    throw make_error("--rate", a.get("--rate"), "must be greater than zero (and finite)");
  s.duration = time_arg(a, "--duration", 60);
  s.num_requests = a.get_int("--requests", 0);
  if (a.has("--requests") && (s.num_requests < 1 || s.num_requests > 50'000'000))
    throw make_error("--requests", a.get("--requests"), "must be between 1 and 5e7");
  // (their arrivals alone would span more than the simulator's ~104 days)
  if (a.has("--requests") && static_cast<double>(s.num_requests) / s.rate > kMaxSimSeconds)
    throw make_error("--requests", a.get("--requests"), "arrive over more than the simulator's 104 days at --rate " + a.get("--rate", "1"));
  if (a.has("--requests") && a.has("--duration"))  // (a count ends the run: the duration would do nothing)
    throw make_error("--duration", a.get("--duration"), "and --requests both end the synthetic requests: give one");
  s.arrivals = a.get("--arrivals", "poisson");
  s.cv = a.get_double("--cv", 3);
  if (a.has("--cv") && s.arrivals != "bursty")
    throw make_error("--cv", a.get("--cv"), "shapes --arrivals bursty only (Poisson gaps have a CV of 1)");
  s.lengths = a.get("--lengths", "fixed");
  s.prompt = a.get_int("--prompt", 512);
  s.output = a.get_int("--output", 128);
  s.prefix_groups = a.get_int("--prefix-groups", 0);
  s.prefix_tokens = a.get_int("--prefix-len", 0);
  if (s.prefix_groups < 0) throw make_error("--prefix-groups", a.get("--prefix-groups"), "must not be negative");
  if (s.prefix_tokens < 0) throw make_error("--prefix-len", a.get("--prefix-len"), "must not be negative");
  // (a prefix length without groups, or groups sharing an empty prefix, would share nothing)
  if (a.has("--prefix-len") && s.prefix_tokens > 0 && s.prefix_groups == 0)
    throw make_error("--prefix-len", a.get("--prefix-len"), "takes --prefix-groups G >= 1 (the requests sharing G prefixes)");
  if (s.prefix_groups > 0 && s.prefix_tokens == 0)
    throw make_error("--prefix-groups", a.get("--prefix-groups"), "takes --prefix-len L >= 1 (the shared prefix's length)");
  s.seed = static_cast<std::uint64_t>(a.get_int("--seed", 1));
}

serve::ServeOptions parse_serve_options(const Args& a) {
  serve::ServeOptions o;
  o.model = a.get("--model", "llama3-8b");
  o.hw = a.get("--hw");
  o.system = a.get("--system", "dgx-h100");
  o.nodes = static_cast<int>(a.get_int("--nodes", 0));
  if (a.has("--nodes") && o.nodes < 1) throw make_error("--nodes", a.get("--nodes"), "must be at least 1");
  o.hw_overrides = a.all("--set");
  o.sys_overrides = a.all("--sys-set");
  parse_deployment(a, o.cfg.dep);
  parse_scheduler(a, o.cfg);
  parse_requests(a, o);
  if (a.has("--slo")) parse_slo(a.get("--slo"), o);
  o.engine = a.get("--engine", "systemc");
  o.timeline_path = a.get("--timeline");
  return o;
}

void print_kernels(const char* title, const serve::StepCost& c) {
  std::map<std::string, double> by;
  for (auto& k : c.kernels) by[k.cls] += k.time;
  std::printf("%s %.3f ms (device %.3f ms%s):", title, c.time * 1e3, c.device * 1e3, c.graph ? ", CUDA graph" : ", eager");
  for (auto& [cls, t] : by) std::printf(" %s %.3f", cls.c_str(), t * 1e3);
  std::printf("\n");
}

void print_result(const serve::ServeResult& r, const serve::ServeOptions& o, size_t nreq) {
  const serve::Deployment& d = r.cfg.dep;
  std::printf("model        %s (%.1fB params, %s), KV %s\n", r.model.name.c_str(), r.model.total_params() / 1e9,
              serve::precision_name(r.cfg.precision), dtype_name(r.cfg.kv_dtype));
  std::printf("deployment   %s on %s: ", r.gpu.c_str(), r.system.c_str());
  if (d.disaggregated()) std::printf("disaggregated %d prefill + %d decode replicas", d.prefill_replicas, d.decode_replicas);
  else std::printf("%d replica(s)", d.replicas);
  std::printf(" x TP %d PP %d EP %d = %d GPUs\n", d.tp, d.pp, d.ep, d.total_replicas() * d.gpus_per_replica());
  const serve::MemoryPlan& m = r.memory;
  std::printf("memory/GPU   weights %s, activations %s, runtime %s, KV cache %s = %ld blocks x %ld = %ld tokens\n",
              format_bytes(m.weights).c_str(), format_bytes(m.activations).c_str(), format_bytes(m.runtime).c_str(),
              format_bytes(m.kv).c_str(), m.blocks, m.block_size, m.kv_tokens());
  std::printf("requests     %zu (%s)\n", nreq, o.trace.empty() ? (o.synth.arrivals + " synthetic").c_str() : o.trace.c_str());
  std::printf("             %8s %9s %9s %9s %9s\n", "", "p50", "p90", "p99", "mean");
  for (auto [n, p] : {std::pair{"TTFT ms", &r.ttft}, {"TPOT ms", &r.tpot}, {"E2E ms", &r.e2e}})
    std::printf("             %8s %9.2f %9.2f %9.2f %9.2f\n", n, p->p50 * 1e3, p->p90 * 1e3, p->p99 * 1e3, p->mean * 1e3);
  std::printf("throughput   %.1f output tokens/s, %.1f total tokens/s, %.3f requests/s (makespan %.2f s)\n",
              r.output_tokens_per_s, r.total_tokens_per_s, r.requests_per_s, r.makespan_s);
  if (o.slo_ttft > 0 || o.slo_tpot > 0)
    std::printf("goodput      %.3f requests/s meet the SLO (%.1f%% of requests)\n", r.goodput_rps, 100 * r.slo_attainment);
  std::printf("scheduler    %ld steps, mean batch %.1f, KV occupancy mean %.1f%% peak %.1f%%, %ld preemptions (%s), prefix hits %ld tokens\n",
              r.steps, r.mean_batch, 100 * r.mean_kv_occupancy, 100 * r.peak_kv_occupancy, r.preemptions,
              r.cfg.preempt_swap ? "swap" : "recompute", r.prefix_hit_tokens);
  std::printf("energy       %.1f J, %.3f J per output token\n", r.energy_j, r.energy_per_token_j);
  print_kernels("prefill step", r.prefill_step);
  print_kernels("decode step ", r.decode_step);
  std::printf("simulation   %llu events, %.3f s wall\n", static_cast<unsigned long long>(r.events), r.wall_s);
}

void print_single(const serve::ServeResult& r, long batch) {
  std::printf("single batch: %ld request(s) of %ld prompt + %ld output tokens on one %s replica (TP %d PP %d)\n", batch,
              r.requests[0].req.prompt, r.requests[0].req.output, r.gpu.c_str(), r.cfg.dep.tp, r.cfg.dep.pp);
  std::printf("time to first token  %.3f ms\n", r.ttft.max * 1e3);
  std::printf("per output token     %.3f ms (mean TPOT)\n", r.tpot.mean * 1e3);
  std::printf("end to end           %.3f ms\n", r.e2e.max * 1e3);
  std::printf("energy               %.3f J per output token\n", r.energy_per_token_j);
  for (auto [title, c] : {std::pair{"prefill step", &r.prefill_step}, {"decode step", &r.decode_step}}) {
    print_kernels(title, *c);
    std::vector<const serve::Kernel*> ks;
    for (auto& k : c->kernels) ks.push_back(&k);
    std::stable_sort(ks.begin(), ks.end(), [](const serve::Kernel* a, const serve::Kernel* b) { return a->time > b->time; });
    for (size_t i = 0; i < ks.size() && i < 8; ++i)
      std::printf("    %-34s %-11s %9.3f ms %7.1f%%\n", ks[i]->name.c_str(), ks[i]->cls.c_str(), ks[i]->time * 1e3,
                  100 * ks[i]->time / c->time);
  }
}

void write_outputs(const Args& a, const serve::ServeResult& r, const serve::ServeOptions& o) {
  if (a.has("--csv")) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (size_t i = 0; i < r.requests.size(); ++i) {
      auto& q = r.requests[i];
      rows.push_back({{"request", i}, {"arrival_s", q.req.arrival}, {"prompt_tokens", q.req.prompt},
                      {"output_tokens", q.req.output}, {"replica", q.replica}, {"decode_replica", q.decode_replica},
                      {"ttft_ms", q.ttft() * 1e3}, {"tpot_ms", q.tpot() * 1e3}, {"e2e_ms", q.e2e() * 1e3},
                      {"preemptions", q.preemptions}, {"prefix_hit_tokens", q.prefix_hit_tokens}});
    }
    write_csv_file(a.get("--csv"), rows);
  }
  if (a.has("--json")) {
    nlohmann::json cfg;
    cfg["command"] = a.raw();
    cfg["argv"] = a.argv();  // orrery rerun
    cfg["model"] = r.model.to_json();
    cfg["accelerator"] = load_accelerator(o.hw.empty() ? r.gpu : o.hw, o.hw_overrides).to_json();
    cfg["system"] = {{"name", o.system}, {"overrides", o.sys_overrides}};
    cfg["serve"] = r.cfg.params.to_json(serve::serve_params());
    cfg["scheduler"] = {{"chunked_prefill", r.cfg.chunked_prefill}, {"preempt", r.cfg.preempt_swap ? "swap" : "recompute"},
                        {"prefix_caching", r.cfg.prefix_caching}, {"cuda_graphs", r.cfg.cuda_graphs},
                        {"split_k", r.cfg.split_k}, {"max_model_len", r.cfg.max_model_len > 0 ? r.cfg.max_model_len : r.model.seq}};
    cfg["requests"] = o.trace.empty() ? nlohmann::json{{"arrivals", o.synth.arrivals}, {"rate", o.synth.rate}, {"cv", o.synth.cv},
                                                       {"duration_s", o.synth.duration}, {"requests", o.synth.num_requests},
                                                       {"lengths", o.synth.lengths}, {"prompt", o.synth.prompt},
                                                       {"output", o.synth.output}, {"prefix_groups", o.synth.prefix_groups},
                                                       {"prefix_tokens", o.synth.prefix_tokens}, {"seed", o.synth.seed}}
                                      : nlohmann::json{{"trace", o.trace}};
    cfg["slo"] = {{"ttft_s", o.slo_ttft}, {"tpot_s", o.slo_tpot}};
    cfg["engine"] = o.engine;
    write_json_file(config_path_for(a.get("--json")), cfg);
    write_json_file(a.get("--json"), r.to_json());
  }
}

std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    char* end = nullptr;
    double v = std::strtod(part.c_str(), &end);
    if (end == part.c_str() || *end || !(v > 0) || !std::isfinite(v)) throw make_error("--rates", part, "rates must be numbers > 0");
    out.push_back(v);
  }
  if (out.empty() || out.size() > 64) throw make_error("--rates", text, "expected 1 to 64 comma-separated rates");
  return out;
}

}  // namespace

// The flags of a serving run (serve and latency share them).
std::vector<Flag> serve_flags() {
  return {
      {"--model", "NAME|FILE", "llama3-8b", "", "model preset (orrery list models) or model JSON", Flag::MeaningDefault},
      {"--hw", "NAME|FILE", "", "", "GPU preset (default: the system's)"},
      system_flag(),
      nodes_flag(),
      {"--tp", "T", "1", "", "tensor-parallel degree of a replica"},
      {"--pp", "P", "1", "", "pipeline stages of a replica"},
      {"--ep", "E", "1", "", "expert-parallel degree (MoE models)"},
      {"--replicas", "R", "", "", "replicas behind the router (default 1)"},
      {"--dp", "R", "", "", "same as --replicas"},
      {"--disagg", "P:D", "", "", "disaggregated serving: prefill replicas : decode replicas"},
      {"--precision", "bf16|fp8|int8|int4", "bf16", "", "weight precision", Flag::MeaningDefault},
      {"--kv-dtype", "bf16|fp8", "bf16", "", "KV cache precision"},
      {"--max-model-len", "N", "", "tokens", "longest request (default: the model's sequence length)"},
      {"--max-batch", "N", "", "", "scheduler: sequences per batch (serve parameter max_batch)"},
      {"--token-budget", "N", "", "tokens", "scheduler: tokens per step (token_budget)"},
      {"--block-size", "N", "", "tokens", "KV cache block (block_size)"},
      {"--gpu-mem-util", "F", "", "", "fraction of HBM for weights and KV cache (memory_utilization)"},
      {"--serve-set", "NAME=VALUE", "", "", "serving parameter (see orrery describe serve)", Flag::Repeat},
      {"--no-chunked-prefill", "", "", "", "prefill whole prompts"},
      {"--preempt", "recompute|swap", "recompute", "", "what a preempted request loses"},
      {"--prefix-caching", "", "", "", "reuse the KV cache of shared prefixes"},
      {"--no-cuda-graphs", "", "", "", "eager decode steps (host launch bound)"},
      {"--no-split-k", "", "", "", "no split-K for small decode GEMMs"},
      {"--trace", "FILE", "", "", "requests from a trace (.jsonl or .csv)"},
      {"--rate", "R", "1", "requests/s", "synthetic arrival rate"},
      {"--duration", "TIME", "60", "s", "synthetic arrivals for this long"},
      {"--requests", "N", "", "", "synthetic: this many requests (instead of --duration)"},
      {"--arrivals", "poisson|bursty", "poisson", "", "synthetic arrival process"},
      {"--cv", "X", "3", "", "bursty arrivals: coefficient of variation"},
      {"--lengths", "fixed|uniform|exponential", "fixed", "", "synthetic prompt/output length distribution"},
      {"--prompt", "N", "512", "tokens", "prompt length"},
      {"--output", "N", "128", "tokens", "output length"},
      {"--prefix-groups", "G", "0", "", "synthetic: requests share G prefixes"},
      {"--prefix-len", "L", "0", "tokens", "length of the shared prefix"},
      {"--seed", "S", "1", "", "random seed"},
      {"--slo", "ttft=T,tpot=T", "", "", "service-level objectives (goodput)"},
      {"--engine", "systemc|event", "systemc", "", "event engine"},
      {"--timeline", "FILE", "", "", "Chrome/Perfetto trace of the run"},
      {"--json", "FILE", "", "", "results as JSON (writes FILE.config.json)"},
      {"--csv", "FILE", "", "", "one row per request"},
      {"--batch", "B", "", "", "--single / latency: requests in the batch (default 1)"},
      set_flag(),
      sys_set_flag(),
  };
}

int serve_main(Args& a, bool single) {
  if (!a.positional().empty()) throw make_error("serve", a.positional()[0], "unexpected argument");
  serve::ServeOptions o = parse_serve_options(a);
  if (single) {
    long b = a.get_int("--batch", 1);
    if (b < 1 || b > 50'000'000) throw make_error("--batch", a.get("--batch"), "must be from 1 to 5e7 requests");
    // (one batch, all at time 0, on one replica: the options of a request stream or of several
    // replicas would be accepted and do nothing)
    for (const char* f : {"--trace", "--disagg", "--replicas", "--dp", "--rate", "--duration", "--requests", "--arrivals",
                          "--cv", "--lengths", "--prefix-groups", "--prefix-len", "--prefix-caching", "--slo"})
      if (a.has(f)) throw make_error(f, a.get(f), "one batch on one replica (--single, latency) takes no request stream or replicas");
    o.cfg.dep.replicas = 1;
    o.breakdown_prompts = b;
    o.synth.num_requests = b;
    o.synth.rate = 1e9;  // all arrive (nearly) at once
    o.synth.lengths = "fixed";
    std::vector<serve::Request> reqs = serve::make_requests(o);
    for (auto& q : reqs) q.arrival = 0;
    serve::ServeResult r = run_serving(o, reqs);
    print_single(r, b);
    write_outputs(a, r, o);
    return 0;
  }
  std::vector<serve::Request> reqs = serve::make_requests(o);
  serve::ServeResult r = run_serving(o, reqs);
  print_result(r, o, reqs.size());
  write_outputs(a, r, o);
  if (a.has("--report")) {
    std::vector<std::pair<double, serve::ServeResult>> sweep;
    if (a.has("--rates")) {
      if (!o.trace.empty()) throw make_error("--rates", a.get("--rates"), "sweeps the synthetic generator (not with --trace)");
      for (double rate : parse_rates(a.get("--rates"))) {
        serve::ServeOptions p = o;
        p.synth.rate = rate;
        p.engine = "event";  // one SystemC simulation per process: the sweep runs on the plain event core
        p.timeline_path.clear();
        serve::ServeResult x = run_serving(p, serve::make_requests(p));
        std::printf("rate %8.3f/s  TTFT p50 %9.2f p99 %9.2f ms  TPOT p50 %7.2f p99 %7.2f ms  %9.1f tok/s\n", rate,
                    x.ttft.p50 * 1e3, x.ttft.p99 * 1e3, x.tpot.p50 * 1e3, x.tpot.p99 * 1e3, x.output_tokens_per_s);
        x.requests.clear();
        sweep.emplace_back(rate, std::move(x));
      }
    }
    write_text_file(a.get("--report"), serve::serve_report_html(r, sweep));
  }
  return 0;
}

namespace {
Spec serve_spec() {
  Spec s;
  s.name = "serve";
  s.summary = "simulate LLM serving: requests, continuous batching, paged KV cache, latency percentiles";
  s.usage = "--model NAME|FILE [--hw GPU] [--system NAME|FILE] [--tp T] [--replicas R | --disagg P:D]\n"
            "         requests: --trace FILE  or  --rate R --duration 60s|--requests N [options]\n"
            "       orrery serve --single [--batch B] --prompt N --output M ...   (= orrery latency): one batch on one replica";
  s.example = "serve --model llama3-8b --hw h100 --rate 5 --duration 60s";
  s.flags = serve_flags();
  s.flags.push_back({"--single", "", "", "", "one batch (--batch) on one replica: its latency and kernel breakdown"});
  s.flags.push_back({"--report", "FILE", "", "", "HTML report (latency vs load with --rates)"});
  s.flags.push_back({"--rates", "R1,R2,...", "", "requests/s", "--report: one run per rate (event engine)"});
  s.notes = "Models: workloads/models/*.json; docs/serving.md.";
  return s;
}
Register serve_reg(serve_spec(), [](Args& a) { return serve_main(a, a.has("--single")); });
}  // namespace
}  // namespace orrery::cli
