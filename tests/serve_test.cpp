// orrery serve / latency: request parsing and generation, the step cost model's sanity
// properties (HBM bandwidth, prefill FLOPs), KV-cache preemption, disaggregation, prefix caching,
// the CLI's outputs and its one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "support/errors.h"
#include "topology/topology.h"
#include "workloads/serve.h"
#include "workloads/serve_forward.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace serve_test {

using namespace orrery;
using namespace orrery::serve;
using orrery::syn::error_of;

namespace {

std::string tmp(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the CLI; returns (exit code, stderr + stdout).
std::pair<int, std::string> cli(const std::string& args) {
  // One file per process: ctest runs the tests of this file in parallel.
  std::string out = tmp("orrery_serve_cli_out_" + std::to_string(::getpid()) + ".txt");
  int rc = std::system((std::string(ORRERY_BINARY) + " " + args + " > " + out + " 2>&1").c_str());
  return {rc, slurp(out)};
}

ServeConfig config(int tp = 1) {
  ServeConfig c;
  c.dep.tp = tp;
  c.params = serve_params().resolve(nlohmann::json::object(), "test");
  return c;
}

ServeOptions options() {
  ServeOptions o;
  o.model = "llama3-8b";
  o.hw = "h100";
  o.engine = "event";
  o.cfg = config();
  return o;
}

// Decode step time at `batch` sequences of context `ctx` on an H100 (optionally with more HBM bandwidth).
double decode_time(long batch, long ctx, const std::string& bw = "") {
  ModelSpec m = load_model("llama3-8b");
  Accelerator hw = load_accelerator("h100", bw.empty() ? std::vector<std::string>{} : std::vector<std::string>{"hbm_bandwidth=" + bw});
  ServeConfig c = config();
  CostModel cost(m, hw, c, nullptr);
  StepShape s;
  s.decodes = batch;
  s.decode_ctx_tokens = static_cast<double>(batch * ctx);
  s.logits = batch;
  return cost.step(s).time;
}

}  // namespace

TEST(ServeRequests, JsonlAndCsvTracesParse) {
  std::string j = tmp("orrery_serve_reqs.jsonl"), c = tmp("orrery_serve_reqs.csv");
  write(j, "{\"arrival\": 0.0, \"prompt_tokens\": 100, \"output_tokens\": 10}\n\n"
           "{\"arrival\": 0.5, \"prompt_tokens\": 200, \"output_tokens\": 20, \"prefix_id\": 3, \"prefix_tokens\": 64}\n");
  write(c, "arrival,prompt_tokens,output_tokens\n0,100,10\n0.5,200,20\n");
  for (auto& p : {j, c}) {
    auto r = load_requests(p);
    ASSERT_EQ(r.size(), 2u) << p;
    EXPECT_EQ(r[1].prompt, 200);
    EXPECT_EQ(r[1].output, 20);
    EXPECT_DOUBLE_EQ(r[1].arrival, 0.5);
  }
  EXPECT_EQ(load_requests(j)[1].prefix_id, 3);
  EXPECT_EQ(load_requests(j)[1].prefix_tokens, 64);
}

TEST(ServeRequests, BadTracesNameFileLineAndField) {
  std::string p = tmp("orrery_serve_bad.jsonl");
  write(p, "{\"arrival\": 1.0, \"prompt_tokens\": 100, \"output_tokens\": 10}\n{\"arrival\": 0.5, \"prompt_tokens\": 100, \"output_tokens\": 10}\n");
  std::string e = error_of([&] { load_requests(p); });
  EXPECT_NE(e.find(p + ": line 2: arrival:"), std::string::npos) << e;
  EXPECT_NE(e.find("sorted"), std::string::npos) << e;
  write(p, "{\"arrival\": 0, \"prompt_tokens\": -3, \"output_tokens\": 10}\n");
  e = error_of([&] { load_requests(p); });
  EXPECT_NE(e.find("line 1: prompt_tokens:"), std::string::npos) << e;
  write(p, "{\"arrival\": 0, \"prompt\": 3, \"output_tokens\": 10}\n");
  e = error_of([&] { load_requests(p); });
  EXPECT_NE(e.find("prompt: unknown key"), std::string::npos) << e;
}

TEST(ServeRequests, GeneratorIsDeterministicAndBurstyIsBurstier) {
  SynthSpec s;
  s.rate = 10;
  s.duration = 200;
  s.seed = 7;
  auto a = synth_requests(s), b = synth_requests(s);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].arrival, b[i].arrival);
  EXPECT_NEAR(static_cast<double>(a.size()) / 200, 10, 1.0);  // Poisson: ~2000 arrivals, sd ~45
  auto cv = [](const std::vector<Request>& r) {
    std::vector<double> g;
    for (size_t i = 1; i < r.size(); ++i) g.push_back(r[i].arrival - r[i - 1].arrival);
    double m = 0, v = 0;
    for (double x : g) m += x;
    m /= static_cast<double>(g.size());
    for (double x : g) v += (x - m) * (x - m);
    return std::sqrt(v / static_cast<double>(g.size())) / m;
  };
  EXPECT_NEAR(cv(a), 1.0, 0.1);
  s.arrivals = "bursty";
  s.cv = 3;
  auto c = synth_requests(s);
  EXPECT_GT(cv(c), 2.0);
  EXPECT_NE(error_of([&] { SynthSpec z; z.rate = 0; synth_requests(z); }).find("--rate"), std::string::npos);
  EXPECT_NE(error_of([&] { SynthSpec z; z.rate = -1; synth_requests(z); }).find("--rate"), std::string::npos);
}

