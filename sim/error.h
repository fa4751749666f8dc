#pragma once
// One error type for every bad input: the message names the file, node or field.
#include <stdexcept>
#include <string>

namespace orrery {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// "file: field: what"; empty parts are skipped.
inline Error make_error(const std::string& where, const std::string& field, const std::string& what) {
  std::string m;
  if (!where.empty()) m += where + ": ";
  if (!field.empty()) m += field + ": ";
  m += what;
  return Error(m);
}

}  // namespace orrery
