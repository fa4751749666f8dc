#pragma once
// The power/price flags train, replay, collective, plan and sweep share (hw_models/power.h):
// --power NAME|file.json, --power-set name=value, --price-gpu-hour X, --price-kwh X, --pue X.
#include <string>
#include <vector>

#include "hw_models/power.h"
#include "sim/error.h"
#include "tools/command.h"

namespace orrery::cli {

// Appends the power/price flags to a command's declared flags.
inline std::vector<Flag> with_power_flags(std::vector<Flag> flags) {
  flags.push_back({"--power", "NAME|FILE", "", "", "power model preset or power.json (hw_models/power.h)"});
  flags.push_back({"--power-set", "name=value", "", "", "power model override", Flag::Repeat});
  flags.push_back({"--price-gpu-hour", "USD", "", "USD", "price of one GPU hour"});
  flags.push_back({"--price-kwh", "USD", "", "USD", "price of one kWh"});
  flags.push_back({"--pue", "X", "", "", "power usage effectiveness of the data center"});
  return flags;
}

// --hw-model first-principles|calibrated (hw_models/arch.h apply_hw_model).
inline Flag hw_model_flag() {
  return {"--hw-model", "first-principles|calibrated", "", "",
          "kernel cost model: the first-principles accelerator mapping or the calibrated one"};
}

inline std::vector<std::string> power_overrides(const Args& a) {
  std::vector<std::string> o = a.all("--power-set");
  for (auto [flag, key] : std::vector<std::pair<std::string, std::string>>{
           {"--price-gpu-hour", "price_gpu_hour"}, {"--price-kwh", "price_kwh"}, {"--pue", "pue"}}) {
    if (!a.has(flag)) continue;
    double v = a.get_double(flag, 0);
    if (key == "pue" && !(v >= 1 && v <= 100))  // (facility power over IT power: 1 is a perfect data center)
      throw make_error(flag, a.get(flag), "must be from 1 to 100 (facility power over IT power)");
    if (!(v >= 0) || v > 1e12) throw make_error(flag, a.get(flag), "must be a price of zero or more");
    o.push_back(key + "=" + a.get(flag));
  }
  return o;
}

inline PowerModel power_model_from(const Args& a, const Accelerator& hw) {
  return load_power(a.get("--power"), hw, power_overrides(a));
}

}  // namespace orrery::cli