// Seeds s and s + 1 start unrelated streams. The generator's counter used to start at seed x its
// increment, so seed s + 1's stream was seed s's shifted by one draw: seed 1's first prompt was
// seed 2's first gap, and bursty request counts of seeds 1..10 spread by ~1% where independent
// streams spread by tens of percent.
TEST(ServeRequests, NeighbouringSeedsGiveIndependentStreams) {
  SynthSpec s;
  s.rate = 1;
  s.num_requests = 6;
  s.lengths = "exponential";
  s.seed = 1;
  auto one = synth_requests(s);
  s.seed = 2;
  auto two = synth_requests(s);
  EXPECT_GT(std::abs(two[0].arrival - one[0].prompt / 512.0), 1e-3);  // (the shifted stream's signature)
  SynthSpec b;
  b.arrivals = "bursty";
  b.cv = 4;
  b.rate = 10;
  b.duration = 10;
  double lo = 1e18, hi = 0, sum = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    b.seed = seed;
    double n = static_cast<double>(synth_requests(b).size());
    lo = std::min(lo, n), hi = std::max(hi, n), sum += n;
  }
  EXPECT_GT((hi - lo) / (sum / 10), 0.1);
  // cv beyond the sampler's range, and bursts that put more than the cap in the window, are errors
  b.cv = 1e5;
  EXPECT_NE(error_of([&] { synth_requests(b); }).find("--cv: 100000: must be at most 30"), std::string::npos);
}

