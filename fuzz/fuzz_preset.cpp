// Fuzz target: an accelerator preset (hw_models/presets/*.json layout) -> load_accelerator.
#include "fuzz/fuzz_support.h"
#include "hw_models/accelerator.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("preset.json", data, size, [](const std::string& path) { orrery::load_accelerator(path); });
  return 0;
}
