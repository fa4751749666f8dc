// orrery_micro: device-side microbenchmarks of one GPU for `orrery calibrate`.
// Writes one JSON file per run ("format": "orrery-micro/1", see docs/validation.md):
//   gemm        cuBLASLt GEMMs (bf16, fp16, fp8 e4m3 where supported, tf32, fp32): squares and
//               transformer shapes
//   memory      HBM copy, triad (a = b + s*c) and reduction (sum), 1 KiB .. several GiB per array
//   launch      empty-kernel period in a CUDA graph, device gap between kernels (%globaltimer),
//               host cost of cudaLaunchKernel and cudaGraphLaunch, launch + sync round trip
//   host_device pinned host<->device copies
// Device time: CUDA events around the replay of a CUDA graph holding `reps` back-to-back copies
// of the operation, divided by reps (no host dispatch in the measurement); median over trials.
//
// usage: orrery_micro [-o FILE] [--device N] [--quick] [--only gemm,memory,launch,host_device]
//                     [--dtypes bf16,fp16,fp8,tf32,fp32] [--max-bytes BYTES] [--trials N]
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstring>
#include <set>

#include "common.h"

namespace {

using om::J;

void check_cublas(cublasStatus_t s, const char* what, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "%s:%d: %s: cuBLAS status %d\n", file, line, what, static_cast<int>(s));
    std::exit(1);
  }
}
#define CKB(x) check_cublas((x), #x, __FILE__, __LINE__)

struct Opts {
  std::string out = "orrery_micro.json";
  int device = 0;
  bool quick = false;
  std::set<std::string> only = {"gemm", "memory", "launch", "host_device"};
  std::set<std::string> dtypes = {"bf16", "fp16", "fp8", "tf32", "fp32"};
  double max_bytes = 4.0 * (1ull << 30);  // per array
  int trials = 10;
  double target_ms = 2.0;  // device time of one timed graph
};

