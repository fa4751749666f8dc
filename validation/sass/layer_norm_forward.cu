// Restatement, for counting instructions only (not PyTorch's code, not built by the project), of
// the shape of PyTorch's vectorized layer-norm forward (ATen layer_norm_kernel.cu
// vectorized_layer_norm_kernel): one block of 32 x 4 threads per row, 16-byte loads, a Welford
// online update per element with a reciprocal of the running count, a shuffle-down Welford combine
// over the warp, a shared-memory tree over the warps, then a second pass that normalises with
// gamma and beta and stores.
struct W { float m, s, c; };
__device__ __forceinline__ W online(float x, W a) {
  float d = x - a.m; float n = a.c + 1.f; float nm = a.m + d * (1.f / n);
  return {nm, a.s + d * (x - nm), n};
}
__device__ __forceinline__ W combine(W a, W b) {
  float d = a.m - b.m; float c = b.c + a.c; W r{0.f, 0.f, c};
  if (c > 0.f) { float k = 1.f / c; float na = b.c * k, nb = a.c * k;
    r.m = na * b.m + nb * a.m; r.s = b.s + a.s + d * d * b.c * nb; }
  return r;
}
struct alignas(16) V { float v[4]; };
__global__ void layer_norm_forward(int N, float eps, const float* __restrict__ X, const float* g, const float* b,
                       float* mean, float* rstd, float* Y) {
  extern __shared__ float sh[];
  const V* xr = reinterpret_cast<const V*>(X + blockIdx.x * N);
  int nt = blockDim.x * blockDim.y, t = threadIdx.x + threadIdx.y * blockDim.x, nv = N / 4;
  W w{0.f, 0.f, 0.f};
  for (int i = t; i < nv; i += nt) { V d = xr[i];
#pragma unroll
    for (int k = 0; k < 4; k++) w = online(d.v[k], w); }
  for (int o = 16; o > 0; o >>= 1) {
    W o2{__shfl_down_sync(0xffffffff, w.m, o), __shfl_down_sync(0xffffffff, w.s, o), __shfl_down_sync(0xffffffff, w.c, o)};
    w = combine(w, o2); }
  float* ms = sh; float* cs = sh + blockDim.y;
  for (int o = blockDim.y / 2; o > 0; o /= 2) {
    if (threadIdx.x == 0 && threadIdx.y >= o && threadIdx.y < 2 * o) { int y = threadIdx.y - o;
      ms[2 * y] = w.m; ms[2 * y + 1] = w.s; cs[y] = w.c; }
    __syncthreads();
    if (threadIdx.x == 0 && threadIdx.y < o) { W o2{ms[2 * threadIdx.y], ms[2 * threadIdx.y + 1], cs[threadIdx.y]}; w = combine(w, o2); }
    __syncthreads();
  }
  if (threadIdx.x == 0 && threadIdx.y == 0) { ms[0] = w.m; ms[1] = w.s / float(N); }
  __syncthreads();
  float mu = ms[0], var = ms[1];
  float r = rsqrtf(var + eps);
  const V* gv = reinterpret_cast<const V*>(g); const V* bv = reinterpret_cast<const V*>(b);
  V* yr = reinterpret_cast<V*>(Y + blockIdx.x * N);
  for (int i = t; i < nv; i += nt) { V d = xr[i]; V o;
#pragma unroll
    for (int k = 0; k < 4; k++) o.v[k] = gv[i].v[k] * (r * (d.v[k] - mu)) + bv[i].v[k];
    yr[i] = o; }
  if (t == 0) { mean[blockIdx.x] = mu; rstd[blockIdx.x] = r; }
}
