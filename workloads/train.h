#pragma once
// LLM training-iteration generator (`orrery train`): one training step of a decoder transformer
// from a model description and a parallel plan (TP/SP, PP with 1F1B or interleaved virtual
// stages, DP with ZeRO-0..3, CP, EP), costed with the calibrated accelerator model and a
// communication model, simulated as a discrete-event run with one representative rank per
// pipeline stage (all TP/CP/DP replicas of a stage behave identically absent congestion).
//
// Kernel-free core: plan validation, per-layer kernel lists (FLOPs, bytes, times), the memory
// model and the pipeline schedule are plain C++ that tests call directly.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw_models/accelerator.h"
#include "sim/cluster_options.h"
#include "sim/engine.h"
#include "sim/executor.h"
#include "sim/params.h"
#include "workloads/collective.h"
#include "workloads/models.h"

namespace orrery {

// ---------------------------------------------------------------- system
// Per-node GPU count, GPU preset and the achievable collective bandwidths the built-in
// communication model uses. Resolution of --system NAME: systems/NAME.json of the fabric
// (topology-backed: the fabric's collective model is then available), else the built-in table
// ("dgx-a100", "dgx-h100": documented public figures, see docs/training.md), else a path to
// either a fabric system JSON or {"name", "gpu", "params": {train_system_params() keys}}.
const ParamSet& train_system_params();

struct SystemSpec {
  std::string name;
  std::string source;          // "built-in" or the file
  std::string fabric;          // fabric system (systems/*.json) for the collective model, or ""
  std::string gpu = "h100";    // accelerator preset
  int gpus_per_node = 8;
  int nodes = 1;
  // A fabric of fixed size (ring, torus, dragonfly, single switch, graph): all its GPUs form one
  // "node" for the rank layout and the fabric model prices every group on the real topology.
  bool fixed_topology = false;
  std::vector<std::string> overrides;  // --sys-set on the fabric description (topo::load_system)
  int job_gpus = 0;            // --gpus: the job uses the first N GPUs (one node or fixed topology); 0 = all
  double nvlink_busbw = 0;     // NCCL ring bus bandwidth inside a node (B/s)
  double nvlink_p2p = 0;       // point-to-point bandwidth inside a node (B/s)
  double nic_bandwidth = 0;    // achieved bandwidth of one GPU's NIC (B/s)
  double coll_base_latency = 0;  // per collective
  double intra_hop_latency = 0;  // per ring step inside a node
  double inter_hop_latency = 0;  // per ring step across nodes
  int gpus() const { return gpus_per_node * nodes; }
  nlohmann::json to_json() const;
};
// The train front end's summary of --system (the fabric itself is topo::load_system's System).
// nodes = 0: the size the system describes (a fabric file's topology.nodes, else 1).
SystemSpec load_system_spec(const std::string& name_or_path, int nodes, const std::vector<std::string>& overrides = {});

// ---------------------------------------------------------------- communication model

// A communicator: `size` ranks, `per_node` of them in each node (Megatron layout).
struct CommGroup {
  int size = 1;
  int per_node = 1;
  int stride = 1;  // global-rank distance between members
  bool inter_node() const { return size > per_node; }
};

// bytes: AllReduce = buffer; AllGather = total output; ReduceScatter = total input;
// AllToAll = what one rank sends in total; SendRecv = the message.
struct CommModel {
  virtual ~CommModel() = default;
  virtual double time(coll::Op op, double bytes, const CommGroup& g) const = 0;
  virtual std::string name() const = 0;
};

// Default: alpha-beta ring model with NCCL-like achievable bus bandwidths of the system
// (NVLink busbw inside a node; min(NVLink, NIC x ranks-per-node) across nodes).
class AlphaBetaComm : public CommModel {
 public:
  explicit AlphaBetaComm(const SystemSpec& s) : s_(s) {}
  double time(coll::Op op, double bytes, const CommGroup& g) const override;
  std::string name() const override { return "alpha-beta ring (built-in)"; }

