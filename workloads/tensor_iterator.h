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
  double elem_bytes = 0;                       // its dtype's size (0: unknown)
};

// How one operand is walked by the kernel's threads, whose consecutive indices take consecutive
// elements of the innermost iteration dimension (the output's contiguous one after reordering).
struct IterAccess {
  std::int64_t inner_stride = 1;  // elements between the operand's elements of neighbouring threads
  double elem_bytes = 0;          // the operand's dtype size (0: unknown)
  // Iteration elements between the walk's visits of the operand's memory neighbours (its stride-1
  // dimension's step): the reuse distance of a memory sector. 0: it has no stride-1 dimension.
  double reuse_elems = 0;
};

struct TensorIteration {
  int dims = 0;                     // coalesced dimensions (0: the shapes do not describe one)
  std::vector<IterAccess> access;   // per operand, in the given order
};

// tensor_iterator_dims with each operand's access pattern.
TensorIteration tensor_iteration(const std::vector<IterOperand>& operands);

// Dimensions after coalescing (at least 1) of the iteration over `operands[0]`'s shape (the
// output) with every operand broadcast to it; 0 when the shapes and strides do not describe one
// (a missing or mis-sized stride list, an operand that does not broadcast to the output).
int tensor_iterator_dims(const std::vector<IterOperand>& operands);

}  // namespace orrery
