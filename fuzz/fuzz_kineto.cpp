// Fuzz target: a Kineto trace alone as a capture bundle (kineto.json -> load_bundle).
#include <filesystem>

#include "fuzz/fuzz_support.h"
#include "workloads/pytorch_trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("kineto_only/kineto.json", data, size, [](const std::string& path) {
    orrery::load_bundle(std::filesystem::path(path).parent_path().string());
  });
  return 0;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::filesystem::create_directories(orrery_fuzz::scratch() + "/kineto_only");
  return 0;
}
