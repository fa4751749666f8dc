// TensorIterator's dimension coalescing (tensor_iterator.h).
#include "workloads/tensor_iterator.h"

#include <algorithm>
#include <cstddef>

namespace orrery {

namespace {

// The operands' strides over the output's dimensions (broadcast dimensions: stride 0), innermost
// last as in the tensor; false when an operand does not fit.
bool aligned_strides(const std::vector<IterOperand>& ops, std::vector<std::vector<std::int64_t>>& st) {
  const auto& shape = ops[0].shape;
  const size_t nd = shape.size();
  for (const auto& o : ops) {
    if (o.shape.size() > nd || o.strides.size() != o.shape.size()) return false;
    std::vector<std::int64_t> s(nd, 0);
    size_t off = nd - o.shape.size();
    for (size_t d = 0; d < o.shape.size(); ++d) {
      if (o.shape[d] != shape[off + d] && o.shape[d] != 1) return false;
      s[off + d] = o.shape[d] == 1 && shape[off + d] != 1 ? 0 : o.strides[d];
    }
    st.push_back(std::move(s));
  }
  return true;
}

// reorder_dimensions' comparison: 1 when dim0 should move outward of dim1, -1 when it stays, 0
// when no operand decides (broadcast dimensions do not).
int should_swap(const std::vector<std::vector<std::int64_t>>& st, const std::vector<std::int64_t>& shape, size_t d0,
                size_t d1) {
  for (const auto& s : st) {
    if (s[d0] == 0 || s[d1] == 0) continue;
    if (s[d0] < s[d1]) return -1;
    if (s[d0] > s[d1]) return 1;
    if (shape[d0] > shape[d1]) return 1;
  }
  return 0;
}

}  // namespace

int tensor_iterator_dims(const std::vector<IterOperand>& operands) { return tensor_iteration(operands).dims; }

namespace {

// An operand's access over the coalesced iteration (innermost first): its innermost stride and the
// iteration elements of the dimensions inside its stride-1 one.
IterAccess operand_access(const std::vector<std::int64_t>& shape, const std::vector<std::int64_t>& s, size_t nd,
                          double elem_bytes) {
  IterAccess a;
  a.inner_stride = s[0];
  a.elem_bytes = elem_bytes;
  double inside = 1;
  for (size_t k = 0; k < nd; ++k) {
    if (s[k] == 1 || s[k] == -1) {
      a.reuse_elems = inside;
      break;
    }
    inside *= double(shape[k]);
  }
  return a;
}

}  // namespace

TensorIteration tensor_iteration(const std::vector<IterOperand>& operands) {
  TensorIteration r;
  if (operands.empty()) return r;
  std::vector<std::vector<std::int64_t>> st;
  if (!aligned_strides(operands, st)) return r;
  const auto& shape0 = operands[0].shape;
  const size_t nd = shape0.size();
  if (nd == 0) {
    r.dims = 1;
    for (const auto& o : operands) r.access.push_back({0, o.elem_bytes, 1});
    return r;
  }
  // perm: innermost dimension first, insertion-sorted with ambiguous comparisons (ATen's order)
  std::vector<size_t> perm(nd);
  for (size_t i = 0; i < nd; ++i) perm[i] = nd - 1 - i;
  for (size_t i = 1; i < nd; ++i) {
    size_t d1 = i;
    for (size_t d0 = i; d0-- > 0;) {
      int c = should_swap(st, shape0, perm[d0], perm[d1]);
      if (c > 0) {
        std::swap(perm[d0], perm[d1]);
        d1 = d0;
      } else if (c < 0) {
        break;
      }
    }
  }
  std::vector<std::int64_t> shape(nd);
  std::vector<std::vector<std::int64_t>> s(st.size(), std::vector<std::int64_t>(nd));
  for (size_t k = 0; k < nd; ++k) {
    shape[k] = shape0[perm[k]];
    for (size_t o = 0; o < st.size(); ++o) s[o][k] = st[o][perm[k]];
  }
  // coalesce: neighbours merge when one has size 1 or every operand steps across both evenly
  size_t prev = 0;
  for (size_t d = 1; d < nd; ++d) {
    bool merge = shape[prev] == 1 || shape[d] == 1;
    if (!merge) {
      merge = true;
      for (const auto& so : s) {
        std::int64_t step = 0;  // (a trace's absurd strides overflow: then they do not merge)
        merge = merge && !__builtin_mul_overflow(shape[prev], so[prev], &step) && step == so[d];
      }
    }
    if (merge) {
      if (shape[prev] == 1)
        for (auto& so : s) so[prev] = so[d];
      if (__builtin_mul_overflow(shape[prev], shape[d], &shape[prev])) return r;
    } else {
      ++prev;
      shape[prev] = shape[d];
      for (auto& so : s) so[prev] = so[d];
    }
  }
  r.dims = static_cast<int>(prev + 1);
  for (size_t o = 0; o < s.size(); ++o) r.access.push_back(operand_access(shape, s[o], prev + 1, operands[o].elem_bytes));
  return r;
}

}  // namespace orrery