std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    size_t q = s.find(',', p);
    if (q == std::string::npos) q = s.size();
    if (q > p) out.insert(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

// ---- timing --------------------------------------------------------------------------------------
struct Timed {
  om::Stats ms;  // per operation (graph time / reps)
  int reps = 0;
};

// Times `body` (which enqueues one operation on the stream) as device time: a graph of `reps`
// back-to-back copies, replayed `trials` times between CUDA events. `reps` = 0 picks it so that
// one graph takes about target_ms.
template <class F>
Timed time_device(cudaStream_t s, F body, int trials, double target_ms, int reps = 0) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  if (reps <= 0) {
    body(s);  // warm-up (allocations, module loading)
    CK(cudaStreamSynchronize(s));
    CK(cudaEventRecord(e0, s));
    for (int i = 0; i < 3; ++i) body(s);
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    double one = std::max(1e-4, ms / 3.0);
    reps = static_cast<int>(std::clamp(target_ms / one, 2.0, 1000.0));
  }
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int r = 0; r < reps; ++r) body(s);
  CK(cudaStreamEndCapture(s, &g));
  CK(cudaGraphInstantiate(&ge, g, 0));
  for (int w = 0; w < 2; ++w) CK(cudaGraphLaunch(ge, s));
  CK(cudaStreamSynchronize(s));
  std::vector<double> v;
  for (int t = 0; t < trials; ++t) {
    CK(cudaEventRecord(e0, s));
    CK(cudaGraphLaunch(ge, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    v.push_back(ms / reps);
  }
  CK(cudaGraphExecDestroy(ge));
  CK(cudaGraphDestroy(g));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  return Timed{om::stats(v), reps};
}

// ---- fills -----------------------------------------------------------------------------------------
__device__ __forceinline__ float hash_unit(size_t i) {
  uint32_t x = static_cast<uint32_t>(i * 2654435761u) ^ 0x9e3779b9u;
  x ^= x >> 16;
  x *= 0x85ebca6bu;
  x ^= x >> 13;
  return (static_cast<float>(x & 0xffff) / 65535.0f - 0.5f) * 0.1f;
}
template <class T>
__device__ __forceinline__ T from_float(float x) {
  return static_cast<T>(x);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float x) {
  return __float2half(x);
}
template <>
__device__ __forceinline__ __nv_fp8_e4m3 from_float<__nv_fp8_e4m3>(float x) {
  return __nv_fp8_e4m3(x * 10.0f);
}
template <class T>
__global__ void fill_k(T* p, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    p[i] = from_float<T>(hash_unit(i));
}
template <class T>
void fill(void* p, size_t n) {
  fill_k<T><<<1024, 256>>>(static_cast<T*>(p), n);
  CK(cudaGetLastError());
}

// ---- GEMM (cuBLASLt) -------------------------------------------------------------------------------
struct GemmCase {
  std::string dtype;
  long long m, n, k;
  std::string shape;  // "square" or a transformer label
};

struct GemmTypes {
  cudaDataType_t ab, cd;
  cublasComputeType_t compute;
  size_t ab_bytes, cd_bytes;
};

bool gemm_types(const std::string& dt, GemmTypes& t) {
  if (dt == "bf16") t = {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 2, 2};
  else if (dt == "fp16") t = {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, 2, 2};
  else if (dt == "fp8") t = {CUDA_R_8F_E4M3, CUDA_R_16BF, CUBLAS_COMPUTE_32F, 1, 2};
  else if (dt == "tf32") t = {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, 4, 4};
  else if (dt == "fp32") t = {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, 4, 4};
  else return false;
  return true;
}

std::vector<GemmCase> gemm_cases(const Opts& o) {
  std::vector<GemmCase> cases;
  std::vector<long long> squares = o.quick ? std::vector<long long>{256, 1024, 4096, 8192}
                                           : std::vector<long long>{128, 256, 512, 1024, 2048, 4096, 8192, 16384};
  // Transformer shapes: (tokens x d) projections, MLP up/down, LM head, decode (small m).
  struct S {
    long long m, n, k;
    const char* label;
  };
  std::vector<S> tr = {
      {8192, 2304, 768, "gpt2-124M qkv (8k tokens)"},  {8192, 768, 768, "gpt2-124M out-proj"},
      {8192, 3072, 768, "gpt2-124M mlp up"},           {8192, 768, 3072, "gpt2-124M mlp down"},
      {8192, 50304, 768, "gpt2-124M lm head"},         {4096, 6144, 2048, "llama-1B qkv (GQA)"},
      {4096, 11264, 2048, "llama-1B gate+up"},         {4096, 2048, 5632, "llama-1B down"},
      {8192, 12288, 4096, "llama-8B qkv+o"},           {8192, 28672, 4096, "llama-8B gate+up"},
      {8192, 4096, 14336, "llama-8B down"},            {1, 4096, 4096, "decode m=1"},
      {16, 4096, 4096, "decode m=16"},                 {64, 4096, 4096, "decode m=64"},
      {128, 12288, 12288, "decode m=128"},
  };
  if (o.quick) tr = {{8192, 3072, 768, "gpt2-124M mlp up"}, {4096, 11264, 2048, "llama-1B gate+up"}, {64, 4096, 4096, "decode m=64"}};
  for (const char* dt : {"bf16", "fp16", "fp8", "tf32", "fp32"}) {
    if (!o.dtypes.count(dt)) continue;
    for (auto s : squares) {
      if (std::string(dt) == "fp32" && s > 8192) continue;  // 16384^3 fp32 takes ~0.2 s per call
      cases.push_back({dt, s, s, s, "square"});
    }
    for (auto& t : tr) cases.push_back({dt, t.m, t.n, t.k, t.label});
  }
  return cases;
}

// One GEMM D = A^T B (column-major: A is k x m, B is k x n, D is m x n): the TN layout every
// dtype supports (fp8 requires it).
bool run_gemm(cublasLtHandle_t lt, cudaStream_t s, void* ws, size_t ws_bytes, const GemmCase& c, const Opts& o, J& row,
              std::string& why) {
  GemmTypes t;
  if (!gemm_types(c.dtype, t)) {
    why = "unknown dtype";
    return false;
  }
  size_t a_n = size_t(c.k) * c.m, b_n = size_t(c.k) * c.n, d_n = size_t(c.m) * c.n;
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  if ((a_n + b_n) * t.ab_bytes + d_n * t.cd_bytes > free_b * 0.9) {
    why = "does not fit in memory";
    return false;
  }
  void *A, *B, *D;
  CK(cudaMalloc(&A, a_n * t.ab_bytes));
  CK(cudaMalloc(&B, b_n * t.ab_bytes));
  CK(cudaMalloc(&D, d_n * t.cd_bytes));
  auto fill_ab = [&](void* p, size_t n) {
    if (c.dtype == "bf16") fill<__nv_bfloat16>(p, n);
    else if (c.dtype == "fp16") fill<__half>(p, n);
    else if (c.dtype == "fp8") fill<__nv_fp8_e4m3>(p, n);
    else fill<float>(p, n);
  };
  fill_ab(A, a_n);
  fill_ab(B, b_n);
  CK(cudaMemset(D, 0, d_n * t.cd_bytes));
  CK(cudaDeviceSynchronize());

  cublasLtMatmulDesc_t op;
  CKB(cublasLtMatmulDescCreate(&op, t.compute, CUDA_R_32F));
  cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
  CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
  cublasLtMatrixLayout_t la, lb, ld;
  CKB(cublasLtMatrixLayoutCreate(&la, t.ab, c.k, c.m, c.k));
  CKB(cublasLtMatrixLayoutCreate(&lb, t.ab, c.k, c.n, c.k));
  CKB(cublasLtMatrixLayoutCreate(&ld, t.cd, c.m, c.n, c.m));
  cublasLtMatmulPreference_t pref;
  CKB(cublasLtMatmulPreferenceCreate(&pref));
  CKB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes, sizeof ws_bytes));
  cublasLtMatmulHeuristicResult_t heur{};
  int found = 0;
  cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 1, &heur, &found);
  bool ok = hs == CUBLAS_STATUS_SUCCESS && found > 0;
  if (!ok) {
    why = "no cuBLASLt algorithm for this dtype/shape on this device";
  } else {
    float alpha = 1.0f, beta = 0.0f;
    auto body = [&](cudaStream_t st) {
      CKB(cublasLtMatmul(lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &heur.algo, ws, ws_bytes, st));
    };
    Timed tm = time_device(s, body, o.trials, o.target_ms);
    double flops = 2.0 * c.m * c.n * c.k;
    row = J::object();
    row["dtype"] = c.dtype;
    row["m"] = c.m;
    row["n"] = c.n;
    row["k"] = c.k;
    row["shape"] = c.shape;
    row["api"] = "cublasLt";
    row["layout"] = "TN";
    row["device_ms"] = tm.ms.median;
    row["min_ms"] = tm.ms.min;
    row["max_ms"] = tm.ms.max;
    row["reps"] = tm.reps;
    row["trials"] = tm.ms.n;
    row["tflops"] = flops / (tm.ms.median * 1e-3) / 1e12;
  }
  cublasLtMatmulPreferenceDestroy(pref);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(op);
  CK(cudaFree(A));
  CK(cudaFree(B));
  CK(cudaFree(D));
  return ok;
}

