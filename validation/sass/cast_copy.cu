// Restatement, for counting instructions only (not PyTorch's code, not built by the project), of
// the shape of PyTorch's unrolled elementwise copy with dynamic casts (ATen CUDALoops.cuh
// unrolled_elementwise_kernel with memory::LoadWithCast / StoreWithCast, c10 DynamicCast.h): 128
// threads, 4 elements per thread; a load loop, a compute loop and a store loop, each guarded by the
// remaining-element check; each load and each store switches over the operand's run-time dtype
// (twenty cases) and converts. The dtype codes here are this file's own (float 6, bfloat16 12).
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cstdint>
enum class ST : int8_t { U8, I8, I16, I32, I64, F16, F32, F64, CH, CF, CD, B, BF16, F8E5, F8E4, F8E5z, F8E4z, U16 = 27, U32, U64 };
struct c32 { float r, i; }; struct c64 { double r, i; }; struct ch { __half r, i; };
__device__ __forceinline__ float fetch(ST t, const void* p) {
  switch (t) {
    case ST::U8: return float(*(const uint8_t*)p);
    case ST::I8: return float(*(const int8_t*)p);
    case ST::I16: return float(*(const int16_t*)p);
    case ST::I32: return float(*(const int32_t*)p);
    case ST::I64: return float(*(const int64_t*)p);
    case ST::F16: return __half2float(*(const __half*)p);
    case ST::F32: return *(const float*)p;
    case ST::F64: return float(*(const double*)p);
    case ST::CH: return __half2float(((const ch*)p)->r);
    case ST::CF: return ((const c32*)p)->r;
    case ST::CD: return float(((const c64*)p)->r);
    case ST::B: return float(*(const bool*)p);
    case ST::BF16: return __bfloat162float(*(const __nv_bfloat16*)p);
    case ST::F8E5: return float(*(const __nv_fp8_e5m2*)p);
    case ST::F8E4: return float(*(const __nv_fp8_e4m3*)p);
    case ST::F8E5z: return float(*(const __nv_fp8_e5m2*)p);
    case ST::F8E4z: return float(*(const __nv_fp8_e4m3*)p);
    case ST::U16: return float(*(const uint16_t*)p);
    case ST::U32: return float(*(const uint32_t*)p);
    case ST::U64: return float(*(const uint64_t*)p);
    default: __trap();
  }
  return 0.f;
}
__device__ __forceinline__ void store(ST t, void* p, float v) {
  switch (t) {
    case ST::U8: *(uint8_t*)p = uint8_t(v); return;
    case ST::I8: *(int8_t*)p = int8_t(v); return;
    case ST::I16: *(int16_t*)p = int16_t(v); return;
    case ST::I32: *(int32_t*)p = int32_t(v); return;
    case ST::I64: *(int64_t*)p = int64_t(v); return;
    case ST::F16: *(__half*)p = __float2half(v); return;
    case ST::F32: *(float*)p = v; return;
    case ST::F64: *(double*)p = double(v); return;
    case ST::CH: *(ch*)p = ch{__float2half(v), __float2half(0.f)}; return;
    case ST::CF: *(c32*)p = c32{v, 0.f}; return;
    case ST::CD: *(c64*)p = c64{double(v), 0.0}; return;
    case ST::B: *(bool*)p = v != 0.f; return;
    case ST::BF16: *(__nv_bfloat16*)p = __float2bfloat16(v); return;
    case ST::F8E5: *(__nv_fp8_e5m2*)p = __nv_fp8_e5m2(v); return;
    case ST::F8E4: *(__nv_fp8_e4m3*)p = __nv_fp8_e4m3(v); return;
    case ST::F8E5z: *(__nv_fp8_e5m2*)p = __nv_fp8_e5m2(v); return;
    case ST::F8E4z: *(__nv_fp8_e4m3*)p = __nv_fp8_e4m3(v); return;
    case ST::U16: *(uint16_t*)p = uint16_t(v); return;
    case ST::U32: *(uint32_t*)p = uint32_t(v); return;
    case ST::U64: *(uint64_t*)p = uint64_t(v); return;
    default:;
  }
  __trap();
}
struct Cast { ST in, out; uint32_t in_size, out_size; };
__global__ void __launch_bounds__(128) cast_copy(int N, char* out, const char* in, Cast c) {
  constexpr int E = 4;
  int remaining = N - E * 128 * blockIdx.x;
  float a[E], r[E];
  int t = threadIdx.x;
#pragma unroll
  for (int i = 0; i < E; i++) { if (t >= remaining) break;
    int li = t + E * 128 * blockIdx.x; a[i] = fetch(c.in, in + c.in_size * li); t += 128; }
#pragma unroll
  for (int i = 0; i < E; i++) if (threadIdx.x + 128 * i < remaining) r[i] = a[i];
  t = threadIdx.x;
#pragma unroll
  for (int i = 0; i < E; i++) { if (t >= remaining) return;
    int li = t + E * 128 * blockIdx.x; store(c.out, out + c.out_size * li, r[i]); t += 128; }
}
