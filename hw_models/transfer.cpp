#include "hw_models/transfer.h"

#include "hw_models/mapping.h"

namespace orrery {

double hbm_time(const Accelerator& hw, double bytes) {
  return bytes / (hw.hbm_bandwidth() * hw.memory_efficiency(bytes));
}

Roof gemm_roof(const Accelerator& hw, double m, double n, double k, Dtype d, double batch, double bytes,
               double share) {
  Roof r;
  r.known = true;
  r.flops = 2.0 * m * n * k * batch * share;
  r.bytes = bytes * share;
  double t = hw.gemm_time(m, n, k, d, batch);
  double tm = hbm_time(hw, bytes);
  r.tc = t * share;
  r.tm = std::min(tm, t) * share;
  return r;
}

const char* elementwise_family(const std::string& n) {
  if (n.find("vectorized_elementwise_kernel") != std::string::npos) return "vectorized";
  if (n.find("unrolled_elementwise_kernel") != std::string::npos) return "unrolled";
  if (n.find("elementwise_kernel<") != std::string::npos) return "strided";
  // (aten::cat's generic kernel; its _vectorized/_contig variants move 16-byte vectors without it)
  if (n.find("CatArrayBatchedCopy<") != std::string::npos) return "cat";
  return "";
}

double family_efficiency(const Accelerator& hw, const std::string& kernel_name) {
  std::string f = elementwise_family(kernel_name);
  if (f == "unrolled") return hw.p("unrolled_elementwise_efficiency");
  if (f == "strided") return hw.p("strided_elementwise_efficiency");
  return 1.0;
}

Roof memory_roof(const Accelerator& hw, double bytes, double vector_flops, double grid, double block,
                 bool write_only, double l2_hit) {
  Roof r;
  r.known = true;
  r.flops = vector_flops;
  r.bytes = bytes;
  // (calibrated mode: a write-only kernel, a memset, is nothing its copy curve measured: the
  // description's posted stores, where the preset has one)
  const KernelMapper* m = hw.mapper ? hw.mapper.get() : write_only ? hw.arch_mapper.get() : nullptr;
  if (m && (grid > 0 || write_only || l2_hit > 0))
    r.tm = bytes > 0 ? m->memory_launch(bytes, 0, grid, block, write_only, 0, l2_hit).time_s : 0.0;
  else
    r.tm = hbm_time(hw, bytes);
  r.tc = vector_flops / (hw.p("peak_fp32") * hw.p("vector_efficiency"));
  return r;
}

double transfer_ratio(const Roof& target, const Accelerator& hw, const Roof& source, const Accelerator& src,
                      bool compute_class) {
  if (source.known && target.known) return target.total(hw) / source.total(src);
  // Unknown work: scale by the class's dominant resource.
  return compute_class ? src.peak_flops(Dtype::BF16) / hw.peak_flops(Dtype::BF16)
                       : src.hbm_bandwidth() / hw.hbm_bandwidth();
}

double transfer_time(double measured_s, const Roof& target, const Accelerator& hw, const Roof& source,
                     const Accelerator& src, bool compute_class) {
  double ratio = transfer_ratio(target, hw, source, src, compute_class);
  if (!(source.known && target.known)) return measured_s * ratio;
  double explained = source.total(src);
  if (measured_s <= explained) return measured_s * ratio;
  return explained * ratio + (measured_s - explained);
}

}  // namespace orrery