 private:
  SystemSpec s_;
};

// "builtin": AlphaBetaComm. "fabric": the fabric's NCCL-style closed-form estimate
// (workloads/collective.h collective_time_estimate on systems/<name>.json sized by --nodes).
// "auto": fabric when the system has a fabric description and Hopper GPUs (the fabric tuner is
// NCCL's SM90 model), else builtin.
std::unique_ptr<CommModel> make_comm_model(const SystemSpec& s, const std::string& which = "auto");

// ---------------------------------------------------------------- plan
enum class Recompute { None, Selective, Full };
enum class AttentionImpl { Flash, Unfused };
Recompute parse_recompute(const std::string& s);
const char* recompute_name(Recompute r);
AttentionImpl parse_attention(const std::string& s);
const char* attention_name(AttentionImpl a);

struct TrainPlan {
  int tp = 1, pp = 1, vp = 1, dp = 1, cp = 1, ep = 1;
  bool sequence_parallel = false;
  int zero = 0;
  long micro_batch = 1;
  long global_batch = 1;
  long seq = 0;                 // 0 = model's seq
  Dtype precision = Dtype::BF16;  // GEMM precision: BF16 or FP8
  // Main gradient buffer: accumulation across micro-batches, DP reduction, optimizer input.
  // FP32 is Megatron's behaviour with bf16 parameters (accumulate_allreduce_grads_in_fp32);
  // BF16 keeps gradients in the parameter precision (ZeRO paper's 2+2+12 bytes/param).
  Dtype grad_precision = Dtype::FP32;
  double grad_bytes() const { return grad_precision == Dtype::FP32 ? 4.0 : 2.0; }
  Recompute recompute = Recompute::None;
  // Full recompute of only the first N layers of each virtual stage (Megatron's
  // --recompute-method block --recompute-num-layers N); 0 = every layer.
  int recompute_layers = 0;
  // Fraction of the optimizer states (fp32 master weights, Adam's m and v) held in host memory and
  // stepped by the CPU (Megatron-core's --optimizer-cpu-offload --optimizer-offload-fraction F,
  // with --overlap-cpu-optimizer-d2h-h2d): 0 = none.
  double optimizer_offload = 0;
  // Unfused = QK^T bmm + softmax/dropout + AV bmm (Megatron 2022, the published rows);
  // Flash = one fused kernel (causal: half the score FLOPs).
  AttentionImpl attention = AttentionImpl::Flash;
  // Megatron's --account-for-embedding-in-pipeline-split / --account-for-loss-in-pipeline-split:
  // the embedding (loss and output layer) counts as one layer of the first (last) virtual stage,
  // so (layers + those) divide evenly over PP x VP and the end stages hold one layer less.
  bool embedding_in_split = false, loss_in_split = false;