// ---- HBM bandwidth --------------------------------------------------------------------------------
__global__ void copy_k(const float4* __restrict__ a, float4* __restrict__ b, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) b[i] = a[i];
}
__global__ void triad_k(float4* __restrict__ a, const float4* __restrict__ b, const float4* __restrict__ c, float s,
                        size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    float4 x = b[i], y = c[i];
    a[i] = make_float4(x.x + s * y.x, x.y + s * y.y, x.z + s * y.z, x.w + s * y.w);
  }
}
__global__ void reduce_k(const float4* __restrict__ a, size_t n, float* out) {
  float acc = 0;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    float4 x = a[i];
    acc += (x.x + x.y) + (x.z + x.w);
  }
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
  __shared__ float warp_sums[32];
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    acc = threadIdx.x < (blockDim.x >> 5) ? warp_sums[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, o);
    if (threadIdx.x == 0) atomicAdd(out, acc);
  }
}

J run_memory(cudaStream_t s, const Opts& o, int sms) {
  J rows = J::array();
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  double cap = std::min(o.max_bytes, free_b * 0.9 / 3.0);
  std::vector<size_t> sizes;
  for (size_t b = 1024; b <= cap; b *= (o.quick ? 16 : 4)) sizes.push_back(b);
  size_t maxb = sizes.empty() ? 0 : sizes.back();
  float *a, *b, *c, *out;
  CK(cudaMalloc(&a, maxb));
  CK(cudaMalloc(&b, maxb));
  CK(cudaMalloc(&c, maxb));
  CK(cudaMalloc(&out, sizeof(float)));
  fill<float>(a, maxb / 4);
  fill<float>(b, maxb / 4);
  fill<float>(c, maxb / 4);
  CK(cudaDeviceSynchronize());
  for (size_t bytes : sizes) {
    size_t n4 = bytes / 16;
    int threads = 256;
    int blocks = static_cast<int>(std::min<size_t>((n4 + threads - 1) / threads, size_t(sms) * 16));
    blocks = std::max(blocks, 1);
    struct K {
      const char* name;
      double moved_factor;
    };
    for (K k : {K{"copy", 2.0}, K{"triad", 3.0}, K{"reduction", 1.0}}) {
      std::string name = k.name;
      auto body = [&](cudaStream_t st) {
        if (name == "copy") copy_k<<<blocks, threads, 0, st>>>(reinterpret_cast<float4*>(a), reinterpret_cast<float4*>(b), n4);
        else if (name == "triad")
          triad_k<<<blocks, threads, 0, st>>>(reinterpret_cast<float4*>(a), reinterpret_cast<float4*>(b),
                                              reinterpret_cast<float4*>(c), 0.5f, n4);
        else reduce_k<<<blocks, threads, 0, st>>>(reinterpret_cast<float4*>(a), n4, out);
      };
      Timed tm = time_device(s, body, o.trials, o.target_ms);
      CK(cudaGetLastError());
      double moved = k.moved_factor * bytes;
      J r = J::object();
      r["kernel"] = name;
      r["bytes"] = static_cast<unsigned long long>(bytes);
      r["bytes_moved"] = moved;
      r["device_ms"] = tm.ms.median;
      r["min_ms"] = tm.ms.min;
      r["max_ms"] = tm.ms.max;
      r["reps"] = tm.reps;
      r["gbps"] = moved / (tm.ms.median * 1e-3) / 1e9;
      rows.push(r);
    }
    std::fprintf(stderr, "memory %zu B done\n", bytes);
  }
  CK(cudaFree(a));
  CK(cudaFree(b));
  CK(cudaFree(c));
  CK(cudaFree(out));
  return rows;
}

