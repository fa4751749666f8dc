#pragma once
// Shared by the libFuzzer harnesses (fuzz/fuzz_*.cpp): readers take paths, so each input is
// written to a file first. orrery::Error is the promised answer to bad input and is swallowed;
// anything else (another exception, a crash, a sanitizer report, a hang, a blow-up past
// -rss_limit_mb) escapes and libFuzzer reports it as a finding.
//
// Adding a target: fuzz/fuzz_NAME.cpp with LLVMFuzzerTestOneInput calling the reader through
// orrery_fuzz::on_file (or on_text), seed files in fuzz/corpus/NAME/; bench/fuzz.sh NAME SECONDS
// runs it and CI runs every target briefly. Nothing else to register.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/error.h"

namespace orrery_fuzz {

// A private scratch directory for this process (removed at exit by the OS tmp cleaner; small).
inline const std::string& scratch() {
  static const std::string dir = [] {
    auto p = std::filesystem::temp_directory_path() / ("orrery_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p.string();
  }();
  return dir;
}

inline std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  std::string path = scratch() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Runs fn(path of a file holding the input); only orrery::Error may come out.
template <class Fn>
void on_file(const std::string& name, const std::uint8_t* data, std::size_t size, Fn fn) {
  std::string path = write_file(name, data, size);
  try {
    fn(path);
  } catch (const orrery::Error&) {
  }
}

template <class Fn>
void on_text(const std::uint8_t* data, std::size_t size, Fn fn) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    fn(text);
  } catch (const orrery::Error&) {
  }
}

}  // namespace orrery_fuzz
