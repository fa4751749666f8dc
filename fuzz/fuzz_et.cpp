// Fuzz target: the PyTorch Execution Trace of an ET + Kineto bundle (et.json -> load_bundle);
// the Kineto trace is the fixed 3-kernel one of the seed corpus (fuzz/corpus/et/kineto.json
// is copied next to it at start), so a well-formed ET goes on to the rf_id linking.
#include <filesystem>

#include "fuzz/fuzz_support.h"
#include "workloads/pytorch_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("et_bundle/et.json", data, size, [](const std::string& path) {
    orrery::load_bundle(std::filesystem::path(path).parent_path().string());
  });
  return 0;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string dir = orrery_fuzz::scratch() + "/et_bundle";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(ORRERY_SOURCE_DIR "/fuzz/data/et_kineto.json", dir + "/kineto.json",
                             std::filesystem::copy_options::overwrite_existing);
  return 0;
}
