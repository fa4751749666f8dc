// Fuzz target: a microbenchmark file for `orrery calibrate` -> calibrate_preset (on h100).
#include "fuzz/fuzz_support.h"
#include "hw_models/calibrate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  orrery_fuzz::on_file("micro.json", data, size, [](const std::string& path) {
    orrery::CalibrateOptions o;
    o.micro_paths = {path};
    orrery::calibrate_preset(o);
  });
  return 0;
}
