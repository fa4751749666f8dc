#pragma once
// Phase probe for the ingest benchmark: with ORRERY_PHASES set in the environment, each call
// prints the phase name, the process CPU time so far and the current / peak resident memory to
// stderr (bench/bench_ingest.sh, docs/robustness.md). Without it, a call costs one getenv.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace orrery {

inline void ingest_probe(const char* phase) {
  static const bool on = std::getenv("ORRERY_PHASES") != nullptr;
  if (!on) return;
  long rss = 0, hwm = 0;
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      if (std::strncmp(line, "VmRSS:", 6) == 0) rss = std::atol(line + 6);
      if (std::strncmp(line, "VmHWM:", 6) == 0) hwm = std::atol(line + 6);
    }
    std::fclose(f);
  }
  std::fprintf(stderr, "phase %-28s cpu %7.2f s  rss %6ld MB  peak %6ld MB\n", phase,
               static_cast<double>(std::clock()) / CLOCKS_PER_SEC, rss / 1024, hwm / 1024);
}

}  // namespace orrery