TEST(ServeRequests, PercentilesInterpolateLikeNumpy) {
  Percentiles p = percentiles({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  EXPECT_DOUBLE_EQ(p.p50, 5.5);
  EXPECT_NEAR(p.p90, 9.1, 1e-12);
  EXPECT_NEAR(p.p99, 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(p.mean, 5.5);
}

// Sanity: decode at small batch streams the weights (HBM-bound): 2x bandwidth ~ 2x faster; at a
// large batch of short contexts the GEMMs turn compute-bound and the gain shrinks.
TEST(ServeCost, DoublingHbmBandwidthSpeedsSmallBatchDecodeNearly2x) {
  double s1 = decode_time(1, 512) / decode_time(1, 512, "6.7TB/s");
  double s256 = decode_time(256, 256) / decode_time(256, 256, "6.7TB/s");
  EXPECT_GT(s1, 1.7) << s1;
  EXPECT_LT(s1, 2.01) << s1;
  EXPECT_LT(s256, 1.45) << s256;
  EXPECT_LT(s256, s1 - 0.4);
}

// Weight-only int4 reads a quarter of the bf16 bytes: small-batch decode gets much faster.
TEST(ServeCost, WeightOnlyQuantizationCutsSmallBatchDecode) {
  ModelSpec m = load_model("llama3-8b");
  Accelerator hw = load_accelerator("h100");
  ServeConfig b = config(), q = config();
  q.precision = Precision::INT4;
  StepShape s;
  s.decodes = 1;
  s.decode_ctx_tokens = 512;
  s.logits = 1;
  double tb = CostModel(m, hw, b, nullptr).step(s).time, tq = CostModel(m, hw, q, nullptr).step(s).time;
  EXPECT_GT(tb / tq, 2.0) << tb << " " << tq;
}

// Sanity: TTFT of a lone request follows the prefill FLOPs (weights x tokens + causal attention).
TEST(ServeCost, TtftGrowsWithPromptLengthAsPrefillFlops) {
  ModelSpec m = load_model("llama3-8b");
  auto flops = [&](double n) {
    double P = m.layers * (m.attention_params() + m.mlp_params_per_expert()) + m.output_params() / n;
    return 2 * n * P + 4 * m.layers * m.hidden * n * n / 2;
  };
  double prev = 0;
  long prev_n = 0;
  for (long n : {2048L, 4096L, 7936L}) {
    ServeOptions o = options();
    o.cfg.params.set("token_budget", 8192);
    std::vector<Request> one{Request{0, n, 1, -1, 0}};
    double ttft = run_serving(o, one).ttft.p50;
    if (prev > 0) {
      double ratio = ttft / prev, want = flops(static_cast<double>(n)) / flops(static_cast<double>(prev_n));
      EXPECT_NEAR(ratio / want, 1.0, 0.2) << n << ": TTFT ratio " << ratio << " FLOPs ratio " << want;
    }
    prev = ttft;
    prev_n = n;
  }
}

// A KV cache too small for every running request preempts (recompute) instead of over-admitting;
// every request still finishes, and occupancy never exceeds the cache.
TEST(ServeSim, FullKvCachePreemptsRatherThanOverAdmits) {
  for (bool swap : {false, true}) {
    ServeOptions o = options();
    o.hw_overrides = {"hbm_capacity=21GB"};  // ~1.2 GB of KV: ~9k tokens
    o.cfg.preempt_swap = swap;
    std::vector<Request> reqs;
    for (int i = 0; i < 24; ++i) reqs.push_back(Request{0.001 * i, 1500, 600, -1, 0});
    ServeResult r = run_serving(o, reqs);
    EXPECT_LT(r.memory.kv_tokens(), 24 * 2100);
    EXPECT_GT(r.preemptions, 0) << (swap ? "swap" : "recompute");
    EXPECT_LE(r.peak_kv_occupancy, 1.0);
    for (auto& q : r.requests) EXPECT_GT(q.finish, 0);
  }
}

TEST(ServeSim, ModelThatFitsAtNoBatchIsAnError) {
  ServeOptions o = options();
  o.model = "llama3-70b";
  std::string e = error_of([&] { run_serving(o, {Request{0, 10, 10, -1, 0}}); });
  EXPECT_NE(e.find("llama3-70b.json: layers: does not fit at any batch"), std::string::npos) << e;
  o.cfg.dep.tp = 4;
  o.cfg.params.set("max_batch", 8);
  EXPECT_EQ(error_of([&] { run_serving(o, {Request{0, 10, 10, -1, 0}}); }), "");
}

TEST(ServeSim, EventCoreAndSystemCGiveTheSameResult) {
  ServeOptions o = options();
  o.synth.rate = 4;
  o.synth.duration = 10;
  o.synth.lengths = "exponential";
  auto reqs = make_requests(o);
  ServeResult a = run_serving(o, reqs);
  o.engine = "systemc";
  ServeResult b = run_serving(o, reqs);
  EXPECT_EQ(a.ttft.p99, b.ttft.p99);
  EXPECT_EQ(a.tpot.p50, b.tpot.p50);
  EXPECT_EQ(a.steps, b.steps);
}

TEST(ServeSim, MoreLoadMoreLatencyAndReplicasRecover) {
  ServeOptions o = options();
  o.synth.duration = 30;
  o.synth.prompt = 1024;
  o.synth.output = 256;
  o.synth.rate = 2;
  ServeResult low = run_serving(o, make_requests(o));
  o.synth.rate = 40;
  ServeResult high = run_serving(o, make_requests(o));
  EXPECT_GT(high.tpot.p50, low.tpot.p50);
  EXPECT_GT(high.mean_batch, low.mean_batch);
  EXPECT_GT(high.output_tokens_per_s, low.output_tokens_per_s);
  o.cfg.dep.replicas = 4;
  ServeResult four = run_serving(o, make_requests(o));
  EXPECT_LT(four.tpot.p50, high.tpot.p50);
}

TEST(ServeSim, DisaggregatedPoolsTransferKvAndFinish) {
  ServeOptions o = options();
  o.cfg.dep.prefill_replicas = 1;
  o.cfg.dep.decode_replicas = 2;
  o.synth.rate = 8;
  o.synth.duration = 10;
  auto reqs = make_requests(o);
  ServeResult r = run_serving(o, reqs);
  for (auto& q : r.requests) {
    EXPECT_EQ(q.replica, 0);
    EXPECT_GE(q.decode_replica, 1);
    EXPECT_GT(q.finish, q.first_token);
  }
  // A slower fabric makes the hand-off (and so the first decode) later: TPOT includes it.
  o.sys_overrides = {"nvlink_bandwidth=1GB/s"};
  ServeResult slow = run_serving(o, reqs);
  EXPECT_GT(slow.tpot.p50, r.tpot.p50);
}

TEST(ServeSim, PrefixCachingSkipsSharedPrefill) {
  ServeOptions o = options();
  o.synth.rate = 4;
  o.synth.duration = 20;
  o.synth.prompt = 256;
  o.synth.prefix_groups = 2;
  o.synth.prefix_tokens = 2048;
  auto reqs = make_requests(o);
  ServeResult off = run_serving(o, reqs);
  o.cfg.prefix_caching = true;
  ServeResult on = run_serving(o, reqs);
  EXPECT_EQ(off.prefix_hit_tokens, 0);
  EXPECT_GT(on.prefix_hit_tokens, static_cast<long>(reqs.size()) * 1024);
  EXPECT_LT(on.ttft.p50, 0.5 * off.ttft.p50);
}

TEST(ServeSim, MoeWithExpertParallelRuns) {
  ServeOptions o = options();
  o.model = "mixtral-8x7b";
  o.cfg.dep.tp = 2;
  o.cfg.dep.ep = 2;
  o.synth.rate = 2;
  o.synth.duration = 5;
  ServeResult r = run_serving(o, make_requests(o));
  bool a2a = false;
  for (auto& k : r.decode_step.kernels) a2a |= k.name.find("ep_all_to_all") != std::string::npos;
  EXPECT_TRUE(a2a);
  EXPECT_GT(r.tpot.p50, 0);
  o.cfg.dep.ep = 3;
  EXPECT_NE(error_of([&] { run_serving(o, make_requests(o)); }).find("--ep"), std::string::npos);
}

TEST(ServeCli, AcceptanceCommandPrintsPercentilesAndJson) {
  std::string js = tmp("orrery_serve.json"), csv = tmp("orrery_serve.csv"), html = tmp("orrery_serve.html");
  auto [rc, out] = cli("serve --model llama3-8b --hw h100 --rate 5 --duration 60s --slo ttft=500ms,tpot=50ms --json " + js +
                       " --csv " + csv + " --report " + html + " --rates 2,8");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("TTFT ms"), std::string::npos);
  EXPECT_NE(out.find("p99"), std::string::npos);
  EXPECT_NE(out.find("goodput"), std::string::npos);
  nlohmann::json j = nlohmann::json::parse(slurp(js));
  for (const char* k : {"ttft_ms", "tpot_ms", "e2e_ms"})
    for (const char* q : {"p50", "p90", "p99"}) EXPECT_TRUE(j[k].contains(q)) << k << " " << q;
  EXPECT_GT(j["output_tokens_per_s"].get<double>(), 0);
  EXPECT_TRUE(std::filesystem::exists(tmp("orrery_serve.config.json")));
  EXPECT_NE(slurp(csv).find("ttft_ms"), std::string::npos);
  std::string h = slurp(html);
  EXPECT_NE(h.find("Latency vs load"), std::string::npos);
  EXPECT_NE(h.find("<svg"), std::string::npos);
}

TEST(ServeCli, BadInputsAreOneLineNamingFileAndField) {
  std::string p = tmp("orrery_serve_long.jsonl");
  write(p, "{\"arrival\": 0, \"prompt_tokens\": 9000, \"output_tokens\": 10}\n");
  auto one_line = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n') == 1; };
  auto [rc1, e1] = cli("serve --model llama3-8b --trace " + p);
  EXPECT_NE(rc1, 0);
  EXPECT_TRUE(one_line(e1)) << e1;
  EXPECT_NE(e1.find(p + ": request 1: prompt_tokens:"), std::string::npos) << e1;
  auto [rc2, e2] = cli("serve --model llama3-8b --rate 0");
  EXPECT_NE(rc2, 0);
  EXPECT_NE(e2.find("orrery serve: error: --rate: 0: must be greater than zero"), std::string::npos) << e2;
  auto [rc3, e3] = cli("serve --model llama3-8b --rate -2");
  EXPECT_NE(rc3, 0);
  EXPECT_NE(e3.find("--rate"), std::string::npos) << e3;
  auto [rc4, e4] = cli("serve --model llama3-70b --hw h100 --rate 1");
  EXPECT_NE(rc4, 0);
  EXPECT_TRUE(one_line(e4)) << e4;
  EXPECT_NE(e4.find("llama3-70b.json: layers:"), std::string::npos) << e4;
}

TEST(ServeCli, LatencyOnTheAutomotivePreset) {
  auto [rc, out] = cli("latency --model llama3-8b --hw drive-orin --precision int4 --prompt 256 --output 32 --engine event");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("time to first token"), std::string::npos) << out;
  EXPECT_NE(out.find("decode step"), std::string::npos) << out;
  Accelerator a = load_accelerator("drive-orin");
  EXPECT_NE(a.description.find("UNVALIDATED"), std::string::npos);
}

// Pipeline parallelism keeps one step in flight per stage (vLLM's virtual engines): at
// saturation two stages of a model that fits one GPU nearly double the throughput, while a
// lone request's per-token latency does not improve (its steps still pass every stage).
TEST(ServeSim, PipelineStagesOverlapSteps) {
  ServeOptions o = options();
  o.synth.rate = 1e7;
  o.synth.num_requests = 600;
  o.synth.prompt = 512;
  o.synth.output = 256;
  auto reqs = make_requests(o);
  ServeResult one = run_serving(o, reqs);
  o.cfg.dep.pp = 2;
  ServeResult two = run_serving(o, reqs);
  EXPECT_GT(two.output_tokens_per_s, 1.6 * one.output_tokens_per_s);
  std::vector<Request> lone{Request{0, 512, 64, -1, 0}};
  EXPECT_GT(run_serving(o, lone).tpot.p50, 0.95 * [&] { ServeOptions p = options(); return run_serving(p, lone).tpot.p50; }());
}

// The forward half of a captured step as one inference pass: on the capture's GPU the roofline
// replay of those kernels is close to their captured durations; on the edge preset it is slower.
TEST(ServeForward, CapturedForwardPassOnTheCaptureGpuAndOnTheEdgePreset) {
  ReplayOptions o;
  o.bundle = std::string(ORRERY_SOURCE_DIR) + "/examples/bundles/mlp_fp32";
  o.mode = ReplayMode::Roofline;
  o.engine = "event";
  ForwardLatency h = forward_latency(o);
  EXPECT_EQ(h.kernels, 20u);  // 6 x (GEMM + ReLU), then the loss and its gradient seed
  EXPECT_NEAR(h.graph_latency() / h.captured_s, 1.0, 0.1);
  auto [rc, out] = cli("latency --bundle " + o.bundle + " --hw drive-orin --engine event");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("latency (CUDA graph)"), std::string::npos) << out;
}

