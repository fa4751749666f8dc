// The streaming Kineto reader at the field level (issue 10): what it keeps of each event read
// straight from SAX (no DOM per event), and the time-containment fallback for runtime calls
// without an External id, which used to scan every host item per call.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/error.h"
#include "workloads/pytorch_trace.h"

namespace orrery::ingest_test {

namespace fs = std::filesystem;

// A Kineto-only bundle holding `events` (the traceEvents array's text).
std::string write_kineto(const std::string& name, const std::string& events) {
  fs::path dir = fs::temp_directory_path() / ("orrery_ingest_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "kineto.json") << R"({"deviceProperties": [{"name": "NVIDIA H100 80GB HBM3"}], "traceEvents": [)"
                                     << events << "]}";
  return dir.string();
}

const char* kStep = R"({"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#1", "pid": 1, "tid": 1, "ts": 0, "dur": 1000})";

const HostItem* item(const CapturedStep& st, const std::string& name) {
  for (auto& h : st.host)
    if (h.name == name) return &h;
  return nullptr;
}

TEST(Ingest, RuntimeCallsWithoutExternalIdGoToTheContainingItemOfTheirThread) {
  std::string events = std::string(kStep) + R"(,
    {"ph": "X", "cat": "cpu_op", "name": "aten::a", "tid": 1, "ts": 10, "dur": 100, "args": {"Record function id": 11}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::b", "tid": 1, "ts": 200, "dur": 100, "args": {"Record function id": 12}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::c", "tid": 2, "ts": 200, "dur": 50, "args": {"Record function id": 13}},
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "tid": 1, "ts": 250, "dur": 5, "args": {"correlation": 5}},
    {"ph": "X", "cat": "kernel", "name": "k5", "pid": 0, "tid": 7, "ts": 260, "dur": 10, "args": {"correlation": 5, "stream": 7}},
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaStreamSynchronize", "tid": 2, "ts": 220, "dur": 5, "args": {"stream": 7}},
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaDeviceSynchronize", "tid": 1, "ts": 150, "dur": 5, "args": {}})";
  CapturedStep st = load_bundle(write_kineto("contain", events));
  const HostItem* a = item(st, "aten::a");
  const HostItem* b = item(st, "aten::b");
  const HostItem* c = item(st, "aten::c");
  ASSERT_TRUE(a && b && c);
  EXPECT_TRUE(a->calls.empty());
  ASSERT_EQ(b->calls.size(), 1u);  // tid 1 at 250: inside aten::b
  EXPECT_EQ(b->calls[0].kind, CallKind::Launch);
  ASSERT_EQ(c->calls.size(), 1u);  // tid 2 at 220: inside aten::c, not aten::b (another thread)
  EXPECT_EQ(c->calls[0].kind, CallKind::StreamSync);
  // At 150 no item of thread 1 is running: the call is a host item of its own.
  const HostItem* loose = item(st, "cudaDeviceSynchronize");
  ASSERT_TRUE(loose);
  EXPECT_EQ(loose->op, -1);
  ASSERT_EQ(st.device.size(), 1u);
  EXPECT_EQ(st.device[0].name, "k5");
}

TEST(Ingest, KeepsTheFieldsAsTheDomReaderDid) {
  // Unknown keys (nested objects and arrays at any depth) are skipped; a repeated key keeps its
  // last value; "args" that is not an object means no args; grid and block are products of their
  // numeric dims; non-object elements of traceEvents are ignored.
  std::string events = std::string(kStep) + R"(, 7, "x", [1, {"ph": "X"}],
    {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "tid": 1, "ts": 10, "dur": 100,
     "extra": {"deep": [[{"name": "not me"}]]}, "args": {"Record function id": 21, "External id": 3,
     "Input type": ["float", "float"], "Input Dims": [[64, 32], [32, 16]], "Ev Idx": {"x": [1]}}},
    {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "tid": 1, "ts": 20, "dur": 5,
     "args": {"External id": 3, "correlation": 9}},
    {"ph": "X", "cat": "kernel", "name": "first", "name": "gemm_kernel", "pid": 0, "tid": 7, "ts": 30, "dur": 40,
     "args": {"correlation": 1}, "args": {"correlation": 9, "stream": 7, "grid": [4, 2, "z", [9]], "block": [128, 1, 1]}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::b", "tid": 1, "ts": 200, "dur": 100, "args": [{"Record function id": 99}]})";
  CapturedStep st = load_bundle(write_kineto("fields", events));
  ASSERT_EQ(st.device.size(), 1u);
  const DeviceActivity& d = st.device[0];
  EXPECT_EQ(d.name, "gemm_kernel");
  EXPECT_EQ(d.stream, 7);
  EXPECT_EQ(d.grid, 8);     // 4 x 2; "z" and [9] are not numbers: factor 1
  EXPECT_EQ(d.block, 128);
  ASSERT_GE(d.op, 0);
  const EtOp& mm = st.ops[d.op];
  EXPECT_EQ(mm.name, "aten::mm");
  EXPECT_EQ(mm.rf_id, 21);
  ASSERT_EQ(mm.inputs.size(), 2u);
  EXPECT_EQ(mm.inputs[0].shape, (std::vector<std::int64_t>{64, 32}));
  EXPECT_EQ(mm.inputs[1].numel, 32 * 16);
  const HostItem* b = item(st, "aten::b");
  ASSERT_TRUE(b);  // args was an array: no Record function id, a synthetic one
  EXPECT_NE(st.ops[b->op].rf_id, 99);
}

const EtOp* op_named(const CapturedStep& st, const std::string& name) {
  for (auto& o : st.ops)
    if (o.name == name) return &o;
  return nullptr;
}

TEST(Ingest, ContainersReusedFromEventToEventHoldOnlyTheirOwnEvent) {
  // The reader overwrites the previous event's "Input type" / "Input Dims" / "Concrete Inputs"
  // arrays in place: a shorter or differently nested array must not keep stale elements.
  std::string events = std::string(kStep) + R"(,
    {"ph": "X", "cat": "cpu_op", "name": "aten::a", "tid": 1, "ts": 10, "dur": 5, "args": {"Input type": ["float", "c10::BFloat16", "Scalar"],
     "Input Dims": [[64, 32, 8], [16], []], "Concrete Inputs": ["", "", "2"]}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::b", "tid": 1, "ts": 20, "dur": 5, "args": {"Input type": ["float"],
     "Input Dims": [[5]], "Concrete Inputs": [""]}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::c", "tid": 1, "ts": 30, "dur": 5, "args": {"Input type": ["TensorList", "Scalar"],
     "Input Dims": [[[2, 3], [4]], []], "Concrete Inputs": ["", "7"]}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::d", "tid": 1, "ts": 40, "dur": 5, "args": {"Input type": ["long int", "float"],
     "Input Dims": [[3, 3], [1, 2, 3, 4]]}},
    {"ph": "X", "cat": "cpu_op", "name": "aten::e", "tid": 1, "ts": 50, "dur": 5, "args": {}})";
  CapturedStep st = load_bundle(write_kineto("reuse", events));
  const EtOp *a = op_named(st, "aten::a"), *b = op_named(st, "aten::b"), *c = op_named(st, "aten::c"),
             *d = op_named(st, "aten::d"), *e = op_named(st, "aten::e");
  ASSERT_TRUE(a && b && c && d && e);
  ASSERT_EQ(a->inputs.size(), 3u);
  EXPECT_EQ(a->inputs[0].type, "Tensor(float)");
  EXPECT_EQ(a->inputs[0].shape, (std::vector<std::int64_t>{64, 32, 8}));
  EXPECT_EQ(a->inputs[1].dtype, Dtype::BF16);
  EXPECT_EQ(a->inputs[1].shape, (std::vector<std::int64_t>{16}));
  EXPECT_EQ(a->inputs[2].type, "Scalar");
  EXPECT_EQ(a->inputs[2].value, 2);
  ASSERT_EQ(b->inputs.size(), 1u);
  EXPECT_EQ(b->inputs[0].shape, (std::vector<std::int64_t>{5}));
  ASSERT_EQ(c->inputs.size(), 2u);
  EXPECT_EQ(c->inputs[0].type, "GenericList[Tensor]");
  ASSERT_EQ(c->inputs[0].elems.size(), 2u);
  EXPECT_EQ(c->inputs[0].elems[0].shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(c->inputs[0].elems[1].shape, (std::vector<std::int64_t>{4}));
  EXPECT_EQ(c->inputs[1].value, 7);
  ASSERT_EQ(d->inputs.size(), 2u);
  EXPECT_EQ(d->inputs[0].shape, (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(d->inputs[0].dtype, Dtype::I64);
  EXPECT_EQ(d->inputs[1].shape, (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(d->inputs[1].value.is_null());  // no Concrete Inputs in this event: none from aten::c
  EXPECT_TRUE(e->inputs.empty());
}

TEST(Ingest, RepeatedNamesAreStoredOnceAndGiveTheSameRows) {
  // 300 launches of three long kernel names: every row reads its own name, and equal names are
  // one interned string (a second load of the same trace adds nothing to the table).
  const std::string names[3] = {"sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1",
                                "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>",
                                "void at::native::reduce_kernel<512, 1, at::native::ReduceOp<float, at::native::func>>"};
  std::string events = kStep;
  for (int i = 0; i < 300; ++i) {
    const std::string ts = std::to_string(10 + 3 * i), ext = std::to_string(1000 + i), corr = std::to_string(5000 + i);
    events += R"(, {"ph": "X", "cat": "cpu_op", "name": "aten::op)" + std::to_string(i % 2) + R"(", "tid": 1, "ts": )" + ts +
              R"(, "dur": 2, "args": {"External id": )" + ext + R"(}}, {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "tid": 1, "ts": )" +
              ts + R"(.5, "dur": 1, "args": {"External id": )" + ext + R"(, "correlation": )" + corr +
              R"(}}, {"ph": "X", "cat": "kernel", "name": ")" + names[i % 3] + R"(", "tid": 7, "ts": )" + ts +
              R"(.8, "dur": 1, "args": {"correlation": )" + corr + R"(, "stream": 7}})";
  }
  const std::string dir = write_kineto("interned", events);
  CapturedStep st = load_bundle(dir);
  ASSERT_EQ(st.device.size(), 300u);
  for (size_t i = 0; i < st.device.size(); ++i) {
    EXPECT_EQ(st.device[i].name, names[i % 3]) << i;
    EXPECT_EQ(st.ops[st.device[i].op].name, "aten::op" + std::to_string(i % 2)) << i;
    if (i >= 3) {
      EXPECT_EQ(st.device[i].name.id(), st.device[i - 3].name.id()) << i;
    }
  }
  ASSERT_EQ(st.host.size(), 300u);
  EXPECT_EQ(st.host[0].calls[0].name.id(), st.host[299].calls[0].name.id());
  const std::size_t distinct = Name::table_size();
  CapturedStep again = load_bundle(dir);
  EXPECT_EQ(Name::table_size(), distinct);
  ASSERT_EQ(again.device.size(), st.device.size());
  for (size_t i = 0; i < st.device.size(); ++i) {
    EXPECT_EQ(again.device[i].name, st.device[i].name);
    EXPECT_EQ(again.device[i].trace_ts, st.device[i].trace_ts);
  }
}

TEST(Ingest, FieldErrorsStillNameTheField) {
  auto error_of = [](const std::string& events) {
    try {
      load_bundle(write_kineto("errors", std::string(kStep) + "," + events));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(R"({"ph": "X", "cat": "kernel", "name": ["k"], "ts": 1, "dur": 1})").find("traceEvents[] name: malformed trace: expected a string, got [\"k\"]"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"ph": "X", "cat": "kernel", "name": "k", "ts": 1})").find("traceEvents[] dur"), std::string::npos);
  EXPECT_NE(error_of(R"({"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 1, "args": {"grid": [4294967296, 4294967296, 4]}})")
                .find("traceEvents[] args.grid"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"ph": "X", "cat": "kernel", "name": "k", "ts": 1, "dur": 1, "args": {"correlation": 1e300}})")
                .find("traceEvents[] args.correlation: value 1e+300 is out of range"),
            std::string::npos);
}

}  // namespace orrery::ingest_test