  int gpus() const { return tp * pp * dp * cp; }
  long micro_batches() const { return global_batch / (micro_batch * dp); }
  nlohmann::json to_json() const;
};

// Transformer layers of virtual stage vs (chunk c of pipeline rank i is vs = c x PP + i), and of
// pipeline rank `stage` (all its chunks).
double chunk_layers(const ModelSpec& m, const TrainPlan& p, int vs);
double stage_layers(const ModelSpec& m, const TrainPlan& p, int stage);
// Layers of virtual stage vs that rerun (LayerCosts::layer_recompute) before their backward.
double recomputed_layers(const ModelSpec& m, const TrainPlan& p, int vs);
double stage_recomputed_layers(const ModelSpec& m, const TrainPlan& p, int stage);

// Validates the plan against the model and system (GPU count, divisibility, schedule
// constraints). Throws Error naming the flag and the values.
void validate_plan(const ModelSpec& m, const TrainPlan& p, const SystemSpec& s);

// Megatron rank layout (TP innermost, then CP, DP (EP inside DP), PP outermost).
struct Groups {
  CommGroup tp, cp, dp, ep, expert_dp, pp;
};
Groups make_groups(const TrainPlan& p, int gpus_per_node);

// ---------------------------------------------------------------- per-layer costs
enum class Stream { Compute, TP, CP, EP };
struct Kernel {
  std::string name;
  std::string cls;     // gemm, attention, elementwise, norm, optimizer, tp, cp, ep, pp, dp
  double flops = 0;
  double bytes = 0;    // HBM bytes (compute) or message bytes (communication)
  double time = 0;     // seconds on the critical path of the op
  coll::Op op = coll::Op::AllReduce;  // communication kernels: the collective
  bool comm() const { return cls == "tp" || cls == "cp" || cls == "ep" || cls == "pp" || cls == "dp"; }
};

struct LayerCosts {
  std::vector<Kernel> layer_fwd, layer_bwd, layer_recompute;  // one transformer layer
  std::vector<Kernel> embed_fwd, embed_bwd;                   // first virtual stage
  std::vector<Kernel> head_fwd, head_bwd;                     // last virtual stage
  double kernel_gap = 0;                                      // added per compute kernel
  static double total(const std::vector<Kernel>& ks, double gap);
};
LayerCosts layer_costs(const ModelSpec& m, const TrainPlan& p, const Accelerator& hw, const CommModel& comm,
                       const Groups& g);

// ---------------------------------------------------------------- memory
struct MemoryBreakdown {
  double params = 0;            // parameters held by this GPU (elements, before ZeRO sharding)
  double weights = 0, gradients = 0, optimizer = 0;  // bytes after ZeRO sharding (optimizer: in HBM)
  double optimizer_host = 0;    // optimizer-state bytes offloaded to host memory (not in total())
  double activations = 0;       // bytes at the peak (in-flight micro-batches)
  double transient = 0;         // logits, recomputed layer, ZeRO-3 gather buffer
  double inflight_layers = 0;   // layer activations held at the peak
  double total() const { return weights + gradients + optimizer + activations + transient; }
  nlohmann::json to_json() const;
};
// Mixed-precision Adam: 2 (bf16 weights) + grad_bytes (2 bf16 / 4 fp32 main grads) + 12 (fp32
// master, m, v) bytes/param, sharded over `dp` per ZeRO stage (1: optimizer; 2: + gradients;
// 3: + weights). grad_bytes 2 is the ZeRO paper's 16 bytes/param; 4 is Megatron's 18.
void model_state_bytes(double params, int dp, int zero, double grad_bytes, double* weights, double* grads,
                       double* optim);
// Activation bytes of one layer for one micro-batch on one GPU (Korthikanti et al. 2022,
// generalized to GQA / SwiGLU / MoE / CP); for full recompute: the stored layer input only.
double activation_bytes_per_layer(const ModelSpec& m, const TrainPlan& p);
// Micro-batches (in chunks of L/(p*v) layers) in flight at pipeline rank `stage`.
long inflight_chunks(const TrainPlan& p, int stage);
MemoryBreakdown stage_memory(const ModelSpec& m, const TrainPlan& p, int stage, long inflight_chunks_at_peak);

// ---------------------------------------------------------------- pipeline schedule
struct PipelineSpec {
  int p = 1, v = 1;
  long m = 1;
  std::vector<double> fwd_s, bwd_s;  // per virtual stage (size p*v), seconds per micro-batch
  double p2p_s = 0;                  // activation / gradient transfer between stages
  // DP (per pipeline rank): gradient reduction per chunk after its last backward (zero <= 1),
  // or per backward op (zero >= 2); ZeRO-3 parameter gathers before every op (prefetched one op
  // ahead on the DP stream); optimizer and post-step parameter all-gather.
  std::vector<double> dp_reduce_s;   // per virtual stage, per reduction
  bool reduce_every_microbatch = false;
  std::vector<double> gather_s;      // per virtual stage, before every op (ZeRO-3), else empty
  std::vector<double> optimizer_s;   // per pipeline rank
  std::vector<double> post_gather_s; // per pipeline rank (ZeRO-1/2 parameter all-gather)
  bool record = false;               // keep the executed ops for the timeline / Chakra
};

struct PipelineOp {
  int stage = 0, chunk = 0;
  long mb = 0;
  bool fwd = true;
  double start = 0, end = 0;
};
struct DpTask {
  int stage = 0, chunk = 0;
  std::string name;
  double start = 0, end = 0;
};

struct StageStats {
  double busy = 0;          // compute-stream busy time (ops)
  double compute_end = 0;   // end of the last op
  double dp_end = 0;        // end of the last DP communication before the optimizer
  double end = 0;           // stage done (after optimizer and parameter gather)
  double idle = 0;          // compute-stream idle before compute_end
  long peak_inflight = 0;   // chunks (micro-batch x virtual stage) with stored activations
};

struct PipelineRun {
  double makespan = 0;
  std::vector<StageStats> stages;
  std::vector<PipelineOp> ops;   // when record
  std::vector<DpTask> dp_tasks;  // when record
  std::uint64_t events = 0;
};
// Per-rank op order: Megatron's 1F1B (v == 1) or interleaved 1F1B (v > 1).
std::vector<PipelineOp> stage_op_order(int p, int v, long m, int stage);
PipelineRun simulate_pipeline(const PipelineSpec& spec, EventCore& core);

// ---------------------------------------------------------------- the whole run
struct TrainOptions {
  std::string model = "gpt3-175b";  // preset or path
  std::string system = "dgx-h100";  // preset or path
  int nodes = 1;
  int gpus = 0;                     // --gpus: the job's GPUs of one node / fixed topology (0: all)
  TrainPlan plan;
  std::string engine = "event";     // "systemc" (CLI) or "event"
  // "fabric" (default; "auto" is the same): every rank's schedule on the cluster executor, every
  // collective as flows on the topology. "analytical": one rank per pipeline stage with the
  // closed-form collective estimate (make_comm_model "auto"); "builtin": the alpha-beta table.
  std::string comm = "fabric";
  ClusterOptions cluster;           // stragglers, faults, placement, symmetry (fabric only)
  std::vector<std::string> hw_overrides;  // "name=value" on the GPU preset (--set)
  std::vector<std::string> sys_overrides; // "key=value" on the fabric system (--sys-set)
  std::string timeline_path;        // Chrome/Perfetto trace ("" = none)
  int timeline_links = 16;          // link-utilisation counter tracks in it (fabric; 0 = none)
  bool check_memory = true;         // reject plans that don't fit
};

struct TrainResult {
  ModelSpec model;
  SystemSpec system;
  TrainPlan plan;
  std::string gpu, comm_model;
  double iteration_time_s = 0;
  double tokens_per_s_per_gpu = 0;
  double mfu = 0;                   // model FLOPs / (time x GPUs x dense peak)
  double hfu = 0;                   // hardware FLOPs incl. recomputation
  double model_flops = 0, hardware_flops = 0;  // per iteration, whole job
  // Breakdown of the critical pipeline rank's iteration (sums to iteration_time_s).
  double compute_s = 0, tp_exposed_s = 0, cp_exposed_s = 0, ep_exposed_s = 0, pp_exposed_s = 0,
         bubble_s = 0, dp_exposed_s = 0, optimizer_s = 0;
  double bubble_fraction = 0;       // bubble / iteration
  std::vector<MemoryBreakdown> memory;  // per pipeline rank
  double peak_memory_bytes = 0;
  double hbm_capacity = 0;
  long micro_batches = 0;
  std::uint64_t sim_events = 0;
  double sim_wall_s = 0;
  LayerCosts costs;
  PipelineRun run;                  // analytical execution
  ExecResult exec;                  // fabric execution (cluster executor)
  bool symmetric = false;           // fabric: one rank simulated per pipeline stage
  int simulated_ranks = 0;
  nlohmann::json to_json() const;
};

// ---------------------------------------------------------------- per-rank workload graph
// Input of the training generator's graph (workloads/train_graph.cpp): per-layer costs (one set
// per distinct accelerator; cost_class[rank] picks it, empty = all the first), the parameters
// each virtual stage reduces over DP / expert DP, each pipeline rank's optimizer time and
// post-step gather. symmetric: one rank per pipeline stage, with every other rank's inter-node
// traffic mirrored on the fabric (node_isolated: traffic inside one NVSwitch node needs none).
struct TrainGraphInput {
  const ModelSpec& model;
  const TrainPlan& plan;
  std::vector<LayerCosts> costs;
  std::vector<int> cost_class;
  std::vector<double> dp_dense_params, dp_expert_params;
  std::vector<double> optimizer_s, post_gather_params;
  double hbm_bandwidth = 0;
  bool symmetric = false;
  int gpus_per_node = 0;
  bool node_isolated = false;
};
wg::Workload train_workload(const TrainGraphInput& in);

TrainResult run_training(const TrainOptions& opt);
// Same, with already-loaded inputs (tests).
TrainResult run_training(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p, const Accelerator& hw,
                         const CommModel& comm, EventCore& core, bool check_memory = true,
                         bool record = false);
// The training step as the per-rank workload graph for the cluster executor (validated), with
// the result's static parts (plan, memory, costs) filled in. symmetric: one rank per stage.
struct TrainJob {
  TrainResult result;
  wg::Workload workload;
};
TrainJob train_job(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p, const ClusterHardware& hw,
                   const topo::System& fabric, bool symmetric, bool check_memory = true);
// Iteration time and critical-rank breakdown of a job whose ranks are first..first+gpus-1 of `e`.
void apply_execution(TrainResult& r, const ExecResult& e, int first, const Accelerator& hw);
// Runs a job built by train_job on the cluster executor (placement, components from `cluster`):
// its result with the iteration time and breakdown (sim_wall_s: the execution alone).
TrainResult execute_training_job(TrainJob job, const topo::System& fabric, const ClusterHardware& hw,
                                 const ClusterOptions& cluster, EventCore& core, Timeline* timeline = nullptr);
// The same on the cluster executor: every rank (or one per stage with symmetry) on `fabric`
// (train_job, then execute_training_job).
TrainResult run_training_fabric(const ModelSpec& m, const SystemSpec& s, const TrainPlan& p, const ClusterHardware& hw,
                                const topo::System& fabric, const ClusterOptions& cluster, EventCore& core,
                                bool check_memory = true, Timeline* timeline = nullptr);
// Chrome/Perfetto trace: one process per representative rank, one track per stream, kernels named.
void write_train_timeline(const TrainResult& r, const std::string& path);


}  // namespace orrery