// ---- launch costs ---------------------------------------------------------------------------------
__global__ void empty_k() {}
__device__ __forceinline__ unsigned long long globaltimer() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
__global__ void stamp_k(unsigned long long* ts, int i) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    ts[2 * i] = globaltimer();
    ts[2 * i + 1] = globaltimer();
  }
}

J run_launch(cudaStream_t s, const Opts& o) {
  J l = J::object();
  const int N = 1000;
  unsigned long long* ts;
  CK(cudaMalloc(&ts, sizeof(unsigned long long) * 2 * N));
  // Graph of N stamping kernels: period (events) and device gaps (%globaltimer).
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (int i = 0; i < N; ++i) stamp_k<<<1, 32, 0, s>>>(ts, i);
  CK(cudaStreamEndCapture(s, &g));
  CK(cudaGraphInstantiate(&ge, g, 0));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  CK(cudaGraphLaunch(ge, s));
  CK(cudaStreamSynchronize(s));
  std::vector<double> period, gap, call;
  std::vector<unsigned long long> h(2 * N);
  for (int t = 0; t < o.trials; ++t) {
    CK(cudaEventRecord(e0, s));
    double c0 = om::now_us();
    CK(cudaGraphLaunch(ge, s));
    call.push_back(om::now_us() - c0);
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    period.push_back(ms * 1e3 / N);
    CK(cudaMemcpy(h.data(), ts, sizeof(unsigned long long) * 2 * N, cudaMemcpyDeviceToHost));
    double sum = 0;
    for (int i = 0; i + 1 < N; ++i) sum += static_cast<double>(h[2 * (i + 1)]) - static_cast<double>(h[2 * i + 1]);
    gap.push_back(sum / (N - 1) * 1e-3);  // ns -> us
  }
  om::Stats p = om::stats(period), gp = om::stats(gap), gc = om::stats(call);
  l["graph_kernel_period_us"] = p.median;
  l["kernel_gap_us"] = gp.median;
  l["graph_launch_call_us"] = gc.median;
  l["graph_kernels"] = N;

  // Plain launches back to back: host cost per cudaLaunchKernel and device period.
  const int M = 256;
  std::vector<double> launch_call, stream_period, rt;
  for (int t = 0; t < o.trials; ++t) {
    CK(cudaStreamSynchronize(s));
    CK(cudaEventRecord(e0, s));
    double c0 = om::now_us();
    for (int i = 0; i < M; ++i) empty_k<<<1, 32, 0, s>>>();
    launch_call.push_back((om::now_us() - c0) / M);
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    stream_period.push_back(ms * 1e3 / M);
  }
  // Round trip on an idle GPU: launch one empty kernel and wait for it.
  for (int i = 0; i < 200; ++i) {
    CK(cudaStreamSynchronize(s));
    double c0 = om::now_us();
    empty_k<<<1, 32, 0, s>>>();
    CK(cudaStreamSynchronize(s));
    rt.push_back(om::now_us() - c0);
  }
  l["launch_call_us"] = om::stats(launch_call).median;
  l["stream_kernel_period_us"] = om::stats(stream_period).median;
  l["round_trip_us"] = om::stats(rt).median;
  l["round_trip_min_us"] = om::stats(rt).min;
  CK(cudaGraphExecDestroy(ge));
  CK(cudaGraphDestroy(g));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaFree(ts));
  return l;
}

