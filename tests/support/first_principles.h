#pragma once
// A preset loaded on the first-principles hardware model (--hw-model first-principles): the
// chip's architecture description alone, no measured efficiency curves.
#include <string>
#include <vector>

#include "hw_models/accelerator.h"

namespace orrery::syn {

inline Accelerator first_principles(const std::string& name, std::vector<std::string> sets = {}) {
  sets.push_back("first_principles=1");
  return load_accelerator(name, sets);
}

}  // namespace orrery::syn
