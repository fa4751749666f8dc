// Fuzz target: a model description (workloads/models/*.json layout) -> load_model.
#include "fuzz/fuzz_support.h"
#include "workloads/models.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("model.json", data, size, [](const std::string& path) { orrery::load_model(path); });
  return 0;
}
