// Restatement, for counting instructions only (not PyTorch's code, not built by the project), of
// the shape of PyTorch's two summing kernels of embedding backward (ATen
// EmbeddingBackwardKernel.cu compute_grad_weight and sum_and_scatter): one thread per (segment,
// feature); each reads the segment count, the segment's offsets, then walks its rows. What the
// model takes from the SASS is the order of the global loads: each waits on the one before.
#include <cstdint>
__global__ void compute_grad_weight(const int64_t* indices, const float* grad, const int64_t* count, int64_t numel, int64_t stride,
                    const int64_t* seg_off, const int64_t* nseg_ptr, float* per_seg, int64_t stride_warped) {
  int64_t nseg = *nseg_ptr;
  const int gid = blockIdx.x * blockDim.x + threadIdx.x;
  const int id = gid / stride_warped;
  const int f = gid % stride_warped;
  if (f >= stride) return;
  if (id >= nseg) return;
  const int b = seg_off[id];
  const int e = (id == nseg - 1) ? numel : seg_off[id + 1];
  float w = 0;
  for (int i = b; i < e; ++i) {
    const int64_t row = indices[i];
    const float scale = count ? 1.0f / count[i] : 1.0f;
    w += grad[row * stride + f] * scale;
  }
  per_seg[id * stride + f] = w;
}
__global__ void sum_and_scatter(const int64_t* input, float* gw, int64_t stride, const int64_t* seg_off, const int64_t* nseg_ptr,
                    const float* per_seg, const int64_t* sizes_off, const int64_t* npart_ptr, int64_t padding_idx,
                    int64_t stride_warped) {
  int64_t nseg = *nseg_ptr;
  int64_t npart = *npart_ptr;
  const int gid = blockIdx.x * blockDim.x + threadIdx.x;
  const int id = gid / stride_warped;
  const int f = gid % stride_warped;
  if (f >= stride) return;
  if (id >= nseg) return;
  const int b = sizes_off[id];
  const int e = (id == nseg - 1) ? npart : sizes_off[id + 1];
  float w = 0;
  for (int i = b; i < e; ++i) w += per_seg[i * stride + f];
  int64_t target = input[seg_off[id]];
  if (target != padding_idx) gw[target * stride + f] = w;
}