// ---- host <-> device -------------------------------------------------------------------------------
J run_host_device(cudaStream_t s, const Opts& o) {
  J rows = J::array();
  size_t maxb = std::min<size_t>(size_t(1) << 30, static_cast<size_t>(o.max_bytes));
  void *h, *d;
  CK(cudaMallocHost(&h, maxb));
  CK(cudaMalloc(&d, maxb));
  std::memset(h, 1, maxb);
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (size_t b = 4096; b <= maxb; b *= (o.quick ? 16 : 4)) {
    J r = J::object();
    r["bytes"] = static_cast<unsigned long long>(b);
    for (int dir = 0; dir < 2; ++dir) {
      std::vector<double> v;
      for (int t = 0; t < o.trials + 1; ++t) {
        CK(cudaEventRecord(e0, s));
        if (dir == 0) CK(cudaMemcpyAsync(d, h, b, cudaMemcpyHostToDevice, s));
        else CK(cudaMemcpyAsync(h, d, b, cudaMemcpyDeviceToHost, s));
        CK(cudaEventRecord(e1, s));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        if (t > 0) v.push_back(ms);
      }
      om::Stats st = om::stats(v);
      r[dir == 0 ? "h2d_ms" : "d2h_ms"] = st.median;
      r[dir == 0 ? "h2d_gbps" : "d2h_gbps"] = b / (st.median * 1e-3) / 1e9;
    }
    rows.push(r);
  }
  CK(cudaFreeHost(h));
  CK(cudaFree(d));
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  return rows;
}

void usage() {
  std::fprintf(stderr,
               "usage: orrery_micro [-o FILE] [--device N] [--quick] [--only gemm,memory,launch,host_device]\n"
               "                    [--dtypes bf16,fp16,fp8,tf32,fp32] [--max-bytes BYTES] [--trials N]\n");
}

}  // namespace

