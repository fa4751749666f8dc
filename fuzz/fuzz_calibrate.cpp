// Fuzz target: a microbenchmark file for `orrery calibrate` -> calibrate_preset (on h100).
// The h100 base preset is loaded once (loading it was nine tenths of each input's time); every
// input still goes through the whole calibration against it.
#include "fuzz/fuzz_support.h"
#include "hw_models/calibrate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const orrery::CalibrationBase base = orrery::load_calibration_base("h100");
  orrery_fuzz::on_file("micro.json", data, size, [](const std::string& path) {
    orrery::CalibrateOptions o;
    o.micro_paths = {path};
    orrery::calibrate_preset(o, base);
  });
  return 0;
}
