#pragma once
// Shared by the libFuzzer harnesses (fuzz/fuzz_*.cpp): readers take paths, so each input is
// written to a file first. orrery::Error is the promised answer to bad input and is swallowed;
// anything else (another exception, a crash, a sanitizer report, a hang, a blow-up past
// -rss_limit_mb) escapes and libFuzzer reports it as a finding.
//
// Adding a target: fuzz/fuzz_NAME.cpp with LLVMFuzzerTestOneInput calling the reader through
// orrery_fuzz::on_file (or on_text), seed files in fuzz/corpus/NAME/; bench/fuzz.sh NAME SECONDS
// runs it and CI runs every target briefly. Nothing else to register.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
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

// POSIX calls, not an ofstream: the stream's buffer and FILE set-up were a third of a small
// input's time under ASan (every allocation is fresh memory while the quarantine holds the last).
inline std::string write_file(const std::string& name, const std::uint8_t* data, std::size_t size) {
  std::string path = scratch() + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) std::abort();  // the harness's own scratch directory: not the reader's fault
  for (std::size_t done = 0; done < size;) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

// Runs fn(path) on a file written once before, for a harness that hands one input to several
// readers (fuzz_system); only orrery::Error may come out.
template <class Fn>
void on_path(const std::string& path, Fn fn) {
  try {
    fn(path);
  } catch (const orrery::Error&) {
  }
}

// Runs fn(path of a file holding the input); only orrery::Error may come out.
template <class Fn>
void on_file(const std::string& name, const std::uint8_t* data, std::size_t size, Fn fn) {
  on_path(write_file(name, data, size), fn);
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
