#pragma once
// The message of the orrery::Error a call throws ("" when it throws none).
#include <functional>
#include <string>

#include "sim/error.h"

namespace orrery::syn {

inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace orrery::syn
