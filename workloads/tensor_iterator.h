#pragma once
// PyTorch's TensorIterator dimension coalescing (ATen/TensorIterator.cpp: compute_strides,
// reorder_dimensions, coalesce_dimensions), from an op's shapes and strides as the Execution Trace
// records them: how many dimensions an elementwise kernel's offset calculator walks. A contiguous
// add walks 1; GQA's expanded KV-cache copy [8, 4, 4, 4097, 128] with a broadcast head dimension
// walks 3. Plain C++: the ET reader and tests call it.
#include <cstdint>
#include <vector>

namespace orrery {

struct IterOperand {
  std::vector<std::int64_t> shape, strides;  // elements; shape right-aligned to the output's
};

// Dimensions after coalescing (at least 1) of the iteration over `operands[0]`'s shape (the
// output) with every operand broadcast to it; 0 when the shapes and strides do not describe one
// (a missing or mis-sized stride list, an operand that does not broadcast to the output).
int tensor_iterator_dims(const std::vector<IterOperand>& operands);

}  // namespace orrery