// A CSV trace through the CLI, disaggregated, with a Perfetto timeline: per-replica engine steps,
// batch and KV-occupancy counters, KV transfers on the decode replica.
TEST(ServeCli, CsvTraceDisaggregatedWithTimeline) {
  std::string csv = tmp("orrery_serve_trace.csv"), tl = tmp("orrery_serve_tl.json");
  write(csv, "arrival,prompt_tokens,output_tokens\n0,300,20\n0.01,600,20\n0.02,900,20\n");
  auto [rc, out] = cli("serve --model llama3-8b --trace " + csv + " --disagg 1:1 --engine event --timeline " + tl);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("disaggregated 1 prefill + 1 decode"), std::string::npos) << out;
  nlohmann::json j = nlohmann::json::parse(slurp(tl));
  const auto& ev = j.is_array() ? j : j["traceEvents"];
  std::map<std::string, int> names;
  for (auto& e : ev)
    if (e.contains("name")) names[e["name"].get<std::string>()]++;
  EXPECT_GE(names["prefill step"], 1) << ev.dump().substr(0, 400);
  EXPECT_EQ(names["kv in"], 3);
  EXPECT_GT(names["decode step"], 0);
  EXPECT_GT(names["kv_occupancy"], 0);
}

}  // namespace serve_test
