// The Python module (python/module.cpp), when CMake built it next to the orrery binary
// (build/python): keyword calls return dicts whose tables load into pandas; bad input raises
// orrery.Error with the one-line message. Skipped where the module was not built.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

// This file's names stay in its own namespace: the suite is a unity build (CMakeLists.txt).
namespace python_test {

namespace {
std::string module_dir() { return std::filesystem::path(ORRERY_BINARY).parent_path().string() + "/python"; }
bool built() {
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(module_dir(), ec))
    if (e.path().filename().string().rfind("orrery", 0) == 0 && e.path().extension() == ".so") return true;
  return false;
}
int python(const std::string& code, const std::string& out) {
  std::string script = ::testing::TempDir() + "/orrery_py_test.py";
  std::ofstream(script) << code;
  std::string cmd = "cd " + std::string(ORRERY_SOURCE_DIR) + " && PYTHONPATH=" + module_dir() + " /usr/bin/python3 " + script + " > " + out + " 2>&1";
  return std::system(cmd.c_str());
}
}  // namespace

TEST(Python, KeywordCallsReturnTablesForPandas) {
  if (!built()) GTEST_SKIP() << "Python module not built (pybind11-dev / python3-dev missing)";
  std::string out = ::testing::TempDir() + "/py_out.txt";
  int rc = python(R"PY(
import orrery
r = orrery.train(model="llama3-8b", system="dgx-h100", nodes=1, tp=2, pp=2, dp=2, global_batch=16, seq=4096,
                 **{"set.hbm_bandwidth": "4.8TB/s"}, price_gpu_hour=3)
for k in ("iteration_time_s", "mfu", "energy_j", "kwh_per_mtok", "cost_usd", "cost_usd_per_mtok", "layer_kernels"):
    assert k in r, k
assert isinstance(r["layer_kernels"], list) and "time_s" in r["layer_kernels"][0]
c = orrery.collective(op="all_reduce", system="dgx-h100", minbytes="1M", maxbytes="16M", stepfactor=4)
assert len(c["rows"]) == 3 and c["rows"][0]["bytes"] == 1048576
p = orrery.plan(model="llama3-8b", system="dgx-h100", gpus=8, global_batch=8, seq=2048, comm="builtin", top=2)
assert len(p["plans"]) == 2 and p["plans"][0]["iteration_time_s"] <= p["plans"][1]["iteration_time_s"]
# part of one node, Megatron's block recompute and uneven pipeline split, as the CLI flags
part = orrery.train(model="llama3-8b", system="dgx-h100", gpus=4, global_batch=8, seq=2048, zero=3,
                    recompute="full", recompute_layers=4)
assert part["iteration_time_s"] > 0
u = orrery.train(model="llama3-8b", system="dgx-h100", nodes=1, pp=2, dp=4, global_batch=8, seq=2048, zero=1,
                 comm="builtin", account_for_embedding_in_pipeline_split=1, account_for_loss_in_pipeline_split=1)
assert u["iteration_time_s"] > 0
try:
    orrery.train(model="llama3-8b", tp=8, global_batch=8, tpp=2)
    raise SystemExit("no error")
except orrery.Error as e:
    assert "tpp: unknown option" in str(e), str(e)
# NaN is not JSON (it reached the parser's own message) and integers wrapped at 2^32: both name
# the keyword now
for kw, says in (({"optimizer_offload": float("nan")}, "optimizer_offload: nan is not a finite number"),
                 ({"dp": 2**32 + 8}, "dp: 4294967304 is out of range")):
    try:
        orrery.train(model="llama3-8b", global_batch=8, micro_batch=1, **kw)
        raise SystemExit("no error for %r" % kw)
    except orrery.Error as e:
        assert says in str(e), str(e)
try:
    import pandas
    assert len(pandas.DataFrame(c["rows"])) == 3
except ImportError:
    pass
print("ok")
)PY", out);
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << text;
  EXPECT_NE(text.find("ok"), std::string::npos) << text;
}

}  // namespace python_test