int main(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-o" || a == "--output") o.out = next();
    else if (a == "--device") o.device = std::atoi(next().c_str());
    else if (a == "--quick") o.quick = true;
    else if (a == "--only") o.only = split(next());
    else if (a == "--dtypes") o.dtypes = split(next());
    else if (a == "--max-bytes") o.max_bytes = std::atof(next().c_str());
    else if (a == "--trials") o.trials = std::max(3, std::atoi(next().c_str()));
    else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "orrery_micro: unknown option %s\n", a.c_str());
      usage();
      return 2;
    }
  }
  CK(cudaSetDevice(o.device));
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, o.device));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  J root = J::object();
  root["format"] = "orrery-micro/1";
  root["about"] =
      "orrery_micro (validation/cuda): device time = CUDA events around the replay of a CUDA graph of reps "
      "back-to-back launches, divided by reps, median over trials (no host dispatch in the timing); launch: "
      "host costs from host timers";
  J env = om::environment(o.device, argc, argv);
  int maj = 0, min = 0, pat = 0;
  cublasGetProperty(MAJOR_VERSION, &maj);
  cublasGetProperty(MINOR_VERSION, &min);
  cublasGetProperty(PATCH_LEVEL, &pat);
  env["cublas"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(pat);
  env["cublaslt"] = static_cast<unsigned long long>(cublasLtGetVersion());
  env["nccl"] = J();
  root["env"] = env;
  J method = J::object();
  method["device_timing"] = "cudaEventRecord; cudaGraphLaunch(graph of reps launches); cudaEventRecord; ms / reps";
  method["trials"] = o.trials;
  method["target_graph_ms"] = o.target_ms;
  method["gemm"] = "cublasLtMatmul, TN layout, fp32 accumulate (tf32: CUBLAS_COMPUTE_32F_FAST_TF32; fp8: e4m3 in, bf16 out), heuristic algorithm #1, 32 MiB workspace";
  method["memory"] = "float4 grid-stride kernels: copy b=a (2 x bytes moved), triad a=b+s*c (3 x), reduction sum(a) (1 x)";
  root["method"] = method;

  if (o.only.count("gemm")) {
    cublasLtHandle_t lt;
    CKB(cublasLtCreate(&lt));
    size_t ws_bytes = 32u << 20;
    void* ws;
    CK(cudaMalloc(&ws, ws_bytes));
    J rows = J::array();
    J skipped = J::array();
    bool fp8_ok = prop.major > 8 || (prop.major == 8 && prop.minor >= 9);
    for (auto& c : gemm_cases(o)) {
      if (c.dtype == "fp8" && !fp8_ok) continue;
      J row;
      std::string why;
      if (run_gemm(lt, s, ws, ws_bytes, c, o, row, why)) {
        rows.push(row);
        std::fprintf(stderr, "gemm %s %lldx%lldx%lld\n", c.dtype.c_str(), c.m, c.n, c.k);
      } else {
        J sk = J::object();
        sk["dtype"] = c.dtype;
        sk["m"] = c.m;
        sk["n"] = c.n;
        sk["k"] = c.k;
        sk["reason"] = why;
        skipped.push(sk);
      }
    }
    root["gemm"] = rows;
    if (skipped.size()) root["gemm_skipped"] = skipped;
    if (!fp8_ok) root["gemm_note"] = "fp8 skipped: needs compute capability 8.9 or newer";
    CK(cudaFree(ws));
    cublasLtDestroy(lt);
  }
  if (o.only.count("memory")) root["memory"] = run_memory(s, o, prop.multiProcessorCount);
  if (o.only.count("launch")) root["launch"] = run_launch(s, o);
  if (o.only.count("host_device")) root["host_device"] = run_host_device(s, o);
  CK(cudaStreamDestroy(s));
  om::write_file(o.out, root.dump(1) + "\n");
  std::fprintf(stderr, "wrote %s\n", o.out.c_str());
  return 0;
}
