#pragma once
// ET op arguments for tests that build ops by hand: a tensor of a shape and dtype, a plain value.
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "workloads/pytorch_trace.h"

namespace orrery::syn {

inline EtArg tensor(std::vector<std::int64_t> shape, Dtype d = Dtype::BF16) {
  EtArg a;
  a.is_tensor = true;
  a.shape = shape;
  a.dtype = d;
  a.elem_bytes = dtype_bytes(d);
  a.numel = 1;
  for (auto s : shape) a.numel *= s;
  a.type = d == Dtype::BF16 ? "Tensor(c10::BFloat16)" : "Tensor(" + std::string(dtype_name(d)) + ")";
  return a;
}

inline EtArg value(nlohmann::json v, const char* type = "GenericList[Int,Int]") {
  EtArg a;
  a.type = type;
  a.value = std::move(v);
  return a;
}

}  // namespace orrery::syn
