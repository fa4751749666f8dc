// TensorIterator's dimension coalescing from shapes and strides (workloads/tensor_iterator.h), and
// the ET reader giving each op its coalesced dimensions.
#include <gtest/gtest.h>

#include "workloads/pytorch_trace.h"
#include "workloads/tensor_iterator.h"

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace tensor_iterator_test {

using namespace orrery;

namespace {
IterOperand t(std::vector<std::int64_t> shape, std::vector<std::int64_t> strides) { return {std::move(shape), std::move(strides)}; }
}  // namespace

TEST(TensorIterator, ContiguousOperandsCoalesceToOneDimension) {
  EXPECT_EQ(tensor_iterator_dims({t({8, 1024, 768}, {786432, 768, 1}), t({8, 1024, 768}, {786432, 768, 1})}), 1);
  EXPECT_EQ(tensor_iterator_dims({t({}, {})}), 1);  // a 0-dim output: one element
}

// GQA's KV expansion: [8, 4, 4, 4097, 128] from [8, 4, 1 -> 4 (stride 0), 4097, 128]: the head
// repeat cannot merge with its neighbours (stride 0 against 524416), the batch and KV-head
// dimensions and the two innermost can: 3 dimensions, not 5.
TEST(TensorIterator, BroadcastDimensionStaysApart) {
  IterOperand out = t({8, 4, 4, 4097, 128}, {8390656, 2097664, 524416, 128, 1});
  IterOperand in = t({8, 4, 4, 4097, 128}, {2097664, 524416, 0, 128, 1});
  EXPECT_EQ(tensor_iterator_dims({out, in}), 3);
}

// A transposed input ([B, H, S, D] viewed from [B, S, H, D]) into a contiguous output: no two
// neighbours step evenly in both, so all 4 dimensions stay.
TEST(TensorIterator, TransposedInputKeepsItsDimensions) {
  IterOperand out = t({2, 12, 128, 64}, {98304, 8192, 64, 1});
  IterOperand in = t({2, 12, 128, 64}, {98304, 64, 768, 1});
  EXPECT_EQ(tensor_iterator_dims({out, in}), 4);
  // the same with a size-1 batch: the size-1 dimension merges away
  EXPECT_EQ(tensor_iterator_dims({t({1, 12, 128, 64}, {98304, 8192, 64, 1}), t({1, 12, 128, 64}, {98304, 64, 768, 1})}), 3);
}

// Broadcasting an input with fewer dimensions (right-aligned): a bias over the last dimension.
TEST(TensorIterator, LowerRankInputBroadcasts) {
  IterOperand out = t({16, 1024, 768}, {786432, 768, 1});
  IterOperand bias = t({768}, {1});
  EXPECT_EQ(tensor_iterator_dims({out, out, bias}), 2);  // [16*1024] x [768]: the bias repeats
  IterOperand mask = t({16, 1, 1, 512}, {512, 512, 512, 1});  // BERT's attention mask
  IterOperand scores = t({16, 12, 512, 512}, {3145728, 262144, 512, 1});
  EXPECT_EQ(tensor_iterator_dims({scores, scores, mask}), 3);
}

// Which operand the threads walk across its stride: BERT's key transpose [16, 12, 64, 512] copied
// from a [16, 512, 12, 64] projection (strides [.., 64, 1, 2304]) reads elements 2304 apart; their
// memory neighbours (stride 1: the next of the 64) come one output row of 512 later. Its query
// copy [16, 12, 512, 64] keeps the 64 contiguous: coalesced. A stepped slice (x[:, ::2]) has no
// stride-1 dimension: the rest of its sectors is never used.
TEST(TensorIterator, TransposedSourceIsWalkedAcrossItsStride) {
  IterOperand out = t({16, 12, 64, 512}, {393216, 32768, 512, 1});
  IterOperand key = t({16, 12, 64, 512}, {1179648, 64, 1, 2304});
  key.elem_bytes = 2;
  TensorIteration it = tensor_iteration({out, out, key});
  ASSERT_EQ(it.access.size(), 3u);
  EXPECT_EQ(it.access[0].inner_stride, 1);
  EXPECT_EQ(it.access[2].inner_stride, 2304);
  EXPECT_EQ(it.access[2].elem_bytes, 2);
  EXPECT_EQ(it.access[2].reuse_elems, 512);
  EXPECT_EQ(it.dims, tensor_iterator_dims({out, out, key}));
  TensorIteration q = tensor_iteration({t({16, 12, 512, 64}, {393216, 32768, 64, 1}), t({16, 12, 512, 64}, {1179648, 64, 2304, 1})});
  EXPECT_EQ(q.access[1].inner_stride, 1);
  TensorIteration slice = tensor_iteration({t({64, 32}, {32, 1}), t({64, 32}, {128, 2})});
  EXPECT_EQ(slice.access[1].inner_stride, 2);
  EXPECT_EQ(slice.access[1].reuse_elems, 0);
  // a broadcast operand (stride 0) is read once per warp, not per element
  EXPECT_EQ(tensor_iteration({t({4, 8}, {8, 1}), t({4, 8}, {1, 0})}).access[1].inner_stride, 0);
}

TEST(TensorIterator, InconsistentShapesAreUnknown) {
  EXPECT_EQ(tensor_iterator_dims({t({4, 8}, {8, 1}), t({3, 8}, {8, 1})}), 0);  // 3 does not broadcast to 4
  EXPECT_EQ(tensor_iterator_dims({t({4, 8}, {8, 1}), t({4, 8}, {1})}), 0);     // strides of the wrong rank
  EXPECT_EQ(tensor_iterator_dims({t({4, 8}, {8, 1}), t({2, 4, 8}, {32, 8, 1})}), 0);  // more dims than the output
  EXPECT_EQ(tensor_iterator_dims({}), 0);
  // strides or sizes whose products overflow 64 bits (a corrupt trace): no merge, or unknown
  const std::int64_t big = std::int64_t(1) << 62;
  EXPECT_EQ(tensor_iterator_dims({t({4, 8}, {8, 1}), t({4, 8}, {big, big})}), 2);
  EXPECT_EQ(tensor_iterator_dims({t({big, big}, {big, 1})}), 0);
}

// The ET reader gives each op its coalesced dimensions from the trace's strides: in a real H200
// decode capture (GQA, 4 KV heads repeated 4 times) the KV expansion copies walk 3, contiguous
// adds 1; tensor-list ops (cat) stay unknown.
TEST(TensorIterator, ExecutionTraceOpsCarryTheirDimensions) {
  CapturedStep st = load_bundle(std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200_more/decode_2");
  int kv = 0, adds = 0, cats = 0;
  for (const auto& op : st.ops) {
    bool five = !op.outputs.empty() && op.outputs[0].shape.size() == 5;
    if (op.name == "aten::copy_" && five) {
      EXPECT_EQ(op.iter_dims, 3);
      ++kv;
    }
    if (op.name == "aten::add" && !op.outputs.empty() && op.outputs[0].shape.size() == 3 && op.outputs[0].shape[2] == 2048) {
      EXPECT_EQ(op.iter_dims, 1);
      ++adds;
    }
    if (op.name == "aten::cat") {
      EXPECT_EQ(op.iter_dims, 0);
      ++cats;
    }
  }
  EXPECT_GT(kv, 0);
  EXPECT_GT(adds, 0);
  EXPECT_GT(cats, 0);
}

// Ops keep their operands' access patterns only where one is walked across its stride: in the
// BERT capture, the key transposes (a bf16 source read 2304 elements apart), not the adds.
TEST(TensorIterator, ExecutionTraceOpsKeepTheirTransposedOperands) {
  CapturedStep st = load_bundle(std::string(ORRERY_SOURCE_DIR) + "/examples/bundles_h200_more/bert");
  int transposes = 0;
  for (const auto& op : st.ops) {
    if (op.name == "aten::add") {
      EXPECT_TRUE(op.iter_access.empty());
    }
    if (op.name != "aten::copy_" || op.iter_access.size() != 3 || op.iter_access[2].inner_stride != 2304) continue;
    EXPECT_EQ(op.iter_access[2].elem_bytes, 2);
    EXPECT_EQ(op.iter_access[2].reuse_elems, 512);
    EXPECT_EQ(op.iter_access[0].inner_stride, 1);
    ++transposes;
  }
  EXPECT_GT(transposes, 0);
}

}  // namespace tensor_iterator_test
