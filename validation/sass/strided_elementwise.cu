// Restatement, for counting instructions only (not PyTorch's code, not built by the project), of
// the shape of PyTorch's generic strided elementwise kernel (ATen Loops.cuh elementwise_kernel<nt,
// vt> with OffsetCalculator.cuh and IntegerDivider.cuh): 128 threads, vt elements per thread nt
// apart; per element an offset calculator walks `dims` dimensions at run time (a magic-number
// division per dimension, one multiply-add per operand), then the inputs are loaded at their byte
// offsets, combined, and the output stored. Kernel parameters hold the divisors and strides, as in
// PyTorch (the lambda captures the calculator by value).
#include <cstdint>
struct Div { uint32_t d, m1, shift; };
__device__ __forceinline__ void divmod(const Div& v, uint32_t n, uint32_t& q, uint32_t& r) {
  uint32_t t = __umulhi(n, v.m1);
  q = (t + n) >> v.shift;
  r = n - q * v.d;
}
constexpr int kMaxDims = 25;
template <int A> struct Calc { int dims; Div sizes[kMaxDims]; uint32_t strides[kMaxDims][A]; };
template <int A> struct Ptrs { char* p[A]; };
template <int A>
__device__ __forceinline__ void offsets(const Calc<A>& c, uint32_t idx, uint32_t* off) {
#pragma unroll
  for (int a = 0; a < A; a++) off[a] = 0;
#pragma unroll
  for (int d = 0; d < kMaxDims; ++d) {
    if (d == c.dims) break;
    uint32_t q, r;
    divmod(c.sizes[d], idx, q, r);
    idx = q;
#pragma unroll
    for (int a = 0; a < A; a++) off[a] += r * c.strides[d][a];
  }
}
// A operands (the output first), vt elements per thread.
template <int A, int VT>
__global__ void __launch_bounds__(128, 4) strided(int n, Calc<A> c, Ptrs<A> p) {
  int idx = 128 * VT * blockIdx.x + threadIdx.x;
#pragma unroll
  for (int i = 0; i < VT; i++) {
    if (idx < n) {
      uint32_t off[A];
      offsets<A>(c, idx, off);
      float acc = 0.f;
#pragma unroll
      for (int a = 1; a < A; a++) acc += *reinterpret_cast<const float*>(p.p[a] + off[a]);
      *reinterpret_cast<float*>(p.p[0] + off[0]) = acc;
      idx += 128;
    }
  }
}
template __global__ void strided<2, 1>(int, Calc<2>, Ptrs<2>);
template __global__ void strided<3, 1>(int, Calc<3>, Ptrs<3>);
